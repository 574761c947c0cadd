"""Undoing and reading what reflection decided.

Restore an archived memory, revert a conflict resolution, read the questions queued for the user and the insight
reports. Used by the CLI (``companion archive``, ``companion conflicts``, ``companion insights``) and the front-ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from companion.core.errors import ConflictError, NotFoundError
from memory.long_term import LongTermStore
from memory.reflection_log import LogEntry, ReflectionLog


def restore_memory(
    long_term: LongTermStore, archive: LongTermStore, log: ReflectionLog, user_id: str, memory_id: str, *, now: float
) -> dict[str, Any]:
    """Bring an archived memory back into retrieval, as if just recalled (full retention, clock reset)."""
    found = archive.get(user_id, memory_id)
    if found is None:
        if long_term.get(user_id, memory_id) is not None:
            raise ConflictError(f"memory {memory_id} is not archived")
        raise NotFoundError(f"no archived memory {memory_id} for user {user_id}")
    archive.update_metadata(user_id, [replace(found, retention=1.0, last_accessed=now)])
    archive.move(user_id, [memory_id], long_term)
    entry_id = f"archive:{memory_id}"
    previous = log.get(user_id, [entry_id]).get(entry_id)
    data = {**(previous.data if previous else {"memory_id": memory_id}), "restored_at": now}
    log.put(user_id, [LogEntry(entry_id, "archive", "restored", now, data)])
    return {"memory_id": memory_id, "text": found.text, "status": "restored"}


def undo_conflict(
    long_term: LongTermStore, log: ReflectionLog, user_id: str, conflict_id: str, *, now: float
) -> dict[str, Any]:
    """Revert one conflict resolution: the lowered memory gets its importance back; the entry says ``reverted``.

    A reverted pair is not judged again by later runs (its entry stays), so the user's decision sticks.
    """
    entry = log.get(user_id, [conflict_id]).get(conflict_id)
    if entry is None or entry.type != "conflict":
        raise NotFoundError(f"no conflict {conflict_id} for user {user_id}")
    if entry.status == "reverted":
        raise ConflictError(f"conflict {conflict_id} is already reverted")
    loser_id, before = entry.data.get("loser_id"), entry.data.get("importance_before")
    if loser_id and before is not None:
        record = long_term.get(user_id, loser_id)
        if record is not None:
            long_term.update_metadata(user_id, [replace(record, importance=before)])
    log.put(user_id, [LogEntry(entry.id, "conflict", "reverted", entry.at, {**entry.data, "reverted_at": now})])
    return {"conflict_id": conflict_id, "status": "reverted", "restored_importance": before}


def pending_questions(log: ReflectionLog, user_id: str) -> list[dict[str, Any]]:
    """Clarification questions waiting for the user's next conversation, oldest first."""
    return [
        {"conflict_id": entry.id, "question": entry.data.get("question", ""), "memory_ids": entry.data["memory_ids"]}
        for entry in log.entries(user_id, type="conflict", status="awaiting_user")
    ]


def conflicts(log: ReflectionLog, user_id: str) -> list[dict[str, Any]]:
    """Every recorded conflict with its resolution."""
    return [entry.to_dict() for entry in log.entries(user_id, type="conflict")]


def insight_reports(log: ReflectionLog, user_id: str) -> list[dict[str, Any]]:
    """The insights report of each day reflection ran the insights task, newest first (provenance ids left out)."""
    entries = sorted(log.entries(user_id, type="insights"), key=lambda entry: (entry.data.get("day", ""), entry.id))
    return [{key: value for key, value in entry.data.items() if key != "source_ids"} for entry in reversed(entries)]
