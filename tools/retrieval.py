"""Maximal Marginal Relevance (MMR) selection of retrieved memories.

The long-term store returns up to :func:`candidate_count` candidates ranked by cosine similarity to the query.
:func:`mmr_select` then picks ``k`` of them that are both relevant and different from each other, with small
boosts for important and recent memories. Everything here is pure numpy: no I/O, no clients.

Score of candidate ``d`` in a selection round, given the already selected set ``S``::

    own(d)   = sim(q, d) + LEXICAL_WEIGHT · lexical(q, d)
    rel(d)   = own(d) + NEIGHBOUR_WEIGHT · max(0, own(n)) for the best conversation neighbour n of d
               (no neighbour term when sim(q, d) < NEIGHBOUR_MIN_SIMILARITY); then, if d superseded a
               memory o in the pool, rel(d) = max(rel(d), rel(o))
    score(d) = λ · rel(d) · (CHATTER_FACTOR if d is not a statement else 1) − (1 − λ) · max_{s ∈ S} sim(d, s)
               + IMPORTANCE_WEIGHT · importance(d) + RECENCY_WEIGHT · recency(d)
               − SUPERSEDED_WEIGHT · [d was superseded]

* ``sim(q, d)`` is the relevance the store reported (:attr:`Candidate.similarity`); it is not recomputed
  against the query, so ranking agrees with the store's own distance function. The query vector is only used
  to check that the embedding dimensions match.
* ``lexical(q, d)`` (only when the query text is given) is BM25 of the query's words in the candidate's text,
  computed over the candidate pool and scaled so the best candidate has 1 (:func:`lexical_scores`). A small
  embedding model under-weights names and rare words ("Caroline", "pottery", "Miso"); the lexical term puts
  them back. Measured on LoCoMo (bench/README.md): evidence recall@10 0.454 -> see the README table.
* A candidate's conversation neighbours are the candidates said just before and just after it in the same
  conversation (``conversation_id``), at most :data:`NEIGHBOUR_SECONDS` apart (:func:`neighbour_relevance`).
  An answer is often worded unlike the question it answers: "what did you research?" / "adoption agencies".
  The turn that shares the question's words lifts the turn next to it. Measured on LoCoMo (bench/README.md).
* ``sim(d, s)`` is the cosine similarity of the candidate embeddings, computed once as an ``n × n`` matrix.
  Embeddings are normalised defensively; a zero vector has similarity 0 to everything.
* In the first round ``S`` is empty and the redundancy term is 0, so the first pick is the candidate with the
  highest ``λ · relevance + boosts``. The boosts are applied in every round, the first included.
* Candidates whose relevance ``rel(d)`` (neighbour term included) is below the threshold are dropped before
  selection.
* ``d is not a statement`` for a question, a request or small talk (``metadata["utterance"]``, else the
  text classified by ``tools.utterance``; 0 for a candidate whose metadata has no such key, one not read from the
  store): what the user asked is kept and searchable, but what they told ranks
  first. ``[d was superseded]`` is 1 for a memory a newer one updated (``metadata["superseded_by"]``,
  ``tools.updates``): the newest value of a fact ranks above the old one.
* Ties are broken by input order (the store's ranking): :func:`numpy.argmax` returns the first maximum.
"""

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memory.candidates import Candidate, query_words, recency_score, words
from tools.utterance import is_chatter

__all__ = [
    "CHATTER_FACTOR",
    "NEIGHBOUR_MIN_SIMILARITY",
    "SUPERSEDED_WEIGHT",
    "IMPORTANCE_WEIGHT",
    "LEXICAL_WEIGHT",
    "MAX_CANDIDATES",
    "MMR_LAMBDA",
    "NEIGHBOUR_SECONDS",
    "NEIGHBOUR_WEIGHT",
    "RECENCY_WEIGHT",
    "SIMILARITY_THRESHOLD",
    "Candidate",
    "Selected",
    "candidate_count",
    "lexical_scores",
    "mmr_select",
    "neighbour_relevance",
    "query_words",
    "recency_score",
]

MMR_LAMBDA = 0.7
"""Trade-off between relevance (1.0) and diversity (0.0)."""

