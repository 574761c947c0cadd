"""The project's own Redis and Chroma servers, exercised with real processes: start, share, crash, restart."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import numpy as np
import pytest
import redis
from chromadb.config import Settings

from companion.core.errors import ConfigurationError, StoreUnavailableError
from memory.embedded import (
    ChromaDirectoryLock,
    EmbeddedChromaServer,
    EmbeddedRedis,
    running_chroma_server,
)
from memory.long_term import HNSW_SYNC_THRESHOLD, OWNER_KEY, LongTermStore, collection_name
from memory.records import MemoryRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
# Generous waits for real processes on a loaded machine; they bound a hang, they are not speed assertions.
PROCESS_TIMEOUT = 120


def _run_script(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    assert process.returncode == 0, err
    return out


def _wait_for(condition: object, what: str, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _wait_gone(pid: int) -> None:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
        except OSError:
            return True

    _wait_for(gone, f"pid {pid} to exit")


# ---------------------------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis-shared"))
    assert server.ensure_running() is True
    yield server
    server.stop()


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "data")
    yield server
    server.stop()


def test_redis_answers_on_a_private_unix_socket(shared_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(shared_redis.url)
    try:
        assert client.ping() is True
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
    finally:
        client.close()
    assert shared_redis.url == f"unix://{shared_redis.data_dir / 'redis' / 'redis.sock'}"
    assert stat.S_IMODE(shared_redis.socket_path.stat().st_mode) == 0o700
    assert shared_redis.is_running()
    assert shared_redis.pid is not None


async def test_redis_url_works_with_the_asyncio_client(shared_redis: EmbeddedRedis) -> None:
    client = redis.asyncio.from_url(shared_redis.url)
    try:
        await client.set("async-key", "value")
        assert await client.get("async-key") == b"value"
    finally:
        await client.aclose()


def test_redis_writes_reach_the_append_only_file(shared_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(shared_redis.url)
    try:
        client.set("aof-probe-key", "aof-probe-value")
    finally:
        client.close()
    aof = shared_redis.directory / "appendonly.aof"
    _wait_for(lambda: aof.exists() and b"aof-probe-value" in aof.read_bytes(), "the write in appendonly.aof")


def test_second_embedded_redis_on_the_same_dir_reuses_the_server(shared_redis: EmbeddedRedis) -> None:
    other = EmbeddedRedis(shared_redis.data_dir)
    assert other.ensure_running() is False
    assert other.pid == shared_redis.pid
    assert other.url == shared_redis.url


_START_REDIS = """
    import json, sys, time
    from pathlib import Path
    from memory.embedded import EmbeddedRedis
    data_dir, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    server = EmbeddedRedis(data_dir)
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    started = server.ensure_running()
    print(json.dumps({"started": started, "pid": server.pid}))
