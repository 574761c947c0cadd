"""Unit tests for tools.retrieval: MMR selection on small hand-made vectors."""

import math

import numpy as np
import pytest

from tools.retrieval import (
    IMPORTANCE_WEIGHT,
    MAX_CANDIDATES,
    MMR_LAMBDA,
    RECENCY_WEIGHT,
    SIMILARITY_THRESHOLD,
    Candidate,
    candidate_count,
    mmr_select,
    recency_score,
)

QUERY = np.array([1.0, 0.0, 0.0], dtype=np.float32)


def cand(
    cid: str,
    vec: list[float],
    *,
    sim: float | None = None,
    importance: float = 0.0,
    recency: float = 0.0,
    dtype: type = np.float64,
) -> Candidate:
    """Candidate whose reported similarity is its cosine to QUERY unless given.

    float64 by default so hand-computed scores hold to 1e-9 (float32 rounds 0.96 at ~1e-8).
    """
    emb = np.array(vec, dtype=dtype)
    if sim is None:
        sim = float(np.dot(emb, QUERY) / np.linalg.norm(emb))
    return Candidate(id=cid, text=cid, embedding=emb, similarity=sim, importance=importance, recency=recency)


# Unit vectors in the x-y plane. Relevance = x. Pairwise cosines (checked by hand):
#   A·A' = 0.96*0.936 + 0.28*0.352 = 0.99712   (near-duplicates)
#   A·B  = 0.96*0.8   - 0.28*0.6   = 0.6
#   A'·B = 0.936*0.8  - 0.352*0.6  = 0.5376
A = [0.96, 0.28, 0.0]
A_DUP = [0.936, 0.352, 0.0]
B = [0.8, -0.6, 0.0]


def ids(selection: list) -> list[str]:
    return [s.candidate.id for s in selection]


def test_constants_match_design() -> None:
    assert MMR_LAMBDA == 0.7
    assert SIMILARITY_THRESHOLD == 0.3
    assert IMPORTANCE_WEIGHT == 0.1
    assert RECENCY_WEIGHT == 0.05
    assert MAX_CANDIDATES == 50


def test_diversity_picks_different_memory_over_near_duplicate() -> None:
    candidates = [cand("A", A), cand("A'", A_DUP), cand("B", B)]
    by_similarity = sorted(candidates, key=lambda c: c.similarity, reverse=True)
    assert [c.id for c in by_similarity[:2]] == ["A", "A'"]

    # Round 2: A' = 0.7*0.936 - 0.3*0.99712 = 0.356064; B = 0.7*0.8 - 0.3*0.6 = 0.38 -> B.
    assert ids(mmr_select(QUERY, candidates, 2)) == ["A", "B"]


def test_lambda_one_ignores_diversity() -> None:
    candidates = [cand("A", A), cand("A'", A_DUP), cand("B", B)]
    assert ids(mmr_select(QUERY, candidates, 2, lambda_=1.0)) == ["A", "A'"]


def test_hand_computed_scores_for_each_round() -> None:
    candidates = [cand("A", A), cand("A'", A_DUP), cand("B", B, importance=0.5, recency=0.4)]
    first, second, third = mmr_select(QUERY, candidates, 3)

    # Round 1 (nothing selected, no redundancy term): A = 0.7*0.96 = 0.672; B = 0.7*0.8 + 0.05 + 0.02 = 0.63.
    assert first.candidate.id == "A"
    assert first.rank == 0
    assert first.score == pytest.approx(0.672, abs=1e-9)
    # Round 2: B = 0.7*0.8 - 0.3*0.6 + 0.1*0.5 + 0.05*0.4 = 0.56 - 0.18 + 0.05 + 0.02 = 0.45.
    assert second.candidate.id == "B"
    assert second.rank == 1
    assert second.score == pytest.approx(0.45, abs=1e-9)
    # Round 3: A' redundancy = max(0.99712, 0.5376) -> 0.7*0.936 - 0.3*0.99712 = 0.356064.
    assert third.candidate.id == "A'"
    assert third.rank == 2
    assert third.score == pytest.approx(0.356064, abs=1e-9)


