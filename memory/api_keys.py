"""API keys in Redis, stored only as SHA-256 hashes.

Why Redis: the project's Redis is durable (the embedded server runs with AOF, ``appendfsync everysec``), every
process of the app already talks to it, and a key check is one ``HGETALL`` on the hot path. A key is 32 random
bytes, so a fast hash is enough (no password stretching needed: there is nothing to brute-force).

Keys:

- ``companion:apikey:{<sha256>}``  hash: key_id, name, scope (``user`` or ``admin``), user_id, created_at,
  tenant (``""`` on an operator admin key; ``default`` unless ``--tenant``), clearance (admin keys: the most
  sensitive memory level they are shown; keys stored before these fields read as tenant ``default`` and clearance
  ``chronological``)
- ``companion:apikeys``            hash: key_id -> sha256 (for listing and revoking by id)

The secret itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.errors import InvalidInputError, NotFoundError, StoreUnavailableError
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


class ApiKeyStore:
    """Create, resolve, list and revoke API keys."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

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
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                fields: dict[str | bytes, str | bytes] = {k: str(v) for k, v in key.to_dict().items()}
                pipe.hset(_record_key(digest), mapping=fields)  # type: ignore[arg-type]
                pipe.hset(INDEX_KEY, key.key_id, digest)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return secret, key

    async def resolve(self, secret: str) -> ApiKey | None:
        """The live key for ``secret``, or ``None`` if unknown or revoked."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        try:
            raw = await self._redis.hgetall(_record_key(hash_key(secret)))
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return _from_redis(raw) if raw else None

    async def list(self) -> list[ApiKey]:
        """Every live key, oldest first."""
        digests = await self._redis.hvals(INDEX_KEY)
        keys = []
        for digest in digests:
            raw = await self._redis.hgetall(_record_key(as_text(digest)))
            if raw:
                keys.append(_from_redis(raw))
        return sorted(keys, key=lambda key: key.created_at)

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id (as ``list`` shows it); ``NotFoundError`` if there is none."""
        digest = await self._redis.hget(INDEX_KEY, key_id)
        if digest is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        raw = await self._redis.hgetall(_record_key(as_text(digest)))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_record_key(as_text(digest)))
            pipe.hdel(INDEX_KEY, key_id)
            await pipe.execute()
        return _from_redis(raw) if raw else ApiKey(key_id, "", KeyScope.USER, "", 0.0)

    async def revoke_user(self, user_id: str) -> int:
        """Revoke every key tied to ``user_id`` (used when a user is erased); returns how many."""
        revoked = 0
        for key in await self.list():
            if key.scope is KeyScope.USER and key.user_id == user_id:
                await self.revoke(key.key_id)
                revoked += 1
        return revoked


def _from_redis(raw: Mapping[Any, Any]) -> ApiKey:
    data = {as_text(k): as_text(v) for k, v in raw.items()}
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
