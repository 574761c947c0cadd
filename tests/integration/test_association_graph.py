"""The association graph, each decision branch, against real Chroma, the real embedder and (for the LLM budget)
real Redis. The chat model is the only fake."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from chromadb.api import ClientAPI
from conftest import fake_chat_model
from redis.asyncio import Redis

from graphs.association import associate, build_graph
from memory.association_queue import RedisLLMBudget
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord, new_id
from nodes.association import derived_memory_id

USER = "assoc-user"


@pytest.fixture
def links(chroma_client: ClientAPI) -> LinkStore:
    return LinkStore(chroma_client)


def remember(
    long_term: LongTermStore,
    embedder: Embedder,
    text: str,
    *,
    kind: MemoryKind = MemoryKind.EPISODIC,
    intensity: int = 0,
    importance: float = 300,
    category: str = "",
    emotion: str = "",
    user_id: str = USER,
    conversation_id: str = "",
) -> MemoryRecord:
    record = MemoryRecord(
        id=new_id(),
        user_id=user_id,
        text=text,
        kind=kind,
        importance=importance,
        category=category,
        emotion=emotion,
        emotion_intensity=intensity,
        created_at=time.time(),
        conversation_id=conversation_id,
    )
    long_term.add(user_id, [record], embedder.embed([text]))
    return record


def graph_for(long_term: LongTermStore, links: LinkStore, embedder: Embedder, **kwargs: Any) -> Any:
    return build_graph(long_term=long_term, links=links, embedder=embedder, **kwargs)


async def test_a_message_at_the_emotional_threshold_is_skipped(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    message = remember(long_term, embedder, "I had a sandwich for lunch.", intensity=30, importance=800)
    outcomes = await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "skipped"}
    assert long_term.count(USER) == 1
    assert links.count(USER, "outcome") == 0


async def test_important_message_without_strong_match_creates_a_new_memory_related_to_the_top_five(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    related = [
        remember(long_term, embedder, f"I went hiking in the mountains with my sister, trip {index}.", category="event")
        for index in range(7)
    ]
    remember(long_term, embedder, "The invoice for the car insurance is due on Friday.")
    message = remember(
        long_term,
        embedder,
        "Hiking in the mountains with my sister is the thing that makes me happiest.",
        intensity=80,
        importance=700,
        category="event",
        emotion="happiness",
    )
    outcomes = await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "new_memory"}

    created = long_term.get(USER, message.id)  # the message itself became the memory: no second copy
    assert created is not None and created.kind is MemoryKind.SEMANTIC
    assert long_term.get(USER, derived_memory_id(message.id)) is None and long_term.count(USER) == 9
    assert created.text == message.text and created.version == 1 and created.emotion == "happiness"
    assert created.sensitivity == "general" and created.sensitivity_confidence >= 0.6 and "family" in created.tags
    history = links.versions(USER, created.id)
    assert [(v.version, v.caused_by, v.cause_text) for v in history] == [(1, message.id, message.text)]

    out = links.relations(USER, created.id)
    assert 1 <= len(out) <= 5
    assert {r.to_id for r in out} <= {r.id for r in related}
    assert all(20 < r.strength <= 100 and "cosine" in r.reason for r in out)
    for relation in out:  # stored both ways, same strength and reason
        back = [r for r in links.relations(USER, relation.to_id) if r.to_id == created.id]
        assert len(back) == 1 and back[0].strength == relation.strength and back[0].reason == relation.reason


async def test_strong_match_creates_a_new_version_with_history_and_relations_to_the_top_three(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    dog = remember(
        long_term,
        embedder,
        "My dog Rex loves the beach.",
        kind=MemoryKind.SEMANTIC,
        category="pets",
        emotion="happiness",
        importance=600,
    )
    others = [remember(long_term, embedder, f"Rex the dog chased a ball at the park, day {i}.") for i in range(4)]
    message = remember(
        long_term,
        embedder,
        "My dog Rex loves the beach. Today he learned to swim!",
        intensity=75,
        importance=700,
        category="pets",
        emotion="happiness",
    )
    outcomes = await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "new_version"}

    updated = long_term.get(USER, dog.id)
    assert updated is not None and updated.version == 2
    # offline the message is the version: the memory's words stay, the message is not copied into them
    assert updated.text == dog.text and long_term.get(USER, message.id).text == message.text  # type: ignore[union-attr]
    assert long_term.get_with_embeddings(USER, [dog.id])[dog.id][1] == pytest.approx(embedder.embed([dog.text])[0])
    history = links.versions(USER, dog.id)
    assert [(v.version, v.text) for v in history] == [(1, dog.text), (2, dog.text)]
    assert history[1].caused_by == message.id and history[1].cause_text == message.text
    assert long_term.get(USER, derived_memory_id(message.id)) is None  # no new memory

    out = links.relations(USER, dog.id)
    assert 1 <= len(out) <= 3 and dog.id not in {r.to_id for r in out}
    assert {r.to_id for r in out} <= {o.id for o in others} | {message.id}


async def test_unimportant_related_message_gets_weak_relations_only(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    for index in range(5):
        remember(long_term, embedder, f"I have been practising the guitar every evening, week {index}.")
    message = remember(
        long_term, embedder, "Practising guitar in the evening calms me down.", intensity=60, importance=300
    )
    before = long_term.count(USER)
    outcomes = await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "weak_relations"}
    assert long_term.count(USER) == before
    out = links.relations(USER, message.id)
    assert len(out) == 3 and all(r.caused_by == message.id for r in out)


async def test_processing_a_batch_twice_leaves_one_result(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    dog = remember(long_term, embedder, "My dog Rex loves the beach.", kind=MemoryKind.SEMANTIC, category="pets")
    first = remember(long_term, embedder, "My dog Rex loves the beach and the waves.", intensity=70, category="pets")
    second = remember(
        long_term, embedder, "My dog Rex loves the beach, he dug a hole there.", intensity=70, category="pets"
    )
    graph = graph_for(long_term, links, embedder)
    once = await associate(graph, user_id=USER, message_ids=[first.id, second.id])
    count, relations = long_term.count(USER), len(links.relations(USER))
    twice = await associate(graph, user_id=USER, message_ids=[first.id, second.id, first.id])
    assert once == twice == {first.id: "new_version", second.id: "new_version"}
    assert long_term.count(USER) == count and len(links.relations(USER)) == relations
    updated = long_term.get(USER, dog.id)
    assert updated is not None and updated.version == 3  # two messages, two versions, in message order
    assert [v.caused_by for v in links.versions(USER, dog.id)] == [dog.id, first.id, second.id]


async def test_near_identical_messages_of_one_batch_make_one_memory_with_versions(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    messages = [
        remember(
            long_term,
            embedder,
            f"I feel so lonely tonight, nobody called me again (evening {index}).",
            intensity=80,
            importance=700,
            emotion="sadness",
            category="feelings",
        )
        for index in range(20)
    ]
    ids = [message.id for message in messages]
    graph = graph_for(long_term, links, embedder)
    outcomes = await associate(graph, user_id=USER, message_ids=ids)
    assert outcomes == {ids[0]: "new_memory"} | {message_id: "new_version" for message_id in ids[1:]}
    semantic = [record for record in long_term.list_memories(USER) if record.kind is MemoryKind.SEMANTIC]
    assert [record.id for record in semantic] == [ids[0]]  # one memory, not 20
    assert semantic[0].version == 20
    assert [v.caused_by for v in links.versions(USER, semantic[0].id)] == ids  # each message's version, in order
    assert await associate(graph, user_id=USER, message_ids=ids) == outcomes  # again: the same, nothing added
    assert long_term.count(USER) == 20 and len(links.versions(USER, semantic[0].id)) == 20


async def test_chat_model_scores_and_merges_within_its_budget(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder, redis: Redis
) -> None:
    dog = remember(long_term, embedder, "My dog Rex loves the beach.", kind=MemoryKind.SEMANTIC)
    message = remember(long_term, embedder, "Rex swam in the sea today.", intensity=70, importance=300)
    model = fake_chat_model(
        json.dumps({"scores": [{"index": 0, "strength": 88, "reason": "both about Rex at the sea"}]}),
        "Rex, my dog, loves the beach and swam in the sea today.",
    )
    budget = RedisLLMBudget(redis, per_minute=2)
    graph = graph_for(long_term, links, embedder, chat_model=model, llm_budget=budget)
    outcomes = await associate(graph, user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "new_version"}
    updated = long_term.get(USER, dog.id)
    assert updated is not None and updated.text == "Rex, my dog, loves the beach and swam in the sea today."
    assert await budget.try_acquire() is False  # both calls of the minute were spent


async def test_spent_budget_falls_back_to_the_local_score(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder, redis: Redis
) -> None:
    for index in range(3):
        remember(long_term, embedder, f"I have been practising the guitar every evening, week {index}.")
    message = remember(long_term, embedder, "Practising guitar in the evening calms me.", intensity=60)
    budget = RedisLLMBudget(redis, per_minute=1)
    assert await budget.try_acquire() is True
    graph = graph_for(long_term, links, embedder, chat_model=fake_chat_model(), llm_budget=budget)
    outcomes = await associate(graph, user_id=USER, message_ids=[message.id])  # the fake has no reply left
    assert outcomes == {message.id: "weak_relations"}
    assert all("cosine" in r.reason for r in links.relations(USER, message.id))


async def test_relations_stay_within_one_user(long_term: LongTermStore, links: LinkStore, embedder: Embedder) -> None:
    remember(long_term, embedder, "I love hiking in the mountains.", user_id="other-user", category="event")
    message = remember(long_term, embedder, "Hiking in the mountains is my favourite.", intensity=80, importance=800)
    outcomes = await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    assert outcomes == {message.id: "new_memory"}
    assert links.relations(USER, message.id) == []
    assert links.relations("other-user") == []


async def test_a_plan_stored_before_a_crash_is_applied_again_without_deciding_again(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    dog = remember(long_term, embedder, "My dog Rex loves the beach.", kind=MemoryKind.SEMANTIC, category="pets")
    message = remember(long_term, embedder, "My dog Rex loves the beach. He swam today.", intensity=70, category="pets")
    graph = graph_for(long_term, links, embedder)
    await associate(graph, user_id=USER, message_ids=[message.id])
    merged = long_term.get(USER, dog.id)
    assert merged is not None and merged.version == 2
    # As if the worker died after storing the plan but before updating the memory:
    long_term.upsert(USER, [dog], embedder.embed([dog.text]))
    assert await associate(graph, user_id=USER, message_ids=[message.id]) == {message.id: "new_version"}
    restored = long_term.get(USER, dog.id)
    assert restored is not None and (restored.version, restored.text) == (2, merged.text)
    assert len(links.versions(USER, dog.id)) == 2


async def test_a_promotion_lost_in_a_crash_is_applied_again(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    message = remember(long_term, embedder, "Hiking in the mountains is my favourite.", intensity=80, importance=800)
    graph = graph_for(long_term, links, embedder)
    assert await associate(graph, user_id=USER, message_ids=[message.id]) == {message.id: "new_memory"}
    # As if the worker died after storing the plan but before promoting the message:
    long_term.upsert(USER, [message], embedder.embed([message.text]))
    assert long_term.get(USER, message.id).kind is MemoryKind.EPISODIC  # type: ignore[union-attr]
    assert await associate(graph, user_id=USER, message_ids=[message.id]) == {message.id: "new_memory"}
    memory = long_term.get(USER, message.id)
    assert memory is not None and (memory.kind, memory.version, memory.text) == (MemoryKind.SEMANTIC, 1, message.text)
    assert long_term.count(USER) == 1 and len(links.versions(USER, message.id)) == 1


async def test_a_message_made_a_memory_keeps_its_words_and_its_versions_live_beside_it(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    said = dict(intensity=80, importance=700, category="pets", emotion="happiness", conversation_id="chat")
    first = remember(long_term, embedder, "My dog Rex loves the beach so much.", **said)  # type: ignore[arg-type]
    second = remember(long_term, embedder, "My dog Rex loves the beach, he swam today.", **said)  # type: ignore[arg-type]
    graph = graph_for(long_term, links, embedder)
    assert await associate(graph, user_id=USER, message_ids=[first.id, second.id]) == {
        first.id: "new_memory",
        second.id: "new_version",
    }
    message = long_term.get(USER, first.id)
    assert message is not None and (message.kind, message.text, message.version) == (
        MemoryKind.SEMANTIC,
        first.text,
        2,
    )  # the conversation's log still says what was said; offline the second message is its version 2
    assert long_term.get(USER, derived_memory_id(first.id)) is None  # no merged copy of the two messages
    history = links.versions(USER, first.id)
    assert [(v.version, v.caused_by, v.cause_text) for v in history] == [
        (1, first.id, first.text),
        (2, second.id, second.text),
    ]
    assert long_term.get(USER, second.id).text == second.text  # type: ignore[union-attr]
    assert long_term.count(USER) == 2


async def test_with_a_chat_model_a_message_made_a_memory_keeps_its_words_and_the_merge_lives_beside_it(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder, redis: Redis
) -> None:
    said = dict(intensity=80, importance=700, category="pets", emotion="happiness", conversation_id="chat")
    first = remember(long_term, embedder, "My dog Rex loves the beach so much.", **said)  # type: ignore[arg-type]
    second = remember(long_term, embedder, "My dog Rex loves the beach, he swam today.", **said)  # type: ignore[arg-type]
    scores = json.dumps({"scores": [{"index": 0, "strength": 90, "reason": "Rex at the beach"}]})
    model = fake_chat_model(scores, scores, "Rex, my dog, loves the beach and swam there today.")
    graph = graph_for(long_term, links, embedder, chat_model=model, llm_budget=RedisLLMBudget(redis, per_minute=10))
    assert await associate(graph, user_id=USER, message_ids=[first.id, second.id]) == {
        first.id: "new_memory",
        second.id: "new_version",
    }
    message = long_term.get(USER, first.id)
    assert message is not None and (message.text, message.version) == (first.text, 1)  # what was said stays
    home = long_term.get(USER, derived_memory_id(first.id))
    assert home is not None and home.version == 2 and home.conversation_id == ""
    assert home.text == "Rex, my dog, loves the beach and swam there today."
    assert [(v.version, v.caused_by) for v in links.versions(USER, home.id)] == [(1, home.id), (2, second.id)]


async def test_a_kept_message_carries_its_emotional_signals_with_the_words_that_carry_them(
    long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    message = remember(
        long_term,
        embedder,
        "I am absolutely livid that my landlord kept my whole deposit.",
        intensity=90,
        importance=700,
        emotion="anger",
    )
    await associate(graph_for(long_term, links, embedder), user_id=USER, message_ids=[message.id])
    [plan] = links.outcomes(USER, [message.id]).values()
    anger = next(signal for signal in plan["signals"] if signal["emotion"] == "anger")
    assert anger["intensity"] > 30 and "livid" in anger["keywords"]  # found by occlusion, not a word list
    assert anger["context"] == message.text
