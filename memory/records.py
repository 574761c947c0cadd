"""Record models shared by the stores: memories, conversation turns, and the validation of ids and messages."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, cast

import orjson
from typing_extensions import TypedDict

from companion.core.errors import InvalidInputError
from memory.cipher import is_sealed_level
from memory.sensitivity import Sensitivity, decode_tags, encode_tags, parse_sensitivity

#: User ids are opaque to the project but must be safe in keys and logs: letters, digits and ``_ . : @ -``,
#: starting with a letter or digit, at most 128 characters. Platform ids (Discord, Telegram) fit.
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
CONVERSATION_ID_PATTERN = USER_ID_PATTERN
#: Tenants (design seed 002 multi-tenant isolation): lowercase letters, digits, ``_`` and ``-``, at most 64.
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The tenant of every user created before tenants existed, and of keys made without ``--tenant``.
DEFAULT_TENANT = "default"

#: Importance is on the design seed's integer scale: 100 minimal, 300 low, 500 medium, 700 high, 900 critical
#: (``tools.detection.ImportanceLevel``). A memory no scorer has looked at is medium. Retrieval divides by
#: ``IMPORTANCE_SCALE`` to weigh it in [0, 1].
DEFAULT_IMPORTANCE = 500
MIN_IMPORTANCE, MAX_IMPORTANCE = 100, 900
IMPORTANCE_SCALE = 1000.0
#: Chroma metadata key of a message queued for association and not yet associated (``MemoryRecord.assoc_pending``).
ASSOC_PENDING_KEY = "assoc_pending"
#: The metadata keys a memory keeps as keys of their own in Chroma: those its queries filter on (``where``), those
#: written alone (``superseded_by``, the pending mark: Chroma merges a partial update into the stored metadata),
#: and the sensitivity, so a store-side filter on it stays possible. The others travel together as one JSON value
#: under ``DETAILS_KEY``: Chroma stores and reads metadata one row per key, and recall's query and fetch by id of
#: ~25 records each read them all (24 keys -> 10: recall's search 5 ms faster at 10,000 memories; bench/README.md).
OWN_KEYS = frozenset(
    {
        "user_id",
        "kind",
        "created_at",
        "conversation_id",
        "category",
        "sensitivity",
        "content_hash",
        "appraisal",
        "superseded_by",
        ASSOC_PENDING_KEY,
    }
)
DETAILS_KEY = "details"


def importance_from_metadata(value: object) -> int:
    """Stored importance as an int in 100-900; values stored on the old 0-1 scale (<= 1) are rescaled."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_IMPORTANCE
    if number <= 1.0:
        number *= IMPORTANCE_SCALE
    return int(min(MAX_IMPORTANCE, max(MIN_IMPORTANCE, round(number))))


class MemoryKind(StrEnum):
    """Episodic memories are things that happened or were said; semantic ones are distilled facts."""

    EPISODIC = "episodic"
    SEMANTIC = "semantic"


def validate_user_id(user_id: str) -> str:
    """Return ``user_id`` if it is well formed, else raise ``InvalidInputError`` naming the problem."""
    if not isinstance(user_id, str) or not USER_ID_PATTERN.fullmatch(user_id):
        shown = repr(user_id) if len(str(user_id)) <= 40 else repr(str(user_id)[:40]) + "..."
        raise InvalidInputError(
            f"invalid user id {shown}: use 1-128 letters, digits or _ . : @ - (starting with a letter or digit)"
        )
    return user_id


def validate_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is well formed, else raise ``InvalidInputError`` naming the problem."""
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidInputError(
            f"invalid tenant {str(tenant)[:40]!r}: use 1-64 lowercase letters, digits, _ or -"
            " (starting with a letter or digit)"
        )
    return tenant


def validate_conversation_id(conversation_id: str) -> str:
    """Return ``conversation_id`` if it is well formed, else raise ``InvalidInputError``."""
    if not isinstance(conversation_id, str) or not CONVERSATION_ID_PATTERN.fullmatch(conversation_id):
        raise InvalidInputError(f"invalid conversation id {conversation_id!r}: use 1-128 letters, digits or _ . : @ -")
    return conversation_id


#: Terminal escape sequences (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL|ST``, two-character ``ESC x``) and the
#: other C0/C1 control characters except tab and newlines: they carry nothing a companion should read or store,
#: and printed back by the CLI they would drive the user's terminal.
_TERMINAL_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)


def _has_visible_text(text: str) -> bool:
    """True when some character is neither white space nor an invisible format character (zero-width space...)."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def validate_message(message: str, *, max_chars: int) -> str:
    """Clean and check a user message: no terminal control codes, something visible, within ``max_chars``, no NUL.

    Escape sequences and control characters are removed (the rest of the text is kept as written, zero-width
    joiners in emoji included); a message with nothing visible left (only zero-width characters, only ANSI codes)
    is rejected like an empty one.
    """
    if not isinstance(message, str):
        raise InvalidInputError("message must be text")
    if "\x00" in message:
        raise InvalidInputError("message contains a NUL character")
    text = _TERMINAL_CONTROL.sub("", message).strip()
    if not text:
        raise InvalidInputError("message is empty")
    if not _has_visible_text(text):
        raise InvalidInputError("message has no visible text (only invisible or formatting characters)")
    if len(text) > max_chars:
        raise InvalidInputError(f"message is {len(text)} characters long; the limit is {max_chars}")
    return text


