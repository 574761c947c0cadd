"""Request and response models of the REST API (field constraints are the first line of validation)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, Strict, field_validator

from memory.records import USER_ID_PATTERN

ID_PATTERN = USER_ID_PATTERN.pattern
MAX_MESSAGE_CHARS = 100_000  # hard ceiling; COMPANION_MAX_MESSAGE_CHARS (default 4000) is checked by the graph
#: Text with at least one non-blank character and no NUL (what ``validate_message`` accepts).
TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
#: A memory tag: lowercase letters, digits and ``-``.
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class ChatRequest(BaseModel):
    """One message from a user."""

    user_id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN, examples=["alice"])
    conversation_id: str = Field(default="default", min_length=1, max_length=128, pattern=ID_PATTERN)
    message: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=TEXT_PATTERN, examples=["I adopted a cat called Miso!"]
    )
    shared: bool = Field(
        default=False,
        strict=True,  # true or false, not 0, 1 or "yes"
        description="The turn happens where others can read the reply (a group or shared channel): memories "
        "classified above 'chronological' are not used, and how many relevant ones were held back is returned "
        "as withheld_memories (design seed 002)",
    )

    @field_validator("message", mode="before")
    @classmethod
    def _readable_text_errors(cls, value: object) -> object:
        """Say what is wrong in words before the schema's pattern would (blank text, NUL characters)."""
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("message is empty")
            if "\x00" in value:
                raise ValueError("message contains a NUL character")
        return value


class RecalledMemory(BaseModel):
    """A memory the turn used."""

    id: str
    text: str
    score: float
    similarity: float


class InjectionInfo(BaseModel):
    """The injection guard's verdict on the message."""

    flagged: bool
    kind: Literal["role_manipulation", "system_query", "injection_attempt"] | None
    score: float = Field(ge=0, le=1, description="max(rule score, classifier score); flagged at >= 0.7")
    severity: Literal["none", "medium", "high"]
    escalation_level: int | None = Field(default=None, description="1 warning, 2 cooldown, 3 block (when counted)")
    action: Literal["consequence", "deflect", "none"] = Field(
        default="none",
        description="consequence (a rule or a high-precision classifier score: an offence was counted), deflect "
        "(uncertain: a light deflection, nothing counted, the message stored) or none",
    )
    second_opinion: Literal["not_configured", "not_needed", "consulted", "failed"] = Field(
        default="not_configured",
        description="The chat model's second opinion: not_configured (offline: the local verdict alone), not_needed "
        "(local score certain), consulted (score combines both) or failed (the local verdict stands)",
    )


class SensitivityInfo(BaseModel):
    """The sensitivity classification of the message (design seed 002), stored on its memory."""

    level: Literal["general", "chronological", "confidential", "secret", "ultrasecret"]
    confidence: float = Field(ge=0.0, le=1.0)
    security_level: int = Field(ge=1, le=4, description="The seed's security level: 1 general/chronological ... 4")
    tags: list[str]
    sentiment: str
    source: str = Field(description="'local' (lexicon) or 'model' (the chat model, never below the lexicon)")
    reasons: list[str] = Field(
        default_factory=list, description="Why: the lexicon's matches, or the start of the chat model's reasoning"
    )


class PAD(BaseModel):
    """A point in pleasure-arousal-dominance space, each in [-1, 1]."""

    pleasure: float = Field(ge=-1, le=1)
    arousal: float = Field(ge=-1, le=1)
    dominance: float = Field(ge=-1, le=1)


class Mood(PAD):
    """A PAD point with its octant's label (exuberant, bored, relaxed, ...)."""

    label: str


class TurnMoodChange(BaseModel):
    """Why the mood moved on this message (the appraisal rule that fired)."""

    rule: str
    cause: str
    delta: PAD


class TurnMood(Mood):
    """The companion's mood toward this user after the message."""

    change: TurnMoodChange | None = Field(description="null when the message did not move the mood")


class CrisisInfo(BaseModel):
    """Whether the message signals a crisis (self-harm, danger from others)."""

    flagged: bool
    kind: str | None
    score: float
    source: str


class DetectionInfo(BaseModel):
    """What the companion perceived in the message."""

    emotion: str = Field(description="The dominant emotion ('neutral' when none stands out)")
    intensity: int = Field(ge=0, le=100)
    emotions: dict[str, int] = Field(description="Every emotion's intensity, 0-100")
    importance: int
    importance_level: str
    category: str
    is_emotional_signal: bool
    crisis: CrisisInfo


