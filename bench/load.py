"""Load test: simulated users against a local ``companion serve`` (offline responder), paced and saturated.

    .venv/bin/python bench/load.py                                  # both scenarios, 200 users (~5 min on 2 CPUs)
    .venv/bin/python bench/load.py --baseline-source /tmp/main-copy   # also the same scenarios on another checkout

Starts the API under uvicorn in a subprocess on a fresh data dir (embedded Redis, in-process Chroma), gives every
simulated user their own API key, then runs two scenarios, each with its own users:

* **paced** (the realistic case), for ``--duration-s`` (default 120 s): each user thinks (exponentially distributed,
  mean ``--think-s``, default 30 s; the first wait is uniform within one mean think time, so users arrive spread
  out rather than all at the same instant), then acts: a chat turn, except that every fifth action reads its
  memories (list, search, get one, in turn). This is a closed system: ``U`` users with mean think time ``Z`` and
  response time ``R`` offer ``U / (Z + R)`` requests per second, about 200 / 30 ≈ 6.7 requests/s (5.3 chat
  turns/s) with the defaults: a community of 200 people chatting at the same time, each sending a message about
  every half minute.
* **saturation**: every user at once with no think time: ``--turns`` chat turns (default 5), then list, search and
  get one memory, back to back. This measures the server's maximum throughput, and what queueing does to latency
  when far more is offered than it serves (latency is then the queue, not the work).

Reports per scenario and route p50/p95/p99/max latency, requests, error rate, throughput, and the server's own
time for a chat turn (the sum of the turn's ``timings_ms`` stages, critical path only) so that the client's latency
can be split into work and waiting. With ``--baseline-source DIR`` a second server runs from the checkout in DIR
(``PYTHONPATH``) beside this one, and each scenario runs on the baseline and then on the current server, so a change
is measured against its baseline in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memory.api_keys import REGISTER_FILE, ApiKeyStore, KeyRegister, KeyScope  # noqa: E402
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
CHAT = "POST /v1/chat"
#: Stages of a turn that run in parallel with ``retrieve`` or inside it: left out of the server-side sum.
OFF_CRITICAL_PATH = {"retrieve", "load_context", "load_personality", "score_importance"}


@dataclass
class Samples:
    """What one scenario measured."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # 4xx/5xx and failed connections
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # no response at all
    server_turn: list[float] = field(default_factory=list)
    screen: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _make_keys(data_dir: Path, users: list[str]) -> dict[str, str]:
    redis = Redis.from_url(EmbeddedRedis(data_dir).url)
    register = KeyRegister(data_dir / REGISTER_FILE)
    try:
        store = ApiKeyStore(redis, register)
        return {user: (await store.create(scope=KeyScope.USER, user_id=user, name="load"))[0] for user in users}
    finally:
        register.close()
        await redis.aclose()


