"""A long-running process brings the embedded Redis back when it dies (serve and the bots run the supervisor)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import redis

from companion.core.settings import load_settings
from companion.services import supervise_embedded_redis
from memory.embedded import EmbeddedRedis


async def test_a_killed_embedded_redis_is_restarted_with_its_data(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    server = EmbeddedRedis(tmp_path)
    server.ensure_running()
    client = redis.Redis.from_url(server.url)
    client.set("kept", "yes")
    client.bgrewriteaof()
    while client.info("persistence")["aof_rewrite_in_progress"]:
        await asyncio.sleep(0.05)
    client.close()
    supervisor = asyncio.create_task(supervise_embedded_redis(settings, interval=0.05))
    try:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while server.pid in (None, pid) or not server.is_running():
            assert time.monotonic() < deadline, "the embedded Redis was not restarted"
            await asyncio.sleep(0.05)
        client = redis.Redis.from_url(server.url)
        assert client.get("kept") == b"yes"
        client.close()
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        server.stop()


async def test_a_configured_redis_is_not_supervised(tmp_path: Path, redis_url: str) -> None:
    settings = load_settings(data_dir=tmp_path, redis_url=redis_url)
    await asyncio.wait_for(supervise_embedded_redis(settings, interval=0.01), timeout=5)  # returns at once
    assert not (tmp_path / "redis").exists()
