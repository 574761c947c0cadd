"""Cursor pagination for every list the API returns.

A page ends with ``next_cursor`` when more follows; the client passes it back as ``?cursor=`` for the next page.
The cursor is the sort key of the page's last item (keyset pagination, base64url JSON; opaque to clients), so a
page never repeats or skips an item because items were added or removed at the head of the list meanwhile, as an
offset would. A cursor that does not decode is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from companion.core.errors import InvalidInputError

T = TypeVar("T")
SortKey = tuple[float | int | str, ...]

PageSize = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
CursorQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="`next_cursor` of the previous page; omit for the first page",
    ),
]


@dataclass(frozen=True, slots=True)
class Page:
    """The page of a list a request asks for: ``limit`` items after ``cursor`` (``None``: the first page)."""

    limit: int
    cursor: str | None


def page_query(limit: PageSize = 100, cursor: CursorQuery = None) -> Page:
    """A list route's ``?limit=`` (100 unless given) and ``?cursor=``."""
    return Page(limit, cursor)


#: A list route's page parameters, as one ``Page``.
PageQuery = Annotated[Page, Depends(page_query)]


def encode_cursor(key: SortKey) -> str:
    """The cursor of an item with sort key ``key``."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key a cursor carries; ``InvalidInputError`` for one this API did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInputError("cursor is not one this API returned (pass next_cursor unchanged)") from None
    if not isinstance(key, list) or not key or not all(isinstance(part, int | float | str) for part in key):
        raise InvalidInputError("cursor is not one this API returned (pass next_cursor unchanged)")
    return tuple(key)


def keyset_page(
    items: Sequence[T],
    *,
    key: Callable[[T], SortKey],
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> tuple[list[T], str | None]:
    """The ``limit`` items after ``cursor`` in ``key`` order (newest first when ``descending``), and the next cursor.

    ``key`` must order the items totally (end it with an id), and each part must compare with the cursor's.
    """
    ordered = sorted(items, key=key, reverse=descending)
    if cursor is not None:
        after = decode_cursor(cursor)
        try:
            ordered = [item for item in ordered if (key(item) < after if descending else key(item) > after)]
        except TypeError:
            raise InvalidInputError("cursor belongs to another list (pass next_cursor unchanged)") from None
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(key(page[-1])) if more and page else None
