"""Ingestion (design seed 001): raw sessions in, processed by the worker; status, hierarchy, sessions, stats, cleanup.

Paths follow the API's one scheme (``/v1/users/{user_id}/...``) instead of the seed's ``/api/memory/{store}/...``:
the user is the "vector store". ``store_raw`` is ``POST .../raw``; one submission's status is
``GET .../raw/{submission_id}``; the seed's ``processing_status`` (queues, worker, the user's submissions) is
``GET .../processing``; ``session/{id}`` is ``sessions/{id}``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, Strict, StringConstraints, model_validator

from app.deps import AuthorizedUser, FullyClearedUser, ServicesDep, add_rate_limit_headers
from app.errors import NOT_FOUND, RATE_LIMITED, ROUTE_ERRORS
from app.queries import DateTimeQuery
from app.schemas import ID_PATTERN, MAX_MESSAGE_CHARS, TEXT_PATTERN
from app.services import ingestion
from companion.core.errors import InvalidInputError
from companion.runtime.ingest import messages_from_session_text

router = APIRouter(prefix="/v1/users/{user_id}", tags=["ingestion"])

#: At most this many messages, and this many characters in all, per submitted session.
MAX_SESSION_MESSAGES = 2000
MAX_SESSION_CHARS = 1_000_000
MAX_METADATA_KEYS = 20
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
MetadataValue = Annotated[str, StringConstraints(max_length=500)] | Annotated[float, Strict()] | bool | None

SubmissionIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
SessionIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


class TranscriptMessage(BaseModel):
    """One message of a session."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=TEXT_PATTERN)
    ts: Annotated[float, Strict()] | None = Field(  # a JSON number: not true, false or "1700000000"
        default=None, ge=0, le=1e11, allow_inf_nan=False, description="When it was said (epoch seconds)"
    )


class RawSession(BaseModel):
    """A whole session: its messages in order, at least one of them the user's."""

    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="Sending a session again adds to it; a new id is made when omitted",
    )
    messages: list[TranscriptMessage] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SESSION_MESSAGES,
        description=f"At most {MAX_SESSION_MESSAGES} messages and {MAX_SESSION_CHARS} characters in all, "
        "at least one with role 'user' (422 otherwise). Give this or session_data",
    )
    session_data: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SESSION_CHARS,  # (no text pattern: its messages are checked one by one, as `messages` are)
        description="Seed 001's form: the session as text, each message starting with its speaker "
        "('User: ...', 'Assistant: ...'; also Human/Me, AI/Bot/Companion); a line without a label continues the "
        "message before it. Give this or messages",
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=MAX_METADATA_KEYS,
        description=f"Anything the caller wants kept with the submission (at most {MAX_METADATA_KEYS} keys), "
        "e.g. session_type; returned with its status",
    )
    skip_invalid: bool = Field(
        default=False,
        strict=True,  # true or false, not 0, 1 or "yes"
        description="Import the messages within COMPANION_MAX_MESSAGE_CHARS and report the others (else reject all)",
    )

    @model_validator(mode="after")
    def _a_user_message_within_the_size_limit(self) -> RawSession:
        """Messages or session_data (one of them), at least one user message, not more than the size limit."""
        if (self.messages is None) == (self.session_data is None):
            raise ValueError("give the session as messages or as session_data, one of the two")
        if self.messages is None:
            return self  # session_data is read (and its errors reported) when it is submitted
        if not any(message.role == "user" for message in self.messages):
            raise ValueError("no user message: a session needs at least one message with role 'user'")
        if sum(len(message.content) for message in self.messages) > MAX_SESSION_CHARS:
            raise ValueError(f"the messages hold more than {MAX_SESSION_CHARS} characters in all")
        return self


class QueueDepth(BaseModel):
    """A stream's backlog."""

    queued: int = Field(description="Entries on the stream (including pending ones)")
    pending: int = Field(description="Delivered to a worker, not yet acknowledged")
    dead: int = Field(description="Dead letters (failed every retry)")


