"""Injection guard nodes of the conversation graph (design seed 003).

``screen_message`` runs after the message has been embedded (it reuses the turn's embedding: no second model
call) and before ``respond``; ``route_after_screen`` sends a flagged message to ``defend``, which answers by
escalation level and ends the turn without writing any memory.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from companion.errors import InjectionBlockedError
from memory.security import SecurityStore
from nodes.conversation import Context, ConversationState
from prompts.injection import INJECTION_REPLIES
from tools.injection import InjectionClassifier, detect_injection

GUARD_RESPONDER = "guard"


async def screen_message(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    security: SecurityStore,
    classifier: InjectionClassifier | None,
) -> dict[str, Any]:
    """Refuse blocked or cooling-down users; score the message; count and log an offence when it is flagged."""
    started = time.perf_counter()
    user_id = runtime.context.user_id
    restriction = await security.restriction(user_id)
    if restriction is not None:
        what = "blocked after repeated injection attempts" if restriction.level == 3 else "cooling down"
        raise InjectionBlockedError(
            f"this user is {what}; retry in {restriction.retry_after} s", retry_after=restriction.retry_after
        )
    verdict = detect_injection(state["message"], state.get("query_embedding"), classifier)
    result = verdict.to_dict()
    if verdict.flagged and verdict.kind is not None:
        offences, level = await security.record_offence(
            user_id,
            kind=verdict.kind.value,
            score=verdict.score,
            severity=verdict.severity,
            indicators=verdict.indicators,
            text=state["message"],
        )
        result |= {"offences_7d": offences, "escalation_level": level}
    elapsed = round((time.perf_counter() - started) * 1000.0, 3)
    return {"injection": result, "timings_ms": {"screen": elapsed}}


def route_after_screen(state: ConversationState) -> str:
    """``defend`` for a flagged message, else ``respond``."""
    return "defend" if state.get("injection", {}).get("flagged") else "respond"


def defend(state: ConversationState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer a detected injection by escalation level. Nothing of the message is stored, nothing recalled is shown.

    ``memory_id`` and ``association_entry`` are cleared: the thread's state still holds the previous turn's.
    """
    level = int(state.get("injection", {}).get("escalation_level", 1))
    return {
        "reply": INJECTION_REPLIES[min(max(level, 1), 3)],
        "responder": GUARD_RESPONDER,
        "memories": [],
        "memory_id": None,
        "association_entry": None,
    }
