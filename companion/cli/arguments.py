"""Argument types for numbers in a range: a bad value is argparse's one-line usage error naming the range."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def bounded(
    parse: Callable[[str], N], low: N, high: N, *, noun: str = "a whole number", low_excluded: bool = False
) -> Callable[[str], N]:
    """An argparse ``type``: ``parse(text)``, within ``low <= value <= high`` (``low < value`` if ``low_excluded``)."""

    def check(text: str) -> N:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if low_excluded and not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be more than {low:g} and at most {high:g}, got {value:g}")
        if not low_excluded and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {value:g}")
        return value

    return check
