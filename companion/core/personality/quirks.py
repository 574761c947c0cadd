"""Quirks: habits the companion picks up from how a user talks (design seed 003, quirk lifecycle rules).

Each message is checked for a few local patterns (:data:`PATTERNS`: emoji, exclamation marks, laughter, short
messages, questions), each with the confidence that the pattern really is there and the seed's category
(``speech_pattern``, ``behavior`` or ``preference``), which the quirk it becomes carries. Observations accumulate
per pattern; once a day :func:`evolve_quirks` applies the seed's rules:

1. **creation**: a pattern seen at least 3 times with confidence > 0.7 becomes a quirk of strength 0.1;
2. **reinforcement**: a quirk whose pattern was seen in the last day gains 0.05 (at most 1.0);
3. **decay**: a quirk whose pattern was not seen for 7 days or more loses 0.1 and is deactivated below 0.05.

The seed's fourth rule, **contradiction** ("when patterns contradict quirks: strength −= 0.1"), applies at the
message (:func:`contradict_quirks`): a pattern may name what contradicts it (``Pattern.contradicts``), and a message
that does costs its active quirk 0.1 of strength (and deactivates it below 0.05), at most once in 24 hours per quirk,
as reinforcement counts once a day. Only an observable opposite contradicts: a message *without* emoji does not
contradict "uses emoji" (not showing a habit is what decay is for). Today one pattern has an opposite: ``short_replies``
(at most 4 words) is contradicted by a message of more than :data:`LONG_MESSAGE_WORDS` (20) words.

**Confidence** (how sure the companion is that the habit is real; the seed's ``confidence``) starts at the
pattern's mean observed confidence and moves with the evidence: each daily reinforcement adds
:data:`CONFIDENCE_GAIN` (0.05, at most 1), each contradiction takes :data:`CONFIDENCE_LOSS` (0.1, at least 0).
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
#: The seed's contradiction penalty: strength lost when a message contradicts an active quirk.
CONTRADICTION_PENALTY = 0.1
#: A message of more words than this contradicts "keeps replies short" (five times its 4-word limit).
LONG_MESSAGE_WORDS = 20
#: Confidence gained per daily reinforcement, and lost per contradiction.
CONFIDENCE_GAIN = 0.05
CONFIDENCE_LOSS = 0.1
#: The seed's quirk categories.
CATEGORIES: tuple[str, ...] = ("speech_pattern", "behavior", "preference")
#: The category of a quirk whose pattern is not (or no longer) defined.
DEFAULT_CATEGORY = "behavior"

_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]|[:;]-?[)(DP]")
_LAUGH = re.compile(r"\b(lol|lmao|haha\w*|hehe\w*)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A way of talking the companion can pick up: ``description`` is how the persona prompt shows the quirk.

    ``category`` is the seed's (``speech_pattern``, ``behavior``, ``preference``); ``contradicts`` tells a message
    that shows the opposite habit (``None``: nothing observable contradicts it).
    """

    name: str
    description: str
    confidence: float
    matches: Callable[[str], bool]
    category: str = DEFAULT_CATEGORY
    contradicts: Callable[[str], bool] | None = None


PATTERNS: tuple[Pattern, ...] = (
    Pattern("uses_emoji", "uses emoji now and then", 0.9, lambda text: bool(_EMOJI.search(text)), "speech_pattern"),
    Pattern("exclamations", "shows enthusiasm with exclamation marks", 0.8, lambda text: "!" in text, "speech_pattern"),
    Pattern(
        "laughs_in_text", "laughs in text (haha, lol)", 0.85, lambda text: bool(_LAUGH.search(text)), "speech_pattern"
    ),
    Pattern(
        "short_replies",
        "keeps replies short and casual",
        0.75,
        lambda text: len(text.split()) <= 4,
        "preference",
        contradicts=lambda text: len(text.split()) > LONG_MESSAGE_WORDS,
    ),
    Pattern(
        "asks_back", "answers with a question of its own", 0.72, lambda text: text.rstrip().endswith("?"), "behavior"
    ),
)
PATTERNS_BY_NAME = {pattern.name: pattern for pattern in PATTERNS}


