"""The reflection graph: what the companion does with a user's memories while they are away.

    start_run ─?─> consolidate ─?─> conflicts ─?─> personality ─?─> forget ─?─> END

Each arrow marked ``?`` is the routing function ``next_task``: a run does only the tasks it is given (the nightly
03:00 run: consolidate, conflicts, personality; the 04:00 run: forget), in this order. See ``nodes/reflection.py``
for what each task does and ``tools/reflection.py`` for the numbers (clustering, strategies, forgetting curve).
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.personality_store import PersonalityStore
from memory.records import validate_user_id
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore
from nodes.reflection import (
    TASKS,
    Context,
    ReflectionInput,
    ReflectionState,
    consolidate,
    detect_conflicts,
    evolve_personality,
    forget,
    next_task,
    start_run,
)

if TYPE_CHECKING:
    from companion.services import Services

GRAPH_NAME = "reflection"
ARCHIVE_NAMESPACE = "companion-archive"


def build_graph(
    *,
    long_term: LongTermStore,
    archive: LongTermStore,
    short_term: ShortTermStore,
    log: ReflectionLog,
    embedder: Embedder,
    chat_model: BaseChatModel | None = None,
    personality_store: PersonalityStore | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the reflection graph over the given services.

    ``personality_store`` defaults to one over the long-term store's Chroma and the short-term store's Redis (the
    conversation graph's default too).
    """
    personality = personality_store or PersonalityStore(long_term.client, short_term.redis)
    graph = StateGraph(ReflectionState, context_schema=Context, input_schema=ReflectionInput)
    graph.add_node("start_run", start_run)
    graph.add_node(
        "consolidate",
        partial(consolidate, long_term=long_term, log=log, embedder=embedder, chat_model=chat_model),
    )
    graph.add_node("conflicts", partial(detect_conflicts, long_term=long_term, log=log, chat_model=chat_model))
    graph.add_node("personality", partial(evolve_personality, store=personality))
    graph.add_node("forget", partial(forget, long_term=long_term, archive=archive, short_term=short_term, log=log))
    graph.add_edge(START, "start_run")
    routes: dict[Hashable, str] = {END: END}
    routes.update({task: task for task in TASKS})
    for node in ("start_run", *TASKS):
        graph.add_conditional_edges(node, next_task, routes)
    return graph.compile(name=GRAPH_NAME)


def archive_store(long_term: LongTermStore) -> LongTermStore:
    """The archive of faded memories: the same per-user store, in its own namespace."""
    return LongTermStore(long_term.client, namespace=ARCHIVE_NAMESPACE)


def build_graph_from_services(services: Services) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services."""
    return build_graph(
        long_term=services.long_term,
        archive=archive_store(services.long_term),
        short_term=services.short_term,
        log=ReflectionLog(services.chroma),
        embedder=services.embedder,
        chat_model=services.chat_model,
    )


def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Entry point for ``langgraph.json``: services from settings."""
    from companion.services import build_services
    from companion.settings import get_settings

    return build_graph_from_services(build_services(get_settings()))


async def run_reflection(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    *,
    user_id: str,
    now: float | None = None,
    tasks: list[str] | None = None,
    persona: str = "default",
) -> dict[str, Any]:
    """Run reflection for one user and return the final state (the run's report)."""
    validate_user_id(user_id)
    payload: dict[str, Any] = {}
    if now is not None:
        payload["now"] = now
    if tasks is not None:
        payload["tasks"] = tasks
    result = await graph.ainvoke(payload, context=Context(user_id=user_id, persona=persona))
    return dict(result)
