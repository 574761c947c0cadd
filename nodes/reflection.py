"""Nodes of the reflection graph. Each takes ``(state, runtime)`` plus services bound by ``build_graph``.

Every node is one *task* of a reflection run (``consolidate``, ``conflicts``, ``insights``, ``personality``,
``forget``); the
graph routes from task to task with :func:`next_task`. The run's clock is ``state["now"]`` (epoch seconds), so
tests and ``companion reflect --now`` can replay weeks of a user's life without waiting.

Every write is idempotent, so a run that dies half-way can simply run again: a summary's id is derived from its
sources (a gist promoted offline keeps its own), a conflict's from its pair, an insight's from the user, the local
day and its kind, and sources are marked consolidated (and gists promoted) only after the summaries and the log
entries are written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as day_start
from operator import add
from typing import Annotated, Any, NotRequired
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from companion.core.errors import ChatModelError, InvalidInputError
from companion.core.personality.journal import AppraisalInputs
from memory.cipher import is_sealed_level
from memory.clarifications import ClarificationQueue
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.personality_store import PersonalityStore
from memory.records import MemoryKind, MemoryRecord
from memory.reflection_log import LogEntry, ReflectionLog
from memory.short_term import ShortTermStore
from nodes.context import RunContext
from prompts.reflection import (
    CLARIFICATION_QUESTION,
    CONFLICT_CHECK_PROMPT,
    CONSOLIDATION_LINE,
    CONSOLIDATION_PROMPT,
    INSIGHTS_REPORT_PROMPT,
)
from tools.clarification import (
    ClarificationOutcome,
    apply_answer,
    choice_from_model,
    queued_from_log,
    settle_unclear_answers,
)
from tools.crisis import detect_crisis
from tools.personality_time import PersonalityAdvance, advance_personality
from tools.reflection import (
    CONFLICT_SIMILARITY,
    CONSOLIDATION_BOOST,
    INSIGHT_CATEGORY,
    INSIGHT_IMPORTANCE,
    INSIGHT_KINDS,
    MIN_CLUSTER_SIZE,
    RETENTION_WRITE_STEP,
    WINDOW_DAYS,
    ConflictType,
    Contradiction,
    Findings,
    FindingsData,
    MemoryFacts,
    Observed,
    Strategy,
    Update,
    analyse,
    choose_strategy,
    cluster_by_similarity,
    contradiction_between,
    insight_id,
    insight_kind,
    insight_sources,
    insight_texts,
    is_faded,
    is_summary,
    local_contradiction,
    local_days,
    mean_importance,
    most_central,
    neighbours,
    parse_statement,
    report_lines,
    resolve,
    retention,
    scale_importance,
    summary_id,
)
from tools.sensitivity import classified
from tools.utterance import UtteranceType, is_fact, is_observation

logger = logging.getLogger(__name__)

#: The tasks of a reflection run, in the order the graph runs them. Insights come after consolidation and conflicts,
#: so the facts they compare are the settled ones.
TASKS = ("consolidate", "conflicts", "insights", "personality", "forget")
#: What the nightly (03:00) run does; forgetting runs on its own at 04:00.
NIGHTLY_TASKS = ("consolidate", "conflicts", "insights", "personality")


#: What a run reports (``companion reflect``, ``POST …/reflect``), in this order.
REPORT_KEYS = ("now", "tasks", "consolidations", "conflicts", "clarifications", "insights", "forgetting", "personality")


@dataclass(frozen=True, kw_only=True)
class Context(RunContext):
    """Per-run configuration: plain values only."""

    persona: str = "default"


class ReflectionInput(TypedDict):
    """What a caller passes in: the run's clock and the tasks to run (default: the nightly ones)."""

    now: NotRequired[float]
    tasks: NotRequired[list[str]]


class InsightMemory(TypedDict):
    """One insight the run stored: a memory in the user's store, the companion's own observation."""

    id: str
    kind: str  # "topics", "mood" or "changes" (tools.reflection.INSIGHT_KINDS)
    text: str
    sensitivity: str