class SubmissionStatus(BaseModel):
    """Where one submitted session is: queued, processing, done (with the memories made) or failed (with why)."""

    submission_id: str
    user_id: str
    session_id: str
    status: Literal["queued", "processing", "done", "failed"]
    messages: int = Field(description="User messages in the session")
    skipped_lines: list[int] = Field(description="Malformed lines left out (with skip_invalid)")
    queued_at: float
    started_at: float | None = None
    finished_at: float | None = None
    memories: int | None = Field(default=None, description="Memories stored (when done)")
    error: str | None = Field(default=None, description="Why it failed (when failed)")
    queue_position: int | None = Field(default=None, description="Length of the ingestion queue when submitted")
    metadata: dict[str, Any] = Field(default_factory=dict, description="The metadata it was submitted with")
    estimated_processing_seconds: float | None = Field(
        default=None,
        description="On submission: about when it will be done (worker ticks to reach it, and the user's recent "
        "processing times); null when no worker is running",
    )
    estimated_processing_time: str | None = Field(
        default=None, description="The same in words ('under a minute', 'about 3 minutes', or why it waits)"
    )


class WorkerBeat(BaseModel):
    """A worker's last heartbeat."""

    consumer: str
    alive: bool = Field(description="Its heartbeat has not expired (3 intervals + 30 s)")
    last_beat_at: float
    age_seconds: float
    processed: int
    host: str
    pid: int


class ProcessingStatus(BaseModel):
    """The queues, the workers and the user's recent submissions."""

    user_id: str
    ingest_queue: QueueDepth
    association_queue: QueueDepth
    worker_alive: bool = Field(description="At least one worker's heartbeat is fresh (nothing is processed without)")
    workers: list[WorkerBeat]
    submissions: list[SubmissionStatus] = Field(description="Newest first")


class TreeMemory(BaseModel):
    """A discrete memory in the hierarchy."""

    id: str
    kind: str
    text: str
    version: int
    importance: float
    emotion: str
    emotion_intensity: int
    category: str
    created_at: float
    derived: list[TreeMemory] = Field(default_factory=list, description="What association made of this message")


class TreeSummary(BaseModel):
    """A session summary."""

    text: str
    created_at: float
    memory_count: int


class TreeRaw(BaseModel):
    """A stored raw transcript."""

    submission_id: str
    created_at: float
    lines: int


class SessionNode(BaseModel):
    """One session: summary, discrete memories, raw transcripts (each null when not asked for)."""

    session_id: str
    summary: TreeSummary | None = None
    memories: list[TreeMemory] | None = None
    facts: list[TreeMemory] | None = Field(
        default=None, description="Facts the chat model extracted from the session, in the user's voice"
    )
    raw: list[TreeRaw] | None = None


class MemoryHierarchy(BaseModel):
    """Sessions with their summaries, discrete memories and raw transcripts."""

    user_id: str
    memory_type: Literal["all", "discrete", "summary", "raw"]
    sessions: list[SessionNode]


class SessionDetail(BaseModel):
    """One session and its submissions."""

    user_id: str
    session: SessionNode
    submissions: list[SubmissionStatus] = Field(description="Newest first")


class SubmissionCounts(BaseModel):
    """The user's submissions by status."""

    queued: int
    processing: int
    done: int
    failed: int


class IngestionStats(BaseModel):
    """Counts of the user's memory hierarchy."""

    user_id: str
    memories: int
    summaries: int
    raw_transcripts: int
    versions: int
    relations: int
    submissions: SubmissionCounts
    ingested_messages: int = Field(description="Memories made from submitted sessions")
    ingest_queue: QueueDepth


class Cleanup(BaseModel):
    """What a cleanup removed."""

    user_id: str
    removed_raw_transcripts: int
    retention_days: float


