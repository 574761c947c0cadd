"""The peers' side of ``bench/peers.py``: a worker process per peer, run with the peer venv's Python.

    bench/.venv-peers/bin/python bench/peers_worker.py mem0        # or lg_sqlite, lg_memory

The peers live in a venv of their own (``peers-requirements.txt``, made by ``peers_setup.sh``): mem0's pins need
not fit the project's lock, and LangGraph's ``SqliteStore`` needs an SQLite that loads extensions (sqlite-vec),
which the standard library's may not (then ``pysqlite3`` supplies one). Every peer uses the project's ONNX embedder
(``memory/embeddings.py``, imported from this checkout):

* **mem0** (``mem0``): ``Memory`` with a Chroma vector store (``PersistentClient`` in the data dir), the project's
  embedder registered as its embedder and an LLM that refuses to be called (``add(infer=False)`` and ``search``
  never call one): offline, no API key. A turn is ``search(message, filters={"user_id": ...}, top_k=K)`` then
  ``add(message, user_id=..., infer=False)``.
* **LangGraph** ``SqliteStore`` with its sqlite-vec index (``lg_sqlite``) and ``InMemoryStore`` (``lg_memory``),
  both with ``index={"dims": 384, "embed": <the project's embedder>, "fields": ["text"]}`` (and ``"text_fields"``,
  the name ``SqliteStore`` reads). A turn is
  ``search(namespace, query=message, limit=K)`` then ``put(namespace, key, {"text": message})``.

Protocol: one JSON object per line on stdin, one answer per line on stdout (logs go to stderr)::

    {"op": "setup", "data_dir": ..., "texts": path.json, "vectors": path.npy, "n": N, "models": dir}
        -> {"ok": true, "ingest_s": ..., "count": N, "versions": {...}}
    {"op": "turn", "message": ...}  -> {"ok": true, "wall_ms": ..., "cpu_ms": ..., "found": k}
    {"op": "quit"}

A turn is timed here (wall: ``perf_counter``; CPU: ``process_time``, all threads of this process), so the pipe is
not counted. Ingest writes the N memories through each peer's own write path in batches, with the vectors the
parent computed (the same for every system), instead of embedding them again.
"""

import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from companion.core.versions import package_versions  # noqa: E402
from memory.embeddings import Embedder, load_embedder  # noqa: E402

USER_ID = "bench-user"
TOP_K = 5
INSERT_BATCH = 1000
NAMESPACE = ("memories", USER_ID)

_EMBEDDER: Embedder | None = None


def _embedder() -> Embedder:
    if _EMBEDDER is None:
        raise RuntimeError("load the project's embedder first")
    return _EMBEDDER


# ----------------------------------------------------------------------------------------------------
# mem0
# ----------------------------------------------------------------------------------------------------


