"""The LangGraph checkpointer keeps the newest checkpoint of each thread only, and threads still resume from it."""

from __future__ import annotations

import operator
import sqlite3
from pathlib import Path
from typing import Annotated, TypedDict

import aiosqlite
import pytest
from cryptography.fernet import Fernet
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from companion.core.errors import ConfigurationError
from companion.core.settings import load_settings
from companion.services import open_checkpointer


class Tally(TypedDict, total=False):
    said: Annotated[list[str], operator.add]


def tally_graph(checkpointer: AsyncSqliteSaver) -> CompiledStateGraph:
    """Two parallel branches (so a step has pending writes) that each append to ``said``."""
    builder = StateGraph(Tally)
    builder.add_node("echo", lambda state: {"said": ["echo"]})
    builder.add_node("fan", lambda state: {})
    builder.add_node("branch", lambda payload: {"said": [payload]})
    builder.add_edge(START, "echo")
    builder.add_edge("echo", "fan")
    builder.add_conditional_edges("fan", lambda state: [Send("branch", "a"), Send("branch", "b")], ["branch"])
    builder.add_edge("branch", END)
    return builder.compile(checkpointer=checkpointer)


def rows(path: Path, table: str) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT DISTINCT thread_id, checkpoint_id FROM {table}").fetchall()


async def test_each_thread_keeps_only_its_newest_checkpoint_and_resumes_from_it(tmp_path: Path) -> None:
    async with open_checkpointer(load_settings(data_dir=tmp_path)) as checkpointer:
        graph = tally_graph(checkpointer)
        for thread in ("ann:monday", "ann:monday", "ann:monday", "bo:friday"):
            config = {"configurable": {"thread_id": thread}}
            result = await graph.ainvoke({"said": []}, config, durability="sync")  # a checkpoint per step
        assert result == {"said": ["echo", "a", "b"]}
        state = await graph.aget_state({"configurable": {"thread_id": "ann:monday"}})
        assert sorted(state.values["said"]) == sorted(["echo", "a", "b"] * 3)  # three turns carried over

    path = tmp_path / "checkpoints.sqlite"
    checkpoints = rows(path, "checkpoints")
    assert sorted(thread for thread, _ in checkpoints) == ["ann:monday", "bo:friday"]
    # what writes remain belong to the checkpoints kept
    assert set(rows(path, "writes")) <= set(checkpoints)


async def test_checkpoints_are_sealed_with_the_memory_key_and_need_it_to_resume(tmp_path: Path) -> None:
    """A checkpoint holds what a turn recalled (secrets too), so no word of the state is on disk in plain text."""
    async with open_checkpointer(load_settings(data_dir=tmp_path)) as checkpointer:
        graph = tally_graph(checkpointer)
        await graph.ainvoke({"said": ["my PIN is 4821-xyzzy"]}, {"configurable": {"thread_id": "ann"}})
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("checkpoints.sqlite*"))
    assert b"4821-xyzzy" not in stored

    async with open_checkpointer(load_settings(data_dir=tmp_path)) as checkpointer:
        state = await tally_graph(checkpointer).aget_state({"configurable": {"thread_id": "ann"}})
        assert "my PIN is 4821-xyzzy" in state.values["said"]

    other_key = load_settings(data_dir=tmp_path, encryption_key=Fernet.generate_key().decode())
    async with open_checkpointer(other_key) as checkpointer:
        with pytest.raises(ConfigurationError, match="cannot be decrypted with this key"):
            await tally_graph(checkpointer).aget_state({"configurable": {"thread_id": "ann"}})


async def test_a_file_written_before_keeps_its_newest_checkpoints_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    async with aiosqlite.connect(str(path)) as connection:
        graph = tally_graph(AsyncSqliteSaver(connection))
        for thread in ("ann:monday", "ann:monday", "bo:friday"):
            await graph.ainvoke({"said": []}, {"configurable": {"thread_id": thread}}, durability="sync")
    assert len(rows(path, "checkpoints")) > 2  # the plain saver kept every step of every turn

    async with open_checkpointer(load_settings(data_dir=tmp_path)) as checkpointer:
        assert len(rows(path, "checkpoints")) == 2
        state = await tally_graph(checkpointer).aget_state({"configurable": {"thread_id": "ann:monday"}})
        assert len(state.values["said"]) == 6  # both turns of the thread, from its newest checkpoint
        await checkpointer.aprune(["bo:friday"], strategy="delete")
    assert [thread for thread, _ in rows(path, "checkpoints")] == ["ann:monday"]


async def test_a_damaged_checkpoint_file_is_set_aside_and_the_checkpointer_starts_afresh(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    path = tmp_path / "checkpoints.sqlite"
    path.write_bytes(b"this is not an SQLite database, it was damaged" * 100)
    async with open_checkpointer(settings) as checkpointer:
        result = await tally_graph(checkpointer).ainvoke({}, {"configurable": {"thread_id": "t1"}})
        assert sorted(result["said"]) == ["a", "b", "echo"]
    aside = list(tmp_path.glob("checkpoints.sqlite.damaged-*"))
    assert [p.read_bytes()[:20] for p in aside] == [b"this is not an SQLit"]  # kept, not deleted
    assert rows(path, "checkpoints")  # the fresh file holds the new thread