#: Mentions of a bot or a person (``@name`` after a space or at the start, Discord's ``<@123>``), anywhere: the group
#: implicator's copy of a message addressed to the bot still holds the mention, the chat turn's does not (Telegram
#: removes the bot's @username wherever it is); both are the same content. An e-mail address is not a mention.
_MENTIONS = re.compile(r"<@!?&?\d+>|(?<!\S)@[\w.]+")
_CONTENT_SPACES = re.compile(r"\s+")


def normalised_content(text: str) -> str:
    """What two copies of one message share: mentions gone, case-folded, white space collapsed, no end dots."""
    said = _MENTIONS.sub(" ", text)
    said = _CONTENT_SPACES.sub(" ", unicodedata.normalize("NFKC", said)).strip().casefold()
    return said.lstrip(",: ").rstrip(" .!")


def content_hash(text: str) -> str:
    """Hash of ``normalised_content(text)`` (sha256, 32 hex digits): equal for copies of one message."""
    return hashlib.sha256(normalised_content(text).encode("utf-8")).hexdigest()[:32]


def new_id() -> str:
    """A new random id for a memory or a turn."""
    return uuid.uuid4().hex


class MemoryRecordData(TypedDict):
    """:meth:`MemoryRecord.to_dict`: a memory as JSON and the association state carry it."""

    id: str
    user_id: str
    text: str
    kind: str
    importance: int
    category: str
    emotion: str
    emotion_intensity: int
    created_at: float
    last_accessed: float
    version: int
    conversation_id: str
    reply: str
    retention: float
    recall_count: int
    consolidated_into: str
    sensitivity: str
    sensitivity_confidence: float
    tags: list[str]
    sentiment: str
    source_ref: str
    appraisal: str
    assoc_pending: bool
    utterance: str
    superseded_by: str
    supersedes: str


