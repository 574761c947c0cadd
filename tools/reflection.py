"""Pure logic of nightly reflection.

Clustering, the gist of a cluster, contradiction checks, conflict strategies and the forgetting curve. No I/O:
nodes load memories, call these, and write the results through the stores.

Consolidation (design seed 003, ``consolidate_episodic_to_semantic``)
    Episodic memories not yet consolidated are clustered greedily, in age order: the oldest unclustered memory
    takes every other unclustered memory whose cosine similarity *to it* is >= 0.7. Clusters of >= 3 (at most
    20 per consolidation, the seed's ``max_memories_per_consolidation``) become one semantic memory whose
    importance is the cluster's mean × 1.3 (the seed's reflection boost), capped at 900 (importance uses the
    seed's 100-900 scale; the fractions below are importance / 1000). With a chat model that memory is its
    one-sentence summary (id :func:`summary_id`); without one there is no new sentence to write, and the
    cluster's most central memory (:func:`most_central`) becomes the semantic one, so no memory repeats another's
    words.

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

Patterns, mood trend and changes (design seed 003, ``detect_conversation_patterns`` /
``analyze_emotional_trends`` / ``generate_user_insights``)
    What the companion noticed about the user over the last 7 local days (the seed's analysis period), compared
    with the 7 before: *recurring topics* (a topic tag or key term on >= 3 different days, the seed's "patterns
    appear 3+ times"), the *mood trend* (the least-squares slope of the daily mean mood of the user's messages,
    from their stored emotion and intensity: improving or worsening when the fitted change from the first to the
    last day with messages is at least 0.2, else steady) and *changes* (a topic on >= 2 days this week and never
    the week before, one on >= 2 days the week before and gone, facts superseded this week). Nothing is said
    with fewer than 5 messages in the week (the seed's ``min_memories_for_insight``). :func:`analyse` computes
    the findings, :func:`insight_texts` words them as the companion's own observations.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from typing_extensions import TypedDict

from memory.records import IMPORTANCE_SCALE, MAX_IMPORTANCE, MIN_IMPORTANCE
from tools.sensitivity import NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS

CONSOLIDATION_SIMILARITY = 0.7
MIN_CLUSTER_SIZE = 3
MAX_CLUSTER_SIZE = 20
CONSOLIDATION_BOOST = 1.3
SUMMARY_ID_PREFIX = "sem-"

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


def most_central(vectors: npt.ArrayLike) -> int:
    """Index of a cluster's most central memory: the highest mean cosine similarity to the cluster (first on ties)."""
    unit = normalise(vectors)
    return int(np.argmax((unit @ unit.T).mean(axis=1)))


def summary_id(source_ids: Iterable[str]) -> str:
    """The fixed id of the summary of a cluster: a second run over the same sources rewrites the same memory."""
    return SUMMARY_ID_PREFIX + hashlib.sha256(",".join(sorted(source_ids)).encode()).hexdigest()[:32]


def is_summary(memory_id: str) -> bool:
    """Whether ``memory_id`` names a chat model's summary of a cluster (reflection's words, not the user's)."""
    return memory_id.startswith(SUMMARY_ID_PREFIX)


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


# -- patterns, mood trend, changes: what reflection noticed (insights) -----------------------------------------
#: The analysis period: the seed's ``analyze_behavioral_changes`` looks at the last 7 days.
WINDOW_DAYS = 7
#: Fewer messages than this in the period say too little to notice anything (the seed's ``min_memories_for_insight``).
MIN_MESSAGES_FOR_INSIGHT = 5
#: A topic is recurring when it comes up on at least this many different days (the seed's "patterns 3+ times").
RECURRING_MIN_DAYS = 3
#: Recurring topics named in an insight, most days first.
MAX_TOPICS = 5
#: A mood trend needs this many days with messages: two points always make a line.
MIN_TREND_DAYS = 3
#: The fitted change of the daily mean mood (-1..1) from the first to the last day that counts as a trend: a tenth
#: of the scale, so a week of "a bit down" to "a bit better" counts and day-to-day noise around one level does not.
TREND_CHANGE = 0.2
#: A topic is new (or gone) when it came up on at least this many days of one week and never in the other: one
#: mention is chance, two days is a subject.
CHANGE_MIN_DAYS = 2
#: New topics, gone topics and updated facts named in an insight, each.
MAX_CHANGES = 3
#: Longest quote of an updated fact in an insight (characters).
MAX_QUOTE_CHARS = 80
#: The kinds of insight, one memory each per user and day at most.
INSIGHT_KINDS: tuple[str, ...] = ("topics", "mood", "changes")
#: The category of an insight memory (its utterance label is ``observation``: the companion's, not the user's).
INSIGHT_CATEGORY = "insight"
#: An insight's importance: medium, the level of an ordinary message (it summarises many; none of them stands out).
INSIGHT_IMPORTANCE = 500
#: A message without a perceived emotion (imported, or stored before perception) counts by its sentiment.
SENTIMENT_MOOD: dict[str, float] = {"positive": 0.5, "negative": -0.5, "mixed": 0.0, "neutral": 0.0}

