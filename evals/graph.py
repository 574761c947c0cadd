"""The conversation graph as the graph-driven suites (recall, isolation, persona) run it."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from evals.core import EvalEnv
from graphs.conversation import build_graph


def conversation_graph(
    env: EvalEnv, *, chat_model: BaseChatModel | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The conversation graph over the run's stores, with a fresh in-memory checkpointer.

    No chat model unless given: the offline responder answers, so a suite that measures retrieval needs no model.
    """
    return build_graph(
        long_term=env.long_term,
        short_term=env.short_term,
        embedder=env.embedder,
        chat_model=chat_model,
        retrieval_k=env.retrieval_k,
        checkpointer=InMemorySaver(),
    )