async def _user(
    client: httpx.AsyncClient,
    user: str,
    key: str,
    *,
    turns: int,
    think_s: float,
    until: float | None,
    samples: Samples,
    seed: int,
) -> None:
    """One simulated user. Saturation (``until`` None): ``turns`` chats, then list, search, get, back to back.

    Paced: until ``until`` (a ``perf_counter`` time), think (exponential, mean ``think_s``; the first wait is
    uniform in ``[0, think_s]``) then act: a chat turn, except every fifth action reads memories (list, search,
    get one, in turn).
    """
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    memory_ids: list[str] = []

    async def call(route: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError:
            samples.errors[route] += 1
            samples.failed[route] += 1
            return None
        samples.latency[route].append((time.perf_counter() - started) * 1000.0)
        if response.status_code >= 400:
            samples.errors[route] += 1
        return response

    async def chat() -> None:
        message = rng.choice(MESSAGES).format(name=rng.choice(NAMES))
        response = await call(CHAT, "POST", "/v1/chat", json={"user_id": user, "message": message})
        if response is not None and response.status_code == 200:
            body = response.json()
            samples.screen.append(body["timings_ms"].get("screen", 0.0))
            samples.server_turn.append(server_turn_ms(body["timings_ms"]))
            if body.get("memory_id"):
                memory_ids.append(body["memory_id"])

    async def read(which: int) -> None:
        if which == 0:
            await call("GET /v1/users/{id}/memories", "GET", f"/v1/users/{user}/memories")
        elif which == 1:
            await call("GET /v1/users/{id}/memories?q=", "GET", f"/v1/users/{user}/memories", params={"q": "my dog"})
        elif memory_ids:
            memory_id = rng.choice(memory_ids)
            await call("GET /v1/users/{id}/memories/{mid}", "GET", f"/v1/users/{user}/memories/{memory_id}")

    if until is None:
        for _ in range(turns):
            await chat()
        for which in range(3):
            await read(which)
        return
    await asyncio.sleep(min(rng.uniform(0, think_s), max(0.0, until - time.perf_counter())))
    action = 0
    while time.perf_counter() < until:
        if action % 5 == 4:
            await read((action // 5) % 3)
        else:
            await chat()
        action += 1
        await asyncio.sleep(min(rng.expovariate(1.0 / think_s), max(0.0, until - time.perf_counter())))


def server_turn_ms(timings: dict[str, float]) -> float:
    """The server's own time for a turn: its stages on the critical path (the parallel loaders are left out)."""
    return sum(value for stage, value in timings.items() if stage not in OFF_CRITICAL_PATH)


def summarise(
    samples: Samples, wall_s: float, *, users: int, turns: int, think_s: float, duration_s: float | None
) -> dict[str, Any]:
    """Per-route latencies, error rates and throughput of one scenario."""
    routes = {}
    for route in sorted(set(samples.latency) | set(samples.errors)):
        values = samples.latency.get(route, [])
        attempts = len(values) + samples.failed.get(route, 0)
        routes[route] = {
            "requests": attempts,
            "errors": samples.errors.get(route, 0),
            "error_rate": round(samples.errors.get(route, 0) / max(1, attempts), 4),
            "p50_ms": round(statistics.median(values), 1) if values else None,
            "p95_ms": round(_percentile(values, 0.95), 1) if values else None,
            "p99_ms": round(_percentile(values, 0.99), 1) if values else None,
            "max_ms": round(max(values), 1) if values else None,
        }
    total = sum(len(values) for values in samples.latency.values()) + sum(samples.failed.values())
    chat = samples.latency.get(CHAT, [])
    server = samples.server_turn
    return {
        "users": users,
        "turns_per_user": None if duration_s else turns,
        "duration_s": duration_s,
        "think_s_mean": think_s,
        "offered_requests_per_s": round(users / think_s, 2) if think_s > 0 else None,
        "wall_s": round(wall_s, 2),
        "requests": total,
        "throughput_rps": round(total / wall_s, 2),
        "chat_turns_per_s": round(len(chat) / wall_s, 2),
        "errors": sum(samples.errors.values()),
        "error_rate": round(sum(samples.errors.values()) / max(1, total), 4),
        "routes": routes,
        "server_turn_ms": {
            "p50": round(statistics.median(server), 2) if server else None,
            "p95": round(_percentile(server, 0.95), 2) if server else None,
        },
        "guard": {
            "screen_p50_ms": round(statistics.median(samples.screen), 3) if samples.screen else None,
            "screen_share_of_turn": round(statistics.median(samples.screen) / statistics.median(server), 4)
            if samples.screen and server
            else None,
        },
    }


async def _scenario(
    client: httpx.AsyncClient,
    keys: dict[str, str],
    users: list[str],
    *,
    turns: int,
    think_s: float,
    duration_s: float | None,
) -> dict[str, Any]:
    samples = Samples()
    started = time.perf_counter()
    until = started + duration_s if duration_s else None
    await asyncio.gather(
        *(
            _user(client, user, keys[user], turns=turns, think_s=think_s, until=until, samples=samples, seed=index)
            for index, user in enumerate(users)
        )
    )
    wall = time.perf_counter() - started
    return summarise(samples, wall, users=len(users), turns=turns, think_s=think_s, duration_s=duration_s)


@dataclass
class Server:
    """One ``companion serve`` subprocess on its own data dir."""

    name: str
    source: Path | None
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]


def start_server(name: str, data_dir: Path, source: Path | None) -> Server:
    """Start a server (from the checkout ``source`` when given, through ``PYTHONPATH``) on a fresh data dir."""
    port = _free_port()
    env = {**os.environ, "COMPANION_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    for variable in ("COMPANION_REDIS_URL", "COMPANION_CHROMA_URL", "COMPANION_CHAT_MODEL"):
        env.pop(variable, None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "companion"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=str(source or ROOT),
    )
    return Server(name=name, source=source, data_dir=data_dir, port=port, process=process)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_server(server: Server) -> None:
    """Stop the server and its embedded Redis."""
    server.process.terminate()
    server.process.wait(timeout=30)
    EmbeddedRedis(server.data_dir).stop()


async def run_scenario(server: Server, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    """Wait for the server, give the scenario's users their keys, run them."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        timeout=300,
        trust_env=False,
        limits=httpx.Limits(max_connections=args.users, max_keepalive_connections=args.users),
    ) as client:
        for _ in range(900):
            try:
                if (await client.get("/health")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        else:
            raise SystemExit(f"the {server.name} server did not come up")
        users = [f"load-{scenario}-{index:04d}" for index in range(args.users)]
        keys = await _make_keys(server.data_dir, users)
        paced = scenario == "paced"
        print(f"  {server.name}: {scenario} ({args.users} users) ...", file=sys.stderr, flush=True)
        cpu_before = cpu_seconds(server.process.pid)
        result = await _scenario(
            client,
            keys,
            users,
            turns=args.turns,
            think_s=args.think_s if paced else 0.0,
            duration_s=args.duration_s if paced else None,
        )
        cpu = cpu_seconds(server.process.pid) - cpu_before
        result["server_cpu_s"] = round(cpu, 2)
        result["server_cpu_cores"] = round(cpu / result["wall_s"], 2)  # average cores the server process kept busy
        result["server_cpu_ms_per_request"] = round(1000.0 * cpu / max(1, result["requests"]), 2)
        return result


def _print_table(name: str, report: dict[str, Any]) -> None:
    print(f"\n{name}")
    for scenario in ("paced", "saturation"):
        if scenario not in report:
            continue
        figures = report[scenario]
        print(
            f"  {scenario}: {figures['requests']} requests in {figures['wall_s']} s, {figures['throughput_rps']} req/s "
            f"({figures['chat_turns_per_s']} chat turns/s), error rate {figures['error_rate']}, "
            f"server-side turn p50 {figures['server_turn_ms']['p50']} / p95 {figures['server_turn_ms']['p95']} ms, "
            f"server CPU {figures['server_cpu_cores']} cores, {figures['server_cpu_ms_per_request']} ms/request"
        )
        for route, row in figures["routes"].items():
            print(
                f"    {route:38} n={row['requests']:5}  p50 {row['p50_ms']:>9}  p95 {row['p95_ms']:>9}  "
                f"p99 {row['p99_ms']:>9}  errors {row['errors']}"
            )


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    with contextlib.ExitStack() as stack:
        servers = []
        if args.baseline_source is not None:  # both servers run at once; the scenarios alternate between them
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="companion-load-")))
            servers.append(start_server("baseline", directory, args.baseline_source))
            stack.callback(stop_server, servers[-1])
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="companion-load-")))
        servers.append(start_server("current", directory, None))
        stack.callback(stop_server, servers[-1])
        for server in servers:
            report[server.name] = {"source": str(server.source) if server.source else "this checkout"}
        for scenario in args.scenarios:
            for server in servers:
                report[server.name][scenario] = await run_scenario(server, scenario, args)
    report["load_average_after"] = os.getloadavg()
    return report


def main() -> int:
    """Run the load test and print/write its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="simulated users per scenario (default 200)")
    parser.add_argument("--turns", type=int, default=5, help="chat turns per user when saturating (default 5)")
    parser.add_argument("--duration-s", type=float, default=120.0, help="length of the paced scenario (120 s)")
    parser.add_argument("--think-s", type=float, default=30.0, help="mean think time in the paced scenario (30 s)")
    parser.add_argument(
        "--scenarios",
        type=lambda text: [item for item in text.split(",") if item],
        default=["paced", "saturation"],
        help="comma-separated: paced, saturation (default both)",
    )
    parser.add_argument("--baseline-source", type=Path, help="a checkout to run the same scenarios on first")
    parser.add_argument(
        "--json-out", type=Path, default=ROOT / "bench" / "results" / f"load-{time.strftime('%Y-%m-%d')}.json"
    )
    args = parser.parse_args()
    unknown = set(args.scenarios) - {"paced", "saturation"}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    report = asyncio.run(_main(args))
    if "baseline" in report:
        _print_table(f"baseline ({report['baseline']['source']})", report["baseline"])
    _print_table("current", report["current"])
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {args.json_out}")
    return 0 if report["current"].get("paced", report["current"].get("saturation", {})).get("errors", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
