"""Benchmark the local sensitivity classifier against the one embedding every chat turn already pays.

Run from the repo root::

    .venv/bin/python bench/sensitivity.py

On the messages of ``evals/datasets/sensitivity.jsonl``, interleaved in one process: ``classify_local(text)``
(the lexicon, as the ``classify_sensitivity`` node runs it) and ``embedder.embed([text])`` (the turn's one
embedding). Prints p50/p95 per message of both and their ratio (the classifier's share of a turn's embedding
cost), then the classifier alone, back to back, and writes ``bench/results/sensitivity-<date>.json`` (with the
machine's load average: absolute times move with it, the ratio much less).
"""

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from companion.core.settings import load_settings  # noqa: E402
from evals.core import load_jsonl  # noqa: E402
from memory.embeddings import load_embedder  # noqa: E402
from tools.sensitivity import classify_local  # noqa: E402

console = Console()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    """Measure, print, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the dataset (default 20)")
    parser.add_argument("--json-out", type=Path, help="default bench/results/sensitivity-<date>.json")
    args = parser.parse_args()
    texts = [case["text"] for case in load_jsonl(ROOT / "evals" / "datasets" / "sensitivity.jsonl")]
    embedder = load_embedder(load_settings().data_dir / "models")
    embedder.embed(["warm up"])
    classify_local("warm up")
    classify_ms: list[float] = []
    embed_ms: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            started = time.perf_counter()
            classify_local(text)
            classified = time.perf_counter()
            embedder.embed([text])
            embedded = time.perf_counter()
            classify_ms.append((classified - started) * 1000.0)
            embed_ms.append((embedded - classified) * 1000.0)
    alone_ms: list[float] = []  # the classifier on its own, back to back (no embedding between: warm caches)
    for _ in range(args.rounds):
        for text in texts:
            started = time.perf_counter()
            classify_local(text)
            alone_ms.append((time.perf_counter() - started) * 1000.0)
    result = {
        "date": dt.date.today().isoformat(),
        "messages": len(classify_ms),
        "classify_ms": {"p50": percentile(classify_ms, 0.5), "p95": percentile(classify_ms, 0.95)},
        "embed_ms": {"p50": percentile(embed_ms, 0.5), "p95": percentile(embed_ms, 0.95)},
        "classify_alone_ms": {"p50": percentile(alone_ms, 0.5), "p95": percentile(alone_ms, 0.95)},
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "mean_ratio_classify_to_embed": statistics.fmean(classify_ms) / statistics.fmean(embed_ms),
    }
    table = Table(title=f"sensitivity classifier vs one embedding ({len(classify_ms)} messages)")
    for column in ("", "p50 ms", "p95 ms"):
        table.add_column(column)
    for name in ("classify_ms", "embed_ms", "classify_alone_ms"):
        table.add_row(name.removesuffix("_ms"), f"{result[name]['p50']:.4f}", f"{result[name]['p95']:.4f}")
    console.print(table)
    console.print(f"classify / embed (means): {result['mean_ratio_classify_to_embed']:.4f}")
    out = args.json_out or ROOT / "bench" / "results" / f"sensitivity-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