class ChatResponse(BaseModel):
    """The companion's answer and what it recalled."""

    reply: str
    responder: str = Field(description="'offline' or the chat model's name")
    memory_id: str | None = Field(description="The stored message, or null when nothing was stored")
    context_source: str = Field(description="'redis', 'chroma' (rebuilt) or 'empty'")
    memories: list[RecalledMemory]
    timings_ms: dict[str, float]
    injection: InjectionInfo | None = Field(
        default=None, description="Set when the guard ran; a flagged message is answered by the guard, not stored"
    )
    sensitivity: SensitivityInfo | None = Field(
        default=None, description="The message's sensitivity classification (null when nothing was stored)"
    )
    withheld_memories: int = Field(
        default=0,
        description="Relevant memories held back because they are too sensitive for a shared turn (never their text)",
    )
    short_term: Literal["stored", "deferred"] = Field(
        default="stored",
        description="'deferred': Redis failed after the message was stored in Chroma; the recent context and the "
        "association queue catch up from Chroma later",
    )
    mood: TurnMood | None = Field(default=None, description="The mood after this message (as `chat --json`)")
    detection: DetectionInfo | None = Field(default=None, description="What was perceived in the message")


class Memory(BaseModel):
    """One long-term memory."""

    id: str
    user_id: str
    text: str
    kind: Literal["episodic", "semantic"]
    importance: float
    category: str
    emotion: str
    emotion_intensity: int
    created_at: float
    last_accessed: float
    version: int
    conversation_id: str
    reply: str
    sensitivity: Literal["general", "chronological", "confidential", "secret", "ultrasecret"] = Field(
        default="general", description="Sensitivity classification (design seed 002)"
    )
    sensitivity_confidence: float = Field(default=0.0, description="Its confidence, 0-1 (0: never classified)")
    tags: list[str] = Field(default_factory=list, description="Topic tags")
    sentiment: str = Field(default="neutral", description="positive, negative, neutral or mixed")
    utterance: str = Field(
        default="", description="statement, question, request or small_talk (only statements are recalled as facts)"
    )
    superseded_by: str = Field(default="", description="The newer memory that updated this one ('' while current)")
    supersedes: str = Field(default="", description="The older memory this one updated, if any")


class MemorySearchHit(BaseModel):
    """A memory selected by MMR for a query."""

    memory: Memory
    score: float
    similarity: float


class MemoryPage(BaseModel):
    """A page of memories, newest first, or the MMR selection for ``q``."""

    user_id: str
    total: int = Field(description="How many memories the user has (when listing: that pass the filters)")
    query: str | None
    memories: list[Memory]
    hits: list[MemorySearchHit] = Field(description="With `q`: the selected memories with their scores")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class Deleted(BaseModel):
    """What a delete removed."""

    deleted: bool


class UserErasure(BaseModel):
    """How much of each kind of data erasing a user removed."""

    user_id: str
    memories: int
    redis_keys: int
    rate_limit_keys: int
    queued_messages: int = Field(
        description="Entries removed from the queues: association and ingestion (with their dead letters), outbox"
    )
    checkpoint_threads: int
    api_keys: int
    security_incidents: int
    link_records: int = Field(description="Versions, relations, association outcomes, raw transcripts, summaries")
    personality_states: int = Field(description="The companion's personality state with this user, per persona")
    ingest_submissions: int = Field(description="Status records of ingested transcripts")
    archived_memories: int = Field(description="Faded memories in the archive")
    reflection_log: int = Field(description="Logged reflection decisions (consolidations, conflicts, archiving)")


class UserExport(BaseModel):
    """Everything stored about one user."""

    user_id: str
    exported_at: float
    memories: list[Memory]
    short_term: dict[str, Any] = Field(description="last_active and the recent turns of each conversation")
    queued_messages: list[dict[str, str]] = Field(description="Entries still waiting on the association queue")
    checkpoint_threads: list[dict[str, Any]] = Field(description="LangGraph threads with their latest state")
    api_keys: list[dict[str, Any]] = Field(description="The user's API keys (ids and names, never secrets)")
    security_incidents: list[dict[str, Any]] = Field(description="Injection attempts detected in their messages")
    profile: dict[str, Any] = Field(default_factory=dict, description="How to address them, language, consent")
    interactions: list[dict[str, Any]] = Field(
        default_factory=list, description="The per-turn interaction log, newest first (no message text)"
    )
    versions: list[dict[str, Any]] = Field(description="Every version of every memory, with the message that caused it")
    relations: list[dict[str, Any]] = Field(description="Relations between the user's memories (each direction)")
    personality: list[dict[str, Any]] = Field(description="The companion's personality state with this user")


