"""Long-term memory in Chroma: the source of truth, one collection per user.

Per-user isolation is enforced here and only here: every public method takes a ``user_id``, and the only way
to reach a Chroma collection is ``_collection(user_id)``, which derives the collection from that id. There is
no method that queries across users. As a second guard, every record read back is checked to carry the same
``user_id`` in its metadata; a mismatch is dropped and logged.

Tenant isolation (design seed 002) is kept in the same place: a user belongs to one tenant, recorded in the
metadata of their memories collection (``TENANT_KEY``) by ``UserCollections`` when a tenant's key first reaches
the user; a collection without it (every collection made before tenants, and every one the default tenant makes)
belongs to ``DEFAULT_TENANT``, so existing data keeps its layout. ``UserCollections.authorize`` is the check the
API runs before any store is touched for a user: a key of another tenant gets ``PermissionDeniedError``.

With a ``LexicalIndex`` (``memory.lexical``), every write is mirrored there after Chroma, and
:meth:`LongTermStore.lexical_search` finds a user's memories by their words (the index heals itself from Chroma).
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where
from chromadb.errors import NotFoundError

from companion.core.errors import ConfigurationError, PermissionDeniedError, StoreUnavailableError
from memory.candidates import Candidate, recency_score
from memory.cipher import SEALED_PREFIX, TextCipher, is_sealed_level
from memory.keys import join_key
from memory.lexical import LexicalIndex
from memory.records import (
    ASSOC_PENDING_KEY,
    DEFAULT_TENANT,
    EXTRACTED_REF,
    IMPORTANCE_SCALE,
    MemoryKind,
    MemoryRecord,
    validate_tenant,
    validate_user_id,
)
from memory.sensitivity import Sensitivity

logger = logging.getLogger(__name__)

#: Records per Chroma write in the bulk methods (Chroma refuses batches above its maximum, ~5,000 here).
WRITE_BATCH = 4000

#: Seconds between two checks that a user's lexical index holds what Chroma holds (``LongTermStore.lexical_search``).
LEXICAL_CHECK_SECONDS = 30.0
#: A user's last check, when a search found the index holding a memory Chroma no longer has.
STALE = -math.inf
#: Users whose last check is remembered; past that the memory starts afresh (each user is checked again once).
LEXICAL_CHECKED_USERS = 10_000

#: Operations a collection's vector index takes before Chroma writes it to disk (Chroma's default: 1,000). Until
#: then every write costs more the more there are waiting: one record into a 10,000-memory collection took 45.8 ms
#: on average over 1,000 writes at the default and 17.4 ms at 100, each sync 50-90 ms once per 100 writes
#: (bench/README.md, 2026-12-07). Every write of a turn, association and reflection is one of those small ones.
HNSW_SYNC_THRESHOLD = 100

#: Chroma metadata key naming the owner of a collection.
OWNER_KEY = "companion_user_id"
#: Chroma metadata key naming the owner's tenant (absent: ``DEFAULT_TENANT``).
TENANT_KEY = "companion_tenant"


def collection_name(user_id: str, *, namespace: str = "companion") -> str:
    """The Chroma collection of one user: a hash, so any valid user id maps to a valid collection name."""
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:40]
    return f"{namespace}-u-{digest}"


class UserCollections:
    """The one place that resolves a user's Chroma collection, in one namespace (memories, links, archive, log).

    The collection is derived from the user id (``collection_name``) and carries the owner in its metadata; the
    stores built on this class never reach a collection any other way.
    """

    def __init__(self, client: ClientAPI, namespace: str, *, hnsw: CreateHNSWConfiguration | None = None) -> None:
        self.client = client
        self.namespace = namespace
        #: The vector index's configuration of a new collection (``hnsw``, e.g. its space), with the sync threshold.
        self._hnsw: CreateHNSWConfiguration = {**(hnsw or {}), "sync_threshold": HNSW_SYNC_THRESHOLD}
        self._cache: dict[str, Collection] = {}
        self._lock = threading.Lock()

    def owners(self) -> list[str]:
        """Ids of the users with a collection in this namespace (owners only, never contents), sorted."""
        prefix = f"{self.namespace}-u-"
        try:
            collections = self.client.list_collections()
        except Exception as exc:  # chromadb raises many types for I/O problems; report them as one
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        owners = []
        for collection in collections:
            owner = (collection.metadata or {}).get(OWNER_KEY)
            if collection.name.startswith(prefix) and isinstance(owner, str):
                owners.append(owner)
        return sorted(owners)

    def get(self, user_id: str, *, create: bool, tenant: str = DEFAULT_TENANT) -> Collection | None:
        """The collection of ``user_id``; ``None`` if it does not exist and ``create`` is false.

        A collection created here records ``tenant`` as its owner's (unless it is the default tenant); an existing
        collection keeps the tenant it has (Chroma's get-or-create never rewrites metadata).
        """
        validate_user_id(user_id)
        cached = self._cache.get(user_id)
        if cached is not None:
            return cached
        name = collection_name(user_id, namespace=self.namespace)
        with self._lock:
            try:
                if create:
                    metadata = {OWNER_KEY: user_id} | ({TENANT_KEY: tenant} if tenant != DEFAULT_TENANT else {})
                    collection = self.client.get_or_create_collection(
                        name, metadata=metadata, embedding_function=None, configuration={"hnsw": self._hnsw}
                    )
                else:
                    collection = self.client.get_collection(name, embedding_function=None)
            except NotFoundError:
                return None
            except Exception as exc:  # chromadb raises many types for I/O problems; report them as one
                raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
            sync_sooner(collection)
            self._cache[user_id] = collection
            return collection

    def tenant_of(self, user_id: str) -> str | None:
        """The tenant ``user_id`` belongs to, or ``None`` for a user with no collection (nobody's yet)."""
        collection = self.get(user_id, create=False)
        if collection is None:
            return None
        return str((collection.metadata or {}).get(TENANT_KEY) or DEFAULT_TENANT)

    def authorize(self, user_id: str, tenant: str) -> str:
        """``user_id`` if it belongs to ``tenant``, else ``PermissionDeniedError`` (the tenant check of every route).

        A user nobody owns yet is claimed for a non-default tenant here (its collection is created carrying the
        tenant, atomically: if another tenant created it first, that one owns it and this raises). Users the
        default tenant reaches first are its own without a claim, as before tenants existed.
        """
        validate_tenant(tenant)
        owner = self.tenant_of(user_id)
        if owner is None and tenant != DEFAULT_TENANT:
            collection = self.get(user_id, create=True, tenant=tenant)
            assert collection is not None
            owner = str((collection.metadata or {}).get(TENANT_KEY) or DEFAULT_TENANT)
        if owner is not None and owner != tenant:
            raise PermissionDeniedError(
                f"user {user_id[:128]!r} belongs to another tenant; this API key (tenant {tenant!r}) may not access it"
            )
        return user_id

    def drop(self, user_id: str) -> int | None:
        """Delete the collection of ``user_id``; returns how many records it held, or ``None`` if there was none."""
        collection = self.get(user_id, create=False)
        self._cache.pop(user_id, None)
        if collection is None:
            return None
        count = collection.count()
        try:
            self.client.delete_collection(collection_name(user_id, namespace=self.namespace))
        except (NotFoundError, ValueError):
            return None
        return count


class LongTermStore:
    """Chroma-backed long-term memory, scoped per user."""

    def __init__(
        self,
        client: ClientAPI,
        *,
        namespace: str = "companion",
        lexical: LexicalIndex | None = None,
        cipher: TextCipher | None = None,
        lexical_check_seconds: float = LEXICAL_CHECK_SECONDS,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._users = UserCollections(client, namespace, hnsw={"space": "cosine"})
        self._lexical = lexical
        self._cipher = cipher
        self._lexical_check_seconds = lexical_check_seconds
        # user -> time.monotonic() when their index was last found in line with Chroma in this process
        self._lexical_checked: dict[str, float] = {}

    @property
    def cipher(self) -> TextCipher | None:
        """What seals the text of secret and ultrasecret memories (``memory/cipher.py``)."""
        return self._cipher

    # Secret and ultrasecret texts are sealed on the way into Chroma and opened on the way out. A store without a
    # cipher refuses to write one rather than keep it in plain text.
    #
    # Replies are sealed whatever the message's level: a reply quotes the memories it recalled, so an ordinary
    # question ("remind me of my email login") gets a reply that repeats a secret. Replies are only read back to
    # rebuild the short-term context, never searched by their text, so sealing them all costs no search.
    def _document(self, record: MemoryRecord) -> str:
        if not is_sealed_level(record.sensitivity):
            return record.text
        return self._required_cipher().seal(record.text)

    def _metadata(self, record: MemoryRecord) -> dict[str, str | int | float]:
        if record.reply and (self._cipher is not None or is_sealed_level(record.sensitivity)):
            record = replace(record, reply=self._required_cipher().seal(record.reply))
        return record.to_metadata()

    def _required_cipher(self) -> TextCipher:
        if self._cipher is None:
            raise ConfigurationError("this memory store has no cipher, so it cannot keep a secret memory")
        return self._cipher

    def _from_chroma(
        self, memory_id: str, document: str | None, metadata: dict[str, Any], *, open_reply: bool = True
    ) -> MemoryRecord:
        """A stored record with its sealed text (and, unless ``open_reply`` is False, its sealed reply) decrypted.

        Recall's candidates keep the reply sealed (``open_reply=False``): every reply is sealed when there is a
        cipher, recall never shows one, and decrypting the ~50 replies of a pool cost a few ms a turn. Such a
        record written back keeps its reply as it was stored (``TextCipher.seal`` leaves a sealed text alone).
        """
        record = MemoryRecord.from_chroma(memory_id, document, metadata)
        if self._cipher is None:
            # A store without a cipher (one that reads metadata only, like the personality replay) sees sealed texts
            # as they are stored: encrypted.
            return record
        sealed_text = record.text.startswith(SEALED_PREFIX)
        sealed_reply = open_reply and record.reply.startswith(SEALED_PREFIX)
        if not (sealed_text or sealed_reply):
            return record
        return replace(
            record,
            text=self._cipher.open(record.text) if sealed_text else record.text,
            reply=self._cipher.open(record.reply) if sealed_reply else record.reply,
        )

    def _owned(
        self, user_id: str, memory_id: str, document: str | None, metadata: Any, *, open_reply: bool = True
    ) -> MemoryRecord | None:
        """The record Chroma returned from ``user_id``'s collection, or ``None`` (logged) if it is another user's."""
        record = self._from_chroma(memory_id, document, dict(metadata or {}), open_reply=open_reply)
        if record.user_id != user_id:
            logger.error("dropped a record of another user from the collection of %s", user_id)
            return None
        return record

    @property
    def lexical(self) -> LexicalIndex | None:
        """The lexical index this store mirrors its writes to (``None``: no lexical search)."""
        return self._lexical

    def _owner(self, user_id: str) -> str:
        """The user's owner name in the lexical index: ``<namespace>:<user>``, encoded (``memory.keys``)."""
        return join_key(self._namespace, user_id)

    def _drop_legacy_lexical(self, user_id: str) -> None:
        """Delete the user's lexical file named before ids were encoded (only ids with ``:`` had another name).

        It was never ambiguous (the namespace holds no ``:``), only of the old form; the index is derived from
        Chroma, so the file under the new name is rebuilt rather than the old one renamed.
        """
        assert self._lexical is not None
        legacy = f"{self._namespace}:{user_id}"
        if legacy != self._owner(user_id):
            self._lexical.drop(legacy)

    # The lexical index follows Chroma; a failure to update it never fails a write that Chroma took (the next
    # search finds the counts differ and brings it back in line), and a failure to search it falls back to the
    # nearest memories alone.
    def _index(self, user_id: str, records: Sequence[MemoryRecord]) -> None:
        if self._lexical is not None:
            try:
                items = [(record.id, _indexed_text(record.text, record.sensitivity)) for record in records]
                self._lexical.put(self._owner(user_id), items)
            except (sqlite3.Error, OSError) as exc:
                self._lexical_checked.pop(user_id, None)
                logger.warning("lexical index not updated (%s); it catches up on the next search", exc)

    def _unindex(self, user_id: str, memory_ids: Sequence[str]) -> None:
        if self._lexical is not None:
            try:
                self._lexical.delete(self._owner(user_id), memory_ids)
            except (sqlite3.Error, OSError) as exc:
                self._lexical_checked.pop(user_id, None)
                logger.warning("lexical index not updated (%s); it catches up on the next search", exc)

    @property
    def client(self) -> ClientAPI:
        """The Chroma client (other durable records of the project, like personality states, share it)."""
        return self._client

    def _collection(self, user_id: str, *, create: bool) -> Collection | None:
        return self._users.get(user_id, create=create)

    def authorize_tenant(self, user_id: str, tenant: str) -> str:
        """``user_id`` if it belongs to ``tenant`` (claiming an unowned id), else ``PermissionDeniedError``."""
        return self._users.authorize(user_id, tenant)

    def tenant_of(self, user_id: str) -> str | None:
        """The tenant of ``user_id`` (``None``: no memories collection yet)."""
        return self._users.tenant_of(user_id)

    def _checked(self, user_id: str, records: list[MemoryRecord]) -> list[MemoryRecord]:
        kept = [record for record in records if record.user_id == user_id]
        if len(kept) != len(records):
            logger.error("dropped %d records of another user from collection of %s", len(records) - len(kept), user_id)
        return kept

    # -- writes ----------------------------------------------------------------------------------------
    def add(self, user_id: str, records: Sequence[MemoryRecord], embeddings: np.ndarray) -> None:
        """Store ``records`` (all of ``user_id``) with their precomputed embeddings."""
        if not records:
            return
        if len(records) != len(embeddings):
            raise ValueError("one embedding per record is required")
        for record in records:
            if record.user_id != user_id:
                raise ValueError("a record of another user was passed to add()")
        collection = self._collection(user_id, create=True)
        assert collection is not None
        collection.add(
            ids=[record.id for record in records],
            documents=[self._document(record) for record in records],
            metadatas=[self._metadata(record) for record in records],
            embeddings=np.asarray(embeddings, dtype=np.float32),
        )
        self._index(user_id, records)

    def upsert(self, user_id: str, records: Sequence[MemoryRecord], embeddings: np.ndarray) -> None:
        """Store or replace ``records`` (all of ``user_id``): writing the same record twice leaves one."""
        if not records:
            return
        if len(records) != len(embeddings):
            raise ValueError("one embedding per record is required")
        if any(record.user_id != user_id for record in records):
            raise ValueError("a record of another user was passed to upsert()")
        collection = self._collection(user_id, create=True)
        assert collection is not None
        vectors = np.asarray(embeddings, dtype=np.float32)
        for start in range(0, len(records), WRITE_BATCH):  # Chroma caps one write at ~5,000 records
            batch = records[start : start + WRITE_BATCH]
            collection.upsert(
                ids=[record.id for record in batch],
                documents=[self._document(record) for record in batch],
                metadatas=[self._metadata(record) for record in batch],
                embeddings=vectors[start : start + WRITE_BATCH],
            )
        self._index(user_id, records)

    def get_with_embeddings(
        self, user_id: str, memory_ids: Sequence[str], *, open_replies: bool = True
    ) -> dict[str, tuple[MemoryRecord, np.ndarray]]:
        """Memories of ``user_id`` by id, with their stored embeddings (missing ids are left out).

        ``open_replies=False`` leaves the replies sealed (recall's candidates; see ``_from_chroma``).
        """
        collection = self._collection(user_id, create=False)
        if collection is None or not memory_ids:
            return {}
        result = collection.get(ids=list(memory_ids), include=["documents", "metadatas", "embeddings"])
        vectors = result.get("embeddings")
        found: dict[str, tuple[MemoryRecord, np.ndarray]] = {}
        for index, record in enumerate(self._records(result, open_replies=open_replies)):
            if record.user_id != user_id:
                logger.error("dropped a record of another user from the collection of %s", user_id)
                continue
            assert vectors is not None
            found[record.id] = (record, np.asarray(vectors[index], dtype=np.float32))
        return found

    def search_many(
        self, user_id: str, query_embeddings: np.ndarray, n_results: int
    ) -> list[list[tuple[MemoryRecord, float]]]:
        """For each query vector, the ``n_results`` nearest memories of ``user_id`` with cosine similarity."""
        collection = self._collection(user_id, create=False)
        if collection is None or len(query_embeddings) == 0:
            return [[] for _ in range(len(query_embeddings))]
        result = collection.query(
            query_embeddings=np.asarray(query_embeddings, dtype=np.float32),
            n_results=n_results,
            include=["documents", "metadatas", "distances"],
        )
        found = []
        for row, ids in enumerate(result["ids"]):
            documents = (result["documents"] or [])[row]
            metadatas = (result["metadatas"] or [])[row]
            distances = (result["distances"] or [])[row]
            matches = []
            for index, memory_id in enumerate(ids):
                record = self._owned(user_id, memory_id, documents[index], metadatas[index])
                if record is not None:
                    matches.append((record, min(1.0, max(-1.0, 1.0 - float(distances[index])))))
            found.append(matches)
        return found

    def ids_by_hash(self, user_id: str, hashes: Sequence[str]) -> dict[str, list[str]]:
        """The ids of ``user_id``'s memories carrying each of ``hashes`` (``MemoryRecord.content_hash``), oldest first.

        Memories stored before content hashes existed carry none and are not found here.
        """
        collection = self._collection(user_id, create=False)
        wanted = sorted({value for value in hashes if value})
        if collection is None or not wanted:
            return {}
        found: dict[str, list[tuple[float, str]]] = {}
        for start in range(0, len(wanted), WRITE_BATCH):
            where = cast(Where, {"content_hash": {"$in": wanted[start : start + WRITE_BATCH]}})
            result = collection.get(where=where, include=["metadatas"])
            for memory_id, meta in zip(result["ids"], result.get("metadatas") or [], strict=True):
                if meta is None or meta.get("user_id") != user_id:
                    continue
                created = float(cast(float, meta.get("created_at", 0.0)))
                found.setdefault(str(meta.get("content_hash")), []).append((created, memory_id))
        return {value: [memory_id for _, memory_id in sorted(pairs)] for value, pairs in found.items()}

    def update_metadata(self, user_id: str, records: Sequence[MemoryRecord]) -> None:
        """Rewrite the metadata of existing ``records`` of ``user_id`` (text and embedding stay as they are)."""
        if not records:
            return
        if any(record.user_id != user_id for record in records):
            raise ValueError("a record of another user was passed to update_metadata()")
        collection = self._collection(user_id, create=False)
        if collection is None:
            return
        for start in range(0, len(records), WRITE_BATCH):  # Chroma caps one write at ~5,000 records
            batch = records[start : start + WRITE_BATCH]
            collection.update(
                ids=[record.id for record in batch], metadatas=[self._metadata(record) for record in batch]
            )

    def mark_superseded(self, user_id: str, memory_ids: Sequence[str], *, by: str) -> int:
        """Mark memories of ``user_id`` as updated by the memory ``by`` (``superseded_by``); returns how many.

        Only that key is written (Chroma merges metadata), so nothing a concurrent writer changed is undone.
        """
        collection = self._collection(user_id, create=False)
        if collection is None or not memory_ids:
            return 0
        found = [record.id for record in self.get_many(user_id, memory_ids) if record.id != by]
        if found:
            collection.update(ids=found, metadatas=[{"superseded_by": by} for _ in found])
        return len(found)

    def clear_pending(self, user_id: str, memory_ids: Sequence[str]) -> int:
        """Clear the association pending mark of those of ``memory_ids`` that carry it; returns how many.

        Only the mark is written (Chroma merges metadata), so nothing else a concurrent writer changed is undone.
        """
        collection = self._collection(user_id, create=False)
        if collection is None or not memory_ids:
            return 0
        ids = list(dict.fromkeys(memory_ids))
        marked: list[str] = []
        for start in range(0, len(ids), WRITE_BATCH):
            where = cast(Where, {ASSOC_PENDING_KEY: True})
            marked += collection.get(ids=ids[start : start + WRITE_BATCH], where=where, include=[])["ids"]
        for start in range(0, len(marked), WRITE_BATCH):
            batch = marked[start : start + WRITE_BATCH]
            collection.update(ids=batch, metadatas=[{ASSOC_PENDING_KEY: False} for _ in batch])
        return len(marked)

    def pending(self, user_id: str, *, before: float | None = None) -> list[MemoryRecord]:
        """The messages of ``user_id`` (created before ``before``, if given) waiting for association, oldest first."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        marked = {ASSOC_PENDING_KEY: True}
        where = cast(Where, marked if before is None else {"$and": [marked, {"created_at": {"$lt": before}}]})
        records = self._checked(user_id, self._records(collection.get(where=where, include=["metadatas"])))
        records.sort(key=lambda record: record.created_at)
        return records

    def move(self, user_id: str, memory_ids: Sequence[str], target: LongTermStore) -> int:
        """Move memories of ``user_id`` (text, metadata, embedding) into ``target`` (the archive); returns how many.

        Written to the target first, then removed here: a crash in between leaves a copy in both, and running the
        move again converges (the target write is an upsert).
        """
        found = self.get_with_embeddings(user_id, memory_ids)
        if not found:
            return 0
        records = [record for record, _ in found.values()]
        target.upsert(user_id, records, np.stack([vector for _, vector in found.values()]))
        collection = self._collection(user_id, create=False)
        assert collection is not None
        ids = [record.id for record in records]
        for start in range(0, len(ids), WRITE_BATCH):
            collection.delete(ids=ids[start : start + WRITE_BATCH])
        self._unindex(user_id, ids)
        return len(records)

    def with_embeddings(self, user_id: str, *, kind: MemoryKind | None = None) -> list[tuple[MemoryRecord, np.ndarray]]:
        """Every memory of ``user_id`` (of one ``kind`` if given) with its embedding, oldest first (for reflection)."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        where = cast(Where, {"kind": kind.value}) if kind is not None else None
        result = collection.get(where=where, include=["documents", "metadatas", "embeddings"])
        vectors = result.get("embeddings")
        pairs = []
        for index, record in enumerate(self._records(result)):
            if record.user_id != user_id:
                logger.error("dropped a record of another user from the collection of %s", user_id)
                continue
            assert vectors is not None
            pairs.append((record, np.asarray(vectors[index], dtype=np.float32)))
        pairs.sort(key=lambda pair: pair[0].created_at)
        return pairs

    def message_times(self, user_id: str, *, since: float) -> list[float]:
        """Creation times of the user's messages of ``user_id`` since ``since``, sorted.

        A message is an episodic memory, or one that association promoted to a semantic memory (it keeps its
        conversation); memories distilled by reflection belong to no conversation and are not messages.
        """
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        where = cast(Where, {"created_at": {"$gte": since}})
        result = collection.get(where=where, include=["metadatas"])
        episodic = MemoryKind.EPISODIC.value
        metadatas = result.get("metadatas") or []
        return sorted(
            float(cast(float, meta.get("created_at", 0.0)))
            for meta in metadatas
            if meta is not None
            and meta.get("user_id") == user_id
            and (meta.get("kind", episodic) == episodic or meta.get("conversation_id"))
        )

    def created_since(self, user_id: str, *, since: float) -> list[MemoryRecord]:
        """Every memory of ``user_id`` created at or after ``since``, oldest first (text and metadata, no vectors)."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        where = cast(Where, {"created_at": {"$gte": since}})
        records = self._checked(user_id, self._records(collection.get(where=where, include=["documents", "metadatas"])))
        records.sort(key=lambda record: (record.created_at, record.id))
        return records

    def in_category(self, user_id: str, category: str) -> list[MemoryRecord]:
        """Every memory of ``user_id`` in ``category``, oldest first."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        where = cast(Where, {"category": category})
        records = self._checked(user_id, self._records(collection.get(where=where, include=["documents", "metadatas"])))
        records.sort(key=lambda record: (record.created_at, record.id))
        return records

    def user_ids(self) -> list[str]:
        """Ids of the users who have memories in this store (owners only, never their contents: for schedulers)."""
        return self._users.owners()

    def delete_user(self, user_id: str) -> bool:
        """Delete every memory of ``user_id``; returns whether there was anything."""
        existed = self._users.drop(user_id) is not None
        self._lexical_checked.pop(user_id, None)
        if self._lexical is not None:
            try:  # an erasure must not leave the user's words behind: fail loudly, so it is run again
                self._lexical.drop(self._owner(user_id))
                self._drop_legacy_lexical(user_id)
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailableError(f"the lexical index is not usable: {exc}") from exc
        return existed

    def delete(self, user_id: str, memory_id: str) -> bool:
        """Delete one memory of ``user_id``; returns whether it existed (and was theirs)."""
        if self.get(user_id, memory_id) is None:
            return False
        collection = self._collection(user_id, create=False)
        assert collection is not None
        collection.delete(ids=[memory_id])
        self._unindex(user_id, [memory_id])
        return True

    def list_users(self, *, tenant: str | None = None) -> list[str]:
        """Every user with a collection in this namespace (of one ``tenant`` if given: admin listing), sorted."""
        users = []
        for collection in self._client.list_collections():
            if collection.name.startswith(f"{self._namespace}-u-"):
                metadata = collection.metadata or {}
                owner = metadata.get(OWNER_KEY)
                if not isinstance(owner, str):
                    continue
                if tenant is None or str(metadata.get(TENANT_KEY) or DEFAULT_TENANT) == tenant:
                    users.append(owner)
        return sorted(users)

    # -- reads -----------------------------------------------------------------------------------------
    def search(self, user_id: str, query_embedding: np.ndarray, n_results: int) -> list[Candidate]:
        """The ``n_results`` nearest memories of ``user_id`` as MMR candidates (with their embeddings)."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        result = collection.query(
            query_embeddings=np.asarray(query_embedding, dtype=np.float32).reshape(1, -1),
            n_results=n_results,
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        vectors = (result["embeddings"] or [[]])[0]
        now = time.time()
        candidates = []
        for index, memory_id in enumerate(ids):
            record = self._owned(user_id, memory_id, documents[index], metadatas[index], open_reply=False)
            if record is not None:  # cosine space: distance = 1 - similarity
                candidates.append(_candidate(record, vectors[index], 1.0 - float(distances[index]), now))
        return candidates

    def lexical_search(
        self, user_id: str, text: str, query_embedding: np.ndarray, n_results: int, *, exclude: Sequence[str] = ()
    ) -> list[Candidate]:
        """Up to ``n_results`` memories of ``user_id`` that best match ``text``'s words, as MMR candidates.

        BM25 over all of the user's memories, leaving out the ids in ``exclude``; a candidate's similarity is the
        cosine of its stored embedding to ``query_embedding``. Nothing without a lexical index.

        The index is first brought in line with Chroma if the two disagree on how many memories the user has. That
        check (Chroma's count grows with the collection: 0.7 ms at 10,000 memories, 9 ms at 100,000) runs on the
        user's first search in this process, then at most every ``lexical_check_seconds``, and on the next search
        after a write the index missed or a match Chroma no longer has: this process's own writes keep the index in
        line, so the check is only there for what happened elsewhere (a crash between the two writes, an upgrade,
        another process writing the same Chroma without the same index).
        """
        collection = self._collection(user_id, create=False)
        if self._lexical is None or collection is None or n_results < 1:
            return []
        skip = set(exclude)
        try:
            checked = self._lexical_checked.get(user_id)
            now = time.monotonic()
            if checked is None or now - checked >= self._lexical_check_seconds:
                self._sync_lexical(user_id, collection, compare_ids=checked == STALE)
                if len(self._lexical_checked) >= LEXICAL_CHECKED_USERS:
                    self._lexical_checked.clear()
                self._lexical_checked[user_id] = now
            ranked = self._lexical.search(self._owner(user_id), text, n_results + len(skip))
        except (sqlite3.Error, OSError) as exc:
            self._lexical_checked.pop(user_id, None)
            logger.warning("lexical index not usable (%s); recalling by embedding alone", exc)
            return []
        wanted = [memory_id for memory_id, _ in ranked if memory_id not in skip][:n_results]
        found = self.candidates_by_id(user_id, wanted, query_embedding)
        if len(found) < len(wanted):  # the index holds memories Chroma lost: compare every id on the next search
            self._lexical_checked[user_id] = STALE
        return found

    def candidates_by_id(self, user_id: str, memory_ids: Sequence[str], query_embedding: np.ndarray) -> list[Candidate]:
        """Memories of ``user_id`` by id as MMR candidates, in the order asked, each with its cosine to the query."""
        wanted = list(memory_ids)
        if not wanted:
            return []
        found = self.get_with_embeddings(user_id, wanted, open_replies=False)
        query = np.asarray(query_embedding, dtype=np.float32)
        query_norm = float(np.linalg.norm(query)) or 1.0
        now = time.time()
        candidates = []
        for memory_id in wanted:  # best match first
            if memory_id in found:
                record, vector = found[memory_id]
                norm = float(np.linalg.norm(vector)) or 1.0
                candidates.append(_candidate(record, vector, float(vector @ query) / (norm * query_norm), now))
        return candidates

    def _sync_lexical(self, user_id: str, collection: Collection, *, compare_ids: bool = False) -> None:
        """Make the lexical index hold exactly the user's memories in Chroma, if their counts (or ids) differ."""
        assert self._lexical is not None
        owner = self._owner(user_id)
        if not compare_ids and self._lexical.count(owner) == collection.count():
            return
        self._drop_legacy_lexical(user_id)
        stored = set(collection.get(include=[])["ids"])
        indexed = self._lexical.ids(owner)
        if indexed - stored:
            self._lexical.delete(owner, sorted(indexed - stored))
        missing = sorted(stored - indexed)
        for start in range(0, len(missing), WRITE_BATCH):
            result = collection.get(ids=missing[start : start + WRITE_BATCH], include=["documents"])
            documents = [_indexed_text(text or "") for text in result["documents"] or []]
            self._lexical.put(owner, zip(result["ids"], documents, strict=True))
        removed = len(indexed - stored)
        logger.info("lexical index of %s brought in line with Chroma (+%d, -%d)", owner, len(missing), removed)

    def get(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """One memory of ``user_id`` by id, or ``None``."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return None
        result = collection.get(ids=[memory_id], include=["documents", "metadatas"])
        records = self._records(result)
        checked = self._checked(user_id, records)
        return checked[0] if checked else None

    def get_many(self, user_id: str, memory_ids: Sequence[str]) -> list[MemoryRecord]:
        """Memories of ``user_id`` by id (missing ids, and records of anyone else, are left out)."""
        collection = self._collection(user_id, create=False)
        if collection is None or not memory_ids:
            return []
        return self._checked(
            user_id, self._records(collection.get(ids=list(memory_ids), include=["documents", "metadatas"]))
        )

    def list_memories(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[MemoryRecord]:
        """Memories of ``user_id``, newest first (reads every record's metadata: for listing, not the hot path)."""
        records = self._all(user_id)
        records.sort(key=lambda record: record.created_at, reverse=True)
        return records[offset : offset + limit]

    def count(self, user_id: str) -> int:
        """How many memories ``user_id`` has."""
        collection = self._collection(user_id, create=False)
        return 0 if collection is None else collection.count()

    def appraised_since(self, user_id: str, *, since: float) -> list[MemoryRecord]:
        """Messages of ``user_id`` created after ``since`` that carry a personality appraisal, oldest first."""
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        where = cast(Where, {"$and": [{"created_at": {"$gt": since}}, {"appraisal": {"$ne": ""}}]})
        result = collection.get(where=where, include=["documents", "metadatas"])
        records = [record for record in self._checked(user_id, self._records(result)) if record.appraisal]
        records.sort(key=lambda record: record.created_at)
        return records

    def recent_turns(self, user_id: str, conversation_id: str, *, since: float, limit: int) -> list[MemoryRecord]:
        """The last ``limit`` messages of one conversation newer than ``since``, oldest first (for recovery).

        A fact extracted from an ingested session (``source_ref`` ``extracted``) belongs to it but is no message:
        nobody said it in those words.
        """
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        recent = cast(Where, {"created_at": {"$gte": since}})
        where: Where = {"$and": [{"conversation_id": conversation_id}, recent]}
        result = collection.get(
            where=where,
            include=["documents", "metadatas"],
        )
        # filtered here, not in the query: Chroma's "$ne" would also drop records stored before the key existed
        records = [r for r in self._checked(user_id, self._records(result)) if r.source_ref != EXTRACTED_REF]
        records.sort(key=lambda record: record.created_at)
        return records[-limit:]

    def _all(self, user_id: str) -> list[MemoryRecord]:
        collection = self._collection(user_id, create=False)
        if collection is None:
            return []
        return self._checked(user_id, self._records(collection.get(include=["documents", "metadatas"])))

    def _records(self, result: Any, *, open_replies: bool = True) -> list[MemoryRecord]:
        documents = result.get("documents") or [None] * len(result["ids"])
        metadatas = result.get("metadatas") or [None] * len(result["ids"])
        return [
            self._from_chroma(memory_id, documents[index], dict(metadatas[index] or {}), open_reply=open_replies)
            for index, memory_id in enumerate(result["ids"])
        ]


def sync_sooner(collection: Collection) -> None:
    """Give a collection made before ``HNSW_SYNC_THRESHOLD`` that threshold (Chroma applies it from the next start).

    Only a cost: a collection Chroma will not modify (a server that refuses it) keeps working as it is.
    """
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}  # the parsed form warns of legacy settings
    if hnsw.get("sync_threshold", HNSW_SYNC_THRESHOLD) <= HNSW_SYNC_THRESHOLD:
        return
    try:
        collection.modify(configuration={"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}})
    except Exception as exc:  # chromadb raises many types; the collection stays usable either way
        logger.warning("could not lower the vector index sync threshold of %s: %s", collection.name, exc)


def _indexed_text(text: str, level: Sensitivity | None = None) -> str:
    """What the lexical index gets: nothing of a sealed memory (its row stays, so counts still match Chroma)."""
    if text.startswith(SEALED_PREFIX) or (level is not None and is_sealed_level(level)):
        return ""
    return text


def _candidate(record: MemoryRecord, vector: Any, similarity: float, now: float) -> Candidate:
    """A memory as an MMR candidate."""
    return Candidate(
        id=record.id,
        text=record.text,
        embedding=np.asarray(vector, dtype=np.float32),
        # clipped: float error can leave a cosine a hair outside [-1, 1]
        similarity=min(1.0, max(-1.0, similarity)),
        # 100-900 -> 0.1-0.9 for MMR; the forgetting curve's retention weighs a faded memory down
        importance=record.importance / IMPORTANCE_SCALE * record.retention,
        recency=recency_score(now - record.created_at),
        metadata=record.to_dict(),
    )
