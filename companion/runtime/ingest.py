"""Raw-memory ingestion (design seed 001): whole session transcripts, processed in the background.

    submit_session -> raw transcript stored (Chroma) + status "queued" (Redis) + entry on ``stream:ingest``
    worker         -> "processing": each user message detected (emotion, importance, category) and embedded in
                      batches, stored as an episodic memory of conversation ``<session>`` (with the assistant's
                      reply), queued for association (the same path as chat turns), a session summary written
                      -> "done" (or "failed" with the reason after the retries)
    cleanup        -> raw transcripts older than the retention period (30 days) are removed once processed (done or
                      failed; a status Redis lost counts as not processed)

The hierarchy read back by ``memory_tree``: session -> summary -> discrete memories (the session's messages and
the memories association made of them) -> raw transcripts.

Transcript format: JSON lines, one message per line, ``{"role": "user" | "assistant", "content": "...",
"ts": <epoch seconds or ISO 8601, optional>, "ref": "<the message's id where it came from, optional>"}``; blank
lines are ignored. A ``ref`` is kept on the message's memory (``source_ref``), so imported messages stay
traceable. A file with malformed lines is rejected as a whole, naming each bad line's number and problem, unless
``skip_invalid`` is set: then the valid lines are imported and the skipped line numbers are reported (and kept on
the submission's status). Nothing is ever half-imported silently.

For scripts and evaluations: ``await ingest_session(services, user_id=..., session_id=..., text=...)`` then
``await process_queued(services)`` runs ingestion and association synchronously until the queues are empty.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from redis.asyncio import Redis
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from companion.core.errors import InvalidInputError
from memory.association_queue import AssociationQueue, Entry, RedisLLMBudget
from memory.embeddings import Embedder
from memory.keys import hash_tag
from memory.links import LinkStore, RawTranscript, SessionSummary
from memory.long_term import LongTermStore
from memory.records import (
    EXTRACTED_REF,
    MemoryKind,
    MemoryRecord,
    content_hash,
    importance_from_metadata,
    validate_conversation_id,
    validate_user_id,
)
from memory.redis_io import as_text
from memory.short_term import ASSOCIATION_STREAM, PREFIX, note_message_at
from nodes.association import derived_memory_id
from prompts.association import SESSION_FACTS_PROMPT, SESSION_SUMMARY_PROMPT
from tools import detection as local_detection
from tools.duplicates import is_near_duplicate
from tools.key_lines import ConversationLine, offline_summary
from tools.sensitivity import classified
from tools.updates import detect_update
from tools.utterance import UtteranceType, classify_utterance

if TYPE_CHECKING:
    from companion.runtime.worker import TickResult
    from companion.services import Services

logger = logging.getLogger(__name__)

INGEST_STREAM = f"{PREFIX}:stream:ingest"
INGEST_GROUP = "ingest"
USERS_KEY = f"{PREFIX}:ingest:users"
MAX_REPORTED_ERRORS = 10
MAX_REF_CHARS = 200
MEMORY_TYPES = ("all", "discrete", "summary", "raw")
#: Stored memories each ingested line is checked against for an update (the chat turn checks its recall pool).
UPDATE_CANDIDATES = 10
#: A stored transcript with nothing to process it this long after it was stored has lost its queue entry (its
#: writer queues it milliseconds after storing it): the sweep queues it again.
LOST_SUBMISSION_AGE_SECONDS = 300.0
_NAMESPACE = uuid.UUID("0b8f5a52-8d5b-4a7e-b2d4-3e9a4f6c1d70")


def status_key(submission_id: str) -> str:
    """Redis hash with one submission's status."""
    return f"{PREFIX}:ingest:sub:{submission_id}"


def submissions_key(user_id: str) -> str:
    """Sorted set of a user's submissions by time."""
    return f"{PREFIX}:ingest:u:{hash_tag(user_id)}:subs"


class Detection(Protocol):
    """What ingestion needs of a detection (``tools.detection.Detection``)."""

    @property
    def emotion(self) -> str: ...  # noqa: D102

    @property
    def intensity(self) -> int: ...  # noqa: D102

    @property
    def importance(self) -> int: ...  # noqa: D102

    @property
    def category(self) -> str: ...  # noqa: D102


class Detector(Protocol):
    """Batch emotion/importance/category detection (``tools.detection.Detector``)."""

    def detect_batch(self, texts: Sequence[str], embeddings: np.ndarray) -> Sequence[Detection]:
        """One detection per text."""
        ...


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One valid message of a transcript, with its line number in the file."""

    line: int
    role: str
    content: str
    ts: float | None = None
    ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ParsedTranscript:
    """The valid lines of a transcript and the problems of the others (line number, problem)."""

    lines: list[TranscriptLine]
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Submission:
    """A queued transcript."""

    submission_id: str
    user_id: str
    session_id: str
    messages: int
    skipped_lines: list[int]
    queued_at: float
    queue_position: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, with ``status: queued`` (the REST app's submission status)."""
        return {**asdict(self), "status": "queued"}