class Incident(BaseModel):
    """A detected injection attempt."""

    id: str
    user_id: str
    kind: str
    score: float
    severity: str
    indicators: list[str]
    offences_7d: int
    escalation_level: int
    excerpt: str = Field(description="The first 300 characters of the message")
    detected_at: float
    review: Literal["", "false_positive"] = Field(
        default="", description="An admin's review: false_positive (its offence was removed) or empty"
    )


class IncidentList(BaseModel):
    """Incidents, newest first."""

    incidents: list[Incident]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class IncidentReview(BaseModel):
    """An incident marked a false positive, and the user's offences left in the 7-day window."""

    incident: Incident
    offences_7d_now: int
    mood_restored: bool = Field(
        default=False, description="Whether the mood penalty the message cost was taken back (high severity only)"
    )


class CrisisIncident(BaseModel):
    """A message perception flagged as a crisis (its text is never logged: read the memory with clearance)."""

    id: str
    user_id: str
    conversation_id: str
    memory_id: str
    kind: Literal["self_harm", "abuse"]
    score: float
    source: str = Field(description="rule or model")
    detected_at: float


class CrisisList(BaseModel):
    """Crisis messages, newest first."""

    crises: list[CrisisIncident]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class UserList(BaseModel):
    """Users with long-term memories."""

    users: list[str]
    total: int
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class MoodChange(BaseModel):
    """One recorded change of the mood and why it happened."""

    at: float
    rule: str = Field(description="The OCC rule, empathy, relaxation or drift that moved the mood")
    cause: str
    delta: PAD
    after: PAD


class Personality(BaseModel):
    """The companion's personality with one user, as of now."""

    user: str
    persona: dict[str, Any] = Field(description="Name, style, backstory and Big Five traits")
    source: str = Field(description="Where the state came from: redis, chroma, or new (never talked)")
    as_of: float
    interactions: int
    mood: Mood
    baseline: Mood = Field(description="Where the mood rests, derived from the traits and drifting slowly")
    recent_changes: list[MoodChange] = Field(description="Newest first")
    needs: dict[str, float] = Field(description="social, intellectual, creative, rest, validation in [0, 1]")
    urgent_needs: list[str]
    need_trigger: float
    quirks: list[dict[str, Any]] = Field(
        description="Active quirks with their category (speech_pattern, behavior, preference), strength and confidence"
    )
    satisfaction_patterns: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Per need, how many interactions of each kind (compliment, question, or the message's category) "
        "satisfied it",
    )
    pending_events: list[str] = Field(description="What time alone did since the last message (not saved)")


class Outreach(BaseModel):
    """One proactive message for the user, from the outbox (``companion proactive``), with why it was sent."""

    outreach_id: str
    text: str
    trigger: str = Field(description="need_urgency, timing_optimal or interaction_pattern")
    score: float = Field(description="The final score (0-1) that crossed the threshold")
    reasons: dict[str, Any] = Field(description="Every score component and factor")
    persona: str
    created_at: float = Field(description="When it was sent to the outbox (epoch seconds)")


class OutreachPage(BaseModel):
    """The user's outreach not yet acknowledged through the API (last 30 days), oldest first."""

    user_id: str
    total: int
    outreach: list[Outreach]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class OutreachAck(BaseModel):
    """An acknowledged delivery."""

    outreach_id: str
    delivered: bool
    delivered_at: float


QUIET_HOURS_PATTERN = r"^([01]?[0-9]|2[0-3])-([01]?[0-9]|2[0-3])$"


class OutreachPreferences(BaseModel):
    """A user's outreach preferences: when the companion may reach out, and whether at all."""

    timezone: str = Field(description="IANA time zone (quiet hours and the nightly jobs use the user's local time)")
    quiet_hours: str = Field(description="Local hours with no outreach, START-END (default 22-08)")
    opt_out: bool = Field(description="true: the companion never reaches out to this user")


class OutreachPreferencesUpdate(BaseModel):
    """The preferences to change; those left out stay as they are."""

    model_config = {"extra": "forbid"}

    timezone: str | None = Field(default=None, min_length=1, max_length=64, examples=["Europe/Paris"])
    quiet_hours: str | None = Field(default=None, pattern=QUIET_HOURS_PATTERN, examples=["22-8"])
    opt_out: Annotated[bool, Strict()] | None = None


