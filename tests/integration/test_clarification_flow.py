"""Reflection's user-clarification strategy end to end: planted conflicting facts -> reflection queues a question
-> the next chat turn asks it -> the user's answer settles the conflict, recorded and reversible.

Real Redis, real Chroma, the real embedder, the real conversation and reflection graphs; only the chat model is
faked (``FakeChatModel`` from conftest, and a recording one to see the system prompt).
"""

from __future__ import annotations

import time
from typing import Any

from chromadb.api import ClientAPI
from langchain_core.messages import SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from graphs.conversation import build_graph as build_conversation
from graphs.conversation import run_turn
from graphs.reflection import archive_store, run_reflection
from graphs.reflection import build_graph as build_reflection
from memory.clarifications import ClarificationQueue, clarify_key
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore
from tests.conftest import fake_chat_model
from tests.integration.test_conversation_graph import recording_model
from tools.reflection_actions import pending_questions, undo_conflict

USER = "clarify-user"
LOVE, HATE = "I love jazz", "I hate jazz"


class World:
    def __init__(self, chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder):
        self.long_term, self.short_term, self.embedder = long_term, short_term, embedder
        self.log = ReflectionLog(chroma, cipher=long_term.cipher)  # as the services build it
        self.queue = ClarificationQueue(short_term.redis)

    def plant(self, memory_id: str, text: str, at: float) -> MemoryRecord:
        record = MemoryRecord(id=memory_id, user_id=USER, text=text, importance=500, created_at=at)
        self.long_term.add(USER, [record], self.embedder.embed([text]))
        return record

    def importance(self, memory_id: str) -> int:
        record = self.long_term.get(USER, memory_id)
        assert record is not None
        return record.importance

    async def reflect(self, chat_model: Any = None, *, now: float | None = None) -> dict[str, Any]:
        graph = build_reflection(
            long_term=self.long_term,
            archive=archive_store(self.long_term),
            short_term=self.short_term,
            log=self.log,
            embedder=self.embedder,
            chat_model=chat_model,
        )
        return await run_reflection(graph, user_id=USER, now=now or time.time() + 60, tasks=["conflicts"])

    def chat(self, chat_model: Any = None) -> Any:
        """The conversation graph, with a checkpointer as the app has (state carried from turn to turn)."""
        return build_conversation(
            long_term=self.long_term,
            short_term=self.short_term,
            embedder=self.embedder,
            chat_model=chat_model,
            checkpointer=InMemorySaver(),
        )


def world_of(chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder) -> World:
    world = World(chroma, long_term, short_term, embedder)
    now = time.time()
    # the same day, the same importance: reflection cannot decide, so it asks the user
    world.plant("m-love", LOVE, now - 3600)
    world.plant("m-hate", HATE, now - 3000)
    return world


