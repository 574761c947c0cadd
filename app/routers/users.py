"""Data rights: export everything about a user, or erase it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import AuthorizedUser, CheckpointerDep, FullyClearedUser, ServicesDep
from app.errors import ROUTE_ERRORS
from app.schemas import (
    ID_PATTERN,
    Interaction,
    InteractionLog,
    Profile,
    ProfileUpdate,
    SessionView,
    UserErasure,
    UserExport,
)
from app.services.chat import session as current_session
from companion.runtime.users import erase_user, export_user
from memory.profiles import ProfileStore
from memory.short_term import parsed_interaction as parsed

router = APIRouter(prefix="/v1/users/{user_id}", tags=["users"])


@router.get("/export", response_model=UserExport, responses=ROUTE_ERRORS)
async def export(user_id: AuthorizedUser, services: ServicesDep, checkpointer: CheckpointerDep) -> UserExport:
    """All of the user's data as JSON: memories, short-term turns, queued messages, checkpoints, key ids."""
    return UserExport.model_validate(await export_user(services, checkpointer, user_id))


@router.delete("", response_model=UserErasure, responses=ROUTE_ERRORS)
async def erase(user_id: AuthorizedUser, services: ServicesDep, checkpointer: CheckpointerDep) -> UserErasure:
    """Erase the user from Chroma, Redis (turns, activity, rate limits, queue, keys) and the checkpoints."""
    report = await erase_user(services, checkpointer, user_id)
    return UserErasure(user_id=user_id, **asdict(report))


@router.get("/profile", response_model=Profile, responses=ROUTE_ERRORS)
async def profile(user_id: AuthorizedUser, services: ServicesDep) -> Profile:
    """The user's profile: how the companion addresses them, their language, analytics consent."""
    return Profile(user_id=user_id, **(await ProfileStore(services.redis).get(user_id)).to_dict())


@router.patch("/profile", response_model=Profile, responses=ROUTE_ERRORS)
async def update_profile(user_id: AuthorizedUser, body: ProfileUpdate, services: ServicesDep) -> Profile:
    """Change the profile; withdrawing analytics consent also deletes the interaction log kept so far."""
    changed = await ProfileStore(services.redis).update(user_id, **body.model_dump(exclude_none=True))
    return Profile(user_id=user_id, **changed.to_dict())


@router.get("/interactions", response_model=InteractionLog, responses=ROUTE_ERRORS)
async def interactions(
    user_id: AuthorizedUser,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first")] = 50,
) -> InteractionLog:
    """The per-turn interaction log (seed 003's analytics): mood before and after, response time, what was found."""
    found = await services.short_term.interactions(user_id, limit=limit)
    return InteractionLog(user_id=user_id, interactions=[Interaction.model_validate(parsed(row)) for row in found])


@router.get("/session", response_model=SessionView, responses=ROUTE_ERRORS)
async def session(
    user_id: FullyClearedUser,
    services: ServicesDep,
    conversation_id: Annotated[str, Query(min_length=1, max_length=128, pattern=ID_PATTERN)] = "default",
) -> SessionView:
    """The user's current conversation: the recent turns the next reply is written from, and when they last wrote."""
    return await current_session(services, user_id, conversation_id)
