"""Write-time update detection rules (``tools.updates``): same subject, changed value; compatible additions."""

import pytest

from tools.updates import UPDATE_SIMILARITY, detect_update, subjects


@pytest.mark.parametrize(
    ("old", "new", "subject"),
    [
        ("I work at Initech.", "I now work at Globex.", "workplace"),
        ("I live in Lyon.", "We relocated to Prague last month.", "home"),
        ("My dog's name is Rex.", "We renamed our dog Bruno.", "name of dog"),
        ("My sister is called Ana.", "Sorry, my sister's name is actually Maria.", "name of sister"),
        ("My favourite colour is blue.", "Green is my new favourite colour.", "favourite colour"),
        ("I work as a nurse.", "I became a teacher.", "job"),
    ],
)
def test_the_same_subject_with_a_new_value_is_an_update(old: str, new: str, subject: str) -> None:
    found = detect_update(new, old, 0.5)
    assert found is not None and found.subject == subject and found.rule == "subject"


def test_a_preference_turned_around_is_an_update() -> None:
    found = detect_update("I don't like jazz anymore.", "I love jazz.", 0.7)
    assert found is not None and found.rule in ("preference", "negation")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("I live in Lyon.", "I live in Lyon with my wife."),
        ("My dog's name is Rex.", "My cat is called Miso."),
        ("I have a dog named Rex.", "We got a second dog named Bo."),
        ("I work at Initech.", "I used to work at Globex."),
        ("My sister is called Ana.", "My sister's husband is called Tom."),
        ("My favourite colour is blue.", "My favourite food is pizza."),
    ],
)
def test_a_compatible_addition_is_not_an_update(old: str, new: str) -> None:
    assert detect_update(new, old, 0.9) is None


def test_below_the_calibrated_gate_nothing_is_an_update() -> None:
    assert UPDATE_SIMILARITY == 0.1  # calibrated on the update suite's dev split (the seed's 0.8 found 9 %)
    assert detect_update("I now work at Globex.", "I work at Initech.", 0.09) is None
    assert detect_update("I now work at Globex.", "I work at Initech.", 0.1) is not None


def test_a_question_never_updates_and_is_never_updated() -> None:
    assert detect_update("Do I now work at Globex?", "I work at Initech.", 0.9) is None
    assert detect_update("I now work at Globex.", "Do I work at Initech?", 0.9) is None


def test_a_partner_named_and_a_partner_dated_are_one_subject() -> None:
    found = detect_update("I'm engaged to Kenji.", "My partner is called Priya.", 0.46)
    assert found is not None and found.subject == "partner"


def test_a_speaker_prefix_is_not_part_of_the_subject() -> None:
    assert subjects("Caroline: I moved to Boston last year.") == {"home": "boston"}