class ReflectRequest(BaseModel):
    """Which reflection tasks to run now (default: the nightly ones) and on which clock."""

    model_config = {"extra": "forbid"}

    tasks: list[Literal["consolidate", "conflicts", "insights", "personality", "forget"]] | None = Field(
        default=None, min_length=1, max_length=5, description="Default: consolidate, conflicts, insights, personality"
    )
    now: Annotated[float, Strict()] | None = Field(
        default=None, ge=0, le=1e11, allow_inf_nan=False, description="The run's clock (epoch seconds); default now"
    )


class Insight(BaseModel):
    """One insight reflection stored: a memory of the user's, worded as the companion's own observation."""

    id: str = Field(description="The memory's id (fixed per user, local day and kind)")
    kind: Literal["topics", "mood", "changes"]
    text: str
    sensitivity: Literal["general", "chronological", "confidential", "secret", "ultrasecret"] = Field(
        description="At least that of the messages it draws on"
    )


class InsightsReport(BaseModel):
    """What reflection noticed about the user over their last 7 local days, and the insights it stored."""

    day: str = Field(description="The user's local day of the run (ISO date): the last day of the period")
    timezone: str = Field(description="The user's time zone (their days are local days)")
    findings: dict[str, Any] = Field(
        description=(
            "period, messages, days_with_messages, excluded (sealed and crisis messages, never read: counts only), "
            "recurring_topics (topic, kind, days, mentions), mood (direction, slope_per_day, change, mean, days), "
            "changes (new_topics, gone_topics, updated_facts)"
        )
    )
    insights: list[Insight] = Field(description="Empty when the week held fewer than 5 messages")
    superseded: list[str] = Field(description="Earlier insights of the same kinds, now marked superseded by these")
    report: str = Field(description="The findings for a person to read")
    reporter: Literal["local", "llm"] = Field(description="llm: worded by the chat model; local: one finding a line")


class ReflectionReport(BaseModel):
    """What one reflection run did."""

    user_id: str
    now: float
    tasks: list[str]
    consolidations: list[dict[str, Any]] = Field(default_factory=list)
    conflicts: list[dict[str, Any]] = Field(default_factory=list)
    clarifications: dict[str, Any] = Field(default_factory=dict)
    insights: InsightsReport | None = Field(default=None, description="When the run had the insights task")
    forgetting: dict[str, Any] = Field(default_factory=dict)
    personality: dict[str, Any] = Field(default_factory=dict)


class InsightReports(BaseModel):
    """The insight reports of the days reflection ran for the user, newest first."""

    user_id: str
    reports: list[InsightsReport]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class ConflictList(BaseModel):
    """Conflicts reflection found among the user's memories, how each was resolved, and the questions waiting."""

    user_id: str
    conflicts: list[dict[str, Any]]
    questions: list[dict[str, Any]] = Field(description="Clarification questions for the user's next conversation")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class ConflictUndone(BaseModel):
    """A conflict resolution reverted: the lowered memory has its importance back."""

    conflict_id: str
    status: Literal["reverted"]
    restored_importance: int | None


class ArchivedMemory(BaseModel):
    """A memory the forgetting pass archived: out of recall until restored."""

    id: str
    text: str
    created_at: float
    retention: float


class ArchiveList(BaseModel):
    """The user's archived memories."""

    user_id: str
    archived: list[ArchivedMemory]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class Restored(BaseModel):
    """An archived memory brought back into recall."""

    memory_id: str
    text: str
    status: Literal["restored"]


class ProactiveRequest(BaseModel):
    """A proactive pass for one user now: scored and explained; sent only with ``dry_run: false`` (admin keys)."""

    model_config = {"extra": "forbid"}

    dry_run: Annotated[bool, Strict()] = True
    now: Annotated[float, Strict()] | None = Field(default=None, ge=0, le=1e11, allow_inf_nan=False)


class ProactiveDecision(BaseModel):
    """The proactive engine's decision for the user, with its score and reasons."""

    user_id: str
    dry_run: bool
    decision: dict[str, Any]


