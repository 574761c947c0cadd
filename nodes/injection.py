"""Injection guard nodes of the conversation graph (design seed 003), with proportionate defence.

``screen_message`` runs after the message has been embedded (it reuses the turn's embedding: no second model
call) and before ``respond``. With a chat model, the guard asks it for a second opinion on the messages the local
detector is unsure about (``tools.injection.screen_with_model``). ``tools.defence.defence_action`` then decides:
only a high-confidence detection counts an offence, and ``route_after_screen`` sends it to ``defend``, which answers
by escalation level and ends the turn without writing any memory. An uncertain verdict counts nothing and goes on
as an ordinary turn whose reply is a light deflection (``nodes/care.py``'s ``route_reply``); it is stored like any
other message. A message perception flagged as a crisis is never refused, counted or penalised, even from a user
who is cooling down or blocked.
``route_after_defend`` sends a high-severity attempt to ``penalize``, which applies the seed's PAD penalty through
the personality engine (recorded as an ``injection_penalty`` mood change with its cause) and saves the state.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from langgraph.graph import END
from langgraph.runtime import Runtime

from companion.core.errors import InjectionBlockedError
from companion.core.personality.appraisal import appraise_injection
from companion.core.personality.state import PersonalityData, PersonalityState, apply_appraisal
from memory.personality_store import PersonalityStore
from memory.security import SecurityStore
from nodes.conversation import Context, ConversationState, InjectionReport, mood_report
from prompts.injection import INJECTION_REPLIES
from tools.crisis import Crisis
from tools.defence import defence_action
from tools.detection import INJECTION_OUTPUT
from tools.injection import INJECTION_THRESHOLD, InjectionClassifier, screen_with_model

if TYPE_CHECKING:  # LangChain's model classes are imported only where a chat model is built
    from langchain_core.language_models import BaseChatModel

GUARD_RESPONDER = "guard"


async def screen_message(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    security: SecurityStore,
    classifier: InjectionClassifier | None,
    chat_model: BaseChatModel | None = None,
    threshold: float = INJECTION_THRESHOLD,
) -> dict[str, Any]:
    """Refuse blocked or cooling-down users; score the message; count and log an offence when it is certain.

    A crisis message skips the refusal and is never counted (its verdict is kept, with ``action`` ``none``).
    ``threshold``: the injection score from which a message is flagged (the setting).
    """
    started = time.perf_counter()
    user_id = runtime.context.user_id
    detection = state.get("detection")
    crisis = Crisis.from_dict(detection["crisis"] if detection else None).flagged
    restriction = None if crisis else await security.restriction(user_id)
    if restriction is not None:
        what = "blocked after repeated injection attempts" if restriction.level == 3 else "cooling down"
        raise InjectionBlockedError(
            f"this user is {what}; retry in {restriction.retry_after} s", retry_after=restriction.retry_after
        )
    # The perception model's score (from the turn's one encoder run), unless the graph was given a classifier
    # explicitly (the frozen baseline, or a test's fixed score).
    scores = state.get("perception_scores")
    model_score = None if scores is None or classifier is not None else float(scores[INJECTION_OUTPUT])
    verdict = await screen_with_model(
        state["message"],
        state.get("query_embedding"),
        classifier,
        chat_model,
        model_score=model_score,
        threshold=threshold,
    )
    verdict_data = verdict.to_dict()
    action = defence_action(verdict_data, crisis=crisis, threshold=threshold)
    result: InjectionReport = {**verdict_data, "action": action}
    if result["action"] == "consequence" and verdict.kind is not None:
        offences, level = await security.record_offence(
            user_id,
            kind=verdict.kind.value,
            score=verdict.score,
            severity=verdict.severity,
            indicators=verdict.indicators,
            text=state["message"],
        )
        result["offences_7d"], result["escalation_level"] = offences, level
    elapsed = round((time.perf_counter() - started) * 1000.0, 3)
    return {"injection": result, "timings_ms": {"screen": elapsed}}


def route_after_screen(state: ConversationState) -> str:
    """``defend`` for a high-confidence detection (an offence was counted), else ``respond`` (the ordinary turn)."""
    return "defend" if state.get("injection", {}).get("action") == "consequence" else "respond"


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


def route_after_defend(state: ConversationState) -> str:
    """``penalize`` for a high-severity attempt (the seed's PAD penalty), else the end of the turn."""
    return "penalize" if state.get("injection", {}).get("severity") == "high" else END


async def penalize(state: ConversationState, runtime: Runtime[Context], *, store: PersonalityStore) -> dict[str, Any]:
    """Apply the seed's PAD penalty (ΔP −0.3, ΔA +0.2, ΔD −0.2) through the appraisal path and save the state."""
    started = time.perf_counter()
    injection = state.get("injection", {})
    appraisal = appraise_injection(
        str(injection.get("kind") or "injection_attempt"), str(injection.get("severity")), float(injection["score"])
    )
    if appraisal is None:
        return {}
    now = state.get("received_at") or time.time()
    result = apply_appraisal(PersonalityState.from_dict(state["personality"]), appraisal, now=now, rates=store.rates)

    def redo(current: PersonalityData) -> PersonalityData:  # another turn saved first: penalise its state
        base = PersonalityState.from_dict(current)
        return apply_appraisal(base, appraisal, now=max(now, base.updated_at), rates=store.rates).state.to_dict()

    personality = await store.update(
        runtime.context.user_id,
        str(result.state.persona),
        loaded=state.get("personality_loaded"),
        updated=result.state.to_dict(),
        redo=redo,
    )
    mood, change = result.state.mood, result.change
    assert change is not None
    return {
        "personality": personality,
        "mood": mood_report(mood, change),
        "timings_ms": {"penalize": round((time.perf_counter() - started) * 1000.0, 3)},
    }