#: Submissions an ingestion worker takes per tick.
INGEST_BATCH_SIZE = 8
#: Speaker labels of a plain-text session (seed 001's ``session_data``), lower case, and the role each stands for.
SPEAKER_ROLES = {
    "user": "user",
    "human": "user",
    "me": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "bot": "assistant",
    "companion": "assistant",
}
_SPEAKER = re.compile(r"^\s*([A-Za-z]+)\s*:\s?(.*)$")


def messages_from_session_text(text: str) -> list[dict[str, str]]:
    """Seed 001's ``session_data``: a session as text, each message starting with its speaker's label.

    ``User: I prefer window seats.`` / ``Assistant: Noted!``; labels are ``SPEAKER_ROLES`` (any case); a line without
    a label continues the message before it. Raises ``InvalidInputError`` naming the first line that cannot be
    read, and when no message is the user's.
    """
    messages: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SPEAKER.match(line)
        role = SPEAKER_ROLES.get(match.group(1).lower()) if match else None
        if role is not None and match is not None:
            messages.append({"role": role, "content": match.group(2).strip()})
        elif messages:
            messages[-1]["content"] = f"{messages[-1]['content']}\n{line}".strip()
        elif line.strip():
            raise InvalidInputError(
                f"session_data line {number} has no speaker: start each message with 'User:' or 'Assistant:'"
            )
    messages = [message for message in messages if message["content"]]
    if not any(message["role"] == "user" for message in messages):
        raise InvalidInputError("no user message: session_data needs at least one line starting with 'User:'")
    return messages


