"""What reflection decided, per user, in Chroma.

Consolidations, conflicts and their resolutions, archived memories, insight reports, and the user's reflection
bookkeeping. Every entry is a JSON document, so every decision can be read back and undone.

Per-user isolation is ``memory/long_term.py``'s: the only way to a collection is ``UserCollections.get(user_id)``,
derived from the id (namespace ``<ns>-reflection``); every public method takes the user
id and every entry read back is checked to carry it.

Entries (``type`` metadata; ids are deterministic, so re-running a pass that died half-way writes each entry once):

- ``consolidation``  ``consolidation:<semantic id>``   the semantic memory and the ids of its sources
- ``conflict``       ``conflict:<id a>:<id b>``        the pair, the contradiction, the strategy, importances
                                                       before/after; status ``resolved``, ``awaiting_user`` or
                                                       ``reverted``
- ``archive``        ``archive:<memory id>``           a faded memory moved to the archive (status ``archived`` or
                                                       ``restored``)
- ``insights``       ``insights:<local day>``          what the insights task noticed that day: the findings with their
                                                       numbers, the insight memories written, the report (status
                                                       ``reported``); the ids of the messages drawn on (provenance)
- ``state``          ``state``                         when each pass last ran for this user

The collection holds no searchable vectors: each entry carries the same one-dimensional placeholder embedding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where

from memory.cipher import TextCipher, open_document, seal_document
from memory.long_term import WRITE_BATCH, UserCollections

logger = logging.getLogger(__name__)

_PLACEHOLDER = np.ones((1, 1), dtype=np.float32)
STATE_ID = "state"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One reflection decision."""

    id: str
    type: str
    status: str
    at: float
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"id": self.id, "type": self.type, "status": self.status, "at": self.at, **self.data}


class ReflectionLog:
    """Reflection's decisions, per user, in Chroma."""

    def __init__(self, client: ClientAPI, *, cipher: TextCipher | None = None, namespace: str = "companion") -> None:
        self._client = client
        self._cipher = cipher  # seals every entry's document (memory/cipher.py: seal_document)
        self._namespace = f"{namespace}-reflection"
        self._users = UserCollections(client, self._namespace)

    def _collection(self, user_id: str, *, create: bool) -> Collection | None:
        return self._users.get(user_id, create=create)

    def delete_user(self, user_id: str) -> int:
        """Delete every logged decision of ``user_id``; returns how many there were."""
        return self._users.drop(user_id) or 0

    def put(self, user_id: str, entries: Sequence[LogEntry]) -> None:
        """Write (or overwrite) entries."""
        if not entries:
            return
        collection = self._collection(user_id, create=True)
        assert collection is not None
        for start in range(0, len(entries), WRITE_BATCH):  # Chroma caps one write at ~5,000 records
            batch = entries[start : start + WRITE_BATCH]
            collection.upsert(
                ids=[entry.id for entry in batch],
                documents=[seal_document(self._cipher, json.dumps(entry.data)) for entry in batch],
                metadatas=[
                    {"user_id": user_id, "type": entry.type, "status": entry.status, "at": float(entry.at)}
                    for entry in batch
                ],
                embeddings=np.repeat(_PLACEHOLDER, len(batch), axis=0),
            )

    def get(self, user_id: str, entry_ids: Sequence[str]) -> dict[str, LogEntry]:
        """Entries by id (missing ones are left out)."""
        if not entry_ids:
            return {}
        return {entry.id: entry for entry in self._get(user_id, ids=list(entry_ids))}

    def entries(self, user_id: str, *, type: str | None = None, status: str | None = None) -> list[LogEntry]:
        """Entries of one type and/or status, oldest first."""
        clauses: list[dict[str, Any]] = []
        if type is not None:
            clauses.append({"type": type})
        if status is not None:
            clauses.append({"status": status})
        where = None if not clauses else cast(Where, clauses[0] if len(clauses) == 1 else {"$and": clauses})
        return sorted(self._get(user_id, where=where), key=lambda entry: (entry.at, entry.id))

    def state(self, user_id: str) -> dict[str, Any]:
        """The user's reflection bookkeeping (when each pass last ran); empty for a new user."""
        found = self.get(user_id, [STATE_ID])
        return dict(found[STATE_ID].data) if STATE_ID in found else {}

    def set_state(self, user_id: str, state: dict[str, Any], *, at: float) -> None:
        """Replace the user's reflection bookkeeping."""
        self.put(user_id, [LogEntry(STATE_ID, "state", "ok", at, state)])

    def _get(self, user_id: str, *, ids: list[str] | None = None, where: Where | None = None) -> list[LogEntry]:
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        result = collection.get(ids=ids, where=where, include=["documents", "metadatas"])
        empty: list[Any] = [None] * len(result["ids"])
        documents: list[Any] = list(result.get("documents") or empty)
        metadatas: list[Any] = list(result.get("metadatas") or empty)
        found = []
        for index, entry_id in enumerate(result["ids"]):
            meta = dict(metadatas[index] or {})
            if meta.get("user_id") != user_id:
                logger.error("dropped a reflection entry of another user from the collection of %s", user_id)
                continue
            found.append(
                LogEntry(
                    id=entry_id,
                    type=str(meta.get("type", "")),
                    status=str(meta.get("status", "")),
                    at=float(cast(float, meta.get("at", 0.0))),
                    data=json.loads(open_document(self._cipher, documents[index] or "") or "{}"),
                )
            )
        return found
