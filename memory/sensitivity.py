"""Sensitivity levels of memories (design seed 002): the one definition of the levels, their order and thresholds.

Five classifications, four security levels (the seed's ``_get_security_level``):

=============  ===============  =====================================================================
level          security level   what it holds
=============  ===============  =====================================================================
general        1                facts, preferences, opinions, small talk
chronological  1                events and experiences with a time context
confidential   2                personal, private information (health, money, family, contact details)
secret         3                what the user keeps from others (never told anyone, affairs, crimes)
ultrasecret    4                credentials and identifiers (passwords, PINs, card numbers, biometrics)
=============  ===============  =====================================================================

A classification is kept only when its confidence reaches the seed's threshold for it
(:data:`CONFIDENCE_THRESHOLDS`); see :func:`apply_thresholds`. Everything that compares levels uses
:func:`security_level`, so "confidential and above" means the same in recall, the bots and the API.
"""

from __future__ import annotations

from enum import StrEnum

from companion.core.errors import InvalidInputError


class Sensitivity(StrEnum):
    """The seed's five classifications, from least to most sensitive."""

    GENERAL = "general"
    CHRONOLOGICAL = "chronological"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"
    ULTRASECRET = "ultrasecret"


#: The seed's security level of each classification (general and chronological are both level 1).
SECURITY_LEVELS: dict[Sensitivity, int] = {
    Sensitivity.GENERAL: 1,
    Sensitivity.CHRONOLOGICAL: 1,
    Sensitivity.CONFIDENTIAL: 2,
    Sensitivity.SECRET: 3,
    Sensitivity.ULTRASECRET: 4,
}

#: The seed's confidence thresholds (``AIConfig.CONFIDENCE_THRESHOLDS``).
CONFIDENCE_THRESHOLDS: dict[Sensitivity, float] = {
    Sensitivity.GENERAL: 0.6,
    Sensitivity.CHRONOLOGICAL: 0.7,
    Sensitivity.CONFIDENTIAL: 0.8,
    Sensitivity.SECRET: 0.9,
    Sensitivity.ULTRASECRET: 0.95,
}

#: The most sensitive level a shared context (a group chat, a server channel) may draw on: security level 1.
SHARED_MAX_LEVEL = Sensitivity.CHRONOLOGICAL
#: Level 2 and above are "sensitive": never used in a shared context, hidden from admin listings without clearance.
SENSITIVE_FROM = Sensitivity.CONFIDENTIAL
#: A memory stored before classification existed reads as general (the seed's default classification).
UNCLASSIFIED = Sensitivity.GENERAL
#: An unknown stored value counts as confidential: fail closed.
UNKNOWN = Sensitivity.CONFIDENTIAL

#: Sentiments stored with a memory.
SENTIMENTS: tuple[str, ...] = ("positive", "negative", "neutral", "mixed")
#: At most this many tags per memory.
MAX_TAGS = 5


def parse_sensitivity(value: object) -> Sensitivity:
    """A stored value as a level: empty is :data:`UNCLASSIFIED`, an unknown value :data:`UNKNOWN` (fail closed)."""
    if value is None or value == "":
        return UNCLASSIFIED
    try:
        return Sensitivity(str(value).strip().lower())
    except ValueError:
        return UNKNOWN


def sensitivity_from_input(value: str) -> Sensitivity:
    """A level named by a user (CLI, API); ``InvalidInputError`` naming the choices for anything else."""
    try:
        return Sensitivity(value.strip().lower())
    except ValueError:
        choices = ", ".join(level.value for level in Sensitivity)
        raise InvalidInputError(f"unknown sensitivity level {value[:40]!r}: use one of {choices}") from None


def security_level(value: object) -> int:
    """The seed's security level (1-4) of a stored value."""
    return SECURITY_LEVELS[parse_sensitivity(value)]


def allowed_at(value: object, ceiling: Sensitivity) -> bool:
    """Whether a memory of level ``value`` may be used where at most ``ceiling`` is allowed (by security level)."""
    return security_level(value) <= SECURITY_LEVELS[ceiling]


def apply_thresholds(level: Sensitivity, confidence: float) -> tuple[Sensitivity, float]:
    """The seed's threshold rule, failing toward caution.

    A classification whose confidence reaches its threshold stands. Below it, the level steps down to the next
    less sensitive *sensitive* level whose threshold the confidence reaches (a 0.85-confident "secret" is kept as
    "confidential": being at least confidential is at least as likely); when none does, it becomes general with
    confidence ``max(confidence, 0.6)``, as in the seed.
    """
    confidence = min(1.0, max(0.0, float(confidence)))
    if confidence >= CONFIDENCE_THRESHOLDS[level]:
        return level, confidence
    for lower in (Sensitivity.SECRET, Sensitivity.CONFIDENTIAL):
        if SECURITY_LEVELS[lower] < SECURITY_LEVELS[level] and confidence >= CONFIDENCE_THRESHOLDS[lower]:
            return lower, confidence
    return Sensitivity.GENERAL, max(confidence, CONFIDENCE_THRESHOLDS[Sensitivity.GENERAL])


def most_sensitive(levels: list[Sensitivity] | tuple[Sensitivity, ...]) -> Sensitivity:
    """The most sensitive of ``levels`` (general for none); ties keep the first (chronological before general)."""
    chosen = Sensitivity.GENERAL
    for level in levels:
        if SECURITY_LEVELS[level] > SECURITY_LEVELS[chosen] or (
            SECURITY_LEVELS[level] == SECURITY_LEVELS[chosen] and chosen is Sensitivity.GENERAL
        ):
            chosen = level
    return chosen


def encode_tags(tags: tuple[str, ...] | list[str]) -> str:
    """Tags as one Chroma metadata string: ``",work,family,"`` (commas around each, so a match is exact)."""
    cleaned = [tag for tag in dict.fromkeys(t.strip().lower() for t in tags) if tag][:MAX_TAGS]
    return "," + ",".join(cleaned) + "," if cleaned else ""


def decode_tags(value: object) -> tuple[str, ...]:
    """Inverse of :func:`encode_tags` (a list, as in ``MemoryRecord.to_dict``, is taken as it is)."""
    if isinstance(value, list | tuple):
        return tuple(str(tag) for tag in value if str(tag))
    return tuple(tag for tag in str(value or "").split(",") if tag)