#: ``MemoryRecord.source_ref`` of a fact extracted from an ingested session rather than said in those words.
EXTRACTED_REF = "extracted"


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One long-term memory as stored in Chroma (the text is the document, the rest is metadata)."""

    id: str
    user_id: str
    text: str
    kind: MemoryKind = MemoryKind.EPISODIC
    importance: int = DEFAULT_IMPORTANCE  # 100-900
    category: str = ""
    emotion: str = ""
    emotion_intensity: int = 0
    created_at: float = field(default_factory=time.time)
    last_accessed: float = 0.0
    version: int = 1
    conversation_id: str = ""
    #: The companion's reply to this message, kept so the short-term context can be rebuilt from Chroma.
    reply: str = ""
    #: Forgetting curve (``tools/reflection.py``): retrieval weight in (0, 1], lowered for old, unimportant,
    #: never-recalled memories by the 04:00 pass; recall strengthens it again.
    retention: float = 1.0
    #: Days on which the memory was recalled by a turn (folded in by the forgetting pass).
    recall_count: int = 0
    #: Id of the semantic memory this episodic memory was consolidated into ("" if none).
    consolidated_into: str = ""
    #: Sensitivity classification (design seed 002, ``memory.sensitivity``), its confidence (0 when never
    #: classified), topic tags and sentiment (``tools.sensitivity``).
    sensitivity: Sensitivity = Sensitivity.GENERAL
    sensitivity_confidence: float = 0.0
    tags: tuple[str, ...] = ()
    sentiment: str = "neutral"
    #: The id the message had where it came from (an imported transcript line's ``ref``), "" if none;
    #: ``EXTRACTED_REF`` for a fact a chat model extracted from an ingested session (no message of its own).
    source_ref: str = ""
    #: The inputs of the personality appraisal this message caused (``companion.core.personality.journal``), as JSON;
    #: "" for memories that did not come from an appraised chat turn. Lets the state be rebuilt from Chroma.
    appraisal: str = ""
    #: Queued for association and not yet associated (``ASSOC_PENDING_KEY``): set by the writers that queue a
    #: message (chat turns, ingestion), cleared by association only, so accepted work that Redis lost is found
    #: again in Chroma and queued again (``companion.runtime.worker.requeue_pending``).
    assoc_pending: bool = False
    #: Utterance type (``tools.utterance``): "statement", "question", "request" or "small_talk"; "" for memories
    #: stored before labels existed (readers classify their text then). Only statements are recalled as facts.
    utterance: str = ""
    #: Id of the newer memory that updated this one (same subject, changed value), "" while it is current; and
    #: the id of the memory this one updated (``tools.updates``).
    superseded_by: str = ""
    supersedes: str = ""

    def to_metadata(self) -> dict[str, str | int | float]:
        """Chroma metadata (everything but id and text): ``OWN_KEYS`` as keys, the rest as JSON under ``DETAILS_KEY``.

        Chroma accepts no ``None`` values.

        The pending mark is written only when set: Chroma merges metadata on update and upsert, so a rewrite of a
        record read before association cleared its mark cannot clear it, and only ``LongTermStore.clear_pending``
        does.
        """
        metadata: dict[str, str | int | float] = {
            "user_id": self.user_id,
            "kind": self.kind.value,
            "importance": int(self.importance),
            "category": self.category,
            "emotion": self.emotion,
            "emotion_intensity": int(self.emotion_intensity),
            "created_at": float(self.created_at),
            "last_accessed": float(self.last_accessed or self.created_at),
            "version": int(self.version),
            "conversation_id": self.conversation_id,
            "reply": self.reply,
            "retention": float(self.retention),
            "recall_count": int(self.recall_count),
            "consolidated_into": self.consolidated_into,
            "sensitivity": Sensitivity(self.sensitivity).value,
            "sensitivity_confidence": float(self.sensitivity_confidence),
            "tags": encode_tags(self.tags),
            "sentiment": self.sentiment,
            "source_ref": self.source_ref,
            "appraisal": self.appraisal,
            "utterance": self.utterance,
            # Derived from the text on every write (never read back): what duplicate checks look up. A sealed
            # memory's text is encrypted in Chroma; a hash of it in plain metadata would let a short secret (a PIN)
            # be guessed, so it has none (and is never found as a duplicate).
            "content_hash": "" if is_sealed_level(self.sensitivity) else content_hash(self.text),
            "superseded_by": self.superseded_by,
            "supersedes": self.supersedes,
        }
        stored: dict[str, str | int | float] = {key: value for key, value in metadata.items() if key in OWN_KEYS}
        stored[DETAILS_KEY] = orjson.dumps({k: v for k, v in metadata.items() if k not in OWN_KEYS}).decode()
        if self.assoc_pending:
            stored[ASSOC_PENDING_KEY] = True
        return stored

    @classmethod
    def from_chroma(cls, memory_id: str, document: str | None, metadata: dict[str, Any] | None) -> MemoryRecord:
        """Rebuild a record from what Chroma returns: the packed form (``to_metadata``) or one key per field.

        A record stored one key per field and rewritten since has both; its ``DETAILS_KEY`` is the newer.
        """
        meta = dict(metadata or {})
        details = meta.pop(DETAILS_KEY, None)
        if isinstance(details, str) and details:
            meta.update(orjson.loads(details))
        created = float(meta.get("created_at", 0.0))
        return cls(
            id=memory_id,
            user_id=str(meta.get("user_id", "")),
            text=document or "",
            kind=MemoryKind(meta.get("kind", MemoryKind.EPISODIC.value)),
            importance=importance_from_metadata(meta.get("importance", DEFAULT_IMPORTANCE)),
            category=str(meta.get("category", "")),
            emotion=str(meta.get("emotion", "")),
            emotion_intensity=int(meta.get("emotion_intensity", 0)),
            created_at=created,
            last_accessed=float(meta.get("last_accessed", created)),
            version=int(meta.get("version", 1)),
            conversation_id=str(meta.get("conversation_id", "")),
            reply=str(meta.get("reply", "")),
            retention=float(meta.get("retention", 1.0)),
            recall_count=int(meta.get("recall_count", 0)),
            consolidated_into=str(meta.get("consolidated_into", "")),
            sensitivity=parse_sensitivity(meta.get("sensitivity")),
            sensitivity_confidence=float(meta.get("sensitivity_confidence", 0.0)),
            tags=decode_tags(meta.get("tags")),
            sentiment=str(meta.get("sentiment", "neutral")),
            source_ref=str(meta.get("source_ref", "")),
            appraisal=str(meta.get("appraisal", "")),
            assoc_pending=meta.get(ASSOC_PENDING_KEY) is True,
            utterance=str(meta.get("utterance", "")),
            superseded_by=str(meta.get("superseded_by", "")),
            supersedes=str(meta.get("supersedes", "")),
        )

    def to_dict(self) -> MemoryRecordData:
        """A JSON-able dict."""
        # A shallow copy: every field is a plain value (``dataclasses.asdict`` deep-copies them one by one, which
        # cost ~0.1 ms a record, 5 ms a recall of 50 candidates).
        data: dict[str, Any] = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["kind"] = self.kind.value
        data["sensitivity"] = Sensitivity(self.sensitivity).value
        data["tags"] = list(self.tags)
        return cast(MemoryRecordData, data)  # every field, the enums as their values


_RECORD_FIELDS = tuple(f.name for f in fields(MemoryRecord))


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the short-term context."""

    role: str  # "user" or "assistant"
    content: str
    ts: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"role": self.role, "content": self.content, "ts": self.ts}