_TERM = re.compile(r"[^\W\d_][^\W_]*(?:['\u2019][^\W\d_]+)?")
#: Words that carry no topic: function words, everyday verbs and adverbs, time words, feelings (the mood trend
#: reads those from the perceived emotion) and small talk. Key terms are what is left: names, things, activities.
_NO_TOPIC = frozenset(
    """
    a an the of to in on at for and or but nor is are was were be been being am do does did doing done what when where
    who whom whose which why how i you he she it we they me him her us them my mine your yours his its our ours their
    theirs this that these those with without from by as about into onto than then so if not no yes have has had having
    can could would should will shall may might must just any some all every each both either neither there here up
    down out over under after before again also too very really quite still even only ever never always often
    sometimes maybe perhaps much many more most less least lot lots little few bit something anything nothing
    everything someone anyone everyone nobody thing things stuff way kind sort get gets got getting go goes going
    went gone come comes came coming make makes made making take takes took taken taking say says said saying tell
    told know knows knew known think thinks thought want wants wanted need needs needed like likes liked love loves
    loved feel feels felt feeling feelings see saw seen look looks looked seem seems seemed try tried trying let
    keep kept put use used give gave find found call called ask asked work's today tonight yesterday tomorrow
    morning afternoon evening night day days week weeks weekend month months year years time times now later soon
    early late ago last next first since until while during once twice again already yet well good great nice fine
    bad better best worse worst okay ok yeah yep nope sure right really actually basically literally probably
    definitely totally pretty kinda sorta gonna wanna gotta happy sad glad upset angry mad scared afraid worried
    anxious nervous excited tired stressed calm lonely proud hope hoping hoped wish guess mean means meant one two
    three new old big small long other another same different own back away off around through again able
    talk talks talked talking chat chatted hour hours minute minutes second seconds
    because though although however anyway also hey hello thanks thank please sorry lol haha wow oh ugh hmm
    """.split()
)


def local_days(last: date, days: int = WINDOW_DAYS) -> tuple[date, date]:
    """The first and last day of the ``days`` local days ending with ``last`` (both included)."""
    return last - timedelta(days=days - 1), last


def insight_id(user_id: str, day: date, kind: str) -> str:
    """The fixed id of a user's insight of one kind on one local day: a second run that day rewrites it."""
    digest = hashlib.sha256(f"{user_id}|{day.isoformat()}|{kind}".encode()).hexdigest()[:32]
    return f"ins-{kind}-{digest}"


def insight_kind(memory_id: str) -> str:
    """The kind an insight id names ("" for any other id)."""
    parts = memory_id.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == "ins" and parts[1] in INSIGHT_KINDS else ""


@dataclass(frozen=True, slots=True)
class Observed:
    """What the analysis reads of one user message (nodes build these from stored memories)."""

    id: str
    day: date
    text: str
    tags: tuple[str, ...] = ()
    emotion: str = ""
    intensity: int = 0
    sentiment: str = "neutral"


def mood_value(emotion: str, intensity: int, sentiment: str = "neutral") -> float:
    """The mood a message shows, -1 (very negative) to 1: a felt emotion's intensity with its sign.

    Happiness, excitement and love count positive, sadness, anxiety, panic, anger and fear negative, neutral 0
    (``tools.sensitivity``'s split). A message with no perceived emotion counts by its sentiment (±0.5).
    """
    strength = min(100, max(0, int(intensity))) / 100.0
    if emotion in POSITIVE_EMOTIONS:
        return strength
    if emotion in NEGATIVE_EMOTIONS:
        return -strength
    if emotion:
        return 0.0
    return SENTIMENT_MOOD.get(sentiment, 0.0)


