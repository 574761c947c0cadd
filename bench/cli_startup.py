"""Start-up of the ``companion`` command: wall time and peak memory of whole one-shot processes.

    .venv/bin/python bench/cli_startup.py [--runs 5] [--baseline ../other-checkout] [--json-out FILE]

Each command is run as a fresh process, as a person runs it, on the embedded defaults (the embedded Redis server,
Chroma in-process, the offline responder) in one data dir (a temporary one unless ``--data-dir``). Round by round,
every command runs once in turn (so a busy machine hits all of them alike); the first ``--warmup`` rounds are not
counted. The warm-up round starts the embedded Redis server and builds the embedding cache, so the counted runs
are warm runs: servers up, model cache built, files in the page cache.

Wall time is from spawning the process to reaping it; peak memory is the process's maximum resident set size
(``wait4``'s ``ru_maxrss``; the daemonised Redis server is not part of it). Two floors put the numbers in
proportion: ``python -c pass`` (the interpreter alone) and ``import`` of the libraries one chat turn cannot do
without (Chroma, LangGraph and its SQLite checkpointer, redis-py, ONNX Runtime, tokenizers), with nothing run.

``--baseline DIR`` runs the same commands from another checkout (its ``.venv``) interleaved with this one, and
prints the ratio this/baseline pair by pair: before and after in one run, on the same machine at the same time.

``--service`` measures the chat beside a running ``companion serve`` (issue 22): it starts ``serve --port 0
--no-background`` from the checkout on the run's data dir, waits for its discovery file and ``/health``, and times
``chat --message hi --json`` handed to it beside ``chat ... --local`` (the turn in-process, the shared Chroma server
of ``serve`` as its store), round by round in the same run. Peak memory is the CLI process's own; the server's is
not part of it. A ``--baseline`` older than the hand-off runs both in-process (``--local`` is dropped for it), so
the hand-off's ratio is against the chat it replaces.
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The libraries a chat turn cannot do without: importing them (and nothing else) is the turn's import floor.
CHAT_LIBRARIES = "chromadb, langgraph.graph, langgraph.checkpoint.sqlite.aio, redis.asyncio, onnxruntime, tokenizers"

#: name -> arguments after the interpreter (``python``) or after ``companion``.
FLOORS: dict[str, list[str]] = {
    "floor: python -c pass": ["-c", "pass"],
    "floor: import chat libraries": ["-c", f"import {CHAT_LIBRARIES}"],
}
COMMANDS: dict[str, list[str]] = {
    "chat --message hi --json": ["chat", "--user", "bench", "--message", "hi", "--json"],
    "--help": ["--help"],
    "detect --json": ["detect", "--text", "I'm so nervous about tomorrow", "--json"],
    "personality show --json": ["personality", "show", "--user", "bench", "--json"],
    "services status --json": ["services", "status", "--json"],
    "eval --list": ["eval", "--list"],
}
#: With ``--service``: the chat handed to the running server, and the same chat run in-process beside it.
SERVICE_COMMANDS: dict[str, list[str]] = {
    "chat --json (handed to serve)": ["chat", "--user", "bench", "--message", "hi", "--json"],
    "chat --json --local (serve up)": ["chat", "--user", "bench", "--message", "hi", "--json", "--local"],
}
#: Seconds ``serve`` may take to load its stores and models and answer ``/health``.
SERVE_TIMEOUT = 300.0


def run_once(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv`` to completion: wall and CPU (user + system) seconds, peak RSS in MiB, exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "max_rss_mib": usage.ru_maxrss / 1024, "exit": process.returncode}


def commands_of(checkout: Path, names: list[str], *, without_local: bool = False) -> dict[str, list[str]]:
    """The argv of each named floor or command, with ``checkout``'s virtual environment.

    ``without_local``: drop ``--local``, for a checkout from before the hand-off, whose chat runs in-process anyway.
    """
    python, companion = checkout / ".venv" / "bin" / "python", checkout / ".venv" / "bin" / "companion"
    for path in (python, companion):
        if not path.exists():
            raise SystemExit(f"{path} is missing: run ./scripts/setup in {checkout}")
    argvs = {name: [str(python), *args] for name, args in FLOORS.items()}
    argvs |= {name: [str(companion), *args] for name, args in (COMMANDS | SERVICE_COMMANDS).items()}
    if without_local:
        argvs = {name: [arg for arg in argv if arg != "--local"] for name, argv in argvs.items()}
    return {name: argvs[name] for name in names}


@contextlib.contextmanager
def serving(checkout: Path, data_dir: Path, env: dict[str, str]) -> Iterator[dict[str, object]]:
    """``companion serve --port 0`` from ``checkout`` on ``data_dir`` until the block ends; yields its discovery file.

    Ready once it has written the discovery file (after it listens) and answers ``/health``; stopped with SIGINT,
    as Ctrl-C would, so it withdraws the file and stops the Chroma server it started.
    """
    companion = checkout / ".venv" / "bin" / "companion"
    discovery = data_dir / "serve.json"
    log = (data_dir / "bench-serve.log").open("w")
    argv = [str(companion), "serve", "--port", "0", "--no-background", "--log-level", "warning"]
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            if process.poll() is not None:
                raise SystemExit(f"serve exited with {process.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise SystemExit(f"serve did not come up within {SERVE_TIMEOUT:g} s; see {log.name}")
            record = _read_json(discovery)
            if record is not None and record.get("pid") == process.pid and _answers(f"{record['url']}/health"):
                break
            time.sleep(0.2)
        yield record
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a local server: never a proxy
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def commit_of(checkout: Path) -> str | None:
    """The checkout's commit (short), with ``+changes`` when its work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if head.returncode == 0 else None


