"""Pure logic of nightly reflection.

Clustering, extractive summaries, contradiction checks, conflict strategies and the forgetting curve. No I/O:
nodes load memories, call these, and write the results through the stores.

Consolidation (design seed 003, ``consolidate_episodic_to_semantic``)
    Episodic memories not yet consolidated are clustered greedily, in age order: the oldest unclustered memory
    takes every other unclustered memory whose cosine similarity *to it* is >= 0.7. Clusters of >= 3 (at most
    20 per consolidation, the seed's ``max_memories_per_consolidation``) become one semantic memory whose
    importance is the cluster's mean × 1.3 (the seed's reflection boost), capped at 900 (importance uses the
    seed's 100-900 scale; the fractions below are importance / 1000).

Conflicts (design seed 003, ``detect_memory_conflicts`` / ``resolve_conflict``)
    Pairs with similarity > 0.8 are checked for contradiction. Offline (no chat model) :func:`local_contradiction`
    applies three documented rules; see its docstring. Strategies: *temporal precedence* (the older memory's
    importance × 0.7), *confidence based* (the less important one's × 0.5), *user clarification* (a question
    for the next conversation). :func:`choose_strategy` documents which applies when.

Forgetting (design seed 003, ``apply_recency_decay``; Ebbinghaus-style curve)
    retention R = exp(−t / S), t = days since the memory was last reinforced (stored or recalled),
    S = 7 days × (1 + 4 × importance) × 2^recalls, importance in [0, 1]. R multiplies the memory's importance
    in retrieval. An episodic memory fades (is archived, restorable) when R < 0.05, its importance is below
    medium (0.5) and it was never recalled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from memory.records import IMPORTANCE_SCALE, MAX_IMPORTANCE, MIN_IMPORTANCE

CONSOLIDATION_SIMILARITY = 0.7
MIN_CLUSTER_SIZE = 3
MAX_CLUSTER_SIZE = 20
CONSOLIDATION_BOOST = 1.3

CONFLICT_SIMILARITY = 0.8
TEMPORAL_PRECEDENCE_FACTOR = 0.7
CONFIDENCE_BASED_FACTOR = 0.5
#: Contradictions found with less confidence than this are put to the user rather than settled.
CLARIFY_BELOW_CONFIDENCE = 0.6
#: Two memories at least this far apart in time are treated as "the newer one supersedes the older one".
TEMPORAL_GAP_SECONDS = 86_400.0

BASE_STABILITY_DAYS = 7.0
IMPORTANCE_STABILITY = 4.0
ARCHIVE_BELOW_RETENTION = 0.05
ARCHIVE_BELOW_IMPORTANCE = 0.5
#: Retention changes smaller than this are not written back (saves writes on nightly passes).
RETENTION_WRITE_STEP = 0.01

_DAY = 86_400.0
_BLOCK = 1024


# -- importance (the seed's 100-900 scale, ``memory.records``) -------------------------------------------------
def importance_fraction(importance: float) -> float:
    """Importance as a fraction in [0, 1] (500 -> 0.5)."""
    return min(1.0, max(0.0, float(importance) / IMPORTANCE_SCALE))


def scale_importance(importance: float, factor: float) -> int:
    """``importance × factor``, rounded and kept within 100-900."""
    return int(min(MAX_IMPORTANCE, max(MIN_IMPORTANCE, round(importance * factor))))


def mean_importance(values: Sequence[float]) -> float:
    """The mean importance."""
    return sum(values) / len(values)


# -- similarity and clustering -------------------------------------------------------------------------------
def normalise(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def neighbours(
    vectors: npt.ArrayLike, threshold: float, *, strict: bool = False, rows: Sequence[int] | None = None
) -> dict[int, npt.NDArray[np.intp]]:
    """For each row index (all, or ``rows``), the other indices with cosine similarity >= (or >) ``threshold``.

    Computed in blocks so 10,000 memories never need an n × n matrix in memory at once.
    """
    unit = normalise(vectors)
    wanted = list(range(len(unit))) if rows is None else list(rows)
    found: dict[int, npt.NDArray[np.intp]] = {}
    for start in range(0, len(wanted), _BLOCK):
        block = wanted[start : start + _BLOCK]
        sims = unit[block] @ unit.T
        hits = sims > threshold if strict else sims >= threshold
        for offset, row in enumerate(block):
            hit = np.flatnonzero(hits[offset])
            found[row] = hit[hit != row]
    return found


def cluster_by_similarity(
    vectors: npt.ArrayLike, threshold: float = CONSOLIDATION_SIMILARITY, *, max_size: int = MAX_CLUSTER_SIZE
) -> list[list[int]]:
    """The seed's greedy clustering over rows in the order given (pass them oldest first).

    The first unclustered row takes every unclustered row at least ``threshold`` similar to it (at most
    ``max_size`` rows in all, most similar first); rows left over stay for later clusters.
    """
    unit = normalise(vectors)
    near = neighbours(unit, threshold)
    taken = np.zeros(len(unit), dtype=bool)
    clusters: list[list[int]] = []
    for row in range(len(unit)):
        if taken[row]:
            continue
        taken[row] = True
        free = [int(i) for i in near[row] if not taken[i]]
        if len(free) + 1 > max_size:
            free.sort(key=lambda i: -float(unit[row] @ unit[i]))
            free = free[: max_size - 1]
        for index in free:
            taken[index] = True
        clusters.append([row, *sorted(free)])
    return clusters


def extractive_summary(texts: Sequence[str], vectors: npt.ArrayLike, *, max_sentences: int = 2) -> str:
    """Offline summary of a cluster: its most central memory, then the next most central one that adds something.

    Centrality is the mean cosine similarity to the rest of the cluster; a second text is only added when it is
    less than 0.9 similar to the first (otherwise it would repeat it).
    """
    unit = normalise(vectors)
    sims = unit @ unit.T
    centrality = sims.mean(axis=1)
    order = [int(i) for i in np.argsort(-centrality, kind="stable")]
    chosen = [order[0]]
    for index in order[1:]:
        if len(chosen) >= max_sentences:
            break
        if all(sims[index, other] < 0.9 for other in chosen):
            chosen.append(index)
    return " / ".join(texts[i].strip() for i in chosen)


# -- contradictions ------------------------------------------------------------------------------------------
class ConflictType(StrEnum):
    """The seed's conflict types."""

    FACTUAL = "factual_contradiction"
    TIMELINE = "timeline_inconsistency"
    PREFERENCE = "preference_conflict"


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A contradiction found between two memories."""

    conflict_type: ConflictType
    description: str
    confidence: float
    rule: str  # "slot", "preference", "negation" or "llm"


_NEGATIONS = re.compile(
    r"\b(?:not|never|no|none|nobody|nothing|no longer|don't|doesn't|didn't|isn't|aren't|wasn't|"
    r"weren't|can't|cannot|won't|haven't|hasn't|dont|doesnt|didnt|isnt|cant|wont)\b|n't\b"
)
_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset("a an the i my me am is are was were to of in on at and or but it this that so very really".split())
#: Words that end a slot's value ("I live in Paris with my wife" -> "paris") or are dropped from it ("now").
_VALUE_ENDS = frozenset(
    "with and since for because but when while as from until last next this ago yesterday today".split()
)
_FILLERS = frozenset("now too again anymore still currently these days the a an".split())
_LIKE = frozenset("love loves like likes enjoy enjoys adore adores prefer prefers".split())
_DISLIKE = frozenset("hate hates dislike dislikes detest detests loathe loathes".split())

#: "Slot" patterns: the same slot with two different values is a factual contradiction.
_SLOTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("name of {0}", re.compile(r"\bmy ([a-z]+(?: [a-z]+)?)(?:'s name| is called| is named) (?:is )?([a-z0-9' -]+)")),
    ("favourite {0}", re.compile(r"\bmy favou?rite ([a-z]+(?: [a-z]+)?) is ([a-z0-9' -]+)")),
    ("home", re.compile(r"\bi (?:live|am living|'m living|moved) (?:in|to) ([a-z][a-z' -]+)")),
    ("workplace", re.compile(r"\bi (?:work|am working|'m working) (?:at|for) ([a-z0-9][a-z0-9'& -]+)")),
    ("age", re.compile(r"\bi(?: am|'m) (\d{1,3}) (?:years old|yo)\b")),
    ("birthday", re.compile(r"\bmy birthday is (?:on )?([a-z0-9 ]+)")),
    ("job", re.compile(r"\bi(?: am|'m) an? ([a-z]+(?: [a-z]+)?) by (?:profession|trade)")),
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _content(text: str) -> set[str]:
    cleaned = _NEGATIONS.sub(" ", text.lower())
    return {w for w in _words(cleaned) if w not in _STOP}


def _slots(text: str) -> dict[str, str]:
    lowered = " ".join(text.lower().replace("’", "'").split())
    found: dict[str, str] = {}
    for name, pattern in _SLOTS:
        for match in pattern.finditer(lowered):
            groups = match.groups()
            key, value = (name.format(groups[0]), groups[1]) if len(groups) == 2 else (name, groups[0])
            words = []
            for word in _words(value):
                if word in _VALUE_ENDS:
                    break
                if word not in _FILLERS:
                    words.append(word)
            if words:
                found[key] = " ".join(words[:2])
    return found


def _same_value(first: str, second: str) -> bool:
    """Values agree when one starts with the other word for word ("berlin" / "berlin city")."""
    a, b = first.split(), second.split()
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer[: len(shorter)] == shorter


def _preferences(text: str) -> dict[str, int]:
    words = _words(text.replace("’", "'"))
    found: dict[str, int] = {}
    for index, word in enumerate(words):
        polarity = 1 if word in _LIKE else -1 if word in _DISLIKE else 0
        if polarity == 0:
            continue
        negated = index > 0 and (words[index - 1] in {"not", "don't", "dont", "never", "doesn't"})
        target = [w for w in words[index + 1 : index + 4] if w not in _STOP]
        if target:
            found[target[0]] = -polarity if negated else polarity
    return found


@dataclass(frozen=True, slots=True)
class Statement:
    """What the local rules read from one memory (parsed once, compared with many)."""

    slots: dict[str, str]
    preferences: dict[str, int]
    negated: bool
    content: frozenset[str]


def parse_statement(text: str) -> Statement:
    """Slots, preferences, negation and content words of one memory."""
    return Statement(_slots(text), _preferences(text), bool(_NEGATIONS.search(text.lower())), frozenset(_content(text)))


def local_contradiction(first: str, second: str) -> Contradiction | None:
    """Offline contradiction check between two texts (see :func:`contradiction_between`)."""
    return contradiction_between(parse_statement(first), parse_statement(second))


def contradiction_between(first: Statement, second: Statement) -> Contradiction | None:
    """Offline contradiction check between two (already very similar) memories. Three rules, first match wins.

    1. *slot*: both state the same slot ("my dog's name is ...", "my favourite colour is ...", "I live in ...",
       "I work at ...", "I am N years old", "my birthday is ...") with different values -> factual contradiction.
    2. *preference*: one likes and the other dislikes the same thing ("I love jazz" / "I hate jazz").
    3. *negation*: exactly one of the two is negated and, negations aside, they share >= 60 % of their content
       words ("I eat meat" / "I don't eat meat").
    """
    slots_a, slots_b = first.slots, second.slots
    for slot in sorted(slots_a.keys() & slots_b.keys()):
        if not _same_value(slots_a[slot], slots_b[slot]):
            return Contradiction(
                ConflictType.FACTUAL, f"{slot}: {slots_a[slot]!r} vs {slots_b[slot]!r}", confidence=0.8, rule="slot"
            )
    prefs_a, prefs_b = first.preferences, second.preferences
    for thing in sorted(prefs_a.keys() & prefs_b.keys()):
        if prefs_a[thing] != prefs_b[thing]:
            return Contradiction(
                ConflictType.PREFERENCE, f"likes and dislikes {thing!r}", confidence=0.75, rule="preference"
            )
    if first.negated != second.negated:
        words_a, words_b = first.content, second.content
        union = words_a | words_b
        if union and len(words_a & words_b) / len(union) >= 0.6:
            return Contradiction(
                ConflictType.FACTUAL, "one statement negates the other", confidence=0.7, rule="negation"
            )
    return None


# -- conflict strategies ---------------------------------------------------------------------------------------
class Strategy(StrEnum):
    """The seed's resolution methods."""

    TEMPORAL_PRECEDENCE = "temporal_precedence"
    CONFIDENCE_BASED = "confidence_based"
    USER_CLARIFICATION = "user_clarification"


