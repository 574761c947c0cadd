"""Psychological needs (design seed 003, ``needs`` table): levels in [0, 1] that time raises and talk satisfies.

A need at or above :data:`TRIGGER_THRESHOLD` is urgent (the proactive engine reads it).

Growth per hour (seed): social 0.03, intellectual 0.02, creative 0.015, rest 0.04, validation 0.025;
``level = min(1, level + hours × rate)``. Every level starts at the seed's baseline 0.5.

What satisfies what (each lowers the level by the amount, not below 0):

* social 0.2: every message (someone talked to the companion);
* intellectual 0.15: a question, or a message about a fact, skill, goal or interest;
* creative 0.15: a message about an interest or a goal, or one that invites imagination (idea, story, imagine ...);
* validation 0.3: the user complimented or thanked the companion (the appraisal's compliment rule);
* rest 0.1: a calm message (neutral, or no emotion above the signal threshold).
"""

from __future__ import annotations

import re

NEED_NAMES: tuple[str, ...] = ("social", "intellectual", "creative", "rest", "validation")
DECAY_PER_HOUR: dict[str, float] = {
    "social": 0.03,
    "intellectual": 0.02,
    "creative": 0.015,
    "rest": 0.04,
    "validation": 0.025,
}
BASELINE_LEVEL = 0.5
TRIGGER_THRESHOLD = 0.8
SATISFACTION: dict[str, float] = {
    "social": 0.2,
    "intellectual": 0.15,
    "creative": 0.15,
    "rest": 0.1,
    "validation": 0.3,
}
INTELLECTUAL_CATEGORIES = frozenset({"fact", "skill", "goal", "interest"})
CREATIVE_CATEGORIES = frozenset({"interest", "goal"})
CREATIVE_WORDS = re.compile(r"\b(ideas?|imagine|stor(?:y|ies)|writ(?:e|ing)|draw(?:ing)?|create|music|poem)\b", re.I)


def initial_needs() -> dict[str, float]:
    """Every need at its baseline."""
    return dict.fromkeys(NEED_NAMES, BASELINE_LEVEL)


def decay_needs(needs: dict[str, float], hours: float) -> dict[str, float]:
    """Needs after ``hours`` without interaction: each grows by its hourly rate, capped at 1."""
    elapsed = max(0.0, hours)
    return {name: min(1.0, needs.get(name, BASELINE_LEVEL) + elapsed * DECAY_PER_HOUR[name]) for name in NEED_NAMES}


def needs_satisfied_by(
    message: str, *, category: str, emotion: str, intensity: int, complimented: bool
) -> dict[str, float]:
    """How much one interaction satisfies each need (see the module docstring); only the satisfied ones."""
    satisfied = {"social": SATISFACTION["social"]}
    if message.rstrip().endswith("?") or category in INTELLECTUAL_CATEGORIES:
        satisfied["intellectual"] = SATISFACTION["intellectual"]
    if category in CREATIVE_CATEGORIES or CREATIVE_WORDS.search(message):
        satisfied["creative"] = SATISFACTION["creative"]
    if complimented:
        satisfied["validation"] = SATISFACTION["validation"]
    if emotion == "neutral" or intensity <= 30:
        satisfied["rest"] = SATISFACTION["rest"]
    return satisfied


def satisfy_needs(needs: dict[str, float], satisfied: dict[str, float]) -> dict[str, float]:
    """Needs after an interaction that satisfied ``satisfied`` (amounts subtracted, floored at 0)."""
    return {name: max(0.0, needs.get(name, BASELINE_LEVEL) - satisfied.get(name, 0.0)) for name in NEED_NAMES}


def urgent_needs(needs: dict[str, float]) -> list[str]:
    """Needs at or above the trigger threshold, most urgent first."""
    return sorted((n for n in NEED_NAMES if needs.get(n, 0.0) >= TRIGGER_THRESHOLD), key=lambda n: -needs[n])