@router.post(
    "/raw",
    status_code=202,
    response_model=SubmissionStatus,
    responses=ROUTE_ERRORS | RATE_LIMITED,
)
async def store_raw(
    user_id: AuthorizedUser, body: RawSession, services: ServicesDep, response: Response
) -> SubmissionStatus:
    """Queue a whole session for background processing (seed 001's ``store_raw``); the worker makes the memories.

    A message longer than ``COMPANION_MAX_MESSAGE_CHARS`` rejects the session as a whole (400 naming it by its
    number) unless ``skip_invalid``. Whole transcript files (JSON lines) go through ``companion ingest``.
    """
    messages = (
        [message.model_dump(exclude_none=True) for message in body.messages]
        if body.messages is not None
        else messages_from_session_text(body.session_data or "")
    )
    if len(messages) > MAX_SESSION_MESSAGES:
        raise InvalidInputError(f"session_data holds {len(messages)} messages; at most {MAX_SESSION_MESSAGES}")
    submission = await ingestion.submit(
        services,
        user_id,
        session_id=body.session_id or f"session-{uuid.uuid4().hex[:16]}",
        transcript=ingestion.messages_as_jsonl(messages),
        skip_invalid=body.skip_invalid,
        metadata=body.metadata,
    )
    await add_rate_limit_headers(response, services, user_id)
    return SubmissionStatus.model_validate(submission)


@router.get("/raw/{submission_id}", response_model=SubmissionStatus, responses=ROUTE_ERRORS | NOT_FOUND)
async def submission(
    user_id: AuthorizedUser, submission_id: SubmissionIdPath, services: ServicesDep
) -> SubmissionStatus:
    """One submission's status."""
    return SubmissionStatus.model_validate(await ingestion.status(services, user_id, submission_id))


@router.get("/processing", response_model=ProcessingStatus, responses=ROUTE_ERRORS)
async def processing_status(
    user_id: AuthorizedUser,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many recent submissions")] = 20,
) -> ProcessingStatus:
    """Seed 001's ``processing_status``: queue depths, worker heartbeats, the user's recent submissions."""
    return ProcessingStatus.model_validate(await ingestion.processing(services, user_id, limit=limit))


@router.get("/hierarchy", response_model=MemoryHierarchy, responses=ROUTE_ERRORS)
async def hierarchy(
    user_id: FullyClearedUser,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=ID_PATTERN)] = None,
    memory_type: Annotated[Literal["all", "discrete", "summary", "raw"], Query()] = "all",
    start_date: DateTimeQuery = None,
    end_date: DateTimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Caps each list")] = 50,
) -> MemoryHierarchy:
    """The memory tree: session -> summary -> discrete memories (and what association made of them) -> raw."""
    tree = await ingestion.hierarchy(
        services,
        user_id,
        session_id=session_id,
        memory_type=memory_type,
        start=start_date,
        end=end_date,
        limit=limit,
    )
    return MemoryHierarchy.model_validate(tree)


@router.get("/sessions/{session_id}", response_model=SessionDetail, responses=ROUTE_ERRORS | NOT_FOUND)
async def session_detail(user_id: FullyClearedUser, session_id: SessionIdPath, services: ServicesDep) -> SessionDetail:
    """Everything about one ingested session."""
    return SessionDetail.model_validate(await ingestion.session(services, user_id, session_id))


@router.get("/stats", response_model=IngestionStats, responses=ROUTE_ERRORS)
async def stats(user_id: AuthorizedUser, services: ServicesDep) -> IngestionStats:
    """Counts of the user's hierarchy and submissions."""
    return IngestionStats.model_validate(await ingestion.stats(services, user_id))


@router.post("/cleanup", response_model=Cleanup, responses=ROUTE_ERRORS | RATE_LIMITED)
async def cleanup(
    user_id: AuthorizedUser,
    services: ServicesDep,
    response: Response,
    retention_days: Annotated[
        float | None,
        Query(ge=0, le=36_500, allow_inf_nan=False, description="Default: COMPANION_RAW_RETENTION_DAYS (30)"),
    ] = None,
) -> Cleanup:
    """Remove the user's processed raw transcripts older than the retention period.

    Only those done or failed: queued ones, and any whose status is unknown (Redis lost it), stay.
    """
    days = services.settings.raw_retention_days if retention_days is None else retention_days
    removed = await ingestion.cleanup(services, user_id, retention_days=days)
    await add_rate_limit_headers(response, services, user_id)
    return Cleanup.model_validate(removed)
