"""Benchmark: how well and how fast the reply reader reads, on every labelled set.

    python bench/replies.py                    # all sets, figures printed and saved as JSON
    python bench/replies.py --json out.json

What is measured, per set in ``tests/inbound/data``:

- ``replies_corpus.tsv``: the rows the rules are tuned on (written here, then by writers who
  never saw the rules, whose rows were read and fixed after a first blind look);
- ``replies_holdout.tsv``: an older blind set, since read and fixed;
- ``replies_blind.tsv``: written by a writer briefed only with the clinical situation and
  kept blind: this script prints its counts and never its rows.

For each: precision and recall per kind; for emergency and clinic-today rows, how many were
read at least as urgently as their label and how many were answered as routine (urgency
"none": nobody would read them). Then the time per reply (best of five passes over the
corpus, after a warm-up), single-threaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.corpus import BLIND, CORPUS, HOLDOUT, RANK, corpus_report, load_corpus  # noqa: E402

from followup.inbound.reading import ReplyContext, classify  # noqa: E402


def figures(path: Path) -> dict:
    report = corpus_report(load_corpus(path))
    return {
        "rows": report.rows,
        "kind_accuracy": round(report.kind_accuracy, 4),
        "score_accuracy": round(report.score_accuracy, 4),
        "kinds": {
            kind: {
                "rows": s.support,
                "predicted": s.predicted,
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
            }
            for kind, s in report.kinds.items()
        },
        "at_least_as_urgent": {k: [report.escalated[k], report.kinds[k].support] for k in RANK},
        "answered_as_routine": dict(report.routine),
        "table": report.markdown(),
    }


def speed() -> float:
    rows = load_corpus()
    contexts = [ReplyContext(locale=r.locale, last_step=r.last_step) for r in rows]
    pairs = list(zip((r.text for r in rows), contexts, strict=True))
    for text, ctx in pairs:  # warm the caches (compiled patterns, spelling lookups)
        classify(text, ctx)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for text, ctx in pairs:
            classify(text, ctx)
        best = min(best, time.perf_counter() - start)
    return best / len(pairs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "replies.json")
    args = parser.parse_args()
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    for name, path in (("corpus", CORPUS), ("holdout", HOLDOUT), ("blind", BLIND)):
        results[name] = figures(path)
        print(f"## {path.name}\n\n{results[name]['table']}\n")
    results["microseconds_per_reply"] = round(speed(), 1)
    print(f"classify: {results['microseconds_per_reply']} us per corpus reply (best of 5)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
