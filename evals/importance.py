"""The ``importance`` suite: importance scoring against a length-based scorer, in the same run.

* The seed's few-shot examples (design seed 003's importance prompt, rescaled to the five levels as in
  ``prompts/detection.py``, where they are read from): ``seed_within_one_level`` (target 1.0: each within 200 of
  its level) and ``seed_exact``.
* Everyday chatter (``evals/datasets/importance_everyday.jsonl``, written for this suite, each expected at most
  300): ``everyday_at_most_300`` and ``everyday_above_500`` (the seed's memory gate is "> 500").
* LoCoMo turns of conversations 4-9 (thousands of ordinary turns): ``locomo_above_500``, the share that would
  pass the gate, reported rather than judged; the level histogram is in the details.

The baseline scores by length (``length_importance``): short messages are minor, long ones regular events.
Metrics are ``detector.<name>`` and ``length.<name>``; every call to the detector goes through
``evals/perception.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, require, share
from evals.corpora import LOCOMO, locomo_turns, source
from evals.perception import perceive
from prompts.detection import IMPORTANCE_CATEGORY_PROMPT

#: ``"I just got a new puppy named Max!" -> importance 700, ...`` lines of the prompt's EXAMPLES.
_EXAMPLE = re.compile(r'^"(?P<text>[^"]+)" -> importance (?P<level>\d+)', re.MULTILINE)
LEVEL_STEP = 200
GATE = 500


def seed_examples() -> list[tuple[str, int]]:
    """The seed's few-shot examples and their levels, as the importance prompt carries them."""
    return [(m["text"], int(m["level"])) for m in _EXAMPLE.finditer(IMPORTANCE_CATEGORY_PROMPT)]


def length_importance(text: str) -> int:
    """The baseline: up to 5 words 100, up to 12 300, up to 25 500, longer 700."""
    words = len(text.split())
    return 100 if words <= 5 else 300 if words <= 12 else 500 if words <= 25 else 700


def importance_metrics(
    seed: list[tuple[int, int]], everyday: list[tuple[int, int]], locomo: list[int]
) -> dict[str, float]:
    """One system's metrics from (expected, predicted) pairs of the seed and everyday sets and LoCoMo scores."""
    return {
        "seed_within_one_level": share([abs(p - e) <= LEVEL_STEP for e, p in seed]),
        "seed_exact": share([p == e for e, p in seed]),
        "everyday_at_most_300": share([p <= 300 for _, p in everyday]),
        "everyday_within_one_level": share([abs(p - e) <= LEVEL_STEP for e, p in everyday]),
        "everyday_above_500": share([p > GATE for _, p in everyday]),
        "locomo_above_500": share([p > GATE for p in locomo]),
    }


def validate_case(case: dict[str, Any]) -> tuple[str, int]:
    """Text and expected level of an everyday line (``expected`` 100 or 300)."""
    text, expected = require(case, "text", str), require(case, "expected", int)
    if expected not in (100, 300):
        raise InvalidInputError(f"case {case['id']!r}: everyday chatter is expected at 100 or 300, got {expected}")
    return text, expected


def run_importance(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """The seed examples, the everyday set (``cases``) and LoCoMo turns through the detector and the baseline."""
    seed = seed_examples()
    everyday = [validate_case(case) for case in cases]
    turns = locomo_turns()
    hand = perceive([t for t, _ in seed] + [t for t, _ in everyday], env.embedder, advance=advance, label="seed")
    chat = perceive(turns, env.embedder, cache_dir=env.cache_dir, advance=advance, label="LoCoMo turns")
    detector = [p.detection.importance for p in hand]
    length = [length_importance(t) for t in [t for t, _ in seed] + [t for t, _ in everyday]]
    expected = [e for _, e in seed] + [e for _, e in everyday]
    split = len(seed)
    metrics: dict[str, float] = {"n_seed": len(seed), "n_everyday": len(everyday), "n_locomo": len(turns)}
    histograms: dict[str, dict[int, int]] = {}
    for system, scores, locomo in (
        ("detector", detector, [p.detection.importance for p in chat]),
        ("length", length, [length_importance(t) for t in turns]),
    ):
        pairs = list(zip(expected, scores, strict=True))
        found = importance_metrics(pairs[:split], pairs[split:], locomo)
        metrics |= {f"{system}.{k}": v for k, v in found.items()}
        histograms[system] = dict(sorted(Counter(locomo).items()))
    ids = [f"seed-{i}" for i in range(len(seed))] + [case["id"] for case in cases]
    texts = [t for t, _ in seed] + [t for t, _ in everyday]
    rows = [
        {
            "id": case_id,
            "set": "seed" if index < split else "everyday",
            "text": text if index < split else None,
            "expected": want,
            "detector": got,
            "length": baseline,
            "scores": {
                "detector_within_one_level": float(abs(got - want) <= LEVEL_STEP),
                "length_within_one_level": float(abs(baseline - want) <= LEVEL_STEP),
            },
        }
        for index, (case_id, text, want, got, baseline) in enumerate(
            zip(ids, texts, expected, detector, length, strict=True)
        )
    ]
    return SuiteOutcome(
        status="measured",
        metrics=metrics,
        cases=rows,
        systems=("detector", "length"),
        details={
            "sources": {
                "seed": {
                    "path": "prompts/detection.py",
                    "rows": len(seed),
                    "note": "design seed 003's few-shot examples",
                },
                "locomo": source(LOCOMO, len(turns), "turns of conversations 4-9 only"),
            },
            "locomo_levels": histograms,
            "targets": {"seed_within_one_level": [">=", 1.0], "everyday_at_most_300": [">=", 0.9]},
            "baseline": "length: <= 5 words 100, <= 12 300, <= 25 500, longer 700",
        },
    )
