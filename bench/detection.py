"""Benchmark the local emotion/importance/category detector (tools/detection.py), excluding the embedding.

    .venv/bin/python bench/detection.py [--messages 2000] [--rounds 5] [--json-out bench/results/detection-<date>.json]

Messages are embedded once up front with the project's embedder (not timed: the chat turn already has the
embedding). Then, interleaved round by round so a busy machine hits every variant alike:

* **single**: ``detector.detect(text, embedding)`` once per message (what the chat turn does);
* **batched**: ``detector.detect_batch`` over batches of 64 and of the whole set;
* **embedding** (context, not part of detection): one ``embedder.embed([text])`` per message, on a sample.

It prints messages per second (median of the rounds) and the ratio of the detection cost to one embedding.
"""

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from memory.embeddings import load_embedder  # noqa: E402
from tools.detection import load_detector  # noqa: E402

console = Console()
_PARTS = (
    ["I", "My sister", "My boss", "Everyone at work", "My dog", "We"],
    ["am so happy about", "can't stop crying over", "am terrified of", "am furious about", "love", "talked about"],
    ["the new job", "the exam tomorrow", "what happened last night", "our trip to Lisbon", "the weather", "dinner"],
    ["!", ".", "...", " :)", ", honestly.", "?"],
)


def messages(count: int) -> list[str]:
    """``count`` varied chat messages (deterministic)."""
    a, b, c, d = _PARTS
    return [
        f"{a[i % len(a)]} {b[(i // 6) % len(b)]} {c[(i // 36) % len(c)]}{d[(i // 216) % len(d)]}" for i in range(count)
    ]


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--embed-sample", type=int, default=200, help="messages embedded one by one for context")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    texts = messages(args.messages)
    embedder = load_embedder(ROOT / ".data" / "models")
    detector = load_detector()
    vectors = embedder.embed(texts)
    detector.detect_batch(texts[:64], vectors[:64])  # warm-up

    def single() -> float:
        started = time.perf_counter()
        for text, vector in zip(texts, vectors, strict=True):
            detector.detect(text, vector)
        return time.perf_counter() - started

    def batched(size: int) -> float:
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            detector.detect_batch(texts[start : start + size], vectors[start : start + size])
        return time.perf_counter() - started

    def embed_one() -> float:
        sample = texts[: args.embed_sample]
        started = time.perf_counter()
        for text in sample:
            embedder.embed([text])
        return (time.perf_counter() - started) * len(texts) / len(sample)

    variants = {
        "single (detect)": single,
        "batched 64": lambda: batched(64),
        f"batched {len(texts)}": lambda: batched(len(texts)),
        "context: embed one by one": embed_one,
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            seconds[name].append(run())
    table = Table(title=f"detector speed, {len(texts)} messages, median of {args.rounds} rounds (embedding excluded)")
    for column in ("variant", "messages/s", "µs/message", "× embed cost"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    embed_per_message = statistics.median(seconds["context: embed one by one"]) / len(texts)
    results: dict[str, Any] = {}
    for name, values in seconds.items():
        per_message = statistics.median(values) / len(texts)
        results[name] = {
            "messages_per_second": round(1 / per_message, 1),
            "us_per_message": round(per_message * 1e6, 2),
        }
        table.add_row(
            name, f"{1 / per_message:,.0f}", f"{per_message * 1e6:,.1f}", f"{per_message / embed_per_message:.3f}"
        )
    console.print(table)
    report = {
        "benchmark": "detection",
        "date": dt.date.today().isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "messages": len(texts),
        "rounds": args.rounds,
        "results": results,
    }
    out = args.json_out or ROOT / "bench" / "results" / f"detection-{report['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
