"""The conversation graph end to end over real Redis, real Chroma and the real embedder.

Only the chat model is faked (LangChain's ``GenericFakeChatModel``); one test injects a Chroma write failure by
subclassing our own ``LongTermStore``.
"""

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from chromadb.api import ClientAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field
from redis.asyncio import Redis

from companion.core.errors import InvalidInputError, RateLimitedError, StoreUnavailableError
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.profiles import interactions_key
from memory.records import MemoryKind, MemoryRecord
from memory.short_term import ASSOCIATION_STREAM, ShortTermStore, last_active_key, turns_key


class RecordingChatModel(GenericFakeChatModel):
    """LangChain's fake chat model that also keeps every message list it was sent."""

    received: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def recording_model(*replies: str) -> RecordingChatModel:
    return RecordingChatModel(messages=iter([AIMessage(reply) for reply in replies]))


class FailingLongTermStore(LongTermStore):
    """Our own store with a switchable fault in ``add``: what a Chroma outage looks like to the graph."""

    fail = False

    def add(self, user_id: str, records: Sequence[MemoryRecord], embeddings: np.ndarray) -> None:
        if self.fail:
            raise StoreUnavailableError("Chroma is not usable: injected failure")
        super().add(user_id, records, embeddings)


def graph_over(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, **options: Any) -> Any:
    return build_graph(
        long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver(), **options
    )


async def redis_turns(redis: Redis, user_id: str, conversation_id: str) -> list[tuple[str, str]]:
    raw = await redis.lrange(turns_key(user_id, conversation_id), 0, -1)
    return [(turn["role"], turn["content"]) for turn in map(json.loads, raw)]


async def association_entries(redis: Redis) -> list[dict[str, str]]:
    entries: list[Any] = await redis.xrange(ASSOCIATION_STREAM) or []
    return [{key.decode(): value.decode() for key, value in fields.items()} for _, fields in entries]


def memory_texts(state: dict[str, Any]) -> list[str]:
    return [memory["text"] for memory in state["memories"]]


