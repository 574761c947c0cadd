"""Nodes of the proactive graph: whether to message a user first, now, and with what words.

Each takes ``(state, runtime)`` plus services bound by ``build_graph``. The clock is ``state["now"]`` (epoch
seconds) so tests can replay weeks. The numbers live in ``tools/proactive.py``, the words in
``prompts/proactive.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import CHECK_IN_TRIGGER, OutreachStore
from memory.sensitivity import SHARED_MAX_LEVEL, allowed_at
from memory.short_term import ShortTermStore
from nodes.context import RunContext
from prompts.proactive import (
    CHECK_IN_DETAIL,
    CHECK_IN_STARTERS,
    MEMORY_DETAIL,
    MEMORY_STARTERS,
    NEED_DETAIL,
    NEED_STARTERS,
    PERSONALISE_STARTER_PROMPT,
    TIME_DETAIL,
    TIME_STARTERS,
)
from tools.proactive import (
    HISTORY_DAYS,
    THRESHOLD,
    PersonalityReader,
    ProactiveScore,
    ScoreData,
    activity_profile,
    combine,
    guardrail,
    interaction_pattern_score,
    local_time,
    most_urgent_need,
    need_urgency,
    next_good_time,
    personality_factor,
    recent_contact_penalty,
    timing_score,
)
from tools.utterance import is_observation

logger = logging.getLogger(__name__)

_HOUR = 3600.0
_DAY = 86_400.0
#: The seed's query for memories worth following up on.
FOLLOW_UP_QUERY = "interesting conversation hobby project plan goal"


@dataclass(frozen=True, kw_only=True)
class Context(RunContext):
    """Per-run configuration: plain values only."""

    persona: str = "default"


class ProactiveInput(TypedDict):
    """What a caller passes in: the clock and whether to only report (``dry_run``) instead of sending."""

    now: NotRequired[float]
    dry_run: NotRequired[bool]


class PrefsData(TypedDict):
    """The user's outreach preferences (``memory/outreach.py``: ``OutreachPrefs``), quiet hours also as numbers."""

    timezone: str
    quiet_hours: str  # "22-08"
    opt_out: bool
    quiet_start: int
    quiet_end: int


class CheckInData(TypedDict):
    """A check-in planned after a crisis (``memory/outreach.py``), as the decision sees it."""

    due_at: float
    expires_at: float


class PersonalityReasons(TypedDict):
    """The personality signals the score used."""

    traits: dict[str, float] | None
    pad: tuple[float, float, float] | None


class ScoreReasons(TypedDict):
    """Why the score is what it is: the user's activity, needs and the companion's personality."""

    local_time: str
    hours_since_message: float | None
    hours_since_outreach: float | None
    messages_30d: int
    conversations_7d: int
    outreaches_7d: int
    answered_outreaches_7d: int
    urgent_need: str | None
    next_good_time: str | None
    needs: dict[str, float]
    personality: PersonalityReasons | str  # "not available" before the user's first chat


class ProactiveState(TypedDict):
    """State of one proactive decision for one user."""

    now: NotRequired[float]
    dry_run: NotRequired[bool]
    prefs: NotRequired[PrefsData]
    sent: NotRequired[list[float]]
    declined_at: NotRequired[float | None]
    last_message_at: NotRequired[float | None]
    checkin: NotRequired[CheckInData | None]
    blocked: NotRequired[str | None]
    score: NotRequired[ScoreData]
    reasons: NotRequired[ScoreReasons]
    starter: NotRequired[str]
    starter_source: NotRequired[str]  # "template" or "llm"
    decision: NotRequired[str]  # "blocked", "below_threshold", "would_send" (dry run) or "sent"
    outreach_id: NotRequired[str]
    outbox_entry: NotRequired[str]


# -- routing -------------------------------------------------------------------------------------------------
def after_guardrails(state: ProactiveState) -> str:
    """Blocked users stop here."""
    return END if state.get("blocked") else "score"


def after_score(state: ProactiveState) -> str:
    """Only scores at or above the threshold get a starter."""
    score = state.get("score")
    return "compose_starter" if score is not None and score["should_reach_out"] else END


def after_starter(state: ProactiveState) -> str:
    """A dry run reports instead of sending."""
    return END if state.get("dry_run") else "send_outreach"


