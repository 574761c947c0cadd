"""The companion's personality with one user: traits, mood with its recent causes, needs, quirks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import AuthorizedUser, ServicesDep
from app.errors import ROUTE_ERRORS
from app.schemas import Personality
from companion.core.personality.persona import load_persona
from tools.personality import personality_snapshot

router = APIRouter(prefix="/v1/users/{user_id}/personality", tags=["personality"])


@router.get("", response_model=Personality, responses=ROUTE_ERRORS)
async def get_personality(
    user_id: AuthorizedUser,
    services: ServicesDep,
    changes: Annotated[int, Query(ge=1, le=50, description="How many recent mood changes to include")] = 10,
) -> Personality:
    """The state as of now (the configured persona): reading it changes nothing."""
    store = services.personality
    persona = load_persona(services.settings.persona)
    return Personality.model_validate(await personality_snapshot(store, user_id, persona, changes=changes))