# -- responders ----------------------------------------------------------------------------------------------
async def test_offline_responder_quotes_a_fact_stated_earlier(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    first = await run_turn(graph, user_id="alice", message="I have a cat called Miso.")
    assert first["responder"] == "offline"
    assert first["reply"].startswith("[offline]")

    asked = await run_turn(graph, user_id="alice", conversation_id="later", message="What is my cat called?")
    assert asked["responder"] == "offline"
    assert asked["reply"].startswith("[offline]")
    assert "I have a cat called Miso." in asked["reply"]


async def test_offline_responder_says_it_has_nothing_when_nothing_is_remembered(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    state = await run_turn(graph, user_id="alice", message="What is my cat called?")
    assert state["memories"] == []
    assert state["reply"].startswith("[offline]")
    assert "nothing on that yet" in state["reply"]


async def test_chat_model_reply_is_returned_and_its_system_prompt_holds_the_retrieved_memory(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    model = recording_model("Lovely, tell me about Miso!", "Your cat is called Miso.")
    graph = graph_over(long_term, short_term, embedder, chat_model=model)
    await run_turn(graph, user_id="alice", message="I have a cat called Miso.")
    state = await run_turn(graph, user_id="alice", message="What is my cat called?")

    assert state["reply"] == "Your cat is called Miso."
    assert state["responder"] != "offline"
    assert "I have a cat called Miso." in memory_texts(state)
    sent = model.received[-1]
    assert isinstance(sent[0], SystemMessage)
    assert "- I have a cat called Miso." in sent[0].text
    assert "(nothing relevant yet)" not in sent[0].text
    # Then the recent turns of the conversation, then the new message.
    assert [(type(m), m.text) for m in sent[1:]] == [
        (HumanMessage, "I have a cat called Miso."),
        (AIMessage, "Lovely, tell me about Miso!"),
        (HumanMessage, "What is my cat called?"),
    ]
    # The first turn had nothing to retrieve and said so.
    assert "(nothing relevant yet)" in model.received[0][0].text


# -- Chroma before Redis -------------------------------------------------------------------------------------
async def test_a_turn_is_written_to_chroma_with_its_reply_then_to_redis_and_the_association_stream(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    graph = graph_over(long_term, short_term, embedder, chat_model=recording_model("Miso is a great name."))
    state = await run_turn(graph, user_id="alice", conversation_id="c1", message="  I have a cat called Miso.  ")

    stored = long_term.get("alice", state["memory_id"])
    assert stored is not None
    assert stored.text == "I have a cat called Miso."
    assert stored.reply == "Miso is a great name."
    assert stored.user_id == "alice"
    assert stored.conversation_id == "c1"

    assert await redis_turns(redis, "alice", "c1") == [
        ("user", "I have a cat called Miso."),
        ("assistant", "Miso is a great name."),
    ]
    entries = await association_entries(redis)
    assert len(entries) == 1
    assert entries[0]["user_id"] == "alice"
    assert entries[0]["memory_id"] == state["memory_id"]
    assert entries[0]["conversation_id"] == "c1"


async def test_the_checkpoint_keeps_neither_the_message_embedding_nor_the_personality_state(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    state = await run_turn(graph, user_id="ckpt-ann", message="My cat Mochi likes boxes.")
    assert state["memory_id"]  # the write, which reads the embedding, ran
    config = {"configurable": {"thread_id": "ckpt-ann:default"}}
    saved = (await graph.aget_state(config)).values
    assert saved["message"] == "My cat Mochi likes boxes." and saved["memories"] == state["memories"]
    assert "query_embedding" not in saved and "personality" not in saved
    again = await run_turn(graph, user_id="ckpt-ann", message="What does my cat like?")
    assert "My cat Mochi likes boxes." in memory_texts(again)  # the next turn computes its own


async def test_when_the_chroma_write_fails_nothing_of_the_turn_reaches_redis(
    chroma_client: ClientAPI, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    long_term = FailingLongTermStore(chroma_client)
    graph = graph_over(long_term, short_term, embedder)
    long_term.fail = True
    with pytest.raises(StoreUnavailableError, match="injected failure"):
        await run_turn(graph, user_id="alice", conversation_id="c1", message="I have a cat called Miso.")
    assert long_term.count("alice") == 0
    assert await redis.exists(turns_key("alice", "c1"), last_active_key("alice")) == 0
    assert await association_entries(redis) == []

    # With earlier turns in place, a failed turn leaves them exactly as they were.
    long_term.fail = False
    await run_turn(graph, user_id="alice", conversation_id="c1", message="I have a cat called Miso.")
    before = await redis_turns(redis, "alice", "c1")
    long_term.fail = True
    with pytest.raises(StoreUnavailableError):
        await run_turn(graph, user_id="alice", conversation_id="c1", message="She is three years old.")
    assert await redis_turns(redis, "alice", "c1") == before
    assert len(before) == 2
    assert len(await association_entries(redis)) == 1
    assert long_term.count("alice") == 1


# -- recall --------------------------------------------------------------------------------------------------
FACTS = [
    ("My dog is a golden retriever called Biscuit.", "What is my dog's name?"),
    ("I moved to Lisbon last spring.", "Which city do I live in?"),
    ("My sister Ana is getting married in June.", "Who is getting married soon?"),
    ("I started learning the cello on Tuesdays.", "What instrument am I learning?"),
    ("I work as a nurse at the children's hospital.", "What do I do for a living?"),
    ("I'm allergic to peanuts, so I have to be careful.", "What food allergy do I have?"),
]
FILLER = [
    "Hi there, how are you today?",
    "Work has been hectic this week, far too many meetings.",
    "Honestly I just want a quiet weekend with a good book.",
    "The weather was grey and rainy all day.",
    "I watched a documentary about space last night.",
    "Coffee is the only thing keeping me going.",
    "I tidied my flat this morning.",
    "Not much happening, just a slow afternoon.",
    "Do you ever get bored?",
    "Thanks for listening to me ramble.",
]


async def test_every_fact_told_among_small_talk_is_recalled_in_the_top_three_in_a_new_conversation(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    script = [FILLER[0]]
    for index, (fact, _) in enumerate(FACTS):
        script += [fact, FILLER[index + 1]]
    script += FILLER[len(FACTS) + 1 :]
    for message in script:
        await run_turn(graph, user_id="sam", conversation_id="monday", message=message)
    assert long_term.count("sam") == len(FACTS) + len(FILLER)

    for fact, question in FACTS:
        state = await run_turn(graph, user_id="sam", conversation_id="friday", message=question)
        # Nothing the user said in the first conversation is in this one's short-term context.
        assert not {turn["content"] for turn in state["context"] if turn["role"] == "user"} & set(script)
        assert fact in memory_texts(state)[:3], (question, memory_texts(state))


# -- isolation -----------------------------------------------------------------------------------------------
USER_FACTS = {
    "ana": [
        "My dog is a beagle called Pepper.",
        "I live in a small flat in Porto.",
        "My favourite food is grilled sardines.",
        "I work as a software engineer.",
    ],
    "ben": [
        "My dog is a poodle called Rex.",
        "I live in a house in Berlin.",
        "My favourite food is ramen.",
        "I work as a primary school teacher.",
    ],
}
PROBES = [
    "What is my dog called?",
    "What breed is my dog?",
    "Tell me about my pet.",
    "Where do I live?",
    "Which city is my home?",
    "Do I live in a flat or a house?",
    "What is my favourite food?",
    "What do I like to eat?",
    "What is my job?",
    "Where do I work?",
    "What do you remember about me?",
    "Remind me what I told you.",
    "Do I have any animals?",
    "Is my dog a beagle or a poodle?",
    "Is my name Ana or Ben?",
    "Do I live in Porto or Berlin?",
    "Do I like sardines or ramen?",
    "Am I a teacher or an engineer?",
    "What is Pepper?",
    "Who is Rex?",
    "Tell me everything about my home, my dog and my work.",
]


async def test_two_users_with_overlapping_facts_never_see_each_others_memories(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder, retrieval_k=10)
    own_ids: dict[str, set[str]] = {user: set() for user in USER_FACTS}
    for user, facts in USER_FACTS.items():
        for fact in facts:
            own_ids[user].add((await run_turn(graph, user_id=user, message=fact))["memory_id"])

    retrieved_any = dict.fromkeys(USER_FACTS, 0)
    for probe in PROBES:
        for user, other in (("ana", "ben"), ("ben", "ana")):
            state = await run_turn(graph, user_id=user, conversation_id="probes", message=probe)
            ids = {memory["id"] for memory in state["memories"]}
            assert ids <= own_ids[user], (user, probe)
            assert not ids & own_ids[other], (user, probe)
            assert not set(memory_texts(state)) & set(USER_FACTS[other]), (user, probe)
            retrieved_any[user] += len(ids)
            own_ids[user].add(state["memory_id"])
    assert all(count > 0 for count in retrieved_any.values())  # the probes did retrieve something
    assert long_term.count("ana") == long_term.count("ben") == len(USER_FACTS["ana"]) + len(PROBES)
    assert {record.id for record in long_term.list_memories("ana", limit=1000)} == own_ids["ana"]


async def test_long_term_store_rejects_a_record_of_another_user(long_term: LongTermStore, embedder: Embedder) -> None:
    record = MemoryRecord(id="m1", user_id="ben", text="My dog is a poodle called Rex.")
    with pytest.raises(ValueError, match="another user"):
        long_term.add("ana", [record], embedder.embed([record.text]))
    assert long_term.count("ana") == 0
    assert long_term.count("ben") == 0


async def test_search_for_a_user_without_memories_returns_nothing(long_term: LongTermStore, embedder: Embedder) -> None:
    record = MemoryRecord(id="m1", user_id="ben", text="My dog is a poodle called Rex.")
    long_term.add("ben", [record], embedder.embed([record.text]))
    query = embedder.embed(["What is my dog called?"])[0]
    assert long_term.search("ana", query, 10) == []
    assert [candidate.id for candidate in long_term.search("ben", query, 10)] == ["m1"]


async def test_a_record_read_back_from_chroma_equals_the_one_stored(
    long_term: LongTermStore, embedder: Embedder
) -> None:
    record = MemoryRecord(
        id="m1",
        user_id="ana",
        text="My dog is a beagle called Pepper.",
        kind=MemoryKind.SEMANTIC,
        importance=700,
        category="pets",
        emotion="joy",
        emotion_intensity=2,
        created_at=1_700_000_000.123456,
        last_accessed=1_700_000_500.654321,
        version=3,
        conversation_id="c:1",
        reply="Pepper is a great name.",
    )
    long_term.add("ana", [record], embedder.embed([record.text]))
    assert long_term.get("ana", "m1") == record
    assert long_term.get("ben", "m1") is None
    assert long_term.list_memories("ana") == [record]


async def test_forgetting_a_user_leaves_users_whose_ids_extend_theirs(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    for user in ("a", "a:c:b", "ab"):
        await run_turn(graph, user_id=user, conversation_id="d", message=f"Hello from {user}.")
    # the turns, last_active, personality-cache and interaction-log keys of "a"
    assert await short_term.forget_user("a") == 4
    assert await redis.exists(turns_key("a", "d"), last_active_key("a"), interactions_key("a")) == 0
    assert await redis.exists(interactions_key("a:c:b"), interactions_key("ab")) == 2
    assert [role for role, _ in await redis_turns(redis, "a:c:b", "d")] == ["user", "assistant"]
    assert await redis.exists(last_active_key("a:c:b"), last_active_key("ab"), turns_key("ab", "d")) == 3


# -- recovery ------------------------------------------------------------------------------------------------
async def test_after_redis_loses_everything_the_context_is_rebuilt_from_chroma_in_order(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    replies = ["Hello Sam!", "Biscuit sounds lovely.", "Lisbon is beautiful.", "You said Biscuit and Lisbon."]
    graph = graph_over(long_term, short_term, embedder, chat_model=recording_model(*replies))
    said = ["Hi, I'm Sam.", "My dog is called Biscuit.", "I live in Lisbon."]
    for message in said:
        await run_turn(graph, user_id="sam", conversation_id="c1", message=message)
    earlier = [turn for you, me in zip(said, replies[:3], strict=True) for turn in (("user", you), ("assistant", me))]
    assert await redis_turns(redis, "sam", "c1") == earlier
    count_before = long_term.count("sam")

    await redis.flushall()
    state = await run_turn(graph, user_id="sam", conversation_id="c1", message="What did I tell you?")

    assert state["context_source"] == "chroma"
    assert [(turn["role"], turn["content"]) for turn in state["context"]] == earlier
    assert state["reply"] == "You said Biscuit and Lisbon."
    assert await redis_turns(redis, "sam", "c1") == [
        *earlier,
        ("user", "What did I tell you?"),
        ("assistant", "You said Biscuit and Lisbon."),
    ]
    assert long_term.count("sam") == count_before + 1

    # And the next turn reads Redis again.
    graph = graph_over(long_term, short_term, embedder, chat_model=recording_model("Sure."))
    again = await run_turn(graph, user_id="sam", conversation_id="c1", message="Thanks!")
    assert again["context_source"] == "redis"
    assert len(again["context"]) == len(earlier) + 2


async def test_a_conversation_without_earlier_turns_has_empty_context(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    await run_turn(graph, user_id="sam", conversation_id="c1", message="My dog is called Biscuit.")
    state = await run_turn(graph, user_id="sam", conversation_id="c2", message="Hello again.")
    assert state["context_source"] == "empty"
    assert state["context"] == []


# -- activity-based TTL --------------------------------------------------------------------------------------
async def test_a_first_message_gets_the_inactive_ttl_and_a_second_one_the_active_ttl(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    assert (short_term.inactive_ttl, short_term.active_ttl) == (3600, 86400)
    graph = graph_over(long_term, short_term, embedder)
    key = turns_key("sam", "c1")

    await run_turn(graph, user_id="sam", conversation_id="c1", message="Hello!")
    first_ttl = await redis.ttl(key)
    assert 3000 < first_ttl <= 3600

    await run_turn(graph, user_id="sam", conversation_id="c1", message="Me again.")
    second_ttl = await redis.ttl(key)
    assert 86000 < second_ttl <= 86400


# -- rate limit ----------------------------------------------------------------------------------------------
async def test_the_message_over_the_rate_limit_is_rejected_and_not_stored_while_others_go_on(
    long_term: LongTermStore, embedder: Embedder, redis: Redis
) -> None:
    short_term = ShortTermStore(redis, per_user_per_minute=3)
    graph = graph_over(long_term, short_term, embedder)
    for index in range(3):
        await run_turn(graph, user_id="sam", conversation_id="c1", message=f"Message number {index}.")

    with pytest.raises(RateLimitedError, match="retry in") as caught:
        await run_turn(graph, user_id="sam", conversation_id="c1", message="One too many.")
    assert caught.value.retry_after >= 1
    assert caught.value.exit_code == 3

    assert long_term.count("sam") == 3
    assert "One too many." not in {record.text for record in long_term.list_memories("sam")}
    turns = await redis_turns(redis, "sam", "c1")
    assert len(turns) == 6
    assert ("user", "One too many.") not in turns
    assert len(await association_entries(redis)) == 3

    other = await run_turn(graph, user_id="tom", conversation_id="c1", message="Hello, I'm Tom.")
    assert other["memory_id"]
    assert long_term.count("tom") == 1


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("user_id", "conversation_id", "message", "problem"),
    [
        ("sam", "c1", "", "message is empty"),
        ("sam", "c1", " \t\n  ", "message is empty"),
        ("sam", "c1", "x" * 51, "message is 51 characters long; the limit is 50"),
        ("sam", "c1", "nul \x00 inside", "NUL"),
        ("bad user!", "c1", "hello", "invalid user id 'bad user!'"),
        ("", "c1", "hello", "invalid user id ''"),
        ("u" * 200, "c1", "hello", "invalid user id"),
        ("-sam", "c1", "hello", "invalid user id"),
        ("sam", "bad conversation!", "hello", "invalid conversation id 'bad conversation!'"),
        ("sam", "", "hello", "invalid conversation id ''"),
        ("sam", "c" * 200, "hello", "invalid conversation id"),
    ],
    ids=[
        "empty",
        "whitespace",
        "too-long",
        "nul",
        "user-with-space",
        "empty-user",
        "long-user",
        "user-starting-with-dash",
        "conversation-with-space",
        "empty-conversation",
        "long-conversation",
    ],
)
async def test_bad_input_raises_a_named_error_and_writes_nothing(
    chroma_client: ClientAPI,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    embedder: Embedder,
    redis: Redis,
    user_id: str,
    conversation_id: str,
    message: str,
    problem: str,
) -> None:
    graph = graph_over(long_term, short_term, embedder, max_message_chars=50)
    with pytest.raises(InvalidInputError) as caught:
        await run_turn(graph, user_id=user_id, conversation_id=conversation_id, message=message)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
    assert chroma_client.list_collections() == []
    assert await redis.keys("*") == []
    assert await association_entries(redis) == []


async def test_a_message_of_exactly_the_limit_is_accepted(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder, max_message_chars=50)
    state = await run_turn(graph, user_id="sam", message="  " + "x" * 50 + "  ")
    stored = long_term.get("sam", state["memory_id"])
    assert stored is not None
    assert stored.text == "x" * 50
