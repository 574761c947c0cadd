"""Quirks: habits the companion picks up from how a user talks (design seed 003, quirk lifecycle rules).

Each message is checked for a few local patterns (:data:`PATTERNS`: emoji, exclamation marks, laughter, short
messages, questions), each with the confidence that the pattern really is there. Observations accumulate per
pattern; once a day :func:`evolve_quirks` applies the seed's rules:

1. **creation**: a pattern seen at least 3 times with confidence > 0.7 becomes a quirk of strength 0.1;
2. **reinforcement**: a quirk whose pattern was seen in the last day gains 0.05 (at most 1.0);
3. **decay**: a quirk whose pattern was not seen for 7 days or more loses 0.1 and is deactivated below 0.05.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from typing_extensions import TypedDict

DAY = 86_400.0
MIN_OCCURRENCES = 3
MIN_CONFIDENCE = 0.7
INITIAL_STRENGTH = 0.1
REINFORCEMENT = 0.05
DECAY = 0.1
DECAY_AFTER_DAYS = 7
#: "Within a day" for reinforcement and creation: a day and a half, so that the daily step finds a user who talks at
#: the same hour every day (24 hours and a few minutes ago) as seen within the day, and one who skipped a day not.
WITHIN_A_DAY = 1.5
DEACTIVATE_BELOW = 0.05

_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]|[:;]-?[)(DP]")
_LAUGH = re.compile(r"\b(lol|lmao|haha\w*|hehe\w*)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A way of talking the companion can pick up: ``description`` is how the persona prompt shows the quirk."""

    name: str
    description: str
    confidence: float
    matches: Callable[[str], bool]


PATTERNS: tuple[Pattern, ...] = (
    Pattern("uses_emoji", "uses emoji now and then", 0.9, lambda text: bool(_EMOJI.search(text))),
    Pattern("exclamations", "shows enthusiasm with exclamation marks", 0.8, lambda text: "!" in text),
    Pattern("laughs_in_text", "laughs in text (haha, lol)", 0.85, lambda text: bool(_LAUGH.search(text))),
    Pattern("short_replies", "keeps replies short and casual", 0.75, lambda text: len(text.split()) <= 4),
    Pattern("asks_back", "answers with a question of its own", 0.72, lambda text: text.rstrip().endswith("?")),
)
PATTERNS_BY_NAME = {pattern.name: pattern for pattern in PATTERNS}


class PatternData(TypedDict):
    """:meth:`PatternStats.to_dict`."""

    count: int
    confidence: float
    last_seen: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternStats:
    """How often a pattern was seen, with what confidence, and when last."""

    count: int
    confidence: float
    last_seen: float

    def to_dict(self) -> PatternData:
        """A JSON-able dict."""
        return {"count": self.count, "confidence": self.confidence, "last_seen": self.last_seen}


class QuirkData(TypedDict):
    """:meth:`Quirk.to_dict`: a quirk as the stored personality state carries it."""

    name: str
    description: str
    strength: float
    confidence: float
    created_at: float
    last_reinforced: float
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirk:
    """A habit of the companion, with the seed's strength lifecycle."""

    name: str
    description: str
    strength: float
    confidence: float
    created_at: float
    last_reinforced: float
    active: bool = True

    def to_dict(self) -> QuirkData:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "description": self.description,
            "strength": self.strength,
            "confidence": self.confidence,
            "created_at": self.created_at,
            "last_reinforced": self.last_reinforced,
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quirk:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            description=str(data["description"]),
            strength=float(data["strength"]),
            confidence=float(data["confidence"]),
            created_at=float(data["created_at"]),
            last_reinforced=float(data["last_reinforced"]),
            active=bool(data.get("active", True)),
        )


def observe_patterns(message: str) -> list[Pattern]:
    """The patterns one message shows."""
    return [pattern for pattern in PATTERNS if pattern.matches(message)]


def record_observations(
    patterns: dict[str, PatternStats], quirks: tuple[Quirk, ...], observed: list[Pattern], now: float
) -> tuple[dict[str, PatternStats], tuple[Quirk, ...]]:
    """Count the patterns of one message; a quirk whose pattern shows up is marked reinforced now."""
    updated = dict(patterns)
    for pattern in observed:
        previous = updated.get(pattern.name)
        if previous is None:
            updated[pattern.name] = PatternStats(count=1, confidence=pattern.confidence, last_seen=now)
        else:
            # running mean of the confidences the pattern was seen with
            mean = (previous.confidence * previous.count + pattern.confidence) / (previous.count + 1)
            updated[pattern.name] = PatternStats(count=previous.count + 1, confidence=mean, last_seen=now)
    seen = {pattern.name for pattern in observed}
    return updated, tuple(
        replace(quirk, last_reinforced=now) if quirk.active and quirk.name in seen else quirk for quirk in quirks
    )


def evolve_quirks(
    quirks: tuple[Quirk, ...], patterns: dict[str, PatternStats], now: float
) -> tuple[tuple[Quirk, ...], list[str]]:
    """Apply the creation, reinforcement and decay rules once (a daily step); returns quirks and what changed."""
    changes: list[str] = []
    by_name = {quirk.name: quirk for quirk in quirks}
    result: list[Quirk] = []
    for quirk in quirks:
        if not quirk.active:
            result.append(quirk)
            continue
        idle_days = (now - quirk.last_reinforced) / DAY
        if idle_days <= WITHIN_A_DAY:
            strength = min(1.0, quirk.strength + REINFORCEMENT)
            if strength != quirk.strength:
                changes.append(f"strengthened quirk {quirk.name} ({quirk.strength:.2f} -> {strength:.2f})")
            result.append(replace(quirk, strength=strength))
        elif idle_days >= DECAY_AFTER_DAYS:
            strength = max(0.0, quirk.strength - DECAY)
            if strength < DEACTIVATE_BELOW:
                changes.append(f"deactivated quirk {quirk.name} (too weak)")
                result.append(replace(quirk, strength=strength, active=False))
            else:
                changes.append(f"weakened quirk {quirk.name} ({quirk.strength:.2f} -> {strength:.2f})")
                result.append(replace(quirk, strength=strength))
        else:
            result.append(quirk)
    for name, stats in patterns.items():
        existing = by_name.get(name)
        if existing is not None and existing.active:
            continue
        recent = (now - stats.last_seen) <= WITHIN_A_DAY * DAY
        if stats.count >= MIN_OCCURRENCES and stats.confidence > MIN_CONFIDENCE and recent:
            pattern = PATTERNS_BY_NAME.get(name)
            quirk = Quirk(
                name=name,
                description=pattern.description if pattern else name.replace("_", " "),
                strength=INITIAL_STRENGTH,
                confidence=round(stats.confidence, 4),
                created_at=now,
                last_reinforced=stats.last_seen,
            )
            result = [q for q in result if q.name != name] + [quirk]
            changes.append(f"created quirk {name}")
    return tuple(result), changes


def active_quirks(quirks: tuple[Quirk, ...]) -> list[Quirk]:
    """Active quirks, strongest first."""
    return sorted((q for q in quirks if q.active), key=lambda q: -q.strength)