def mem0_system(data_dir: Path, texts: Sequence[str], vectors: np.ndarray) -> tuple[Callable[[str], int], int]:
    from mem0 import Memory
    from mem0.configs.embeddings.base import BaseEmbedderConfig
    from mem0.configs.llms.base import BaseLlmConfig
    from mem0.embeddings.base import EmbeddingBase
    from mem0.llms.base import LLMBase
    from mem0.utils.factory import EmbedderFactory, LlmFactory

    class ProjectEmbedding(EmbeddingBase):
        """The project's ONNX all-MiniLM-L6-v2 embedder as a mem0 embedder."""

        def __init__(self, config: BaseEmbedderConfig | None = None) -> None:
            super().__init__(config)
            self.embedder = _embedder()

        def embed(self, text: str, memory_action: Literal["add", "search", "update"] | None = None) -> list[float]:
            vector: list[float] = self.embedder.embed([text])[0].tolist()
            return vector

        def embed_batch(self, texts: Sequence[str], memory_action: str = "add") -> list[list[float]]:
            rows: list[list[float]] = self.embedder.embed(list(texts)).tolist()
            return rows

    class OfflineLLM(LLMBase):
        """An LLM that is never called: ``add(infer=False)`` and ``search`` do not use one."""

        def generate_response(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            raise RuntimeError("the bench's mem0 must not call an LLM (add with infer=False)")

    # mem0's config accepts only the providers it knows; "langchain" is its bring-your-own-object provider, so ours
    # are registered under that name (the factories load a class by dotted path).
    module = sys.modules[__name__]
    module.ProjectEmbedding = ProjectEmbedding  # type: ignore[attr-defined]
    module.OfflineLLM = OfflineLLM  # type: ignore[attr-defined]
    EmbedderFactory.provider_to_class["langchain"] = f"{__name__}.ProjectEmbedding"
    LlmFactory.provider_to_class["langchain"] = (f"{__name__}.OfflineLLM", BaseLlmConfig)
    memory = Memory.from_config(
        {
            "embedder": {"provider": "langchain", "config": {"embedding_dims": 384}},
            "llm": {"provider": "langchain", "config": {}},
            "vector_store": {"provider": "chroma", "config": {"collection_name": "bench_mem0", "path": str(data_dir)}},
            "history_db_path": str(data_dir / "history.db"),
        }
    )
    now = datetime.now(UTC).isoformat()
    for start in range(0, len(texts), INSERT_BATCH):  # the payload add(infer=False) writes, without its history row
        chunk = texts[start : start + INSERT_BATCH]
        payloads = [
            {
                "user_id": USER_ID,
                "role": "user",
                "data": text,
                "hash": hashlib.md5(text.encode()).hexdigest(),
                "created_at": now,
                "updated_at": now,
                "text_lemmatized": text,  # what mem0 stores without spaCy (its lemmatiser falls back to the text)
            }
            for text in chunk
        ]
        memory.vector_store.insert(
            vectors=vectors[start : start + len(chunk)].tolist(),
            ids=[str(uuid.uuid4()) for _ in chunk],
            payloads=payloads,
        )

    def turn(message: str) -> int:
        found = memory.search(message, filters={"user_id": USER_ID}, top_k=TOP_K)["results"]
        memory.add(message, user_id=USER_ID, infer=False)
        return len(found)

    count: int = memory.vector_store.collection.count()
    return turn, count


# ----------------------------------------------------------------------------------------------------
# LangGraph stores
# ----------------------------------------------------------------------------------------------------


def sqlite_connect(path: Path) -> Any:
    """A connection that can load sqlite-vec: the standard library's if it loads extensions, else pysqlite3's."""
    import sqlite3

    connection: Any = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    if hasattr(connection, "enable_load_extension"):
        return connection
    connection.close()
    from pysqlite3 import dbapi2

    return dbapi2.connect(str(path), check_same_thread=False, isolation_level=None)


def langgraph_system(
    kind: str, data_dir: Path, texts: Sequence[str], vectors: np.ndarray
) -> tuple[Callable[[str], int], int]:
    from langchain_core.embeddings import Embeddings
    from langgraph.store.base import BaseStore, PutOp
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.sqlite import SqliteStore

    class ProjectEmbeddings(Embeddings):
        """The project's embedder as LangChain ``Embeddings``; during ingest, the parent's vectors by text."""

        def __init__(self) -> None:
            self.embedder = _embedder()
            self.precomputed: dict[str, list[float]] = {}

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.precomputed and all(text in self.precomputed for text in texts):
                return [self.precomputed[text] for text in texts]
            rows: list[list[float]] = self.embedder.embed(texts).tolist()
            return rows

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    embeddings = ProjectEmbeddings()
    # InMemoryStore reads "fields", SqliteStore "text_fields" (without it, it embeds the whole value as JSON)
    index: Any = {"dims": 384, "embed": embeddings, "fields": ["text"], "text_fields": ["text"]}
    store: BaseStore
    if kind == "lg_sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        sqlite_store = SqliteStore(sqlite_connect(data_dir / "store.sqlite"), index=index)
        sqlite_store.setup()
        store = sqlite_store
    else:
        store = InMemoryStore(index=index)
    embeddings.precomputed = dict(zip(texts, vectors.tolist(), strict=True))
    try:
        # InMemoryStore's batch put miscounts a batch holding the same text twice, so no batch does.
        batch: list[PutOp] = []
        seen: set[str] = set()
        for i, text in enumerate(texts):
            if len(batch) >= INSERT_BATCH or text in seen:
                store.batch(batch)
                batch, seen = [], set()
            batch.append(PutOp(NAMESPACE, f"m{i:07d}", {"text": text}))
            seen.add(text)
        if batch:
            store.batch(batch)
    finally:
        embeddings.precomputed = {}  # measured turns embed for real

    def turn(message: str) -> int:
        found = store.search(NAMESPACE, query=message, limit=TOP_K)
        store.put(NAMESPACE, uuid.uuid4().hex, {"text": message})
        return len(found)

    count = len(store.search(NAMESPACE, limit=len(texts) + 1))
    return turn, count


# ----------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------

PACKAGES = {
    "mem0": ("mem0ai", "chromadb", "onnxruntime", "numpy"),
    "lg_sqlite": ("langgraph", "langgraph-checkpoint-sqlite", "sqlite-vec", "pysqlite3-binary", "onnxruntime"),
    "lg_memory": ("langgraph", "onnxruntime", "numpy"),
}


def answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    global _EMBEDDER
    system = sys.argv[1] if len(sys.argv) > 1 else ""
    if system not in PACKAGES:
        raise SystemExit(f"usage: peers_worker.py {{{','.join(PACKAGES)}}}")
    turn: Callable[[str], int] | None = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "quit":
            break
        try:
            if op == "setup":
                data_dir = Path(request["data_dir"])
                data_dir.mkdir(parents=True, exist_ok=True)
                _EMBEDDER = load_embedder(Path(request["models"]))
                texts = json.loads(Path(request["texts"]).read_text(encoding="utf-8"))[: request["n"]]
                vectors = np.asarray(np.load(request["vectors"], mmap_mode="r")[: request["n"]])
                started = time.perf_counter()
                if system == "mem0":
                    turn, count = mem0_system(data_dir, texts, vectors)
                else:
                    turn, count = langgraph_system(system, data_dir, texts, vectors)
                ingest_s = time.perf_counter() - started
                answer(
                    {"ok": True, "ingest_s": ingest_s, "count": count, "versions": package_versions(*PACKAGES[system])}
                )
            elif op == "turn":
                if turn is None:
                    raise RuntimeError("setup first")
                wall, cpu = time.perf_counter(), time.process_time()
                found = turn(request["message"])
                cpu_ms = (time.process_time() - cpu) * 1000.0
                wall_ms = (time.perf_counter() - wall) * 1000.0
                answer({"ok": True, "wall_ms": wall_ms, "cpu_ms": cpu_ms, "found": found})
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # reported to the parent, which stops the run
            answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
