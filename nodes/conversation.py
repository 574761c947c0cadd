"""Nodes of the conversation graph. Each takes ``(state, runtime)`` plus services bound by ``build_graph``.

Nodes that talk to Chroma or run the embedder are synchronous (LangGraph runs them in its thread pool);
nodes that talk to Redis or the chat model are coroutines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, NotRequired

import numpy as np
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.channels.untracked_value import UntrackedValue
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from companion.core.errors import ChatModelError, InvalidInputError, StoreUnavailableError
from companion.core.personality.persona import PersonaData, parse_persona
from companion.core.personality.prompt import persona_system_prompt
from companion.core.personality.state import MoodChange, PersonalityData, PersonalityState
from companion.core.personality.traits import PAD, PADValues
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.profiles import DEFAULT_LANGUAGE, ProfileData
from memory.records import (
    DEFAULT_IMPORTANCE,
    MemoryRecord,
    Turn,
    new_id,
    validate_conversation_id,
    validate_message,
    validate_user_id,
)
from memory.sensitivity import Sensitivity, allowed_at, parse_sensitivity, sensitivity_from_input
from memory.short_term import ShortTermStore
from nodes.context import RunContext
from prompts.conversation import (
    ASKED_MEMORY,
    COMPANION_SYSTEM_PROMPT,
    DEFAULT_PERSONA_DESCRIPTION,
    DEFAULT_PERSONA_NAME,
    GROUP_CONTEXT,
    GROUP_CONTEXT_LINE,
    GROUP_SUMMARY,
    INSIGHT_MEMORY,
    MEMORY_LINE,
    NO_MEMORIES,
    OFFLINE_FEELING_OPENERS,
    OFFLINE_INSIGHT,
    OFFLINE_INSIGHT_REPLY,
    OFFLINE_NO_RECALL_REPLY,
    OFFLINE_RECALL_ITEM,
    OFFLINE_RECALL_REPLY,
    OUTDATED_MEMORY,
    PROFILE_LANGUAGE,
    PROFILE_NAME,
)
from tools.care import care_reply, crisis_resources
from tools.clarification import ClarificationTurn, ask_in_system_prompt, ask_offline, question_to_ask
from tools.crisis import Crisis
from tools.detection import DetectionData, perception_scores
from tools.injection import InjectionVerdictData
from tools.recall import recall
from tools.sensitivity import SensitivityData, classify_local
from tools.updates import detect_update
from tools.utterance import UtteranceType, classify_utterance, is_observation, parse_utterance

if TYPE_CHECKING:  # LangChain's model classes are imported only where a chat model is built
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

#: The offline responder quotes at most this many memories, and only those at least this similar.
OFFLINE_MAX_QUOTES = 2
OFFLINE_MIN_SIMILARITY = 0.35
#: A memory kept from a shared context's reply is reported as withheld when at least this similar to the message.
WITHHELD_MIN_SIMILARITY = 0.4


@dataclass(frozen=True, kw_only=True)
class Context(RunContext):
    """Per-run configuration: plain values only (Studio renders it from its JSON schema)."""

    conversation_id: str = "default"
    persona: str = "default"
    #: The most sensitive memory level the reply may draw on (``memory.sensitivity``): "ultrasecret" (all) in a
    #: private conversation, ``SHARED_MAX_LEVEL`` in a group, where confidential and above are never used.
    max_sensitivity: str = Sensitivity.ULTRASECRET.value


class RetrievedMemory(TypedDict):
    """A memory the turn used, with the MMR score that selected it."""

    id: str
    text: str
    score: float
    similarity: float
    kind: str
    created_at: float
    #: Utterance type (``tools.utterance``): only statements are quoted back as facts; ``observation`` is a
    #: reflection insight, the companion's own words.
    utterance: NotRequired[str]
    #: The id of the memory this one updated ("" if none), and whether a newer one has updated it since.
    supersedes: NotRequired[str]
    superseded: NotRequired[bool]


class GroupLine(TypedDict):
    """A message someone said in the group just before the one the companion answers."""

    author: str
    text: str


class ContextTurn(TypedDict):
    """One message of the short-term context."""

    role: str
    content: str
    ts: float


class MoodChangeReport(TypedDict):
    """The appraisal that moved the mood this turn: its OCC rule, a readable cause, the PAD change."""

    rule: str
    cause: str
    delta: PADValues


class MoodReport(PADValues):
    """The companion's mood after the turn, its octant label and the turn's change (None: it did not move)."""

    label: str
    change: MoodChangeReport | None


class CareReport(TypedDict):
    """A crisis turn (nodes/care.py): its kind, the incident logged for admins, when the check-in is due."""

    crisis: str
    incident_id: str
    check_in_due_at: float


class InjectionReport(InjectionVerdictData):
    """The injection guard's verdict (nodes/injection.py) and what followed: consequence, deflect or none."""

    action: str
    offences_7d: NotRequired[int]
    escalation_level: NotRequired[int]


