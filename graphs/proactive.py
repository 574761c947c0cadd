"""The proactive graph: decides whether the companion messages a user first, now, and sends it.

    load_guardrail_signals -> check_guardrails ─?─> score ─?─> compose_starter ─?─> send_outreach
                                               └─> END    └─> END            └─> END (dry run)

Guardrails come first (opt-out, quiet hours, 3 a day, 4 h apart, 24 h after a decline or an ignored outreach), so
a blocked user costs two Redis reads. Then the seed's score (``tools/proactive.py``); at or above 0.6 a starter is
written (need-, memory- or time-based template; the chat model personalises it when configured) and put in the
outbox stream ``companion:stream:outbox`` (format in ``memory/outreach.py``) with its score and reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.records import validate_user_id
from memory.short_term import ShortTermStore
from nodes.proactive import (
    Context,
    ProactiveInput,
    ProactiveState,
    after_guardrails,
    after_score,
    after_starter,
    check_guardrails,
    compose_starter,
    load_guardrail_signals,
    score,
    send_outreach,
)
from tools.personality_time import personality_reader
from tools.proactive import MAX_PER_DAY, PersonalityReader

if TYPE_CHECKING:
    from companion.services import Services

GRAPH_NAME = "proactive"


def build_graph(
    *,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    outreach: OutreachStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None = None,
    personality: PersonalityReader | None = None,
    max_per_day: int = MAX_PER_DAY,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the proactive graph over the given services (``personality``: needs, traits and mood per user).

    ``max_per_day`` caps the outreaches a user gets in one local day (the setting, 3 by default).
    """
    graph = StateGraph(ProactiveState, context_schema=Context, input_schema=ProactiveInput)
    graph.add_node("load_guardrail_signals", partial(load_guardrail_signals, outreach=outreach, short_term=short_term))
    graph.add_node("check_guardrails", partial(check_guardrails, max_per_day=max_per_day))
    graph.add_node("score", partial(score, long_term=long_term, personality=personality))
    graph.add_node(
        "compose_starter", partial(compose_starter, long_term=long_term, embedder=embedder, chat_model=chat_model)
    )
    graph.add_node("send_outreach", partial(send_outreach, outreach=outreach))
    graph.add_edge(START, "load_guardrail_signals")
    graph.add_edge("load_guardrail_signals", "check_guardrails")
    graph.add_conditional_edges("check_guardrails", after_guardrails, {"score": "score", END: END})
    graph.add_conditional_edges("score", after_score, {"compose_starter": "compose_starter", END: END})
    graph.add_conditional_edges("compose_starter", after_starter, {"send_outreach": "send_outreach", END: END})
    graph.add_edge("send_outreach", END)
    return graph.compile(name=GRAPH_NAME)


def build_graph_from_services(services: Services) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services."""
    return build_graph(
        long_term=services.long_term,
        short_term=services.short_term,
        outreach=OutreachStore(services.redis),
        embedder=services.embedder,
        chat_model=services.chat_model,
        personality=personality_reader(services.personality),
        max_per_day=services.settings.proactive_max_per_day,
    )


async def run_proactive(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    *,
    user_id: str,
    now: float | None = None,
    dry_run: bool = False,
    persona: str = "default",
) -> dict[str, Any]:
    """Decide (and unless ``dry_run``, send) for one user; returns the final state."""
    validate_user_id(user_id)
    payload: dict[str, Any] = {"dry_run": dry_run}
    if now is not None:
        payload["now"] = now
    return dict(await graph.ainvoke(payload, context=Context(user_id=user_id, persona=persona)))


async def run_proactive_pass(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    user_ids: Iterable[str],
    *,
    now: float | None = None,
    dry_run: bool = False,
    persona: str = "default",
) -> list[dict[str, Any]]:
    """One pass over ``user_ids``: a decision per user, with score and reasons."""
    results = []
    for user_id in user_ids:
        state = await run_proactive(graph, user_id=user_id, now=now, dry_run=dry_run, persona=persona)
        results.append(decision_summary(user_id, state))
    return results


def decision_summary(user_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The JSON object ``companion proactive --json`` prints for one user."""
    return {
        "user_id": user_id,
        "decision": state.get("decision"),
        "blocked": state.get("blocked"),
        "score": state.get("score"),
        "reasons": state.get("reasons"),
        "starter": state.get("starter"),
        "outreach_id": state.get("outreach_id"),
    }
