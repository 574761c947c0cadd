"""The local utterance-type rules (``tools.utterance``): facts told versus questions, requests and small talk."""

import pytest

from tools.utterance import UtteranceType, classify_utterance, is_fact, parse_utterance, strip_mentions


@pytest.mark.parametrize(
    "text",
    [
        "My PIN is 4321.",
        "I now work at Google",
        "my cat Miso is sick",
        "I moved to Lyon. Do you know it?",
        "Remember that my favourite colour is green",
        "@companion_bot my sister is called Ana",
        "yes I have two kids",
    ],
)
def test_statements_are_facts(text: str) -> None:
    assert classify_utterance(text) is UtteranceType.STATEMENT
    assert is_fact("", text)


@pytest.mark.parametrize(
    "text", ["what is my PIN?", "What band do I like?", "do you remember my dog", "Where do I live", "is it raining"]
)
def test_questions_are_questions_with_or_without_a_question_mark(text: str) -> None:
    assert classify_utterance(text) is UtteranceType.QUESTION


@pytest.mark.parametrize("text", ["ok", "lol yes", "thanks!", "good morning :)", "👍", "<@123> hi", "haha ok sure"])
def test_acknowledgements_and_greetings_are_small_talk(text: str) -> None:
    assert classify_utterance(text) is UtteranceType.SMALL_TALK


@pytest.mark.parametrize("text", ["tell me a joke", "can you help me with my essay?", "please remind me at 5"])
def test_requests_to_the_companion_are_requests(text: str) -> None:
    assert classify_utterance(text) is UtteranceType.REQUEST


def test_a_stored_label_wins_and_a_missing_one_is_classified_from_the_text() -> None:
    assert parse_utterance("question", "My PIN is 4321.") is UtteranceType.QUESTION
    assert parse_utterance("", "what is my PIN?") is UtteranceType.QUESTION
    assert not is_fact(None, "ok")


def test_leading_mentions_are_not_part_of_what_was_said() -> None:
    assert strip_mentions("@bot, my dog is Rex") == "my dog is Rex"
    assert strip_mentions("<@!42> <@7> hello") == "hello"
