"""Recall: embed a text, fetch MMR candidates of one user from long-term memory, select ``k`` with MMR.

The candidates are hybrid: the nearest memories by embedding, plus (when the store has a lexical index) the
memories that best match the text's words over all of the user's memories (``LongTermStore.lexical_search``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import normalised_content
from tools.retrieval import Candidate, Selected, candidate_count, mmr_select

MAX_LEXICAL_CANDIDATES = 100
"""Upper bound on the memories the lexical index adds to the pool (by default as many as the nearest ones)."""


@dataclass(frozen=True, slots=True)
class Recall:
    """What a recall found, with the query vector (reused to store the message) and stage timings."""

    query_embedding: np.ndarray
    selected: list[Selected]
    embed_ms: float
    search_ms: float
    #: Candidates ``keep`` turned away (most similar first), so a caller can tell what it held back.
    excluded: list[Candidate] = field(default_factory=list)
    #: The whole candidate pool (nearest and lexical, before ``keep`` and MMR): the memories a new message about
    #: the same subject would update (``tools.updates``) are among them, so the write needs no search of its own.
    pool: list[Candidate] = field(default_factory=list)


def distinct_texts(candidates: Sequence[Candidate]) -> list[Candidate]:
    """``candidates`` without those whose content an earlier one already has.

    Content as ``memory.records.normalised_content`` reads it: mentions, case, spacing and final dots aside.
    """
    seen: set[str] = set()
    kept = []
    for candidate in candidates:
        key = normalised_content(candidate.text) or candidate.id
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


def recall(
    long_term: LongTermStore,
    embedder: Embedder,
    user_id: str,
    text: str,
    k: int,
    *,
    candidates: int = 0,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
    lexical_candidates: int | None = None,
    query: np.ndarray | None = None,
) -> Recall:
    """The ``k`` most relevant, mutually diverse memories of ``user_id`` for ``text``.

    ``candidates`` is how many nearest memories MMR chooses from (at least ``k``); 0 means
    ``candidate_count(k)`` (5 per memory, at most 50). A larger pool lets the lexical term lift memories the
    embedding ranks low (LoCoMo, 300 candidates: recall@10 0.677 -> 0.690 with the lexical candidates, 0.524 ->
    0.613 without) and costs time per call (2.8x; bench/README.md).
    A candidate with the same content as a nearer one is dropped before selection: a message said again in another
    turn ("good night!", "Good night") would take two places and skew the lexical term's word statistics.
    ``keep`` (a test on a candidate's metadata, e.g. a sensitivity or tag filter) drops candidates before MMR.
    The newer version of a superseded memory in the pool (``superseded_by``, ``tools.updates``) is added to it, so
    MMR can rank the newest value where the old one would have been.
    ``lexical_candidates`` is how many best word matches the store's lexical index adds to the pool (those not
    already in it); ``None`` means as many as the nearest memories fetched, at most ``MAX_LEXICAL_CANDIDATES``,
    and 0 none. On LoCoMo they lift recall@10 of the default pool close to that of a 300-candidate pool
    (bench/README.md). ``query``: the text's embedding when the caller has it already (then ``embed_ms`` is 0).
    """
    started = time.perf_counter()
    if query is None:
        query = embedder.embed([text])[0]
    embedded = time.perf_counter()
    nearest = max(candidates, k) if candidates > 0 else candidate_count(k)
    pool = long_term.search(user_id, query, nearest)
    lexical = min(nearest, MAX_LEXICAL_CANDIDATES) if lexical_candidates is None else lexical_candidates
    if lexical > 0:
        pool += long_term.lexical_search(user_id, text, query, lexical, exclude=[c.id for c in pool])
    # The newer versions of superseded memories in the pool join it: they answer what the older value answered.
    present = {candidate.id for candidate in pool}
    newer = [str(c.metadata.get("superseded_by")) for c in pool if c.metadata.get("superseded_by")]
    missing = [memory_id for memory_id in dict.fromkeys(newer) if memory_id not in present]
    if missing:
        pool += long_term.candidates_by_id(user_id, missing, query)
    searched = list(pool)
    excluded: list[Candidate] = []
    if keep is not None:
        kept: list[Candidate] = []
        for candidate in pool:
            (kept if keep(candidate.metadata) else excluded).append(candidate)
        excluded.sort(key=lambda candidate: -candidate.similarity)
        pool = kept
    selected = mmr_select(query, distinct_texts(pool), k, query_text=text)
    finished = time.perf_counter()
    return Recall(
        query_embedding=query,
        selected=selected,
        embed_ms=round((embedded - started) * 1000.0, 3),
        search_ms=round((finished - embedded) * 1000.0, 3),
        excluded=excluded,
        pool=searched,
    )
