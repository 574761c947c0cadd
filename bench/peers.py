"""Benchmark one turn's memory work against the libraries a user would pick instead, and against the floor.

Run from the repo root (the peer venv for mem0 first; see bench/README.md)::

    bench/peers_setup.sh                                     # once: bench/.venv-peers with mem0
    nice .venv/bin/python bench/peers.py --quick             # 1k memories, 30 turns: under two minutes
    nice .venv/bin/python bench/peers.py                     # 1k and 10k memories, 150 turns each
    nice .venv/bin/python bench/peers.py --sizes 1000,10000,100000

For each size N, every system gets the same N memories (one set of texts, embedded once with the project's ONNX
embedder) and then the same messages, one turn at a time, interleaved: each turn runs every system once, in an
order rotated by one every turn, so machine noise hits all alike. Per system and turn:

* **companion**: this project's turn minus the LLM, ``run_turn(graph, ...)`` with the offline responder and the
  embedded defaults (as ``bench/hot_path.py``): admit, context, retrieval (embed, Chroma query, lexical candidates,
  MMR), detection, appraisal, reply, the writes to Chroma and Redis, the checkpoint;
* **floor**: one ``embed`` + one Chroma query for ``candidate_count(5)`` memories (no lexical index), and
  **floor + add**: the same plus one Chroma ``add`` of the message;
* **mem0** (``Memory.search`` + ``Memory.add(infer=False)``, Chroma, in a worker process in the peer venv);
* **LangGraph SqliteStore** (sqlite-vec) and **InMemoryStore**: ``search(query=...)`` + ``put``.

Every system uses the project's embedder; the peers retrieve ``K`` (5) memories, what the turn hands the reply.
Wall time is ``perf_counter``, CPU time ``process_time`` of the process that did the work (all its threads).
Printed as tables and written, with every sample, the load average and the versions, to
``bench/results/peers-<date>.json``.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from chromadb.api.client import SharedSystemClient  # noqa: E402
from hot_path import (  # noqa: E402
    RETRIEVAL_K,
    STAGES,
    USER_ID,
    bench_settings,
    console,
    critical_path_ms,
    filesystem,
    memory_records,
    memory_texts,
    progress_bar,
    turn_messages,
    versions,
)
from rich.table import Table  # noqa: E402
from run_info import data_root, run_header  # noqa: E402

from companion.services import Services, open_checkpointer, open_services  # noqa: E402
from graphs.conversation import build_graph_from_services, run_turn  # noqa: E402
from memory.embedded import EmbeddedRedis  # noqa: E402
from memory.embeddings import Embedder  # noqa: E402
from memory.long_term import LongTermStore  # noqa: E402
from memory.records import MemoryRecord, new_id  # noqa: E402
from tools.retrieval import candidate_count  # noqa: E402

#: The systems, in the order of the tables; ``OURS`` is the numerator of every ratio, ``FLOOR`` a denominator too.
OURS = "companion"
FLOOR = "floor"
SYSTEMS = (OURS, FLOOR, "floor_add", "mem0", "lg_sqlite", "lg_memory")
LABELS = {
    OURS: "this project's turn (offline responder)",
    FLOOR: "floor: embed + one Chroma query",
    "floor_add": "floor + one Chroma add",
    "mem0": "mem0 search + add(infer=False), Chroma",
    "lg_sqlite": "LangGraph SqliteStore (sqlite-vec) search + put",
    "lg_memory": "LangGraph InMemoryStore search + put",
}
#: Short names for the printed tables.
SHORT = {
    OURS: "companion turn",
    FLOOR: "floor",
    "floor_add": "floor + add",
    "mem0": "mem0",
    "lg_sqlite": "LG SqliteStore",
    "lg_memory": "LG InMemoryStore",
}
#: The peers, each in a worker process in the peer venv (``bench/peers_worker.py``).
PEERS = ("mem0", "lg_sqlite", "lg_memory")
INSERT_BATCH = 1000
EMBED_BATCH = 256
DEFAULT_PEER_PYTHON = BENCH / ".venv-peers" / "bin" / "python"


# ----------------------------------------------------------------------------------------------------
# Bookkeeping (pure; tests/unit/test_bench_peers.py)
# ----------------------------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max of millisecond samples."""
    values = np.asarray(samples, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "mean": round(float(values.mean()), 3),
        "max": round(float(values.max()), 3),
    }


