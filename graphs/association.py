"""The association graph: turns a batch of one user's queued messages into linked, versioned memories.

    load_messages -> find_related -> score_relations ─┬─> create_memory  ─┐
                                                      ├─> create_version ─┼─> apply_writes
                                                      ├─> relate_weakly  ─┘
                                                      └─────────────────────> apply_writes (nothing to decide)

``route_by_decision`` is the conditional edge: it applies the seed's rules (``tools/association.py``) to each
message and sends it to its branch (LangGraph ``Send``), so Studio shows which branches ran and for which
messages. Branches only plan; ``apply_writes`` writes every plan of the batch in a few batched Chroma calls.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import validate_user_id
from nodes.association import (
    AssociationInput,
    AssociationOutput,
    AssociationState,
    BranchInput,
    Context,
    LLMBudget,
    apply_writes,
    create_memory,
    create_version,
    find_related,
    load_messages,
    relate_weakly,
    route_decision,
    score_relations,
)
from tools.association import Decision

if TYPE_CHECKING:
    from companion.services import Services

GRAPH_NAME = "association"
BRANCHES = {
    Decision.NEW_MEMORY: "create_memory",
    Decision.NEW_VERSION: "create_version",
    Decision.WEAK_RELATIONS: "relate_weakly",
}


def route_by_decision(state: AssociationState) -> list[Send] | str:
    """Send each scored message to the branch of its decision; straight to ``apply_writes`` if none has one."""
    sends = []
    for scored in state.get("scored", []):
        decision, target, relations = route_decision(scored)
        if decision in BRANCHES:
            sends.append(Send(BRANCHES[decision], BranchInput(scored=scored, target_id=target, relations=relations)))
    return sends or "apply_writes"


def build_graph(
    *,
    long_term: LongTermStore,
    links: LinkStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None = None,
    llm_budget: LLMBudget | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the association graph over the given services (no checkpointer: the stream is the durable log)."""
    graph = StateGraph(
        AssociationState, context_schema=Context, input_schema=AssociationInput, output_schema=AssociationOutput
    )
    graph.add_node("load_messages", partial(load_messages, long_term=long_term, links=links, embedder=embedder))
    graph.add_node("find_related", partial(find_related, long_term=long_term))
    graph.add_node("score_relations", partial(score_relations, chat_model=chat_model, llm_budget=llm_budget))
    graph.add_node("create_memory", create_memory)
    graph.add_node("create_version", create_version)
    graph.add_node("relate_weakly", relate_weakly)
    graph.add_node(
        "apply_writes",
        partial(
            apply_writes,
            long_term=long_term,
            links=links,
            embedder=embedder,
            chat_model=chat_model,
            llm_budget=llm_budget,
        ),
    )
    graph.add_edge(START, "load_messages")
    graph.add_edge("load_messages", "find_related")
    graph.add_edge("find_related", "score_relations")
    graph.add_conditional_edges(
        "score_relations", route_by_decision, ["create_memory", "create_version", "relate_weakly", "apply_writes"]
    )
    for branch in BRANCHES.values():
        graph.add_edge(branch, "apply_writes")
    graph.add_edge("apply_writes", END)
    return graph.compile(name=GRAPH_NAME)


def build_graph_from_services(services: Services) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services and settings."""
    from memory.association_queue import RedisLLMBudget

    return build_graph(
        long_term=services.long_term,
        links=services.links,
        embedder=services.embedder,
        chat_model=services.chat_model,
        llm_budget=RedisLLMBudget(services.redis, per_minute=services.settings.association_llm_per_minute),
    )


async def associate(
    graph: CompiledStateGraph[Any, Any, Any, Any], *, user_id: str, message_ids: list[str]
) -> dict[str, str]:
    """Run one batch of a user's queued messages; returns each message's outcome (decision or ``skipped``)."""
    validate_user_id(user_id)
    result = await graph.ainvoke({"message_ids": message_ids}, context=Context(user_id=user_id))
    return dict(result.get("outcomes", {}))