SIMILARITY_THRESHOLD = 0.3
"""Candidates whose reported similarity to the query is below this are dropped."""

IMPORTANCE_WEIGHT = 0.1
"""Weight of a memory's importance (in [0, 1]) in the final score."""

RECENCY_WEIGHT = 0.05
"""Weight of a memory's recency (in [0, 1]) in the final score."""

CHATTER_FACTOR = 0.5
"""Factor on the relevance of a memory that is not a statement (a question, a request, small talk: ``tools.utterance``).

"What is my PIN?" asked last week is nearer the question "what is my PIN?" (similarity 1.0, every word shared) than
the fact "My PIN is 4321" (0.73); halving its relevance puts the fact first without dropping the question from the
searchable log (the threshold is applied before the factor). A subtracted constant (0.15, then 0.4) left such exact
repeats on top in the recall eval."""

SUPERSEDED_WEIGHT = 0.3
"""Penalty of a memory a newer one updated (``superseded_by`` set): the newest value of a fact ranks first."""

LEXICAL_WEIGHT = 0.5
"""Weight of the lexical (BM25 over the candidate pool, in [0, 1]) match in a candidate's relevance.

0.5 (was 0.2) was chosen on a dev split of LoCoMo (conversations conv-26 and conv-30 only; bench/README.md): with
a 300-candidate pool evidence recall@10 0.620 -> 0.632 and MRR 0.380 -> 0.431 (0.3 and 0.8 scored lower); with the
default pool recall@10 stays at 0.54 and MRR rises. The other eight conversations are the test split."""

NEIGHBOUR_WEIGHT = 0.5
"""Weight of the best conversation neighbour's relevance (:func:`neighbour_relevance`) in a candidate's relevance.

Chosen on the LoCoMo dev split (conv-26 and conv-30; bench/README.md). With a 300-candidate pool, evidence
recall@10 went from 0.671 to 0.754 in a simulation of this selection; 0.3 and 0.7 scored within 0.01, 1.0 lower."""

NEIGHBOUR_MIN_SIMILARITY = 0.2
"""A candidate less similar than this to the query gets no neighbour term (0: every candidate may get it)."""

NEIGHBOUR_SECONDS = 1800.0
"""Two memories of one conversation said at most this far apart (and with no candidate between them) are
neighbours: the same exchange, not the same conversation a day later."""

CANDIDATES_PER_SELECTED = 5
"""Candidates fetched from the store per memory selected: the lexical term can only lift what is in the pool."""

MAX_CANDIDATES = 50
"""Upper bound on the number of candidates fetched from the store."""

_BM25_K1 = 1.2
_BM25_B = 0.75