def key_terms(text: str) -> dict[str, str]:
    """The words of ``text`` that may name a topic (>= 3 letters, possessives dropped, no filler), each as shown.

    Keyed lower-cased; shown lower-cased too unless written with a capital inside a sentence (a name: "Noor"),
    since a capital at the start of a sentence says nothing.
    """
    found: dict[str, str] = {}
    for match in _TERM.finditer(text):
        written = re.sub(r"['\u2019]s$", "", match.group())
        word = written.lower()
        if len(word) < 3 or "'" in word or "\u2019" in word or word in _NO_TOPIC:
            continue
        shown = written if written[0].isupper() and not _opens_sentence(text, match.start()) else word
        if found.get(word, word) == word:  # a name, once seen, stays a name
            found[word] = shown
    return found


def _opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` is the first of a sentence (nothing, or a sentence end, before it)."""
    index = start - 1
    while index >= 0 and text[index] in " \t\"'(\u201c\u2018":
        index -= 1
    return index < 0 or text[index] in ".!?\n:;"


def topics_of(message: Observed) -> dict[str, tuple[str, str]]:
    """The topics of one message: key -> (``tag`` or ``term``, name as shown); its topic tags win a tie."""
    topics = {key: ("term", shown) for key, shown in key_terms(message.text).items()}
    topics.update({tag: ("tag", tag) for tag in message.tags})
    return topics


class TopicData(TypedDict):
    """:meth:`Topic.to_dict`."""

    topic: str
    kind: str
    days: int
    mentions: int
    first_day: str  # ISO date
    last_day: str


class DayMoodData(TypedDict):
    """:meth:`DayMood.to_dict`."""

    day: str
    messages: int
    mood: float
    emotion: str


class MoodTrendData(TypedDict):
    """:meth:`MoodTrend.to_dict`."""

    direction: str
    slope_per_day: float
    change: float
    mean: float
    days: list[DayMoodData]


class UpdateData(TypedDict):
    """:meth:`Update.to_dict`."""

    old_id: str
    new_id: str
    old_text: str
    new_text: str
    day: str


class ChangesData(TypedDict):
    """:meth:`Changes.to_dict`."""

    new_topics: list[TopicData]
    gone_topics: list[TopicData]
    updated_facts: list[UpdateData]


class PeriodData(TypedDict):
    """The days a reflection run analysed."""

    first_day: str
    last_day: str


class FindingsData(TypedDict):
    """:meth:`Findings.to_dict`: what a run noticed, with its numbers (the insights report's ``findings``)."""

    day: str
    period: PeriodData
    messages: int
    days_with_messages: int
    excluded: dict[str, int]
    recurring_topics: list[TopicData]
    mood: MoodTrendData | None
    changes: ChangesData


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic and when it came up."""

    name: str
    kind: str  # "tag" or "term"
    days: int
    mentions: int
    first_day: date
    last_day: date
    source_ids: tuple[str, ...]

    def to_dict(self) -> TopicData:
        """A JSON-able dict (no source ids: the report says what, the log keeps provenance)."""
        fields = {k: v for k, v in asdict(self).items() if k not in ("name", "source_ids")}
        return cast(TopicData, {"topic": self.name, **_with_iso_dates(fields)})


def _with_iso_dates(fields: dict[str, Any]) -> dict[str, Any]:
    """A dataclass's fields (from ``asdict``) with its dates as ISO strings, for JSON."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


def topic_counts(messages: Iterable[Observed]) -> dict[str, Topic]:
    """Every topic of ``messages`` (by key) with the number of different days and of messages it came up in."""
    days: dict[str, set[date]] = {}
    ids: dict[str, list[str]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for message in messages:
        for key, (kind, shown) in topics_of(message).items():
            days.setdefault(key, set()).add(message.day)
            ids.setdefault(key, []).append(message.id)
            known = kinds.get(key)
            if known is None or kind == "tag" or (known[0] == "term" and known[1] == key and shown != key):
                kinds[key] = (kind, shown)
    return {
        key: Topic(kinds[key][1], kinds[key][0], len(seen), len(ids[key]), min(seen), max(seen), tuple(ids[key]))
        for key, seen in days.items()
    }


def _by_weight(topics: Iterable[Topic]) -> list[Topic]:
    # Most days first, then most mentions, then tags (broader) before terms, then by name: a stable order.
    return sorted(topics, key=lambda t: (-t.days, -t.mentions, t.kind != "tag", t.name))


def recurring_topics(
    messages: Sequence[Observed], *, min_days: int = RECURRING_MIN_DAYS, limit: int = MAX_TOPICS
) -> list[Topic]:
    """Topics that came up on at least ``min_days`` different days, most days first (at most ``limit``)."""
    return _by_weight(t for t in topic_counts(messages).values() if t.days >= min_days)[:limit]


@dataclass(frozen=True, slots=True)
class DayMood:
    """The mood of one day's messages."""

    day: date
    messages: int
    mood: float  # the mean of mood_value over the day's messages
    emotion: str  # the emotion felt most often that day ("" when none but neutral)

    def to_dict(self) -> DayMoodData:
        """A JSON-able dict."""
        return {
            "day": self.day.isoformat(),
            "messages": self.messages,
            "mood": _rounded(self.mood),
            "emotion": self.emotion,
        }


@dataclass(frozen=True, slots=True)
class MoodTrend:
    """The direction of the daily mood over the period, with its numbers."""

    direction: str  # "improving", "worsening" or "steady"
    days: tuple[DayMood, ...]
    slope: float  # change of the fitted daily mean per day
    change: float  # fitted change from the first to the last day with messages
    mean: float  # mean of the daily means

    def to_dict(self) -> MoodTrendData:
        """A JSON-able dict."""
        return {
            "direction": self.direction,
            "slope_per_day": _rounded(self.slope),
            "change": _rounded(self.change),
            "mean": _rounded(self.mean),
            "days": [day.to_dict() for day in self.days],
        }


def daily_moods(messages: Iterable[Observed]) -> list[DayMood]:
    """The mean mood and the most felt emotion of each day with messages, oldest first."""
    by_day: dict[date, list[Observed]] = {}
    for message in messages:
        by_day.setdefault(message.day, []).append(message)
    moods = []
    for day in sorted(by_day):
        said = by_day[day]
        values = [mood_value(m.emotion, m.intensity, m.sentiment) for m in said]
        felt = Counter(m.emotion for m in said if m.emotion and m.emotion != "neutral")
        # most_common keeps first-seen order among ties: the day's earliest felt emotion wins a tie.
        moods.append(DayMood(day, len(said), sum(values) / len(values), felt.most_common(1)[0][0] if felt else ""))
    return moods


def mood_trend(
    messages: Sequence[Observed], *, min_days: int = MIN_TREND_DAYS, threshold: float = TREND_CHANGE
) -> MoodTrend | None:
    """The least-squares trend of the daily mean mood; ``None`` with fewer than ``min_days`` days with messages.

    Each day counts once whatever its number of messages, so one long evening does not outweigh a week. The fitted
    change (slope × days from the first to the last day with messages) decides: >= ``threshold`` improving,
    <= -``threshold`` worsening, else steady.
    """
    days = daily_moods(messages)
    if len(days) < min_days:
        return None
    x = np.array([(d.day - days[0].day).days for d in days], dtype=np.float64)
    y = np.array([d.mood for d in days], dtype=np.float64)
    spread = float(((x - x.mean()) ** 2).sum())
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / spread) if spread else 0.0
    change = slope * float(x[-1] - x[0])
    direction = "improving" if change >= threshold else "worsening" if change <= -threshold else "steady"
    return MoodTrend(direction, tuple(days), slope, change, float(y.mean()))


@dataclass(frozen=True, slots=True)
class Update:
    """A fact the user updated: the older statement and the newer one that superseded it."""

    old_id: str
    new_id: str
    old_text: str
    new_text: str
    day: date

    def to_dict(self) -> UpdateData:
        """A JSON-able dict."""
        return cast(UpdateData, _with_iso_dates(asdict(self)))


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed this period compared with the one before."""

    new_topics: tuple[Topic, ...] = ()
    gone_topics: tuple[Topic, ...] = ()
    updates: tuple[Update, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new_topics or self.gone_topics or self.updates)

    def to_dict(self) -> ChangesData:
        """A JSON-able dict."""
        return {
            "new_topics": [t.to_dict() for t in self.new_topics],
            "gone_topics": [t.to_dict() for t in self.gone_topics],
            "updated_facts": [u.to_dict() for u in self.updates],
        }


def changes_between(
    current: Sequence[Observed],
    previous: Sequence[Observed],
    updates: Sequence[Update] = (),
    *,
    min_days: int = CHANGE_MIN_DAYS,
    limit: int = MAX_CHANGES,
) -> Changes:
    """Topics new this period, topics gone since the one before, and the newest updated facts.

    A topic is *new* when it came up on >= ``min_days`` days now and never before; only said when there was a
    period before to compare with (for a new user, everything would be new). *Gone*: on >= ``min_days`` days
    before and never now (the user still talked, about other things).
    """
    now_topics, before_topics = topic_counts(current), topic_counts(previous)
    new = [t for name, t in now_topics.items() if t.days >= min_days and name not in before_topics] if previous else []
    gone = [t for name, t in before_topics.items() if t.days >= min_days and name not in now_topics] if current else []
    newest = sorted(updates, key=lambda u: (u.day, u.new_id), reverse=True)[:limit]
    return Changes(tuple(_by_weight(new)[:limit]), tuple(_by_weight(gone)[:limit]), tuple(newest))


@dataclass(frozen=True, slots=True)
class Findings:
    """Everything one reflection run noticed about a user, before it is worded."""

    day: date  # the run's local day: the last day of the period
    first_day: date
    messages: int  # messages of the period analysed
    days_with_messages: int
    topics: tuple[Topic, ...]
    mood: MoodTrend | None
    changes: Changes
    excluded: dict[str, int] = field(default_factory=dict)  # messages left out, by reason (never what they said)
    message_ids: tuple[str, ...] = ()

    @property
    def enough(self) -> bool:
        """Whether the period holds enough messages to notice anything."""
        return self.messages >= MIN_MESSAGES_FOR_INSIGHT

    def to_dict(self) -> FindingsData:
        """A JSON-able dict."""
        return {
            "day": self.day.isoformat(),
            "period": {"first_day": self.first_day.isoformat(), "last_day": self.day.isoformat()},
            "messages": self.messages,
            "days_with_messages": self.days_with_messages,
            "excluded": dict(self.excluded),
            "recurring_topics": [t.to_dict() for t in self.topics],
            "mood": None if self.mood is None else self.mood.to_dict(),
            "changes": self.changes.to_dict(),
        }


def analyse(
    current: Sequence[Observed],
    previous: Sequence[Observed],
    updates: Sequence[Update] = (),
    *,
    day: date,
    excluded: dict[str, int] | None = None,
) -> Findings:
    """Recurring topics, mood trend and changes of ``current`` (the period ending ``day``) against ``previous``."""
    first, _ = local_days(day)
    return Findings(
        day=day,
        first_day=first,
        messages=len(current),
        days_with_messages=len({m.day for m in current}),
        topics=tuple(recurring_topics(current)),
        mood=mood_trend(current),
        changes=changes_between(current, previous, updates),
        excluded=dict(excluded or {}),
        message_ids=tuple(m.id for m in current),
    )


def _signed(value: float) -> str:
    return f"{_rounded(value, 2):+.2f}"


def _rounded(value: float, digits: int = 3) -> float:
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0: "-0.00" reads as a negative mood


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    shown = flat if len(flat) <= MAX_QUOTE_CHARS else flat[: MAX_QUOTE_CHARS - 1].rstrip() + "\u2026"
    return f"\u201c{shown}\u201d"


def _topic_list(topics: Iterable[Topic]) -> str:
    return ", ".join(f"{t.name} ({t.days} day{'s' if t.days != 1 else ''})" for t in topics)


def _day_mood(day: DayMood) -> str:
    felt = f" (mostly {day.emotion})" if day.emotion else ""
    return f"{_signed(day.mood)} on {day.day.isoformat()}{felt}"


def insight_texts(findings: Findings) -> dict[str, str]:
    """Each insight there is something to say for, kind -> text, worded as the companion's own observation.

    First person and dated ("I noticed that over the 7 days to ..."), so a reader (the chat model, a person
    listing memories) never takes it for something the user said or for a lasting fact.
    """
    if not findings.enough:
        return {}
    period = f"over the {WINDOW_DAYS} days to {findings.day.isoformat()}"
    texts: dict[str, str] = {}
    if findings.topics:
        texts["topics"] = f"I noticed that {period} you kept coming back to {_topic_list(findings.topics)}."
    mood = findings.mood
    if mood is not None:
        first, last = mood.days[0], mood.days[-1]
        numbers = f"about {_signed(mood.slope)} a day over {len(mood.days)} days with messages"
        if mood.direction == "steady":
            texts["mood"] = (
                f"I noticed that {period} your mood when we talked was steady, around {_signed(mood.mean)} on a scale "
                f"from -1 to +1 ({numbers})."
            )
        else:
            texts["mood"] = (
                f"I noticed that {period} your mood when we talked was {mood.direction}, on a scale from -1 to +1: "
                f"from {_day_mood(first)} to {_day_mood(last)}, {numbers}."
            )
    changes = findings.changes
    if changes:
        parts = []
        if changes.new_topics:
            parts.append(f"new: {_topic_list(changes.new_topics)}")
        if changes.gone_topics:
            parts.append(f"no longer mentioned: {', '.join(t.name for t in changes.gone_topics)}")
        if changes.updates:
            updated = "; ".join(f"{_quote(u.old_text)} became {_quote(u.new_text)}" for u in changes.updates)
            parts.append(f"updated: {updated}")
        texts["changes"] = f"I noticed some changes {period} compared with the week before: {'; '.join(parts)}."
    return texts


def insight_sources(findings: Findings) -> dict[str, tuple[str, ...]]:
    """The ids of the messages each insight draws on: it is at least as sensitive as they are (provenance too).

    The mood insight draws on every message of the period: how someone felt is as private as what they said.
    """
    sources: dict[str, tuple[str, ...]] = {"mood": findings.message_ids}
    if findings.topics:
        sources["topics"] = tuple(dict.fromkeys(i for t in findings.topics for i in t.source_ids))
    changes = findings.changes
    sources["changes"] = tuple(
        dict.fromkeys(
            [
                *(i for t in (*changes.new_topics, *changes.gone_topics) for i in t.source_ids),
                *(i for u in changes.updates for i in (u.old_id, u.new_id)),
            ]
        )
    )
    return sources


def report_lines(findings: Findings) -> list[str]:
    """The run's report, one finding a line: what is shown without a chat model, and what a model rewords."""
    period = f"{findings.first_day.isoformat()} to {findings.day.isoformat()}"
    lines = [f"Period: {period}: {findings.messages} messages on {findings.days_with_messages} days."]
    left_out = ", ".join(f"{count} {reason}" for reason, count in sorted(findings.excluded.items()) if count)
    if left_out:
        lines.append(f"Left out (never summarised): {left_out}.")
    if not findings.enough:
        lines.append(f"Too little to notice anything: at least {MIN_MESSAGES_FOR_INSIGHT} messages are needed.")
        return lines
    lines.append(
        f"Recurring topics: {_topic_list(findings.topics)}."
        if findings.topics
        else f"Recurring topics: none on {RECURRING_MIN_DAYS} or more days."
    )
    mood = findings.mood
    if mood is None:
        lines.append(f"Mood trend: not enough days with messages ({MIN_TREND_DAYS} needed).")
    else:
        lines.append(
            f"Mood trend: {mood.direction} (daily mean: {', '.join(_day_mood(d) for d in mood.days)}; "
            f"slope {_signed(mood.slope)} a day, fitted change {_signed(mood.change)}, mean {_signed(mood.mean)})."
        )
    changes = findings.changes
    if not changes:
        lines.append("Changes: none.")
    else:
        if changes.new_topics:
            lines.append(f"New this week: {_topic_list(changes.new_topics)}.")
        if changes.gone_topics:
            lines.append(f"No longer mentioned: {_topic_list(changes.gone_topics)} the week before.")
        for update in changes.updates:
            lines.append(f"Updated fact: {_quote(update.old_text)} -> {_quote(update.new_text)}.")
    return lines
