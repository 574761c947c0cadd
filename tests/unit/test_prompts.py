"""Every prompt's placeholders are exactly the keys the code formats it with."""

import ast
import string
from pathlib import Path

import pytest

import nodes.conversation
import prompts.conversation
from nodes.conversation import (
    ConversationState,
    MoodReport,
    RetrievedMemory,
    build_messages,
    feeling_opener,
    offline_reply,
)

PROMPTS = {
    name: value
    for name, value in vars(prompts.conversation).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str)
}
#: The keys ``nodes/conversation.py`` passes to each prompt it formats (``{}``: used as it is, never formatted).
EXPECTED_KEYS: dict[str, set[str]] = {
    "COMPANION_SYSTEM_PROMPT": {"persona_name", "persona_description", "memories"},
    "MEMORY_LINE": {"text"},
    "ASKED_MEMORY": {"text"},
    "OUTDATED_MEMORY": {"text"},
    "INSIGHT_MEMORY": {"text"},
    "NO_MEMORIES": set(),
    "OFFLINE_RECALL_REPLY": {"recalled"},
    "OFFLINE_NO_RECALL_REPLY": set(),
    "OFFLINE_RECALL_ITEM": {"text"},
    "OFFLINE_INSIGHT": {"text"},
    "OFFLINE_INSIGHT_REPLY": {"text"},
    "DEFAULT_PERSONA_NAME": set(),
    "DEFAULT_PERSONA_DESCRIPTION": set(),
    "DEFAULT_CRISIS_RESOURCES": set(),
    "GROUP_CONTEXT": {"lines"},
    "GROUP_CONTEXT_LINE": {"author", "text"},
    "GROUP_SUMMARY": {"summary"},
    "PROFILE_NAME": {"name"},
    "PROFILE_LANGUAGE": {"language"},
}


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def format_calls_in(module_file: str) -> dict[str, list[set[str]]]:
    """For each prompt constant ``NAME.format(...)`` is called on in the module, the keyword sets passed."""
    tree = ast.parse(Path(module_file).read_text())
    calls: dict[str, list[set[str]]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in PROMPTS
        ):
            assert not node.args, f"{node.func.value.id} is formatted with positional arguments"
            assert all(keyword.arg is not None for keyword in node.keywords), "no **kwargs: keys must be visible"
            calls.setdefault(node.func.value.id, []).append({str(keyword.arg) for keyword in node.keywords})
    return calls


def test_every_prompt_constant_is_covered_by_this_test() -> None:
    assert set(PROMPTS) == set(EXPECTED_KEYS)


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_prompt_placeholders_are_the_keys_the_code_passes(name: str) -> None:
    assert placeholders(PROMPTS[name]) == EXPECTED_KEYS[name]
    calls = format_calls_in(nodes.conversation.__file__).get(name, [])
    if EXPECTED_KEYS[name]:
        assert calls, f"{name} has placeholders but nodes/conversation.py never formats it"
    for keys in calls:
        assert keys == EXPECTED_KEYS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_prompt_formats_with_those_keys_and_keeps_no_braces(name: str) -> None:
    values = {key: f"<{key} value>" for key in EXPECTED_KEYS[name]}
    formatted = PROMPTS[name].format(**values)
    for value in values.values():
        assert value in formatted
    assert "{" not in formatted and "}" not in formatted


def memory(text: str, similarity: float) -> RetrievedMemory:
    return RetrievedMemory(id=text, text=text, score=similarity, similarity=similarity, kind="episodic", created_at=0.0)


def test_system_prompt_as_built_lists_each_memory_and_the_persona() -> None:
    state = ConversationState(
        message="What is my cat called?",
        memories=[memory("I have a cat called Miso.", 0.7), memory("I live in Lisbon.", 0.4)],
        context=[],
    )
    system = build_messages(state)[0].text
    assert system.startswith(f"You are {prompts.conversation.DEFAULT_PERSONA_NAME},")
    assert prompts.conversation.DEFAULT_PERSONA_DESCRIPTION in system
    assert "- I have a cat called Miso.\n- I live in Lisbon." in system
    assert prompts.conversation.NO_MEMORIES not in system
    assert "{" not in system


def test_the_chat_model_is_told_which_memories_are_questions_or_outdated() -> None:
    asked = RetrievedMemory(**memory("What band do I like?", 0.9), utterance="question")
    outdated = RetrievedMemory(**memory("I work at Initech.", 0.8), superseded=True)
    state = ConversationState(message="hi", memories=[asked, outdated, memory("I work at Globex.", 0.7)], context=[])
    system = build_messages(state)[0].text
    assert "- (the user asked this; it is not a fact) What band do I like?" in system
    assert "- (outdated: a newer statement replaced it) I work at Initech." in system
    assert "- I work at Globex." in system


NOTICED = "I noticed that over the 7 days to 2026-01-05 your mood when we talked was improving."


def test_the_chat_model_is_told_an_insight_is_its_own_observation_not_something_the_user_said() -> None:
    insight = RetrievedMemory(**memory(NOTICED, 0.8), utterance="observation")
    system = build_messages(ConversationState(message="hi", memories=[insight], context=[]))[0].text
    assert f"- (your own observation from reflecting on recent days, not something the user said) {NOTICED}" in system


def test_system_prompt_without_memories_says_nothing_is_known_yet() -> None:
    system = build_messages(ConversationState(message="hi"))[0].text
    assert prompts.conversation.NO_MEMORIES in system


