"""1,000 ordinary chat messages (LoCoMo turns) from one user through the conversation graph, guard on: the defence
is proportionate (0 cooldowns, 0 offences, 0 mood penalties) and every message is stored like any other."""

import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.security import SecurityStore
from memory.short_term import ShortTermStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "locomo_turns_1000.jsonl"


@pytest.mark.slow
async def test_a_thousand_ordinary_messages_draw_no_consequence_and_are_all_stored(
    long_term: LongTermStore, embedder: Embedder, redis: Redis
) -> None:
    messages = [json.loads(line)["text"] for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    assert len(messages) == 1000
    short_term = ShortTermStore(redis, per_user_per_minute=100_000, global_per_minute=1_000_000)
    security = SecurityStore(redis)
    graph = build_graph(
        long_term=long_term,
        short_term=short_term,
        embedder=embedder,
        checkpointer=InMemorySaver(),
        security=security,  # and the perception model's injection score, as a running companion screens
        personality_checkpoint_turns=100,
    )
    actions: dict[str, int] = {}
    penalties = 0
    for message in messages:
        state = await run_turn(graph, user_id="locomo-1", message=message)
        action = state["injection"]["action"]
        actions[action] = actions.get(action, 0) + 1
        change = state.get("mood", {}).get("change") or {}
        penalties += change.get("rule") == "injection_penalty"
        assert state["memory_id"], message
    assert actions.get("consequence", 0) == 0, actions
    assert penalties == 0
    assert await security.restriction("locomo-1") is None
    assert await security.incidents(user_id="locomo-1") == []
    assert long_term.count("locomo-1") == 1000
