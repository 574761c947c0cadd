"""Sensitivity in the conversation graph (design seed 002), over real Redis, Chroma and the real embedder.

Every turn's memory is classified (lexicon; the chat model when one is given, faked at its boundary), and a turn
in a shared context never hands a memory above its ceiling to the reply.
"""

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from companion.core.errors import InvalidInputError
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.sensitivity import SHARED_MAX_LEVEL
from memory.short_term import ShortTermStore


class FakeChatModel(GenericFakeChatModel):
    """LangChain's fake chat model, with ``bind_tools`` so ``with_structured_output`` accepts it."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> "FakeChatModel":  # type: ignore[override]
        return self


def verdict(classification: str, confidence: float, tags: list[str], sentiment: str = "neutral") -> AIMessage:
    args = {"classification": classification, "confidence": confidence, "tags": tags, "sentiment": sentiment}
    return AIMessage("", tool_calls=[{"name": "SensitivityVerdict", "args": args, "id": "call-1"}])


def graph_over(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, **options: Any) -> Any:
    return build_graph(
        long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver(), **options
    )


async def test_every_turn_stores_its_classification_on_the_memory(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    state = await run_turn(graph, user_id="sen-ana", message="My therapist says my depression is lifting.")
    assert state["sensitivity"]["level"] == "confidential" and state["sensitivity"]["source"] == "local"
    assert "classify" in state["timings_ms"]
    record = long_term.get("sen-ana", state["memory_id"])
    assert record is not None
    assert (record.sensitivity.value, record.sensitivity_confidence) == ("confidential", 0.86)
    assert "health" in record.tags


async def test_the_chat_model_classifies_but_never_below_the_lexicon(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    model = FakeChatModel(
        messages=iter(
            [
                verdict("confidential", 0.85, ["Health", "dentist visit"], "negative"),
                verdict("general", 0.99, ["chat"]),
                AIMessage("not a tool call"),
            ]
        )
    )
    graph = graph_over(long_term, short_term, embedder, sensitivity_model=model)
    dentist = await run_turn(graph, user_id="sen-ben", message="I'm seeing the dentist about the pain.")
    assert dentist["sensitivity"]["level"] == "confidential" and dentist["sensitivity"]["source"] == "model"
    stored = long_term.get("sen-ben", dentist["memory_id"])
    assert stored is not None and stored.sensitivity.value == "confidential"
    assert stored.tags[:2] == ("health", "dentist-visit") and stored.sentiment == "negative"

    password = await run_turn(graph, user_id="sen-ben", message="My email password is hunter2.")
    assert password["sensitivity"]["level"] == "ultrasecret", "the model's 'general' never lowers the lexicon"

    failed = await run_turn(graph, user_id="sen-ben", message="I like jazz.")
    assert failed["sensitivity"]["source"] == "local" and failed["sensitivity"]["level"] == "general"


async def test_a_shared_context_never_uses_confidential_memories(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    told = await run_turn(graph, user_id="sen-cy", message="My bank PIN is 4921.")
    bank = await run_turn(graph, user_id="sen-cy", message="My bank is the little branch near the station.")
    assert bank["sensitivity"]["level"] == "general"

    private = await run_turn(graph, user_id="sen-cy", message="What is my bank PIN?")
    assert told["memory_id"] in {memory["id"] for memory in private["memories"]}
    assert private["withheld_memories"] == []

    group = await run_turn(
        graph,
        user_id="sen-cy",
        conversation_id="chat-1",
        message="What is my bank PIN?",
        max_sensitivity=SHARED_MAX_LEVEL.value,
    )
    used = {memory["id"] for memory in group["memories"]}
    assert told["memory_id"] not in used and "4921" not in group["reply"]
    assert told["memory_id"] in group["withheld_memories"]
    assert bank["memory_id"] in used, "level-1 memories are still used"

    with pytest.raises(InvalidInputError, match="unknown sensitivity level"):
        await run_turn(graph, user_id="sen-cy", message="hi", max_sensitivity="public")
