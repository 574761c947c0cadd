"""The conversation-neighbour term of MMR relevance (tools.retrieval.neighbour_relevance), on hand-made cases."""

import numpy as np
import pytest

from tools.retrieval import NEIGHBOUR_SECONDS, NEIGHBOUR_WEIGHT, Candidate, mmr_select, neighbour_relevance

QUERY = np.array([1.0, 0.0, 0.0])


def said(cid: str, vec: list[float], sim: float, conversation: str = "c1", at: float = 0.0) -> Candidate:
    return Candidate(
        id=cid,
        text=cid,
        embedding=np.array(vec),
        similarity=sim,
        metadata={"conversation_id": conversation, "created_at": at},
    )


def test_each_candidate_gets_the_best_relevance_of_the_turns_said_next_to_it() -> None:
    # said in the order second, first, third (times 10, 0, 20): first-second-third are consecutive
    candidates = [
        said("second", [1, 0, 0], 0.0, at=10),
        said("first", [1, 0, 0], 0.0, at=0),
        said("third", [1, 0, 0], 0.0, at=20),
    ]
    relevance = np.array([0.1, 0.9, 0.2])  # second 0.1, first 0.9, third 0.2
    # first: its one neighbour is second (0.1); second: first (0.9) and third (0.2); third: second (0.1)
    assert neighbour_relevance(candidates, relevance).tolist() == [0.9, 0.1, 0.1]


def test_no_neighbour_across_conversations_past_the_gap_without_a_conversation_or_with_negative_relevance() -> None:
    candidates = [
        said("a", [1, 0, 0], 0.0, conversation="c1", at=0),
        said("b", [1, 0, 0], 0.0, conversation="c2", at=1),  # another conversation
        said("c", [1, 0, 0], 0.0, conversation="c1", at=NEIGHBOUR_SECONDS + 1),  # a's next, but too late
        said("d", [1, 0, 0], 0.0, conversation="", at=2),  # no conversation
        said("e", [1, 0, 0], 0.0, conversation="c3", at=0),
        said("f", [1, 0, 0], 0.0, conversation="c3", at=5),  # e's neighbour, with negative relevance
    ]
    relevance = np.array([0.8, 0.8, 0.8, 0.8, 0.5, -0.4])
    assert neighbour_relevance(candidates, relevance).tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 0.5]


def test_the_answer_next_to_the_matching_question_is_selected_over_an_unrelated_nearer_memory() -> None:
    question = said("question", [1.0, 0.0, 0.0], 0.8, at=100)  # "what did you research?"
    answer = said("answer", [0.0, 1.0, 0.0], 0.2, at=101)  # "adoption agencies": worded unlike the query
    unrelated = said("unrelated", [0.0, 0.0, 1.0], 0.4, conversation="c9", at=500)
    # answer: 0.2 + 0.5 * 0.8 = 0.6 > unrelated 0.4 (nothing else is similar, so MMR's redundancy term is 0)
    assert NEIGHBOUR_WEIGHT == 0.5
    picked = mmr_select(QUERY, [question, unrelated, answer], 2)
    assert [s.candidate.id for s in picked] == ["question", "answer"]
    # without the term the answer is below the similarity threshold and dropped
    plain = mmr_select(QUERY, [question, unrelated, answer], 2, neighbour_weight=0.0)
    assert [s.candidate.id for s in plain] == ["question", "unrelated"]


def test_a_neighbour_weight_outside_zero_to_one_is_refused() -> None:
    for weight in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="neighbour_weight"):
            mmr_select(QUERY, [said("a", [1, 0, 0], 0.9)], 1, neighbour_weight=weight)
