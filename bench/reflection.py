"""Nightly reflection cost: one user with many memories, and many users with a few each.

For each case the script measures, in one run on the same stores:

- the *floor*: reading every memory of the user with its embedding from Chroma (what any reflection must do);
- the nightly run (consolidate, conflicts, personality) and the 04:00 forgetting run, through the real graph.

It prints seconds and the ratio to the floor. Memories are first-person chat messages from seeded templates;
their embeddings are computed once per distinct text with the real local embedder and reused.

    .venv/bin/python bench/reflection.py --memories 10000 --users 1000 --per-user 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import date
from pathlib import Path

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from redis.asyncio import Redis

from graphs.reflection import archive_store, build_graph, run_reflection
from memory.association_queue import AssociationQueue
from memory.embedded import EmbeddedRedis
from memory.embeddings import load_embedder
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore

DAY = 86_400.0
SUBJECTS = [
    "my cat Miso",
    "my sister",
    "the new job",
    "my morning run",
    "the garden",
    "my guitar",
    "the trip to Rome",
    "my neighbour",
    "the book club",
    "my back pain",
    "the football match",
    "my grandmother",
    "the exam",
]
VERBS = [
    "I keep thinking about",
    "Today I talked about",
    "I was worried about",
    "I had fun with",
    "I'm excited about",
    "I spent the evening on",
    "Yesterday I told a friend about",
    "I'm tired of",
]
ENDINGS = ["", " again", " this week", " after work", " all day", " with my partner", " before dinner"]


def texts(count: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(VERBS)} {rng.choice(SUBJECTS)}{rng.choice(ENDINGS)}" for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=10_000, help="memories of the one big user")
    parser.add_argument("--users", type=int, default=1000, help="users in the many-users case")
    parser.add_argument("--per-user", type=int, default=20, help="memories per user in the many-users case")
    parser.add_argument("--json-out", type=Path, default=Path(f"bench/results/reflection-{date.today()}.json"))
    args = parser.parse_args()
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis")
        redis_server.ensure_running()
        try:
            redis = Redis.from_url(redis_server.url)
            client = chromadb.PersistentClient(
                path=str(root / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
            )
            long_term = LongTermStore(client)
            short_term = ShortTermStore(redis)
            embedder = load_embedder(Path.home() / ".cache" / "companion-bench-models")
            graph = build_graph(
                long_term=long_term,
                archive=archive_store(long_term),
                short_term=short_term,
                log=ReflectionLog(client),
                embedder=embedder,
            )
            lock = AssociationQueue(redis)  # as the scheduler runs it: holding the user's association lock
            pool = sorted({t for t in texts(5000, rng)})
            vectors = dict(zip(pool, embedder.embed(pool), strict=True))
            now = time.time()

            def plant(user: str, count: int) -> None:
                chosen = [rng.choice(pool) for _ in range(count)]
                for start in range(0, count, 2000):
                    batch = chosen[start : start + 2000]
                    records = [
                        MemoryRecord(
                            id=f"{user}-{start + i}",
                            user_id=user,
                            text=text,
                            importance=rng.choice([100, 300, 500, 700]),
                            created_at=now - rng.uniform(0, 120) * DAY,
                        )
                        for i, text in enumerate(batch)
                    ]
                    long_term.add(user, records, np.stack([vectors[t] for t in batch]))

            results: dict[str, object] = {"date": str(date.today())}
            plant("big", args.memories)
            floor = timed(lambda: long_term.with_embeddings("big"))
            nightly = await atimed(
                run_reflection(graph, user_id="big", now=now, tasks=["consolidate", "conflicts"], lock=lock)
            )
            forgetting = await atimed(run_reflection(graph, user_id="big", now=now, tasks=["forget"], lock=lock))
            results["one_user"] = {
                "memories": args.memories,
                "floor_s": floor,
                "nightly_s": nightly,
                "forgetting_s": forgetting,
                "nightly_over_floor": round(nightly / floor, 2),
                "forgetting_over_floor": round(forgetting / floor, 2),
            }
            print(json.dumps(results["one_user"]))

            users = [f"u{i:05d}" for i in range(args.users)]
            for user in users:
                plant(user, args.per_user)
            started = time.perf_counter()
            for user in users:
                long_term.with_embeddings(user)
            floor_all = time.perf_counter() - started
            started = time.perf_counter()
            for user in users:
                await run_reflection(graph, user_id=user, now=now, tasks=["consolidate", "conflicts"], lock=lock)
            nightly_all = time.perf_counter() - started
            results["many_users"] = {
                "users": args.users,
                "memories_per_user": args.per_user,
                "floor_s": round(floor_all, 3),
                "nightly_s": round(nightly_all, 3),
                "nightly_per_user_ms": round(nightly_all / args.users * 1000, 2),
                "nightly_over_floor": round(nightly_all / floor_all, 2),
            }
            print(json.dumps(results["many_users"]))
            args.json_out.parent.mkdir(parents=True, exist_ok=True)
            args.json_out.write_text(json.dumps(results, indent=2) + "\n")
            await redis.aclose()
        finally:
            redis_server.stop()


def timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return round(time.perf_counter() - started, 3)


async def atimed(awaitable: object) -> float:
    started = time.perf_counter()
    await awaitable  # type: ignore[misc]
    return round(time.perf_counter() - started, 3)


if __name__ == "__main__":
    main()
