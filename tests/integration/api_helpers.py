"""Helpers for API tests: an app over the session's Redis and a fresh data dir, and API keys made in that Redis."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient
from redis.asyncio import Redis

from app.main import create_app
from companion.core.settings import load_settings
from memory.api_keys import REGISTER_FILE, ApiKeyStore, KeyRegister, KeyScope
from memory.sensitivity import SHARED_MAX_LEVEL, Sensitivity


def api_client(tmp_path: Path, redis_url: str, *, as_served: bool = False, **overrides: object) -> TestClient:
    """``as_served``: an unexpected exception gives the response a client of the real server gets, not a raise."""
    settings = load_settings(data_dir=tmp_path, redis_url=redis_url, **overrides)
    return TestClient(create_app(settings), raise_server_exceptions=not as_served)


def make_key(
    redis_url: str,
    *,
    user_id: str = "",
    admin: bool = False,
    tenant: str | None = None,
    clearance: str = SHARED_MAX_LEVEL.value,
    data_dir: Path | None = None,
) -> dict[str, str]:
    """A new API key as request headers (of ``tenant`` if given; an admin key's ``clearance``).

    Without ``data_dir`` the key's durable record goes to a register of the test session's own; the apps under test
    find it in Redis, as they find any key, and only a test about the register itself needs it in the app's.
    """
    register = KeyRegister((data_dir or _SESSION_REGISTER_DIR) / REGISTER_FILE)

    async def create() -> str:
        redis = Redis.from_url(redis_url)
        try:
            secret, _ = await ApiKeyStore(redis, register).create(
                scope=KeyScope.ADMIN if admin else KeyScope.USER,
                user_id=user_id,
                name="test",
                tenant=tenant,
                clearance=Sensitivity(clearance),
            )
            return secret
        finally:
            await redis.aclose()

    try:
        return {"Authorization": f"Bearer {asyncio.run(create())}"}
    finally:
        register.close()


_SESSION_REGISTER_DIR = Path(tempfile.mkdtemp(prefix="companion-test-keys-"))
atexit.register(shutil.rmtree, _SESSION_REGISTER_DIR, ignore_errors=True)  # a test run leaves nothing in /tmp
