"""The lexical term of retrieval: BM25 over the candidate pool, and how it enters MMR relevance."""

import math

import numpy as np
import pytest

from tools.retrieval import LEXICAL_WEIGHT, Candidate, lexical_scores, mmr_select

QUERY = np.array([1.0, 0.0], dtype=np.float64)


def cand(cid: str, text: str, sim: float) -> Candidate:
    angle = math.acos(sim)
    return Candidate(id=cid, text=text, embedding=np.array([math.cos(angle), math.sin(angle)]), similarity=sim)


def test_bm25_over_the_pool_scaled_to_the_best() -> None:
    scores = lexical_scores(
        "When did Caroline go to the pottery class?",
        [
            "Caroline: I signed up for a pottery class!",
            "Melanie: pottery is fun, and so is the class",
            "Melanie: I went hiking with the kids",
        ],
    )
    assert scores[0] == 1.0  # two query words, one of them (caroline) rare in the pool
    assert 0.0 < scores[1] < 1.0
    assert scores[2] == 0.0


def test_bm25_hand_computed() -> None:
    # N = 3, avg |d| = 5/3; both "cat" documents share idf, so the ratio is the tf parts:
    # "cat cat": 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 2 / (5/3))) = 4.4 / 3.38
    # "cat dog": 1 * 2.2 / (1 + 1.38) = 2.2 / 2.38
    scores = lexical_scores("cat", ["cat cat", "cat dog", "bird"])
    assert scores.tolist() == pytest.approx([1.0, (2.2 / 2.38) / (4.4 / 3.38), 0.0])


@pytest.mark.parametrize("query", ["what did you do when?", "", "?!"])
def test_function_words_alone_match_nothing(query: str) -> None:
    assert lexical_scores(query, ["what did you do", "when"]).tolist() == [0.0, 0.0]


def test_a_shared_name_lifts_an_otherwise_equal_candidate() -> None:
    candidates = [cand("a", "Melanie: I love the beach", 0.5), cand("b", "Caroline: I love the beach", 0.5)]
    assert [s.candidate.id for s in mmr_select(QUERY, candidates, 1)] == ["a"]  # tie: store order
    picked = mmr_select(QUERY, candidates, 1, query_text="Does Caroline like the beach?")
    assert picked[0].candidate.id == "b"
    assert picked[0].score == pytest.approx(0.7 * (0.5 + LEXICAL_WEIGHT * 1.0))


def test_threshold_applies_to_relevance_with_the_lexical_term() -> None:
    candidates = [cand("weak", "I watched a documentary about octopuses", 0.25)]
    assert mmr_select(QUERY, candidates, 1) == []
    assert [s.candidate.id for s in mmr_select(QUERY, candidates, 1, query_text="What documentary did I watch?")] == [
        "weak"
    ]
