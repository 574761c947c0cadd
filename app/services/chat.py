"""Chat turns for the API: one turn, or one turn streamed as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi.sse import format_sse_event
from langchain_core.messages import AIMessageChunk
from langgraph.graph.state import CompiledStateGraph
from redis.exceptions import RedisError

from app.errors import ErrorBody
from app.schemas import (
    ChatRequest,
    ChatResponse,
    DetectionInfo,
    InjectionInfo,
    RecalledMemory,
    SensitivityInfo,
    SessionView,
    TurnMood,
)
from companion.core.errors import CompanionError
from companion.services import Services
from graphs.conversation import run_turn, turn_config
from memory.idempotency import IdempotencyStore, idempotent_request
from memory.sensitivity import SHARED_MAX_LEVEL, Sensitivity
from nodes.conversation import turns_from_records

logger = logging.getLogger(__name__)


def to_response(state: dict[str, Any]) -> ChatResponse:
    """The API view of a finished turn's state."""
    return ChatResponse(
        reply=state.get("reply", ""),
        responder=state.get("responder", ""),
        memory_id=state.get("memory_id"),
        context_source=state.get("context_source", "empty"),
        memories=[
            RecalledMemory(**{k: m[k] for k in ("id", "text", "score", "similarity")})
            for m in state.get("memories", [])
        ],
        timings_ms=state.get("timings_ms", {}),
        injection=InjectionInfo.model_validate(state["injection"]) if state.get("injection") else None,
        sensitivity=SensitivityInfo.model_validate(state["sensitivity"])
        if state.get("sensitivity") and state.get("memory_id")
        else None,
        withheld_memories=len(state.get("withheld_memories", [])),
        short_term="deferred" if state.get("short_term") == "deferred" else "stored",
        mood=TurnMood.model_validate(state["mood"]) if state.get("mood") else None,
        detection=DetectionInfo.model_validate(state["detection"]) if state.get("detection") else None,
    )


def ceiling(request: ChatRequest) -> str:
    """The most sensitive memory level the turn may use: all of them in private, ``chronological`` when shared."""
    return SHARED_MAX_LEVEL.value if request.shared else Sensitivity.ULTRASECRET.value


async def chat_turn(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    request: ChatRequest,
    *,
    persona: str = "default",
    idempotency: IdempotencyStore | None = None,
    idempotency_key: str | None = None,
) -> tuple[ChatResponse, bool]:
    """Run one turn; returns the response and whether it is the stored answer to an earlier attempt.

    With an ``idempotency_key``, a retry of a finished request gets its first response back and a retry of a
    failed one runs again with the same turn id, so the message is stored once however often it is sent.
    """
    claim = idempotent_request(request.user_id, idempotency_key) if idempotency_key is not None else None
    if claim is not None and idempotency is not None:
        stored = await idempotency.begin(claim)
        if stored is not None:
            return ChatResponse.model_validate_json(stored), True
    try:
        state = await run_turn(
            graph,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            message=request.message,
            persona=persona,
            max_sensitivity=ceiling(request),
            turn_id=claim.turn_id if claim is not None else None,
        )
    except BaseException:
        if claim is not None and idempotency is not None:
            await idempotency.abandon(claim)
        raise
    response = to_response(state)
    if claim is not None and idempotency is not None:
        try:
            await idempotency.finish(claim, response.model_dump_json())
        except RedisError as exc:  # the turn is stored: answer it (a retry within PENDING_SECONDS gets a 409)
            logger.warning("the response of an idempotent request was not kept (Redis failed: %s)", exc)
    return response, False


async def start_stream(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    request: ChatRequest,
    *,
    persona: str = "default",
    idempotency_key: str | None = None,
) -> AsyncIterator[bytes]:
    """Start a streamed turn and return its SSE byte stream.

    The first graph step (validation and rate limits) runs before this returns, so bad input and rate limits
    still answer with a 4xx instead of an error inside a 200 stream; a later failure (the chat model) ends
    the stream with an ``error`` event carrying an ``ErrorBody``. Events: ``token`` (chunks of the reply as the
    chat model produces them; the offline responder sends its reply as one chunk) and a final ``done`` carrying
    the full ``ChatResponse``.
    """
    config, context = turn_config(
        user_id=request.user_id,
        conversation_id=request.conversation_id,
        persona=persona,
        max_sensitivity=ceiling(request),
    )
    claim = idempotent_request(request.user_id, idempotency_key) if idempotency_key is not None else None
    steps: AsyncIterator[Any] = graph.astream(
        {"message": request.message, "requested_turn_id": claim.turn_id if claim is not None else None},
        config,
        context=context,
        stream_mode=["messages", "values", "updates"],
        durability="exit",
    ).__aiter__()
    # Run until admit_message has finished: its errors (bad input, rate limits) propagate as 4xx from here.
    early: list[tuple[str, Any]] = []
    while not early or not (early[-1][0] == "updates" and "admit_message" in early[-1][1]):
        early.append(cast(tuple[str, Any], await steps.__anext__()))

    async def items() -> AsyncIterator[tuple[str, Any]]:
        for item in early:
            yield item
        async for item in steps:
            yield cast(tuple[str, Any], item)

    async def events() -> AsyncIterator[bytes]:
        state: dict[str, Any] = {}
        streamed = False
        stream = items()
        while True:
            try:
                mode, payload = await stream.__anext__()
            except StopAsyncIteration:
                break
            except CompanionError as exc:  # headers are sent: report the failure as the stream's last event
                body = ErrorBody(error=type(exc).__name__, detail=str(exc))
                yield format_sse_event(event="error", data_str=body.model_dump_json())
                return
            if mode == "messages":
                chunk, metadata = payload
                from_reply = metadata.get("langgraph_node") == "respond"  # not the importance scorer's output
                if from_reply and isinstance(chunk, AIMessageChunk) and chunk.text:
                    streamed = True
                    yield format_sse_event(event="token", data_str=json.dumps({"text": chunk.text}))
            elif mode == "values":
                state = dict(payload)
        response = to_response(state)
        if not streamed:
            yield format_sse_event(event="token", data_str=json.dumps({"text": response.reply}))
        yield format_sse_event(event="done", data_str=response.model_dump_json())

    return events()


async def session(services: Services, user_id: str, conversation_id: str) -> SessionView:
    """The turns the next reply is written from: Redis's, or those rebuilt from Chroma when Redis lost them."""
    loaded = await services.short_term.load(user_id, conversation_id)
    turns, source = loaded.turns, "redis"
    if not turns:
        short_term = services.short_term
        records = await asyncio.to_thread(
            services.long_term.recent_turns,
            user_id,
            conversation_id,
            since=time.time() - short_term.active_ttl,
            limit=short_term.context_turns,
        )
        turns = turns_from_records(records)[-short_term.context_turns :]
        source = "chroma" if turns else "empty"
    return SessionView(
        user_id=user_id,
        conversation_id=conversation_id,
        source=source,
        last_active=loaded.last_active,
        turns=[{"role": turn.role, "content": turn.content, "ts": turn.ts} for turn in turns],
    )
