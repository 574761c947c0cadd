"""The personality state is checkpointed in Chroma every few turns; the turns in between are replayed from their
memories' journaled appraisals. Real Redis, real Chroma, the real embedder; only the importance scorer is fake.
"""

import time
from dataclasses import replace
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from companion.core.personality.journal import AppraisalInputs
from companion.core.personality.persona import load_persona
from companion.core.personality.quirks import Quirk
from companion.core.personality.state import Rates, new_state
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.personality_store import PersonalityStore, state_key
from memory.short_term import ShortTermStore
from nodes.personality import checkpoint_mode
from tests.conftest import importance_scorer
from tools.detection import load_detector
from tools.personality_time import advance_personality

MESSAGES = [
    "Thank you, you're wonderful!",
    "I failed my driving test again.",
    "My dog died this morning.",
    "I got the job!!",
    "Anyway, what should I cook tonight?",
]


def graph_over(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, **options: Any) -> Any:
    return build_graph(
        long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver(), **options
    )


def test_a_checkpoint_is_written_first_then_in_the_background_every_n_turns_and_after_a_rebuild() -> None:
    assert checkpoint_mode(1, "new", 20) == "now"  # the replay's base, before Redis
    assert checkpoint_mode(2, "redis", 20) == "none"
    assert checkpoint_mode(20, "redis", 20) == checkpoint_mode(40, "redis", 20) == "later"
    assert checkpoint_mode(7, "chroma", 20) == "later"
    assert checkpoint_mode(7, "redis", 1) == "now"  # every turn, before Redis: the store before the journal


async def test_turns_between_checkpoints_are_replayed_exactly_after_a_redis_flush(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    store = PersonalityStore(long_term.client, short_term.redis)
    graph = graph_over(long_term, short_term, embedder, personality_checkpoint_turns=3, personality_store=store)
    written = []
    for index, message in enumerate(MESSAGES):
        state = await run_turn(graph, user_id="kim", message=message, conversation_id=f"c{index % 2}")
        written.append(state["personality_checkpoint"])
    assert written == ["now", "none", "later", "none", "none"]  # first turn, then interactions 3
    live = state["personality"]
    await store.drain()  # the interactions-3 checkpoint was written in the background
    checkpoint = store.read_durable("kim", "default")
    assert checkpoint is not None and checkpoint["interactions"] == 3  # turns 4 and 5 are only journaled

    await short_term.redis.delete(state_key("kim", "default"))  # Redis loses the state
    rebuilt, source = await store.load("kim", "default")
    assert source == "chroma"
    assert rebuilt == live  # the replay gives exactly the state the turns produced
    assert [entry["state"] for entry in store.read_user("kim")] == [live]  # what an export shows

    after = await run_turn(graph, user_id="kim", message="Thanks for listening.")
    assert after["personality_source"] == "redis"  # load put the rebuilt state back in the cache
    assert after["personality"]["interactions"] == 6


async def test_replay_uses_the_appraisal_inputs_not_the_models_later_category(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    # The chat model rescores the category while the reply is written, after the appraisal used the local one;
    # the memory keeps the model's category, its journal the one the appraisal saw.
    scorer = importance_scorer(900, "person", turns=3)
    graph = graph_over(long_term, short_term, embedder, importance_model=scorer, personality_checkpoint_turns=50)
    for message in ("I'm so lonely these days.", "Nobody ever calls me.", "Thanks for being here."):
        state = await run_turn(graph, user_id="lee", message=message)
    record = long_term.get("lee", state["memory_id"])
    assert record is not None and record.category == "person"
    local = load_detector().detect("Thanks for being here.", embedder.embed(["Thanks for being here."])[0])
    assert AppraisalInputs.from_json(record.appraisal).category == local.category
    live = state["personality"]

    await short_term.redis.flushdb()
    rebuilt, source = await PersonalityStore(long_term.client, short_term.redis).load("lee", "default")
    assert (source, rebuilt) == ("chroma", live)


async def test_a_time_checkpoint_between_turns_is_not_replayed_twice_and_personas_stay_apart(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder, personality_checkpoint_turns=100)
    store = PersonalityStore(long_term.client, short_term.redis)
    for message in MESSAGES[:3]:
        state = await run_turn(graph, user_id="max", message=message)
    await run_turn(graph, user_id="max", message="Hello there.", persona="sage")  # another persona's journal
    later = state["received_at"] + 3 * 3600
    await advance_personality(store, "max", "default", later)  # the nightly step checkpoints durably
    advanced, _ = await store.load("max", "default")
    assert advanced is not None and advanced["updated_at"] == later

    await short_term.redis.flushdb()
    rebuilt, source = await store.load("max", "default")
    assert source == "chroma"
    assert rebuilt == advanced  # the three turns are in the checkpoint: not applied again
    assert rebuilt["interactions"] == 3
    sage, _ = await store.load("max", "sage")
    assert sage is not None and sage["interactions"] == 1


async def test_a_background_checkpoint_in_flight_when_the_user_is_erased_writes_nothing(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    store = PersonalityStore(long_term.client, short_term.redis)
    graph = graph_over(long_term, short_term, embedder, personality_store=store, personality_checkpoint_turns=1)
    await run_turn(graph, user_id="erased-soon", conversation_id="c", message="I love my new job!")
    await store.drain()
    assert store.read_durable("erased-soon", "default") is not None  # a checkpoint is written while the user exists

    state = store.read_durable("erased-soon", "default")
    assert state is not None
    long_term.delete_user("erased-soon")  # the erasure: memories first, then the states
    store.delete_user("erased-soon")
    store.checkpoint_later("erased-soon", "default", state)  # a turn's checkpoint that was still on its way
    await store.drain()
    assert store.read_durable("erased-soon", "default") is None


async def test_the_configured_rates_move_live_turns_and_their_replay_alike(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    # A quirk idle for 8 days, evolved last 2 days ago: the turn's time step decays it by the configured rate.
    rates = Rates(quirk_decay=0.3, quirk_reinforcement=0.05, drift=0.01)
    store = PersonalityStore(long_term.client, short_term.redis, rates=rates)
    now = time.time()
    idle = Quirk(
        name="uses_emoji", description="uses emoji now and then", category="speech_pattern", strength=0.5,
        confidence=0.9, created_at=now - 20 * 86_400, last_reinforced=now - 8 * 86_400,
    )  # fmt: skip
    seeded = replace(new_state("rae", load_persona("default"), now - 2 * 86_400), quirks=(idle,))
    await store.save("rae", "default", seeded.to_dict())  # durable: the base of the replay
    graph = graph_over(long_term, short_term, embedder, personality_store=store, personality_checkpoint_turns=50)
    state = await run_turn(graph, user_id="rae", message="Anyway, what should I cook tonight?")
    live = state["personality"]
    assert live["quirks"][0]["strength"] == pytest.approx(0.2)  # 0.5 - 0.3, not the default 0.1

    await short_term.redis.flushdb()
    rebuilt, source = await store.load("rae", "default")
    assert (source, rebuilt) == ("chroma", live)  # the replay ran at the same rates
