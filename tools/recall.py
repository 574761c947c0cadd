"""Recall: embed a text, fetch MMR candidates of one user from long-term memory, select ``k`` with MMR."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from tools.retrieval import Candidate, Selected, candidate_count, mmr_select


@dataclass(frozen=True, slots=True)
class Recall:
    """What a recall found, with the query vector (reused to store the message) and stage timings."""

    query_embedding: np.ndarray
    selected: list[Selected]
    embed_ms: float
    search_ms: float
    #: Candidates ``keep`` turned away (most similar first), so a caller can tell what it held back.
    excluded: list[Candidate] = field(default_factory=list)


def recall(
    long_term: LongTermStore,
    embedder: Embedder,
    user_id: str,
    text: str,
    k: int,
    *,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Recall:
    """The ``k`` most relevant, mutually diverse memories of ``user_id`` for ``text``.

    ``keep`` (a test on a candidate's metadata, e.g. a sensitivity or tag filter) drops candidates before MMR.
    """
    started = time.perf_counter()
    query = embedder.embed([text])[0]
    embedded = time.perf_counter()
    candidates = long_term.search(user_id, query, candidate_count(k))
    excluded: list[Candidate] = []
    if keep is not None:
        kept: list[Candidate] = []
        for candidate in candidates:
            (kept if keep(candidate.metadata) else excluded).append(candidate)
        excluded.sort(key=lambda candidate: -candidate.similarity)
        candidates = kept
    selected = mmr_select(query, candidates, k, query_text=text)
    finished = time.perf_counter()
    return Recall(
        query_embedding=query,
        selected=selected,
        embed_ms=round((embedded - started) * 1000.0, 3),
        search_ms=round((finished - embedded) * 1000.0, 3),
        excluded=excluded,
    )
