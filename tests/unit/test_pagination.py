"""Keyset pages: every item exactly once across pages, in order, even when items arrive between pages."""

from __future__ import annotations

import pytest

from app.pagination import decode_cursor, encode_cursor, keyset_page
from companion.core.errors import InvalidInputError


def walk(items: list[tuple[float, str]], limit: int, **kwargs: bool) -> list[list[tuple[float, str]]]:
    pages, cursor = [], None
    while True:
        page, cursor = keyset_page(items, key=lambda item: item, limit=limit, cursor=cursor, **kwargs)
        pages.append(page)
        if cursor is None:
            return pages


def test_pages_cover_every_item_once_newest_first() -> None:
    items = [(float(t % 4), f"id{t}") for t in range(11)]  # ties on time are broken by id
    pages = walk(items, 3)
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    flat = [item for page in pages for item in page]
    assert flat == sorted(items, reverse=True)


def test_oldest_first_and_an_exact_last_page_has_no_cursor() -> None:
    items = [(float(t), "x") for t in range(6)]
    pages = walk(items, 3, descending=False)
    assert pages == [[(0.0, "x"), (1.0, "x"), (2.0, "x")], [(3.0, "x"), (4.0, "x"), (5.0, "x")]]


def test_an_item_added_at_the_head_between_pages_is_neither_repeated_nor_skipping_one() -> None:
    items = [(float(t), f"m{t}") for t in range(6)]
    first, cursor = keyset_page(items, key=lambda item: item, limit=2, cursor=None)
    items.append((99.0, "new"))  # newest: belongs before page one, so page two is unchanged
    second, _ = keyset_page(items, key=lambda item: item, limit=2, cursor=cursor)
    assert first == [(5.0, "m5"), (4.0, "m4")] and second == [(3.0, "m3"), (2.0, "m2")]


@pytest.mark.parametrize("cursor", ["not-base64!", "bm90IGpzb24", encode_cursor(("a",))[:-2] + "__", "W10"])
def test_a_cursor_this_api_did_not_make_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="cursor"):
        keyset_page([(1.0, "a")], key=lambda item: item, limit=1, cursor=cursor)


def test_a_cursor_of_another_list_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="another list"):
        keyset_page([(1.0, "a")], key=lambda item: item, limit=1, cursor=encode_cursor(("zebra", "x")))


def test_round_trip() -> None:
    assert decode_cursor(encode_cursor((1.5, "m-1", 3))) == (1.5, "m-1", 3)
