"""The Telegram bot end to end: aiogram's real ``Bot`` client against a local Bot API server, updates fed to the
real dispatcher, real Redis, real Chroma, the real embedder. Only the chat model is fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from bot_support import EchoChatModel, FixedRandom, ManualClock, bot_eraser, services_over
from langchain_core.language_models import BaseChatModel
from redis.asyncio import Redis
from telegram_api_server import BOT_ID, BOT_USERNAME, TOKEN, TelegramAPI, start_server

from bots.common.chat_manager import ChatManager
from bots.common.companion import GROUP_WITHHELD_REPLY, Companion
from bots.common.relationships import RelationshipStore, relation_key
from bots.telegram.bot import build_dispatcher, create_bot, run_telegram_bot
from bots.telegram.chats import deliver_outreach, recheck_chats
from bots.telegram.routers.forget import CONFIRM_TEXT, DONE_TEXT, ForgetCallback
from companion.core.errors import ConfigurationError
from companion.core.settings import load_settings
from graphs.conversation import build_graph
from memory.embeddings import Embedder
from memory.keys import encode_part
from memory.long_term import OWNER_KEY, LongTermStore
from memory.personality_store import PersonalityStore
from memory.sensitivity import Sensitivity, security_level
from memory.short_term import ASSOCIATION_STREAM, ShortTermStore
from tools.care import care_reply, crisis_resources

# The bots run the graph without a checkpointer (see bots.common.companion.quiet_durability_warning).
pytestmark = pytest.mark.filterwarnings("ignore:`durability` has no effect:UserWarning")

ADMIN = 1
GROUP = -1001234
_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


@dataclass
class Harness:
    api: TelegramAPI
    bot: Bot
    dispatcher: Dispatcher
    clock: ManualClock
    redis: Redis
    long_term: LongTermStore

    async def feed(self, payload: dict[str, Any]) -> None:
        update = Update.model_validate({"update_id": next(_update_ids), **payload}, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)

    @property
    def chats(self) -> ChatManager:
        manager: ChatManager = self.dispatcher["chats"]
        return manager


def user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": language}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "the group"}


def text_message(
    chat_id: int, user_id: int, text: str, *, mention: bool = False, language: str = "en"
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": user(user_id, language),
        "text": f"@{BOT_USERNAME} {text}" if mention else text,
    }
    if mention:
        message["entities"] = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"message": message}


def bot_added(chat_id: int, by: int, language: str = "en") -> dict[str, Any]:
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Companion", "username": BOT_USERNAME}
    return {
        "my_chat_member": {
            "chat": chat(chat_id),
            "from": user(by, language),
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": bot_user},
            "new_chat_member": {"status": "member", "user": bot_user},
        }
    }


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(
    redis: Redis,
    redis_url: str,
    tmp_path: Path,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    embedder: Embedder,
) -> AsyncIterator[HarnessFactory]:
    opened: list[tuple[Bot, Any]] = []

    services = services_over(tmp_path, redis_url, redis, long_term, short_term, embedder)

    async def factory(*, chat_model: BaseChatModel | None = None, fraction: float = 0.5) -> Harness:
        api = TelegramAPI()
        runner = await start_server(api)
        graph = build_graph(long_term=long_term, short_term=short_term, embedder=embedder, chat_model=chat_model)
        companion = Companion(
            graph=graph, long_term=long_term, short_term=short_term, embedder=embedder, eraser=bot_eraser(services)
        )
        clock = ManualClock()
        bot = create_bot(TOKEN, api_base=api.url)
        dispatcher = build_dispatcher(
            companion=companion, redis=redis, admin_ids={f"telegram:{ADMIN}"}, clock=clock, rng=FixedRandom(fraction)
        )
        opened.append((bot, runner))
        return Harness(api, bot, dispatcher, clock, redis, long_term)

    yield factory
    for bot, runner in opened:
        await bot.session.close()
        await runner.cleanup()


async def test_private_message_is_answered_through_the_bot_api_and_remembered(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await harness.feed(text_message(42, 42, "my sister is called Lena"))
    assert harness.api.sent(42) == ["echo: my sister is called Lena"]
    assert harness.api.called("getMe"), "the bot asked Telegram who it is (for mentions)"
    memories = harness.long_term.list_memories("telegram:42")
    assert [m.text for m in memories] == ["my sister is called Lena"]
    assert memories[0].conversation_id == "telegram:dm"


async def test_concurrent_messages_wait_for_each_other_and_each_gets_one_answer(make_harness: HarnessFactory) -> None:
    model = EchoChatModel(delay=0.05)
    harness = await make_harness(chat_model=model)
    texts = [f"message {index}" for index in range(4)]
    await asyncio.gather(*(harness.feed(text_message(42, 42, text)) for text in texts))
    assert model.peak == 1, "turns of one conversation overlapped"
    assert sorted(harness.api.sent(42)) == sorted(f"echo: {text}" for text in texts)  # none dropped, none twice
    assert sorted(m.text for m in harness.long_term.list_memories("telegram:42")) == sorted(texts)
    # Different conversations are not serialised: the same tracker sees them overlap.
    model.peak = 0
    await asyncio.gather(harness.feed(text_message(43, 43, "hello")), harness.feed(text_message(44, 44, "hi")))
    assert model.peak == 2


async def group_with_admin(harness: Harness) -> None:
    harness.api.members[GROUP] = {ADMIN}
    await harness.feed(bot_added(GROUP, by=ADMIN))


async def test_group_buffer_overflow_goes_to_the_association_stream_in_batches(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await group_with_admin(harness)
    topics = ["the concert on friday", "tickets for the concert", "who drives to the concert", "pizza"]
    for index in range(101):
        await harness.feed(text_message(GROUP, 100 + index % 5, f"{topics[index % 4]} #{index}"))
    assert harness.api.sent(GROUP) == [], "nobody addressed the companion"
    entries = await harness.redis.xrange(ASSOCIATION_STREAM)
    batches = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
    assert [(b["kind"], b["chat_id"], int(b["count"])) for b in batches] == [
        ("chat_batch", str(GROUP), 50),
        ("chat_batch", str(GROUP), 18),
    ]
    first = json.loads(batches[0]["messages"])
    assert first[0]["text"] == "the concert on friday #0" and first[0]["user_id"] == "telegram:100"
    assert json.loads(batches[1]["messages"])[-1]["text"].endswith("#67")
    assert "concert" in batches[1]["summary"]
    assert harness.dispatcher["buffer"].size(str(GROUP)) == 33
    [status] = await harness.chats.snapshot()
    assert (status.messages_24h, status.batches_total, status.activity, status.buffered) == (101, 2, "high", 33)


async def test_admin_is_answered_at_once_in_a_group(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0), fraction=0.9)
    await group_with_admin(harness)
    await harness.feed(text_message(GROUP, ADMIN, "status report please", mention=True))
    assert harness.api.sent(GROUP) == ["echo: status report please"]
    assert harness.clock.slept == [0.0]


async def test_a_group_reply_sees_what_the_group_just_said_and_a_private_one_does_not(
    make_harness: HarnessFactory,
) -> None:
    model = EchoChatModel(delay=0)
    harness = await make_harness(chat_model=model, fraction=0.9)
    await group_with_admin(harness)
    await harness.feed(text_message(GROUP, 7, "the concert got moved to saturday"))
    await harness.feed(text_message(GROUP, 8, "oh no, I can't make saturday"))
    await harness.feed(text_message(GROUP, ADMIN, "what do you think we should do?", mention=True))
    assert harness.api.sent(GROUP) == ["echo: what do you think we should do?"]
    group_prompt = model.systems[-1]
    assert "- user7: the concert got moved to saturday\n- user8: oh no, I can't make saturday" in group_prompt
    assert "what do you think we should do?" not in group_prompt  # the message itself is the user turn
    await harness.feed(text_message(ADMIN, ADMIN, "and what about you?"))
    assert "group chat" not in model.systems[-1] and "saturday" not in model.systems[-1]


async def test_a_group_reply_also_sees_the_running_summary_of_what_left_the_buffer(
    make_harness: HarnessFactory,
) -> None:
    model = EchoChatModel(delay=0)
    harness = await make_harness(chat_model=model, fraction=0.9)
    await group_with_admin(harness)
    await harness.feed(text_message(GROUP, 7, "the zeppelin museum trip is booked for the ninth"))
    for index in range(100):  # small talk pushes the plan out of the buffer (capacity 100)
        await harness.feed(text_message(GROUP, 100 + index % 5, f"haha yes #{index}"))
    summary = harness.dispatcher["buffer"].summary(str(GROUP))
    assert "zeppelin" in summary
    await harness.feed(text_message(GROUP, ADMIN, "so when is the trip?", mention=True))
    group_prompt = model.systems[-1]
    assert "zeppelin museum trip is booked" in group_prompt, "the plan reached the reply through the summary"
    assert "zeppelin" not in "".join(line for line in group_prompt.splitlines() if line.startswith("- "))


async def test_known_user_waits_within_15_to_60_seconds(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0), fraction=0.5)
    await group_with_admin(harness)
    await harness.redis.hset(relation_key("telegram:5"), "messages", 10)  # known: 10 earlier messages
    await harness.feed(text_message(GROUP, 5, "how was your day?", mention=True))
    assert harness.clock.slept == [pytest.approx(37.5)]  # 15 + 45 * 0.5
    assert harness.api.sent(GROUP) == ["echo: how was your day?"]
    reply = harness.api.called("sendMessage")[-1].params
    assert "reply_parameters" in reply, "a group answer replies to the message it answers"


async def test_friend_waits_within_5_to_30_seconds(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0), fraction=1.0)
    await group_with_admin(harness)
    relations = RelationshipStore(harness.redis, clock=harness.clock)
    for _day in range(3):
        harness.clock.current += 86400
        for _ in range(10):
            await relations.record_message("telegram:6", admin=False)
    await harness.feed(text_message(GROUP, 6, "guess what happened", mention=True))
    assert harness.clock.slept == [pytest.approx(30.0)]
    assert harness.api.sent(GROUP) == ["echo: guess what happened"]


async def test_stranger_is_not_answered_when_the_delay_would_exceed_100_seconds(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0), fraction=0.9)  # 30 + 90 * 0.9 = 111 s
    await group_with_admin(harness)
    await harness.feed(text_message(GROUP, 7, "hey bot", mention=True))
    assert harness.api.sent(GROUP) == []
    assert harness.clock.slept == []
    [status] = await harness.chats.snapshot()
    assert status.skipped_24h == 1
    # A stranger with a shorter draw is answered after it.
    harness.dispatcher["flow"].rng = FixedRandom(0.5)
    await harness.feed(text_message(GROUP, 8, "hey bot", mention=True))
    assert harness.clock.slept == [pytest.approx(75.0)]
    assert harness.api.sent(GROUP) == ["echo: hey bot"]


async def test_bot_added_by_a_stranger_to_a_russian_group_says_goodbye_in_russian_and_leaves(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness()
    await harness.feed(bot_added(GROUP, by=9, language="ru"))
    [goodbye] = harness.api.sent(GROUP)
    assert any("\u0400" <= char <= "\u04ff" for char in goodbye)
    assert [int(call.params["chat_id"]) for call in harness.api.called("leaveChat")] == [GROUP]
    assert [int(call.params["user_id"]) for call in harness.api.called("getChatMember")] == [ADMIN]
    [status] = await harness.chats.snapshot()
    assert (status.status, status.status_reason, status.health) == ("left", "no admin in the chat", "left")


async def test_bot_stays_when_an_admin_added_it_or_is_a_member(make_harness: HarnessFactory) -> None:
    harness = await make_harness()
    await harness.feed(bot_added(GROUP, by=ADMIN))
    harness.api.members[-1005] = {ADMIN}
    await harness.feed(bot_added(-1005, by=9))
    assert harness.api.called("leaveChat") == [] and harness.api.sent() == []
    reasons = {s.chat_id: s.status_reason for s in await harness.chats.snapshot()}
    assert reasons == {str(GROUP): "added by an admin", "-1005": "an admin is a member"}


async def test_recheck_leaves_a_group_whose_admin_left_with_an_english_goodbye(make_harness: HarnessFactory) -> None:
    harness = await make_harness()
    harness.api.members[-1005] = {ADMIN}
    await harness.feed(bot_added(-1005, by=9))
    await harness.feed(bot_added(GROUP, by=ADMIN))
    harness.api.members[-1005] = set()  # the admin left
    decisions = await recheck_chats(
        harness.bot,
        admin_ids=harness.dispatcher["admin_ids"],
        chats=harness.chats,
        buffer=harness.dispatcher["buffer"],
        rng=harness.dispatcher["rng"],
    )
    assert {chat_id: d.allowed for chat_id, d in decisions.items()} == {"-1005": False, str(GROUP): True}
    [goodbye] = harness.api.sent(-1005)
    assert goodbye.isascii()
    assert [int(call.params["chat_id"]) for call in harness.api.called("leaveChat")] == [-1005]


async def test_group_reply_never_uses_a_confidential_memory(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=None)  # the offline responder quotes what it recalls
    await group_with_admin(harness)
    await harness.feed(text_message(11, 11, "my bank PIN code is 4921"))
    await harness.feed(text_message(11, 11, "what is my bank PIN code?"))
    assert "4921" in harness.api.sent(11)[-1], "in private the memory is used"
    await harness.redis.hset(relation_key("telegram:11"), "messages", 0)
    harness.dispatcher["flow"].rng = FixedRandom(0.0)
    [pin] = [m for m in harness.long_term.list_memories("telegram:11") if m.text == "my bank PIN code is 4921"]
    assert pin.sensitivity == "ultrasecret", "the classifier labelled the PIN when it was stored"
    await harness.feed(text_message(GROUP, 11, "remind me, what is my bank PIN code?", mention=True))
    assert harness.api.sent(GROUP)[-1] == GROUP_WITHHELD_REPLY
    assert not any("4921" in text for text in harness.api.sent(GROUP)[1:])
    assert pin.id in {m.id for m in harness.long_term.list_memories("telegram:11")}, "withheld, not deleted"


async def test_forget_asks_for_confirmation_then_deletes_the_users_data(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await harness.feed(text_message(12, 12, "I live in Porto"))
    assert harness.long_term.count("telegram:12") == 1
    await harness.feed(text_message(12, 12, "/forget"))
    ask = harness.api.called("sendMessage")[-1].params
    assert ask["text"] == CONFIRM_TEXT
    buttons = ask["reply_markup"]["inline_keyboard"][0]
    yes = next(button["callback_data"] for button in buttons if button["text"].startswith("Yes"))
    assert ForgetCallback.unpack(yes) == ForgetCallback(user=12, confirm=True)

    async def press(by: int) -> None:
        message = {"message_id": 5, "date": int(time.time()), "chat": chat(12), "text": CONFIRM_TEXT}
        await harness.feed(
            {"callback_query": {"id": str(by), "from": user(by), "chat_instance": "x", "data": yes, "message": message}}
        )

    await press(by=13)  # someone else's tap deletes nothing
    assert harness.long_term.count("telegram:12") == 1
    await press(by=12)
    assert harness.long_term.count("telegram:12") == 0
    assert await harness.redis.exists(relation_key("telegram:12")) == 0
    assert harness.api.called("editMessageText")[-1].params["text"] == DONE_TEXT
    # the same erasure as DELETE /v1/users/{id}: nothing of the user is left in Redis or Chroma
    erased = "telegram:12"
    assert [key async for key in harness.redis.scan_iter(match=f"*{encode_part(erased)}*")] == []
    client = harness.long_term.client
    owners = [(c.metadata or {}).get(OWNER_KEY) for c in client.list_collections()]
    assert erased not in owners, "memories, versions, archive or personality state survived /forget"
    assert PersonalityStore(client, harness.redis).read_user(erased) == []


async def test_memories_are_listed_in_private_and_refused_in_groups(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await group_with_admin(harness)
    await harness.feed(text_message(14, 14, "I play the cello"))
    await harness.feed(text_message(14, 14, "/memories music instrument"))
    assert "I play the cello" in harness.api.sent(14)[-1]
    await harness.feed(text_message(GROUP, 14, "/memories"))
    assert harness.api.sent(GROUP) == ["I only show memories in a private chat with me."]


async def test_rate_limited_user_gets_one_line_from_the_errors_router(
    make_harness: HarnessFactory, redis: Redis, long_term: LongTermStore, embedder: Embedder
) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    tight = ShortTermStore(redis, per_user_per_minute=1)
    graph = build_graph(long_term=long_term, short_term=tight, embedder=embedder, chat_model=EchoChatModel(delay=0))
    harness.dispatcher["companion"].graph = graph
    await harness.feed(text_message(15, 15, "one"))
    await harness.feed(text_message(15, 15, "two"))
    first, second = harness.api.sent(15)
    assert first == "echo: one"
    assert second.startswith("slow down: you are sending messages too fast") and "\n" not in second
    [status] = [s for s in await harness.chats.snapshot() if s.chat_id == "15"]
    assert status.errors_24h == 1


async def test_outreach_goes_private_then_falls_back_to_the_last_group(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await group_with_admin(harness)
    relations: RelationshipStore = harness.dispatcher["relations"]
    assert await deliver_outreach(harness.bot, relations, 16, "thinking of you") == "dm"
    assert harness.api.sent(16) == ["thinking of you"]
    harness.api.blocked.add(16)
    assert await deliver_outreach(harness.bot, relations, 16, "still there?") == "undeliverable"
    await harness.feed(text_message(GROUP, 16, "hello", mention=True))
    assert await deliver_outreach(harness.bot, relations, 16, "still there? <3") == "channel"
    assert harness.api.sent(GROUP)[-1] == '<a href="tg://user?id=16">↪</a> still there? &lt;3'


async def test_companion_bot_telegram_polls_the_api_and_answers(
    redis_url: str, session_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """``run_telegram_bot`` as ``companion bot telegram`` runs it: real services from settings, long polling."""
    api = TelegramAPI()
    runner = await start_server(api)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(session_dir / "models", target_is_directory=True)
    settings = load_settings(data_dir=data_dir, redis_url=redis_url, telegram_token=TOKEN, telegram_api_base=api.url)
    try:
        bad = load_settings(
            data_dir=data_dir, redis_url=redis_url, telegram_token="123456:" + "x" * 35, telegram_api_base=api.url
        )
        with pytest.raises(ConfigurationError, match="Telegram rejected COMPANION_TELEGRAM_TOKEN"):
            await run_telegram_bot(bad)

        api.updates.append({"update_id": 1, **text_message(77, 77, "hello from polling")})
        task = asyncio.create_task(run_telegram_bot(settings))
        for _ in range(600):  # bounds a hung bot; not a speed assertion
            if api.sent(77) or task.done():
                break
            await asyncio.sleep(0.1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        [reply] = api.sent(77)
        assert reply.startswith("[offline]")
        assert [call.method for call in api.calls][:1] == ["getMe"] and api.called("getUpdates")
    finally:
        await runner.cleanup()


async def test_start_lists_the_commands_and_personality_shows_the_mood(make_harness: HarnessFactory) -> None:
    harness = await make_harness()
    await harness.feed(text_message(18, 18, "/start"))
    await harness.feed(text_message(18, 18, "/personality"))
    start, personality = harness.api.sent(18)
    assert "/forget" in start and "/memories" in start
    assert "Right now I feel" in personality and "pleasure" in personality


async def test_forget_declined_keeps_everything(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=EchoChatModel(delay=0))
    await harness.feed(text_message(19, 19, "I like tea"))
    no = ForgetCallback(user=19, confirm=False).pack()
    message = {"message_id": 6, "date": int(time.time()), "chat": chat(19), "text": CONFIRM_TEXT}
    await harness.feed(
        {"callback_query": {"id": "19", "from": user(19), "chat_instance": "x", "data": no, "message": message}}
    )
    assert harness.long_term.count("telegram:19") == 1
    assert harness.api.called("editMessageText")[-1].params["text"] == "Nothing was deleted."


async def test_a_stranger_in_crisis_in_a_group_is_answered_at_once_with_care(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=None, fraction=0.9)  # an ordinary stranger's draw of 111 s: no reply
    await group_with_admin(harness)
    await harness.feed(text_message(GROUP, 7, "hey bot", mention=True))
    assert harness.api.sent(GROUP)[1:] == []  # (the first is the bot's hello)
    crisis = "I sometimes think about killing myself"
    await harness.feed(text_message(GROUP, 7, crisis, mention=True))
    assert harness.api.sent(GROUP)[-1] == care_reply("self_harm", crisis_resources(None))
    assert harness.clock.slept == [0.0], "no pacing delay for someone in danger"


async def test_a_crisis_in_private_gets_care_and_is_never_used_in_a_group(make_harness: HarnessFactory) -> None:
    harness = await make_harness(chat_model=None)  # the offline responder: the care reply is its own
    await group_with_admin(harness)
    crisis = "I sometimes think about killing myself"
    await harness.feed(text_message(15, 15, crisis))
    reply = harness.api.sent(15)[-1]
    assert reply == care_reply("self_harm", crisis_resources(None)), "the care reply, with where to find help"
    [stored] = [m for m in harness.long_term.list_memories("telegram:15") if m.text == crisis]
    assert security_level(stored.sensitivity) >= security_level(Sensitivity.CONFIDENTIAL) and "crisis" in stored.tags
    await harness.redis.hset(relation_key("telegram:15"), "messages", 0)
    harness.dispatcher["flow"].rng = FixedRandom(0.0)
    await harness.feed(text_message(GROUP, 15, "what have I been thinking about killing lately?", mention=True))
    assert not any("killing myself" in text for text in harness.api.sent(GROUP)[1:])
