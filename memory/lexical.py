"""A lexical (BM25) index of memory texts beside Chroma: the word-matching half of hybrid retrieval.

A small embedding model under-weights names and rare words ("Caroline", "pottery", "Miso"), so a memory that
shares the query's rare words can sit far down the nearest-neighbour list, outside the pool MMR chooses from.
This index finds such memories over *all* of a user's memories, and ``tools.recall`` adds them to the pool.

It is SQLite FTS5 (standard library, no server) with the Porter stemmer ("runs" finds "running") and FTS5's own
BM25, **one file per owner** (``<namespace>:<user id>``, encoded by ``memory.keys``) in a directory of the data dir,
named from a hash of the owner. So a user's ranking uses only their own word statistics (document frequencies,
lengths), as their memories are their own Chroma collection; no other user's words can move it. Erasing a user
deletes their file.

It is derived from Chroma, never the source of truth:

* ``LongTermStore`` mirrors its writes here after writing Chroma;
* on a user's first search in a process, then at most every 30 s (``LEXICAL_CHECK_SECONDS``), and after a search
  that found a memory Chroma no longer has, ``LongTermStore.lexical_search`` compares the count of the user's rows
  with the Chroma collection's count (or, after such a search, their ids) and, when they differ, re-reads the ids
  from Chroma and adds or removes the difference. So a missing or stale index (a crash between the two writes, an
  upgrade from before this index, another process writing the same Chroma) heals itself. A file that is not a
  database (a disk fault) is removed and rebuilt the same way.

The files of the 64 most recently used owners stay open (opening one costs ~0.4 ms); before each use the open file
is checked to still be the one at its path, so no process keeps using a file that another one has since deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from memory.candidates import query_words

__all__ = ["MAX_QUERY_WORDS", "MAX_TERM_MEMORIES", "LexicalIndex", "remove_database"]

MAX_QUERY_WORDS = 32
"""Longest query, in distinct content words; longer queries keep their first words."""

OPEN_FILES = 64
"""Users whose files stay open between calls, least recently used closed first (each holds 3 file descriptors)."""

MAX_TERM_MEMORIES = 1000
"""A query word found in more of the owner's memories than this is left out of their search (unless all are).