def test_threshold_drops_candidates_below_it() -> None:
    candidates = [
        cand("kept", [1.0, 0.0, 0.0], sim=0.5),
        cand("boundary", [0.0, 1.0, 0.0], sim=0.3),
        cand("dropped", [0.0, 0.0, 1.0], sim=0.29, importance=1.0, recency=1.0),
    ]
    assert ids(mmr_select(QUERY, candidates, 3)) == ["kept", "boundary"]
    assert ids(mmr_select(QUERY, candidates, 3, threshold=0.0)) == ["dropped", "kept", "boundary"]


def test_all_below_threshold_returns_empty() -> None:
    assert mmr_select(QUERY, [cand("low", [0.1, 1.0, 0.0], sim=0.1)], 3) == []


def test_empty_candidates_returns_empty() -> None:
    assert mmr_select(QUERY, [], 5) == []


def test_importance_boost_reorders_near_tie() -> None:
    # Orthogonal, so no redundancy. Without boosts: x = 0.7*0.80 = 0.560 > y = 0.7*0.79 = 0.553.
    plain = [cand("x", [1.0, 0.0, 0.0], sim=0.80), cand("y", [0.0, 1.0, 0.0], sim=0.79)]
    assert ids(mmr_select(QUERY, plain, 2)) == ["x", "y"]
    # With importance 0.2 on y: y = 0.553 + 0.1*0.2 = 0.573 > 0.560.
    boosted = [plain[0], cand("y", [0.0, 1.0, 0.0], sim=0.79, importance=0.2)]
    first = mmr_select(QUERY, boosted, 1)[0]
    assert first.candidate.id == "y"
    assert first.score == pytest.approx(0.573, abs=1e-9)


def test_recency_boost_reorders_near_tie() -> None:
    # y = 0.7*0.79 + 0.05*0.2 = 0.563 > x = 0.560.
    candidates = [cand("x", [1.0, 0.0, 0.0], sim=0.80), cand("y", [0.0, 1.0, 0.0], sim=0.79, recency=0.2)]
    selection = mmr_select(QUERY, candidates, 2)
    assert ids(selection) == ["y", "x"]
    assert selection[0].score == pytest.approx(0.563, abs=1e-9)


def test_k_larger_than_candidates_returns_all() -> None:
    candidates = [cand("A", A), cand("A'", A_DUP), cand("B", B)]
    selection = mmr_select(QUERY, candidates, 10)
    assert sorted(ids(selection)) == ["A", "A'", "B"]
    assert [s.rank for s in selection] == [0, 1, 2]


def test_relevance_is_the_store_reported_similarity() -> None:
    # The embeddings say "x" is closer to the query, but the store's reported similarity wins.
    candidates = [cand("x", [1.0, 0.0, 0.0], sim=0.4), cand("y", [0.0, 1.0, 0.0], sim=0.9)]
    assert ids(mmr_select(QUERY, candidates, 1)) == ["y"]


def test_unnormalised_embeddings_are_normalised() -> None:
    # float32 rows, as the embedder produces, scaled away from unit length.
    scaled = [
        cand("A", [3 * v for v in A], dtype=np.float32),
        cand("A'", [0.5 * v for v in A_DUP], dtype=np.float32),
        cand("B", [7 * v for v in B], dtype=np.float32),
    ]
    selection = mmr_select(QUERY, scaled, 3)
    assert ids(selection) == ["A", "B", "A'"]
    assert selection[1].score == pytest.approx(0.38, abs=1e-6)


def test_zero_vector_has_zero_similarity() -> None:
    candidates = [cand("x", [1.0, 0.0, 0.0], sim=0.9), cand("zero", [0.0, 0.0, 0.0], sim=0.5)]
    selection = mmr_select(QUERY, candidates, 2)
    assert ids(selection) == ["x", "zero"]
    assert selection[1].score == pytest.approx(0.7 * 0.5, abs=1e-9)


def test_candidate_count() -> None:
    assert candidate_count(1) == 5
    assert candidate_count(5) == 25
    assert candidate_count(10) == 50
    assert candidate_count(11) == 50
    assert candidate_count(20) == 50


def test_recency_score_curve() -> None:
    day = 86_400.0
    assert recency_score(0) == 1.0
    assert recency_score(-5 * day) == 1.0
    assert recency_score(30 * day) == pytest.approx(0.5, abs=1e-12)
    assert recency_score(60 * day) == pytest.approx(0.25, abs=1e-12)
    assert recency_score(7 * day, half_life_days=7.0) == pytest.approx(0.5, abs=1e-12)
    assert 0.0 < recency_score(365 * day) < recency_score(1 * day) < 1.0


