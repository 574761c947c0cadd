"""Commands that need no heavy library never import it, so they start fast (issue 22).

Each command runs in a fresh interpreter, as ``companion.cli.main.main``, which then reports every module loaded.
No timing is asserted: what is checked is which libraries were imported at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import PROCESS_TIMEOUT, cli_env

#: Libraries that take a large share of a second (or more) to import; none of the commands below needs them.
HEAVY = {
    "chromadb",
    "langgraph",
    "langchain",
    "langchain_core",
    "langsmith",
    "onnxruntime",
    "fastapi",
    "starlette",
    "uvicorn",
    "discord",
    "aiogram",
    "matplotlib",
}

PROBE = """
import json, sys
from companion.cli.main import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:  # --help ends in argparse's exit
    code = exc.code
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def loaded_by(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, set[str]]:
    """Run ``companion ARGS`` in a fresh interpreter: its exit code and the top-level packages it imported."""
    report = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert report.exists(), result.stderr
    data = json.loads(report.read_text())
    return data["code"], {name.split(".")[0] for name in data["modules"]}


def test_the_probe_sees_a_heavy_import(data_dir: Path, redis_url: str, tmp_path: Path) -> None:
    # the probe itself works: a command that needs the embedder does import ONNX Runtime
    code, loaded = loaded_by(["injection-check", "--text", "hello"], cli_env(data_dir, redis_url), tmp_path)
    assert code == 0
    assert "onnxruntime" in loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["chat", "--help"],
        ["eval", "--list"],
        ["services", "status", "--json"],
        ["keys", "list", "--json"],
    ],
    ids=" ".join,
)
def test_commands_without_models_or_stores_import_no_heavy_library(
    args: list[str], data_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    code, loaded = loaded_by(args, cli_env(data_dir, redis_url), tmp_path)
    assert code == 0
    assert loaded & (HEAVY | {"numpy"}) == set()


def test_detect_loads_the_local_models_but_not_chroma_or_langgraph(
    data_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    args = ["detect", "--text", "I'm so nervous about tomorrow", "--json"]
    code, loaded = loaded_by(args, cli_env(data_dir, redis_url), tmp_path)
    assert code == 0
    assert loaded & HEAVY == {"onnxruntime"}


def test_personality_show_reads_the_stores_without_loading_a_model(
    data_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    args = ["personality", "show", "--user", "imports-user", "--json"]
    code, loaded = loaded_by(args, cli_env(data_dir, redis_url), tmp_path)
    assert code == 0
    assert loaded & HEAVY == {"chromadb"}  # the personality state is kept in Chroma
