"""The Discord bot end to end without a network: discord.py's own state, cogs and command tree, driven by dpytest
(which replaces discord.py's ``HTTPClient`` with a local fake and dispatches gateway events), over real Redis,
real Chroma and the real embedder. Only the chat model is fake.

Slash commands run through ``CommandTree._call`` with a real ``discord.Interaction`` built from an interaction
payload; interaction responses leave through discord.py's webhook adapter, which the test swaps for one that
records the requests (dpytest 0.7 does not cover interactions).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from bot_support import EchoChatModel, ManualClock, bot_eraser, services_over
from discord.webhook.async_ import AsyncWebhookAdapter, async_context
from langchain_core.language_models import BaseChatModel
from redis.asyncio import Redis

from bots.common.chat_manager import ChatManager
from bots.common.companion import GROUP_WITHHELD_REPLY, Companion
from bots.common.relationships import RelationshipStore
from bots.discord.bot import CompanionBot, default_intents
from graphs.conversation import build_graph
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.sensitivity import Sensitivity, security_level
from memory.short_term import ShortTermStore
from tools.care import care_reply, crisis_resources

pytestmark = pytest.mark.filterwarnings("ignore:`durability` has no effect:UserWarning")
_snowflakes = itertools.count(1_300_000_000_000_000_000)


def bot_intents() -> discord.Intents:
    """The bot's intents plus members, so dpytest's fake guild caches its members."""
    intents = default_intents()
    intents.members = True
    return intents


BotFactory = Callable[..., Awaitable[CompanionBot]]


@pytest.fixture
async def make_bot(
    redis: Redis,
    redis_url: str,
    tmp_path: Path,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    embedder: Embedder,
) -> AsyncIterator[BotFactory]:
    services = services_over(tmp_path, redis_url, redis, long_term, short_term, embedder)

    async def factory(*, chat_model: BaseChatModel | None = None) -> CompanionBot:
        graph = build_graph(long_term=long_term, short_term=short_term, embedder=embedder, chat_model=chat_model)
        clock = ManualClock()
        bot = CompanionBot(
            companion=Companion(
                graph=graph, long_term=long_term, short_term=short_term, embedder=embedder, eraser=bot_eraser(services)
            ),
            relations=RelationshipStore(redis, clock=clock),
            chats=ChatManager(redis, platform="discord", clock=clock),
            clock=clock,
            intents=bot_intents(),
        )
        await bot._async_setup_hook()
        await bot.setup_hook()
        dpytest.configure(bot, members=2)
        return bot

    yield factory
    await dpytest.empty_queue()


def sent() -> list[discord.Message]:
    """Messages the bot sent since the last call, oldest first."""
    messages = []
    while not dpytest.sent_queue.empty():
        messages.append(dpytest.get_message())
    return messages


def member(index: int = 0) -> discord.Member:
    return dpytest.get_config().members[index]


def channel() -> discord.TextChannel:
    return dpytest.get_config().channels[0]


async def test_dm_is_answered_and_remembered(make_bot: BotFactory, long_term: LongTermStore) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    dm = await member().create_dm()
    await dpytest.message("my dog is called Rex", channel=dm, member=member())
    [reply] = sent()
    assert reply.content == "echo: my dog is called Rex"
    assert reply.channel.id == dm.id
    [memory] = long_term.list_memories(f"discord:{member().id}")
    assert (memory.text, memory.conversation_id) == ("my dog is called Rex", "discord:dm")
    assert bot.get_cog("ConversationCog") is not None


async def test_channel_messages_are_answered_only_when_the_bot_is_mentioned(make_bot: BotFactory) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    await dpytest.message("just chatting among ourselves", channel=channel(), member=member())
    assert sent() == []
    assert bot.user is not None
    await dpytest.message(f"<@{bot.user.id}> what's up?", channel=channel(), member=member())
    [reply] = sent()
    assert reply.content == "echo: what's up?"


async def test_a_channel_reply_sees_what_the_channel_just_said(make_bot: BotFactory) -> None:
    model = EchoChatModel(delay=0)
    bot = await make_bot(chat_model=model)
    assert bot.user is not None
    await dpytest.message("the concert got moved to saturday", channel=channel(), member=member(1))
    await dpytest.message("oh no, I can't make saturday", channel=channel(), member=member())
    await dpytest.message(f"<@{bot.user.id}> what should we do?", channel=channel(), member=member())
    [reply] = sent()
    assert reply.content == "echo: what should we do?"
    said = model.systems[-1]
    first, second = member(1).display_name, member().display_name
    assert f"- {first}: the concert got moved to saturday\n- {second}: oh no, I can't make saturday" in said


async def test_concurrent_messages_wait_for_each_other_and_each_gets_one_answer(
    make_bot: BotFactory, long_term: LongTermStore
) -> None:
    model = EchoChatModel(delay=0.05)
    await make_bot(chat_model=model)
    dm = await member().create_dm()
    texts = [f"note {index}" for index in range(4)]
    await asyncio.gather(*(dpytest.message(text, channel=dm, member=member()) for text in texts))
    await dpytest.run_all_events()
    assert model.peak == 1, "turns of one conversation overlapped"
    assert sorted(m.content for m in sent()) == sorted(f"echo: {text}" for text in texts)
    assert sorted(m.text for m in long_term.list_memories(f"discord:{member().id}")) == sorted(texts)


async def test_long_replies_are_split_at_the_discord_limit(make_bot: BotFactory) -> None:
    model = EchoChatModel(delay=0, reply_suffix=" and more" * 600)  # ~5,400 characters
    await make_bot(chat_model=model)
    dm = await member().create_dm()
    await dpytest.message("tell me everything", channel=dm, member=member())
    chunks = [m.content for m in sent()]
    assert len(chunks) == 3 and all(len(chunk) <= 2000 for chunk in chunks)
    assert " ".join(chunks) == "echo: tell me everything" + " and more" * 600


async def test_outreach_is_a_dm_and_falls_back_to_the_last_channel_when_dms_are_closed(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    person = member()
    assert await bot.deliver_outreach(person.id, "thinking of you") == "dm"
    [dm_message] = sent()
    assert dm_message.content == "thinking of you" and isinstance(dm_message.channel, discord.DMChannel)

    dm_channel_id = dm_message.channel.id
    real_send = bot.http.send_message

    async def send_message(channel_id: int, *args: Any, **kwargs: Any) -> Any:
        if int(channel_id) == dm_channel_id:  # what Discord answers when a user's DMs are closed
            response = SimpleNamespace(status=403, reason="Forbidden")
            raise discord.Forbidden(response, {"code": 50007, "message": "Cannot send messages to this user"})
        channel = bot.get_channel(int(channel_id))  # noqa: F841 - dpytest's fake HTTP reads its caller's `channel`
        return await real_send(channel_id, *args, **kwargs)

    monkeypatch.setattr(bot.http, "send_message", send_message)
    assert await bot.deliver_outreach(person.id, "are you there?") == "undeliverable"  # no channel on record yet
    assert bot.user is not None
    await dpytest.message(f"<@{bot.user.id}> hi", channel=channel(), member=person)
    sent()
    assert await bot.deliver_outreach(person.id, "are you there?") == "channel"
    [fallback] = sent()
    assert fallback.channel.id == channel().id
    assert fallback.content == f"{person.mention} are you there?"


async def test_channel_reply_never_uses_a_confidential_memory(make_bot: BotFactory, long_term: LongTermStore) -> None:
    bot = await make_bot(chat_model=None)  # the offline responder quotes what it recalls
    assert bot.user is not None
    person = member()
    dm = await person.create_dm()
    await dpytest.message("my passport number is X1234567", channel=dm, member=person)
    sent()
    user_id = f"discord:{person.id}"
    [passport] = long_term.list_memories(user_id)
    assert passport.sensitivity == "ultrasecret", "the classifier labelled it when it was stored"
    await dpytest.message(f"<@{bot.user.id}> what is my passport number?", channel=channel(), member=person)
    [reply] = sent()
    assert reply.content == GROUP_WITHHELD_REPLY
    await dpytest.message("what is my passport number?", channel=dm, member=person)
    [private_reply] = sent()
    assert "X1234567" in private_reply.content


async def test_a_crisis_gets_care_in_a_dm_and_in_a_channel_and_is_never_used_in_a_channel_reply(
    make_bot: BotFactory, long_term: LongTermStore
) -> None:
    bot = await make_bot(chat_model=None)  # the offline responder: the care reply is the companion's own
    assert bot.user is not None
    person, other = member(0), member(1)
    crisis = "I sometimes think about killing myself"
    dm = await person.create_dm()
    await dpytest.message(crisis, channel=dm, member=person)
    [reply] = sent()
    assert reply.content == care_reply("self_harm", crisis_resources(None)), "care, with where to find help"
    [stored] = [m for m in long_term.list_memories(f"discord:{person.id}") if m.text == crisis]
    assert security_level(stored.sensitivity) >= security_level(Sensitivity.CONFIDENTIAL) and "crisis" in stored.tags

    await dpytest.message(f"<@{bot.user.id}> what have I been thinking about lately?", channel=channel(), member=person)
    [channel_reply] = sent()
    assert "killing" not in channel_reply.content  # a shared channel never hears it

    # said in the channel itself: the answer is care there too, and the message stays out of later channel replies
    await dpytest.message(f"<@{bot.user.id}> honestly I want to end my life", channel=channel(), member=other)
    [care] = sent()
    assert care.content == care_reply("self_harm", crisis_resources(None))
    await dpytest.message(f"<@{bot.user.id}> what did I tell you?", channel=channel(), member=other)
    [later] = sent()
    assert "end my life" not in later.content


# -- slash commands ----------------------------------------------------------------------------------------------
class RecordingWebhookAdapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter, answering interaction requests locally and recording them."""

    def __init__(self, author: dict[str, Any]) -> None:
        super().__init__()
        self.author = author
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, route: Any, session: Any, *, payload: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.requests.append((route.method, route.path, payload or {}))
        if route.path.endswith("/callback"):
            flags = (payload or {}).get("data", {}) or {}
            return {
                "interaction": {
                    "id": str(route.webhook_id),
                    "type": 2,
                    "response_message_loading": payload is not None and payload.get("type") == 5,
                    "response_message_ephemeral": bool(flags.get("flags", 0) & 64),
                }
            }
        return {
            "id": str(next(_snowflakes)),
            "channel_id": str(channel().id),
            "type": 0,
            "content": (payload or {}).get("content", ""),
            "author": self.author,
            "timestamp": "2026-11-25T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": (payload or {}).get("flags", 0),
        }

    def responses(self) -> list[tuple[str, int]]:
        """(content, flags) of every message sent as an interaction response or follow-up."""
        out = []
        for _, path, payload in self.requests:
            if path.endswith("/callback"):
                data = payload.get("data") or {}
                if "content" in data:
                    out.append((data["content"], data.get("flags", 0)))
            else:
                out.append((payload.get("content", ""), payload.get("flags", 0)))
        return out


