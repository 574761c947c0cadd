"""The CLI's manners in a real process: readable text by default and JSON with ``--json`` for the commands that
used to print JSON either way, and global flags after the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import cli_env, companion, sync_redis  # noqa: F401  (a fixture)


@pytest.mark.usefixtures("sync_redis")
@pytest.mark.parametrize(
    ("argv", "in_text"),
    [
        (["services", "status"], "redis:"),
        (["worker", "--status"], "backlog:"),
        (["reflect", "--user", "manners-ro", "--tasks", "consolidate"], "consolidations: (none)"),
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
