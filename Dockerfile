# followup image: slim Python, non-root, `followup run` (worker + web app on :8000) by default.
# docker-compose.yml runs the same image as `followup web` and `followup worker` processes.
# Configuration comes from the environment (see README and .env.example).
# Linted by hadolint in the tests (tests/test_deploy.py); see docs/deploy.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FOLLOWUP_DATABASE_URL=sqlite:////data/followup.db \
    FOLLOWUP_SPOOL_DIR=/data/spool \
    FOLLOWUP_HOST=0.0.0.0 \
    FOLLOWUP_PORT=8000

# /data/spool exists in the image, owned by the user, so a named volume mounted there starts
# with that owner and mode (replies waiting there hold patients' words: 0700)
RUN useradd --create-home --uid 10001 followup \
    && mkdir -p /data/spool && chown -R 10001 /data && chmod 700 /data/spool
WORKDIR /app
COPY pyproject.toml README.md ./
COPY followup ./followup
COPY messages ./messages
COPY migrations ./migrations
# Editable install: the code finds messages/ and migrations/ beside the package, where
# clinics edit their texts (mount your own messages/ over /app/messages to change them).
RUN pip install --no-cache-dir -e . && python -c "import followup.cli"

USER 10001
VOLUME ["/data"]
EXPOSE 8000
# The web app answers /healthz (python's urllib: the slim image has no curl). A container
# running `followup worker` serves no HTTP: compose gives it `followup health` instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FOLLOWUP_PORT', '8000'), timeout=4)"]
CMD ["sh", "-c", "followup db upgrade && exec followup run"]