class SystemStats(BaseModel):
    """The whole service at a glance (an admin key of a tenant: its users only, queues excepted)."""

    users: int = Field(description="Users with long-term memories")
    memories: int = Field(description="Their memories in all")
    active_users_24h: int = Field(description="Users who wrote in the last 24 hours")
    queues: dict[str, dict[str, int]] = Field(description="Association and ingestion: queued, pending, dead")
    workers_alive: int
    incidents: int = Field(description="Injection incidents kept (the last 1000)")
    crises: dict[str, int] = Field(description="Crisis messages ever seen, by kind")


class CleanupRequest(BaseModel):
    """How old a processed raw transcript must be to go (default: COMPANION_RAW_RETENTION_DAYS)."""

    model_config = {"extra": "forbid"}

    retention_days: Annotated[float, Strict()] | None = Field(default=None, ge=0, le=36_500, allow_inf_nan=False)


class SystemCleanup(BaseModel):
    """What an admin-wide cleanup removed."""

    removed_raw_transcripts: int
    retention_days: float


class SessionView(BaseModel):
    """A user's current conversation: the recent turns the companion answers from, and when they last wrote."""

    user_id: str
    conversation_id: str
    source: str = Field(description="'redis', 'chroma' (rebuilt) or 'empty'")
    last_active: float | None
    turns: list[dict[str, Any]] = Field(description="Oldest first: user message, reply, time")


class Interaction(BaseModel):
    """One chat turn as seed 003's analytics see it: what the turn did, never what was said."""

    turn_id: str
    conversation_id: str
    at: float = Field(description="When the message arrived (epoch seconds)")
    response_ms: float = Field(description="From the message's arrival to the reply stored")
    responder: str = Field(description="'offline' or the chat model's name")
    pad_before: dict[str, float] = Field(description="The companion's mood before the turn (PAD)")
    pad_after: dict[str, float] = Field(description="... and after it")
    mood_rule: str = Field(description="The appraisal rule that moved the mood ('' when it did not move)")
    emotion: str
    intensity: int
    memories_used: int
    memories_withheld: int = Field(description="Relevant memories above the context's sensitivity ceiling")
    sensitivity: str = Field(description="The message's sensitivity level")
    injection: str = Field(description="The guard's action: 'none', 'deflect', ...")
    crisis: str = Field(description="The crisis kind care answered ('' for none)")
    proactive: bool = Field(
        description="Seed 003's flag for the companion's own outreaches: false for chat turns (they are in the outbox)"
    )


class Profile(BaseModel):
    """How the companion addresses the user, the language they prefer replies in, and their analytics consent."""

    user_id: str
    display_name: str = Field(description="How the companion addresses them ('' until they say)")
    language: str = Field(description="The language replies are written in, a code such as en, de or pt-BR")
    analytics_consent: bool = Field(description="Turns join the interaction log (withdrawing it deletes the log)")


class ProfileUpdate(BaseModel):
    """Fields to change; the others stay."""

    model_config = {"extra": "forbid"}

    display_name: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    analytics_consent: Annotated[bool, Strict()] | None = None


class InteractionLog(BaseModel):
    """A user's most recent interactions, newest first (the last 1,000 are kept)."""

    user_id: str
    interactions: list[Interaction]


class MemoryCreate(BaseModel):
    """A memory to store directly: perceived and classified as a chat message is, without a reply."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=TEXT_PATTERN)
    tags: list[Annotated[str, Field(min_length=1, max_length=40, pattern=TAG_PATTERN)]] = Field(
        default_factory=list, max_length=20, description="Tags added to those the classifier gives"
    )
    created_at: Annotated[float, Strict()] | None = Field(
        default=None, ge=0, le=1e11, allow_inf_nan=False, description="When it was said (epoch seconds); default now"
    )


class MemoryEdit(BaseModel):
    """A memory's new text: its next version (the old one stays in the version history)."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=TEXT_PATTERN)


class ClassifyRequest(BaseModel):
    """A text to perceive, not stored."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=TEXT_PATTERN)


class Classification(BaseModel):
    """What the companion perceives in a text, as ``companion detect --json`` prints it."""

    text: str
    emotion: dict[str, Any] = Field(description="dominant, intensity, is_emotional_signal, intensities, source")
    importance: dict[str, Any] = Field(description="value (100-900), level, source")
    category: dict[str, Any] = Field(description="value, source")
    crisis: CrisisInfo
    injection: dict[str, Any] = Field(description="flagged, kind, score, severity, indicators, ...")
    sensitivity: dict[str, Any] = Field(description="level, confidence, security_level, tags, sentiment, source")
    utterance: str = Field(description="statement, question, request or small_talk")
    timings_ms: dict[str, float]
