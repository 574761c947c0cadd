"""The ``importance`` suite: importance scoring against a length-based scorer, in the same run.

* The seed's few-shot examples (design seed 003's importance prompt, rescaled to the five levels as in
  ``prompts/detection.py``, where they are read from): ``seed_within_one_level`` (target 1.0: each within 200 of
  its level) and ``seed_exact``.
* Everyday chatter (``evals/datasets/importance_everyday.jsonl``, written for this suite, each expected at most
  300): ``everyday_at_most_300`` and ``everyday_above_500`` (the seed's memory gate is "> 500").
* Companion chat (``evals/datasets/importance_companion.jsonl``, written for this suite: chatter, mundane messages
  with loaded words such as a game character dying or a goodbye at the station, regular events, milestones and
  life-changing events, each with its expected level): ``companion_within_one_level``, ``companion_exact``,
  ``companion_low_above_500`` (chatter and look-alikes that would pass the memory gate),
  ``companion_lookalikes_at_most_300`` and ``companion_events_above_500`` (milestones and life events that pass it),
  so that scoring everything low fails as surely as scoring everything high.
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
from evals.core import Advance, EvalEnv, SuiteOutcome, load_jsonl, require, share
from evals.corpora import DATASETS_DIR, LOCOMO, locomo_turns, source
from evals.perception import perceive
from prompts.detection import IMPORTANCE_CATEGORY_PROMPT

#: ``"I just got a new puppy named Max!" -> importance 700, ...`` lines of the prompt's EXAMPLES.
_EXAMPLE = re.compile(r'^"(?P<text>[^"]+)" -> importance (?P<level>\d+)', re.MULTILINE)
LEVEL_STEP = 200
GATE = 500
COMPANION = DATASETS_DIR / "importance_companion.jsonl"
COMPANION_GROUPS = ("chatter", "loaded_lookalike", "regular", "milestone", "life_changing")


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


def companion_metrics(cases: list[tuple[str, int, int]]) -> dict[str, float]:
    """Metrics of (group, expected, predicted) triples of the companion-chat set."""
    low = [p for _, e, p in cases if e <= 300]
    return {
        "companion_within_one_level": share([abs(p - e) <= LEVEL_STEP for _, e, p in cases]),
        "companion_exact": share([p == e for _, e, p in cases]),
        "companion_low_above_500": share([p > GATE for p in low]),
        "companion_lookalikes_at_most_300": share([p <= 300 for g, _, p in cases if g == "loaded_lookalike"]),
        "companion_events_above_500": share([p > GATE for _, e, p in cases if e >= 700]),
    }


def validate_companion_case(case: dict[str, Any]) -> tuple[str, str, int]:
    """Text, group and expected level (100-900) of a companion-chat line."""
    text, group, expected = require(case, "text", str), require(case, "group", str), require(case, "expected", int)
    if group not in COMPANION_GROUPS:
        raise InvalidInputError(f"case {case['id']!r}: unknown group {group!r} (one of {', '.join(COMPANION_GROUPS)})")
    if expected not in (100, 300, 500, 700, 900):
        raise InvalidInputError(f"case {case['id']!r}: expected is one of 100, 300, 500, 700, 900, got {expected}")
    return text, group, expected


def validate_case(case: dict[str, Any]) -> tuple[str, int]:
    """Text and expected level of an everyday line (``expected`` 100 or 300)."""
    text, expected = require(case, "text", str), require(case, "expected", int)
    if expected not in (100, 300):
        raise InvalidInputError(f"case {case['id']!r}: everyday chatter is expected at 100 or 300, got {expected}")
    return text, expected


def run_importance(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """The seed examples, the everyday set (``cases``), the companion-chat set and LoCoMo turns, both systems."""
    seed = seed_examples()
    everyday = [validate_case(case) for case in cases]
    companion_cases = load_jsonl(COMPANION)
    companion = [validate_companion_case(case) for case in companion_cases]
    turns = locomo_turns()
    texts = [t for t, _ in seed] + [t for t, _ in everyday] + [t for t, _, _ in companion]
    hand = perceive(texts, env.embedder, advance=advance, label="seed, everyday and companion")
    chat = perceive(turns, env.embedder, cache_dir=env.cache_dir, advance=advance, label="LoCoMo turns")
    detector = [p.detection.importance for p in hand]
    length = [length_importance(t) for t in texts]
    expected = [e for _, e in seed] + [e for _, e in everyday] + [e for _, _, e in companion]
    groups = [g for _, g, _ in companion]
    split, tail = len(seed), len(seed) + len(everyday)
    metrics: dict[str, float] = {
        "n_seed": len(seed),
        "n_everyday": len(everyday),
        "n_companion": len(companion),
        "n_locomo": len(turns),
    }
    histograms: dict[str, dict[int, int]] = {}
    for system, scores, locomo in (
        ("detector", detector, [p.detection.importance for p in chat]),
        ("length", length, [length_importance(t) for t in turns]),
    ):
        pairs = list(zip(expected, scores, strict=True))
        found = importance_metrics(pairs[:split], pairs[split:tail], locomo)
        found |= companion_metrics([(g, e, p) for g, (e, p) in zip(groups, pairs[tail:], strict=True)])
        metrics |= {f"{system}.{k}": v for k, v in found.items()}
        histograms[system] = dict(sorted(Counter(locomo).items()))
    ids = [f"seed-{i}" for i in range(len(seed))] + [case["id"] for case in cases + companion_cases]
    sets = ["seed"] * split + ["everyday"] * len(everyday) + groups
    rows = [
        {
            "id": case_id,
            "set": set_name,
            "text": text if set_name == "seed" else None,
            "expected": want,
            "detector": got,
            "length": baseline,
            "scores": {
                "detector_within_one_level": float(abs(got - want) <= LEVEL_STEP),
                "length_within_one_level": float(abs(baseline - want) <= LEVEL_STEP),
            },
        }
        for case_id, set_name, text, want, got, baseline in zip(
            ids, sets, texts, expected, detector, length, strict=True
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
                "companion": {
                    "path": "evals/datasets/importance_companion.jsonl",
                    "rows": len(companion),
                    "note": "companion chat written for this suite; never read by training",
                },
                "locomo": source(LOCOMO, len(turns), "turns of conversations 4-9 only"),
            },
            "locomo_levels": histograms,
            "targets": {
                "seed_within_one_level": [">=", 1.0],
                "everyday_at_most_300": [">=", 0.9],
                "companion_low_above_500": ["<=", 0.05],
                "companion_events_above_500": [">=", 0.9],
            },
            "baseline": "length: <= 5 words 100, <= 12 300, <= 25 500, longer 700",
        },
    )
