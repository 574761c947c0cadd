"""Path and query parameters that several routes share, and their parsing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query

from companion.core.errors import InvalidInputError

#: A memory's id in a path (``/memories/{memory_id}``, ``/archive/{memory_id}/restore``).
MemoryIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: An RFC 3339 date-time with its zone (``2026-11-25T10:30:00Z``), checked again when parsed.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
DateTimeQuery = Annotated[
    str | None,
    Query(
        min_length=20,
        max_length=40,
        pattern=RFC3339_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="RFC 3339, with its zone: 2026-11-25T10:30:00Z",
    ),
]


def epoch(value: str | None, name: str) -> float | None:
    """An RFC 3339 query date-time as epoch seconds; ``InvalidInputError`` for an impossible one (Feb 30)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp()
    except (OverflowError, ValueError, OSError):
        raise InvalidInputError(f"{name} is not a valid RFC 3339 date-time: {value[:40]!r}") from None
