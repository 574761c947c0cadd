"""A lexical (BM25) index of memory texts beside Chroma: the word-matching half of hybrid retrieval.

A small embedding model under-weights names and rare words ("Caroline", "pottery", "Miso"), so a memory that
shares the query's rare words can sit far down the nearest-neighbour list, outside the pool MMR chooses from.
This index finds such memories over *all* of a user's memories, and ``tools.recall`` adds them to the pool.

It is SQLite FTS5 (standard library, no server) in the data dir, with the Porter stemmer ("runs" finds
"running") and FTS5's own BM25. It is derived from Chroma, never the source of truth:

* ``LongTermStore`` mirrors its writes here after writing Chroma;
* before each search, ``LongTermStore.lexical_search`` compares the count of the user's rows with the Chroma
  collection's count (one cheap call each) and, when they differ, re-reads the ids from Chroma and adds or
  removes the difference. So a missing or stale index (a crash between the two writes, an upgrade from before
  this index, another process writing the same Chroma) heals itself on the next search.

Rows are keyed by an *owner*, ``<namespace>:<user id>``, in a plain table (``memory_rows``: owner, memory id,
and the row of the text in the FTS table), which counts, lists and deletes an owner's rows through its index.
The owner also goes into the FTS table as one hashed token, so a MATCH only walks that owner's rows, and a match
is checked against the plain owner again.
Document frequencies are those of the whole table (all users), which is what FTS5's ``bm25()`` computes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.retrieval import query_words

__all__ = ["MAX_QUERY_WORDS", "LexicalIndex"]

MAX_QUERY_WORDS = 32
"""Longest query, in distinct content words; longer queries keep their first words."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memory_rows (
    row INTEGER PRIMARY KEY, owner TEXT NOT NULL, memory_id TEXT NOT NULL, UNIQUE (owner, memory_id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_text USING fts5(
    owner_token, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


def _owner_token(owner: str) -> str:
    """One FTS token for an owner: hex only, so no tokenizer can split it or merge two owners."""
    return "o" + hashlib.sha256(owner.encode()).hexdigest()[:32]


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class LexicalIndex:
    """BM25 over memory texts, per owner, in one SQLite file (or ``":memory:"``). Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self._connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            # erased text must not linger in free pages (see drop)
            self._connection.execute("PRAGMA secure_delete=ON")
            self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._connection.close()

    # -- writes ----------------------------------------------------------------------------------------
    def put(self, owner: str, items: Iterable[tuple[str, str]]) -> None:
        """Index ``(memory_id, text)`` pairs of ``owner``, replacing any earlier text of the same ids."""
        rows = list(items)
        if not rows:
            return
        token = _owner_token(owner)
        with self._lock, self._transaction():
            self._delete_ids(owner, [memory_id for memory_id, _ in rows])
            for memory_id, text in rows:
                cursor = self._connection.execute(
                    "INSERT INTO memory_rows (owner, memory_id) VALUES (?, ?)", (owner, memory_id)
                )
                self._connection.execute(
                    "INSERT INTO memory_text (rowid, owner_token, text) VALUES (?, ?, ?)",
                    (cursor.lastrowid, token, text),
                )

    def delete(self, owner: str, memory_ids: Sequence[str]) -> None:
        """Remove memories of ``owner`` from the index."""
        if memory_ids:
            with self._lock, self._transaction():
                self._delete_ids(owner, memory_ids)

    def drop(self, owner: str) -> None:
        """Remove every memory of ``owner``, leaving none of their words in the file (a user's erasure).

        FTS5 only marks deleted rows in its index until segments merge, so the index is merged ("optimize"), with
        ``secure_delete`` zeroing the freed pages, and the write-ahead log is checkpointed and truncated.
        """
        with self._lock:
            with self._transaction():
                self._connection.execute(
                    "DELETE FROM memory_text WHERE rowid IN (SELECT row FROM memory_rows WHERE owner = ?)", (owner,)
                )
                self._connection.execute("DELETE FROM memory_rows WHERE owner = ?", (owner,))
                self._connection.execute("INSERT INTO memory_text (memory_text) VALUES ('optimize')")
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reads -----------------------------------------------------------------------------------------
    def count(self, owner: str) -> int:
        """How many memories of ``owner`` are indexed."""
        with self._lock:
            row = self._connection.execute("SELECT count(*) FROM memory_rows WHERE owner = ?", (owner,)).fetchone()
        return int(row[0])

    def ids(self, owner: str) -> set[str]:
        """The ids of the indexed memories of ``owner``."""
        with self._lock:
            rows = self._connection.execute("SELECT memory_id FROM memory_rows WHERE owner = ?", (owner,)).fetchall()
        return {str(row[0]) for row in rows}

    def search(self, owner: str, query: str, limit: int) -> list[tuple[str, float]]:
        """The ``limit`` memories of ``owner`` that best match ``query``'s content words: ``(id, BM25)``, best first.

        Function words are left out (``tools.retrieval.query_words``); a memory must contain at least one of the
        remaining words (any of them, stemmed). A query with no content word finds nothing.
        """
        words = query_words(query)[:MAX_QUERY_WORDS]
        if not words or limit < 1:
            return []
        expression = f"owner_token : {_owner_token(owner)} AND text : ({' OR '.join(_quoted(w) for w in words)})"
        with self._lock:
            rows = self._connection.execute(
                # bm25() is lower-is-better; the owner column gets weight 0, the text column 1. The best rows are
                # chosen first, then mapped to memory ids (and checked to be the owner's).
                "SELECT r.memory_id, -best.score FROM"
                " (SELECT rowid, bm25(memory_text, 0.0, 1.0) AS score FROM memory_text"
                "  WHERE memory_text MATCH ? ORDER BY score LIMIT ?) AS best"
                " JOIN memory_rows AS r ON r.row = best.rowid WHERE r.owner = ? ORDER BY best.score",
                (expression, limit, owner),
            ).fetchall()
        return [(str(memory_id), float(score)) for memory_id, score in rows]

    # -- helpers ---------------------------------------------------------------------------------------
    def _delete_ids(self, owner: str, memory_ids: Sequence[str]) -> None:
        for start in range(0, len(memory_ids), 500):  # SQLite's limit on bound parameters
            batch = list(memory_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            found = [
                row
                for (row,) in self._connection.execute(
                    f"SELECT row FROM memory_rows WHERE owner = ? AND memory_id IN ({marks})", (owner, *batch)
                )
            ]
            if found:
                rows = ",".join("?" * len(found))
                self._connection.execute(f"DELETE FROM memory_text WHERE rowid IN ({rows})", found)
                self._connection.execute(f"DELETE FROM memory_rows WHERE row IN ({rows})", found)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): one writer at a time across processes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if error is None else "ROLLBACK")
