"""Nodes of the association graph. One run handles a batch of queued messages of one user.

Each takes ``(state, runtime)`` plus services bound by ``build_graph``. Chroma and the embedder are synchronous,
so the nodes that use them run them in a thread; the chat model and the LLM budget are awaited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import operator
import time
import uuid
from dataclasses import dataclass, replace
from typing import Annotated, Any, NotRequired, Protocol

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from companion.core.errors import ChatModelError
from memory.embeddings import Embedder
from memory.links import LinkStore, Relation, Version, version_id
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord, MemoryRecordData
from nodes.context import RunContext
from prompts.association import MERGE_MEMORY_PROMPT, RELATION_CANDIDATE_LINE, RELATION_SCORING_PROMPT
from tools.association import (
    MIN_RELATION_STRENGTH,
    RELATED_CANDIDATES,
    Decision,
    ScoredRelation,
    decide,
    importance_points,
    is_emotional_signal,
    local_reason,
    local_strength,
)
from tools.detection import SignalData, emotional_signals
from tools.sensitivity import classified
from tools.utterance import UtteranceType, is_fact

logger = logging.getLogger(__name__)

_DERIVED = uuid.UUID("5f0c7f4e-2d7a-4e43-9a57-7d1f3c0a8b21")


class LLMBudget(Protocol):
    """Calls that cost money: ``try_acquire`` says whether one more may be made now."""

    async def try_acquire(self) -> bool:
        """Count one call if the budget allows it; ``False`` when it is spent for now."""
        ...


@dataclass(frozen=True, kw_only=True)
class Context(RunContext):
    """Per-run configuration: the user whose messages this batch holds."""


class QueuedMessage(TypedDict):
    """A queued message as stored by the conversation turn (or ingestion), with its detection."""

    message_id: str
    text: str
    embedding: list[float]
    emotion: str
    emotion_intensity: int
    importance: int
    category: str
    created_at: float
    #: Seed 000's signals: each emotion above the threshold with the words that carry it and their sentence.
    signals: list[SignalData]


class Candidate(TypedDict):
    """A memory near a message."""

    memory_id: str
    text: str
    similarity: float
    category: str
    emotion: str
    semantic: bool


class RelatedMemory(TypedDict):
    """A scored relation of a message to a memory."""

    memory_id: str
    strength: float
    reason: str
    semantic: bool


class ScoredMessage(TypedDict):
    """A message with its relations above the minimum strength, strongest first."""

    message: QueuedMessage
    relations: list[RelatedMemory]


class Plan(TypedDict):
    """What association does for one message; stored as its outcome before it is applied."""

    message_id: str
    decision: str
    cause_text: str
    target_id: NotRequired[str | None]
    relations: list[RelatedMemory]
    memory: NotRequired[MemoryRecordData | None]  # the new memory or the new version
    signals: NotRequired[list[SignalData]]  # the message's emotional signals (what a merge is told)


class BranchInput(TypedDict):
    """What the router sends to a decision branch for one message."""

    scored: ScoredMessage
    target_id: str | None
    relations: list[RelatedMemory]


class AssociationInput(TypedDict):
    """What a caller passes in: the ids of queued messages (episodic memories) of the context's user."""

    message_ids: list[str]


class AssociationOutput(TypedDict):
    """What a batch returns: what was done with each message (their embeddings stay in the state)."""

    message_ids: list[str]
    skipped: NotRequired[list[str]]  # no emotional signal, or the message is gone
    plans: Annotated[NotRequired[list[Plan]], operator.add]
    outcomes: NotRequired[dict[str, str]]  # message id -> decision taken


class AssociationState(AssociationOutput):
    """State of one association batch."""

    messages: NotRequired[list[QueuedMessage]]
    replays: NotRequired[list[Plan]]  # plans an earlier attempt stored: applied again, not decided again
    candidates: NotRequired[list[list[Candidate]]]
    scored: NotRequired[list[ScoredMessage]]


def derived_memory_id(message_id: str) -> str:
    """Id of the memory that holds the later versions of a message promoted to a memory (``_versions_home``).

    Stores written before messages were promoted in place hold a verbatim copy under this id; either way it is
    excluded from the message's own related memories.
    """
    return uuid.uuid5(_DERIVED, f"memory:{message_id}").hex


