"""The bots' pure pieces: reply splitting, locks, response-flow priorities, chat buffer, validator, tokens."""

import asyncio
import random

import pytest
from bot_support import FixedRandom, ManualClock
from pydantic import SecretStr

from bots.common.chat_buffer import BufferedMessage, ChatBuffer, summary_lines
from bots.common.chat_manager import activity_level, chat_health
from bots.common.chat_validator import GOODBYES, chat_language, decide_chat_access, goodbye_message
from bots.common.locks import ConversationLocks
from bots.common.replies import split_reply
from bots.common.response_flow import (
    FRIEND_MIN_DAYS,
    FRIEND_MIN_MESSAGES,
    KNOWN_MIN_MESSAGES,
    Priority,
    Relationship,
    ResponseFlow,
    relationship_for,
)
from bots.common.sensitivity import sensitivity_level
from bots.common.tokens import discord_token, telegram_token
from companion.core.errors import ConfigurationError
from companion.core.settings import load_settings


# -- replies ---------------------------------------------------------------------------------------------------
def test_split_reply_cuts_at_paragraphs_lines_and_words_within_the_limit() -> None:
    text = "first paragraph " * 10 + "\n\n" + "second line\n" * 30 + "x" * 45
    chunks = split_reply(text, 50)
    assert all(0 < len(chunk) <= 50 for chunk in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert chunks[0].startswith("first paragraph")
    assert split_reply("short", 2000) == ["short"]
    assert split_reply("   ", 10) == []


def test_split_reply_cuts_a_word_longer_than_the_limit() -> None:
    assert split_reply("a" * 4500, 2000) == ["a" * 2000, "a" * 2000, "a" * 500]


# -- locks -----------------------------------------------------------------------------------------------------
async def test_locks_serialise_one_key_and_let_other_keys_run() -> None:
    locks = ConversationLocks()
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    order: list[int] = []

    async def turn(key: str, index: int) -> None:
        async with locks.hold(key):
            running[key] += 1
            peak[key] = max(peak[key], running[key])
            await asyncio.sleep(0.01)
            order.append(index) if key == "a" else None
            running[key] -= 1

    await asyncio.gather(*(turn("a", i) for i in range(5)), turn("b", 0))
    assert peak == {"a": 1, "b": 1}
    assert order == [0, 1, 2, 3, 4]  # arrival order, none dropped
    assert len(locks) == 0  # forgotten once idle


# -- response flow -----------------------------------------------------------------------------------------------
def test_relationship_rules() -> None:
    assert relationship_for(is_admin=True, messages=0, days=0) is Relationship.ADMIN
    assert relationship_for(is_admin=False, messages=KNOWN_MIN_MESSAGES - 1, days=1) is Relationship.STRANGER
    assert relationship_for(is_admin=False, messages=KNOWN_MIN_MESSAGES, days=1) is Relationship.KNOWN
    assert (
        relationship_for(is_admin=False, messages=FRIEND_MIN_MESSAGES, days=FRIEND_MIN_DAYS - 1) is Relationship.KNOWN
    )
    assert relationship_for(is_admin=False, messages=FRIEND_MIN_MESSAGES, days=FRIEND_MIN_DAYS) is Relationship.FRIEND


@pytest.mark.parametrize(
    ("relationship", "fraction", "expected_delay"),
    [
        (Relationship.ADMIN, 0.9, 0.0),
        (Relationship.FRIEND, 0.0, 5.0),
        (Relationship.FRIEND, 1.0, 30.0),
        (Relationship.KNOWN, 0.0, 15.0),
        (Relationship.KNOWN, 1.0, 60.0),
        (Relationship.STRANGER, 0.0, 30.0),
        (Relationship.STRANGER, 7 / 9, 100.0),  # 30 + 90 * 7/9 = 100: still answered
    ],
)
def test_each_priority_answers_within_its_delay_range(
    relationship: Relationship, fraction: float, expected_delay: float
) -> None:
    flow = ResponseFlow(clock=ManualClock(), rng=FixedRandom(fraction))
    decision = flow.decide(chat_id="c", user_id="u", relationship=relationship, private=False, addressed=True)
    assert decision.respond
    assert decision.delay == pytest.approx(expected_delay)


def test_stranger_is_skipped_when_the_delay_would_exceed_100_seconds() -> None:
    flow = ResponseFlow(clock=ManualClock(), rng=FixedRandom(0.8))  # 30 + 90 * 0.8 = 102 s
    decision = flow.decide(chat_id="c", user_id="u", relationship=Relationship.STRANGER, private=False, addressed=True)
    assert not decision.respond
    assert decision.delay == pytest.approx(102.0)
    assert "over 100" in decision.reason
    # The same draw for someone known is answered.
    known = flow.decide(chat_id="c", user_id="k", relationship=Relationship.KNOWN, private=False, addressed=True)
    assert known.respond and known.delay == pytest.approx(15 + 45 * 0.8)


def test_unaddressed_group_messages_are_not_answered_and_private_ones_are_at_once() -> None:
    flow = ResponseFlow(clock=ManualClock(), rng=FixedRandom(0.5))
    assert not flow.decide(
        chat_id="c", user_id="u", relationship=Relationship.FRIEND, private=False, addressed=False
    ).respond
    private = flow.decide(chat_id="p", user_id="u", relationship=Relationship.STRANGER, private=True, addressed=True)
    assert private.respond and private.delay == 0.0


def test_user_and_chat_cooldowns_follow_the_injected_clock_and_admins_skip_them() -> None:
    clock = ManualClock()
    flow = ResponseFlow(clock=clock, rng=FixedRandom(0.0), user_cooldown=60.0, chat_cooldown=10.0)
    first = flow.decide(chat_id="c", user_id="u", relationship=Relationship.FRIEND, private=False, addressed=True)
    assert first.respond and first.delay == 5.0
    again = flow.decide(chat_id="c", user_id="u", relationship=Relationship.FRIEND, private=False, addressed=True)
    assert (again.respond, again.reason) == (False, "user cooldown")
    other = flow.decide(chat_id="c", user_id="v", relationship=Relationship.FRIEND, private=False, addressed=True)
    assert (other.respond, other.reason) == (False, "chat cooldown")  # the chat's next reply is at +5 s, +10 s cooldown
    assert flow.decide(
        chat_id="c", user_id="boss", relationship=Relationship.ADMIN, private=False, addressed=True
    ).respond
    clock.current += 5 + 10 + 0.1
    assert flow.decide(
        chat_id="c", user_id="v", relationship=Relationship.FRIEND, private=False, addressed=True
    ).respond
    assert not flow.decide(
        chat_id="d", user_id="u", relationship=Relationship.FRIEND, private=False, addressed=True
    ).respond
    clock.current += 60
    assert flow.decide(
        chat_id="d", user_id="u", relationship=Relationship.FRIEND, private=False, addressed=True
    ).respond


# -- chat buffer -------------------------------------------------------------------------------------------------
def message(index: int, chat: str = "g", text: str | None = None) -> BufferedMessage:
    return BufferedMessage(
        chat, f"telegram:{index % 7}", f"user{index % 7}", text or f"message number {index}", float(index)
    )


def test_buffer_overflow_keeps_a_third_and_flushes_the_rest_in_batches_of_50() -> None:
    buffer = ChatBuffer(capacity=100, batch_size=50)
    flushed = [batch for index in range(100) for batch in buffer.add(message(index))]
    assert flushed == [] and buffer.size("g") == 100
    batches = buffer.add(message(100))
    assert [len(batch.messages) for batch in batches] == [50, 18]
    assert [m.text for m in batches[0].messages][:2] == ["message number 0", "message number 1"]
    assert batches[1].messages[-1].text == "message number 67"
    assert [m.text for m in buffer.context("g")] == [f"message number {i}" for i in range(68, 101)]
    assert buffer.summary("g") == batches[1].summary and batches[0].summary in batches[1].summary
    # Other chats are untouched; the next overflow comes after the buffer fills again.
    assert buffer.size("other") == 0
    assert all(buffer.add(message(i)) == [] for i in range(101, 168))
    assert [len(b.messages) for b in buffer.add(message(168))] == [50, 18]


def test_extractive_summary_picks_the_messages_on_the_chat_topic() -> None:
    texts = [
        "the hiking trip to the mountains is on saturday",
        "lol",
        "who is bringing the tent for the hiking trip",
        "ok",
        "mountains weather looks good for hiking saturday",
        "random: my cat sneezed",
    ]
    batch = [BufferedMessage("g", "u", "ann", text, float(i)) for i, text in enumerate(texts)]
    lines = summary_lines(batch, lines=2)
    assert lines == [
        "ann: the hiking trip to the mountains is on saturday",
        "ann: mountains weather looks good for hiking saturday",
    ]


def test_filler_said_in_most_messages_is_not_the_topic_and_repeats_count_once() -> None:
    texts = [f"haha yes {'!' * i}" for i in range(9)] + ["the zeppelin museum trip is booked for the ninth"]
    batch = [BufferedMessage("g", "u", "ann", text, float(i)) for i, text in enumerate(texts)]
    assert summary_lines(batch, lines=2) == ["ann: the zeppelin museum trip is booked for the ninth"]


def test_buffer_forgets_a_user() -> None:
    buffer = ChatBuffer()
    for index in range(14):
        buffer.add(message(index))
    assert buffer.forget_user("telegram:0") == 2
    assert all(m.user_id != "telegram:0" for m in buffer.context("g"))


# -- validator ---------------------------------------------------------------------------------------------------
def test_validator_decisions() -> None:
    assert decide_chat_access("private", added_by_admin=False, admin_present=False).allowed
    assert decide_chat_access("supergroup", added_by_admin=True, admin_present=False).allowed
    assert decide_chat_access("group", added_by_admin=False, admin_present=True).allowed
    leave = decide_chat_access("supergroup", added_by_admin=False, admin_present=False)
    assert not leave.allowed and leave.reason == "no admin in the chat"


def test_goodbye_language_from_language_codes_or_text() -> None:
    assert chat_language(["ru"]) == "ru"
    assert chat_language(["en-US", "ru", "de"]) == "en"
    assert chat_language([None], ["Привет всем, как дела?"]) == "ru"
    assert chat_language([], ["hello there", "привет"]) == "en"
    assert goodbye_message("ru", random.Random(1)) in GOODBYES["ru"]
    assert goodbye_message("fr", random.Random(1)) in GOODBYES["en"]


# -- chat manager rules, sensitivity, tokens, settings ---------------------------------------------------------------
def test_activity_levels_and_health() -> None:
    assert [activity_level(n) for n in (0, 1, 10, 100, 1001)] == ["inactive", "low", "medium", "high", "very_high"]
    assert chat_health(status="allowed", replies_24h=10, errors_24h=0) == "healthy"
    assert chat_health(status="allowed", replies_24h=9, errors_24h=1) == "warning"
    assert chat_health(status="allowed", replies_24h=3, errors_24h=3) == "critical"
    assert chat_health(status="left", replies_24h=0, errors_24h=9) == "left"
    # the pacing skips as many addressed messages as it answers: the chat wants its cooldowns tuned
    assert chat_health(status="allowed", replies_24h=12, errors_24h=0, skipped_24h=12) == "optimizing"
    assert chat_health(status="allowed", replies_24h=12, errors_24h=0, skipped_24h=9) == "healthy"
    assert chat_health(status="allowed", replies_24h=20, errors_24h=0, skipped_24h=19) == "healthy"
    assert chat_health(status="allowed", replies_24h=9, errors_24h=1, skipped_24h=50) == "warning"  # failures first


def test_sensitivity_levels_fail_closed() -> None:
    assert sensitivity_level(None) == 1 and sensitivity_level("general") == 1
    assert sensitivity_level("Confidential") == 2 and sensitivity_level("secret") == 3
    assert sensitivity_level("something-new") == 2


def test_tokens_missing_or_malformed_are_one_line_errors() -> None:
    with pytest.raises(ConfigurationError, match="COMPANION_TELEGRAM_TOKEN is not set"):
        telegram_token(None)
    with pytest.raises(ConfigurationError, match="does not look like a bot token"):
        telegram_token(SecretStr("12345:short"))
    assert telegram_token(SecretStr("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq")).startswith("123456789:")
    with pytest.raises(ConfigurationError, match="COMPANION_DISCORD_TOKEN is not set"):
        discord_token(SecretStr(" "))
    with pytest.raises(ConfigurationError, match="COMPANION_DISCORD_TOKEN does not look"):
        discord_token(SecretStr("not a token"))
    assert discord_token(SecretStr("MTA4NzY1NDMyMTA5ODc2NTQzMg.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"))


def test_admin_ids_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_ADMIN_IDS", "111, telegram:222,discord:333")
    assert load_settings().admin_ids == frozenset({"111", "telegram:222", "discord:333"})
    monkeypatch.setenv("COMPANION_ADMIN_IDS", "111,@bob")
    with pytest.raises(ConfigurationError, match="COMPANION_ADMIN_IDS"):
        load_settings()


def test_the_five_priorities_follow_who_sends_what_and_where() -> None:
    flow = ResponseFlow(clock=ManualClock(), rng=FixedRandom(0.0))

    def priority(relationship: Relationship, *, private: bool = False, addressed: bool = True) -> Priority:
        user = f"{relationship}-{private}-{addressed}"
        return flow.decide(
            chat_id=user, user_id=user, relationship=relationship, private=private, addressed=addressed
        ).priority

    assert priority(Relationship.ADMIN) is Priority.IMMEDIATE
    assert priority(Relationship.FRIEND) is Priority.HIGH
    assert priority(Relationship.STRANGER, private=True) is Priority.MEDIUM
    assert priority(Relationship.KNOWN) is Priority.LOW and priority(Relationship.STRANGER) is Priority.LOW
    assert priority(Relationship.FRIEND, addressed=False) is Priority.MINIMAL


def test_a_crisis_is_answered_at_once_through_cooldowns_and_the_stranger_cut_off() -> None:
    flow = ResponseFlow(clock=ManualClock(), rng=FixedRandom(0.9))  # a stranger's draw of 111 s: no reply
    ordinary = flow.decide(chat_id="c", user_id="s", relationship=Relationship.STRANGER, private=False, addressed=True)
    assert not ordinary.respond
    known = flow.decide(chat_id="c", user_id="k", relationship=Relationship.KNOWN, private=False, addressed=True)
    assert known.respond  # the chat's cooldown now runs
    crisis = flow.decide(
        chat_id="c", user_id="s", relationship=Relationship.STRANGER, private=False, addressed=True, crisis=True
    )
    assert (crisis.respond, crisis.delay, crisis.priority, crisis.reason) == (True, 0.0, Priority.IMMEDIATE, "crisis")