async def run_slash(
    bot: CompanionBot, name: str, options: list[dict[str, Any]], person: discord.Member
) -> RecordingWebhookAdapter:
    assert bot.user is not None
    author = {"id": str(bot.user.id), "username": bot.user.name, "discriminator": "0000", "avatar": None, "bot": True}
    adapter = RecordingWebhookAdapter(author)
    token = async_context.set(adapter)
    user = {"id": str(person.id), "username": person.name, "discriminator": "0001", "avatar": None}
    payload = {
        "id": str(next(_snowflakes)),
        "application_id": str(bot.user.id),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "channel_id": str(channel().id),
        "channel": {"id": str(channel().id), "type": 0, "guild_id": str(channel().guild.id), "name": channel().name},
        "guild_id": str(channel().guild.id),
        "member": {
            "user": user,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "0",
        },
        "data": {"id": str(next(_snowflakes)), "name": name, "type": 1, "options": options},
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "0",
        "entitlements": [],
        "attachment_size_limit": 8 * 1024 * 1024,
    }
    try:
        interaction: discord.Interaction = discord.Interaction(data=payload, state=bot._connection)  # type: ignore[arg-type]
        await bot.tree._call(interaction)
    finally:
        async_context.reset(token)
    return adapter


async def test_slash_companion_answers_in_the_channel(make_bot: BotFactory, long_term: LongTermStore) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    adapter = await run_slash(
        bot, "companion", [{"name": "message", "type": 3, "value": "I start a new job on Monday"}], member()
    )
    assert adapter.requests[0][2]["type"] == 5, "deferred first (a turn can take longer than 3 s)"
    assert adapter.responses() == [("echo: I start a new job on Monday", 0)]
    [memory] = long_term.list_memories(f"discord:{member().id}")
    assert memory.conversation_id == f"discord:chat:{channel().id}"


