"""Proactive outreach of one user, for REST clients: what is waiting to be delivered, and acknowledging delivery.

The bots deliver the outbox through their own consumer groups (``bots/common/outbox.py``); a REST client polls
``GET`` and acknowledges each message it showed the user with ``POST .../{outreach_id}/ack``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import AuthorizedUser, ServicesDep
from app.errors import NOT_FOUND, ROUTE_ERRORS
from app.pagination import PageQuery
from app.schemas import OutreachAck, OutreachPage
from app.services import outreach

router = APIRouter(prefix="/v1/users/{user_id}/outreach", tags=["outreach"])

OutreachIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@router.get("", response_model=OutreachPage, responses=ROUTE_ERRORS)
async def list_outreach(
    user_id: AuthorizedUser,
    services: ServicesDep,
    page: PageQuery,
) -> OutreachPage:
    """The user's outreach not yet acknowledged through the API (last 30 days), oldest first."""
    return await outreach.undelivered(services, user_id, limit=page.limit, cursor=page.cursor)


@router.post("/{outreach_id}/ack", response_model=OutreachAck, responses=ROUTE_ERRORS | NOT_FOUND)
async def acknowledge(user_id: AuthorizedUser, outreach_id: OutreachIdPath, services: ServicesDep) -> OutreachAck:
    """Mark one outreach delivered (idempotent): it no longer appears in the list."""
    return await outreach.acknowledge(services, user_id, outreach_id)