@pytest.mark.parametrize("k", [0, -1])
def test_candidate_count_rejects_k_below_one(k: int) -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        candidate_count(k)


@pytest.mark.parametrize("half_life", [0.0, -1.0, math.inf, math.nan])
def test_recency_score_rejects_bad_half_life(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        recency_score(10.0, half_life_days=half_life)


def test_recency_score_rejects_nan_age() -> None:
    with pytest.raises(ValueError, match="age_seconds"):
        recency_score(math.nan)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be >= 1"),
        ({"k": 2, "lambda_": 1.5}, "lambda_"),
        ({"k": 2, "lambda_": -0.1}, "lambda_"),
        ({"k": 2, "lambda_": math.nan}, "lambda_"),
        ({"k": 2, "threshold": 1.5}, "threshold"),
    ],
)
def test_mmr_select_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mmr_select(QUERY, [cand("A", A)], **kwargs)


def test_mmr_select_rejects_dimension_mismatch() -> None:
    with pytest.raises(ValueError, match="does not match query dimension"):
        mmr_select(QUERY, [cand("A", A), Candidate(id="bad", text="", embedding=np.ones(4), similarity=0.9)], 2)


def test_mmr_select_rejects_non_vector_query() -> None:
    with pytest.raises(ValueError, match="1-D"):
        mmr_select(QUERY.reshape(1, 3), [cand("A", A)], 1)


@pytest.mark.parametrize("field", ["importance", "recency"])
def test_mmr_select_rejects_boosts_out_of_range(field: str) -> None:
    bad = cand("A", A, **{field: 1.5})
    with pytest.raises(ValueError, match=field):
        mmr_select(QUERY, [bad], 1)


def said(cid: str, vec: list[float], text: str, **metadata: object) -> Candidate:
    """A candidate as the store returns it: with its text and metadata (utterance, versions, time)."""
    base = cand(cid, vec)
    return Candidate(
        id=cid, text=text, embedding=base.embedding, similarity=base.similarity, metadata={"utterance": "", **metadata}
    )


def test_a_question_counts_half_so_the_fact_ranks_first() -> None:
    question = said("q", [1.0, 0.0, 0.0], "what is my PIN?", utterance="question")  # similarity 1.0
    fact = said("f", A, "My PIN is 4321.", utterance="statement")  # similarity 0.96
    assert ids(mmr_select(QUERY, [question, fact], 2)) == ["f", "q"]  # 0.7 x 1.0 x 0.5 < 0.7 x 0.96


def test_an_insight_is_not_chatter_and_counts_in_full() -> None:
    insight = said("i", [1.0, 0.0, 0.0], "I noticed that your mood was improving.", utterance="observation")
    fact = said("f", A, "My PIN is 4321.", utterance="statement")
    assert ids(mmr_select(QUERY, [insight, fact], 2)) == ["i", "f"]  # 0.7 x 1.0 > 0.7 x 0.96: no halving


def test_a_memory_stored_before_labels_is_classified_from_its_text() -> None:
    question = said("q", [1.0, 0.0, 0.0], "what is my PIN?")
    fact = said("f", A, "My PIN is 4321.")
    assert ids(mmr_select(QUERY, [question, fact], 1)) == ["f"]


def test_a_newer_version_inherits_the_relevance_of_what_it_superseded_and_ranks_first() -> None:
    old = said("old", A, "I work at Acme.", superseded_by="new", created_at=1.0)  # 0.96
    new = said("new", B, "I got a new job at Globex.", supersedes="old", created_at=2.0)  # 0.8 alone
    selection = mmr_select(QUERY, [old, new], 2)
    assert ids(selection) == ["new", "old"]
    assert selection[0].score == pytest.approx(MMR_LAMBDA * 0.96)


def test_a_candidate_barely_similar_to_the_query_gets_no_neighbour_lift() -> None:
    question = said("q", [1.0, 0.0, 0.0], "what did you research", conversation_id="c", created_at=0.0)
    answer = said("a", [0.18, 0.98, 0.0], "adoption agencies", conversation_id="c", created_at=10.0)
    selection = mmr_select(QUERY, [question, answer], 2, threshold=0.0)
    lifted = next(s for s in selection if s.candidate.id == "a")
    assert lifted.score < MMR_LAMBDA * 0.5  # without the floor it would carry half of the question's relevance
