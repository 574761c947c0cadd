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

Offline merge (``merge_texts``): the existing text without the sentences the new message updates (the same subject
with another value, ``tools.updates.detect_update``: the version history keeps them), then each sentence of the new
message that the memory does not already contain (compared case- and whitespace-insensitively), joined with a
space; at most
``MAX_MERGED_CHARS`` characters, keeping the newest sentences when the memory would grow past that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tools.detection import EMOTIONAL_SIGNAL_THRESHOLD
from tools.updates import detect_update

NEW_MEMORY_IMPORTANCE = 500
STRONG_MATCH_STRENGTH = 60.0
MIN_RELATION_STRENGTH = 20.0
NEW_MEMORY_RELATIONS = 5
VERSION_RELATIONS = 3
WEAK_RELATIONS = 3
#: How many nearest memories are scored for each message.
RELATED_CANDIDATES = 10
MAX_MERGED_CHARS = 4000

SIMILARITY_FLOOR = 0.25
SIMILARITY_SPAN = 0.50
SIMILARITY_WEIGHT = 0.70
CATEGORY_WEIGHT = 0.15
EMOTION_WEIGHT = 0.15

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SPACES = re.compile(r"\s+")


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


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def _normalised(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def merge_texts(existing: str, new_info: str, *, max_chars: int = MAX_MERGED_CHARS) -> str:
    """The offline merge of new information into a memory (see the module docstring)."""
    known = _normalised(existing)
    added = [sentence for sentence in _sentences(new_info) if _normalised(sentence) not in known]
    # The newest truth: a sentence the new information updates (same subject, another value: "I work at X" then
    # "I now work at Y") leaves the merged text; the version history keeps it.
    current = [old for old in _sentences(existing) if not any(detect_update(new, old, 1.0) for new in added)]
    merged = " ".join([*current, *added]).strip()
    if len(merged) <= max_chars:
        return merged
    kept: list[str] = []
    for sentence in reversed(_sentences(merged)):
        if len(" ".join([sentence, *kept])) > max_chars:
            break
        kept.insert(0, sentence)
    return " ".join(kept) if kept else merged[-max_chars:]