def parse_transcript(
    text: str, *, max_chars: int = 4000, progress: Callable[[int], None] | None = None
) -> ParsedTranscript:
    """Parse JSON-lines transcript text; every bad line is reported with its number, none is dropped silently."""
    lines: list[TranscriptLine] = []
    errors: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if progress is not None:
            progress(number)
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append((number, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(item, dict):
            errors.append((number, "not a JSON object"))
            continue
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "assistant"):
            errors.append((number, "role must be 'user' or 'assistant'"))
            continue
        if not isinstance(content, str) or not content.strip():
            errors.append((number, "content must be non-empty text"))
            continue
        if len(content.strip()) > max_chars or "\x00" in content:
            errors.append((number, f"content longer than {max_chars} characters or with a NUL"))
            continue
        try:
            ts = _timestamp(item.get("ts"))
        except ValueError as exc:
            errors.append((number, str(exc)))
            continue
        ref = item.get("ref", "")
        if not isinstance(ref, str | int) or isinstance(ref, bool) or len(str(ref)) > MAX_REF_CHARS:
            errors.append((number, f"ref must be text or a number of at most {MAX_REF_CHARS} characters"))
            continue
        lines.append(TranscriptLine(number, str(role), content.strip(), ts, str(ref)))
    return ParsedTranscript(lines, errors)


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValueError("ts must be epoch seconds or an ISO 8601 date")


def describe_errors(errors: list[tuple[int, str]]) -> str:
    """``line 3: not JSON; line 7: ...`` (the first ten, then how many more)."""
    shown = "; ".join(f"line {number}: {problem}" for number, problem in errors[:MAX_REPORTED_ERRORS])
    more = len(errors) - MAX_REPORTED_ERRORS
    return shown + (f"; and {more} more" if more > 0 else "")


def check_transcript(parsed: ParsedTranscript, *, skip_invalid: bool, source: str) -> None:
    """Reject a transcript with malformed lines (unless skipping them) or without any user message."""
    if parsed.errors and not skip_invalid:
        raise InvalidInputError(
            f"{source}: {len(parsed.errors)} malformed line(s), nothing imported ({describe_errors(parsed.errors)}); "
            "fix them or skip them with --skip-invalid"
        )
    if not any(line.role == "user" for line in parsed.lines):
        raise InvalidInputError(f"{source}: no user message to import")


async def submit_transcript(
    redis: Redis,
    links: LinkStore,
    *,
    user_id: str,
    session_id: str,
    parsed: ParsedTranscript,
    skip_invalid: bool = False,
    source: str = "transcript",
    submission_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Submission:
    """Store a parsed transcript and queue it. Malformed lines reject it as a whole unless ``skip_invalid``.

    ``metadata`` (the caller's, e.g. seed 001's ``session_type``) is kept with the submission's status.
    """
    validate_user_id(user_id)
    validate_conversation_id(session_id)
    check_transcript(parsed, skip_invalid=skip_invalid, source=source)
    submission_id = submission_id or uuid.uuid4().hex
    now = time.time()
    raw = RawTranscript(submission_id, session_id, [line.to_dict() for line in parsed.lines], now)
    await asyncio.to_thread(links.put_raw, user_id, raw)
    skipped = [number for number, _ in parsed.errors]
    messages = sum(1 for line in parsed.lines if line.role == "user")
    status: dict[str, Any] = {
        "submission_id": submission_id,
        "user_id": user_id,
        "session_id": session_id,
        "status": "queued",
        "messages": messages,
        "skipped_lines": json.dumps(skipped),
        "queued_at": repr(now),
        "metadata": json.dumps(metadata or {}, ensure_ascii=False),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(status_key(submission_id), mapping=status)  # type: ignore[arg-type]
        pipe.sadd(USERS_KEY, user_id)
        pipe.zadd(submissions_key(user_id), {submission_id: now})
        pipe.xadd(INGEST_STREAM, {"user_id": user_id, "submission_id": submission_id})
        pipe.xlen(INGEST_STREAM)
        results = await pipe.execute()
    return Submission(submission_id, user_id, session_id, messages, skipped, now, int(results[-1]), metadata or {})


async def implicate_chat_batch(redis: Redis, links: LinkStore, entry_id: str, fields: dict[str, str]) -> int:
    """The memory implicator: a group chat's overflowed messages become one ingestion submission per author.

    The entries (``kind=chat_batch``) come from the bots' chat buffer; the session is ``<platform>:chat:<chat id>``.
    Idempotent per (entry, author): a redelivered entry submits nothing twice. Returns how many submissions it
    made; raises ``InvalidInputError`` for an entry that cannot be read.
    """
    try:
        messages = json.loads(fields.get("messages", ""))
    except json.JSONDecodeError:
        raise InvalidInputError("chat batch without a readable messages list") from None
    if not isinstance(messages, list):
        raise InvalidInputError("chat batch without a readable messages list")
    session_id = f"{fields.get('platform', 'chat')}:chat:{fields.get('chat_id', '')}"
    by_author: dict[str, list[TranscriptLine]] = {}
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or not str(message.get("text", "")).strip():
            continue
        by_author.setdefault(str(message.get("user_id", "")), []).append(
            TranscriptLine(number, "user", str(message["text"]).strip(), _timestamp(message.get("ts")))
        )
    made = 0
    for user_id, lines in by_author.items():
        submission_id = uuid.uuid5(_NAMESPACE, f"chat-batch:{entry_id}:{user_id}").hex
        if await redis.exists(status_key(submission_id)):
            continue  # submitted before this entry was redelivered
        await submit_transcript(
            redis,
            links,
            user_id=user_id,
            session_id=session_id,
            parsed=ParsedTranscript(lines),
            source=f"chat batch {entry_id}",
            submission_id=submission_id,
        )
        made += 1
    return made


async def forget_submissions(redis: Redis, user_id: str) -> int:
    """Drop the status records of every submission of ``user_id``; returns how many submissions there were."""
    members = await redis.zrange(submissions_key(user_id), 0, -1)
    submissions = [as_text(item) for item in members]
    if submissions:
        await redis.delete(*[status_key(submission_id) for submission_id in submissions])
    await redis.delete(submissions_key(user_id))
    await redis.srem(USERS_KEY, user_id)
    return len(submissions)


async def submission_status(redis: Redis, submission_id: str) -> dict[str, Any]:
    """The status of one submission: queued, processing, done or failed (with ``error``)."""
    raw = await redis.hgetall(status_key(submission_id))
    if not raw:
        raise InvalidInputError(f"no submission {submission_id!r}")
    status: dict[str, Any] = {as_text(k): as_text(v) for k, v in raw.items()}
    status["skipped_lines"] = json.loads(status.get("skipped_lines", "[]"))
    status["metadata"] = json.loads(status.get("metadata", "{}"))
    for name in ("messages", "memories"):
        if name in status:
            status[name] = int(status[name])
    return status


class Ingestor:
    """Processes queued submissions (called by the worker each tick)."""

    def __init__(
        self,
        *,
        redis: Redis,
        long_term: LongTermStore,
        links: LinkStore,
        embedder: Embedder,
        detector_factory: Callable[[], Detector],
        chat_model: BaseChatModel | None = None,
        llm_budget: RedisLLMBudget | None = None,
        batch_size: int = INGEST_BATCH_SIZE,
        claim_idle_ms: int = 60_000,
        max_retries: int = 3,
        retry_wait_seconds: float = 0.5,
    ) -> None:
        self.redis = redis
        self.queue = AssociationQueue(redis, stream=INGEST_STREAM, group=INGEST_GROUP)
        self.long_term = long_term
        self.links = links
        self.embedder = embedder
        self._detector_factory = detector_factory
        self._detector: Detector | None = None
        self.chat_model = chat_model
        self.llm_budget = llm_budget
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.max_retries = max_retries
        self.retry_wait_seconds = retry_wait_seconds
        self._group_ready = False

    @classmethod
    def from_services(cls, services: Services, *, detector_factory: Callable[[], Detector] | None = None) -> Ingestor:
        """An ingestor over a process's live services and settings."""
        settings = services.settings
        return cls(
            redis=services.redis,
            long_term=services.long_term,
            links=services.links,
            embedder=services.embedder,
            detector_factory=detector_factory or default_detector,
            chat_model=services.chat_model,
            llm_budget=RedisLLMBudget(services.redis, per_minute=settings.association_llm_per_minute),
            claim_idle_ms=int(settings.association_claim_idle_seconds * 1000),
            max_retries=settings.association_max_retries,
        )

    def embed(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Vectors of ``texts`` and, for the committed detector, the perception model's scores: one encoder run."""
        if isinstance(self.detector, local_detection.Detector):
            return local_detection.perception_scores(texts, self.embedder)
        return self.embedder.embed(texts), None

    def detect(self, texts: list[str], vectors: np.ndarray, scores: np.ndarray | None) -> Sequence[Detection]:
        """Detections of ``texts``: with the perception model's scores (``tools.detection.perceive``) when given."""
        if isinstance(self.detector, local_detection.Detector):
            return local_detection.detect_with_scores(texts, vectors, scores, detector=self.detector)
        return self.detector.detect_batch(texts, vectors)

    @property
    def detector(self) -> Detector:
        """The detector, loaded on first use (only processes that ingest pay for it)."""
        if self._detector is None:
            self._detector = self._detector_factory()
        return self._detector

    async def process_submissions(self, consumer: str) -> TickResult:
        """Process what is queued on the ingestion stream now; returns counts (``ingested`` = submissions done)."""
        from companion.runtime.worker import TickResult

        result = TickResult()
        if not self._group_ready:
            await self.queue.ensure_group()
            self._group_ready = True
        entries = await self.queue.claim_stale(consumer, min_idle_ms=self.claim_idle_ms, count=self.batch_size)
        entries += await self.queue.read(consumer, self.batch_size)
        for entry in entries:
            done = await self._process_entry(entry)
            result.ingested += int(done)
            result.dead += int(not done)
        return result

    async def _process_entry(self, entry: Entry) -> bool:
        submission_id = entry.fields.get("submission_id", "")
        user_id = entry.fields.get("user_id", "")
        key = status_key(submission_id)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_retries + 1),
                wait=wait_exponential(multiplier=self.retry_wait_seconds, max=10),
                reraise=True,
            ):
                with attempt:
                    await self.redis.hset(key, mapping={"status": "processing", "started_at": repr(time.time())})
                    memories = await self.ingest_submission(user_id, submission_id)
        except Exception as exc:  # the worker boundary: a submission that keeps failing is marked failed
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            logger.warning("ingestion of submission %s failed: %s", submission_id, reason)
            await self.redis.hset(key, mapping={"status": "failed", "error": reason, "finished_at": repr(time.time())})
            await self.queue.dead_letter([entry], reason)
            await self.queue.count({"ingest_failed": 1})
            return False
        await self.redis.hset(key, mapping={"status": "done", "memories": memories, "finished_at": repr(time.time())})
        await self.queue.ack([entry.entry_id])
        await self.queue.count({"ingested": 1, "ingested_messages": memories})  # the per-day processing stats
        return True

    async def ingest_submission(self, user_id: str, submission_id: str) -> int:
        """Turn one stored transcript into memories, queue them for association, write the session summary.

        Every write has a fixed id (derived from the submission and line), so running it twice stores one copy;
        a message whose content the user already has (the chat turn's copy of a group message addressed to the bot,
        the same line sent in another file) is not stored again (``without_copies``).
        Returns how many messages were stored.
        """
        validate_user_id(user_id)
        raw = await asyncio.to_thread(self.links.raw, user_id, submission_id)
        if raw is None:
            raise InvalidInputError(f"the transcript of submission {submission_id} is gone")
        records = self.records(user_id, raw)
        facts = await self._facts(user_id, raw)
        fact_ids = {fact.id for fact in facts}
        records += facts
        scores: np.ndarray | None = None
        if records:
            texts = [record.text for record in records]
            vectors, scores = await asyncio.to_thread(self.embed, texts)
            row_of = {record.id: row for row, record in enumerate(records)}
            records, vectors = await asyncio.to_thread(without_copies, self.long_term, user_id, records, vectors)
            if scores is not None:
                scores = scores[[row_of[record.id] for record in records]]
        if records:
            texts = [record.text for record in records]
            detections = await asyncio.to_thread(self.detect, texts, vectors, scores)
            records = [
                replace(
                    record,
                    emotion=detection.emotion,
                    emotion_intensity=int(detection.intensity),
                    importance=importance_from_metadata(detection.importance),
                    category=detection.category,
                )
                for record, detection in zip(records, detections, strict=True)
            ]
            updates = await asyncio.to_thread(find_updates, self.long_term, user_id, records, vectors)
            records = [replace(r, supersedes=updates[r.id][0]) if updates.get(r.id) else r for r in records]
            await asyncio.to_thread(self.long_term.upsert, user_id, records, vectors)
            for record in records:  # after the new memories are stored: an old value never lacks its newer one
                if updates.get(record.id):
                    await asyncio.to_thread(self.long_term.mark_superseded, user_id, updates[record.id], by=record.id)
            async with self.redis.pipeline(transaction=False) as pipe:
                for record in records:
                    if record.id in fact_ids:  # said in other words than the user's: nothing to associate
                        continue
                    pipe.xadd(
                        ASSOCIATION_STREAM,
                        {
                            "user_id": user_id,
                            "conversation_id": raw.session_id,
                            "memory_id": record.id,
                            "created_at": repr(record.created_at),
                            "submission_id": submission_id,
                        },
                    )
                await pipe.execute()
        summary_text = await self._summary(raw, records)
        summary = SessionSummary(
            session_id=raw.session_id,
            text=summary_text,
            memory_ids=[record.id for record in records],
            submission_id=submission_id,
            created_at=time.time(),
        )
        previous = await asyncio.to_thread(self.links.summaries, user_id, session_id=raw.session_id)
        if previous and previous[0].submission_id != submission_id:  # a session sent in several files
            summary = SessionSummary(
                session_id=raw.session_id,
                text=" ".join([previous[0].text, summary_text]).strip(),
                memory_ids=list(dict.fromkeys([*previous[0].memory_ids, *summary.memory_ids])),
                submission_id=submission_id,
                created_at=summary.created_at,
            )
        await asyncio.to_thread(self.links.put_summary, user_id, summary)
        user_lines = [_timestamp(line.get("ts")) for line in raw.lines if line.get("role") == "user"]
        if user_lines:  # the user is now one the schedulers reflect for and may reach out to
            await note_message_at(self.redis, user_id, max(at or raw.created_at for at in user_lines))
        return len(records)

    @staticmethod
    def records(user_id: str, raw: RawTranscript) -> list[MemoryRecord]:
        """The memories a transcript's user messages become (ids fixed per submission and line)."""
        records: list[MemoryRecord] = []
        lines = raw.lines
        for index, line in enumerate(lines):
            if line["role"] != "user":
                continue
            reply = lines[index + 1]["content"] if index + 1 < len(lines) and lines[index + 1]["role"] != "user" else ""
            created = line.get("ts") or raw.created_at + index * 1e-3  # keep transcript order without timestamps
            records.append(
                classified(
                    MemoryRecord(
                        id=line_memory_id(raw.submission_id, line["line"]),
                        user_id=user_id,
                        text=line["content"],
                        kind=MemoryKind.EPISODIC,
                        created_at=float(created),
                        conversation_id=raw.session_id,
                        reply=reply,
                        source_ref=str(line.get("ref") or ""),
                        assoc_pending=True,  # queued for association below, until it has processed it
                        utterance=classify_utterance(line["content"]).value,
                    )
                )
            )
        return records

    async def _ask(self, prompt: str, raw: RawTranscript) -> str | None:
        """The chat model's answer to ``prompt`` over the transcript; ``None`` without a model, budget or answer.

        A model that fails leaves the session to the offline path (logged): ingestion never fails for it.
        """
        if self.chat_model is None or self.llm_budget is None or not await self.llm_budget.try_acquire():
            return None
        transcript = "\n".join(f"{line['role']}: {line['content']}" for line in raw.lines)
        try:
            response = await self.chat_model.ainvoke([HumanMessage(prompt.format(transcript=transcript))])
        except Exception as exc:  # providers raise their own types; each means "no answer"
            logger.warning("the chat model failed on session %s (%s); using the offline path", raw.session_id, exc)
            return None
        text = response.text if isinstance(response, AIMessage) else str(response.content)
        return text.strip() or None

    async def _facts(self, user_id: str, raw: RawTranscript) -> list[MemoryRecord]:
        """With a chat model, the session's facts in the user's voice (``SESSION_FACTS_PROMPT``), as memories.

        Each is a semantic memory of the session, stored beside the lines it came from (which stay as said) and
        pointed at by the session summary. Offline there are none: the summary points at the key lines instead.
        """
        answer = await self._ask(SESSION_FACTS_PROMPT, raw)
        if answer is None:
            return []
        said = [_timestamp(line.get("ts")) or raw.created_at for line in raw.lines if line["role"] == "user"]
        created = max(said, default=raw.created_at)
        return [
            classified(
                MemoryRecord(
                    id=line_memory_id(raw.submission_id, f"fact:{index}"),
                    user_id=user_id,
                    text=fact,
                    kind=MemoryKind.SEMANTIC,
                    created_at=float(created),
                    conversation_id=raw.session_id,
                    source_ref=EXTRACTED_REF,
                    utterance=UtteranceType.STATEMENT.value,
                )
            )
            for index, fact in enumerate(parse_facts(answer))
        ]

    async def _summary(self, raw: RawTranscript, records: list[MemoryRecord]) -> str:
        answer = await self._ask(SESSION_SUMMARY_PROMPT, raw)
        return answer if answer is not None else offline_summary(conversation_lines(raw, records))


def without_copies(
    long_term: LongTermStore, user_id: str, records: list[MemoryRecord], vectors: np.ndarray
) -> tuple[list[MemoryRecord], np.ndarray]:
    """``records`` (with their ``vectors``) minus those whose content ``user_id`` already has, or an earlier one has.

    Same content: an equal content hash, or a near duplicate among the three nearest memories
    (``tools.duplicates``). A record found under its own id (a submission processed again) is not a copy.
    """
    if not records:
        return records, vectors
    hashes = [content_hash(record.text) for record in records]
    stored = long_term.ids_by_hash(user_id, hashes)
    nearest = long_term.search_many(user_id, vectors, 3)
    seen: set[str] = set()
    kept: list[int] = []
    for index, record in enumerate(records):
        already = record.id in stored.get(hashes[index], []) or any(o.id == record.id for o, _ in nearest[index])
        if not already:  # a record stored before under its own id (a submission processed again) is kept
            if hashes[index] in seen or stored.get(hashes[index]):
                continue
            if any(is_near_duplicate(record.text, other.text, similarity) for other, similarity in nearest[index]):
                continue
        seen.add(hashes[index])
        kept.append(index)
    if len(kept) < len(records):
        logger.info("ingestion for %s left out %d copies of stored content", user_id, len(records) - len(kept))
    return [records[index] for index in kept], vectors[kept]


def find_updates(
    long_term: LongTermStore, user_id: str, records: list[MemoryRecord], vectors: np.ndarray
) -> dict[str, list[str]]:
    """For each record, the older memories it gives a new value (``tools.updates``), most similar first.

    The chat turn checks its recall pool; a transcript has none, so each line is checked against the user's
    ``UPDATE_CANDIDATES`` nearest stored memories and the earlier lines of the same transcript ("I work at Acme"
    ... "I started at Globex last week" in one file). Only older memories are updated, and only current ones: a
    value already replaced keeps pointing at its first replacement, as on the chat path.
    """
    if not records:
        return {}
    nearest = long_term.search_many(user_id, vectors, UPDATE_CANDIDATES)
    replaced: set[str] = set()
    found: dict[str, list[str]] = {}
    for index, record in enumerate(records):
        older = [
            (other.id, other.text, other.utterance, similarity)
            for other, similarity in nearest[index]
            if other.id != record.id and other.created_at < record.created_at and not other.superseded_by
        ]
        older += [
            (earlier.id, earlier.text, earlier.utterance, float(vectors[index] @ vectors[position]))
            for position, earlier in enumerate(records[:index])
            if earlier.created_at <= record.created_at
        ]
        ids = [
            memory_id
            for memory_id, text, utterance, similarity in sorted(older, key=lambda item: -item[3])
            if memory_id not in replaced
            and detect_update(record.text, text, similarity, new_type=record.utterance, old_type=utterance) is not None
        ]
        if ids:
            found[record.id] = list(dict.fromkeys(ids))
            replaced.update(ids)
    return found


#: At most this many facts are kept from one session's extraction, each at most this long.
MAX_FACTS = 20
MAX_FACT_CHARS = 500
_FACT_LINE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(?P<fact>.+?)\s*$")


def parse_facts(answer: str) -> list[str]:
    """The facts of the model's list ("- My sister Ana lives in Porto."): one per list line, "none" left out."""
    facts = []
    for line in answer.splitlines():
        if (match := _FACT_LINE.match(line)) is None:
            continue
        fact = match["fact"].strip().strip('"')
        if fact and fact.lower().rstrip(".") != "none" and len(fact) <= MAX_FACT_CHARS and fact not in facts:
            facts.append(fact)
    return facts[:MAX_FACTS]


def line_memory_id(submission_id: str, line: int | str) -> str:
    """The id of the memory a transcript's user line becomes (fixed, so processing it again stores one copy)."""
    return uuid.uuid5(_NAMESPACE, f"{submission_id}:{line}").hex


def conversation_lines(raw: RawTranscript, records: Sequence[MemoryRecord]) -> list[ConversationLine]:
    """The transcript as ``tools.key_lines`` reads it, each stored user line with its detected importance.

    A user line left out as a copy of stored content is still a line of the session, read without detection.
    """
    detected = {record.id: record for record in records}
    lines = []
    for line in raw.lines:
        record = detected.get(line_memory_id(raw.submission_id, line["line"]))
        lines.append(
            ConversationLine(
                text=line["content"],
                from_user=line["role"] == "user",
                importance=record.importance if record is not None else 0,
                intensity=record.emotion_intensity if record is not None else 0,
            )
        )
    return lines


def default_detector() -> Detector:
    """The local detector (``tools.detection.load_detector``: committed weights, no network)."""
    from tools.detection import load_detector

    return load_detector()


# -- reading the hierarchy ----------------------------------------------------------------------------------
def memory_tree(
    long_term: LongTermStore,
    links: LinkStore,
    user_id: str,
    *,
    session_id: str | None = None,
    memory_type: str = "all",
    start: float | None = None,
    end: float | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The hierarchy session -> summary -> discrete memories -> raw transcripts, filtered.

    ``memory_type`` is ``all``, ``discrete``, ``summary`` or ``raw``; ``start``/``end`` bound ``created_at``
    (epoch seconds); ``limit`` (1-1000) caps each list.
    """
    validate_user_id(user_id)
    if session_id is not None:
        validate_conversation_id(session_id)
    if memory_type not in MEMORY_TYPES:
        raise InvalidInputError(f"memory type must be one of {', '.join(MEMORY_TYPES)}, not {memory_type!r}")
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit must be between 1 and 1000, got {limit}")
    low, high = start if start is not None else 0.0, end if end is not None else math.inf

    def within(ts: float) -> bool:
        return low <= ts <= high

    summaries = links.summaries(user_id, session_id=session_id)
    raws = links.raws(user_id, session_id=session_id)
    session_ids = list(dict.fromkeys([s.session_id for s in summaries] + [r.session_id for r in raws]))
    sessions = []
    for sid in session_ids:
        node: dict[str, Any] = {"session_id": sid}
        summary = next((s for s in summaries if s.session_id == sid), None)
        if memory_type in ("all", "summary"):
            node["summary"] = (
                {"text": summary.text, "created_at": summary.created_at, "memory_count": len(summary.memory_ids)}
                if summary is not None and within(summary.created_at)
                else None
            )
        if memory_type in ("all", "discrete"):
            messages = long_term.recent_turns(user_id, sid, since=low, limit=100_000)
            derived = [derived_memory_id(m.id) for m in messages]
            made = long_term.get_with_embeddings(user_id, derived) if derived else {}
            items = [
                {**_memory_view(m), "derived": [_memory_view(made[d][0])] if d in made else []}
                for m, d in zip(messages, derived, strict=True)
                if within(m.created_at)
            ]
            node["memories"] = items[:limit]
            said = {m.id for m in messages}
            pointed = [i for i in (summary.memory_ids if summary is not None else []) if i not in said]
            found = long_term.get_with_embeddings(user_id, pointed) if pointed else {}
            facts = [found[i][0] for i in pointed if i in found and found[i][0].source_ref == EXTRACTED_REF]
            node["facts"] = [_memory_view(fact) for fact in facts if within(fact.created_at)][:limit]
        if memory_type in ("all", "raw"):
            node["raw"] = [
                {"submission_id": r.submission_id, "created_at": r.created_at, "lines": len(r.lines)}
                for r in raws
                if r.session_id == sid and within(r.created_at)
            ][:limit]
        sessions.append(node)
    return {"user_id": user_id, "memory_type": memory_type, "sessions": sessions[:limit]}


def _memory_view(record: MemoryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind.value,
        "text": record.text,
        "version": record.version,
        "importance": record.importance,
        "emotion": record.emotion,
        "emotion_intensity": record.emotion_intensity,
        "category": record.category,
        "created_at": record.created_at,
    }


async def requeue_lost_submissions(
    redis: Redis,
    links: LinkStore,
    long_term: LongTermStore,
    *,
    min_age_seconds: float = LOST_SUBMISSION_AGE_SECONDS,
    now: float | None = None,
) -> int:
    """Queue again the stored transcripts that Redis lost before they were processed; returns how many.

    A transcript is stored in Chroma before its status and queue entry go to Redis, so after Redis loses its data
    (a flush, a restore from an old snapshot) the transcript is still there with nothing to process it. One is
    re-queued when no queue holds it, its status is not ``done`` or ``failed``, and none of its messages is a memory
    yet (their ids are fixed per submission and line). Only transcripts older than ``min_age_seconds``: a younger
    one is still being queued by its writer.
    """
    queue = AssociationQueue(redis, stream=INGEST_STREAM, group=INGEST_GROUP)
    known = await queue.known_messages(field="submission_id")
    cutoff = (time.time() if now is None else now) - min_age_seconds
    requeued = 0
    for user_id in await asyncio.to_thread(links.user_ids):
        for raw in await asyncio.to_thread(links.raws, user_id):
            if raw.created_at > cutoff or (user_id, raw.submission_id) in known:
                continue
            status = as_text(await redis.hget(status_key(raw.submission_id), "status") or b"")
            if status in ("done", "failed"):
                continue
            ids = [record.id for record in Ingestor.records(user_id, raw)]
            stored: list[MemoryRecord] = await asyncio.to_thread(long_term.get_many, user_id, ids) if ids else []
            if stored:
                continue  # processed; only its status was lost
            messages = len(ids)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    status_key(raw.submission_id),
                    mapping={
                        "submission_id": raw.submission_id,
                        "user_id": user_id,
                        "session_id": raw.session_id,
                        "status": "queued",
                        "messages": messages,
                        "skipped_lines": "[]",
                        "queued_at": repr(raw.created_at),
                        "requeued": "sweep",
                    },
                )
                pipe.sadd(USERS_KEY, user_id)
                pipe.zadd(submissions_key(user_id), {raw.submission_id: raw.created_at})
                pipe.xadd(INGEST_STREAM, {"user_id": user_id, "submission_id": raw.submission_id})
                await pipe.execute()
            requeued += 1
    if requeued:
        logger.info("re-queued %d ingested transcript(s) that Redis had lost before processing", requeued)
    return requeued


def _cutoff(retention_days: float, now: float | None) -> float:
    return (now or time.time()) - retention_days * 86400


async def _ingesting_users(redis: Redis, user_ids: Sequence[str] | None) -> list[str]:
    """``user_ids``, or every user who ever submitted a session."""
    return [as_text(member) for member in await redis.smembers(USERS_KEY)] if user_ids is None else list(user_ids)


async def cleanup_raw(
    redis: Redis,
    links: LinkStore,
    *,
    retention_days: float,
    now: float | None = None,
    user_ids: Sequence[str] | None = None,
) -> int:
    """Remove processed (done or failed) raw transcripts older than ``retention_days``; returns how many.

    Every ingesting user's, or only those of ``user_ids``. A transcript whose status is anything else (queued,
    processing, or unknown because Redis lost it) is kept: it may never have been processed.
    """
    cutoff, removed = _cutoff(retention_days, now), 0
    for user_id in await _ingesting_users(redis, user_ids):
        old = [raw for raw in await asyncio.to_thread(links.raws, user_id) if raw.created_at < cutoff]
        finished = []
        for raw in old:
            status = as_text(await redis.hget(status_key(raw.submission_id), "status") or b"")
            if status in ("done", "failed"):
                finished.append(raw.submission_id)
        removed += await asyncio.to_thread(links.delete_raw, user_id, finished)
    return removed


async def cleanup_sessions(redis: Redis, links: LinkStore, *, retention_days: float, now: float | None = None) -> int:
    """Remove every user's session summaries whose last submission is older than ``retention_days``.

    Seed 001's long-term retention of processed sessions (365 days by default); the session's memories are
    permanent and stay, as do its raw transcripts' own, shorter retention (:func:`cleanup_raw`). Returns how many.
    """
    cutoff, removed = _cutoff(retention_days, now), 0
    for user_id in await _ingesting_users(redis, None):
        old = [s.session_id for s in await asyncio.to_thread(links.summaries, user_id) if s.created_at < cutoff]
        removed += await asyncio.to_thread(links.delete_summaries, user_id, old)
    return removed


# -- the library entry points for scripts and evaluations ---------------------------------------------------
async def ingest_session(
    services: Services,
    *,
    user_id: str,
    session_id: str,
    text: str,
    skip_invalid: bool = False,
    source: str = "transcript",
) -> Submission:
    """Parse and queue one session transcript (JSON lines) for background processing."""
    parsed = parse_transcript(text, max_chars=services.settings.max_message_chars)
    links = services.links
    return await submit_transcript(
        services.redis,
        links,
        user_id=user_id,
        session_id=session_id,
        parsed=parsed,
        skip_invalid=skip_invalid,
        source=source,
    )


async def process_queued(services: Services, *, detector_factory: Callable[[], Detector] | None = None) -> TickResult:
    """Process everything queued now (ingestion, then association) and return the counts."""
    from companion.runtime.worker import AssociationWorker
    from graphs.association import build_graph_from_services

    settings = services.settings
    ingestor = Ingestor.from_services(services, detector_factory=detector_factory)
    worker = AssociationWorker(
        queue=AssociationQueue(services.redis),
        graph=build_graph_from_services(services),
        ingestor=ingestor.process_submissions,
        batch_size=settings.association_batch_size,
        claim_idle_ms=int(settings.association_claim_idle_seconds * 1000),
        lock_seconds=settings.association_lock_seconds,
        max_retries=settings.association_max_retries,
    )
    return await worker.drain()
