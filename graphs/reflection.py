"""The reflection graph: what the companion does with a user's memories while they are away.

    start_run ─?─> consolidate ─?─> conflicts -> ask_user ─?─> insights ─?─> personality ─?─> forget ─?─> END

Each arrow marked ``?`` is the routing function ``next_task``: a run does only the tasks it is given (the nightly
03:00 run: consolidate, conflicts, insights, personality; the 04:00 run: forget), in this order. See
``nodes/reflection.py`` for what each task does and ``tools/reflection.py`` for the numbers (clustering,
strategies, recurring topics and mood trend, forgetting curve).
``ask_user`` follows every conflicts task: it queues the questions of conflicts awaiting the user for their next
conversation and, with a chat model, settles the ones whose recorded answer the local rules could not read
(``tools/clarification.py``).

A run holds the association worker's per-user lock (``run_reflection(..., lock=...)``), so reflection and
association never update one user's memories at the same time.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memory.association_queue import AssociationQueue
from memory.clarifications import ClarificationQueue
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.personality_store import PersonalityStore
from memory.records import validate_user_id
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore
from nodes.reflection import (
    TASKS,
    Context,
    ReflectionInput,
    ReflectionState,
    ask_user,
    consolidate,
    detect_conflicts,
    evolve_personality,
    find_insights,
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
    clarifications: ClarificationQueue | None = None,
    outreach: OutreachStore | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the reflection graph over the given services.

    ``personality_store`` defaults to one over the long-term store's Chroma and the short-term store's Redis (the
    conversation graph's default too); ``clarifications`` to the queue in the short-term store's Redis, and
    ``outreach`` (where the user's time zone is, for their local days) to the store in that Redis too.
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
    queue = clarifications or ClarificationQueue(short_term.redis)
    graph.add_node("ask_user", partial(ask_user, long_term=long_term, log=log, queue=queue, chat_model=chat_model))
    graph.add_node(
        "insights",
        partial(
            find_insights,
            long_term=long_term,
            log=log,
            embedder=embedder,
            outreach=outreach or OutreachStore(short_term.redis),
            chat_model=chat_model,
        ),
    )
    graph.add_node("forget", partial(forget, long_term=long_term, archive=archive, short_term=short_term, log=log))
    graph.add_edge(START, "start_run")
    routes: dict[Hashable, str] = {END: END}
    routes.update({task: task for task in TASKS})
    graph.add_edge("conflicts", "ask_user")
    for node in ("start_run", *(task for task in TASKS if task != "conflicts"), "ask_user"):
        graph.add_conditional_edges(node, next_task, routes)
    return graph.compile(name=GRAPH_NAME)


def archive_store(long_term: LongTermStore) -> LongTermStore:
    """The archive of faded memories: the same per-user store, in its own namespace."""
    return LongTermStore(long_term.client, namespace=ARCHIVE_NAMESPACE, cipher=long_term.cipher)


def build_graph_from_services(services: Services) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services."""
    return build_graph(
        long_term=services.long_term,
        archive=archive_store(services.long_term),
        short_term=services.short_term,
        log=services.reflection_log,
        embedder=services.embedder,
        chat_model=services.chat_model,
        personality_store=services.personality,
    )


async def run_reflection(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    *,
    user_id: str,
    now: float | None = None,
    tasks: list[str] | None = None,
    persona: str = "default",
    lock: AssociationQueue | None = None,
    lock_seconds: float = 30.0,
) -> dict[str, Any]:
    """Run reflection for one user and return the final state (the run's report).

    With ``lock`` (the association queue), the run holds that user's association lock from start to end (renewed
    every ``lock_seconds / 3`` s), so the association worker never updates the same memories meanwhile; it waits
    up to ``2 × lock_seconds`` for a worker holding it, then raises ``UserBusyError``.
    """
    validate_user_id(user_id)
    payload: dict[str, Any] = {}
    if now is not None:
        payload["now"] = now
    if tasks is not None:
        payload["tasks"] = tasks
    context = Context(user_id=user_id, persona=persona)
    if lock is None:
        return dict(await graph.ainvoke(payload, context=context))
    async with lock.hold(user_id, timeout=lock_seconds):
        return dict(await graph.ainvoke(payload, context=context))
