"""Load test: N concurrent simulated users against a local ``companion serve`` (offline responder).

    .venv/bin/python bench/load.py [--users 200] [--turns 5] [--json-out bench/results/load-<date>.json]

Starts the API under uvicorn in a subprocess on a fresh data dir (embedded Redis, in-process Chroma), gives every
simulated user their own API key, then runs all users at once: each sends ``--turns`` chat messages, lists its
memories, searches them and fetches one. Reports p50/p95/max per route, errors, throughput, and the
guard's share of a turn (the server's own ``timings_ms.screen``) against the whole turn, as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memory.api_keys import ApiKeyStore, KeyScope  # noqa: E402
from memory.embedded import EmbeddedRedis  # noqa: E402

MESSAGES = [
    "My dog {name} loves the beach.",
    "I started learning the cello last month.",
    "Work was stressful today, the deadline moved again.",
    "My sister {name} is visiting next weekend.",
    "I think I'll try baking sourdough bread.",
    "We went hiking near the lake on Sunday.",
    "Do you remember what my dog is called?",
    "I'm reading a novel about a lighthouse keeper.",
]
NAMES = ["Miso", "Biscuit", "Luna", "Pepper", "Nora", "Otto"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _make_keys(data_dir: Path, users: list[str]) -> dict[str, str]:
    redis = Redis.from_url(EmbeddedRedis(data_dir).url)
    try:
        store = ApiKeyStore(redis)
        return {user: (await store.create(scope=KeyScope.USER, user_id=user, name="load"))[0] for user in users}
    finally:
        await redis.aclose()


async def _user(
    client: httpx.AsyncClient,
    user: str,
    key: str,
    turns: int,
    samples: dict[str, list[float]],
    errors: dict[str, int],
    screen: list[float],
    turn_ms: list[float],
    seed: int,
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}

    async def call(route: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError:
            errors[route] += 1
            return None
        samples[route].append((time.perf_counter() - started) * 1000.0)
        if response.status_code >= 400:
            errors[route] += 1
        return response

    for _ in range(turns):
        message = rng.choice(MESSAGES).format(name=rng.choice(NAMES))
        response = await call("POST /v1/chat", "POST", "/v1/chat", json={"user_id": user, "message": message})
        if response is not None and response.status_code == 200:
            timings = response.json()["timings_ms"]
            screen.append(timings.get("screen", 0.0))
            turn_ms.append(sum(v for k, v in timings.items() if k not in {"retrieve"}))
    await call("GET /v1/users/{id}/memories", "GET", f"/v1/users/{user}/memories")
    found = await call("GET /v1/users/{id}/memories?q=", "GET", f"/v1/users/{user}/memories", params={"q": "my dog"})
    if found is not None and found.status_code == 200 and found.json()["memories"]:
        memory_id = found.json()["memories"][0]["id"]
        await call("GET /v1/users/{id}/memories/{mid}", "GET", f"/v1/users/{user}/memories/{memory_id}")


async def _run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("COMPANION_REDIS_URL", None)
    env.pop("COMPANION_CHROMA_URL", None)
    env.pop("COMPANION_CHAT_MODEL", None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "companion"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=120, trust_env=False, limits=httpx.Limits(max_connections=args.users)
        ) as client:
            for _ in range(600):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise SystemExit("the server did not come up")
            users = [f"load-{index:04d}" for index in range(args.users)]
            keys = await _make_keys(data_dir, users)
            samples: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, int] = defaultdict(int)
            screen: list[float] = []
            turn_ms: list[float] = []
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    _user(client, user, keys[user], args.turns, samples, errors, screen, turn_ms, index)
                    for index, user in enumerate(users)
                )
            )
            wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        EmbeddedRedis(data_dir).stop()
    routes = {}
    for route, values in samples.items():
        count = len(values) + (errors[route] if not values else 0)
        routes[route] = {
            "requests": len(values),
            "errors": errors[route],
            "error_rate": round(errors[route] / max(1, count), 4),
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(_percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
        }
    total = sum(len(v) for v in samples.values())
    return {
        "users": args.users,
        "turns_per_user": args.turns,
        "wall_s": round(wall, 2),
        "requests": total,
        "throughput_rps": round(total / wall, 1),
        "errors": sum(errors.values()),
        "routes": routes,
        "guard": {
            "screen_p50_ms": round(statistics.median(screen), 3) if screen else None,
            "turn_server_p50_ms": round(statistics.median(turn_ms), 3) if turn_ms else None,
            "screen_share_of_turn": round(statistics.median(screen) / statistics.median(turn_ms), 4)
            if screen and turn_ms
            else None,
        },
    }


def main() -> int:
    """Run the load test and print/write its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument(
        "--json-out", type=Path, default=ROOT / "bench" / "results" / f"load-{time.strftime('%Y-%m-%d')}.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-load-") as directory:
        report = asyncio.run(_run(args, Path(directory)))
    print(json.dumps(report, indent=2))
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