class InsightsReport(TypedDict):
    """What the insights task noticed and stored (also logged per local day, ``insights:<day>``)."""

    day: str  # the user's local day of the run (ISO date): the last day of the period
    timezone: str
    findings: FindingsData  # topics, mood trend, changes, with numbers
    insights: list[InsightMemory]
    superseded: list[str]  # earlier insights of the same kinds, now marked superseded by these
    report: str
    reporter: str  # "local", or "llm" when the chat model worded the report


class Consolidation(TypedDict):
    """A semantic memory consolidated from a cluster of episodic ones."""

    semantic_id: str
    text: str
    importance: int
    source_ids: list[str]
    summariser: str  # "llm" (the chat model's summary) or "promoted" (offline: the most central source)


class ForgettingReport(TypedDict):
    """What the forgetting curve did to the user's memories this run."""

    examined: int
    strengthened: int
    retention_updated: int
    archived: list[str]


class ClarificationsReport(TypedDict):
    """The clarification queue after the run, and the recorded answers settled in it."""

    waiting: int
    newly_queued: int
    answers_settled: list[ClarificationOutcome]


class ReflectionState(TypedDict):
    """State of one reflection run for one user."""

    now: NotRequired[float]
    tasks: NotRequired[list[str]]
    done: Annotated[NotRequired[list[str]], add]
    consolidations: NotRequired[list[Consolidation]]
    #: The conflicts logged this run: ``LogEntry.to_dict()``, whose fields after id/type/status/at depend on the
    #: strategy that settled each (``tools/reflection.py: settle``).
    conflicts: NotRequired[list[dict[str, Any]]]
    insights: NotRequired[InsightsReport]
    forgetting: NotRequired[ForgettingReport]
    personality: NotRequired[PersonalityAdvance]
    clarifications: NotRequired[ClarificationsReport]


# -- routing -------------------------------------------------------------------------------------------------
def next_task(state: ReflectionState) -> str:
    """The next task asked for and not done yet, or END."""
    done = set(state.get("done", []))
    for task in TASKS:
        if task in state.get("tasks", NIGHTLY_TASKS) and task not in done:
            return task
    return END