def category_of(name: str) -> str:
    """The category of the pattern ``name`` (:data:`DEFAULT_CATEGORY` for one not defined)."""
    pattern = PATTERNS_BY_NAME.get(name)
    return pattern.category if pattern is not None else DEFAULT_CATEGORY


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
    category: str
    strength: float
    confidence: float
    created_at: float
    last_reinforced: float
    active: bool
    contradictions: int
    last_contradicted: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirk:
    """A habit of the companion, with the seed's strength lifecycle, category and confidence."""

    name: str
    description: str
    strength: float
    confidence: float
    created_at: float
    last_reinforced: float
    active: bool = True
    #: The seed's category: ``speech_pattern``, ``behavior`` or ``preference`` (from the pattern's definition).
    category: str = DEFAULT_CATEGORY
    #: Messages that contradicted the quirk and cost it strength, and when the last one did.
    contradictions: int = 0
    last_contradicted: float | None = None

    def to_dict(self) -> QuirkData:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "strength": self.strength,
            "confidence": self.confidence,
            "created_at": self.created_at,
            "last_reinforced": self.last_reinforced,
            "active": self.active,
            "contradictions": self.contradictions,
            "last_contradicted": self.last_contradicted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quirk:
        """Inverse of :meth:`to_dict`; a quirk stored before categories and contradictions gets its pattern's."""
        name = str(data["name"])
        last_contradicted = data.get("last_contradicted")
        return cls(
            name=name,
            description=str(data["description"]),
            category=str(data.get("category") or category_of(name)),
            strength=float(data["strength"]),
            confidence=float(data["confidence"]),
            created_at=float(data["created_at"]),
            last_reinforced=float(data["last_reinforced"]),
            active=bool(data.get("active", True)),
            contradictions=int(data.get("contradictions", 0)),
            last_contradicted=None if last_contradicted is None else float(last_contradicted),
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


def contradict_quirks(
    quirks: tuple[Quirk, ...], message: str, now: float, *, penalty: float = CONTRADICTION_PENALTY
) -> tuple[tuple[Quirk, ...], list[str]]:
    """The seed's contradiction rule for one message: each active quirk it contradicts loses ``penalty`` strength.

    At most once in 24 hours per quirk (as reinforcement counts once a day); confidence drops by
    :data:`CONFIDENCE_LOSS`; below :data:`DEACTIVATE_BELOW` the quirk is deactivated. Returns quirks and what changed.
    """
    changes: list[str] = []
    result: list[Quirk] = []
    for quirk in quirks:
        pattern = PATTERNS_BY_NAME.get(quirk.name)
        contradicted = (
            quirk.active
            and pattern is not None
            and pattern.contradicts is not None
            and pattern.contradicts(message)
            and (quirk.last_contradicted is None or now - quirk.last_contradicted >= DAY)
        )
        if not contradicted:
            result.append(quirk)
            continue
        strength = max(0.0, quirk.strength - penalty)
        active = strength >= DEACTIVATE_BELOW
        if active:
            changes.append(f"contradicted quirk {quirk.name} ({quirk.strength:.2f} -> {strength:.2f})")
        else:
            changes.append(f"deactivated quirk {quirk.name} (contradicted)")
        result.append(
            replace(
                quirk,
                strength=strength,
                active=active,
                confidence=max(0.0, quirk.confidence - CONFIDENCE_LOSS),
                contradictions=quirk.contradictions + 1,
                last_contradicted=now,
            )
        )
    return tuple(result), changes


def evolve_quirks(
    quirks: tuple[Quirk, ...],
    patterns: dict[str, PatternStats],
    now: float,
    *,
    reinforcement: float = REINFORCEMENT,
    decay: float = DECAY,
) -> tuple[tuple[Quirk, ...], list[str]]:
    """Apply the creation, reinforcement and decay rules once (a daily step); returns quirks and what changed.

    ``reinforcement`` and ``decay`` are the strength gained and lost (settings ``COMPANION_QUIRK_REINFORCEMENT_RATE``
    and ``COMPANION_QUIRK_DECAY_RATE``; the seed's 0.05 and 0.1).
    """
    changes: list[str] = []
    by_name = {quirk.name: quirk for quirk in quirks}
    result: list[Quirk] = []
    for quirk in quirks:
        if not quirk.active:
            result.append(quirk)
            continue
        idle_days = (now - quirk.last_reinforced) / DAY
        if idle_days <= WITHIN_A_DAY:
            strength = min(1.0, quirk.strength + reinforcement)
            if strength != quirk.strength:
                changes.append(f"strengthened quirk {quirk.name} ({quirk.strength:.2f} -> {strength:.2f})")
            confidence = min(1.0, quirk.confidence + CONFIDENCE_GAIN)
            result.append(replace(quirk, strength=strength, confidence=confidence))
        elif idle_days >= DECAY_AFTER_DAYS:
            strength = max(0.0, quirk.strength - decay)
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
                category=pattern.category if pattern else DEFAULT_CATEGORY,
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
