"""Psychological needs (design seed 003, ``needs`` table): levels in [0, 1] that time raises and talk satisfies.

A need at or above :data:`TRIGGER_THRESHOLD` is urgent (the proactive engine reads it).

Needs colour the mood (the seed's ``influence_on_mood``, 0.1 each): a need above its baseline lowers the point the
mood relaxes toward by up to 0.1 in its own direction (:func:`mood_pull`). Left alone, a lonely companion ends a
little less pleased, a bored one flatter, a tired one calmer, an unappreciated one less assured; talk that
satisfies the need lifts it again. The mood itself never jumps: it only relaxes toward that point over hours.

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

from companion.personality.traits import PAD

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
#: How much a fully unmet need (level 1.0) moves the mood's resting point (the seed's influence_on_mood).
INFLUENCE_ON_MOOD = 0.1
#: The direction each unmet need pulls the mood (pleasure, arousal, dominance), scaled by INFLUENCE_ON_MOOD.
MOOD_DIRECTION: dict[str, tuple[float, float, float]] = {
    "social": (-1.0, 0.0, 0.0),  # lonely: less pleased
    "intellectual": (-0.5, -0.5, 0.0),  # bored: flatter
    "creative": (-0.5, -0.5, 0.0),
    "rest": (-0.3, -1.0, 0.0),  # tired: calmer, a little less pleased
    "validation": (-0.3, 0.0, -1.0),  # unappreciated: less assured
}
INTELLECTUAL_CATEGORIES = frozenset({"fact", "skill", "goal", "interest"})
CREATIVE_CATEGORIES = frozenset({"interest", "goal"})
CREATIVE_WORDS = re.compile(r"\b(ideas?|imagine|stor(?:y|ies)|writ(?:e|ing)|draw(?:ing)?|create|music|poem)\b", re.I)


def initial_needs() -> dict[str, float]:
    """Every need at its baseline."""
    return dict.fromkeys(NEED_NAMES, BASELINE_LEVEL)


def mood_pull(needs: dict[str, float]) -> PAD:
    """How far the needs move the mood's resting point: each need above its baseline, in its direction."""
    totals = [0.0, 0.0, 0.0]
    for name, (pleasure, arousal, dominance) in MOOD_DIRECTION.items():
        unmet = max(0.0, needs.get(name, BASELINE_LEVEL) - BASELINE_LEVEL) / (1.0 - BASELINE_LEVEL)
        for axis, direction in enumerate((pleasure, arousal, dominance)):
            totals[axis] += INFLUENCE_ON_MOOD * unmet * direction
    return PAD(pleasure=totals[0], arousal=totals[1], dominance=totals[2])


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
