"""Nodes of the conversation graph that choose how the companion answers: with care, lightly, or as usual.

    appraise ─┬─> attend_crisis -> respond      (perception flagged a crisis: tools/care.py)
              ├─> deflect ────────────────┐     (an uncertain injection verdict: tools/defence.py)
              └─> respond                 └─> store_long_term (like any reply)

``attend_crisis`` logs the crisis for admins (never its text) and counts it, and plans a gentle check-in within
24 hours that the proactive graph sends within its guardrails; ``respond`` then answers with care (its crisis
branch). ``deflect`` answers an uncertain injection verdict with a light, in-character deflection: no offence, no
penalty, and the message is stored like any other.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from langgraph.runtime import Runtime

from memory.outreach import OutreachStore
from memory.security import SecurityStore
from nodes.conversation import Context, ConversationState, turn_crisis
from prompts.injection import INJECTION_DEFLECTION_REPLY
from tools.care import CHECK_IN_AFTER_HOURS, CHECK_IN_WITHIN_HOURS

logger = logging.getLogger(__name__)

DEFLECT_RESPONDER = "guard"
_HOUR = 3600.0


def route_reply(state: ConversationState) -> str:
    """``attend_crisis`` for a crisis, ``deflect`` for an uncertain injection verdict, else ``respond``."""
    if turn_crisis(state).flagged:
        return "attend_crisis"
    if state.get("injection", {}).get("action") == "deflect":
        return "deflect"
    return "respond"


async def attend_crisis(
    state: ConversationState, runtime: Runtime[Context], *, security: SecurityStore, outreach: OutreachStore
) -> dict[str, Any]:
    """Log and count the crisis (no text), and plan a check-in ``CHECK_IN_AFTER_HOURS`` later, within 24 hours."""
    started = time.perf_counter()
    crisis = turn_crisis(state)
    user_id, kind = runtime.context.user_id, crisis.kind or "self_harm"
    received = state.get("received_at") or time.time()
    entry = await security.record_crisis(
        user_id,
        conversation_id=runtime.context.conversation_id,
        memory_id=state.get("turn_id", ""),
        kind=kind,
        score=crisis.score,
        source=crisis.source,
    )
    due_at = received + CHECK_IN_AFTER_HOURS * _HOUR
    await outreach.plan_checkin(user_id, due_at=due_at, expires_at=received + CHECK_IN_WITHIN_HOURS * _HOUR, kind=kind)
    logger.info("crisis (%s, %s) for user %s: incident %s, check-in planned", kind, crisis.source, user_id, entry)
    return {
        "care": {"crisis": kind, "incident_id": entry, "check_in_due_at": due_at},
        "timings_ms": {"attend_crisis": round((time.perf_counter() - started) * 1000.0, 3)},
    }


def deflect(state: ConversationState, runtime: Runtime[Context]) -> dict[str, Any]:
    """A light, in-character deflection for a message the guard is unsure about; nothing is counted."""
    return {"reply": INJECTION_DEFLECTION_REPLY, "responder": DEFLECT_RESPONDER}