async def test_the_next_turn_asks_the_queued_question_once_and_the_answer_settles_the_conflict(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    world = world_of(chroma_client, long_term, short_term, embedder)
    report = await world.reflect()
    [conflict] = report["conflicts"]
    assert conflict["strategy"] == "user_clarification" and conflict["status"] == "awaiting_user"
    assert report["clarifications"]["newly_queued"] == 1
    [queued] = await world.queue.pending(USER)
    assert queued.asked_at is None and LOVE in queued.question and HATE in queued.question

    chat = world.chat()
    asked = await run_turn(chat, user_id=USER, message="Good morning! What a sunny day.")
    assert asked["reply"].startswith("[offline]")  # the offline responder, clearly labelled, asks it
    assert "One thing to clear up:" in asked["reply"] and queued.question in asked["reply"]
    assert asked["clarification"]["outcome"]["status"] == "asked"
    [marked] = await world.queue.pending(USER)
    assert marked.asked_at is not None and marked.asked_in == asked["memory_id"]

    answered = await run_turn(chat, user_id=USER, message="Oh, I love it, I really do love jazz.")
    assert "clear up" not in answered["reply"]  # asked once, not on every turn
    outcome = answered["clarification"]["outcome"]
    assert outcome == {"conflict_id": conflict["id"], "status": "resolved", "kept_id": "m-love", "loser_id": "m-hate"}
    assert await world.queue.pending(USER) == [] and not await redis.exists(clarify_key(USER))
    assert world.importance("m-hate") == 250 and world.importance("m-love") == 500  # 500 × 0.5
    entry = world.log.get(USER, [conflict["id"]])[conflict["id"]]
    assert entry.status == "resolved" and entry.data["resolved_by"] == "user_answer"
    assert entry.data["answer"] == "Oh, I love it, I really do love jazz."
    assert entry.data["answer_memory_id"] == answered["memory_id"] and entry.data["asked_at"] == marked.asked_at
    assert pending_questions(world.log, USER) == []

    later = await run_turn(chat, user_id=USER, message="Any plans for tonight?")
    assert "clear up" not in later["reply"] and later["clarification"] is None
    assert (await world.reflect())["clarifications"]["newly_queued"] == 0  # settled: never asked again

    undone = undo_conflict(world.long_term, world.log, USER, conflict["id"], now=time.time())  # reversible
    assert undone["restored_importance"] == 500 and world.importance("m-hate") == 500


async def test_the_chat_model_is_told_to_ask_the_question_in_its_system_prompt(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    world = world_of(chroma_client, long_term, short_term, embedder)
    await world.reflect()
    [queued] = await world.queue.pending(USER)
    model = recording_model("Morning! By the way, jazz: love it or hate it?", "Got it, thanks!")
    chat = world.chat(model)
    await run_turn(chat, user_id=USER, message="Good morning!")
    await run_turn(chat, user_id=USER, message="Hate is too strong, but no: the second one.")
    first, second = (messages[0] for messages in model.received)
    assert isinstance(first, SystemMessage) and "SOMETHING TO CLEAR UP" in first.text
    assert queued.question in first.text
    assert "SOMETHING TO CLEAR UP" not in second.text
    [entry] = world.log.entries(USER, type="conflict")
    assert entry.status == "resolved" and entry.data["kept_id"] == "m-hate"
    assert world.importance("m-love") == 250


async def unclear_answer_given(world: Any) -> dict[str, Any]:
    """Reflection queues the question, the next turn asks it, and the user answers without picking a side."""
    await world.reflect()
    chat = world.chat()
    await run_turn(chat, user_id=USER, message="Good morning!")
    state: dict[str, Any] = await run_turn(chat, user_id=USER, message="Hmm, it depends on my mood, to be honest.")
    return state


async def test_an_unclear_answer_is_recorded_and_the_next_reflection_settles_it_with_the_chat_model(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    world = world_of(chroma_client, long_term, short_term, embedder)
    state = await unclear_answer_given(world)
    assert state["clarification"]["outcome"]["status"] == "answered"
    [entry] = world.log.entries(USER, type="conflict")
    assert entry.status == "answered" and entry.data["answer"].startswith("Hmm, it depends")
    assert world.importance("m-love") == world.importance("m-hate") == 500  # nothing decided yet
    assert await world.queue.pending(USER) == []  # not asked again

    offline = await world.reflect()  # offline, the local rules cannot do better: it stays answered
    assert offline["clarifications"]["answers_settled"] == []
    assert world.log.entries(USER, type="conflict")[0].status == "answered"

    settled = await world.reflect(fake_chat_model("B"))
    [outcome] = settled["clarifications"]["answers_settled"]
    assert outcome["status"] == "resolved" and outcome["kept_id"] == "m-hate"
    [entry] = world.log.entries(USER, type="conflict")
    assert entry.status == "resolved" and entry.data["resolved_by"] == "llm"
    assert world.importance("m-love") == 250


async def test_reflection_requeues_questions_redis_lost_and_drops_reverted_ones(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> None:
    world = world_of(chroma_client, long_term, short_term, embedder)
    [conflict] = (await world.reflect())["conflicts"]
    await redis.delete(clarify_key(USER))  # Redis lost the queue; the log (Chroma) still has the conflict
    again = await world.reflect()
    assert again["clarifications"] == {"waiting": 1, "newly_queued": 1, "answers_settled": []}
    assert [item.conflict_id for item in await world.queue.pending(USER)] == [conflict["id"]]

    undo_conflict(world.long_term, world.log, USER, conflict["id"], now=time.time())  # the user settled it by hand
    after = await world.reflect()
    assert after["clarifications"]["waiting"] == 0 and await world.queue.pending(USER) == []
    state = await run_turn(world.chat(), user_id=USER, message="Hello!")
    assert "clear up" not in state["reply"]


async def test_offline_an_unclear_answer_falls_back_to_temporal_precedence_after_a_week_and_can_be_undone(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    world = world_of(chroma_client, long_term, short_term, embedder)
    await unclear_answer_given(world)
    six_days = await world.reflect(now=time.time() + 6 * 86_400)  # within the week the answer may still be settled
    assert six_days["clarifications"]["answers_settled"] == []
    assert world.log.entries(USER, type="conflict")[0].status == "answered"

    eight_days = await world.reflect(now=time.time() + 8 * 86_400)
    [outcome] = eight_days["clarifications"]["answers_settled"]
    assert outcome["status"] == "resolved" and outcome["kept_id"] == "m-hate"  # the newer statement
    [entry] = world.log.entries(USER, type="conflict")
    assert entry.data["resolved_by"] == "temporal_precedence_after_unclear_answer"
    assert world.importance("m-love") == 350 and world.importance("m-hate") == 500  # the older one × 0.7
    undo_conflict(world.long_term, world.log, USER, entry.id, now=time.time())
    assert world.importance("m-love") == 500
