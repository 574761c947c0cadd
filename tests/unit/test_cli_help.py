"""Every command and flag of ``companion`` says what it does, and ``--debug`` is accepted at every level."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from companion.cli.main import _parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from _commands(command, (*path, name))


COMMANDS = list(_commands(_parser()))


def test_the_tree_is_the_whole_cli() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"chat", "serve", "keys revoke", "memories search", "worker", "eval", "prefs", "bot"} <= names
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("path", "command"), COMMANDS[1:], ids=[" ".join(p) for p, _ in COMMANDS[1:]])
def test_every_command_has_a_description_and_every_argument_a_help(
    path: tuple[str, ...], command: argparse.ArgumentParser
) -> None:
    assert command.description, f"companion {' '.join(path)} has no description"
    undocumented = [
        action.option_strings or action.dest
        for action in command._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and not action.help
    ]
    assert undocumented == [], f"companion {' '.join(path)}: {undocumented}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "keys", "list"],
        ["keys", "--debug", "list"],
        ["keys", "list", "--debug"],
        ["memories", "search", "--user", "a", "--query", "b", "--debug"],
    ],
)
def test_debug_is_accepted_before_or_after_the_command(argv: list[str]) -> None:
    assert _parser().parse_args(argv).debug is True


def test_without_debug_it_is_off() -> None:
    assert _parser().parse_args(["keys", "list"]).debug is False


def test_retention_days_take_zero_like_the_rest_route_and_refuse_negatives() -> None:
    assert _parser().parse_args(["worker", "--cleanup", "--retention-days", "0"]).retention_days == 0
    with pytest.raises(SystemExit):
        _parser().parse_args(["worker", "--cleanup", "--retention-days", "-1"])