def summarize(wall_ms: Mapping[str, Sequence[float]], cpu_ms: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """Per system: wall p50/p95/mean/max and CPU per turn (mean, p50), from the raw samples."""
    return {
        system: {"wall_ms": percentiles(wall_ms[system]), "cpu_ms": percentiles(cpu_ms[system])}
        for system in wall_ms
        if wall_ms[system]
    }


def ratios(summary: Mapping[str, Any], *, ours: str = OURS) -> dict[str, dict[str, float]]:
    """This project ÷ each other system: wall p50, wall p95 and mean CPU per turn (above 1: ours is slower)."""
    mine = summary[ours]
    result = {}
    for system, stats in summary.items():
        if system == ours:
            continue
        result[system] = {
            "p50": round(mine["wall_ms"]["p50"] / stats["wall_ms"]["p50"], 3),
            "p95": round(mine["wall_ms"]["p95"] / stats["wall_ms"]["p95"], 3),
            "cpu": round(mine["cpu_ms"]["mean"] / stats["cpu_ms"]["mean"], 3),
        }
    return result


def rotated(systems: Sequence[str], turn: int) -> list[str]:
    """The order of ``systems`` in turn ``turn``: shifted by one each turn, so each goes first equally often."""
    shift = turn % len(systems)
    return [*systems[shift:], *systems[:shift]]


def growth(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per system, wall p50 and mean CPU at each size ÷ the same at the smallest size."""
    if len(results) < 2:
        return {}
    first = results[0]["summary"]
    out: dict[str, dict[str, float]] = {}
    for system in first:
        out[system] = {}
        for result in results[1:]:
            stats = result["summary"].get(system)
            if stats:
                out[system][f"p50 {result['n']}/{results[0]['n']}"] = round(
                    stats["wall_ms"]["p50"] / first[system]["wall_ms"]["p50"], 3
                )
                out[system][f"cpu {result['n']}/{results[0]['n']}"] = round(
                    stats["cpu_ms"]["mean"] / first[system]["cpu_ms"]["mean"], 3
                )
    return out


# ----------------------------------------------------------------------------------------------------
# The peer worker (mem0 in its own venv)
# ----------------------------------------------------------------------------------------------------


class Worker:
    """A ``bench/peers_worker.py`` process for one peer, speaking JSON lines."""

    def __init__(self, python: Path, system: str, log: Path) -> None:
        self._log = log.open("w", encoding="utf-8")
        self._process = subprocess.Popen(
            [str(python), str(BENCH / "peers_worker.py"), system],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def call(self, **request: Any) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"peer worker exited ({self._process.poll()}); see {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"peer worker: {answer.get('error')}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


# ----------------------------------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------------------------------


class Ticker:
    """Progress: a live bar on a terminal; written to a file (no live display there), a line every 30 s."""

    EVERY_S = 30.0

    def __init__(self, label: str, total: int, completed: int = 0) -> None:
        self.label, self.total, self.done = label, total, completed
        self.started = self.last = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "Ticker":
        if console.is_terminal:
            self._bar = progress_bar()
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, completed=self.done, rate="")
        return self

    def advance(self, count: int, rate: str) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, advance=count, rate=rate)
            return
        now = time.perf_counter()
        if now - self.last >= self.EVERY_S or self.done >= self.total:
            self.last = now
            console.print(f"  {self.label}: {self.done:,}/{self.total:,} after {now - self.started:,.0f} s  {rate}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def embed_all(embedder: Embedder, texts: Sequence[str], cache: Path) -> np.ndarray:
    """The vectors of ``texts`` (embedded once for every system), kept in ``cache`` for the next size or run.

    The texts of a smaller size are the first ones of a larger size, so the cache only ever grows: a rerun, or
    the next size, embeds only the texts it does not hold yet, and each distinct text once.
    """
    cached = np.load(cache) if cache.is_file() else np.zeros((0, embedder.dimension), dtype=np.float32)
    if len(cached) >= len(texts):
        console.print(f"  reusing {len(texts):,} vectors from {cache.name}")
        return np.asarray(cached[: len(texts)])
    known = {text: index for index, text in enumerate(texts[: len(cached)])}
    missing = list(dict.fromkeys(text for text in texts[len(cached) :] if text not in known))
    fresh: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    with Ticker(f"embedding {len(missing):,} new distinct texts", len(missing)) as progress:
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            fresh.update(zip(batch, embedder.embed(batch), strict=True))
            done = start + len(batch)
            progress.advance(len(batch), rate=f"{done / (time.perf_counter() - started):,.0f}/s")
    rows = [fresh[text] if text in fresh else cached[known[text]] for text in texts[len(cached) :]]
    vectors = np.concatenate([cached, np.asarray(rows, dtype=np.float32).reshape(-1, embedder.dimension)])
    np.save(cache, vectors)
    return vectors


def fill_long_term(store: LongTermStore, records: Sequence[MemoryRecord], vectors: np.ndarray, label: str) -> float:
    started = time.perf_counter()
    with Ticker(label, len(records)) as progress:
        for start in range(0, len(records), INSERT_BATCH):
            chunk = records[start : start + INSERT_BATCH]
            store.add(USER_ID, chunk, vectors[start : start + len(chunk)])
            done = start + len(chunk)
            progress.advance(len(chunk), rate=f"{done / (time.perf_counter() - started):,.0f}/s")
    return time.perf_counter() - started


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float


def timed(call: Callable[[str], Any], message: str) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    call(message)
    return Sample((time.perf_counter() - wall) * 1000.0, (time.process_time() - cpu) * 1000.0)


# ----------------------------------------------------------------------------------------------------
# One size
# ----------------------------------------------------------------------------------------------------


async def run_size(n: int, root: Path, args: argparse.Namespace, peer_python: Path | None) -> dict[str, Any]:
    console.rule(f"N = {n:,}")
    data_dir = root / f"n{n}"
    shutil.rmtree(data_dir, ignore_errors=True)  # every store starts from the same N memories: rebuilt each run
    data_dir.mkdir(parents=True)
    models = root / "models"
    if not (data_dir / "models").exists():
        (data_dir / "models").symlink_to(models, target_is_directory=True)
    settings = bench_settings(data_dir)
    systems = [system for system in SYSTEMS if system not in args.skip]
    if peer_python is None:
        systems = [system for system in systems if system not in PEERS]
    texts_meta = memory_texts(n)
    texts = [item.text for item in texts_meta]
    records = memory_records(texts_meta, now=time.time())
    ingest_s: dict[str, float] = {}
    workers: dict[str, Worker] = {}
    peer_versions: dict[str, str] = {}
    services: Services | None = None
    try:
        async with open_services(settings) as services:
            embedder = services.embedder
            vectors = embed_all(embedder, texts, root / "vectors.npy")
            ingest_s[OURS] = fill_long_term(services.long_term, records, vectors, "companion (Chroma + lexical)")
            floor_store = LongTermStore(services.chroma, namespace="floor")  # no lexical index: Chroma alone
            ingest_s[FLOOR] = fill_long_term(floor_store, records, vectors, "floor (Chroma)")
            peers = [system for system in systems if system in PEERS]
            if peers:
                assert peer_python is not None
                texts_file = root / f"texts-{n}.json"
                texts_file.write_text(json.dumps(texts), encoding="utf-8")
            for system in peers:
                assert peer_python is not None
                console.print(f"  {system}: starting its worker, writing {n:,} memories ...")
                worker = Worker(peer_python, system, data_dir / f"{system}-worker.log")
                workers[system] = worker
                ready = worker.call(
                    op="setup",
                    data_dir=str(data_dir / system),
                    texts=str(texts_file),
                    vectors=str(root / "vectors.npy"),
                    n=n,
                    models=str(models),
                )
                ingest_s[system] = ready["ingest_s"]
                peer_versions.update(ready["versions"])
                if ready["count"] != n:
                    raise RuntimeError(f"{system} holds {ready['count']} memories, expected {n}")
            console.print("  ingest (s): " + ", ".join(f"{k} {v:.1f}" for k, v in ingest_s.items()))
            measured = await measure(services, n, systems, floor_store=floor_store, workers=workers, args=args)
    finally:
        for worker in workers.values():
            worker.close()
        if services is not None and "redis" in services.started:
            EmbeddedRedis(data_dir).stop()
        with contextlib.suppress(Exception):
            SharedSystemClient.clear_system_cache()
    measured["ingest_s"] = {k: round(v, 2) for k, v in ingest_s.items()}
    measured["peer_versions"] = peer_versions
    measured["data_dir_filesystem"] = filesystem(data_dir)
    return measured


async def measure(
    services: Services,
    n: int,
    systems: Sequence[str],
    *,
    floor_store: LongTermStore,
    workers: Mapping[str, Worker],
    args: argparse.Namespace,
) -> dict[str, Any]:
    embedder = services.embedder
    n_results = candidate_count(RETRIEVAL_K)
    messages = turn_messages(args.warmup + args.turns)
    conversation_id = f"peers-{int(time.time())}"
    await services.short_term.forget_user(USER_ID)
    wall: dict[str, list[float]] = {system: [] for system in systems}
    cpu: dict[str, list[float]] = {system: [] for system in systems}
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    overhead: list[float] = []
    load_before = os.getloadavg()
    started = time.perf_counter()

    async with open_checkpointer(services.settings) as checkpointer:
        graph = build_graph_from_services(services, checkpointer=checkpointer)

        def floor(message: str) -> None:
            query = embedder.embed([message])[0]
            floor_store.search(USER_ID, query, n_results)

        def floor_add(message: str) -> None:
            query = embedder.embed([message])[0]
            floor_store.search(USER_ID, query, n_results)
            record = MemoryRecord(id=new_id(), user_id=USER_ID, text=message, conversation_id=conversation_id)
            floor_store.add(USER_ID, [record], query.reshape(1, -1))

        with Ticker(f"N={n:,} turns", len(messages)) as progress:
            for index, message in enumerate(messages):
                last: dict[str, float] = {}
                for system in rotated(systems, index):
                    if system == OURS:
                        wall_start, cpu_start = time.perf_counter(), time.process_time()
                        state = await run_turn(graph, user_id=USER_ID, conversation_id=conversation_id, message=message)
                        sample = Sample(
                            (time.perf_counter() - wall_start) * 1000.0, (time.process_time() - cpu_start) * 1000.0
                        )
                        if index >= args.warmup:
                            timings = state.get("timings_ms", {})
                            for stage in STAGES:
                                stages[stage].append(float(timings.get(stage, 0.0)))
                            overhead.append(sample.wall_ms - critical_path_ms(timings))
                    elif system == FLOOR:
                        sample = timed(floor, message)
                    elif system == "floor_add":
                        sample = timed(floor_add, message)
                    else:
                        answer = workers[system].call(op="turn", message=message)
                        sample = Sample(answer["wall_ms"], answer["cpu_ms"])
                    last[system] = sample.wall_ms
                    if index >= args.warmup:
                        wall[system].append(sample.wall_ms)
                        cpu[system].append(sample.cpu_ms)
                rate = "  ".join(f"{s} {ms:5.1f}" for s, ms in last.items())
                progress.advance(1, rate=rate)
    load_after = os.getloadavg()
    summary = summarize(wall, cpu)
    return {
        "n": n,
        "turns": args.turns,
        "warmup": args.warmup,
        "systems": list(systems),
        "summary": summary,
        "ratios": ratios(summary),
        "stages_ms": {
            stage: {"p50": round(statistics.median(values), 3), "p95": percentiles(values)["p95"]}
            for stage, values in stages.items()
            if values
        },
        "graph_overhead_ms": percentiles(overhead) if overhead else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "measure_s": round(time.perf_counter() - started, 1),
        "samples": {"wall_ms": wall, "cpu_ms": cpu},
    }


# ----------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------


def print_size(result: Mapping[str, Any]) -> None:
    table = Table(
        title=(
            f"per turn minus the LLM, N = {result['n']:,} memories, {result['turns']} turns "
            f"(+{result['warmup']} warm-up); load {result['loadavg_before'][0]:.1f} -> "
            f"{result['loadavg_after'][0]:.1f}"
        )
    )
    table.add_column("system")
    for column in ("p50 ms", "p95 ms", "CPU ms", "÷ p50", "÷ p95", "÷ CPU"):
        table.add_column(column, justify="right")
    summary, ratio = result["summary"], result["ratios"]
    for system in result["systems"]:
        stats = summary[system]
        r = ratio.get(system)
        table.add_row(
            SHORT[system],
            f"{stats['wall_ms']['p50']:.1f}",
            f"{stats['wall_ms']['p95']:.1f}",
            f"{stats['cpu_ms']['mean']:.1f}",
            *((f"{r['p50']:.2f}", f"{r['p95']:.2f}", f"{r['cpu']:.2f}") if r else ("1", "1", "1")),
            style="bold" if system == OURS else None,
        )
    table.caption = (
        "CPU ms: mean CPU per turn of the process doing it (all threads); ÷: this project's turn ÷ that system "
        "(above 1: this project is slower)"
    )
    console.print(table)
    stages = result["stages_ms"]
    shown = ", ".join(f"{stage} {values['p50']:.1f}" for stage, values in stages.items() if values["p50"] >= 0.05)
    overhead = result["graph_overhead_ms"]
    console.print(f"this project's stages, p50 ms: {shown}; graph overhead {overhead['p50']:.1f}\n")


def print_growth(report: Mapping[str, Any]) -> None:
    grown = report.get("growth") or {}
    if not grown:
        return
    table = Table(title="growth with N (÷ the smallest size)")
    table.add_column("system")
    columns = list(next(iter(grown.values())))
    for column in columns:
        table.add_column(column, justify="right")
    for system, values in grown.items():
        table.add_row(SHORT[system], *(f"{values.get(column, float('nan')):.2f}" for column in columns))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated memory counts (default 1000,10000)")
    parser.add_argument("--turns", type=int, default=150, help="measured turns per size (default 150)")
    parser.add_argument("--warmup", type=int, default=15, help="warm-up turns per size, not counted (default 15)")
    parser.add_argument("--quick", action="store_true", help="1,000 memories, 30 turns (+5): under two minutes")
    parser.add_argument(
        "--peer-python",
        type=Path,
        default=Path(os.environ.get("PEERS_PYTHON", DEFAULT_PEER_PYTHON)),
        help=f"Python of the venv with mem0 (default $PEERS_PYTHON or {DEFAULT_PEER_PYTHON.relative_to(ROOT)})",
    )
    parser.add_argument("--skip", default="", help=f"comma-separated systems to leave out, of {', '.join(SYSTEMS)}")
    parser.add_argument(
        "--data-dir", type=Path, help="keep the embedded vectors here for the next run (default: a temporary dir)"
    )
    parser.add_argument("--json-out", type=Path, help="default bench/results/peers-<date>.json")
    args = parser.parse_args()
    # a stopped run still stops the embedded Redis and the workers it started (the `finally` blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.sizes, args.turns, args.warmup = "1000", 30, 5
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := args.skip - set(SYSTEMS):
        parser.error(f"unknown systems in --skip: {', '.join(sorted(unknown))}")
    if OURS in args.skip or FLOOR in args.skip:
        parser.error("the project's turn and the floor are what every ratio is made of: they cannot be skipped")
    if args.turns < 1 or args.warmup < 1 or not sizes or min(sizes) < 1:
        parser.error("--turns, --warmup and every size must be positive")
    peer_python: Path | None = args.peer_python
    if peer_python is None or not peer_python.exists():
        console.print(f"[yellow]no peer venv at {peer_python} (bench/peers_setup.sh makes it): peers left out[/]")
        peer_python = None
    json_out = args.json_out or ROOT / "bench" / "results" / f"peers-{dt.date.today().isoformat()}.json"
    report: dict[str, Any] = {
        **run_header("peers"),
        "nice": os.nice(0),
        "versions": versions(),
        "setup": {
            "retrieval_k": RETRIEVAL_K,
            "floor_n_results": candidate_count(RETRIEVAL_K),
            "peers_top_k": RETRIEVAL_K,
            "order": "every system once per turn, order rotated by one each turn",
            "embedder": "the project's ONNX all-MiniLM-L6-v2 in every system",
            "labels": LABELS,
        },
        "results": [],
    }
    console.print(
        f"peers benchmark: sizes {', '.join(f'{s:,}' for s in sizes)}, {args.turns} turns (+{args.warmup}), "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, nice {report['nice']}; "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    )
    with data_root(args.data_dir, prefix="peers-") as root:
        (root / "models").mkdir(exist_ok=True)
        for n in sizes:
            gc.collect()
            result = asyncio.run(run_size(n, root, args, peer_python))
            report["results"].append(result)
            report["growth"] = growth(report["results"])
            print_size(result)
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_growth(report)
    console.print(f"results written to {json_out}")


if __name__ == "__main__":
    main()
