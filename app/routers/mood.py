"""The companion's mood history with one user: every recorded change with its rule and cause."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import AuthorizedUser, ServicesDep
from app.errors import ROUTE_ERRORS
from app.schemas import PAD, Mood
from app.services.mood import mood_history

router = APIRouter(prefix="/v1/users/{user_id}/personality", tags=["personality"])


class RecordedMoodChange(BaseModel):
    """One recorded mood change."""

    at: float
    rule: str = Field(
        description="achievement, failure, compliment, surprise, social, empathy, injection_penalty or relaxation"
    )
    cause: str
    delta: PAD
    before: PAD
    after: PAD
    label: str = Field(description="The mood's label after the change")


class MoodHistory(BaseModel):
    """The mood now and its recorded changes, newest first."""

    user: str
    persona: str
    source: str = Field(description="Where the state came from: redis, chroma, or new (never talked)")
    as_of: float
    mood: Mood
    baseline: Mood
    kept: int = Field(description="How many changes the state keeps (older ones are dropped)")
    changes: list[RecordedMoodChange]


@router.get("/mood", response_model=MoodHistory, responses=ROUTE_ERRORS)
async def mood(
    user_id: AuthorizedUser,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=50, description="How many changes, newest first")] = 50,
    rule: Annotated[
        str | None, Query(min_length=1, max_length=40, pattern=r"^[a-z_]+$", description="Only this rule's changes")
    ] = None,
) -> MoodHistory:
    """Recorded mood changes (rule, cause, PAD delta, before and after); reading changes nothing."""
    return MoodHistory.model_validate(await mood_history(services, user_id, limit=limit, rule=rule))
