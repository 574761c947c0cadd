"""Argument types for numbers in a range: a bad value is argparse's one-line usage error naming the range."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from companion.core.settings import Settings

N = TypeVar("N", int, float)


def utc_day(text: str) -> str:
    """An argparse ``type``: a UTC day as ``YYYY-MM-DD``, or ``today`` / ``yesterday``."""
    from datetime import UTC, date, datetime, timedelta

    today = datetime.now(UTC).date()
    named = {"today": today, "yesterday": today - timedelta(days=1)}
    if text in named:
        return named[text].isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD, today or yesterday): {text!r}") from None


def user_command(
    run: Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace, Settings], int]:
    """A command over one user's data (``--user``): the id is checked, a one-line error, before anything opens."""

    def command(args: argparse.Namespace, settings: Settings) -> int:
        from memory.records import validate_user_id

        validate_user_id(args.user)
        return asyncio.run(run(args, settings))

    command.__doc__ = run.__doc__
    return command


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
