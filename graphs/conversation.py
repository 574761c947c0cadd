"""The conversation graph: one chat turn.

    admit_message ─┬─> load_context ──────┬─> screen_message ─┬─> respond -> store_long_term -> store_short_term
                   └─> retrieve_memories ─┘                  └─> defend (injection: nothing stored)

``screen_message`` (the injection guard, when one is given) reuses the embedding ``retrieve_memories`` computed.

``load_context`` (Redis, or Chroma when Redis lost it) and ``retrieve_memories`` (embed + Chroma + MMR) run in
parallel. The turn is written to Chroma (source of truth) before Redis; the Redis step also queues the message
for background association.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import validate_conversation_id, validate_user_id
from memory.security import SecurityStore
from memory.short_term import ShortTermStore
from nodes.conversation import (
    Context,
    ConversationState,
    TurnInput,
    admit_message,
    load_context,
    respond,
    retrieve_memories,
    store_long_term,
    store_short_term,
)
from nodes.injection import defend, route_after_screen, screen_message
from tools.injection import InjectionClassifier, load_classifier

if TYPE_CHECKING:
    from companion.services import Services

GRAPH_NAME = "conversation"
#: Checkpoint metadata key naming the user a thread belongs to.
CHECKPOINT_USER_KEY = "companion_user_id"


def build_graph(
    *,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    retrieval_k: int = 5,
    max_message_chars: int = 4000,
    security: SecurityStore | None = None,
    injection_classifier: InjectionClassifier | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the conversation graph over the given services.

    With ``security``, the injection guard screens every message before ``respond`` (rules, plus the classifier
    when ``injection_classifier`` is given); without it the graph goes straight to ``respond``.
    """
    graph = StateGraph(ConversationState, context_schema=Context, input_schema=TurnInput)
    graph.add_node("admit_message", partial(admit_message, short_term=short_term, max_message_chars=max_message_chars))
    graph.add_node("load_context", partial(load_context, short_term=short_term, long_term=long_term))
    graph.add_node(
        "retrieve_memories", partial(retrieve_memories, long_term=long_term, embedder=embedder, k=retrieval_k)
    )
    graph.add_node("respond", partial(respond, chat_model=chat_model))
    graph.add_node("store_long_term", partial(store_long_term, long_term=long_term))
    graph.add_node("store_short_term", partial(store_short_term, short_term=short_term))
    graph.add_edge(START, "admit_message")
    graph.add_edge("admit_message", "load_context")
    graph.add_edge("admit_message", "retrieve_memories")
    if security is None:
        graph.add_edge(["load_context", "retrieve_memories"], "respond")
    else:
        graph.add_node("screen_message", partial(screen_message, security=security, classifier=injection_classifier))
        graph.add_node("defend", defend)
        graph.add_edge(["load_context", "retrieve_memories"], "screen_message")
        graph.add_conditional_edges("screen_message", route_after_screen, {"respond": "respond", "defend": "defend"})
        graph.add_edge("defend", END)
    graph.add_edge("respond", "store_long_term")
    graph.add_edge("store_long_term", "store_short_term")
    graph.add_edge("store_short_term", END)
    return graph.compile(checkpointer=checkpointer, name=GRAPH_NAME)


def build_graph_from_services(
    services: Services, *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services and settings (used by the CLI, the app and Studio)."""
    return build_graph(
        long_term=services.long_term,
        short_term=services.short_term,
        embedder=services.embedder,
        chat_model=services.chat_model,
        checkpointer=checkpointer,
        retrieval_k=services.settings.retrieval_k,
        max_message_chars=services.settings.max_message_chars,
        security=SecurityStore(services.redis, cooldown_seconds=services.settings.injection_cooldown_seconds),
        injection_classifier=load_classifier(),
    )


def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Entry point for ``langgraph.json``: services from settings, no checkpointer (the server brings one)."""
    from companion.services import build_services
    from companion.settings import get_settings

    return build_graph_from_services(build_services(get_settings()))


async def run_turn(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    *,
    user_id: str,
    message: str,
    conversation_id: str = "default",
    persona: str = "default",
) -> dict[str, Any]:
    """Run one turn and return the final state. Ids are checked before anything runs or is written.

    The checkpoint is written once, when the turn finishes (``durability="exit"``): the turn's intermediate
    steps are not worth a disk write each on the hot path, and a failed turn leaves no half-written state.
    """
    config, context = turn_config(user_id=user_id, conversation_id=conversation_id, persona=persona)
    result = await graph.ainvoke({"message": message}, config, context=context, durability="exit")
    return dict(result)


def turn_config(*, user_id: str, conversation_id: str, persona: str = "default") -> tuple[RunnableConfig, Context]:
    """Checked ids -> the run config (thread ``user:conversation``) and the runtime context of one turn.

    The user id also goes into the checkpoint metadata (``CHECKPOINT_USER_KEY``) so that erasing a user finds
    every one of their threads without parsing thread ids (user ids may contain ``:``).
    """
    validate_user_id(user_id)
    validate_conversation_id(conversation_id)
    config: RunnableConfig = {
        "configurable": {"thread_id": f"{user_id}:{conversation_id}"},
        "metadata": {CHECKPOINT_USER_KEY: user_id},
    }
    return config, Context(user_id=user_id, conversation_id=conversation_id, persona=persona)