# -- nodes ---------------------------------------------------------------------------------------------------
async def load_messages(
    state: AssociationState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    links: LinkStore,
    embedder: Embedder,
) -> dict[str, Any]:
    """Read the queued messages and any outcome stored by an earlier attempt; keep those with an emotional signal.

    Each kept message carries its emotional signals (``tools.detection.emotional_signals``: emotion, intensity,
    keywords, context), which a merge is told as the new information's emotional context.

    Only statements are associated (``tools.utterance``): "what band do I like?" asked with feeling is not a
    fact to remember, version or relate, so questions, requests and small talk are skipped.
    """
    user_id = runtime.context.user_id
    ids = list(dict.fromkeys(state.get("message_ids") or []))  # none (Studio's empty form): an empty batch
    stored = await asyncio.to_thread(links.outcomes, user_id, ids)
    fresh_ids = [message_id for message_id in ids if message_id not in stored]
    found = await asyncio.to_thread(long_term.get_with_embeddings, user_id, fresh_ids)
    messages: list[QueuedMessage] = []
    skipped: list[str] = []
    for message_id in fresh_ids:
        if message_id not in found:
            skipped.append(message_id)
            continue
        record, vector = found[message_id]
        if not is_emotional_signal(record.emotion_intensity, record.emotion) or not is_fact(
            record.utterance, record.text
        ):  # a question, a request or small talk is kept in the log but never becomes (part of) a memory
            skipped.append(message_id)
            continue
        messages.append(
            QueuedMessage(
                message_id=message_id,
                text=record.text,
                embedding=vector.tolist(),
                emotion=record.emotion,
                emotion_intensity=record.emotion_intensity,
                importance=record.importance,
                category=record.category,
                created_at=record.created_at,
                signals=[
                    signal.to_dict() for signal in await asyncio.to_thread(emotional_signals, record.text, embedder)
                ],
            )
        )
    replays = [Plan(**stored[message_id]) for message_id in ids if message_id in stored]  # type: ignore[typeddict-item]
    # A stored plan keeps its memory's text in the version record, not twice: read it back from there.
    texts = await asyncio.to_thread(
        links.version_texts,
        user_id,
        [(str(p["memory"]["id"]), int(p["memory"]["version"])) for p in replays if p.get("memory")],
    )
    for plan in replays:
        memory = plan.get("memory")
        if memory and "text" not in memory:
            memory["text"] = texts.get((str(memory["id"]), int(memory["version"])), plan["cause_text"])
    return {"messages": messages, "replays": replays, "skipped": skipped}


def find_related(state: AssociationState, runtime: Runtime[Context], *, long_term: LongTermStore) -> dict[str, Any]:
    """Semantic search for each message among the user's memories (never the message itself or what it made)."""
    messages = state.get("messages", [])
    if not messages:
        return {"candidates": []}
    vectors = np.asarray([message["embedding"] for message in messages], dtype=np.float32)
    found = long_term.search_many(runtime.context.user_id, vectors, RELATED_CANDIDATES + 2)
    candidates: list[list[Candidate]] = []
    for message, matches in zip(messages, found, strict=True):
        excluded = {message["message_id"], derived_memory_id(message["message_id"])}
        candidates.append(
            [
                Candidate(
                    memory_id=record.id,
                    text=record.text,
                    similarity=similarity,
                    category=record.category,
                    emotion=record.emotion,
                    semantic=record.kind is MemoryKind.SEMANTIC,
                )
                for record, similarity in matches
                if record.id not in excluded
            ][:RELATED_CANDIDATES]
        )
    return {"candidates": candidates}


class _Score(BaseModel):
    index: int = Field(ge=0)
    strength: float = Field(ge=0, le=100)
    reason: str = ""


class _Scores(BaseModel):
    scores: list[_Score]


