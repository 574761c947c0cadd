"""The proactive outbox for the REST app: a user's undelivered outreach, and acknowledging delivery."""

from __future__ import annotations

import json
import time
from typing import Any

from app.pagination import keyset_page
from app.schemas import Outreach, OutreachAck, OutreachPage
from companion.core.errors import NotFoundError
from companion.services import Services
from memory.outreach import OutreachStore


def _outreach(fields: dict[str, str]) -> Outreach:
    reasons: Any = fields.get("reasons") or "{}"
    try:
        reasons = json.loads(reasons)
    except ValueError:
        reasons = {"raw": reasons}
    return Outreach(
        outreach_id=fields.get("outreach_id", fields["entry_id"]),
        text=fields.get("text", ""),
        trigger=fields.get("trigger", ""),
        score=float(fields.get("score") or 0.0),
        reasons=reasons if isinstance(reasons, dict) else {"value": reasons},
        persona=fields.get("persona", ""),
        created_at=float(fields.get("created_at") or 0.0),
    )


async def undelivered(services: Services, user_id: str, *, limit: int = 100, cursor: str | None = None) -> OutreachPage:
    """The user's outreach of the last 30 days that no REST client has acknowledged yet, oldest first."""
    entries = await OutreachStore(services.redis).undelivered(user_id, now=time.time())
    items = [_outreach(fields) for fields in entries]
    page, next_cursor = keyset_page(
        items, key=lambda item: (item.created_at, item.outreach_id), limit=limit, cursor=cursor, descending=False
    )
    return OutreachPage(user_id=user_id, total=len(items), outreach=page, next_cursor=next_cursor)


async def acknowledge(services: Services, user_id: str, outreach_id: str) -> OutreachAck:
    """Mark one outreach of the user delivered; ``NotFoundError`` if it is not theirs (or older than 30 days)."""
    at = await OutreachStore(services.redis).acknowledge(user_id, outreach_id, now=time.time())
    if at is None:
        raise NotFoundError(f"no outreach {outreach_id!r} for user {user_id!r}")
    return OutreachAck(outreach_id=outreach_id, delivered=True, delivered_at=at)