def start_run(state: ReflectionState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the tasks and fix the run's clock."""
    tasks = list(state.get("tasks") or NIGHTLY_TASKS)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise InvalidInputError(f"unknown reflection task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    return {"now": float(state.get("now") or time.time()), "tasks": tasks}


# -- consolidation ---------------------------------------------------------------------------------------------
def consolidate(
    state: ReflectionState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    log: ReflectionLog,
    embedder: Embedder,
    chat_model: BaseChatModel | None,
) -> dict[str, Any]:
    """Cluster unconsolidated episodic memories (similarity >= 0.7, >= 3 per cluster) into semantic memories.

    Secret and ultrasecret memories stay out: a summary would copy what they hold into a memory of its own. So do
    questions, requests and small talk (``tools.utterance``): what the user asked is not a fact about them.
    """
    user_id, now = runtime.context.user_id, state["now"]
    pairs = [
        (record, vector)
        for record, vector in long_term.with_embeddings(user_id, kind=MemoryKind.EPISODIC)
        if not record.consolidated_into
        and not is_sealed_level(record.sensitivity)
        and is_fact(record.utterance, record.text)
    ]
    made: list[Consolidation] = []
    if len(pairs) < MIN_CLUSTER_SIZE:
        return {"consolidations": made, "done": ["consolidate"]}
    clusters = cluster_by_similarity(np.stack([vector for _, vector in pairs]))
    summaries: list[MemoryRecord] = []
    entries: list[LogEntry] = []
    rewritten: list[MemoryRecord] = []  # gists promoted to semantic, sources marked consolidated
    for cluster in clusters:
        if len(cluster) < MIN_CLUSTER_SIZE:
            continue
        sources = [pairs[index][0] for index in cluster]
        importance = scale_importance(mean_importance([r.importance for r in sources]), CONSOLIDATION_BOOST)
        summary = summarise(sources, chat_model)
        if summary is None:
            # No new sentence without a model: the most central memory becomes the semantic one (the seed skips a
            # cluster its summariser fails on; this keeps what consolidation is for, a gist that outlasts the
            # episodes, without a second copy of the user's words)
            gist = sources[most_central(np.stack([pairs[index][1] for index in cluster]))]
            semantic = replace(gist, kind=MemoryKind.SEMANTIC, importance=max(gist.importance, importance))
            rewritten.append(semantic)
            summariser = "promoted"
        else:
            categories = Counter(r.category for r in sources if r.category)
            semantic = classified(
                MemoryRecord(
                    id=summary_id(r.id for r in sources),
                    user_id=user_id,
                    text=summary,
                    kind=MemoryKind.SEMANTIC,
                    importance=importance,
                    category=categories.most_common(1)[0][0] if categories else "",
                    created_at=now,
                    last_accessed=now,
                ),
                sources=sources,
            )
            summaries.append(semantic)
            summariser = "llm"
        source_ids = [r.id for r in sources]
        entries.append(
            LogEntry(
                f"consolidation:{semantic.id}",
                "consolidation",
                "consolidated",
                now,
                {"semantic_id": semantic.id, "source_ids": source_ids, "summariser": summariser},
            )
        )
        rewritten.extend(replace(r, consolidated_into=semantic.id) for r in sources if r.id != semantic.id)
        made.append(
            {
                "semantic_id": semantic.id,
                "text": semantic.text,
                "importance": semantic.importance,
                "source_ids": source_ids,
                "summariser": summariser,
            }
        )
    # In this order, so a run that dies half-way redoes the same clusters with the same ids: the summaries, the
    # log, then the sources (and gists) in one write, so a gist is never promoted without its cluster marked.
    if summaries:
        long_term.upsert(user_id, summaries, embedder.embed([r.text for r in summaries]))
    if entries:
        log.put(user_id, entries)
        long_term.update_metadata(user_id, rewritten)
    return {"consolidations": made, "done": ["consolidate"]}


def summarise(sources: list[MemoryRecord], chat_model: BaseChatModel | None) -> str | None:
    """The chat model's one-sentence summary of ``sources``; None without a model or without an answer."""
    if chat_model is None:
        return None
    lines = "\n".join(CONSOLIDATION_LINE.format(when=_day(r.created_at), text=r.text) for r in sources)
    reply = _ask(chat_model, CONSOLIDATION_PROMPT.format(memories=lines)).strip()
    return reply.splitlines()[0].strip() if reply else None


# -- conflicts -----------------------------------------------------------------------------------------------
class ConflictAnalysis(BaseModel):
    """What the chat model answers about a pair."""

    has_conflict: bool
    conflict_type: ConflictType = ConflictType.FACTUAL
    description: str = ""
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)


def detect_conflicts(
    state: ReflectionState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    log: ReflectionLog,
    chat_model: BaseChatModel | None,
) -> dict[str, Any]:
    """Check pairs above 0.8 similarity that involve a memory new since the last check; resolve contradictions.

    Reflection's own insights are left out: they are not something the user said.
    """
    user_id, now = runtime.context.user_id, state["now"]
    bookkeeping = log.state(user_id)
    checked_until = float(bookkeeping.get("conflicts_checked_until", 0.0))
    # Insights are the companion's dated observations, not the user's statements: two days' insights differ
    # without contradicting each other.
    pairs = [pair for pair in long_term.with_embeddings(user_id) if not is_observation(pair[0].utterance)]
    records = {record.id: record for record, _ in pairs}
    new_rows = [index for index, (record, _) in enumerate(pairs) if record.created_at > checked_until]
    found: list[dict[str, Any]] = []
    if pairs and new_rows:
        near = neighbours(np.stack([vector for _, vector in pairs]), CONFLICT_SIMILARITY, strict=True, rows=new_rows)
        candidates = sorted(
            {
                tuple(sorted((pairs[row][0].id, pairs[int(other)][0].id)))
                for row, others in near.items()
                for other in others
            }
        )
        judged: list[tuple[MemoryRecord, MemoryRecord, Contradiction | None]] = []
        if chat_model is None:  # the local rules are cheap: judge first, then look up only the contradictions
            statements = {record.id: parse_statement(record.text) for record, _ in pairs}
            for first_id, second_id in candidates:
                older, newer = _ordered(records, first_id, second_id)
                verdict = contradiction_between(statements[older.id], statements[newer.id])
                if verdict is not None and not _summary_and_source(older, newer):
                    judged.append((older, newer, verdict))
            known = log.get(user_id, [conflict_id(a.id, b.id) for a, b, _ in judged])
        else:  # the model is not: skip the pairs already judged before asking
            known = log.get(user_id, [conflict_id(a, b) for a, b in candidates])
            for first_id, second_id in candidates:
                if conflict_id(first_id, second_id) not in known:
                    older, newer = _ordered(records, first_id, second_id)
                    if not _summary_and_source(older, newer):
                        judged.append((older, newer, check_contradiction(older, newer, chat_model)))
        entries: list[LogEntry] = []
        changed_records: dict[str, MemoryRecord] = {}
        for older, newer, verdict in judged:
            if verdict is None or conflict_id(older.id, newer.id) in known:
                continue
            older, newer = records[older.id], records[newer.id]  # a memory may have changed in this run
            entry, changed = settle(older, newer, verdict, now)
            entries.append(entry)
            if changed is not None:
                records[changed.id] = changed_records[changed.id] = changed
            found.append(entry.to_dict())
        log.put(user_id, entries)
        long_term.update_metadata(user_id, list(changed_records.values()))
    log.set_state(user_id, {**bookkeeping, "conflicts_checked_until": now}, at=now)
    return {"conflicts": found, "done": ["conflicts"]}


def _summary_and_source(first: MemoryRecord, second: MemoryRecord) -> bool:
    """A semantic memory and one of its own sources are never a conflict."""
    return first.consolidated_into == second.id or second.consolidated_into == first.id


def _ordered(records: dict[str, MemoryRecord], first_id: str, second_id: str) -> tuple[MemoryRecord, MemoryRecord]:
    older, newer = sorted((records[first_id], records[second_id]), key=lambda r: (r.created_at, r.id))
    return older, newer


def conflict_id(first_id: str, second_id: str) -> str:
    """Deterministic id of the conflict between two memories (order does not matter)."""
    low, high = sorted((first_id, second_id))
    return f"conflict:{low}:{high}"


def check_contradiction(
    older: MemoryRecord, newer: MemoryRecord, chat_model: BaseChatModel | None
) -> Contradiction | None:
    """The chat model's verdict when configured (falling back to the local rules if its answer is unusable)."""
    if chat_model is None:
        return local_contradiction(older.text, newer.text)
    prompt = CONFLICT_CHECK_PROMPT.format(
        older=older.text, newer=newer.text, older_when=_day(older.created_at), newer_when=_day(newer.created_at)
    )
    reply = _ask(chat_model, prompt)
    try:
        start, end = reply.index("{"), reply.rindex("}") + 1
        analysis = ConflictAnalysis.model_validate_json(reply[start:end])
    except (ValueError, ValidationError):
        logger.warning("the chat model's conflict verdict was not valid JSON; using the local rules")
        return local_contradiction(older.text, newer.text)
    if not analysis.has_conflict:
        return None
    return Contradiction(analysis.conflict_type, analysis.description, analysis.confidence, rule="llm")


def settle(
    older: MemoryRecord, newer: MemoryRecord, verdict: Contradiction, now: float
) -> tuple[LogEntry, MemoryRecord | None]:
    """Pick and apply a strategy; returns the log entry and the memory whose importance changed (if any)."""
    facts = [MemoryFacts(r.id, r.importance, r.created_at) for r in (older, newer)]
    strategy = choose_strategy(facts[0], facts[1], verdict.confidence)
    resolution = resolve(facts[0], facts[1], strategy)
    data: dict[str, Any] = {
        "memory_ids": [older.id, newer.id],
        "texts": [older.text, newer.text],
        "conflict_type": verdict.conflict_type.value,
        "description": verdict.description,
        "confidence": verdict.confidence,
        "rule": verdict.rule,
        "strategy": strategy.value,
        "loser_id": resolution.loser_id,
        "importance_before": resolution.before,
        "importance_after": resolution.after,
    }
    changed = None
    if strategy is Strategy.USER_CLARIFICATION:
        data["question"] = CLARIFICATION_QUESTION.format(older=older.text, newer=newer.text)
        status = "awaiting_user"
    else:
        status = "resolved"
        loser = older if resolution.loser_id == older.id else newer
        assert resolution.after is not None
        changed = replace(loser, importance=resolution.after)
    return LogEntry(conflict_id(older.id, newer.id), "conflict", status, now, data), changed


async def ask_user(
    state: ReflectionState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    log: ReflectionLog,
    queue: ClarificationQueue,
    chat_model: BaseChatModel | None,
) -> dict[str, Any]:
    """Queue the questions of conflicts awaiting the user; with a chat model, settle recorded unclear answers.

    The queue is made to match the log: questions of conflicts no longer awaiting the user (reverted meanwhile)
    are dropped, and ones Redis lost are queued again (a question already queued keeps its "asked" mark).
    """
    user_id, now = runtime.context.user_id, state["now"]
    settled: list[ClarificationOutcome] = []
    if chat_model is not None:
        for entry in await asyncio.to_thread(log.entries, user_id, type="conflict", status="answered"):
            choice = await asyncio.to_thread(choice_from_model, chat_model, entry)
            if choice is not None:
                settled.append(
                    await asyncio.to_thread(
                        apply_answer, long_term, log, user_id, entry.id, choice=choice, now=now, resolved_by="llm"
                    )
                )
    settled += await asyncio.to_thread(settle_unclear_answers, long_term, log, user_id, now=now)
    waiting = await asyncio.to_thread(queued_from_log, log, user_id)
    wanted = {item.conflict_id for item in waiting}
    for stale in [item for item in await queue.pending(user_id) if item.conflict_id not in wanted]:
        await queue.remove(user_id, stale.conflict_id)
    queued = await queue.queue(user_id, waiting)
    return {"clarifications": {"waiting": len(waiting), "newly_queued": queued, "answers_settled": settled}}


# -- insights: patterns, mood trend, changes -----------------------------------------------------------------------
async def find_insights(
    state: ReflectionState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    log: ReflectionLog,
    embedder: Embedder,
    outreach: OutreachStore,
    chat_model: BaseChatModel | None,
) -> dict[str, Any]:
    """Notice recurring topics, the mood trend and changes of the last 7 local days; store them as insights.

    Days are the user's local days (``companion prefs --timezone``, as the scheduler's), so "a topic on 3 days"
    means 3 of their days. Each insight is a semantic memory of category ``insight`` with the utterance label
    ``observation`` and a fixed id per user, day and kind, so a second run the same day rewrites it; it is at
    least as sensitive as the messages it draws on. Secret and ultrasecret messages and crisis messages are never
    read into one (only counted in the report). The report is the local findings, one a line; with a chat model,
    its rewording of them (the local report stays when it fails: the findings do not depend on it).
    """
    user_id, now = runtime.context.user_id, state["now"]
    zone_name = (await outreach.prefs(user_id)).timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):  # a zone the system no longer knows: the scheduler's default
        zone_name, zone = "UTC", ZoneInfo("UTC")
    findings, readable = await asyncio.to_thread(gather_findings, long_term, user_id, now=now, zone=zone)
    texts = insight_texts(findings)
    sources = insight_sources(findings)
    made, superseded = await asyncio.to_thread(
        store_insights, long_term, embedder, user_id, findings, texts, sources, readable, now=now
    )
    lines = "\n".join(report_lines(findings))
    report, reporter = lines, "local"
    if chat_model is not None and findings.enough:
        worded = await _word_report(chat_model, lines)
        if worded:
            report, reporter = worded, "llm"
    result = InsightsReport(
        day=findings.day.isoformat(),
        timezone=zone_name,
        findings=findings.to_dict(),
        insights=made,
        superseded=superseded,
        report=report,
        reporter=reporter,
    )
    entry = LogEntry(
        f"insights:{result['day']}",
        "insights",
        "reported",
        now,
        {**result, "source_ids": {kind: list(sources.get(kind, ())) for kind in texts}},
    )
    await asyncio.to_thread(log.put, user_id, [entry])
    return {"insights": result, "done": ["insights"]}