async def score_relations(
    state: AssociationState,
    runtime: Runtime[Context],
    *,
    chat_model: BaseChatModel | None,
    llm_budget: LLMBudget | None,
) -> dict[str, Any]:
    """Relation strength 0-100 to each candidate: the chat model while its budget lasts, else the local score.

    Messages are scored in order, each also against the memories the earlier messages of the batch create (and
    with their vectors moved by the versions they add), which no search could find yet: 180 near-identical
    messages make one memory with versions, not 180 memories.
    """
    scored: list[ScoredMessage] = []
    made: dict[str, tuple[Candidate, np.ndarray, int]] = {}  # memory id -> (as a candidate, vector, version)
    for message, found in zip(state.get("messages", []), state.get("candidates", []), strict=True):
        vector = _unit(np.asarray(message["embedding"], dtype=np.float32))
        candidates = _with_batch_memories(found, made, vector)
        relations: list[RelatedMemory] | None = None
        if candidates and chat_model is not None and llm_budget is not None and await llm_budget.try_acquire():
            relations = await _llm_relations(chat_model, message, candidates)
        if relations is None:
            relations = [_local_relation(message, candidate) for candidate in candidates]
        kept = sorted((r for r in relations if r["strength"] > MIN_RELATION_STRENGTH), key=lambda r: -r["strength"])
        scored.append(ScoredMessage(message=message, relations=kept))
        decision, target, _ = route_decision(scored[-1])
        if decision is Decision.NEW_MEMORY:
            memory = Candidate(
                memory_id=message["message_id"],  # the message itself becomes the memory (create_memory)
                text=message["text"],
                similarity=0.0,
                category=message["category"],
                emotion=message["emotion"],
                semantic=True,
            )
            made[memory["memory_id"]] = (memory, vector, 1)
        elif decision is Decision.NEW_VERSION and target in made:  # its vector moves as apply_writes moves it
            memory, previous, version = made[target]
            made[target] = (memory, _unit(version * previous + vector), version + 1)
    return {"scored": scored}


def create_memory(state: BranchInput) -> dict[str, Any]:
    """New memory: the message itself becomes a semantic memory (version 1), related to the top 5 memories.

    It is promoted in place (``apply_writes``), not copied: a second record with the same words would be a
    duplicate in every list, export and count, and the message's wording is the memory's first version.
    """
    message = state["scored"]["message"]
    plan = Plan(
        message_id=message["message_id"],
        decision=Decision.NEW_MEMORY.value,
        cause_text=message["text"],
        signals=message.get("signals", []),
        target_id=message["message_id"],
        relations=state["relations"],
        memory=None,  # the stored message, promoted, once apply_writes has read it
    )
    return {"plans": [plan]}


def create_version(state: BranchInput) -> dict[str, Any]:
    """New version of the strongly matching memory (merged when written), related to the top 3 others."""
    message = state["scored"]["message"]
    plan = Plan(
        message_id=message["message_id"],
        decision=Decision.NEW_VERSION.value,
        cause_text=message["text"],
        signals=message.get("signals", []),
        target_id=state["target_id"],
        relations=state["relations"],
        memory=None,
    )
    return {"plans": [plan]}


def relate_weakly(state: BranchInput) -> dict[str, Any]:
    """Weak relations only: the message is linked to the top 3 memories."""
    message = state["scored"]["message"]
    plan = Plan(
        message_id=message["message_id"],
        decision=Decision.WEAK_RELATIONS.value,
        cause_text=message["text"],
        signals=message.get("signals", []),
        target_id=message["message_id"],
        relations=state["relations"],
        memory=None,
    )
    return {"plans": [plan]}


def route_decision(scored: ScoredMessage) -> tuple[Decision, str | None, list[RelatedMemory]]:
    """The seed's decision for one scored message (``tools.association.decide``)."""
    relations = [
        ScoredRelation(memory_id=r["memory_id"], strength=r["strength"], reason=r["reason"], semantic=r["semantic"])
        for r in scored["relations"]
    ]
    decision, target, chosen = decide(importance_points(scored["message"]["importance"]), relations)
    chosen_ids = {relation.memory_id for relation in chosen}
    return decision, target, [r for r in scored["relations"] if r["memory_id"] in chosen_ids]


