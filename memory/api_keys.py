"""API keys, stored only as SHA-256 hashes: a durable register on disk, and Redis as the hot-path cache.

Redis may lose its data (an external server without persistence restarts, an operator runs ``FLUSHALL``); if the
keys lived only there, every client would get 401 at once. So the register of record is an SQLite file in the data
dir (``api_keys.sqlite``, owner-only like the rest of the data dir; SQLite because every process of the app, the
``companion keys`` command included, can write it while others run, which the embedded Chroma store does not
allow). Every change is written there first, then to Redis; a key check is one ``HGETALL`` and only a key Redis
does not know is looked up in the register (a primary-key read), and put back into Redis when found. Keys created
before the register existed are copied into it when listed.

A key is 32 random bytes, so a fast hash is enough (no password stretching needed: there is nothing to
brute-force).

Redis keys:

- ``companion:apikey:{<sha256>}``  hash: key_id, name, scope (``user`` or ``admin``), user_id, created_at,
  tenant (``""`` on an operator admin key; ``default`` unless ``--tenant``), clearance (admin keys: the most
  sensitive memory level they are shown; keys stored before these fields read as tenant ``default`` and clearance
  ``chronological``)
- ``companion:apikeys``            hash: key_id -> sha256 (for listing and revoking by id)

The secret itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_random_exponential

from companion.core.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from memory.keys import hash_tag
from memory.records import DEFAULT_TENANT, validate_tenant, validate_user_id
from memory.redis_io import as_text
from memory.sensitivity import SHARED_MAX_LEVEL, Sensitivity
from memory.short_term import PREFIX

KEY_PREFIX = "cmp_"
INDEX_KEY = f"{PREFIX}:apikeys"
MAX_NAME_CHARS = 100


class KeyScope(StrEnum):
    """What a key may touch: one user's data, or everything (admin routes included)."""

    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never the secret)."""

    key_id: str
    name: str
    scope: KeyScope
    user_id: str
    created_at: float
    #: The tenant whose users this key may reach; ``""`` only on an operator admin key (every tenant).
    tenant: str = DEFAULT_TENANT
    #: Admin keys: the most sensitive memory level shown when reading users' memories (a user's own key always
    #: sees all of that user's memories).
    clearance: Sensitivity = SHARED_MAX_LEVEL

    @property
    def is_operator(self) -> bool:
        """An admin key of no tenant: every tenant's users and every admin listing (today's admin key)."""
        return self.scope is KeyScope.ADMIN and not self.tenant

    def to_dict(self) -> dict[str, str | float]:
        """A JSON-able dict."""
        data = asdict(self)
        data["scope"] = self.scope.value
        data["clearance"] = self.clearance.value
        return data


def hash_key(secret: str) -> str:
    """SHA-256 of a key, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _record_key(digest: str) -> str:
    return f"{PREFIX}:apikey:{hash_tag(digest)}"


#: The register's file name in the data dir.
REGISTER_FILE = "api_keys.sqlite"

_REGISTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (digest TEXT PRIMARY KEY, key_id TEXT NOT NULL UNIQUE, record TEXT NOT NULL)
"""


class KeyRegister:
    """The durable register of live keys: digest -> record, in one SQLite file (WAL; safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
            # Switching a new file to WAL takes an exclusive lock and SQLite reports "database is locked" at once,
            # without its busy timeout, when another process is doing the same: two processes starting together
            # (a worker beside the API) retry for a few seconds instead of failing.
            for attempt in Retrying(
                retry=retry_if_exception_type(sqlite3.OperationalError),
                stop=stop_after_delay(10),
                wait=wait_random_exponential(multiplier=0.05, max=1),
                reraise=True,
            ):
                with attempt:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute(_REGISTER_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open the API key register {path}: {exc}") from None

    def put(self, digest: str, key: ApiKey) -> None:
        """Record a live key (replacing an older record of the same digest)."""
        record = json.dumps(key.to_dict())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO api_keys (digest, key_id, record) VALUES (?, ?, ?)",
                (digest, key.key_id, record),
            )

    def get(self, digest: str) -> ApiKey | None:
        """The live key of ``digest``, or None."""
        with self._lock:
            row = self._db.execute("SELECT record FROM api_keys WHERE digest = ?", (digest,)).fetchone()
        return _from_record(json.loads(row[0])) if row else None

    def find(self, key_id: str) -> tuple[str, ApiKey] | None:
        """(digest, key) of the live key with ``key_id``, or None."""
        with self._lock:
            row = self._db.execute("SELECT digest, record FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return (row[0], _from_record(json.loads(row[1]))) if row else None

    def all(self) -> dict[str, ApiKey]:
        """Every live key by digest."""
        with self._lock:
            rows = self._db.execute("SELECT digest, record FROM api_keys").fetchall()
        return {digest: _from_record(json.loads(record)) for digest, record in rows}

    def delete(self, digest: str) -> None:
        """Forget a key (revoked)."""
        with self._lock:
            self._db.execute("DELETE FROM api_keys WHERE digest = ?", (digest,))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class ApiKeyStore:
    """Create, resolve, list and revoke API keys (the register first, then Redis)."""

    def __init__(self, redis: Redis, register: KeyRegister) -> None:
        self._redis = redis
        self._register = register

    async def create(
        self,
        *,
        scope: KeyScope,
        user_id: str = "",
        name: str = "",
        tenant: str | None = None,
        clearance: Sensitivity = SHARED_MAX_LEVEL,
    ) -> tuple[str, ApiKey]:
        """A new key; returns (secret, stored record). The secret is not recoverable afterwards.

        ``tenant``: a user key belongs to the ``default`` tenant unless given one; an admin key without a tenant
        is an operator key (every tenant), with one a tenant admin (that tenant's users and listings only).
        """
        if scope is KeyScope.USER:
            validate_user_id(user_id)
            tenant = validate_tenant(tenant) if tenant is not None else DEFAULT_TENANT
        else:
            if user_id:
                raise InvalidInputError("an admin key is not tied to a user; drop --user")
            tenant = validate_tenant(tenant) if tenant is not None else ""
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInputError(f"key name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = hash_key(secret)
        key = ApiKey(
            key_id=digest[:16],
            name=name,
            scope=scope,
            user_id=user_id,
            created_at=time.time(),
            tenant=tenant,
            clearance=Sensitivity(clearance),
        )
        await asyncio.to_thread(self._register.put, digest, key)
        await self._cache(digest, key)
        return secret, key

    async def _cache(self, digest: str, key: ApiKey) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                fields: dict[str | bytes, str | bytes] = {k: str(v) for k, v in key.to_dict().items()}
                pipe.hset(_record_key(digest), mapping=fields)  # type: ignore[arg-type]
                pipe.hset(INDEX_KEY, key.key_id, digest)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc

    async def resolve(self, secret: str) -> ApiKey | None:
        """The live key for ``secret``, or ``None`` if unknown or revoked."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        digest = hash_key(secret)
        try:
            raw = await self._redis.hgetall(_record_key(digest))
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if raw:
            return _from_redis(raw)
        key = await asyncio.to_thread(self._register.get, digest)
        if key is not None:  # Redis lost it (a restart without persistence, a flush): the register still has it
            await self._cache(digest, key)
        return key

    async def _by_digest(self) -> dict[str, ApiKey]:
        """Every live key by digest: the register's, and any only Redis knows, copied into the register.

        (Keys created before the register existed are only in Redis; listing moves them over.)
        """
        keys = await asyncio.to_thread(self._register.all)
        for digest in map(as_text, await self._redis.hvals(INDEX_KEY)):
            if digest in keys:
                continue
            raw = await self._redis.hgetall(_record_key(digest))
            if raw:
                keys[digest] = _from_redis(raw)
                await asyncio.to_thread(self._register.put, digest, keys[digest])
        return keys

    async def list(self) -> list[ApiKey]:
        """Every live key, oldest first."""
        return sorted((await self._by_digest()).values(), key=lambda key: key.created_at)

    async def resolve_id(self, prefix: str) -> str:
        """The id of the one live key whose id starts with ``prefix`` (a whole id is its own prefix).

        ``NotFoundError`` when none does; ``InvalidInputError`` naming the candidates when several do.
        """
        matches = sorted(key.key_id for key in await self.list() if key.key_id.startswith(prefix))
        if not prefix or not matches:
            raise NotFoundError(f"no API key with id {prefix!r} (companion keys list shows them)")
        if len(matches) > 1 and prefix not in matches:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise InvalidInputError(f"{prefix!r} matches {len(matches)} API keys ({shown}); give more of the id")
        return prefix if prefix in matches else matches[0]

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id (as ``list`` shows it); ``NotFoundError`` if there is none."""
        found = await asyncio.to_thread(self._register.find, key_id)
        if found is None:
            digest = await self._redis.hget(INDEX_KEY, key_id)
            raw = await self._redis.hgetall(_record_key(as_text(digest))) if digest is not None else {}
            if not raw:
                raise NotFoundError(f"no API key with id {key_id!r}")
            found = (as_text(digest), _from_redis(raw))
        digest, key = found
        await asyncio.to_thread(self._register.delete, digest)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_record_key(digest))
            pipe.hdel(INDEX_KEY, key_id)
            await pipe.execute()
        return key

    async def revoke_user(self, user_id: str) -> int:
        """Revoke every key tied to ``user_id`` (used when a user is erased); returns how many."""
        revoked = 0
        for key in await self.list():
            if key.scope is KeyScope.USER and key.user_id == user_id:
                await self.revoke(key.key_id)
                revoked += 1
        return revoked


def _from_redis(raw: Mapping[Any, Any]) -> ApiKey:
    return _from_record({as_text(k): as_text(v) for k, v in raw.items()})


def _from_record(record: Mapping[str, Any]) -> ApiKey:
    data = {k: str(v) for k, v in record.items()}
    return ApiKey(
        key_id=data["key_id"],
        name=data.get("name", ""),
        scope=KeyScope(data["scope"]),
        user_id=data.get("user_id", ""),
        created_at=float(data.get("created_at", 0.0)),
        # Keys stored before tenants: user keys are the default tenant's, admin keys operator keys (as before).
        tenant=data.get("tenant", DEFAULT_TENANT if data["scope"] == KeyScope.USER.value else ""),
        clearance=Sensitivity(data.get("clearance") or SHARED_MAX_LEVEL.value),
    )