# -- nodes ---------------------------------------------------------------------------------------------------
async def load_guardrail_signals(
    state: ProactiveState, runtime: Runtime[Context], *, outreach: OutreachStore, short_term: ShortTermStore
) -> dict[str, Any]:
    """Preferences, past outreaches, the last decline, the last message and a planned check-in (all Redis)."""
    user_id, now = runtime.context.user_id, float(state.get("now") or time.time())
    prefs = await outreach.prefs(user_id)
    history = await outreach.history(user_id, now=now)
    checkin = await outreach.checkin(user_id, now=now)
    return {
        "now": now,
        "dry_run": bool(state.get("dry_run", False)),
        "prefs": prefs.to_dict() | {"quiet_start": prefs.quiet_start, "quiet_end": prefs.quiet_end},
        "sent": history.sent,
        "declined_at": history.declined_at,
        "last_message_at": await short_term.last_message_at(user_id),
        "checkin": None if checkin is None else {"due_at": checkin.due_at, "expires_at": checkin.expires_at},
    }


def check_guardrails(state: ProactiveState, runtime: Runtime[Context], *, max_per_day: int) -> dict[str, Any]:
    """Opt-out, quiet hours, ``max_per_day`` a day, 4 hours apart, 24 hours after a decline or an ignored outreach."""
    prefs = state["prefs"]
    blocked = guardrail(
        now=state["now"],
        timezone=prefs["timezone"],
        quiet_start=prefs["quiet_start"],
        quiet_end=prefs["quiet_end"],
        opt_out=prefs["opt_out"],
        sent=state.get("sent", []),
        declined_at=state.get("declined_at"),
        last_message_at=state.get("last_message_at"),
        max_per_day=max_per_day,
    )
    return {"blocked": blocked, **({"decision": "blocked"} if blocked else {})}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="minutes")


async def score(
    state: ProactiveState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    personality: PersonalityReader | None,
) -> dict[str, Any]:
    """The seed's score from the user's needs, activity pattern and the companion's personality.

    A check-in planned after a crisis that is due (``tools/care.py``) reaches out whatever the score: the trigger
    is ``check_in``, the components are kept for the record. The guardrails have already passed.
    """
    user_id, now, prefs = runtime.context.user_id, state["now"], state["prefs"]
    messages = await asyncio.to_thread(long_term.message_times, user_id, since=now - HISTORY_DAYS * _DAY)
    signals = await personality(user_id, runtime.context.persona, now) if personality is not None else None
    sent = state.get("sent", [])
    profile = activity_profile(messages, sent, timezone=prefs["timezone"], now=now)
    last_message = state.get("last_message_at") or (messages[-1] if messages else None)
    hours_since_message = (now - last_message) / _HOUR if last_message is not None else None
    hours_since_outreach = (now - max(sent)) / _HOUR if sent else None
    local = local_time(now, prefs["timezone"])
    needs = signals.needs if signals is not None else {}
    result = combine(
        need=need_urgency(needs),
        timing=timing_score(profile, local, hours_since_message),
        pattern=interaction_pattern_score(profile, hours_since_message),
        factor=personality_factor(signals.traits, signals.pad) if signals is not None else 1.0,
        penalty=recent_contact_penalty(hours_since_outreach),
    )
    checkin = state.get("checkin")
    if checkin is not None and checkin["due_at"] <= now:
        result = ProactiveScore(
            result.need,
            result.timing,
            result.pattern,
            result.base,
            result.personality_factor,
            result.recent_contact_penalty,
            max(result.final, THRESHOLD),
            CHECK_IN_TRIGGER,
            True,
        )
    reasons: ScoreReasons = {
        "local_time": local.isoformat(timespec="minutes"),
        "hours_since_message": None if hours_since_message is None else round(hours_since_message, 2),
        "hours_since_outreach": None if hours_since_outreach is None else round(hours_since_outreach, 2),
        "messages_30d": profile.messages,
        "conversations_7d": profile.sessions_7d,
        "outreaches_7d": profile.outreaches_7d,
        "answered_outreaches_7d": profile.answered_outreaches_7d,
        "urgent_need": most_urgent_need(needs),
        "next_good_time": _iso(next_good_time(profile, local, hours_since_message)),
        "needs": needs,
        "personality": "not available" if signals is None else {"traits": signals.traits, "pad": signals.pad},
    }
    return {
        "score": result.to_dict(),
        "reasons": reasons,
        **({} if result.should_reach_out else {"decision": "below_threshold"}),
    }


