"""The four graphs as ``langgraph.json`` names them.

The dev server loads this file by its path, once per graph, as four separate modules; each imports
``companion.studio`` by name, so all four share the one set of services it builds.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from companion.studio import process_graph
from graphs import association, conversation, proactive, reflection


async def make_conversation_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The conversation graph, compiled once over the process's services; the server adds a checkpointer."""
    return await process_graph(conversation.GRAPH_NAME, conversation.build_graph_from_services)


async def make_association_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The association graph, compiled once over the process's services."""
    return await process_graph(association.GRAPH_NAME, association.build_graph_from_services)


async def make_reflection_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The reflection graph, compiled once over the process's services."""
    return await process_graph(reflection.GRAPH_NAME, reflection.build_graph_from_services)


async def make_proactive_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The proactive graph, compiled once over the process's services."""
    return await process_graph(proactive.GRAPH_NAME, proactive.build_graph_from_services)
