"""Reading the user's answer to a clarification question with the local rules (``tools/clarification.py``)."""

import pytest

from memory.clarifications import Clarification
from tools.clarification import choose_for_turn, interpret_answer, question_to_ask


@pytest.mark.parametrize(
    ("answer", "older", "newer", "expected"),
    [
        # distinct words, and slot values such as a city
        ("Paris, I moved back last spring.", "I live in Berlin", "I live in Paris", "newer"),
        ("No, definitely Berlin.", "I live in Berlin", "I live in Paris", "older"),
        ("Not Berlin any more, that was years ago.", "I live in Berlin", "I live in Paris", "newer"),
        ("Rex, of course!", "My dog's name is Rex", "My dog's name is Max", "older"),
        # likes and dislikes
        ("I love it, I really do love jazz.", "I love jazz", "I hate jazz", "older"),
        ("Honestly I don't like jazz at all.", "I love jazz", "I hate jazz", "newer"),
        # a statement and its negation
        ("I don't eat meat any more.", "I eat meat", "I don't eat meat", "newer"),
        ("Yes, I eat meat.", "I eat meat", "I don't eat meat", "older"),
        # the order of the question
        ("The second one.", "I love jazz", "I hate jazz", "newer"),
        ("the first one is right", "I love jazz", "I hate jazz", "older"),
    ],
)
def test_an_answer_that_picks_a_side_is_read_as_that_side(answer: str, older: str, newer: str, expected: str) -> None:
    assert interpret_answer(answer, older, newer) == expected


@pytest.mark.parametrize(
    "answer",
    ["Both, kind of.", "Neither really.", "Hmm, it depends on the day.", "", "Why do you ask?"],
)
def test_an_answer_that_picks_no_side_is_unclear(answer: str) -> None:
    assert interpret_answer(answer, "I love jazz", "I hate jazz") is None


def test_an_answer_naming_both_values_is_left_to_the_chat_model() -> None:
    answer = "It's Rex, Max was my old dog's name."  # right for a reader, a tie for word counts
    assert interpret_answer(answer, "My dog's name is Rex", "My dog's name is Max") is None


def item(conflict_id: str, queued_at: float, asked_at: float | None = None) -> Clarification:
    return Clarification(conflict_id, f"question {conflict_id}?", ["a", "b"], ["A", "B"], queued_at, asked_at)


def test_a_turn_answers_the_question_asked_else_asks_the_oldest_queued_one() -> None:
    assert choose_for_turn([]) is None
    ask = choose_for_turn([item("c2", 20.0), item("c1", 10.0)][::-1])
    assert ask is not None and ask["mode"] == "ask" and ask["conflict_id"] == "c1"
    assert question_to_ask({"clarification": ask}) == "question c1?"
    answer = choose_for_turn([item("c1", 10.0), item("c2", 20.0, asked_at=30.0)])
    assert answer is not None and answer["mode"] == "answer" and answer["conflict_id"] == "c2"
    assert question_to_ask({"clarification": answer}) is None  # an answer turn asks nothing
    assert question_to_ask({"clarification": None}) is None
