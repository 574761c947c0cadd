"""Chat: one conversation turn, or one turn streamed as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.sse import EventSourceResponse

from app.deps import CallerDep, ConversationGraphDep, ServicesDep, add_rate_limit_headers
from app.errors import AUTH, BAD_INPUT, CONFLICT, RATE_LIMITED, UNAVAILABLE, Responses
from app.schemas import ChatRequest, ChatResponse, Classification, ClassifyRequest
from app.services.chat import chat_turn, start_stream
from memory.idempotency import IdempotencyStore
from memory.records import validate_message
from tools.classify import classify_text

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

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",  # printable ASCII without spaces, as memory.idempotency checks
        description="Any unique text per message (a UUID): a retry with the same key stores nothing twice and, "
        "once the first attempt finished, gets its response back (with `Idempotent-Replayed: true`); 409 while "
        "the first attempt is still running",
    ),
]


@router.post("/chat", response_model=ChatResponse, responses={**ERRORS, **CONFLICT})
async def chat(
    request: ChatRequest,
    graph: ConversationGraphDep,
    caller: CallerDep,
    services: ServicesDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ChatResponse:
    """Run one conversation turn for ``user_id`` (the key must belong to that user, or be an admin key)."""
    caller.authorize_user(request.user_id)
    result, replayed = await chat_turn(
        graph,
        request,
        persona=services.settings.persona,
        idempotency=IdempotencyStore(services.redis),
        idempotency_key=idempotency_key,
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    await add_rate_limit_headers(response, services, request.user_id)
    return result


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
    request: ChatRequest,
    graph: ConversationGraphDep,
    caller: CallerDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> EventSourceResponse:
    """Run one turn and stream the reply as Server-Sent Events.

    An ``Idempotency-Key`` makes a retried stream store its message once (the same memory id); the reply is
    produced again rather than replayed.
    """
    caller.authorize_user(request.user_id)
    stream = await start_stream(graph, request, persona=services.settings.persona, idempotency_key=idempotency_key)
    response = EventSourceResponse(stream)
    await add_rate_limit_headers(response, services, request.user_id)
    return response


@router.post("/classify", response_model=Classification, responses=ERRORS)
async def classify(body: ClassifyRequest, caller: CallerDep, services: ServicesDep) -> Classification:
    """What the companion perceives in a text, without storing anything or counting an offence.

    Emotions, importance, category, crisis, injection, sensitivity and message type. Any valid API key; a user key's
    calls count against that user's rate limit.
    """
    text = validate_message(body.text, max_chars=services.settings.max_message_chars)
    if not caller.is_admin:
        await services.short_term.admit(caller.key.user_id)
    model_name = services.settings.chat_model
    threshold = services.settings.injection_threshold
    result = await classify_text(
        text, services.embedder, services.chat_model, model_name=model_name, injection_threshold=threshold
    )
    return Classification.model_validate(result)