def mood_report(mood: PAD, change: MoodChange | None) -> MoodReport:
    """The mood as a turn reports it (``chat --json``'s ``mood``)."""
    return {
        **mood.rounded(),
        "label": mood.label,
        "change": None
        if change is None
        else {"rule": change.rule, "cause": change.cause, "delta": change.delta.rounded()},
    }


def merge_timings(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Reducer: nodes add their own timing entries."""
    return {**(left or {}), **(right or {})}


class TurnOutput(TypedDict):
    """What a turn returns: its state without the message's embedding (a vector for the nodes, not the caller)."""

    message: str
    requested_turn_id: NotRequired[str | None]  # input only; admit_message takes it and clears it
    turn_id: NotRequired[str]
    received_at: NotRequired[float]
    context: NotRequired[list[ContextTurn]]
    context_source: NotRequired[str]  # "redis", "chroma" (rebuilt after Redis lost it) or "empty"
    last_active: NotRequired[float | None]
    profile: NotRequired[ProfileData]  # how to address the user, their language, analytics consent
    memories: NotRequired[list[RetrievedMemory]]
    withheld_memories: NotRequired[list[str]]  # relevant memories above the context's max_sensitivity (not used)
    supersedes: NotRequired[list[str]]  # older memories this message updates (tools.updates), most similar first
    sensitivity: NotRequired[SensitivityData]
    reply: NotRequired[str]
    responder: NotRequired[str]  # "offline" or the chat model's name
    memory_id: NotRequired[str]
    association_entry: NotRequired[str | None]
    short_term: NotRequired[str]  # "stored", or "deferred": Redis failed after the memory was stored in Chroma
    injection: NotRequired[InjectionReport]
    care: NotRequired[CareReport]
    # perception and personality (nodes/personality.py)
    detection: NotRequired[DetectionData]
    persona: NotRequired[PersonaData]
    #: Loaded from its own store every turn, so never checkpointed (it was three quarters of each checkpoint)
    personality: Annotated[NotRequired[PersonalityData], UntrackedValue(dict)]
    personality_source: NotRequired[str]  # "redis", "chroma" or "new"
    personality_loaded: NotRequired[str | None]  # fingerprint of the stored state loaded (None: there was none)
    mood: NotRequired[MoodReport]
    clarification: NotRequired[ClarificationTurn | None]  # reflection's question, asked or answered
    appraisal: NotRequired[str]  # the appraisal's inputs as JSON, journaled on the memory (personality/journal.py)
    personality_checkpoint: NotRequired[str]  # "now", "later" (background) or "none": nodes/personality.py
    timings_ms: Annotated[NotRequired[dict[str, float]], merge_timings]


class ConversationState(TurnOutput):
    """State of one conversation turn."""

    #: The message's embedding, for this turn's nodes only: untracked, so the checkpoint does not carry 384 floats
    #: (a sixth of it) that no later turn reads.
    query_embedding: Annotated[NotRequired[list[float]], UntrackedValue(list)]
    #: In a group: what was said there just before the message (the bots' chat buffer), for the chat model.
    group_context: NotRequired[list[GroupLine]]
    #: In a group: the running summary of what was said before that (the chat buffer's), for the chat model.
    group_summary: NotRequired[str]
    #: The perception model's calibrated scores over tools.perception.OUTPUTS (None: no model for this embedder)
    perception_scores: NotRequired[list[float] | None]


class TurnInput(TypedDict):
    """What a caller passes in."""

    message: str
    #: The id of the turn and of its memory, when the caller retries idempotently (memory/idempotency.py,
    #: the bots' platform message ids): every attempt then writes the same memory, once.
    requested_turn_id: NotRequired[str | None]
    #: In a group chat, the messages said there just before this one (oldest first), which the reply should fit.
    group_context: NotRequired[list[GroupLine]]
    #: In a group chat, the running summary of what was said there before those messages.
    group_summary: NotRequired[str]


_TURN_ID = re.compile(r"[0-9a-f]{32}")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


# -- nodes ---------------------------------------------------------------------------------------------------
async def admit_message(
    state: ConversationState, runtime: Runtime[Context], *, short_term: ShortTermStore, max_message_chars: int
) -> dict[str, Any]:
    """Validate the ids and the message, then count it against the rate limits."""
    started = time.perf_counter()
    user_id = validate_user_id(runtime.context.user_id)
    validate_conversation_id(runtime.context.conversation_id)
    message = validate_message(state.get("message", ""), max_chars=max_message_chars)
    # Cleared below: the thread's checkpoint keeps every key, and the next turn must not reuse this id.
    turn_id = state.get("requested_turn_id") or new_id()
    if not _TURN_ID.fullmatch(turn_id):
        raise InvalidInputError("requested_turn_id must be 32 lowercase hexadecimal characters")
    await short_term.admit(user_id)
    return {
        "message": message,
        "requested_turn_id": None,
        "turn_id": turn_id,
        "received_at": time.time(),
        "timings_ms": {"admit": _elapsed_ms(started)},
    }


async def load_context(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    short_term: ShortTermStore,
    long_term: LongTermStore,
) -> dict[str, Any]:
    """Recent turns from Redis; if Redis has none, rebuild them from Chroma and put them back."""
    started = time.perf_counter()
    user_id, conversation_id = runtime.context.user_id, runtime.context.conversation_id
    loaded = await short_term.load(user_id, conversation_id)
    turns, source = loaded.turns, "redis"
    if not turns:
        now = time.time()
        records = await asyncio.to_thread(
            long_term.recent_turns,
            user_id,
            conversation_id,
            since=now - short_term.active_ttl,
            limit=short_term.context_turns,
        )
        turns = turns_from_records(records)[-short_term.context_turns :]
        source = "chroma" if turns else "empty"
        if turns:
            await short_term.restore(user_id, conversation_id, turns, ttl=short_term.ttl_for(loaded.last_active, now))
    return {
        "context": [ContextTurn(role=t.role, content=t.content, ts=t.ts) for t in turns],
        "context_source": source,
        "last_active": loaded.last_active,
        "profile": loaded.profile.to_dict(),
        "timings_ms": {"load_context": _elapsed_ms(started)},
    }


def retrieve_memories(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    embedder: Embedder,
    k: int,
    candidates: int = 0,
) -> dict[str, Any]:
    """Embed the message and pick ``k`` relevant, diverse memories with MMR (from ``candidates``; 0: the default).

    The one run of the encoder also yields the perception model's scores (``tools.detection.perception_scores``),
    which ``detect_emotion`` and ``screen_message`` read from the state, so perception costs no second embedding.

    Memories above the context's ``max_sensitivity`` are turned away before MMR, so they never reach the reply;
    those relevant enough that the reply would have drawn on them (similarity >= ``WITHHELD_MIN_SIMILARITY``) are
    reported as ``withheld_memories``, so a group front-end can say it will not discuss them there.
    """
    started = time.perf_counter()
    ceiling = sensitivity_from_input(runtime.context.max_sensitivity)
    keep = None if ceiling is Sensitivity.ULTRASECRET else partial(_allowed, ceiling=ceiling)
    perceived: dict[str, float] = {}
    vectors, scores = perception_scores([state["message"]], embedder, timings=perceived)
    found = recall(
        long_term,
        embedder,
        runtime.context.user_id,
        state["message"],
        k,
        candidates=candidates,
        keep=keep,
        query=vectors[0],
    )
    memories = [
        RetrievedMemory(
            id=item.candidate.id,
            text=item.candidate.text,
            score=round(item.score, 6),
            similarity=round(item.candidate.similarity, 6),
            kind=str(item.candidate.metadata.get("kind", "episodic")),
            created_at=float(item.candidate.metadata.get("created_at", 0.0)),
            utterance=parse_utterance(item.candidate.metadata.get("utterance"), item.candidate.text).value,
            supersedes=str(item.candidate.metadata.get("supersedes") or ""),
            superseded=bool(item.candidate.metadata.get("superseded_by")),
        )
        for item in found.selected
    ]
    # The newest truth (tools.updates): older statements in the pool that this message gives a new value.
    message_type = classify_utterance(state["message"]).value
    updated = [
        candidate
        for candidate in sorted(found.pool, key=lambda c: -c.similarity)
        if not candidate.metadata.get("superseded_by")
        and detect_update(
            state["message"],
            candidate.text,
            candidate.similarity,
            new_type=message_type,
            old_type=str(candidate.metadata.get("utterance") or ""),
        )
        is not None
    ]
    return {
        "query_embedding": found.query_embedding.tolist(),
        "perception_scores": None if scores is None else [round(float(x), 6) for x in scores[0]],
        "memories": memories,
        "withheld_memories": [c.id for c in found.excluded if c.similarity >= WITHHELD_MIN_SIMILARITY],
        "supersedes": list(dict.fromkeys(candidate.id for candidate in updated)),
        "timings_ms": {**perceived, "search": found.search_ms, "retrieve": _elapsed_ms(started)},
    }


def _allowed(metadata: Mapping[str, Any], *, ceiling: Sensitivity) -> bool:
    return allowed_at(metadata.get("sensitivity"), ceiling)


async def respond(
    state: ConversationState,
    runtime: Runtime[Context],
    *,
    chat_model: BaseChatModel | None,
    crisis_resources_setting: str | None = None,
) -> dict[str, Any]:
    """Answer with the chat model, or with the clearly labelled offline responder when there is none.

    On a crisis (``tools/care.py``) both answer with care and point to help (``crisis_resources_setting``, else the
    persona's, else the default), and no clarification question is asked.
    """
    started = time.perf_counter()
    memories = state.get("memories", [])
    crisis = turn_crisis(state)
    resources = ""
    if crisis.flagged:
        resources = crisis_resources(
            crisis_resources_setting, str(state.get("persona", {}).get("crisis_resources", ""))
        )
    if chat_model is None:
        if crisis.flagged:
            reply, responder = care_reply(crisis.kind, resources), "offline"
        else:
            reply, responder = offline_reply(memories, opener=feeling_opener(state.get("mood"))), "offline"
            if (question := question_to_ask(state)) is not None:
                reply = f"{reply} {ask_offline(question)}"
    else:
        try:
            response = await chat_model.ainvoke(build_messages(state, crisis_resources=resources))
        except Exception as exc:  # providers raise their own types; all mean "no reply", so report them as one
            raise ChatModelError(f"the chat model failed: {_first_line(exc)}") from exc
        reply = response.text if isinstance(response, AIMessage) else str(response.content)
        responder = model_name(chat_model)
    return {"reply": reply.strip(), "responder": responder, "timings_ms": {"respond": _elapsed_ms(started)}}


def store_long_term(state: ConversationState, runtime: Runtime[Context], *, long_term: LongTermStore) -> dict[str, Any]:
    """Write the message (with the reply) to Chroma first: it is the source of truth.

    When the message updates older memories (``supersedes``, found at retrieval), those are then marked superseded
    by it: recall ranks them below the new value (``tools.retrieval.SUPERSEDED_WEIGHT``) and keeps them searchable.
    """
    started = time.perf_counter()
    detection = state.get("detection")
    emotions = detection["emotions"] if detection else None
    classification = state.get("sensitivity") or classify_local(state["message"], emotions).to_dict()
    record = MemoryRecord(
        id=state["turn_id"],
        user_id=runtime.context.user_id,
        text=state["message"],
        created_at=state["received_at"],
        conversation_id=runtime.context.conversation_id,
        reply=state.get("reply", ""),
        importance=detection["importance"] if detection else DEFAULT_IMPORTANCE,
        category=detection["category"] if detection else "",
        emotion=detection["emotion"] if detection else "",
        emotion_intensity=detection["intensity"] if detection else 0,
        sensitivity=parse_sensitivity(classification.get("level")),
        sensitivity_confidence=float(classification.get("confidence", 0.0)),
        tags=tuple(classification.get("tags", ())),
        sentiment=str(classification.get("sentiment", "neutral")),
        appraisal=state.get("appraisal", ""),
        assoc_pending=True,  # until association has processed it (store_short_term queues it)
        utterance=classify_utterance(state["message"]).value,
        supersedes=next(iter(state.get("supersedes") or []), ""),
    )
    long_term.add(record.user_id, [record], np.asarray([state["query_embedding"]], dtype=np.float32))
    if state.get("supersedes"):  # after the new memory is stored: an old value is never left without a newer one
        long_term.mark_superseded(record.user_id, state["supersedes"], by=record.id)
    return {"memory_id": record.id, "timings_ms": {"store_long_term": _elapsed_ms(started)}}


async def store_short_term(
    state: ConversationState, runtime: Runtime[Context], *, short_term: ShortTermStore
) -> dict[str, Any]:
    """Then Redis: append the turn, refresh the activity TTL, queue the message for background association.

    The memory is already in Chroma, marked pending for association, so a Redis failure here does not fail the
    turn: the reply is returned with ``short_term`` "deferred", the context is rebuilt from Chroma once Redis has
    lost it, and the worker's sweep queues the message (``companion.runtime.worker.requeue_pending``).
    """
    started = time.perf_counter()
    user_id, conversation_id = runtime.context.user_id, runtime.context.conversation_id
    now = time.time()
    received = state["received_at"]
    try:
        entry = await short_term.record_turn(
            user_id,
            conversation_id,
            [Turn("user", state["message"], received), Turn("assistant", state.get("reply", ""), now)],
            now=now,
            ttl=short_term.ttl_for(state.get("last_active"), received),
            association={
                "user_id": user_id,
                "conversation_id": conversation_id,
                "memory_id": state["memory_id"],
                "created_at": repr(received),
            },
            recalled=[memory["id"] for memory in state.get("memories", [])],
            interaction=interaction_entry(state, conversation_id=conversation_id, now=now)
            if state.get("profile", {}).get("analytics_consent", True)
            else None,  # the user withdrew consent to analytics (memory/profiles.py)
        )
    except StoreUnavailableError as exc:
        logger.warning(
            "turn %s stored in Chroma; Redis failed (%s), so context and queue catch up later", state["memory_id"], exc
        )
        return {
            "association_entry": None,
            "short_term": "deferred",
            "timings_ms": {"store_short_term": _elapsed_ms(started)},
        }
    return {
        "association_entry": entry,
        "short_term": "stored",
        "timings_ms": {"store_short_term": _elapsed_ms(started)},
    }


# -- helpers -------------------------------------------------------------------------------------------------
def interaction_entry(state: ConversationState, *, conversation_id: str, now: float) -> dict[str, str]:
    """One line of the user's interaction log (seed 003's analytics): what the turn did, never what was said.

    The companion's mood before and after (PAD), the response time, who replied, what perception found, how many
    memories the reply used or withheld, and what the guard and care did.
    """
    mood = state.get("mood")
    change = mood["change"] if mood else None
    after, delta = _pad_values(mood), _pad_values(change["delta"] if change else None)
    before = {axis: round(value - delta.get(axis, 0.0), 4) for axis, value in after.items()}
    detection = state.get("detection")
    injection = state.get("injection")
    return {
        "turn_id": state.get("memory_id", ""),
        "conversation_id": conversation_id,
        "at": repr(state["received_at"]),
        "response_ms": str(round((now - state["received_at"]) * 1000.0, 1)),
        "responder": state.get("responder", ""),
        "pad_before": json.dumps(before),
        "pad_after": json.dumps(after),
        "mood_rule": change["rule"] if change else "",
        "emotion": detection["emotion"] if detection else "",
        "intensity": str(detection["intensity"]) if detection else "0",
        "memories_used": str(len(state.get("memories", []))),
        "memories_withheld": str(len(state.get("withheld_memories", []))),
        "sensitivity": state["sensitivity"]["level"] if "sensitivity" in state else "",
        "injection": injection["action"] if injection else "none",
        "crisis": turn_crisis(state).kind or "",
        "proactive": "0",
    }


def _pad_values(pad: PADValues | None) -> dict[str, float]:
    return (
        {} if pad is None else {"pleasure": pad["pleasure"], "arousal": pad["arousal"], "dominance": pad["dominance"]}
    )


def turns_from_records(records: list[MemoryRecord]) -> list[Turn]:
    """Rebuild alternating user/assistant turns from stored messages (oldest first)."""
    turns: list[Turn] = []
    for record in records:
        turns.append(Turn("user", record.text, record.created_at))
        if record.reply:
            turns.append(Turn("assistant", record.reply, record.created_at))
    return turns


#: How many of the group's recent messages the chat model sees.
MAX_GROUP_LINES = 12
#: ... and at most this much of the group's running summary (its newest part).
MAX_GROUP_SUMMARY_CHARS = 2000
#: A mood change at least this large (pleasure) is one the offline reply meets with an opener; a faint nudge is not.
FELT_CHANGE = 0.02
OFFLINE_LABEL = "[offline] "


def feeling_opener(mood: MoodReport | None) -> str:
    """What the offline responder says first about the user's feeling (``OFFLINE_FEELING_OPENERS``), or ""."""
    change = mood["change"] if mood else None
    if change is None or abs(change["delta"]["pleasure"]) < FELT_CHANGE:
        return ""
    rule = change["rule"]
    if rule == "surprise" and change["delta"]["pleasure"] < 0:
        rule = "surprise_unpleasant"
    return OFFLINE_FEELING_OPENERS.get(rule, "")


def offline_reply(memories: list[RetrievedMemory], *, opener: str = "") -> str:
    """The offline responder: meet the user's feeling (``opener``), quote the most relevant memories, labelled.

    Only statements are quoted: a question the user asked ("What band do I like?") is not something they told,
    and neither is small talk or a request (``tools.utterance``); nor is a value a newer statement has updated.
    A reflection insight is the companion's own observation: never quoted as "You told me", it is added after
    them (the most relevant one), said as what the companion noticed.
    """
    relevant = [m for m in memories if m["similarity"] >= OFFLINE_MIN_SIMILARITY and not m.get("superseded")]
    quoted = [m for m in relevant if parse_utterance(m.get("utterance"), m["text"]) is UtteranceType.STATEMENT]
    noticed = next((m for m in relevant if is_observation(m.get("utterance"))), None)
    if not quoted:
        reply = OFFLINE_NO_RECALL_REPLY if noticed is None else OFFLINE_INSIGHT_REPLY.format(text=noticed["text"])
    else:
        recalled = " and ".join(OFFLINE_RECALL_ITEM.format(text=m["text"]) for m in quoted[:OFFLINE_MAX_QUOTES])
        reply = OFFLINE_RECALL_REPLY.format(recalled=recalled)
        reply = reply if noticed is None else reply + OFFLINE_INSIGHT.format(text=noticed["text"])
    if opener and reply.startswith(OFFLINE_LABEL):
        return f"{OFFLINE_LABEL}{opener} {reply.removeprefix(OFFLINE_LABEL)}"
    return reply


def turn_crisis(state: ConversationState) -> Crisis:
    """The crisis perception flagged on this turn's message (none before detection ran)."""
    detection = state.get("detection")
    return Crisis.from_dict(detection["crisis"] if detection else None)


def memory_for_model(memory: RetrievedMemory) -> str:
    """A recalled memory as the chat model sees it: a question or an outdated value says so; a statement is as said.

    A reflection insight says it is the companion's own observation, so the model neither attributes it to the
    user nor repeats it as their words.
    """
    if memory.get("superseded"):
        return OUTDATED_MEMORY.format(text=memory["text"])
    if is_observation(memory.get("utterance")):
        return INSIGHT_MEMORY.format(text=memory["text"])
    if parse_utterance(memory.get("utterance"), memory["text"]) is UtteranceType.QUESTION:
        return ASKED_MEMORY.format(text=memory["text"])
    return memory["text"]


def build_messages(state: ConversationState, *, crisis_resources: str = "") -> list[AnyMessage]:
    """The chat model's input: persona and memories as the system prompt, then recent turns, then the message.

    The prompt says how the user seems (the detected emotions); on a crisis it carries the care instructions with
    ``crisis_resources`` and asks no clarification question.
    """
    memories = state.get("memories", [])
    crisis = turn_crisis(state)
    if "persona" in state and "personality" in state:
        system = persona_system_prompt(
            parse_persona(state["persona"], key=state["persona"]["key"]),
            PersonalityState.from_dict(state["personality"]),
            [memory_for_model(m) for m in memories],
            user_emotions=detection["emotions"] if (detection := state.get("detection")) else None,
            crisis=(crisis.kind or "self_harm") if crisis.flagged else None,
            crisis_resources=crisis_resources,
        )
    else:  # a state without personality (older checkpoints, callers that build their own state)
        memory_lines = "\n".join(MEMORY_LINE.format(text=memory_for_model(m)) for m in memories) or NO_MEMORIES
        system = COMPANION_SYSTEM_PROMPT.format(
            persona_name=DEFAULT_PERSONA_NAME,
            persona_description=DEFAULT_PERSONA_DESCRIPTION,
            memories=memory_lines,
        )
    if not crisis.flagged and (question := question_to_ask(state)) is not None:
        system += ask_in_system_prompt(question)
    if profile := state.get("profile"):
        if profile["display_name"]:
            system += PROFILE_NAME.format(name=profile["display_name"])
        if profile["language"] != DEFAULT_LANGUAGE:
            system += PROFILE_LANGUAGE.format(language=profile["language"])
    if group := state.get("group_context"):
        lines = "\n".join(
            GROUP_CONTEXT_LINE.format(author=line["author"], text=line["text"]) for line in group[-MAX_GROUP_LINES:]
        )
        system += GROUP_CONTEXT.format(lines=lines)
        if summary := state.get("group_summary", "").strip():
            system += GROUP_SUMMARY.format(summary=summary[-MAX_GROUP_SUMMARY_CHARS:])
    messages: list[AnyMessage] = [SystemMessage(system)]
    for turn in state.get("context", []):
        messages.append(HumanMessage(turn["content"]) if turn["role"] == "user" else AIMessage(turn["content"]))
    messages.append(HumanMessage(state["message"]))
    return messages


def model_name(chat_model: BaseChatModel) -> str:
    """The name a chat model reports (its ``model_name`` or ``model``), else its class name."""
    for attribute in ("model_name", "model"):
        value = getattr(chat_model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(chat_model).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0]}"
