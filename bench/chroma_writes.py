"""One-record writes into a Chroma collection of N records, by the vector index's sync threshold.

Chroma keeps the operations its HNSW index has not yet written to disk in its log, and every write costs more the
more of them wait; the index is written (and the log emptied) every ``sync_threshold`` operations (Chroma's default:
1,000). This bench builds, for each threshold, a fresh persistent collection of N records shaped like this
project's memories (384-d vectors, the metadata ``MemoryRecord.to_metadata`` writes, a document), then makes
``--writes`` single-record adds one after the other, with a query for 25 neighbours every tenth write, and reports
the adds' p50 / p95 / mean / max and the queries' p50 / p95 in ms. ``memory.long_term.HNSW_SYNC_THRESHOLD`` was
chosen with it (bench/README.md, 2026-12-07).

    .venv/bin/python bench/chroma_writes.py                                   # 10,000 records, 100 and 1,000
    .venv/bin/python bench/chroma_writes.py --sizes 100000 --thresholds 100,1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory.records import MemoryRecord  # noqa: E402

BULK = 1000


def metadata(index: int) -> dict[str, Any]:
    """A memory's metadata as the project stores it (every key, ordinary values)."""
    record = MemoryRecord(
        id=f"m{index}",
        user_id="bench",
        text=f"memory number {index}",
        importance=500,
        category="event",
        emotion="happiness",
        emotion_intensity=40,
        created_at=1.7e9 + index,
        conversation_id="c01",
        reply="That sounds lovely. " * 4,
        sensitivity_confidence=0.8,
        tags=("family", "plans"),
        appraisal='{"rule": "joy", "delta": [0.02, 0.01, 0.0]}',
        utterance="statement",
    )
    return dict(record.to_metadata())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(size: int, threshold: int, writes: int, rng: np.random.Generator) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chroma-writes-") as directory:
        client = chromadb.PersistentClient(directory, settings=Settings(anonymized_telemetry=False))
        collection = client.create_collection(
            "bench-writes",
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "sync_threshold": threshold}},
        )
        for start in range(0, size, BULK):
            ids = range(start, min(size, start + BULK))
            collection.add(
                ids=[f"m{i}" for i in ids],
                embeddings=rng.standard_normal((len(ids), 384)).astype(np.float32),
                metadatas=[metadata(i) for i in ids],
                documents=[f"memory number {i}: a sentence of ordinary length about the day" for i in ids],
            )
        adds: list[float] = []
        queries: list[float] = []
        for index in range(size, size + writes):
            started = time.perf_counter()
            collection.add(
                ids=[f"m{index}"],
                embeddings=rng.standard_normal((1, 384)).astype(np.float32),
                metadatas=[metadata(index)],
                documents=[f"memory number {index}"],
            )
            adds.append((time.perf_counter() - started) * 1000)
            if index % 10 == 0:
                started = time.perf_counter()
                collection.query(
                    query_embeddings=rng.standard_normal((1, 384)).astype(np.float32),
                    n_results=25,
                    include=["documents", "metadatas", "distances", "embeddings"],
                )
                queries.append((time.perf_counter() - started) * 1000)
        chromadb.api.client.SharedSystemClient.clear_system_cache()
    return {
        "size": size,
        "sync_threshold": threshold,
        "writes": writes,
        "add_ms": {
            "p50": round(statistics.median(adds), 2),
            "p95": round(percentile(adds, 0.95), 2),
            "mean": round(statistics.mean(adds), 2),
            "max": round(max(adds), 2),
        },
        "query_ms": {"p50": round(statistics.median(queries), 2), "p95": round(percentile(queries, 0.95), 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000", help="comma-separated collection sizes (default 10000)")
    parser.add_argument("--thresholds", default="100,1000", help="comma-separated sync thresholds (default 100,1000)")
    parser.add_argument("--writes", type=int, default=1000, help="single-record adds per measurement (default 1000)")
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    thresholds = [int(t) for t in args.thresholds.split(",") if t.strip()]
    if args.writes < 10 or not sizes or not thresholds or min(sizes + thresholds) < 1:
        parser.error("--writes must be at least 10, and every size and threshold positive")
    rng = np.random.default_rng(7)
    results = []
    for size in sizes:
        for threshold in thresholds:
            print(f"{size:,} records, sync every {threshold:,}: building and writing ...", flush=True)
            result = measure(size, threshold, args.writes, rng)
            add, query = result["add_ms"], result["query_ms"]
            print(
                f"  add p50 {add['p50']:.1f}  p95 {add['p95']:.1f}  mean {add['mean']:.1f}  max {add['max']:.1f} ms;"
                f"  query p50 {query['p50']:.1f}  p95 {query['p95']:.1f} ms",
                flush=True,
            )
            results.append(result)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"results": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