BM25 scores every memory that holds any query word, so a search costs what its commonest word costs: at 100,000
memories "today" or "feel" is in thousands of them (36 ms a search, against 1 ms at 10,000). Such a word weighs
little in BM25 (its inverse document frequency is low) and the nearest memories by embedding already cover what it
says, so it is dropped; the rare words, which the lexical candidates are for ("Caroline", "pottery"), stay. Below
1,000 memories nothing is ever dropped, so small histories (LoCoMo's ~600 turns a speaker) rank as before."""

_TOKENIZER = "porter unicode61 remove_diacritics 2"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS memory_rows (row INTEGER PRIMARY KEY, memory_id TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_text USING fts5(text, tokenize = '{_TOKENIZER}');
CREATE VIRTUAL TABLE IF NOT EXISTS memory_terms USING fts5vocab(memory_text, 'row');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_text USING fts5(text, tokenize = '{_TOKENIZER}');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_terms USING fts5vocab(temp, query_text, 'instance');
"""

logger = logging.getLogger(__name__)


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class LexicalIndex:
    """BM25 over memory texts, one SQLite FTS5 file per owner under ``directory``. Thread-safe."""

    def __init__(self, directory: Path, *, open_files: int = OPEN_FILES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        self._open_files = open_files
        # owner -> (connection, inode of the file it opened); most recently used last
        self._connections: OrderedDict[str, tuple[sqlite3.Connection, int]] = OrderedDict()

    def close(self) -> None:
        """Close the open files; every later call raises ``sqlite3.ProgrammingError``."""
        with self._lock:
            self._closed = True
            while self._connections:
                self._connections.popitem()[1][0].close()

    def path(self, owner: str) -> Path:
        """The owner's file (it exists once something of theirs was indexed)."""
        return self.directory / f"{hashlib.sha256(owner.encode()).hexdigest()[:32]}.sqlite3"

    # -- writes ----------------------------------------------------------------------------------------
    def put(self, owner: str, items: Iterable[tuple[str, str]]) -> None:
        """Index ``(memory_id, text)`` pairs of ``owner``, replacing any earlier text of the same ids."""
        rows = list(items)
        if not rows:
            return
        with self._connect(owner, create=True) as connection:
            assert connection is not None
            with _Transaction(connection):
                _delete_ids(connection, [memory_id for memory_id, _ in rows])
                for memory_id, text in rows:
                    cursor = connection.execute("INSERT INTO memory_rows (memory_id) VALUES (?)", (memory_id,))
                    connection.execute("INSERT INTO memory_text (rowid, text) VALUES (?, ?)", (cursor.lastrowid, text))

    def delete(self, owner: str, memory_ids: Sequence[str]) -> None:
        """Remove memories of ``owner`` from the index."""
        if not memory_ids:
            return
        with self._connect(owner) as connection:
            if connection is not None:
                with _Transaction(connection):
                    _delete_ids(connection, memory_ids)

    def drop(self, owner: str) -> None:
        """Remove every memory of ``owner``: their file (and its write-ahead log) is deleted (a user's erasure)."""
        self._check_open()
        path = self.path(owner)
        with self._lock:
            cached = self._connections.pop(owner, None)
            if cached is not None:
                cached[0].close()
            remove_database(path)

    # -- reads -----------------------------------------------------------------------------------------
    def count(self, owner: str) -> int:
        """How many memories of ``owner`` are indexed."""
        with self._connect(owner) as connection:
            if connection is None:
                return 0
            return int(connection.execute("SELECT count(*) FROM memory_rows").fetchone()[0])

    def ids(self, owner: str) -> set[str]:
        """The ids of the indexed memories of ``owner``."""
        with self._connect(owner) as connection:
            if connection is None:
                return set()
            return {str(row[0]) for row in connection.execute("SELECT memory_id FROM memory_rows")}

    def search(self, owner: str, query: str, limit: int) -> list[tuple[str, float]]:
        """The ``limit`` memories of ``owner`` that best match ``query``'s content words: ``(id, BM25)``, best first.

        Function words are left out (``memory.candidates.query_words``); a memory must contain at least one of the
        remaining words (any of them, stemmed). A query with no content word finds nothing. BM25's statistics are
        the owner's own.
        """
        words = query_words(query)[:MAX_QUERY_WORDS]
        if not words or limit < 1:
            return []
        with self._connect(owner) as connection:
            if connection is None:
                return []
            words = _rare_enough(connection, words)
            rows = connection.execute(
                # bm25() is lower-is-better; the best rows are chosen first, then mapped to memory ids
                "SELECT r.memory_id, -best.score FROM"
                " (SELECT rowid, bm25(memory_text) AS score FROM memory_text"
                "  WHERE memory_text MATCH ? ORDER BY score LIMIT ?) AS best"
                " JOIN memory_rows AS r ON r.row = best.rowid ORDER BY best.score",
                (" OR ".join(_quoted(w) for w in words), limit),
            ).fetchall()
        return [(str(memory_id), float(score)) for memory_id, score in rows]

    # -- helpers ---------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise sqlite3.ProgrammingError("the lexical index is closed")

    @contextlib.contextmanager
    def _connect(self, owner: str, *, create: bool = False) -> Iterator[sqlite3.Connection | None]:
        """The owner's file (``None`` if it does not exist and ``create`` is false), held under the lock."""
        self._check_open()
        path = self.path(owner)
        with self._lock:
            connection = self._cached(owner, path)
            if connection is None:
                connection = _open(path, create=create)
                if connection is not None:
                    self._remember(owner, path, connection)
            yield connection

    def _cached(self, owner: str, path: Path) -> sqlite3.Connection | None:
        """The connection already open on the owner's file, unless the file was deleted or replaced since."""
        cached = self._connections.get(owner)
        if cached is None:
            return None
        connection, inode = cached
        try:
            current: int | None = path.stat().st_ino
        except FileNotFoundError:
            current = None
        if current != inode:  # another process erased the user (and maybe wrote again): let go of the old file
            del self._connections[owner]
            connection.close()
            return None
        self._connections.move_to_end(owner)
        return connection

    def _remember(self, owner: str, path: Path, connection: sqlite3.Connection) -> None:
        self._connections[owner] = (connection, path.stat().st_ino)
        while len(self._connections) > self._open_files:
            self._connections.popitem(last=False)[1][0].close()


def _rare_enough(connection: sqlite3.Connection, words: Sequence[str]) -> list[str]:
    """``words`` without those in more than ``MAX_TERM_MEMORIES`` of the owner's memories; the rarest if all are.

    A word's count is that of its stems (the index's own tokenizer, run on the word in a temporary table; a word
    of several tokens counts as its rarest, an upper bound on how many memories hold them all).
    """
    # The temporary table is this connection's own, in memory: these writes take no lock on the owner's file.
    connection.execute("DELETE FROM temp.query_text")
    connection.executemany("INSERT INTO temp.query_text (rowid, text) VALUES (?, ?)", list(enumerate(words)))
    stems = connection.execute("SELECT doc, term FROM temp.query_terms").fetchall()
    if not stems:
        return list(words)
    unique = sorted({term for _, term in stems})
    marks = ",".join("?" * len(unique))
    found = dict(connection.execute(f"SELECT term, doc FROM memory_terms WHERE term IN ({marks})", unique).fetchall())
    counts: dict[int, int] = {}
    for index, term in stems:
        counts[index] = min(counts.get(index, found.get(term, 0)), found.get(term, 0))
    kept = [word for index, word in enumerate(words) if counts.get(index, 0) <= MAX_TERM_MEMORIES]
    if kept:
        return kept
    rarest = min(counts.values())
    return [word for index, word in enumerate(words) if counts.get(index) == rarest]


def remove_database(path: Path) -> None:
    """Delete an SQLite file with its write-ahead log and shared-memory file, those that exist."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        file.unlink(missing_ok=True)


def _open(path: Path, *, create: bool) -> sqlite3.Connection | None:
    """Open one owner's file (``None`` if it does not exist and ``create`` is false: a read never creates one).

    A file that is not a database, or a malformed one, is removed and started afresh: the index is rebuilt from
    Chroma.
    """
    uri = f"file:{quote(str(path))}?mode={'rwc' if create else 'rw'}"
    for attempt in (1, 2):
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
        except sqlite3.OperationalError:
            if create or path.exists():
                raise
            return None
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA secure_delete=ON")  # a deleted memory's text must not linger in free pages
            connection.execute("PRAGMA temp_store=MEMORY")  # the query's own table (_rare_enough) never hits the disk
            connection.executescript(_SCHEMA)
            return connection
        except sqlite3.DatabaseError as exc:
            connection.close()
            if attempt == 2 or not any(sign in str(exc) for sign in ("not a database", "malformed")):
                raise
            logger.warning("lexical index file %s is not a database (%s); starting it afresh", path.name, exc)
            remove_database(path)
    raise AssertionError("unreachable")


def _delete_ids(connection: sqlite3.Connection, memory_ids: Sequence[str]) -> None:
    for start in range(0, len(memory_ids), 500):  # SQLite's limit on bound parameters
        batch = list(memory_ids[start : start + 500])
        marks = ",".join("?" * len(batch))
        found = [
            row for (row,) in connection.execute(f"SELECT row FROM memory_rows WHERE memory_id IN ({marks})", batch)
        ]
        if found:
            rows = ",".join("?" * len(found))
            connection.execute(f"DELETE FROM memory_text WHERE rowid IN ({rows})", found)
            connection.execute(f"DELETE FROM memory_rows WHERE row IN ({rows})", found)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): one writer at a time across processes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if error is None else "ROLLBACK")