async def test_slash_memories_searches_your_own_memories_ephemerally(make_bot: BotFactory) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    dm = await member(0).create_dm()
    await dpytest.message("I am learning to play the violin", channel=dm, member=member(0))
    other_dm = await member(1).create_dm()
    await dpytest.message("I collect violins from Cremona", channel=other_dm, member=member(1))
    sent()
    adapter = await run_slash(bot, "memories", [{"name": "query", "type": 3, "value": "music"}], member(0))
    [(content, flags)] = adapter.responses()
    assert flags & 64, "only the caller sees it"
    assert "learning to play the violin" in content and "Cremona" not in content


async def test_slash_personality_is_ephemeral_and_shows_the_mood_with_the_caller(make_bot: BotFactory) -> None:
    bot = await make_bot()
    adapter = await run_slash(bot, "personality", [], member())
    [(content, flags)] = adapter.responses()
    assert flags & 64 and "Right now I feel" in content and "pleasure" in content


async def test_slash_command_errors_are_one_ephemeral_line(
    make_bot: BotFactory, redis: Redis, long_term: LongTermStore, embedder: Embedder
) -> None:
    bot = await make_bot(chat_model=EchoChatModel(delay=0))
    tight = ShortTermStore(redis, per_user_per_minute=1)
    bot.companion.graph = build_graph(
        long_term=long_term, short_term=tight, embedder=embedder, chat_model=EchoChatModel(delay=0)
    )
    await run_slash(bot, "companion", [{"name": "message", "type": 3, "value": "one"}], member())
    adapter = await run_slash(bot, "companion", [{"name": "message", "type": 3, "value": "two"}], member())
    [(content, flags)] = adapter.responses()
    assert content.startswith("slow down:") and flags & 64
