"""Benchmark the association worker offline: messages/s with 1 and 2 workers, and the chat-turn latency while a
worker runs compared with idle, in one run.

Run from the repo root::

    .venv/bin/python bench/association.py                       # about 2 minutes on 2 CPUs
    .venv/bin/python bench/association.py --messages 4000 --users 4

Set-up (embedded Redis in a temporary data dir, in-process Chroma, the real embedder, no chat model): ``--users``
users each get ``--memories`` stored memories (a quarter semantic, so versions happen); then, for each worker
count, ``--messages`` fresh messages are stored as chat turns store them (text, embedding, and a detection:
intensity and importance drawn so that about 65 % carry an emotional signal and every branch is taken) and put on
the association stream; the clock runs from the first tick until the stream is drained. Two workers are two
consumers of the group running concurrently in this process (the Chroma and ONNX calls release the GIL).

Chat-turn latency: ``--turns`` offline turns of the conversation graph (same stores) while nothing else runs,
then the same number while one worker drains a backlog in the same process (a worker would normally be another
process: sharing one event loop and GIL makes this the pessimistic case), interleaved in blocks so machine noise
hits both alike. Reports p50/p95 of both and their ratio.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb  # noqa: E402
from chromadb.config import Settings as ChromaSettings  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from companion.runtime.worker import AssociationWorker  # noqa: E402
from graphs.association import build_graph as build_association  # noqa: E402
from graphs.conversation import build_graph as build_conversation  # noqa: E402
from graphs.conversation import run_turn  # noqa: E402
from memory.association_queue import AssociationQueue  # noqa: E402
from memory.embedded import EmbeddedRedis  # noqa: E402
from memory.embeddings import load_embedder  # noqa: E402
from memory.links import LinkStore  # noqa: E402
from memory.long_term import LongTermStore  # noqa: E402
from memory.records import MemoryKind, MemoryRecord, new_id  # noqa: E402
from memory.short_term import ASSOCIATION_STREAM, ShortTermStore  # noqa: E402

console = Console()

SUBJECTS = [
    "my dog Rex",
    "my sister Ana",
    "the cello lessons",
    "my new job",
    "the trip to Lisbon",
    "my garden",
    "my best friend Tom",
    "the marathon training",
    "my grandmother",
    "the flat upstairs",
    "my cat Miso",
    "the team at work",
    "my driving test",
    "the book club",
    "my knee injury",
    "the wedding in June",
]
VERBS = [
    "makes me so happy",
    "worries me a lot",
    "was on my mind all day",
    "surprised me today",
    "is going better than I hoped",
    "annoyed me this morning",
    "is what I keep talking about",
]
DETAILS = ["again", "this week", "since Monday", "after dinner", "more than ever", "for once", "at last"]
CATEGORIES = ["person", "event", "interest", "problem", "goal"]
EMOTIONS = ["happiness", "sadness", "anxiety", "excitement", "anger", "love"]


def text(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(DETAILS)}."


def records_for(user: str, count: int, rng: random.Random, *, stored: bool) -> list[MemoryRecord]:
    out = []
    for _ in range(count):
        out.append(
            MemoryRecord(
                id=new_id(),
                user_id=user,
                text=text(rng),
                kind=MemoryKind.SEMANTIC if stored and rng.random() < 0.25 else MemoryKind.EPISODIC,
                importance=rng.choice([300, 500, 700, 900]),
                category=rng.choice(CATEGORIES),
                emotion=rng.choice(EMOTIONS),
                emotion_intensity=rng.choice([10, 25, 40, 60, 80, 95]) if not stored else 50,
                created_at=time.time(),
            )
        )
    return out


def store(long_term: LongTermStore, embedder: Any, records: list[MemoryRecord]) -> None:
    by_user: dict[str, list[MemoryRecord]] = {}
    for record in records:
        by_user.setdefault(record.user_id, []).append(record)
    for user, items in by_user.items():
        for start in range(0, len(items), 512):
            chunk = items[start : start + 512]
            long_term.add(user, chunk, embedder.embed([r.text for r in chunk]))


async def enqueue(redis: Redis, records: list[MemoryRecord]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.xadd(ASSOCIATION_STREAM, {"user_id": record.user_id, "memory_id": record.id, "conversation_id": "b"})
        await pipe.execute()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(args: argparse.Namespace, data: Path, server: EmbeddedRedis, rng: random.Random) -> dict[str, Any]:
    redis = Redis.from_url(server.url)
    chroma = chromadb.PersistentClient(path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    embedder = load_embedder(Path(os.environ.get("COMPANION_DATA_DIR", data)) / "models")
    long_term, links = LongTermStore(chroma), LinkStore(chroma)
    users = [f"bench-{i}" for i in range(args.users)]
    console.print(f"storing {args.memories} memories for each of {len(users)} users ...")
    store(long_term, embedder, [r for u in users for r in records_for(u, args.memories, rng, stored=True)])
    graph = build_association(long_term=long_term, links=links, embedder=embedder)
    results: dict[str, Any] = {"throughput": {}}

    for workers in (1, 2):
        messages = [r for u in users for r in records_for(u, args.messages // len(users), rng, stored=False)]
        rng.shuffle(messages)
        store(long_term, embedder, messages)
        await enqueue(redis, messages)
        pool = [
            AssociationWorker(queue=AssociationQueue(redis), graph=graph, batch_size=args.batch_size)
            for _ in range(workers)
        ]
        started = time.perf_counter()
        done = await asyncio.gather(*(worker.drain() for worker in pool))
        elapsed = time.perf_counter() - started
        processed = sum(result.processed for result in done)
        outcomes: dict[str, int] = {}
        for result in done:
            for name, count in result.outcomes.items():
                outcomes[name] = outcomes.get(name, 0) + count
        results["throughput"][workers] = {
            "messages": processed,
            "seconds": round(elapsed, 3),
            "messages_per_s": round(processed / elapsed, 1),
            "outcomes": outcomes,
        }
        console.print(f"{workers} worker(s): {processed} messages in {elapsed:.2f} s = {processed / elapsed:.0f}/s")

    short_term = ShortTermStore(redis, per_user_per_minute=100_000, global_per_minute=1_000_000)
    chat = build_conversation(long_term=long_term, short_term=short_term, embedder=embedder)
    idle: list[float] = []
    busy: list[float] = []

    async def turns(count: int, into: list[float]) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await run_turn(chat, user_id=users[0], conversation_id="bench", message=text(rng))
            into.append((time.perf_counter() - started) * 1000)

    for _ in range(5):  # warm-up
        await turns(1, [])
    block = max(1, args.turns // 3)
    for _ in range(3):
        await turns(block, idle)
        backlog = [r for u in users for r in records_for(u, 400, rng, stored=False)]
        store(long_term, embedder, backlog)
        await enqueue(redis, backlog)
        worker = AssociationWorker(queue=AssociationQueue(redis), graph=graph, batch_size=args.batch_size)
        running = asyncio.create_task(worker.drain())
        await turns(block, busy)
        await running
    results["chat_turn_ms"] = {
        "idle": {"p50": round(pct(idle, 0.5), 2), "p95": round(pct(idle, 0.95), 2), "n": len(idle)},
        "worker_running": {"p50": round(pct(busy, 0.5), 2), "p95": round(pct(busy, 0.95), 2), "n": len(busy)},
        "p50_ratio": round(statistics.median(busy) / statistics.median(idle), 2),
        "p95_ratio": round(pct(busy, 0.95) / pct(idle, 0.95), 2),
    }
    results["throughput_ratio_2_to_1"] = round(
        results["throughput"][2]["messages_per_s"] / results["throughput"][1]["messages_per_s"], 2
    )
    results["setup"] = {
        "users": args.users,
        "memories_per_user": args.memories,
        "messages_per_run": args.messages,
        "batch_size": args.batch_size,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
    }
    await redis.aclose()

    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--memories", type=int, default=500, help="stored memories per user before the run")
    parser.add_argument("--messages", type=int, default=2000, help="queued messages per worker-count run")
    parser.add_argument("--turns", type=int, default=60, help="chat turns measured idle and with the worker")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="companion-bench-assoc-") as tmp:
        data = Path(tmp)
        server = EmbeddedRedis(data)
        server.ensure_running()
        try:
            results = await measure(args, data, server, rng)
        finally:
            server.stop()

    table = Table(title="association worker (offline)")
    for column in ("measure", "value"):
        table.add_column(column)
    for workers, row in results["throughput"].items():
        table.add_row(f"{workers} worker(s): messages/s", f"{row['messages_per_s']:.0f}")
    table.add_row("2 workers / 1 worker", f"{results['throughput_ratio_2_to_1']:.2f}")
    turn = results["chat_turn_ms"]
    table.add_row(
        "chat turn p50 idle / with worker (ms)", f"{turn['idle']['p50']:.1f} / {turn['worker_running']['p50']:.1f}"
    )
    table.add_row(
        "chat turn p95 idle / with worker (ms)", f"{turn['idle']['p95']:.1f} / {turn['worker_running']['p95']:.1f}"
    )
    table.add_row("p50 ratio, p95 ratio", f"{turn['p50_ratio']:.2f}, {turn['p95_ratio']:.2f}")
    console.print(table)
    out = args.json_out or ROOT / "bench" / "results" / f"association-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written to {out}")


if __name__ == "__main__":
    asyncio.run(main())
