"""Versions, relations, association outcomes, raw transcripts and session summaries, in Chroma, per user.

What background association and ingestion write next to the memories lives in Chroma (the source of truth), in
one *links* collection per user.

Per-user isolation is ``memory/long_term.py``'s, in the same one place: the only way to reach a collection is
``UserCollections.get(user_id)``, which derives it from the id (namespace ``<ns>-links``);
every public method takes the user id, and every record read back is checked to carry that user id.

Records (``type`` metadata, ids deterministic so writing the same thing twice leaves one record):

- ``version``   ``version:<memory>:<n>``      one version of a memory: its text, the message that caused it
- ``relation``  ``relation:<from>:<to>``      one direction of a two-way relation: strength 0-100 and reason
- ``outcome``   ``outcome:<message>``         what association decided for one message (its plan, as JSON);
                                              re-processing a message re-applies this plan instead of deciding again
- ``raw``       ``raw:<submission>``          an ingested transcript (JSON lines), removed after the retention period
- ``summary``   ``summary:<session>``         a session summary with the ids of the session's memories

The collection holds no searchable vectors: each record carries the same one-dimensional placeholder embedding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where

from memory.cipher import TextCipher, open_document, seal_document
from memory.long_term import UserCollections

logger = logging.getLogger(__name__)

_PLACEHOLDER = np.ones((1, 1), dtype=np.float32)


def version_id(memory_id: str, version: int) -> str:
    """Id of one version record."""
    return f"version:{memory_id}:{version}"


def relation_id(from_id: str, to_id: str) -> str:
    """Id of one direction of a relation."""
    return f"relation:{from_id}:{to_id}"


def outcome_id(message_id: str) -> str:
    """Id of the association outcome of one message."""
    return f"outcome:{message_id}"


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a memory, with the message that caused it."""

    memory_id: str
    version: int
    text: str
    caused_by: str  # id of the message (episodic memory) that produced this version
    cause_text: str  # that message's text, kept here so the history reads on its own
    created_at: float


@dataclass(frozen=True, slots=True)
class Relation:
    """One direction of a two-way relation between two memories of a user."""

    from_id: str
    to_id: str
    strength: float  # 0-100
    reason: str
    caused_by: str
    created_at: float


@dataclass(frozen=True, slots=True)
class RawTranscript:
    """An ingested session transcript awaiting (or past) processing."""

    submission_id: str
    session_id: str
    lines: list[dict[str, Any]]
    created_at: float


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A session's summary with pointers to the memories extracted from it."""

    session_id: str
    text: str
    memory_ids: list[str]
    submission_id: str
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)


