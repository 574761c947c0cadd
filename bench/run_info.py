"""Helpers the benchmark scripts share: the commit a result belongs to, and where a run keeps its data."""

import contextlib
import datetime as dt
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The checked-out commit, so a result names the code it measured; ``None`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def run_header(benchmark: str) -> dict[str, Any]:
    """What a result file opens with: which benchmark, when, on which commit, on what machine."""
    return {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


@contextlib.contextmanager
def data_root(requested: Path | None, *, prefix: str) -> Iterator[Path]:
    """The directory holding a run's data: the requested one (kept) or a temporary one named ``prefix...`` (removed)."""
    if requested is not None:
        requested.mkdir(parents=True, exist_ok=True)
        yield requested.resolve()
        return
    temporary = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