"""


def test_concurrent_starts_from_several_processes_give_one_server(fresh_redis: EmbeddedRedis, tmp_path: Path) -> None:
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(4)]
    processes = [_run_script(_START_REDIS, str(fresh_redis.data_dir), str(r), str(go)) for r in readies]
    _wait_for(lambda: all(r.exists() for r in readies), "the starters to be ready", timeout=PROCESS_TIMEOUT)
    go.touch()
    results = [json.loads(_finish(p)) for p in processes]
    assert sorted(r["started"] for r in results) == [False, False, False, True]
    assert {r["pid"] for r in results} == {fresh_redis.pid}
    assert fresh_redis.pid is not None


def test_stop_shuts_the_server_down(fresh_redis: EmbeddedRedis) -> None:
    assert fresh_redis.ensure_running() is True
    pid = fresh_redis.pid
    assert pid is not None
    assert fresh_redis.stop() is True
    _wait_gone(pid)
    assert not fresh_redis.is_running()
    assert fresh_redis.pid is None
    assert not fresh_redis.socket_path.exists()
    assert fresh_redis.stop() is False


def test_data_survives_a_clean_restart(fresh_redis: EmbeddedRedis) -> None:
    fresh_redis.ensure_running()
    client = redis.Redis.from_url(fresh_redis.url)
    client.hset("user:1", mapping={"name": "Ada", "mood": "curious"})
    client.close()
    assert fresh_redis.stop() is True

    assert fresh_redis.ensure_running() is True
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.hgetall("user:1") == {b"name": b"Ada", b"mood": b"curious"}
    finally:
        client.close()


def test_killed_server_leaves_stale_files_that_the_next_start_recovers(fresh_redis: EmbeddedRedis) -> None:
    fresh_redis.ensure_running()
    client = redis.Redis.from_url(fresh_redis.url)
    client.rpush("history", "one", "two", "three")
    client.close()
    aof = fresh_redis.directory / "appendonly.aof"
    _wait_for(lambda: b"three" in aof.read_bytes(), "the write in appendonly.aof")
    pid = fresh_redis.pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert fresh_redis.socket_path.exists() and fresh_redis.pidfile_path.exists()  # left behind by the kill
    assert not fresh_redis.is_running()

    assert fresh_redis.ensure_running() is True
    assert fresh_redis.pid not in (None, pid)
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.lrange("history", 0, -1) == [b"one", b"two", b"three"]  # replayed from the AOF
    finally:
        client.close()


def test_unwritable_data_dir_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    server = EmbeddedRedis(blocker / "sub")
    with pytest.raises(ConfigurationError, match=r"^data directory .*/file/sub is not writable: ") as caught:
        server.ensure_running()
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# Chroma
# ---------------------------------------------------------------------------------------------------------------


def _http_client(url: str) -> chromadb.api.ClientAPI:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return chromadb.HttpClient(host=parts.hostname, port=parts.port, settings=Settings(anonymized_telemetry=False))


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedChromaServer]:
    server = EmbeddedChromaServer(tmp_path_factory.mktemp("chroma-shared"))
    assert server.ensure_running() is True
    yield server
    server.stop()


def test_chroma_server_answers_its_heartbeat(chroma_server: EmbeddedChromaServer) -> None:
    url = chroma_server.url
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{url}/api/v2/heartbeat") as response:
        assert "nanosecond heartbeat" in json.loads(response.read())
    state = json.loads(chroma_server.state_path.read_text())
    assert state["url"] == url and state["pid"] == chroma_server.pid
    assert running_chroma_server(chroma_server.data_dir) == url
    assert chroma_server.is_running()


def test_the_chroma_server_log_does_not_grow_with_every_request(chroma_server: EmbeddedChromaServer) -> None:
    client = _http_client(chroma_server.url)
    collection = client.get_or_create_collection("log-probe")
    before = chroma_server.log_path.stat().st_size
    for index in range(30):
        collection.add(ids=[str(index)], documents=["x"], embeddings=[[0.1, 0.2]])
        collection.query(query_embeddings=[[0.1, 0.2]], n_results=1)
    # at its default level the server wrote about 3 KB per request (180 KB here); warnings only, nothing
    assert chroma_server.log_path.stat().st_size - before < 2_000


def test_the_chroma_server_takes_the_sync_threshold_for_new_and_old_collections(
    chroma_server: EmbeddedChromaServer,
) -> None:
    client = _http_client(chroma_server.url)
    old = client.create_collection(
        collection_name("sync-old"), metadata={OWNER_KEY: "sync-old"}, embedding_function=None
    )
    assert old.configuration_json["hnsw"]["sync_threshold"] == 1000  # Chroma's default
    store = LongTermStore(client)
    store.add("sync-new", [MemoryRecord(id="m1", user_id="sync-new", text="I keep bees")], np.full((1, 384), 0.05))
    assert store.list_memories("sync-old") == []  # resolving the old collection gives it the threshold
    for user in ("sync-new", "sync-old"):
        collection = client.get_collection(collection_name(user), embedding_function=None)
        assert collection.configuration_json["hnsw"]["sync_threshold"] == HNSW_SYNC_THRESHOLD


def test_second_chroma_server_object_reuses_the_running_server(chroma_server: EmbeddedChromaServer) -> None:
    other = EmbeddedChromaServer(chroma_server.data_dir)
    assert other.ensure_running() is False
    assert other.pid == chroma_server.pid
    assert other.url == chroma_server.url


_START_CHROMA = """
    import json, sys, time
    from pathlib import Path
    from memory.embedded import EmbeddedChromaServer
    data_dir, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    server = EmbeddedChromaServer(data_dir)
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    started = server.ensure_running()
    print(json.dumps({"started": started, "pid": server.pid, "url": server.url}))
