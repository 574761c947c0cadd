"""OCC appraisal: how one user message moves the companion's mood (design seed 003, ``appraisal.py``).

The seed's five rules, checked in order; the first that matches gives the PAD change:

=============  ==================================================================  =========================
rule           the message ...                                                      ΔP / ΔA / ΔD
=============  ==================================================================  =========================
achievement    says something was achieved (succeeded, finished, ...) and is        +0.20 / +0.10 / +0.05
               positive
failure        says something failed (failed, couldn't, gave up, ...)               −0.15 / +0.05 / −0.10
compliment     praises or thanks the companion (thank you, you're great, ...)       +0.30 / +0.05 / +0.10
surprise       reports something unexpected (surprise, suddenly, shocked, ...)      ±0.10 / +0.20 / 0
social         is about people and connection (friend, family, party, ...)          +0.10 / +0.05 / +0.02
=============  ==================================================================  =========================

"Positive" comes from the detected emotion (:mod:`tools.detection`): the strongest of happiness, excitement and
love beats the strongest of sadness, anxiety, panic, anger and fear and is above the signal threshold. Words
match whole words (the seed's substring test would read "update" as "date").

Beyond the seed: when no rule matches but the message is an emotional signal, the companion is moved a little
by the user's emotion (**empathy**): ``0.25 × intensity/100 ×`` the emotion's PAD coordinates
(:data:`EMOTION_PAD`, after Mehrabian's and ALMA's tables), so "I got a new puppy today!" cheers it up and
"I'm terrified" unsettles it, as the seed's end-to-end scenario expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from companion.personality.traits import PAD

EMOTIONAL_SIGNAL_THRESHOLD = 30
POSITIVE_EMOTIONS = ("happiness", "excitement", "love")
NEGATIVE_EMOTIONS = ("sadness", "anxiety", "panic", "anger", "fear")

#: Where each emotion type sits in PAD space (used by the empathy rule).
EMOTION_PAD: dict[str, PAD] = {
    "happiness": PAD(pleasure=0.40, arousal=0.20, dominance=0.15),
    "excitement": PAD(pleasure=0.50, arousal=0.60, dominance=0.30),
    "love": PAD(pleasure=0.45, arousal=0.10, dominance=0.15),
    "sadness": PAD(pleasure=-0.40, arousal=-0.20, dominance=-0.50),
    "anxiety": PAD(pleasure=-0.40, arousal=0.50, dominance=-0.40),
    "panic": PAD(pleasure=-0.70, arousal=0.90, dominance=-0.60),
    "anger": PAD(pleasure=-0.51, arousal=0.59, dominance=0.25),
    "fear": PAD(pleasure=-0.64, arousal=0.60, dominance=-0.43),
}
EMPATHY_WEIGHT = 0.25


def _words(*phrases: str) -> re.Pattern[str]:
    escaped = (re.escape(phrase).replace(r"\ ", r"\s+").replace("'", "['’]") for phrase in phrases)
    return re.compile(r"\b(?:" + "|".join(escaped) + r")\b", re.IGNORECASE)


ACHIEVEMENT = _words("succeeded", "finished", "completed", "accomplished", "achieved")
FAILURE = _words("failed", "couldn't", "didn't work", "gave up", "impossible")
COMPLIMENT = _words("you're great", "thank you", "you helped", "amazing", "wonderful")
SURPRISE = _words("surprise", "unexpected", "suddenly", "out of nowhere", "shocked")
SOCIAL = _words("friend", "family", "together", "met someone", "date", "party")


@dataclass(frozen=True, slots=True)
class Appraisal:
    """A mood change and why: ``rule`` is the OCC rule's name, ``cause`` a sentence a user can read."""

    rule: str
    delta: PAD
    cause: str


def is_positive(emotions: Mapping[str, int]) -> bool:
    """True when the detected emotions are positive (see the module docstring)."""
    positive = max(emotions.get(name, 0) for name in POSITIVE_EMOTIONS)
    negative = max(emotions.get(name, 0) for name in NEGATIVE_EMOTIONS)
    return positive > EMOTIONAL_SIGNAL_THRESHOLD and positive > negative


def appraise(message: str, emotion: str, intensity: int, emotions: Mapping[str, int]) -> Appraisal | None:
    """The mood change one user message causes, or ``None`` when it leaves the mood alone."""
    positive = is_positive(emotions)
    if (match := ACHIEVEMENT.search(message)) and positive:
        return Appraisal(
            "achievement",
            PAD(pleasure=0.2, arousal=0.1, dominance=0.05),
            f"goal achievement: the user said {match.group(0).lower()!r} and sounded positive",
        )
    if match := FAILURE.search(message):
        return Appraisal(
            "failure",
            PAD(pleasure=-0.15, arousal=0.05, dominance=-0.1),
            f"goal failure: the user said {match.group(0).lower()!r}",
        )
    if match := COMPLIMENT.search(message):
        return Appraisal(
            "compliment",
            PAD(pleasure=0.3, arousal=0.05, dominance=0.1),
            f"compliment: the user said {match.group(0).lower()!r}",
        )
    if match := SURPRISE.search(message):
        tone = "pleasant" if positive else "unpleasant"
        return Appraisal(
            "surprise",
            PAD(pleasure=0.1 if positive else -0.1, arousal=0.2),
            f"{tone} surprise: the user said {match.group(0).lower()!r}",
        )
    if match := SOCIAL.search(message):
        return Appraisal(
            "social",
            PAD(pleasure=0.1, arousal=0.05, dominance=0.02),
            f"social connection: the user talked about {match.group(0).lower()!r}",
        )
    if emotion in EMOTION_PAD and intensity > EMOTIONAL_SIGNAL_THRESHOLD:
        point, weight = EMOTION_PAD[emotion], EMPATHY_WEIGHT * intensity / 100.0
        return Appraisal(
            "empathy",
            PAD(pleasure=point.pleasure * weight, arousal=point.arousal * weight, dominance=point.dominance * weight),
            f"empathy: the user expressed {emotion} (intensity {intensity})",
        )
    return None


#: The seed's PAD penalty for a high-severity injection attempt (``semantic_injection_detector.py``).
INJECTION_PENALTY = PAD(pleasure=-0.3, arousal=0.2, dominance=-0.2)


def appraise_injection(kind: str, severity: str, score: float) -> Appraisal | None:
    """The mood change a detected injection attempt causes: the seed's penalty when it is high severity."""
    if severity != "high":
        return None
    return Appraisal(
        "injection_penalty",
        INJECTION_PENALTY,
        f"injection attempt: the user tried {kind.replace('_', ' ')} (score {score:.2f}, high severity)",
    )
