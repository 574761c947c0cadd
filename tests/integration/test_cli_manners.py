"""The CLI's manners in a real process: readable text by default and JSON with ``--json`` for the commands that
used to print JSON either way, and global flags after the command."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_cli import COMPANION, cli_env, companion, sync_redis  # noqa: F401  (a fixture)


@pytest.mark.usefixtures("sync_redis")
@pytest.mark.parametrize(
    ("argv", "in_text"),
    [
        (["services", "status"], "redis:"),
        (["worker", "--status"], "backlog:"),
        (["reflect", "--user", "manners-ro", "--tasks", "consolidate"], "consolidations: (none)"),
        (["insights", "--user", "manners-ro"], "no insight reports for manners-ro yet"),
        (["prefs", "--user", "manners-ro", "--timezone", "Europe/Paris"], "timezone: Europe/Paris"),
    ],
)
def test_text_by_default_json_with_the_flag(argv: list[str], in_text: str, data_dir: Path, redis_url: str) -> None:
    env = cli_env(data_dir, redis_url)
    text = companion(*argv, "--debug", env=env, cwd=data_dir)
    assert text.returncode == 0, text.stderr
    assert in_text in text.stdout and not text.stdout.lstrip().startswith("{"), text.stdout
    as_json = companion(*argv, "--json", env=env, cwd=data_dir)
    assert as_json.returncode == 0, as_json.stderr
    assert isinstance(json.loads(as_json.stdout), dict)


@pytest.mark.usefixtures("sync_redis")
def test_the_scheduler_says_what_it_ran(data_dir: Path, redis_url: str) -> None:
    env = cli_env(data_dir, redis_url)
    said = companion("chat", "--user", "manners-sched", "--message", "I love hiking in the Alps", env=env, cwd=data_dir)
    assert said.returncode == 0, said.stderr
    log = data_dir / "scheduler.log"
    with log.open("w") as out:
        scheduler = subprocess.Popen([str(COMPANION), "scheduler"], env=env, cwd=data_dir, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120  # bounds a hang; the first firing is at start
        while time.monotonic() < deadline and "scheduler:" not in log.read_text():
            time.sleep(0.5)
    finally:
        scheduler.send_signal(signal.SIGINT)
        scheduler.wait(timeout=60)
    report = next((line for line in log.read_text().splitlines() if "scheduler:" in line), log.read_text())
    assert "manners-sched" in report, report