def test_offline_reply_quotes_at_most_two_similar_memories() -> None:
    said = [memory("I like A.", 0.9), memory("I like B.", 0.8), memory("I like C.", 0.7), memory("I like D.", 0.1)]
    reply = offline_reply(said)
    assert reply.startswith("[offline]")
    assert reply.endswith("You told me: \u201cI like A.\u201d and \u201cI like B.\u201d")


def test_offline_reply_quotes_neither_questions_nor_small_talk_nor_outdated_values() -> None:
    outdated = RetrievedMemory(**memory("I work at Initech.", 0.9), superseded=True)
    said = [memory("Where do I work?", 0.95), outdated, memory("ok thanks", 0.9), memory("I work at Globex.", 0.8)]
    assert offline_reply(said).endswith("You told me: \u201cI work at Globex.\u201d")


def test_offline_reply_without_similar_memories_is_the_no_recall_reply() -> None:
    assert offline_reply([memory("far away", 0.1)]) == prompts.conversation.OFFLINE_NO_RECALL_REPLY
    assert offline_reply([]) == prompts.conversation.OFFLINE_NO_RECALL_REPLY


def test_the_offline_reply_never_quotes_an_insight_as_something_the_user_told() -> None:
    insight = RetrievedMemory(**memory(NOTICED, 0.95), utterance="observation")
    reply = offline_reply([insight, memory("I work at Globex.", 0.8)])
    assert reply.startswith("[offline]") and f"\u201c{NOTICED}\u201d" not in reply
    told, noticed = reply.split(" And something I noticed myself, reflecting on our recent days: ")
    assert told.endswith("You told me: \u201cI work at Globex.\u201d") and noticed == NOTICED


def test_the_offline_reply_with_only_an_insight_says_the_companion_noticed_it() -> None:
    insight = RetrievedMemory(**memory(NOTICED, 0.6), utterance="observation")
    reply = offline_reply([insight])
    assert reply == prompts.conversation.OFFLINE_INSIGHT_REPLY.format(text=NOTICED) and "You told me" not in reply
    outdated = RetrievedMemory(**memory(NOTICED, 0.6), utterance="observation", superseded=True)
    assert offline_reply([outdated]) == prompts.conversation.OFFLINE_NO_RECALL_REPLY


def mood_with(rule: str, pleasure: float) -> MoodReport:
    delta = {"pleasure": pleasure, "arousal": 0.05, "dominance": 0.0}
    return {
        "pleasure": 0.5,
        "arousal": 0.3,
        "dominance": 0.4,
        "label": "relaxed",
        "change": {"rule": rule, "cause": "", "delta": delta},
    }


def test_the_offline_reply_meets_the_users_feeling_before_it_recalls() -> None:
    grief = offline_reply([], opener=feeling_opener(mood_with("sorry_for", -0.12)))
    assert grief.startswith("[offline] I'm so sorry.") and grief.endswith("but I will remember this.")
    joy = offline_reply([memory("I applied at Globex.", 0.9)], opener=feeling_opener(mood_with("achievement", 0.2)))
    assert joy.startswith("[offline] Congratulations") and joy.endswith("You told me: \u201cI applied at Globex.\u201d")
    shock = feeling_opener(mood_with("surprise", -0.1))
    assert shock == prompts.conversation.OFFLINE_FEELING_OPENERS["surprise_unpleasant"]
    # a faint nudge, no change or a rule without an opener: the reply is as before
    assert feeling_opener(mood_with("sorry_for", -0.01)) == "" and feeling_opener(None) == ""
    assert feeling_opener(mood_with("false_positive_review", 0.3)) == ""
    assert set(prompts.conversation.OFFLINE_FEELING_OPENERS) >= {"sorry_for", "insult", "happy_for", "fear"}


def test_the_chat_model_sees_the_groups_recent_messages_only_in_a_group() -> None:
    state: ConversationState = {"message": "what should we do?", "context": []}
    assert "group chat" not in str(build_messages(state)[0].content)
    lines = [{"author": f"user{i}", "text": f"line {i}"} for i in range(20)]
    system = str(build_messages({**state, "group_context": lines})[0].content)
    assert "- user19: line 19" in system and "- user8: line 8" in system
    assert "- user7: line 7" not in system  # only the last MAX_GROUP_LINES (12)
    assert system.index("- user8: line 8") < system.index("- user19: line 19")  # oldest first
    assert "Earlier in this group" not in system  # no summary yet (the chat buffer has not overflowed)
    summarised = str(
        build_messages({**state, "group_context": lines, "group_summary": "ann: the gig is off"})[0].content
    )
    assert "Earlier in this group" in summarised and "ann: the gig is off" in summarised
    alone = str(build_messages({**state, "group_summary": "ann: the gig is off"})[0].content)
    assert "gig" not in alone  # a summary without a group (a private turn) is never shown


def test_the_chat_model_is_told_the_users_name_and_language_only_when_they_gave_them() -> None:
    state: ConversationState = {"message": "hallo", "context": []}
    defaults: ConversationState = {
        **state,
        "profile": {"display_name": "", "language": "en", "analytics_consent": True},
    }
    plain = str(build_messages(defaults)[0].content)
    assert "likes to be called" not in plain and "preferred language" not in plain
    lena: ConversationState = {
        **state,
        "profile": {"display_name": "Lena", "language": "de", "analytics_consent": True},
    }
    system = str(build_messages(lena)[0].content)
    assert "The user likes to be called Lena." in system and "language code de" in system
