"""Admin: users and API keys (admin key only)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from app.deps import AdminDep, ServicesDep
from app.errors import AUTH, UNAVAILABLE, Responses
from app.schemas import UserList

router = APIRouter(prefix="/v1/admin", tags=["admin"])

ERRORS: Responses = {**AUTH, **UNAVAILABLE}


@router.get("/users", response_model=UserList, responses=ERRORS)
async def list_users(admin: AdminDep, services: ServicesDep) -> UserList:
    """Every user with long-term memories."""
    users = await asyncio.to_thread(services.long_term.list_users)
    return UserList(users=users, total=len(users))