def gather_findings(
    long_term: LongTermStore, user_id: str, *, now: float, zone: ZoneInfo
) -> tuple[Findings, dict[str, MemoryRecord]]:
    """Read the user's messages of the last two periods and analyse them; also returns the readable records by id.

    A message is what the user said (an episodic memory, or one association promoted and that keeps its
    conversation); consolidations and insights are not. Messages stored after ``now`` are ignored (a replayed
    clock). Sealed and crisis messages are left out and counted, never read.
    """
    day = datetime.fromtimestamp(now, zone).date()
    first, _ = local_days(day)
    since = datetime.combine(first - timedelta(days=WINDOW_DAYS), day_start(), zone).timestamp()
    messages = [r for r in long_term.created_since(user_id, since=since) if r.created_at <= now and _is_message(r)]
    readable: dict[str, MemoryRecord] = {}
    excluded: Counter[str] = Counter()
    current: list[Observed] = []
    previous: list[Observed] = []
    for record in messages:
        observed = _observed(record, zone)
        reason = left_out(record)
        if reason is not None:
            if observed.day >= first:
                excluded[reason] += 1
            continue
        readable[record.id] = record
        (current if observed.day >= first else previous).append(observed)
    updates: list[Update] = []
    newer = {r.supersedes: r for r in (readable[o.id] for o in current) if r.supersedes}
    for older in long_term.get_many(user_id, list(newer)):
        new = newer[older.id]
        if older.superseded_by == new.id and left_out(older) is None:
            readable[older.id] = older
            updates.append(Update(older.id, new.id, older.text, new.text, _observed(new, zone).day))
    findings = analyse(current, previous, updates, day=day, excluded={"sealed": 0, "crisis": 0, **excluded})
    return findings, readable


