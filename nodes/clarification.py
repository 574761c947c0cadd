"""Conversation-graph nodes for reflection's clarification questions (``tools/clarification.py``).

``load_clarification`` runs beside the other loaders: one ``HGETALL`` of the user's (usually empty) queue.
``settle_clarification`` runs after the reply: it marks an asked question as asked, or, on the turn after, reads
the user's message as the answer and settles the conflict (the only turn that touches Chroma for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from langgraph.runtime import Runtime

from memory.clarifications import Clarification, ClarificationQueue
from memory.long_term import LongTermStore
from memory.reflection_log import ReflectionLog
from nodes.conversation import Context, ConversationState, turn_crisis
from tools.clarification import ClarificationOutcome, apply_answer, choose_for_turn, interpret_answer

logger = logging.getLogger(__name__)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


async def load_clarification(
    state: ConversationState, runtime: Runtime[Context], *, queue: ClarificationQueue
) -> dict[str, Any]:
    """The question this turn asks, or the one it answers (``state["clarification"]``, ``mode`` ask/answer)."""
    started = time.perf_counter()
    chosen = choose_for_turn(await queue.pending(runtime.context.user_id))
    # always written: with a checkpointer, a question from the thread's previous turn must not linger
    return {"clarification": chosen, "timings_ms": {"load_clarification": _elapsed_ms(started)}}


async def settle_clarification(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    queue: ClarificationQueue,
    long_term: LongTermStore,
    log: ReflectionLog,
) -> dict[str, Any]:
    """Mark the question this reply asked as asked, or settle the conflict with the user's answer."""
    clarification = state.get("clarification")
    if not clarification or turn_crisis(state).flagged:  # a crisis turn neither asks nor answers a question
        return {}
    started = time.perf_counter()
    user_id = runtime.context.user_id
    item = Clarification.from_dict(clarification)
    outcome: ClarificationOutcome
    if clarification["mode"] == "ask":
        asked = await queue.mark_asked(user_id, item, at=time.time(), turn_id=state.get("turn_id", ""))
        outcome = {"conflict_id": item.conflict_id, "status": "asked", "asked_at": asked.asked_at}
    else:
        older, newer = (item.texts + ["", ""])[:2]
        choice = interpret_answer(state["message"], older, newer)
        outcome = await asyncio.to_thread(
            apply_answer,
            long_term,
            log,
            user_id,
            item.conflict_id,
            choice=choice,
            now=time.time(),
            answer=state["message"],
            answer_memory_id=state.get("turn_id", ""),
            asked_at=item.asked_at,
        )
        await queue.remove(user_id, item.conflict_id)
        logger.info("clarification %s of a user: %s", item.conflict_id, outcome["status"])
    return {
        "clarification": {**clarification, "outcome": outcome},
        "timings_ms": {"settle_clarification": _elapsed_ms(started)},
    }
