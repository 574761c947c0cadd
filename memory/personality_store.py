"""Durable personality state, one JSON document per (user, persona): Chroma is the source of truth, Redis a cache.

Why Chroma: it is the project's durable store (the long-term memories already live there, persisted on disk),
so the state survives a restart of every process *and* a Redis flush without adding a third store. The state
is written to Chroma first and then to Redis (like a memory); a read tries Redis, falls back to Chroma and puts
what it found back in Redis. The state is small (a few KB), so one ``upsert`` per turn is cheap.

Layout: one collection, ``<namespace>-personality``, one record per (user, persona) whose id is a hash of both;
the document is the JSON state, the metadata names the user and persona (checked on every read, as the
long-term store does). Chroma needs a vector per record: these records carry a constant 1-d vector and are
never searched by similarity. Redis key: ``companion:u:{<user>}:personality:{<persona>}`` (with the user's
other short-term keys, so ``ShortTermStore.forget_user`` drops it too).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.errors import StoreUnavailableError
from memory.records import validate_user_id
from memory.short_term import PREFIX

logger = logging.getLogger(__name__)

#: How long the Redis copy lives after its last write (Chroma keeps the state regardless).
CACHE_TTL_SECONDS = 7 * 86_400
_VECTOR = np.ones((1, 1), dtype=np.float32)


def state_key(user_id: str, persona: str) -> str:
    """Redis key of a cached personality state."""
    return f"{PREFIX}:u:{{{user_id}}}:personality:{{{persona}}}"


def state_id(user_id: str, persona: str) -> str:
    """Chroma record id of a personality state."""
    return hashlib.sha256(f"{user_id}\x00{persona}".encode()).hexdigest()[:40]


class PersonalityStore:
    """Load and save personality states (JSON-able dicts) per (user, persona)."""

    def __init__(self, chroma: ClientAPI, redis: Redis, *, namespace: str = "companion") -> None:
        self._chroma = chroma
        self._redis = redis
        self._name = f"{namespace}-personality"
        self._collection: Collection | None = None
        self._lock = threading.Lock()

    def _records(self) -> Collection:
        with self._lock:
            if self._collection is None:
                try:
                    self._collection = self._chroma.get_or_create_collection(
                        self._name, metadata={"companion_kind": "personality-state"}, embedding_function=None
                    )
                except Exception as exc:  # chromadb raises many types for I/O problems; report them as one
                    raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
            return self._collection

    # -- Chroma (source of truth) -------------------------------------------------------------------------
    def read_durable(self, user_id: str, persona: str) -> dict[str, Any] | None:
        """The state as Chroma has it, or ``None``."""
        validate_user_id(user_id)
        try:
            result = self._records().get(ids=[state_id(user_id, persona)], include=["documents", "metadatas"])
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        if not result["ids"]:
            return None
        metadata = dict((result["metadatas"] or [{}])[0] or {})
        if metadata.get("user_id") != user_id or metadata.get("persona") != persona:
            logger.error("dropped a personality state that does not belong to %s/%s", user_id, persona)
            return None
        document = (result["documents"] or [""])[0] or ""
        data: dict[str, Any] = json.loads(document)
        return data

    def write_durable(self, user_id: str, persona: str, state: dict[str, Any]) -> None:
        """Write the state to Chroma."""
        validate_user_id(user_id)
        try:
            self._records().upsert(
                ids=[state_id(user_id, persona)],
                documents=[json.dumps(state, separators=(",", ":"))],
                metadatas=[{"user_id": user_id, "persona": persona, "updated_at": time.time()}],
                embeddings=_VECTOR,
            )
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc

    def delete_durable(self, user_id: str, persona: str) -> None:
        """Forget the state in Chroma."""
        validate_user_id(user_id)
        self._records().delete(ids=[state_id(user_id, persona)])

    # -- with the Redis cache -----------------------------------------------------------------------------
    async def load(self, user_id: str, persona: str) -> tuple[dict[str, Any] | None, str]:
        """The state and where it came from: ``redis``, ``chroma`` (and put back in Redis) or ``new`` (none)."""
        key = state_key(user_id, persona)
        try:
            cached = await self._redis.get(key)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if cached:
            data: dict[str, Any] = json.loads(cached)
            if data.get("user_id") == user_id:
                return data, "redis"
        durable = await asyncio.to_thread(self.read_durable, user_id, persona)
        if durable is None:
            return None, "new"
        await self._cache(key, durable)
        return durable, "chroma"

    async def save(self, user_id: str, persona: str, state: dict[str, Any]) -> None:
        """Write the state to Chroma first (source of truth), then to the Redis cache."""
        await asyncio.to_thread(self.write_durable, user_id, persona, state)
        await self._cache(state_key(user_id, persona), state)

    async def _cache(self, key: str, state: dict[str, Any]) -> None:
        try:
            await self._redis.set(key, json.dumps(state, separators=(",", ":")), ex=CACHE_TTL_SECONDS)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
