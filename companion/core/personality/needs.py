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

**Satisfaction patterns** (the seed's ``satisfaction_pattern``, "when this need is typically satisfied"): each time a
message satisfies a need, the state counts it under the message's *interaction kind* (:func:`interaction_kind`:
``compliment`` for a compliment or thanks, else ``question`` for a question, else the message's category: person,
event, emotion, interest, fact, skill, goal, problem, location), so that ``{"intellectual": {"question": 12,
"fact": 5}}`` says what kind of talk meets each need. The seed only records them and reports them in the nightly
reflection (``identify_needs_satisfaction_patterns``); so do we (the personality view, the nightly report).

**Proactive weight** (the seed's ``proactive_weight``, default 1.0 per need, :data:`PROACTIVE_WEIGHT`): how much a
need counts when the companion decides to reach out. The proactive score's need urgency
(``tools/proactive.py``) multiplies each urgent need's urgency by the seed's weight for its type *and* by this one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from companion.core.personality.traits import PAD

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
#: The seed's per-need ``proactive_weight`` (default 1.0): a multiplier on the need's share of the outreach score.
PROACTIVE_WEIGHT: dict[str, float] = dict.fromkeys(NEED_NAMES, 1.0)
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


def interaction_kind(message: str, *, category: str, complimented: bool) -> str:
    """The kind of interaction a message is, for the satisfaction patterns (see the module docstring)."""
    if complimented:
        return "compliment"
    if message.rstrip().endswith("?"):
        return "question"
    return category or "other"


def record_satisfaction(
    patterns: Mapping[str, Mapping[str, int]], satisfied: Mapping[str, float], kind: str
) -> dict[str, dict[str, int]]:
    """The satisfaction patterns with one interaction of ``kind`` counted for every need it satisfied."""
    updated = {need: dict(counts) for need, counts in patterns.items()}
    for need in satisfied:
        counts = updated.setdefault(need, {})
        counts[kind] = counts.get(kind, 0) + 1
    return updated


def satisfy_needs(needs: dict[str, float], satisfied: dict[str, float]) -> dict[str, float]:
    """Needs after an interaction that satisfied ``satisfied`` (amounts subtracted, floored at 0)."""
    return {name: max(0.0, needs.get(name, BASELINE_LEVEL) - satisfied.get(name, 0.0)) for name in NEED_NAMES}


def urgent_needs(needs: dict[str, float]) -> list[str]:
    """Needs at or above the trigger threshold, most urgent first."""
    return sorted((n for n in NEED_NAMES if needs.get(n, 0.0) >= TRIGGER_THRESHOLD), key=lambda n: -needs[n])
