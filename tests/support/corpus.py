"""Measure :func:`followup.inbound.reading.classify` against the labelled corpus.

The corpus (``tests/inbound/data/replies_corpus.tsv``) holds real-looking replies with the
label a careful clinician would give: ``text<TAB>locale<TAB>last_step<TAB>kind<TAB>score``,
"-" for none, lines starting with "#" are comments. ``tests/inbound/test_reading.py`` asserts
on these numbers; run this file to print them as a markdown table::

    .venv/bin/python tests/support/corpus.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `followup` importable from the repo
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from followup.inbound.reading import KINDS, Classification, ReplyContext, classify

DATA = Path(__file__).resolve().parents[1] / "inbound" / "data"
CORPUS = DATA / "replies_corpus.tsv"
#: written blind, after the rules: how the reader does on wording it was not tuned for
HOLDOUT = DATA / "replies_holdout.tsv"
#: written blind and kept blind: nobody tuning the rules reads its rows; reports give counts
BLIND = DATA / "replies_blind.tsv"
#: how urgent each kind of reading is, for "read at least as urgently as its label"
RANK = {"emergency": 3, "clinic_today": 2}


@dataclass(frozen=True)
class Row:
    """One labelled reply."""

    line: int
    text: str
    locale: str | None
    last_step: str | None
    kind: str
    score: int | None


def load_corpus(path: Path = CORPUS) -> list[Row]:
    """The labelled rows; raises ValueError on a malformed line so a typo cannot hide."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("#") or not raw.strip():
            continue
        parts = raw.split("\t")
        if len(parts) != 5:
            raise ValueError(f"{path.name}:{number}: expected 5 tab-separated fields")
        text, locale, step, kind, score = parts
        if kind not in KINDS:
            raise ValueError(f"{path.name}:{number}: unknown kind {kind!r}")
        rows.append(
            Row(
                number,
                text,
                None if locale == "-" else locale,
                None if step == "-" else step,
                kind,
                None if score == "-" else int(score),
            )
        )
    return rows


@dataclass
class KindStats:
    """Counts for one kind: support is how many rows carry that label."""

    support: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 1.0


@dataclass
class Report:
    """Per-kind precision/recall, accuracies, and the rows the classifier got wrong."""

    rows: int = 0
    kinds: dict[str, KindStats] = field(default_factory=lambda: {k: KindStats() for k in KINDS})
    kind_correct: int = 0
    scored_rows: int = 0
    scored_correct: int = 0
    score_agree: int = 0  # rows where the score (or its absence) matches
    misses: list[tuple[Row, Classification]] = field(default_factory=list)
    score_misses: list[tuple[Row, Classification]] = field(default_factory=list)
    #: for rows labelled emergency or clinic_today: read at least that urgently; read with
    #: urgency "none" (answered as routine, reaching nobody)
    escalated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RANK, 0))
    routine: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RANK, 0))

    def escalated_recall(self, kind: str) -> float:
        """Share of rows labelled `kind` read at least that urgently (clinic-today read as
        an emergency counts: a person is told sooner, which is the safe side)."""
        support = self.kinds[kind].support
        return self.escalated[kind] / support if support else 1.0

    @property
    def kind_accuracy(self) -> float:
        return self.kind_correct / self.rows if self.rows else 1.0

    @property
    def score_accuracy(self) -> float:
        """Accuracy on the rows whose label carries a score."""
        return self.scored_correct / self.scored_rows if self.scored_rows else 1.0

    @property
    def score_agreement(self) -> float:
        """Accuracy on every row, where "no score" must also be read as no score."""
        return self.score_agree / self.rows if self.rows else 1.0

    def missed(self, kind: str) -> list[str]:
        """Rows labelled `kind` that were classified as something else, for messages."""
        return [
            f"line {row.line}: {row.text!r} -> {got.kind}"
            for row, got in self.misses
            if row.kind == kind
        ]

    def markdown(self) -> str:
        lines = [
            "| kind | rows | predicted | precision | recall |",
            "|---|---:|---:|---:|---:|",
        ]
        for kind, s in self.kinds.items():
            lines.append(
                f"| {kind} | {s.support} | {s.predicted} | {s.precision:.3f} | {s.recall:.3f} |"
            )
        lines.append("")
        for kind in RANK:
            lines.append(
                f"{kind}: read at least as urgently {self.escalated[kind]}/"
                f"{self.kinds[kind].support}; answered as routine {self.routine[kind]}"
            )
        lines.append(
            f"rows {self.rows}; kind accuracy {self.kind_accuracy:.3f}; score accuracy "
            f"{self.score_accuracy:.3f} on {self.scored_rows} scored rows; score agreement "
            f"(incl. no score) {self.score_agreement:.3f}"
        )
        return "\n".join(lines)


def corpus_report(rows: list[Row] | None = None) -> Report:
    """Classify every corpus row and count what matched the label."""
    report = Report()
    for row in load_corpus() if rows is None else rows:
        got = classify(row.text, ReplyContext(locale=row.locale, last_step=row.last_step))
        report.rows += 1
        report.kinds[row.kind].support += 1
        report.kinds[got.kind].predicted += 1
        if row.kind in RANK:
            report.escalated[row.kind] += RANK.get(got.kind, 0) >= RANK[row.kind]
            report.routine[row.kind] += got.urgency == "none"
        if got.kind == row.kind:
            report.kind_correct += 1
            report.kinds[row.kind].correct += 1
        else:
            report.misses.append((row, got))
        if row.score is not None:
            report.scored_rows += 1
            report.scored_correct += got.score == row.score
        if got.score == row.score:
            report.score_agree += 1
        else:
            report.score_misses.append((row, got))
    return report


if __name__ == "__main__":
    path = {"--holdout": HOLDOUT, "--blind": BLIND}.get(" ".join(sys.argv[1:]), CORPUS)
    result = corpus_report(load_corpus(path))
    print(f"{path.name}\n")
    print(result.markdown())
    if path == BLIND:
        sys.exit(0)  # counts only: its rows stay unread by whoever tunes the rules
    for row, got in result.misses:
        print(f"kind miss  line {row.line}: {row.text!r}: want {row.kind}, got {got.kind}")
    for row, got in result.score_misses:
        print(f"score miss line {row.line}: {row.text!r}: want {row.score}, got {got.score}")
