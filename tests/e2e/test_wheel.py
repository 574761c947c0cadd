"""The project as a wheel, installed without the source tree (as a Docker layer or ``pip install .`` does).

The wheel is built from this checkout, installed into a new virtual environment with the locked dependencies
(``uv export``: the same pins, and the same removal of the embedder wheel's unused sentence-transformers/torch
dependency), and ``companion demo`` runs from it in a directory that holds no source: the persona files, the
detector's weights and every other file the program reads must be inside the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
# Bounds a hung install or demo; not a speed assertion.
PROCESS_TIMEOUT = 900


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT
    )
    assert result.returncode == 0, f"{command[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.mark.slow
def test_the_wheel_installs_without_the_source_tree_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(UV, "build", "--wheel", "--out-dir", dist, cwd=ROOT)
    wheel = next(dist.glob("companion-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "companion/personas/default.toml" in names
    assert not [name for name in names if name.startswith("evals/results/")]

    requirements = tmp_path / "requirements.txt"
    exported = run(UV, "export", "--locked", "--no-dev", "--no-emit-project", "--no-hashes", cwd=ROOT)
    requirements.write_text(exported.stdout)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(venv)}
    run(UV, "pip", "install", "--python", python, "-r", requirements, cwd=tmp_path, env=env)
    run(UV, "pip", "install", "--python", python, "--no-deps", wheel, cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"  # no source tree here: only what the wheel installed
    elsewhere.mkdir()
    demo_env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPANION_", "OPENAI_"))} | {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": "",
    }
    demo = run(venv / "bin" / "companion", "demo", cwd=elsewhere, env=demo_env)
    assert "recalled" in demo.stdout.lower()