def _is_message(record: MemoryRecord) -> bool:
    """The user's own words: not an insight, not a chat model's summary (a gist promoted offline is a message)."""
    return not is_observation(record.utterance) and not is_summary(record.id)


def left_out(record: MemoryRecord) -> str | None:
    """Why a message must never be read into an insight: ``sealed`` (secret, ultrasecret), ``crisis``, or None.

    A crisis is what perception flagged on the turn (journaled with the memory) or what the crisis rules see in
    its text now (messages imported or stored before crisis perception).
    """
    if is_sealed_level(record.sensitivity):
        return "sealed"
    if record.appraisal:
        try:
            if AppraisalInputs.from_json(record.appraisal).crisis:
                return "crisis"
        except (ValueError, KeyError, TypeError):
            pass  # an unreadable journal entry says nothing about a crisis; the text rules below still look
    if detect_crisis(record.text).flagged:
        return "crisis"
    return None


def _observed(record: MemoryRecord, zone: ZoneInfo) -> Observed:
    return Observed(
        id=record.id,
        day=datetime.fromtimestamp(record.created_at, zone).date(),
        text=record.text,
        tags=record.tags,
        emotion=record.emotion,
        intensity=record.emotion_intensity,
        sentiment=record.sentiment,
    )


def store_insights(
    long_term: LongTermStore,
    embedder: Embedder,
    user_id: str,
    findings: Findings,
    texts: dict[str, str],
    sources: dict[str, tuple[str, ...]],
    readable: dict[str, MemoryRecord],
    *,
    now: float,
) -> tuple[list[InsightMemory], list[str]]:
    """Write the day's insights (fixed ids: a rerun rewrites them) and supersede earlier ones of the same kinds.

    An earlier day's insight of a kind written today is out of date: marked superseded by today's, recall ranks
    it below (and the chat model sees it marked outdated), yet it stays, as the record of that day.
    """
    records = [
        classified(
            MemoryRecord(
                id=insight_id(user_id, findings.day, kind),
                user_id=user_id,
                text=texts[kind],
                kind=MemoryKind.SEMANTIC,
                importance=INSIGHT_IMPORTANCE,
                category=INSIGHT_CATEGORY,
                created_at=now,
                last_accessed=now,
                utterance=UtteranceType.OBSERVATION.value,
            ),
            sources=[readable[i] for i in sources.get(kind, ()) if i in readable],
        )
        for kind in INSIGHT_KINDS
        if kind in texts
    ]
    if not records:
        return [], []
    long_term.upsert(user_id, records, embedder.embed([record.text for record in records]))
    newest = {insight_kind(record.id): record for record in records}
    stale: dict[str, list[str]] = {}
    for older in long_term.in_category(user_id, INSIGHT_CATEGORY):
        newer = newest.get(insight_kind(older.id))
        if newer is not None and older.id != newer.id and not older.superseded_by and older.created_at < now:
            stale.setdefault(newer.id, []).append(older.id)
    for newer_id, older_ids in stale.items():
        long_term.mark_superseded(user_id, older_ids, by=newer_id)
    made = [
        InsightMemory(id=r.id, kind=insight_kind(r.id), text=r.text, sensitivity=r.sensitivity.value) for r in records
    ]
    return made, sorted(i for ids in stale.values() for i in ids)