"""


def test_concurrent_chroma_starts_give_one_server_that_outlives_its_starter(tmp_path: Path) -> None:
    data_dir, go = tmp_path / "data", tmp_path / "go"
    readies = [tmp_path / f"ready-{i}" for i in range(2)]
    processes = [_run_script(_START_CHROMA, str(data_dir), str(r), str(go)) for r in readies]
    try:
        _wait_for(lambda: all(r.exists() for r in readies), "the starters to be ready", timeout=PROCESS_TIMEOUT)
        go.touch()
        results = [json.loads(_finish(p)) for p in processes]
        assert sorted(r["started"] for r in results) == [False, True]
        assert len({(r["pid"], r["url"]) for r in results}) == 1
        # Both starters have exited; the server lives on, detached, for the next process.
        assert running_chroma_server(data_dir) == results[0]["url"]
    finally:
        EmbeddedChromaServer(data_dir).stop()
    assert running_chroma_server(data_dir) is None


def test_no_server_means_no_url(tmp_path: Path) -> None:
    assert running_chroma_server(tmp_path) is None
    assert not EmbeddedChromaServer(tmp_path).is_running()
    assert EmbeddedChromaServer(tmp_path).stop() is False


def test_directory_lock_refuses_the_store_while_the_server_owns_it(chroma_server: EmbeddedChromaServer) -> None:
    lock = ChromaDirectoryLock(chroma_server.chroma_dir)
    with pytest.raises(StoreUnavailableError, match=rf"in use by another process \(pid {chroma_server.pid}\)"):
        lock.acquire()
    assert not lock.acquired


_WRITER = """
    import json, sys
    import numpy as np
    import chromadb
    from chromadb.config import Settings
    host, port, name, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = chromadb.HttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(name, embedding_function=None)
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    for start in range(0, 200, 10):
        ids = [f"{prefix}-{i}" for i in range(start, start + 10)]
        collection.add(
            ids=ids,
            embeddings=rng.random((10, 8)).astype("float32").tolist(),
            metadatas=[{"writer": prefix, "n": i} for i in range(start, start + 10)],
            documents=[f"memory {i} from {prefix}" for i in range(start, start + 10)],
        )
    print(json.dumps({"onnxruntime_loaded": "onnxruntime" in sys.modules}))
