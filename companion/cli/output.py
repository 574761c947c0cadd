"""What a command prints: readable text by default, one JSON object with ``--json``.

Commands hand their result to :func:`emit` as plain data (dicts, lists, scalars). Text mode shows a dict as
``key: value`` lines (nested dicts indented) and, on a terminal, a list of flat dicts as a table; every value is
shown in full (a table folds a long value onto more lines, it never cuts it): people copy ids into the next command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)

#: Tables wider than this many columns are shown as ``key: value`` blocks instead, one per row.
MAX_TABLE_COLUMNS = 8


def print_json(data: Any) -> None:
    """One JSON object on one line (non-ASCII kept; anything else JSON cannot hold as its ``str``)."""
    print(json.dumps(data, ensure_ascii=False, default=str))  # noqa: T201 (the CLI prints)


def emit(data: Any, *, as_json: bool, title: str | None = None) -> None:
    """Print ``data`` as JSON (``as_json``) or as readable text under ``title``."""
    if as_json:
        print_json(data)
        return
    if title:
        console.print(f"[bold]{escape(title)}[/]")
    for line in _lines(data, indent=0):
        console.print(line)


def _scalar(value: Any) -> str:
    if value is None:
        return "[dim]-[/]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(round(value, 4))
    return escape(str(value))


def _is_table(rows: Sequence[Any]) -> bool:
    # Only on a terminal: piped output keeps every value on its own line, whole, for grep and copy.
    if not console.is_terminal or not rows or not all(isinstance(row, Mapping) for row in rows):
        return False
    keys = set(rows[0])
    flat = all(not isinstance(v, Mapping | list) for row in rows for v in row.values())
    return flat and len(keys) <= MAX_TABLE_COLUMNS and all(set(row) == keys for row in rows)


def _lines(data: Any, *, indent: int) -> list[Any]:
    pad = "  " * indent
    if isinstance(data, Mapping):
        if not data:
            return [f"{pad}[dim](none)[/]"]
        out: list[Any] = []
        for key, value in data.items():
            if isinstance(value, Mapping | list) and value:
                out.append(f"{pad}{escape(str(key))}:")
                out.extend(_lines(value, indent=indent + 1))
            else:
                shown = "[dim](none)[/]" if isinstance(value, Mapping | list) else _scalar(value)
                out.append(f"{pad}{escape(str(key))}: {shown}")
        return out
    if isinstance(data, list):
        if not data:
            return [f"{pad}[dim](none)[/]"]
        if _is_table(data):
            table = Table(show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
            for key in data[0]:
                table.add_column(escape(str(key)), overflow="fold", no_wrap=False)
            for row in data:
                table.add_row(*(_scalar(value) for value in row.values()))
            return [table]
        out = []
        for item in data:
            if isinstance(item, Mapping):
                block = _lines(item, indent=indent + 1)
                out.append(f"{pad}- {str(block[0]).lstrip()}" if block else f"{pad}-")
                out.extend(block[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}")
        return out
    return [f"{pad}{_scalar(data)}"]