async def _word_report(chat_model: BaseChatModel, lines: str) -> str:
    """The chat model's wording of the report, or "" when it fails or answers nothing (the local report stands)."""
    try:
        response = await chat_model.ainvoke([HumanMessage(INSIGHTS_REPORT_PROMPT.format(findings=lines))])
    except Exception as exc:  # providers raise their own types; the findings do not depend on the wording
        logger.warning("the chat model failed to word the reflection report (%s); keeping the local one", exc)
        return ""
    return (response.text if isinstance(response, AIMessage) else str(response.content)).strip()


# -- personality -----------------------------------------------------------------------------------------------
async def evolve_personality(
    state: ReflectionState, runtime: Runtime[Context], *, store: PersonalityStore
) -> dict[str, Any]:
    """The personality engine's elapsed-time step: needs decay, mood relaxation, baseline drift, quirk evolution."""
    report = await advance_personality(store, runtime.context.user_id, runtime.context.persona, state["now"])
    return {"personality": report, "done": ["personality"]}


# -- forgetting ------------------------------------------------------------------------------------------------
async def forget(
    state: ReflectionState,
    runtime: Runtime[Context],
    *,
    long_term: LongTermStore,
    archive: LongTermStore,
    short_term: ShortTermStore,
    log: ReflectionLog,
) -> dict[str, Any]:
    """Fold in recalls, recompute every memory's retention, archive the faded ones (restorable, never deleted)."""
    user_id, now = runtime.context.user_id, state["now"]
    recalls = {memory_id: at for memory_id, at in (await short_term.recalls(user_id)).items() if at <= now}
    records = await asyncio.to_thread(long_term.list_memories, user_id, limit=10**9)
    updates: list[MemoryRecord] = []
    faded: list[MemoryRecord] = []
    strengthened = 0
    for record in records:
        recalled_at = recalls.get(record.id)
        if recalled_at is not None and recalled_at > record.last_accessed:
            record = replace(record, recall_count=record.recall_count + 1, last_accessed=recalled_at)
            strengthened += 1
        value = retention(
            importance=record.importance,
            recall_count=record.recall_count,
            reinforced_at=max(record.created_at, record.last_accessed),
            now=now,
        )
        if record.kind is MemoryKind.EPISODIC and is_faded(
            retention_value=value, importance=record.importance, recall_count=record.recall_count
        ):
            faded.append(replace(record, retention=round(value, 4)))
        elif recalled_at is not None or abs(value - record.retention) >= RETENTION_WRITE_STEP:
            updates.append(replace(record, retention=round(value, 4)))
    await asyncio.to_thread(long_term.update_metadata, user_id, updates + faded)
    if faded:
        entries = [
            LogEntry(f"archive:{r.id}", "archive", "archived", now, {"memory_id": r.id, "retention": r.retention})
            for r in faded
        ]
        await asyncio.to_thread(log.put, user_id, entries)
        await asyncio.to_thread(long_term.move, user_id, [r.id for r in faded], archive)
    await short_term.clear_recalls(user_id, recalls)
    report: ForgettingReport = {
        "examined": len(records),
        "strengthened": strengthened,
        "retention_updated": len(updates),
        "archived": [r.id for r in faded],
    }
    return {"forgetting": report, "done": ["forget"]}


# -- helpers -------------------------------------------------------------------------------------------------
def _ask(chat_model: BaseChatModel, prompt: str) -> str:
    try:
        response = chat_model.invoke([HumanMessage(prompt)])
    except Exception as exc:  # providers raise their own types; all mean "no answer", so report them as one
        raise ChatModelError(f"the chat model failed during reflection: {type(exc).__name__}: {exc}") from exc
    return response.text if isinstance(response, AIMessage) else str(response.content)


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def summary_json(state: dict[str, Any]) -> str:
    """The run's results as one JSON line (for logs and the CLI)."""
    keys = (*REPORT_KEYS, "done")
    return json.dumps({key: state[key] for key in keys if key in state}, ensure_ascii=False)
