"""Perception and personality in the conversation graph, over real Redis, real Chroma and the real embedder.

The personality state is durable per (user, persona): it survives a new process (a new store and graph over the
same Chroma directory) and a Redis flush.
"""

import asyncio
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from companion.core.personality.persona import load_persona
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.personality_store import PersonalityStore, state_key
from memory.short_term import ShortTermStore
from tests.conftest import FakeChatModel, fake_chat_model, importance_scorer


def graph_over(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, **options: Any) -> Any:
    return build_graph(
        long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver(), **options
    )


async def test_a_turn_detects_appraises_and_stores_the_detection_on_the_memory(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    state = await run_turn(graph, user_id="alice", message="I just got promoted, I'm so happy!")
    detection = state["detection"]
    assert detection["emotion"] in {"happiness", "excitement"}
    assert detection["intensity"] > 30 and detection["is_emotional_signal"]
    assert 100 <= detection["importance"] <= 900
    assert {"detect", "appraise", "load_personality", "store_personality"} <= set(state["timings_ms"])
    record = long_term.get("alice", state["memory_id"])
    assert record is not None
    assert (record.emotion, record.emotion_intensity) == (detection["emotion"], detection["intensity"])
    assert (record.importance, record.category) == (detection["importance"], detection["category"])
    mood = state["mood"]
    baseline = load_persona("default").baseline
    assert mood["pleasure"] > round(baseline.pleasure, 4)  # good news cheers the companion up
    assert mood["change"] is not None and mood["change"]["cause"]


async def test_good_news_makes_the_companion_happier_than_it_started(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    # The seed's end-to-end scenario: a puppy, then its name; pleasure ends above where it started.
    graph = graph_over(long_term, short_term, embedder)
    first = await run_turn(graph, user_id="pat", message="I got a new puppy today!")
    await run_turn(graph, user_id="pat", message="His name is Sparky and he's a golden retriever.")
    assert first["personality_source"] == "new"
    stored, source = await PersonalityStore(long_term.client, short_term.redis).load("pat", "default")
    assert source == "redis" and stored is not None
    assert stored["interactions"] == 2
    assert stored["mood"]["pleasure"] > load_persona("default").baseline.pleasure


async def test_personality_state_survives_a_redis_flush_and_a_new_process(
    tmp_path: Path, redis: Redis, embedder: Embedder
) -> None:
    def open_stores() -> tuple[LongTermStore, ShortTermStore]:
        client = chromadb.PersistentClient(
            path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        return LongTermStore(client), ShortTermStore(redis, per_user_per_minute=1000, global_per_minute=100_000)

    long_term, short_term = open_stores()
    graph = graph_over(long_term, short_term, embedder)
    await run_turn(graph, user_id="sam", message="Thank you, you're great!")
    await run_turn(graph, user_id="sam", message="I failed my driving test again.")
    rules = [c["rule"] for c in (await PersonalityStore(long_term.client, redis).load("sam", "default"))[0]["changes"]]
    assert rules == ["compliment", "failure"]

    await redis.flushdb()  # Redis loses everything
    long_term, short_term = open_stores()  # and a new process opens the stores again
    graph = graph_over(long_term, short_term, embedder)
    state = await run_turn(graph, user_id="sam", message="Anyway, how are you?")
    assert state["personality_source"] == "chroma"
    assert state["personality"]["interactions"] == 3
    assert [c["rule"] for c in state["personality"]["changes"]][:2] == ["compliment", "failure"]
    assert await redis.get(state_key("sam", "default")) is not None  # put back in the cache


async def test_state_is_per_user_and_per_persona(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    await run_turn(graph, user_id="ana", message="Thank you so much!")
    sage = await run_turn(graph, user_id="ana", message="Hello.", persona="sage")
    other = await run_turn(graph, user_id="ben", message="Hello.")
    assert sage["personality_source"] == "new" and sage["personality"]["persona"] == "sage"
    assert other["personality_source"] == "new"
    store = PersonalityStore(long_term.client, short_term.redis)
    assert store.read_durable("ana", "default")["interactions"] == 1  # type: ignore[index]
    assert store.read_durable("ana", "sage")["interactions"] == 1  # type: ignore[index]
    assert store.read_durable("carl", "default") is None


async def test_the_persona_prompt_carries_the_mood_and_the_memories(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    model = fake_chat_model("Lovely!", "Miso, of course.")
    graph = graph_over(long_term, short_term, embedder, chat_model=model)
    await run_turn(graph, user_id="alice", message="I have a cat called Miso.")
    state = await run_turn(graph, user_id="alice", message="What is my cat called?")
    from nodes.conversation import build_messages

    system = build_messages(state)[0].text
    assert system.startswith("You are Mira,")
    assert f"CURRENT EMOTIONAL STATE: {state['personality']['mood'] and state['mood']['label']}" in system
    assert "- I have a cat called Miso." in system
    assert "{" not in system


async def test_with_a_chat_model_importance_and_category_come_from_it(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    scorer = importance_scorer(900, "person")
    graph = graph_over(long_term, short_term, embedder, importance_model=scorer)
    state = await run_turn(graph, user_id="alice", message="My grandmother passed away yesterday.")
    assert (state["detection"]["importance"], state["detection"]["category"]) == (900, "person")
    record = long_term.get("alice", state["memory_id"])
    assert record is not None and (record.importance, record.category) == (900, "person")


async def test_a_failing_scorer_model_keeps_the_local_scores(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder, importance_model=fake_chat_model("not a tool call"))
    state = await run_turn(graph, user_id="alice", message="What's the weather like?")
    assert state["detection"]["importance"] in {100, 300, 500, 700, 900}
    assert "score_importance" in state["timings_ms"]


@pytest.mark.parametrize("persona", ["nobody"])
async def test_an_unknown_persona_is_a_clear_error(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, persona: str
) -> None:
    from companion.core.errors import ConfigurationError

    graph = graph_over(long_term, short_term, embedder)
    with pytest.raises(ConfigurationError, match="unknown persona 'nobody'"):
        await run_turn(graph, user_id="alice", message="hi", persona=persona)


async def test_the_models_importance_is_scored_while_the_reply_is_written_not_before(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    # The scorer answers only once the reply has started: if the graph made the reply wait for the scorer, the
    # scorer would give up after its wait and the memory would keep the local importance instead of 900.
    reply_started = asyncio.Event()

    class Replier(FakeChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
            reply_started.set()
            return await super()._agenerate(*args, **kwargs)

    class ScorerAfterTheReply(FakeChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
            await asyncio.wait_for(reply_started.wait(), timeout=20)
            return await super()._agenerate(*args, **kwargs)

    scorer = importance_scorer(900, "person")
    graph = build_graph(
        long_term=long_term,
        short_term=short_term,
        embedder=embedder,
        chat_model=Replier(messages=iter([AIMessage("That sounds like a lovely day.")])),
        importance_model=ScorerAfterTheReply(messages=scorer.messages),
        checkpointer=InMemorySaver(),
    )
    state = await run_turn(graph, user_id="pat", message="I spent the afternoon at the lake with my cousin.")
    assert state["reply"] == "That sounds like a lovely day."
    stored = long_term.get("pat", state["memory_id"])
    assert stored is not None and (stored.importance, stored.category) == (900, "person")