async def apply_writes(
    state: AssociationState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    links: LinkStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None,
    llm_budget: LLMBudget | None,
) -> dict[str, Any]:
    """Write every plan: outcomes, versions and two-way relations first, then the memories, all batched.

    Then the batch's messages lose their association pending mark (``MemoryRecord.assoc_pending``), whatever
    their outcome: the worker acknowledges their entries only after this, so a crash before it leaves them queued.

    New versions are made here (merged by the chat model, or the message itself offline), in message order, so
    two messages of one batch that update the same memory give two versions. Plans stored by an earlier attempt
    are applied again (every write is an upsert with a fixed id, and a memory is only replaced by a higher
    version), so a message's effect is there exactly once.
    """
    user_id = runtime.context.user_id
    now = time.time()
    plans = list(state.get("plans", []))
    order = {message["message_id"]: index for index, message in enumerate(state.get("messages", []))}
    plans.sort(key=lambda plan: order.get(plan["message_id"], 0))
    planned = {plan["message_id"] for plan in plans}
    for message in state.get("messages", []):  # recorded too, so every decided message has an outcome
        if message["message_id"] not in planned:
            plans.append(
                Plan(
                    message_id=message["message_id"],
                    decision=Decision.NO_ACTION.value,
                    cause_text=message["text"],
                    target_id=message["message_id"],
                    relations=[],
                    memory=None,
                )
            )
    replays = list(state.get("replays", []))

    targets = {plan["target_id"] for plan in plans if plan["decision"] == Decision.NEW_VERSION.value}
    targets |= {plan["message_id"] for plan in plans if plan["decision"] == Decision.NEW_MEMORY.value}
    targets |= {str(plan["target_id"]) for plan in replays if plan.get("memory")}
    targets |= {derived_memory_id(target) for target in list(targets) if target}  # where a message's versions live
    current = await asyncio.to_thread(long_term.get_with_embeddings, user_id, [t for t in targets if t])
    working = {memory_id: record for memory_id, (record, _) in current.items()}
    # Vectors of the memories written here: a new memory has its message's; a new version n+1 has the running
    # mean of its contents, normalise(n * v_n + v_message), instead of a fresh embedding of the merged text.
    vectors = {memory_id: vector for memory_id, (_, vector) in current.items()}
    fresh: set[str] = set()  # ids whose vector was computed here (a replayed plan's memory needs embedding)
    message_vectors = {m["message_id"]: np.asarray(m["embedding"], dtype=np.float32) for m in state.get("messages", [])}
    for plan in replays:  # a stored plan not yet applied is the base that new versions build on
        if plan.get("memory"):
            replayed = _record(plan, user_id)
            if replayed.id not in working or _is_newer(replayed, working[replayed.id]):
                working[replayed.id] = replayed

    versions: list[Version] = []
    first_versions: dict[str, MemoryRecord] = {}
    created: set[str] = set()  # memories created by this batch: later messages of it may version them
    for plan in plans:
        if plan["decision"] == Decision.NEW_MEMORY.value:
            stored_message = working.get(plan["message_id"])
            if stored_message is None:  # the message was deleted since it was loaded: nothing to promote
                plan["decision"], plan["relations"] = Decision.NO_ACTION.value, []
                continue
            record = promoted(stored_message)
            plan["target_id"], plan["memory"] = record.id, record.to_dict()
            vectors[record.id] = message_vectors[plan["message_id"]]
            fresh.add(record.id)
            working[record.id] = record
            created.add(record.id)
            versions.append(_version(record, plan, now))
        elif plan["decision"] == Decision.NEW_VERSION.value:
            existing = working.get(str(plan["target_id"]))
            if existing is None:  # the memory was deleted since it was found: relate only
                plan["decision"] = Decision.WEAK_RELATIONS.value
                plan["target_id"] = plan["message_id"]
                continue
            if is_message(existing) and derived_memory_id(existing.id) in working:  # its versions live there
                existing = working[derived_memory_id(existing.id)]
            signals = plan.get("signals")  # a plan stored before signals existed: the memory's emotion stands in
            feeling = json.dumps(signals) if signals else existing.emotion
            merged = await _merged_by_model(chat_model, llm_budget, existing.text, plan["cause_text"], feeling)
            if merged is not None and is_message(existing):  # the model's words never overwrite what was said
                existing = _versions_home(existing, working, vectors)
            plan["target_id"] = existing.id
            if existing.id not in created:  # a created memory's first version is written above
                first_versions.setdefault(existing.id, existing)
            if merged is None:
                # Without a chat model the version is the message itself: the memory's history records it (its
                # words are the version's cause), the memory's text and vector stay. Appending its sentences to the
                # memory would only copy words that are stored already, as the message.
                updated = replace(existing, version=existing.version + 1, last_accessed=now)
                if existing.id in vectors:
                    fresh.add(existing.id)
            else:
                updated = classified(
                    replace(existing, text=merged, version=existing.version + 1, last_accessed=now),
                    text=plan["cause_text"],
                )
                if existing.id in vectors:
                    mean = existing.version * vectors[existing.id] + message_vectors[plan["message_id"]]
                    vectors[existing.id] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
                    fresh.add(existing.id)
            working[existing.id] = updated
            plan["memory"] = updated.to_dict()
            versions.append(_version(updated, plan, now))
    # The version a memory had before its first update here, unless already stored (it was created by association).
    previous_ids = {version_id(record.id, record.version): record for record in first_versions.values()}
    stored = await asyncio.to_thread(links.existing_version_ids, user_id, list(previous_ids))
    for record_id, record in previous_ids.items():
        if record_id not in stored:
            versions.append(
                Version(record.id, record.version, record.text, caused_by=record.id, cause_text="", created_at=now)
            )

    relations: list[Relation] = []
    for plan in plans:
        source = str(plan["target_id"])
        for related in plan["relations"]:
            if related["memory_id"] == source:
                continue
            for from_id, to_id in ((source, related["memory_id"]), (related["memory_id"], source)):
                relations.append(
                    Relation(from_id, to_id, related["strength"], related["reason"], plan["message_id"], now)
                )
    outcomes = [(plan["message_id"], _without_text(plan)) for plan in plans]
    await asyncio.to_thread(links.write_association, user_id, outcomes=outcomes, versions=versions, relations=relations)

    # Memories last: the newest record per memory id, written only if newer than what is stored.
    final: dict[str, MemoryRecord] = {}
    for plan in [*replays, *plans]:
        if plan.get("memory"):
            record = _record(plan, user_id)
            if record.id not in final or final[record.id].version < record.version:
                final[record.id] = record
    stored_now = await asyncio.to_thread(long_term.get_with_embeddings, user_id, list(final))
    to_write = [r for r in final.values() if r.id not in stored_now or _is_newer(r, stored_now[r.id][0])]
    if to_write:
        missing = [record for record in to_write if record.id not in fresh]  # replays of an earlier attempt
        if missing:
            embedded = await asyncio.to_thread(embedder.embed, [record.text for record in missing])
            vectors.update({record.id: embedded[index] for index, record in enumerate(missing)})
        matrix = np.stack([vectors[record.id] for record in to_write])
        await asyncio.to_thread(long_term.upsert, user_id, to_write, matrix)
    # Last, every message of the batch (skipped ones too) is no longer waiting: its pending mark goes.
    await asyncio.to_thread(long_term.clear_pending, user_id, state.get("message_ids") or [])
    outcomes_by_id = {plan["message_id"]: plan["decision"] for plan in [*replays, *plans]}
    for message_id in state.get("skipped", []):
        outcomes_by_id.setdefault(message_id, "skipped")
    return {"outcomes": outcomes_by_id}