class LinkStore:
    """Versions, relations, association outcomes, raw transcripts and session summaries, per user, in Chroma."""

    def __init__(self, client: ClientAPI, *, cipher: TextCipher | None = None, namespace: str = "companion") -> None:
        self._client = client
        self._cipher = cipher  # seals every document (memory/cipher.py: seal_document)
        self._namespace = f"{namespace}-links"
        self._users = UserCollections(client, self._namespace)

    def _collection(self, user_id: str, *, create: bool) -> Collection | None:
        return self._users.get(user_id, create=create)

    def user_ids(self) -> list[str]:
        """Ids of the users with link records (raw transcripts included), sorted."""
        return self._users.owners()

    def delete_user(self, user_id: str) -> int:
        """Delete every link record of ``user_id`` (versions, relations, outcomes, raw transcripts, summaries).

        Returns how many records there were.
        """
        return self._users.drop(user_id) or 0

    def _get(self, user_id: str, *, ids: list[str] | None = None, where: Where | None = None) -> list[dict[str, Any]]:
        collection = self._collection(user_id, create=False)
        if collection is None or ids == []:
            return []
        result = collection.get(ids=ids, where=where, include=["documents", "metadatas"])
        rows = []
        empty: list[Any] = [None] * len(result["ids"])
        documents: list[Any] = list(result.get("documents") or empty)
        metadatas: list[Any] = list(result.get("metadatas") or empty)
        for index, record_id in enumerate(result["ids"]):
            metadata = dict(metadatas[index] or {})
            if metadata.get("user_id") != user_id:
                logger.error("dropped a link record of another user from the collection of %s", user_id)
                continue
            rows.append({"id": record_id, "document": open_document(self._cipher, documents[index] or ""), **metadata})
        return rows

    def _put(self, user_id: str, rows: Sequence[tuple[str, str, dict[str, str | int | float]]]) -> None:
        if not rows:
            return
        collection = self._collection(user_id, create=True)
        assert collection is not None
        collection.upsert(
            ids=[row[0] for row in rows],
            documents=[seal_document(self._cipher, row[1]) for row in rows],
            metadatas=[{**row[2], "user_id": user_id} for row in rows],
            embeddings=np.repeat(_PLACEHOLDER, len(rows), axis=0),
        )

    # -- association ----------------------------------------------------------------------------------
    def write_association(
        self,
        user_id: str,
        *,
        outcomes: Sequence[tuple[str, dict[str, Any]]] = (),
        versions: Sequence[Version] = (),
        relations: Sequence[Relation] = (),
    ) -> None:
        """Store outcomes (message id, plan), versions and relations (each direction as given) in one write.

        Records with the same id are written once (the last given wins).
        """
        # Only what is filtered on goes into metadata (each metadata field costs Chroma a row in its index);
        # the rest is the record's JSON document.
        rows: list[tuple[str, str, dict[str, str | int | float]]] = []
        for message_id, plan in outcomes:
            rows.append((outcome_id(message_id), json.dumps(plan), {"type": "outcome", "message_id": message_id}))
        for version in versions:
            body = {k: v for k, v in asdict(version).items() if k not in ("memory_id", "version")}
            meta: dict[str, str | int | float] = {
                "type": "version",
                "memory_id": version.memory_id,
                "version": version.version,
            }
            rows.append((version_id(version.memory_id, version.version), json.dumps(body), meta))
        for relation in relations:
            body = {k: v for k, v in asdict(relation).items() if k not in ("from_id", "to_id")}
            meta = {"type": "relation", "from_id": relation.from_id, "to_id": relation.to_id}
            rows.append((relation_id(relation.from_id, relation.to_id), json.dumps(body), meta))
        # Two messages of one batch may relate the same pair: the later one's strength and reason stand.
        self._put(user_id, list({row[0]: row for row in rows}.values()))

    def outcomes(self, user_id: str, message_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored plans of the messages already decided, by message id."""
        rows = self._get(user_id, ids=[outcome_id(message_id) for message_id in message_ids])
        return {str(row["message_id"]): json.loads(row["document"]) for row in rows}

    def version_texts(self, user_id: str, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """Texts of the given (memory id, version) records that exist."""
        rows = self._get(user_id, ids=[version_id(memory_id, version) for memory_id, version in keys]) if keys else []
        return {(str(row["memory_id"]), int(row["version"])): json.loads(row["document"])["text"] for row in rows}

    def existing_version_ids(self, user_id: str, ids: Sequence[str]) -> set[str]:
        """Which of these version record ids exist."""
        return {row["id"] for row in self._get(user_id, ids=list(ids))}

    def versions(self, user_id: str, memory_id: str) -> list[Version]:
        """Every stored version of a memory, oldest first."""
        where = cast(Where, {"$and": [{"type": "version"}, {"memory_id": memory_id}]})
        rows = self._get(user_id, where=where)
        versions = [
            Version(memory_id=str(row["memory_id"]), version=int(row["version"]), **json.loads(row["document"]))
            for row in rows
        ]
        return sorted(versions, key=lambda version: version.version)

    def relations(self, user_id: str, memory_id: str | None = None) -> list[Relation]:
        """Relations from ``memory_id`` (or all of the user's), strongest first."""
        where: Where = (
            cast(Where, {"$and": [{"type": "relation"}, {"from_id": memory_id}]})
            if memory_id
            else cast(Where, {"type": "relation"})
        )
        relations = [
            Relation(from_id=str(row["from_id"]), to_id=str(row["to_id"]), **json.loads(row["document"]))
            for row in self._get(user_id, where=where)
        ]
        return sorted(relations, key=lambda relation: relation.strength, reverse=True)

    def count(self, user_id: str, record_type: str) -> int:
        """How many records of one type the user has."""
        return len(self._get(user_id, where=cast(Where, {"type": record_type})))

    # -- ingestion ------------------------------------------------------------------------------------
    def put_raw(self, user_id: str, raw: RawTranscript) -> None:
        """Store an ingested transcript."""
        meta: dict[str, str | int | float] = {
            "type": "raw",
            "submission_id": raw.submission_id,
            "session_id": raw.session_id,
            "created_at": raw.created_at,
            "lines": len(raw.lines),
        }
        self._put(user_id, [(f"raw:{raw.submission_id}", json.dumps(raw.lines), meta)])

    def raw(self, user_id: str, submission_id: str) -> RawTranscript | None:
        """One ingested transcript, or ``None`` (never stored, or removed by cleanup)."""
        rows = self._get(user_id, ids=[f"raw:{submission_id}"])
        return _raw(rows[0]) if rows else None

    def raws(self, user_id: str, *, session_id: str | None = None) -> list[RawTranscript]:
        """Stored transcripts of a user (one session's, if given), oldest first."""
        clauses: list[dict[str, Any]] = [{"type": "raw"}]
        if session_id:
            clauses.append({"session_id": session_id})
        where = cast(Where, {"$and": clauses} if len(clauses) > 1 else clauses[0])
        return sorted((_raw(row) for row in self._get(user_id, where=where)), key=lambda raw: raw.created_at)

    def put_summary(self, user_id: str, summary: SessionSummary) -> None:
        """Store (or replace) a session summary."""
        meta: dict[str, str | int | float] = {
            "type": "summary",
            "session_id": summary.session_id,
            "submission_id": summary.submission_id,
            "memory_ids": json.dumps(summary.memory_ids),
            "extra": json.dumps(summary.extra),
            "created_at": summary.created_at,
        }
        self._put(user_id, [(f"summary:{summary.session_id}", summary.text, meta)])

    def summaries(self, user_id: str, *, session_id: str | None = None) -> list[SessionSummary]:
        """Session summaries of a user (one session's, if given), oldest first."""
        clauses: list[dict[str, Any]] = [{"type": "summary"}]
        if session_id:
            clauses.append({"session_id": session_id})
        where = cast(Where, {"$and": clauses} if len(clauses) > 1 else clauses[0])
        summaries = [
            SessionSummary(
                session_id=str(row["session_id"]),
                text=row["document"],
                memory_ids=list(json.loads(str(row["memory_ids"]))),
                submission_id=str(row["submission_id"]),
                created_at=float(row["created_at"]),
                extra=dict(json.loads(str(row.get("extra", "{}")))),
            )
            for row in self._get(user_id, where=where)
        ]
        return sorted(summaries, key=lambda summary: summary.created_at)

    def delete_summaries(self, user_id: str, session_ids: Sequence[str]) -> int:
        """Remove session summaries of the user; returns how many there were."""
        ids = [row["id"] for row in self._get(user_id, ids=[f"summary:{sid}" for sid in session_ids])]
        collection = self._collection(user_id, create=False)
        if ids and collection is not None:
            collection.delete(ids=ids)
        return len(ids)

    def delete_raw(self, user_id: str, submission_ids: Sequence[str]) -> int:
        """Remove raw transcripts of the user; returns how many there were."""
        ids = [row["id"] for row in self._get(user_id, ids=[f"raw:{sid}" for sid in submission_ids])]
        collection = self._collection(user_id, create=False)
        if ids and collection is not None:
            collection.delete(ids=ids)
        return len(ids)


def _raw(row: dict[str, Any]) -> RawTranscript:
    return RawTranscript(
        submission_id=str(row["submission_id"]),
        session_id=str(row["session_id"]),
        lines=list(json.loads(row["document"])),
        created_at=float(row["created_at"]),
    )


def version_to_dict(version: Version) -> dict[str, Any]:
    """A JSON-able dict of a version."""
    return asdict(version)


def relation_to_dict(relation: Relation) -> dict[str, Any]:
    """A JSON-able dict of a relation."""
    return asdict(relation)