def compose_starter(
    state: ProactiveState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None,
) -> dict[str, Any]:
    """A need-, memory- or time-based starter for the primary trigger; the chat model personalises it if set."""
    user_id, now = runtime.context.user_id, state["now"]
    trigger = str(state["score"]["trigger"])
    local = local_time(now, state["prefs"]["timezone"])
    pick = zlib.crc32(f"{user_id}:{local.date().isoformat()}".encode())
    need = state["reasons"]["urgent_need"] if "reasons" in state else None
    memory = _follow_up_memory(long_term, embedder, user_id) if trigger == "interaction_pattern" else None
    if trigger == CHECK_IN_TRIGGER:
        draft, detail = CHECK_IN_STARTERS[pick % len(CHECK_IN_STARTERS)], CHECK_IN_DETAIL
    elif trigger == "need_urgency" and need:
        options = NEED_STARTERS.get(need, NEED_STARTERS["social"])
        draft, detail = options[pick % len(options)], NEED_DETAIL.format(need=need)
    elif memory is not None:
        draft = MEMORY_STARTERS[pick % len(MEMORY_STARTERS)].format(memory=memory)
        detail = MEMORY_DETAIL.format(memory=memory)
    else:
        part = _part_of_day(local.hour)
        draft = TIME_STARTERS[pick % len(TIME_STARTERS)].format(part_of_day=part)
        detail = TIME_DETAIL.format(part_of_day=part)
    if chat_model is None:
        return {"starter": draft, "starter_source": "template", **_dry(state)}
    prompt = PERSONALISE_STARTER_PROMPT.format(
        persona=runtime.context.persona, trigger=trigger.replace("_", " "), draft=draft, detail=detail
    )
    try:
        response = chat_model.invoke([HumanMessage(prompt)])
    except Exception as exc:  # providers raise their own types; all mean "no personal wording this time"
        # The draft is a complete starter already: an outreach the scheduler planned still goes out (the seed's
        # template fallback), and the failure is logged for operators instead of failing the whole pass.
        logger.warning("the chat model failed writing a starter (%s); sending the template", type(exc).__name__)
        return {"starter": draft, "starter_source": "template", **_dry(state)}
    text = (response.text if isinstance(response, AIMessage) else str(response.content)).strip()
    return {"starter": text or draft, "starter_source": "llm" if text else "template", **_dry(state)}


async def send_outreach(state: ProactiveState, runtime: Runtime[Context], *, outreach: OutreachStore) -> dict[str, Any]:
    """Into the durable outbox, with score and reasons, counted against the guardrails in the same transaction."""
    user_id, now = runtime.context.user_id, state["now"]
    outreach_id = f"{user_id}:{int(now)}"
    entry = {
        "outreach_id": outreach_id,
        "user_id": user_id,
        "persona": runtime.context.persona,
        "text": state["starter"],
        "trigger": str(state["score"]["trigger"]),
        "score": str(state["score"]["final"]),
        "reasons": {"score": state["score"], **state.get("reasons", {})},
        "created_at": repr(now),
    }
    entry_id = await outreach.send(user_id, entry, now=now)
    return {"decision": "sent", "outreach_id": outreach_id, "outbox_entry": entry_id}


# -- helpers -------------------------------------------------------------------------------------------------
def _dry(state: ProactiveState) -> dict[str, Any]:
    return {"decision": "would_send"} if state.get("dry_run") else {}


def _part_of_day(hour: int) -> str:
    return "morning" if 5 <= hour < 12 else "afternoon" if 12 <= hour < 18 else "evening"


def _follow_up_memory(long_term: LongTermStore, embedder: Embedder, user_id: str) -> str | None:
    """The seed's pick: among memories near the follow-up query, the highest importance × recency.

    Only memories a shared context may use (general, chronological) are quoted: an outreach is no place to bring
    up something confidential, such as a crisis. A reflection insight is the companion's own observation, not
    something the user told, so it is never quoted as "when you told me ...".
    """
    candidates = long_term.search(user_id, embedder.embed([FOLLOW_UP_QUERY])[0], 10)
    candidates = [
        c
        for c in candidates
        if not c.text.rstrip().endswith("?")
        and not is_observation(c.metadata.get("utterance"))
        and allowed_at(c.metadata.get("sensitivity"), SHARED_MAX_LEVEL)
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.importance * c.recency)
    return best.text.strip()
