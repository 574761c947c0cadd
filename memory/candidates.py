"""What the long-term store hands to retrieval: a candidate memory, its recency, and the words of a text.

They live here, below the store, because the store builds candidates (``LongTermStore.search``) and the lexical
index tokenises as retrieval does (``memory/lexical.py``); the selection itself (MMR) is ``tools/retrieval.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lexical index (and the commands that only open it) needs no NumPy
    import numpy.typing as npt

__all__ = ["Candidate", "query_words", "recency_score", "words"]

_WORD = re.compile(r"[^\W_]+")
#: Function words carry no topic; questions are full of them ("what did ... do when ...").
_STOP_WORDS = frozenset(
    "a an the of to in on at for and or but is are was were be been being do does did doing what when where who whom"
    " which why how i you he she it we they me him her us them my your his its our their this that these those with"
    " from by as about into than then so if not no yes have has had can could would should will just any some there"
    " here up out over after before again also too very".split()
)

_SECONDS_PER_DAY = 86_400.0


def words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic: lower-cased letters and digits, minus function words."""
    return [word for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS]


def query_words(text: str) -> list[str]:
    """The content words of ``text``: lower-cased letters and digits, minus function words, each once, in order."""
    return list(dict.fromkeys(words(text)))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory returned by the store, before selection.

    Attributes:
        id: The memory's id in the store.
        text: The memory's text.
        embedding: The memory's embedding, shape ``(dim,)``.
        similarity: Cosine similarity to the query, as the store reported it.
        importance: Importance in [0, 1].
        recency: Recency in [0, 1] (see :func:`recency_score`).
        metadata: Any other fields the store returned.
    """

    id: str
    text: str
    embedding: npt.NDArray[Any]
    similarity: float
    importance: float = 0.0
    recency: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)


def recency_score(age_seconds: float, *, half_life_days: float = 30.0) -> float:
    """Map a memory's age to a recency in (0, 1] by exponential decay.

    ``recency = 0.5 ** (age_days / half_life_days)``: 1.0 for a brand-new memory, 0.5 after one half-life,
    0.25 after two, and so on. A negative age (clock skew, a timestamp in the future) counts as brand new and
    gives 1.0. Mathematically the value never reaches 0; in floating point it underflows to 0.0 only after
    more than a thousand half-lives.

    Raises:
        ValueError: If ``half_life_days`` is not a positive finite number or ``age_seconds`` is NaN.
    """
    if not (math.isfinite(half_life_days) and half_life_days > 0):
        raise ValueError(f"half_life_days must be a positive finite number, got {half_life_days}")
    if math.isnan(age_seconds):
        raise ValueError("age_seconds must not be NaN")
    if age_seconds <= 0:
        return 1.0
    age_days = age_seconds / _SECONDS_PER_DAY
    return float(0.5 ** (age_days / half_life_days))
