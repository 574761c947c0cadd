"""Concurrent turns of one user lose no update of the personality state (issue 16, item 3).

Twenty concurrent turns once moved ``interactions`` by 2-3: each loaded the state, appraised it and wrote it back
over the others'. The save is now a compare-and-set on Redis that re-applies a turn's change to a newer state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from companion.core.personality.persona import load_persona
from companion.core.personality.state import PersonalityState, new_state
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.personality_store import PersonalityStore, fingerprint
from memory.short_term import ShortTermStore
from tools.personality_time import advance_personality

TURNS = 20


async def test_twenty_concurrent_turns_of_one_user_count_twenty_interactions(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = build_graph(long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver())
    store = PersonalityStore(long_term.client, short_term.redis)
    await run_turn(graph, user_id="busy", message="Hello there.")  # the state exists (and is checkpointed)
    before, _ = await store.load("busy", "default")
    assert before is not None and before["interactions"] == 1

    messages = [f"Turn {n}: I am so happy today, my exam went really well!" for n in range(TURNS)]
    results = await asyncio.gather(
        *(run_turn(graph, user_id="busy", conversation_id=f"c{n}", message=m) for n, m in enumerate(messages))
    )
    after, source = await store.load("busy", "default")
    assert source == "redis" and after is not None
    assert after["interactions"] == 1 + TURNS
    assert max(result["personality"]["interactions"] for result in results) == 1 + TURNS
    # the mood moved once per turn too: each good-news appraisal is in the state's record of changes
    assert len(after["changes"]) > len(before["changes"]) + TURNS // 2
    await store.drain()


async def test_concurrent_updates_from_one_stale_read_all_land(
    long_term: LongTermStore, short_term: ShortTermStore
) -> None:
    store = PersonalityStore(long_term.client, short_term.redis)
    start = new_state("cas", load_persona("default"), 1000.0).to_dict()
    await store.save("cas", "default", start)
    loaded = fingerprint(start)

    def bump(state: dict[str, Any]) -> dict[str, Any]:
        return {**state, "interactions": int(state["interactions"]) + 1}

    await asyncio.gather(
        *(
            store.update("cas", "default", loaded=loaded, updated=bump(start), redo=bump, durable=False)
            for _ in range(TURNS)
        )
    )
    current, _ = await store.load("cas", "default")
    assert current is not None and current["interactions"] == start["interactions"] + TURNS


async def test_the_hourly_step_does_not_overwrite_a_turn_saved_meanwhile(
    long_term: LongTermStore, short_term: ShortTermStore
) -> None:
    store = PersonalityStore(long_term.client, short_term.redis)
    start = new_state("hour", load_persona("default"), 1000.0).to_dict()
    await store.save("hour", "default", start)
    turned = {**start, "interactions": 7}  # a turn's save lands between the step's read and its write
    original_load = store.load

    async def load_then_a_turn_saves(user_id: str, persona: str) -> tuple[dict[str, Any] | None, str]:
        found = await original_load(user_id, persona)
        await store.save(user_id, persona, turned, durable=False)
        return found

    store.load = load_then_a_turn_saves  # type: ignore[method-assign]
    await advance_personality(store, "hour", "default", 1000.0 + 7200)
    store.load = original_load  # type: ignore[method-assign]
    current, _ = await store.load("hour", "default")
    assert current is not None and current["interactions"] == 7
    assert PersonalityState.from_dict(current).updated_at == 1000.0 + 7200
