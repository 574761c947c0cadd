"""Chat: one conversation turn, or one turn streamed as Server-Sent Events."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse

from app.deps import CallerDep, ConversationGraphDep, ServicesDep
from app.errors import AUTH, BAD_INPUT, RATE_LIMITED, UNAVAILABLE, Responses
from app.schemas import ChatRequest, ChatResponse
from app.services.chat import chat_turn, start_stream

router = APIRouter(prefix="/v1", tags=["chat"])

#: One Server-Sent Event of a streamed turn (OpenAPI 3.2 ``itemSchema``); ``data`` is JSON.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["token", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}

ERRORS: Responses = {**BAD_INPUT, **AUTH, **RATE_LIMITED, **UNAVAILABLE}


@router.post("/chat", response_model=ChatResponse, responses=ERRORS)
async def chat(
    request: ChatRequest, graph: ConversationGraphDep, caller: CallerDep, services: ServicesDep
) -> ChatResponse:
    """Run one conversation turn for ``user_id`` (the key must belong to that user, or be an admin key)."""
    caller.authorize_user(request.user_id)
    return await chat_turn(graph, request, persona=services.settings.persona)


@router.post(
    "/chat/stream",
    response_model=None,
    responses={
        200: {
            "description": '`token` events ({"text": ...}) as the reply is produced, then one `done` event '
            "carrying a ChatResponse (or an `error` event carrying an ErrorBody)",
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        },
        **ERRORS,
    },
)
async def chat_stream(
    request: ChatRequest, graph: ConversationGraphDep, caller: CallerDep, services: ServicesDep
) -> EventSourceResponse:
    """Run one turn and stream the reply as Server-Sent Events."""
    caller.authorize_user(request.user_id)
    return EventSourceResponse(await start_stream(graph, request, persona=services.settings.persona))