# -- helpers -------------------------------------------------------------------------------------------------
def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _with_batch_memories(
    found: list[Candidate], made: dict[str, tuple[Candidate, np.ndarray, int]], vector: np.ndarray
) -> list[Candidate]:
    """The searched candidates and the memories made earlier in the batch, nearest first, at most the usual number."""
    if not made:
        return found
    batch = [
        Candidate(**{**memory, "similarity": round(float(vector @ memory_vector), 6)})
        for memory, memory_vector, _ in made.values()
    ]
    known = {candidate["memory_id"] for candidate in batch}
    merged = [candidate for candidate in found if candidate["memory_id"] not in known] + batch
    return sorted(merged, key=lambda candidate: -candidate["similarity"])[:RELATED_CANDIDATES]


def _local_relation(message: QueuedMessage, candidate: Candidate) -> RelatedMemory:
    same_category = bool(message["category"]) and message["category"] == candidate["category"]
    same_emotion = bool(message["emotion"]) and message["emotion"] == candidate["emotion"]
    strength = local_strength(candidate["similarity"], same_category=same_category, same_emotion=same_emotion)
    reason = local_reason(
        candidate["similarity"],
        category=message["category"] if same_category else "",
        emotion=message["emotion"] if same_emotion else "",
    )
    return RelatedMemory(
        memory_id=candidate["memory_id"], strength=strength, reason=reason, semantic=candidate["semantic"]
    )