def candidate_count(k: int) -> int:
    """Return how many candidates to fetch from the store to select ``k``: ``min(5k, MAX_CANDIDATES)``.

    Raises:
        ValueError: If ``k`` is smaller than 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return min(CANDIDATES_PER_SELECTED * k, MAX_CANDIDATES)


def lexical_scores(query: str, texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """BM25 (k1 = 1.2, b = 0.75) of ``query``'s words in each of ``texts``, scaled so the best is 1 (0 if none match).

    Document frequencies come from ``texts`` themselves (the candidate pool), so a word that every candidate
    shares counts for little and a rare one for much. Words are lower-cased letters and digits, minus function words.
    """
    terms = set(words(query))
    scores = np.zeros(len(texts), dtype=np.float64)
    if not texts or not terms:
        return scores
    documents = [Counter(words(text)) for text in texts]
    lengths = [sum(doc.values()) for doc in documents]
    average = sum(lengths) / len(documents) or 1.0
    count = len(documents)
    for term in terms:
        frequency = sum(1 for doc in documents if term in doc)
        if not frequency:
            continue
        idf = math.log(1.0 + (count - frequency + 0.5) / (frequency + 0.5))
        for index, doc in enumerate(documents):
            tf = doc.get(term, 0)
            if tf:
                norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * lengths[index] / average)
                scores[index] += idf * tf * (_BM25_K1 + 1) / (tf + norm)
    best = scores.max()
    return scores / best if best > 0 else scores


def neighbour_relevance(
    candidates: Sequence["Candidate"], relevance: npt.NDArray[np.float64], *, max_gap: float = NEIGHBOUR_SECONDS
) -> npt.NDArray[np.float64]:
    """For each candidate, the highest relevance (at least 0) of its conversation neighbours among ``candidates``.

    The candidates of one conversation (``metadata["conversation_id"]``, non-empty) are put in the order they were
    said (``metadata["created_at"]``); two consecutive ones at most ``max_gap`` seconds apart are neighbours.
    A candidate with no neighbour gets 0. ``relevance`` is the candidates' own relevance, in the same order.
    """
    result = np.zeros(len(candidates), dtype=np.float64)
    said: list[tuple[str, float, int]] = []
    for index, candidate in enumerate(candidates):
        conversation = str(candidate.metadata.get("conversation_id") or "")
        if conversation:
            said.append((conversation, float(candidate.metadata.get("created_at") or 0.0), index))
    said.sort()
    positive = np.maximum(relevance, 0.0)
    for (conversation, at, index), (next_conversation, next_at, next_index) in itertools.pairwise(said):
        if conversation == next_conversation and next_at - at <= max_gap:
            result[index] = max(result[index], positive[next_index])
            result[next_index] = max(result[next_index], positive[index])
    return result


@dataclass(frozen=True, slots=True)
class Selected:
    """A candidate chosen by :func:`mmr_select`.

    Attributes:
        candidate: The chosen candidate.
        score: Its MMR score, boosts included, in the round it was picked.
        rank: 0-based position in the selection.
    """

    candidate: Candidate
    score: float
    rank: int


def mmr_select(
    query: npt.NDArray[Any],
    candidates: Sequence[Candidate],
    k: int,
    *,
    lambda_: float = MMR_LAMBDA,
    threshold: float = SIMILARITY_THRESHOLD,
    query_text: str | None = None,
    neighbour_weight: float = NEIGHBOUR_WEIGHT,
) -> list[Selected]:
    """Select up to ``k`` candidates by Maximal Marginal Relevance with importance and recency boosts.

    See the module docstring for the score. Candidates whose relevance (similarity, plus the lexical term when
    ``query_text`` is given) is below ``threshold`` are dropped first; if fewer than ``k`` remain, all of them are
    returned (in MMR order).

    Args:
        query: The query embedding, shape ``(dim,)``; used to check the candidates' dimensions.
        candidates: Candidates from the store, usually ranked by similarity.
        k: How many to select, at least 1.
        lambda_: Relevance/diversity trade-off in [0, 1]; 1.0 ignores diversity.
        threshold: Minimum relevance to the query, in [-1, 1].
        query_text: The query's text, for the lexical term; ``None`` ranks by embeddings alone.
        neighbour_weight: Weight of the conversation-neighbour term; 0 turns it off.

    Returns:
        The selected candidates in pick order, with their scores and 0-based ranks.

    Raises:
        ValueError: If ``k < 1``, ``lambda_``, ``threshold`` or ``neighbour_weight`` is out of range, the query
            is not a finite 1-D vector, a candidate's embedding does not match the query's dimension or is not
            finite, or a candidate's similarity, importance or recency is out of range.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must be in [0, 1], got {lambda_}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [-1, 1], got {threshold}")
    if not 0.0 <= neighbour_weight <= 1.0:
        raise ValueError(f"neighbour_weight must be in [0, 1], got {neighbour_weight}")
    q = np.asarray(query)
    if q.ndim != 1 or q.shape[0] == 0:
        raise ValueError(f"query must be a non-empty 1-D vector, got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("query contains non-finite values")
    dim = q.shape[0]
    for cand in candidates:
        _validate_candidate(cand, dim)

    relevance_all = np.array([c.similarity for c in candidates], dtype=np.float64)
    if query_text is not None and candidates:
        relevance_all += LEXICAL_WEIGHT * lexical_scores(query_text, [c.text for c in candidates])
    if neighbour_weight and candidates:
        lift = neighbour_relevance(candidates, relevance_all)
        if NEIGHBOUR_MIN_SIMILARITY > 0:
            lift[np.array([c.similarity for c in candidates]) < NEIGHBOUR_MIN_SIMILARITY] = 0.0
        relevance_all += neighbour_weight * lift
    if candidates:
        relevance_all = _inherit_relevance(candidates, relevance_all)
    keep = relevance_all >= threshold
    kept = [c for c, ok in zip(candidates, keep, strict=True) if ok]
    if not kept:
        return []

    embeddings = np.stack([np.asarray(c.embedding, dtype=np.float64) for c in kept])
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = np.divide(embeddings, norms, out=np.zeros_like(embeddings), where=norms > 0)
    pairwise = np.clip(unit @ unit.T, -1.0, 1.0)

    relevance = relevance_all[keep] * np.array([_chatter_factor(c) for c in kept], dtype=np.float64)
    boosts = np.array([_boost(c) for c in kept], dtype=np.float64)
    base = lambda_ * relevance + boosts
    redundancy = np.zeros(len(kept), dtype=np.float64)  # max sim to the selected set; 0 while it is empty
    available = np.ones(len(kept), dtype=bool)

    selected: list[Selected] = []
    for rank in range(min(k, len(kept))):
        scores = np.where(available, base - (1.0 - lambda_) * redundancy, -np.inf)
        best = int(np.argmax(scores))
        selected.append(Selected(candidate=kept[best], score=float(scores[best]), rank=rank))
        available[best] = False
        redundancy = pairwise[best] if rank == 0 else np.maximum(redundancy, pairwise[best])
    return selected


def _inherit_relevance(candidates: Sequence[Candidate], relevance: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each newer version gets at least the relevance of the memory it superseded (oldest first, so chains pass it on).

    "I work at Acme" shares the word "work" with "where do I work?"; "I got a new job at Globex", which updated it,
    shares none. The newer value answers what the older one answered, so it is at least as relevant.
    """
    index = {candidate.id: position for position, candidate in enumerate(candidates)}
    result = relevance.copy()
    order = sorted(range(len(candidates)), key=lambda i: float(candidates[i].metadata.get("created_at") or 0.0))
    for position in order:
        newer = candidates[position].metadata.get("superseded_by")
        if newer and newer in index:
            result[index[newer]] = max(result[index[newer]], result[position])
    return result


def _chatter_factor(candidate: Candidate) -> float:
    """``CHATTER_FACTOR`` for a question, a request or small talk, else 1 (module docstring).

    A reflection insight (``observation``) is not chatter: it is what the companion noticed, recalled like a fact.
    """
    if "utterance" in candidate.metadata and is_chatter(candidate.metadata["utterance"], candidate.text):
        return CHATTER_FACTOR
    return 1.0


def _boost(candidate: Candidate) -> float:
    """Importance and recency boosts, minus the superseded penalty (module docstring)."""
    boost = IMPORTANCE_WEIGHT * candidate.importance + RECENCY_WEIGHT * candidate.recency
    if candidate.metadata.get("superseded_by"):
        boost -= SUPERSEDED_WEIGHT
    return boost


def _validate_candidate(cand: Candidate, dim: int) -> None:
    """Raise ValueError if a candidate's embedding or scores cannot be used."""
    emb = np.asarray(cand.embedding)
    if emb.shape != (dim,):
        raise ValueError(f"candidate {cand.id!r}: embedding shape {emb.shape} does not match query dimension ({dim},)")
    if not np.all(np.isfinite(emb)):
        raise ValueError(f"candidate {cand.id!r}: embedding contains non-finite values")
    if not -1.0 - 1e-6 <= cand.similarity <= 1.0 + 1e-6:
        raise ValueError(f"candidate {cand.id!r}: similarity must be in [-1, 1], got {cand.similarity}")
    if not 0.0 <= cand.importance <= 1.0:
        raise ValueError(f"candidate {cand.id!r}: importance must be in [0, 1], got {cand.importance}")
    if not 0.0 <= cand.recency <= 1.0:
        raise ValueError(f"candidate {cand.id!r}: recency must be in [0, 1], got {cand.recency}")
