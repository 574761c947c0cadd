"""FastAPI dependencies: the services and the compiled graph opened by the app's lifespan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from langgraph.graph.state import CompiledStateGraph

from companion.services import Services


def get_services(request: Request) -> Services:
    """The live services of this app."""
    services: Services = request.app.state.services
    return services


def get_conversation_graph(request: Request) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled conversation graph of this app."""
    graph: CompiledStateGraph[Any, Any, Any, Any] = request.app.state.conversation_graph
    return graph


ServicesDep = Annotated[Services, Depends(get_services)]
ConversationGraphDep = Annotated[CompiledStateGraph[Any, Any, Any, Any], Depends(get_conversation_graph)]
