# followup image: slim Python, non-root, `followup run` (worker + web app on :8000) by default.
# Configuration comes from the environment (see README): FOLLOWUP_DATABASE_URL, TWILIO_*, ...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FOLLOWUP_DATABASE_URL=sqlite:////data/followup.db \
    FOLLOWUP_HOST=0.0.0.0 \
    FOLLOWUP_PORT=8000

RUN useradd --create-home --uid 10001 followup && mkdir /data && chown followup /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY followup ./followup
COPY messages ./messages
COPY migrations ./migrations
# Editable install: the code finds messages/ and migrations/ beside the package, where
# clinics edit their texts (mount your own messages/ over /app/messages to change them).
RUN pip install -e . && python -c "import followup.cli"

USER followup
VOLUME ["/data"]
EXPOSE 8000
CMD ["sh", "-c", "followup db upgrade && exec followup run"]
