"""Write .env.example from the settings: every COMPANION_* variable with its description and default.

    .venv/bin/python scripts/make_env_example.py          # rewrite .env.example
    .venv/bin/python scripts/make_env_example.py --check  # exit 1 if .env.example is out of date

tests/integration/test_compose.py runs the check, so a new setting cannot be left out of it.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from pydantic_core import PydanticUndefined

from companion.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
# Every setting of companion, with its default. Copy to .env and uncomment what you change;
# the CLI, the API, the bots and compose.yaml read it. Unknown COMPANION_* names are warned about.
# Secrets (tokens, the encryption key) belong in .env only, never in git.
"""
#: Defaults computed at run time, shown as the README's configuration table shows them.
SHOWN_DEFAULTS = {"data_dir": "~/.local/share/companion"}


def _default(name: str) -> str:
    if name in SHOWN_DEFAULTS:
        return SHOWN_DEFAULTS[name]
    value = Settings.model_fields[name].default
    if value is None or value is PydanticUndefined or (isinstance(value, frozenset | set | list) and not value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render() -> str:
    """The text of .env.example."""
    blocks = [HEADER]
    for name, field in Settings.model_fields.items():
        lines = textwrap.wrap((field.description or "").replace("`", ""), 116)
        blocks.append("".join(f"# {line}\n" for line in lines) + f"# COMPANION_{name.upper()}={_default(name)}\n")
    return "\n".join(blocks)


def main() -> int:
    """Write the file, or with ``--check`` compare it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if .env.example is out of date")
    args = parser.parse_args()
    path = ROOT / ".env.example"
    if args.check:
        if path.read_text() != render():
            print(f"{path} is out of date: run .venv/bin/python scripts/make_env_example.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