@dataclass(frozen=True, slots=True)
class MemoryFacts:
    """What a strategy needs to know about one side of a conflict."""

    id: str
    importance: int
    created_at: float


@dataclass(frozen=True, slots=True)
class Resolution:
    """A strategy's decision: the importance to set on the losing memory (``None`` for clarification)."""

    strategy: Strategy
    loser_id: str | None
    before: int | None
    after: int | None


def choose_strategy(first: MemoryFacts, second: MemoryFacts, confidence: float) -> Strategy:
    """Which strategy settles a contradiction.

    - found with confidence < 0.6, or stated at (nearly) the same time with the same importance: ask the user;
    - stated >= 1 day apart: *temporal precedence* (people change: the newer statement is taken to supersede);
    - otherwise (same day, different importance): *confidence based*.
    """
    if confidence < CLARIFY_BELOW_CONFIDENCE:
        return Strategy.USER_CLARIFICATION
    if abs(first.created_at - second.created_at) >= TEMPORAL_GAP_SECONDS:
        return Strategy.TEMPORAL_PRECEDENCE
    if importance_fraction(first.importance) != importance_fraction(second.importance):
        return Strategy.CONFIDENCE_BASED
    return Strategy.USER_CLARIFICATION


def resolve(first: MemoryFacts, second: MemoryFacts, strategy: Strategy) -> Resolution:
    """Apply ``strategy``: temporal precedence lowers the older memory × 0.7, confidence based the weaker × 0.5."""
    if strategy is Strategy.TEMPORAL_PRECEDENCE:
        loser = first if first.created_at <= second.created_at else second
        return Resolution(
            strategy, loser.id, loser.importance, scale_importance(loser.importance, TEMPORAL_PRECEDENCE_FACTOR)
        )
    if strategy is Strategy.CONFIDENCE_BASED:
        loser = second if importance_fraction(first.importance) > importance_fraction(second.importance) else first
        return Resolution(
            strategy, loser.id, loser.importance, scale_importance(loser.importance, CONFIDENCE_BASED_FACTOR)
        )
    return Resolution(strategy, None, None, None)


# -- forgetting ------------------------------------------------------------------------------------------------
def stability_days(importance: float, recall_count: int) -> float:
    """S = 7 d × (1 + 4 × importance) × 2^recalls: important and recalled memories fade more slowly."""
    return (
        BASE_STABILITY_DAYS
        * (1.0 + IMPORTANCE_STABILITY * importance_fraction(importance))
        * 2.0 ** min(recall_count, 20)
    )


def retention(*, importance: float, recall_count: int, reinforced_at: float, now: float) -> float:
    """R = exp(−t / S) with t the days since the memory was stored or last recalled."""
    days = max(0.0, now - reinforced_at) / _DAY
    return math.exp(-days / stability_days(importance, recall_count))


def is_faded(*, retention_value: float, importance: float, recall_count: int) -> bool:
    """A memory fades (gets archived) when R < 0.05, importance is below medium, and it was never recalled."""
    return (
        retention_value < ARCHIVE_BELOW_RETENTION
        and importance_fraction(importance) < ARCHIVE_BELOW_IMPORTANCE
        and recall_count == 0
    )
