"""Appraisal eval: does the companion's pleasure move the way the user's message should move it.

    companion eval appraisal            (or: .venv/bin/python -m evals.appraisal [--data DIR] [--per-class N])

Messages with a clear expected direction, each perceived by the real local detector (emotions and crisis, from the
real embedding) and appraised twice in the same run: by the appraisal the companion uses
(``companion.core.personality.appraisal.appraise``) and by the seed's literal keyword rules as first implemented
(``appraise_seed_rules``), the baseline.

* GoEmotions' held-out *test* split (``../shared/data/goemotions/test.tsv``; the detector never saw it), messages
  whose labels have a clear sentiment: only joy/gratitude/admiration/love -> ``positive``, only
  sadness/grief/fear/disappointment -> ``negative``, only neutral -> ``neutral`` (the first ``--per-class`` of
  each, in file order; all 278 negatives at the default 300).
* Praise and insults aimed at the companion, written for the suite (``evals/datasets/appraisal_directed.jsonl``,
  ``positive``/``negative``). They were written alongside the praise/insult phrase lists, so they show the lists
  cover common phrasings, not how far they generalise.

Metrics (per system, ``new`` and ``seed_rules``): ``sign_accuracy``: share of positive/negative messages whose
pleasure change has the expected sign (no change counts as wrong); ``wrong_way``: share moved the opposite way
(grief that cheers the companion up); ``wrong_way_over_0_02``: those of them larger than 0.02 (a faint feeling
misread moves pleasure by 0.015 at most); ``neutral_within_0_05``: share of neutral messages that move pleasure by at
most 0.05; and sign accuracy per group. Targets (issue 18): sign accuracy >= 0.90, neutral within 0.05 >= 0.90.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from companion.core.personality.appraisal import Appraisal, appraise, appraise_seed_rules
from evals.core import EvalEnv, SuiteOutcome, load_jsonl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "goemotions"
DIRECTED = Path(__file__).resolve().parent / "datasets" / "appraisal_directed.jsonl"
PER_CLASS = 300
NEUTRAL_MAX_MOVE = 0.05
FELT_MOVE = 0.02  # a wrong-way move above this is one the reply's tone could show; below, a faint nudge
POSITIVE_LABELS = frozenset({"joy", "gratitude", "admiration", "love"})
NEGATIVE_LABELS = frozenset({"sadness", "grief", "fear", "disappointment"})
SYSTEMS = ("new", "seed_rules")


def goemotions_cases(data: Path, per_class: int = PER_CLASS) -> list[dict[str, Any]]:
    """The first ``per_class`` test messages of each clear sentiment (see the module docstring)."""
    names = (data / "emotions.txt").read_text(encoding="utf-8").split()
    taken = {"positive": 0, "negative": 0, "neutral": 0}
    cases = []
    with (data / "test.tsv").open(encoding="utf-8") as handle:
        for text, labels, comment_id in csv.reader(handle, delimiter="\t"):
            found = {names[int(index)] for index in labels.split(",")}
            expected = (
                "positive"
                if found <= POSITIVE_LABELS
                else "negative"
                if found <= NEGATIVE_LABELS
                else "neutral"
                if found == {"neutral"}
                else None
            )
            if expected is None or taken[expected] >= per_class:
                continue
            taken[expected] += 1
            cases.append({"id": f"goemotions-{comment_id}", "text": text, "expected": expected, "group": expected})
    return cases


def _pleasure(appraisal: Appraisal | None) -> float:
    return 0.0 if appraisal is None else round(appraisal.delta.pleasure, 4)


def _right(expected: str, moved: float) -> bool:
    if expected == "neutral":
        return abs(moved) <= NEUTRAL_MAX_MOVE
    return moved > 0 if expected == "positive" else moved < 0


def evaluate(cases: Sequence[dict[str, Any]], embedder: Any, advance: Any = None) -> SuiteOutcome:
    """Perceive and appraise every case with both systems; the metrics of the module docstring."""
    from evals.perception import perceive

    texts = [str(case["text"]) for case in cases]
    detections = [seen.detection for seen in perceive(texts, embedder)]
    results = []
    for case, detection in zip(cases, detections, strict=True):
        crisis = detection.crisis.kind if detection.crisis.flagged else None
        args = (case["text"], detection.emotion, detection.intensity, detection.emotions)
        new, old = appraise(*args, crisis=crisis), appraise_seed_rules(*args)
        moves = {"new": _pleasure(new), "seed_rules": _pleasure(old)}
        results.append(
            {
                "id": case["id"],
                "group": case.get("group", case["expected"]),
                "expected": case["expected"],
                "emotion": f"{detection.emotion}:{detection.intensity}",
                "rule": {"new": new.rule if new else None, "seed_rules": old.rule if old else None},
                "pleasure_change": moves,
                "scores": {system: float(_right(case["expected"], moves[system])) for system in SYSTEMS},
            }
        )
        if advance is not None:
            advance()
    return SuiteOutcome(status="measured", metrics=metrics(results), cases=results)


def metrics(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Sign accuracy, wrong-way rate and neutral stability per system, and sign accuracy per group."""
    out: dict[str, float] = {}
    signed = [r for r in results if r["expected"] != "neutral"]
    neutral = [r for r in results if r["expected"] == "neutral"]
    for system in SYSTEMS:
        if signed:
            out[f"sign_accuracy.{system}"] = round(sum(r["scores"][system] for r in signed) / len(signed), 4)
            wrong = [r for r in signed if _right(_opposite(r["expected"]), r["pleasure_change"][system])]
            out[f"wrong_way.{system}"] = round(len(wrong) / len(signed), 4)
            felt = [r for r in wrong if abs(r["pleasure_change"][system]) > FELT_MOVE]
            out[f"wrong_way_over_0_02.{system}"] = round(len(felt) / len(signed), 4)
        if neutral:
            out[f"neutral_within_0_05.{system}"] = round(sum(r["scores"][system] for r in neutral) / len(neutral), 4)
        for group in sorted({r["group"] for r in signed}):
            members = [r for r in signed if r["group"] == group]
            out[f"sign_accuracy_{group}.{system}"] = round(sum(r["scores"][system] for r in members) / len(members), 4)
    out["messages"] = float(len(results))
    return out


def _opposite(expected: str) -> str:
    return "negative" if expected == "positive" else "positive"


def run_appraisal(cases: list[dict[str, Any]], env: EvalEnv, advance: Any) -> SuiteOutcome:
    """The suite's runner: the directed cases (the suite's dataset) plus GoEmotions' clear-sentiment test messages."""
    if not DEFAULT_DATA.is_dir():
        return SuiteOutcome(status="not_run", message=f"GoEmotions not found at {DEFAULT_DATA}")
    return evaluate([*goemotions_cases(DEFAULT_DATA), *cases], env.embedder, advance)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite outside ``companion eval`` and print the metrics as JSON."""
    from memory.embeddings import load_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--models", type=Path, default=ROOT / ".data" / "models")
    args = parser.parse_args(argv)
    cases = [*goemotions_cases(args.data, args.per_class), *load_jsonl(DIRECTED)]
    outcome = evaluate(cases, load_embedder(args.models))
    sys.stdout.write(json.dumps(outcome.metrics, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
