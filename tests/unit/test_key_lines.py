"""Which lines carry a session's facts (``tools.key_lines``): the offline session summary."""

from __future__ import annotations

import json

import pytest

from tools.key_lines import FEATURES, KEY_LINES_PATH, ConversationLine, key_line_scores, key_lines, offline_summary


def user(text: str, importance: int = 300, intensity: int = 20) -> ConversationLine:
    return ConversationLine(text, True, importance, intensity)


def companion(text: str) -> ConversationLine:
    return ConversationLine(text, False)


TRIP = [
    user("Hey! Good to see you!", importance=100, intensity=60),
    companion("Hi! How have you been? Anything new?"),
    user("We just got back from two weeks in Lisbon with my sister, we rented a flat in Alfama.", importance=500),
    companion("Oh, lovely! What was the best part?"),
    user("The tram up to the castle at sunset, and my sister finally met her pen pal there."),
    companion("That sounds wonderful."),
    user("OMG it was SO amazing!!! Best. Week. Ever!!!", importance=700, intensity=95),
    user("lol yes", importance=100, intensity=40),
    user("Anyway, what are you up to this weekend?", importance=100),
]


def test_the_summary_keeps_the_lines_that_say_what_happened_not_the_loudest_or_the_greeting() -> None:
    chosen = key_lines(TRIP, 2)
    assert chosen == [2, 4]  # the destination and what they did, in the order they were said
    summary = offline_summary(TRIP, 2)
    assert "Lisbon" in summary and "castle" in summary
    assert "Hey" not in summary and "OMG" not in summary and "weekend" not in summary


def test_a_greeting_inside_a_kept_line_is_left_out_of_the_summary() -> None:
    lines = [
        user("Hey Mel! Good to see you! I went to a LGBTQ support group yesterday and it was so powerful."),
        companion("Wow, tell me more!"),
        user("lol"),
    ]
    assert offline_summary(lines, 1) == "I went to a LGBTQ support group yesterday and it was so powerful."


def test_a_session_with_fewer_user_lines_than_asked_keeps_them_all_and_one_without_any_is_empty() -> None:
    assert key_lines([user("I adopted a cat called Miso."), companion("Cute!")], 3) == [0]
    assert offline_summary([companion("Hello?")]) == ""


def test_answering_a_question_and_speaking_in_the_first_person_raise_a_lines_score() -> None:
    plain = [companion("Nice weather."), user("The museum opens at nine on Sundays.")]
    asked = [companion("When does it open?"), user("The museum opens at nine on Sundays.")]
    own = [companion("Nice weather."), user("My museum opens at nine on Sundays.")]
    (_, (base,)), (_, (answered,)), (_, (first_person,)) = map(key_line_scores, (plain, asked, own))
    assert answered > base and first_person > base


def test_the_card_matches_the_features_the_code_computes() -> None:
    card = json.loads(KEY_LINES_PATH.read_text(encoding="utf-8"))
    assert tuple(card["features"]) == FEATURES and len(card["weights"]) == len(FEATURES)
    assert (
        card["held_out_metrics"]["key_lines.evidence_recall"] > card["held_out_metrics"]["importance.evidence_recall"]
    )


@pytest.mark.parametrize("count", [0, 1])
def test_count_bounds_the_summary(count: int) -> None:
    assert len(key_lines(TRIP, count)) == count
