"""Chat: one conversation turn."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.deps import ConversationGraphDep
from graphs.conversation import run_turn

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    """One message from a user."""

    user_id: str = Field(min_length=1, max_length=128, examples=["alice"])
    conversation_id: str = Field(default="default", min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=100_000, examples=["I adopted a cat called Miso!"])


class RecalledMemory(BaseModel):
    """A memory the turn used."""

    id: str
    text: str
    score: float
    similarity: float


class ChatResponse(BaseModel):
    """The companion's answer and what it recalled."""

    reply: str
    responder: str
    memory_id: str
    context_source: str
    memories: list[RecalledMemory]
    timings_ms: dict[str, float]


@router.post("/chat", response_model=ChatResponse, responses={400: {}, 429: {}, 503: {}})
async def chat(request: ChatRequest, graph: ConversationGraphDep) -> ChatResponse:
    """Run one conversation turn."""
    state = await run_turn(
        graph, user_id=request.user_id, conversation_id=request.conversation_id, message=request.message
    )
    return ChatResponse(
        reply=state["reply"],
        responder=state["responder"],
        memory_id=state["memory_id"],
        context_source=state["context_source"],
        memories=[
            RecalledMemory(**{k: m[k] for k in ("id", "text", "score", "similarity")}) for m in state["memories"]
        ],
        timings_ms=state.get("timings_ms", {}),
    )
