"""Admin: the worker's dead letters (entries that failed every retry), listed and replayed.

The queues are shared by every tenant, so these routes take an operator key (an admin key without a tenant).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import OperatorDep, ServicesDep
from app.errors import NOT_FOUND, ROUTE_ERRORS
from app.pagination import PageQuery
from app.services.dead_letters import list_dead_letters, replay

router = APIRouter(prefix="/v1/admin/dead-letters", tags=["admin"])

QueueName = Literal["association", "ingest"]
#: A Redis stream entry id.
ENTRY_ID_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"


class DeadLetter(BaseModel):
    """An entry that failed every retry."""

    id: str = Field(description="Its id on the dead-letter stream (what replay takes)")
    user_id: str | None
    error: str
    failed_at: float | None
    source_id: str | None = Field(description="Its id on the queue it failed on")
    fields: dict[str, str] = Field(description="The original entry (memory_id, submission_id, ...)")


class DeadLetters(BaseModel):
    """A queue's dead letters, oldest first."""

    queue: QueueName
    total: int
    dead_letters: list[DeadLetter]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class ReplayRequest(BaseModel):
    """Which dead letters to put back on their queue."""

    queue: QueueName = "association"
    ids: list[Annotated[str, Field(pattern=ENTRY_ID_PATTERN, max_length=41)]] | None = Field(
        default=None, min_length=1, max_length=1000, description="Dead-letter ids; all of the queue's when omitted"
    )


class Replayed(BaseModel):
    """How many dead letters went back on the queue."""

    queue: QueueName
    replayed: int


@router.get("", response_model=DeadLetters, responses=ROUTE_ERRORS)
async def dead_letters(
    *,
    admin: OperatorDep,
    services: ServicesDep,
    queue: Annotated[QueueName, Query(description="association or ingest")] = "association",
    page: PageQuery,
) -> DeadLetters:
    """Entries that failed every retry, oldest first, with the error each failed with."""
    found = await list_dead_letters(services, queue=queue, limit=page.limit, cursor=page.cursor)
    return DeadLetters.model_validate(found)


@router.post("/replay", response_model=Replayed, responses=ROUTE_ERRORS | NOT_FOUND)
async def replay_dead_letters(admin: OperatorDep, services: ServicesDep, body: ReplayRequest) -> Replayed:
    """Put dead letters back on their queue for the worker to try again."""
    return Replayed.model_validate(await replay(services, queue=body.queue, ids=body.ids))