"""


def test_two_processes_write_into_one_collection_at_once(chroma_server: EmbeddedChromaServer, tmp_path: Path) -> None:
    client = _http_client(chroma_server.url)
    client.create_collection("shared", embedding_function=None, metadata={"hnsw:space": "cosine"})
    parts = urlsplit(chroma_server.url)
    home = tmp_path / "home"  # a model download would land in $HOME/.cache/chroma
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    writers = [
        _run_script(_WRITER, str(parts.hostname), str(parts.port), "shared", prefix, env=env)
        for prefix in ("cli", "worker")
    ]
    reports = [json.loads(_finish(w)) for w in writers]

    assert reports == [{"onnxruntime_loaded": False}] * 2
    assert not (home / ".cache").exists()
    collection = client.get_collection("shared", embedding_function=None)
    assert collection.count() == 400
    stored = collection.get(include=["embeddings", "metadatas"])
    assert {m["writer"] for m in stored["metadatas"] or []} == {"cli", "worker"}
    by_id = dict(zip(stored["ids"], stored["embeddings"] if stored["embeddings"] is not None else [], strict=True))
    assert len(by_id) == 400
    for probe in ("cli-7", "worker-193"):
        found = collection.query(query_embeddings=[by_id[probe]], n_results=3, include=["metadatas"])
        assert found["ids"][0][0] == probe


def test_lock_is_held_by_the_process_that_opened_the_store(tmp_path: Path) -> None:
    holder = _run_script(
        """
        import sys
        from pathlib import Path
        from memory.embedded import ChromaDirectoryLock
        with ChromaDirectoryLock(Path(sys.argv[1])):
            print("locked", flush=True)
            sys.stdin.readline()
        """,
        str(tmp_path / "chroma"),
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreUnavailableError, match=rf"in use by another process \(pid {holder.pid}\)"):
            ChromaDirectoryLock(tmp_path / "chroma").acquire()
        with pytest.raises(StoreUnavailableError, match=r"in use by another process"):
            EmbeddedChromaServer(tmp_path).ensure_running()
        assert not EmbeddedChromaServer(tmp_path).state_path.exists()
    finally:
        holder.kill()
        holder.communicate(timeout=PROCESS_TIMEOUT)
    with ChromaDirectoryLock(tmp_path / "chroma") as lock:  # released when the holder died
        assert lock.acquired


def test_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    first, second = ChromaDirectoryLock(tmp_path / "chroma"), ChromaDirectoryLock(tmp_path / "chroma")
    with first, second:
        assert first.acquired and second.acquired
        assert first.holder_pid() == os.getpid()
        with pytest.raises(StoreUnavailableError, match="in use by this process"):
            EmbeddedChromaServer(tmp_path).ensure_running()
    assert not first.acquired
    with ChromaDirectoryLock(tmp_path / "chroma") as third:  # fully released after the last holder
        assert third.acquired


_IN_PROCESS_READER = """
    import json, sys
    from pathlib import Path
    import chromadb
    from chromadb.config import Settings
    from memory.embedded import ChromaDirectoryLock
    with ChromaDirectoryLock(Path(sys.argv[1])):
        client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
        collection = client.get_collection(sys.argv[2], embedding_function=None)
        print(json.dumps({"documents": collection.get(ids=["a", "b"])["documents"]}))
"""


def test_restart_keeps_the_data_and_frees_the_directory_between_runs(chroma_server: EmbeddedChromaServer) -> None:
    client = _http_client(chroma_server.url)
    collection = client.create_collection("restart", embedding_function=None)
    vectors = np.array([[1.0] * 8, [0.5] * 8], dtype=np.float32)
    collection.add(ids=["a", "b"], embeddings=vectors, documents=["first", "second"])
    old_pid = chroma_server.pid
    assert old_pid is not None

    assert chroma_server.stop() is True
    _wait_gone(old_pid)
    assert running_chroma_server(chroma_server.data_dir) is None
    assert not chroma_server.state_path.exists()
    with ChromaDirectoryLock(chroma_server.chroma_dir) as lock:  # free while no server runs
        assert lock.acquired
    # The in-process client opens the very directory the server used and sees its data.
    reader = _run_script(_IN_PROCESS_READER, str(chroma_server.chroma_dir), "restart")
    assert json.loads(_finish(reader)) == {"documents": ["first", "second"]}

    assert chroma_server.ensure_running() is True
    assert chroma_server.pid != old_pid
    collection = _http_client(chroma_server.url).get_collection("restart", embedding_function=None)
    assert collection.get(ids=["a", "b"])["documents"] == ["first", "second"]


def test_killed_server_is_detected_and_replaced(chroma_server: EmbeddedChromaServer) -> None:
    client = _http_client(chroma_server.url)
    collection = client.create_collection("crash", embedding_function=None)
    collection.add(ids=["x"], embeddings=np.full((1, 8), 0.25, dtype=np.float32), documents=["kept"])
    pid = chroma_server.pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert running_chroma_server(chroma_server.data_dir) is None

    assert chroma_server.ensure_running() is True
    collection = _http_client(chroma_server.url).get_collection("crash", embedding_function=None)
    assert collection.get(ids=["x"])["documents"] == ["kept"]