async def _llm_relations(
    chat_model: BaseChatModel, message: QueuedMessage, candidates: list[Candidate]
) -> list[RelatedMemory] | None:
    lines = "\n".join(RELATION_CANDIDATE_LINE.format(index=i, text=c["text"]) for i, c in enumerate(candidates))
    prompt = RELATION_SCORING_PROMPT.format(message=message["text"], candidates=lines)
    reply = await _ask(chat_model, prompt)
    try:
        scores = _Scores.model_validate_json(_json_part(reply))
    except (ValidationError, ValueError):
        logger.warning("the chat model's relation scores were not valid JSON; using the local score")
        return None
    relations = []
    for score in scores.scores:
        if score.index < len(candidates):
            candidate = candidates[score.index]
            relations.append(
                RelatedMemory(
                    memory_id=candidate["memory_id"],
                    strength=round(score.strength, 1),
                    reason=score.reason.strip()[:200] or "related (chat model)",
                    semantic=candidate["semantic"],
                )
            )
    return relations


async def _merged_by_model(
    chat_model: BaseChatModel | None, llm_budget: LLMBudget | None, existing: str, new_info: str, emotion: str
) -> str | None:
    """The chat model's merge of ``new_info`` into a memory; ``None`` without a model, its budget or its answer."""
    if chat_model is not None and llm_budget is not None and await llm_budget.try_acquire():
        prompt = MERGE_MEMORY_PROMPT.format(existing=existing, new_info=new_info, emotion=emotion or "none")
        merged = (await _ask(chat_model, prompt)).strip()
        if merged:
            return merged
    return None


async def _ask(chat_model: BaseChatModel, prompt: str) -> str:
    try:
        response = await chat_model.ainvoke([HumanMessage(prompt)])
    except Exception as exc:  # providers raise their own types; all mean "no answer"
        raise ChatModelError(f"the chat model failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    return response.text if isinstance(response, AIMessage) else str(response.content)


def _json_part(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object")
    json.loads(text[start : end + 1])
    return text[start : end + 1]


def promoted(message: MemoryRecord) -> MemoryRecord:
    """A stored message as a new semantic memory: same id, text and metadata; version 1; a statement.

    Its sensitivity stays what the chat turn or ingestion classified; a message never classified is classified now.
    """
    record = replace(message, kind=MemoryKind.SEMANTIC, version=1, utterance=UtteranceType.STATEMENT.value)
    return record if message.sensitivity_confidence > 0 else classified(record)


def is_message(record: MemoryRecord) -> bool:
    """Whether a memory is a message of a conversation (a chat turn or a transcript line), promoted or not."""
    return bool(record.conversation_id)


def _versions_home(
    message: MemoryRecord, working: dict[str, MemoryRecord], vectors: dict[str, np.ndarray]
) -> MemoryRecord:
    """The memory that holds the versions of a message promoted to a memory (``derived_memory_id``).

    A message keeps the words that were said (the conversation's log, its reply, its transcript reference): its
    first version merged by the chat model starts a separate memory, version n + 1, whose text is the merge and
    whose history begins with the message's words; later versions go there too. (Offline versions add no text, so
    they stay on the message.)
    """
    home_id = derived_memory_id(message.id)
    if home_id not in working:
        working[home_id] = replace(
            message,
            id=home_id,
            conversation_id="",
            reply="",
            source_ref="",
            appraisal="",
            assoc_pending=False,
            supersedes="",
            superseded_by="",
        )
        if message.id in vectors:
            vectors[home_id] = vectors[message.id]
    return working[home_id]


def _is_newer(record: MemoryRecord, stored: MemoryRecord) -> bool:
    """Whether ``record`` replaces ``stored``: a higher version, or the same message promoted to a memory."""
    return stored.version < record.version or (
        stored.version == record.version and record.kind is MemoryKind.SEMANTIC and stored.kind is MemoryKind.EPISODIC
    )


def _without_text(plan: Plan) -> dict[str, Any]:
    stored = dict(plan)
    if plan.get("memory"):
        stored["memory"] = {key: value for key, value in (plan["memory"] or {}).items() if key != "text"}
    return stored


def _record(plan: Plan, user_id: str) -> MemoryRecord:
    memory = dict(plan.get("memory") or {})
    return MemoryRecord.from_chroma(str(memory["id"]), str(memory["text"]), {**memory, "user_id": user_id})


def _version(record: MemoryRecord, plan: Plan, now: float) -> Version:
    return Version(record.id, record.version, record.text, plan["message_id"], plan["cause_text"], now)