def summary(values: list[float]) -> dict[str, float]:
    """Median, min and max, rounded."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each command (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted, first (default 1)")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="checkout (with .venv) to measure (default: this)")
    parser.add_argument("--baseline", type=Path, help="another checkout (with .venv) to compare against")
    parser.add_argument("--only", help="comma-separated names of the commands to run (default: all)")
    parser.add_argument("--data-dir", type=Path, help="data dir to use (default: a temporary one)")
    parser.add_argument(
        "--service", action="store_true", help="time the chat handed to a running `companion serve` beside --local"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    names = [*FLOORS, *(SERVICE_COMMANDS if args.service else COMMANDS)]
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        unknown = set(wanted) - set(names)
        if unknown:
            raise SystemExit(f"unknown commands {sorted(unknown)}; known: {names}")
        names = [name for name in names if name in wanted]
    sides = {"this": commands_of(args.checkout.resolve(), names)}
    if args.baseline is not None:
        sides["baseline"] = commands_of(args.baseline.resolve(), names, without_local=True)

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="companion-cli-bench-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPANION_")}
    env["COMPANION_DATA_DIR"] = str(data_dir)

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {side: {name: [] for name in names} for side in sides}
    service: dict[str, object] | None = None
    try:
        with contextlib.ExitStack() as stack:
            if args.service:
                service = stack.enter_context(serving(args.checkout.resolve(), data_dir, env))
                print(f"serve is up at {service['url']} (pid {service['pid']})", flush=True)
            measure(sides, names, runs, env, warmup=args.warmup, counted_runs=args.runs)
    finally:
        stop = args.checkout.resolve() / ".venv" / "bin" / "companion"
        subprocess.run([str(stop), "services", "stop"], env=env, stdout=subprocess.DEVNULL, check=False)
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    report_results(args, sides, names, runs, service)
    return 0


def measure(
    sides: dict[str, dict[str, list[str]]],
    names: list[str],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    env: dict[str, str],
    *,
    warmup: int,
    counted_runs: int,
) -> None:
    """Run every command of every side once per round, ``warmup`` rounds uncounted, then ``counted_runs``."""
    for round_number in range(warmup + counted_runs):
        counted = round_number >= warmup
        for name in names:
            # alternate which side goes first, so neither always runs on a cache the other just warmed
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for side in order:
                result = run_once(sides[side][name], env)
                if result["exit"] != 0:
                    raise SystemExit(f"{side}: {name!r} exited with {result['exit']}")
                if counted:
                    runs[side][name].append(result)
        print(f"round {round_number + 1}/{warmup + counted_runs}{'' if counted else ' (warm-up)'}", flush=True)


def report_results(
    args: argparse.Namespace,
    sides: dict[str, dict[str, list[str]]],
    names: list[str],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    service: dict[str, object] | None,
) -> None:
    """Print the medians (and ratios) and write the JSON report."""
    results: dict[str, Any] = {}
    floors = {"x_python_floor": "floor: python -c pass", "x_import_floor": "floor: import chat libraries"}
    for name in names:
        entry: dict[str, Any] = {}
        for side in sides:
            walls = [r["wall_s"] for r in runs[side][name]]
            entry[side] = {
                "wall_s": summary(walls),
                "cpu_s": summary([r["cpu_s"] for r in runs[side][name]]),
                "max_rss_mib": summary([r["max_rss_mib"] for r in runs[side][name]]),
            }
            for key, floor in floors.items():  # wall time over the floor's, round by round
                if floor in runs[side] and name not in floors.values():
                    pairs = zip(walls, (r["wall_s"] for r in runs[side][floor]), strict=True)
                    entry[side][key] = round(statistics.median(a / b for a, b in pairs), 2)
        if "baseline" in sides:
            pairs = list(zip(runs["this"][name], runs["baseline"][name], strict=True))
            entry["this_over_baseline"] = {
                figure: round(statistics.median(a[key] / b[key] for a, b in pairs), 3)
                for figure, key in (("wall", "wall_s"), ("cpu", "cpu_s"), ("max_rss", "max_rss_mib"))
            }
        results[name] = entry

    columns = f"{'command':31} {'wall s: median (min-max)':>25} {'CPU s':>6} {'peak MiB':>8}"
    if "baseline" in sides:
        columns += f" | {'baseline wall':>13} {'CPU':>6} {'MiB':>5} | ratio wall {'CPU':>5} {'RSS':>5}"
    print(f"\nwarm runs, {args.runs} of each command, interleaved; medians")
    print(columns)
    for name, entry in results.items():
        this, wall = entry["this"], entry["this"]["wall_s"]
        line = f"{name:31} {wall['median']:>8.3f} ({wall['min']:.3f}-{wall['max']:.3f})"
        line += f" {this['cpu_s']['median']:>6.2f} {this['max_rss_mib']['median']:>8.0f}"
        if "baseline" in sides:
            base, ratio = entry["baseline"], entry["this_over_baseline"]
            line += f" | {base['wall_s']['median']:>13.3f} {base['cpu_s']['median']:>6.2f}"
            line += f" {base['max_rss_mib']['median']:>5.0f} | {ratio['wall']:>10.3f} {ratio['cpu']:>5.3f}"
            line += f" {ratio['max_rss']:>5.3f}"
        print(line)

    report = {
        "benchmark": "cli_startup",
        "date": dt.date.today().isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "runs": args.runs,
        "warmup_rounds": args.warmup,
        "commit": commit_of(args.checkout),
        "baseline_commit": commit_of(args.baseline) if args.baseline else None,
        "commands": {name: (FLOORS | COMMANDS | SERVICE_COMMANDS)[name] for name in names},
        "service": None if service is None else "companion serve --port 0 --no-background (same data dir)",
        "results": results,
    }
    suffix = "-service" if service is not None else ""
    out = args.json_out or ROOT / "bench" / "results" / f"cli_startup-{report['date']}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    sys.exit(main())
