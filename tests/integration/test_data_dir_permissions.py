"""The data dir holds every user's memories: only its owner can read it, and what the stores create is 0600."""

import stat
from pathlib import Path

import chromadb
import redis

from companion.services import ensure_data_dir
from memory.embedded import EmbeddedRedis


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_is_owner_only(tmp_path: Path) -> None:
    data_dir = ensure_data_dir(tmp_path / "new" / "data")
    assert _mode(data_dir) == 0o700


def test_an_existing_data_dir_others_can_enter_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "loose"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    ensure_data_dir(data_dir)
    assert _mode(data_dir) == 0o700


def test_files_the_stores_create_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    data_dir = ensure_data_dir(tmp_path / "data")
    server = EmbeddedRedis(data_dir)
    server.ensure_running()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.bgrewriteaof()
        client.close()
        chroma = chromadb.PersistentClient(path=str(data_dir / "chroma"))
        chroma.get_or_create_collection("probe").add(ids=["1"], documents=["x"], embeddings=[[0.1, 0.2]])
    finally:
        server.stop()
    created = [path for path in data_dir.rglob("*") if path.is_file()]
    assert any(path.name == "chroma.sqlite3" for path in created)
    assert any("appendonly" in str(path) or path.suffix == ".aof" for path in created)
    loose = [str(path.relative_to(data_dir)) for path in created if _mode(path) & 0o077]
    assert loose == []
