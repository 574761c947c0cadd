"""Association rules (design seed 000): which messages count, how strongly memories relate, what to do about it.

Pure functions: no I/O, so every number of the seed is a unit test.

Decision, for a message whose emotional intensity is above ``EMOTIONAL_SIGNAL_THRESHOLD`` (30):

- relations are the related memories scored above ``MIN_RELATION_STRENGTH`` (20), strongest first;
- (the threshold and the neutral rule are those of ``tools.detection``, which detected the message)
- the *strong match* is the strongest related **semantic** memory scoring above ``STRONG_MATCH_STRENGTH`` (60)
  (episodic memories are the transcript of what was said: they are related to, never rewritten);
- importance > ``NEW_MEMORY_IMPORTANCE`` (500) and no strong match  -> **new memory**, related to the top 5;
- a strong match                                                      -> **new version** of it, related to the top 3;
- otherwise, if any relation                                          -> **weak relations** to the top 3;
- otherwise nothing is written (``no_action``).

Offline relation strength (no chat model, or its per-minute budget spent), 0-100::

    strength = 100 * (0.70 * s + 0.15 * same_category + 0.15 * same_emotion)
    s        = clip((cosine_similarity - 0.25) / 0.50, 0, 1)

so unrelated texts (cosine <= 0.25) score 0 whatever their labels, near-paraphrases (cosine >= 0.75) score 70
plus 15 for each label they share, and a same-topic message sharing category and emotion passes 60 from
cosine ~0.47.

A new version is written by ``nodes.association``: with a chat model, the merge of the memory and the message (the
seed's merge prompt); without one, the message itself is the version (the memory's history records it, its text
stays): no sentence is invented, and none is stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tools.detection import EMOTIONAL_SIGNAL_THRESHOLD

NEW_MEMORY_IMPORTANCE = 500
STRONG_MATCH_STRENGTH = 60.0
MIN_RELATION_STRENGTH = 20.0
NEW_MEMORY_RELATIONS = 5
VERSION_RELATIONS = 3
WEAK_RELATIONS = 3
#: How many nearest memories are scored for each message.
RELATED_CANDIDATES = 10

SIMILARITY_FLOOR = 0.25
SIMILARITY_SPAN = 0.50
SIMILARITY_WEIGHT = 0.70
CATEGORY_WEIGHT = 0.15
EMOTION_WEIGHT = 0.15


class Decision(StrEnum):
    """The branch association takes for one message."""

    NEW_MEMORY = "new_memory"
    NEW_VERSION = "new_version"
    WEAK_RELATIONS = "weak_relations"
    NO_ACTION = "no_action"


@dataclass(frozen=True, slots=True)
class ScoredRelation:
    """A related memory with its relation strength (0-100) and the reason."""

    memory_id: str
    strength: float
    reason: str
    semantic: bool


def importance_points(value: float) -> int:
    """Importance on the 100-900 scale; records written before scoring existed carry a 0-1 fraction."""
    return int(round(value * 1000)) if value <= 1.0 else int(round(value))


def is_emotional_signal(intensity: int, emotion: str) -> bool:
    """Whether a stored message is worth associating: intensity > 30 and not neutral (``Detection`` rule)."""
    return intensity > EMOTIONAL_SIGNAL_THRESHOLD and emotion != "neutral"


def local_strength(similarity: float, *, same_category: bool, same_emotion: bool) -> float:
    """The offline relation strength, 0-100 (see the module docstring)."""
    scaled = min(1.0, max(0.0, (similarity - SIMILARITY_FLOOR) / SIMILARITY_SPAN))
    if scaled == 0.0:
        return 0.0
    score = SIMILARITY_WEIGHT * scaled + CATEGORY_WEIGHT * same_category + EMOTION_WEIGHT * same_emotion
    return round(100.0 * score, 1)


def local_reason(similarity: float, *, category: str, emotion: str) -> str:
    """Why two memories are related, in words, from what the offline score used."""
    parts = [f"similar content (cosine {similarity:.2f})"]
    if category:
        parts.append(f"same category '{category}'")
    if emotion:
        parts.append(f"same emotion '{emotion}'")
    return ", ".join(parts)


def decide(importance: int, relations: list[ScoredRelation]) -> tuple[Decision, str | None, list[ScoredRelation]]:
    """Apply the seed's rules: (decision, memory to version or ``None``, relations to write).

    ``relations`` must be sorted strongest first and already filtered to those above the minimum strength.
    """
    strong = next((r for r in relations if r.semantic and r.strength > STRONG_MATCH_STRENGTH), None)
    if strong is None and importance > NEW_MEMORY_IMPORTANCE:
        return Decision.NEW_MEMORY, None, relations[:NEW_MEMORY_RELATIONS]
    if strong is not None:
        others = [r for r in relations if r.memory_id != strong.memory_id][:VERSION_RELATIONS]
        return Decision.NEW_VERSION, strong.memory_id, others
    if relations:
        return Decision.WEAK_RELATIONS, None, relations[:WEAK_RELATIONS]
    return Decision.NO_ACTION, None, []
