"""Builds the real services (Redis, Chroma, embedder, chat model, checkpointer) from settings.

Which Redis:  ``COMPANION_REDIS_URL`` if set (any Redis >= 6.2), else the embedded server under the data dir,
              started on first use and shared by every process (``companion services stop`` stops it).
Which Chroma: ``COMPANION_CHROMA_URL`` if set; else the project's shared Chroma server if one runs for this
              data dir (``companion services start``); else an in-process ``PersistentClient``, which holds a
              lock on the directory so that no second process can write to it at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from companion.core.errors import CompanionError, ConfigurationError, StoreUnavailableError
from companion.core.heap import scrub_freed_memory
from companion.core.personality.state import Rates
from companion.core.settings import Settings
from memory.api_keys import REGISTER_FILE, ApiKeyStore, KeyRegister
from memory.cipher import TextCipher, load_cipher
from memory.embedded import ChromaDirectoryLock, EmbeddedChromaServer, EmbeddedRedis, running_chroma_server
from memory.keys import migrate_redis_keys
from memory.lexical import LexicalIndex, remove_database
from memory.short_term import ShortTermStore

# Chroma, LangChain and LangGraph take a second or more to import: they are imported where they are used, so the
# commands that need none of them (``services``, ``keys``, ``detect``, ``--help``) start without them; so are
# NumPy and ONNX Runtime (the embedder), which ``services`` and ``keys`` do not need.
if TYPE_CHECKING:
    import aiosqlite
    from chromadb.api import ClientAPI
    from langchain_core.language_models import BaseChatModel

    from memory.checkpoints import LatestCheckpointSaver
    from memory.embeddings import Embedder
    from memory.links import LinkStore
    from memory.long_term import LongTermStore
    from memory.personality_store import PersonalityStore
    from memory.reflection_log import ReflectionLog

logger = logging.getLogger(__name__)

MIN_REDIS_VERSION = (6, 2)


@dataclass
class Services:
    """The live clients one process uses. Close with ``aclose()``."""

    settings: Settings
    redis_url: str
    redis: Redis
    chroma: ClientAPI
    chroma_mode: str  # "embedded" (in-process), "shared-server" (project-managed) or "external"
    long_term: LongTermStore
    short_term: ShortTermStore
    embedder: Embedder
    chat_model: BaseChatModel | None
    key_register: KeyRegister
    chroma_lock: ChromaDirectoryLock | None = None
    started: list[str] = field(default_factory=list)

    @property
    def api_keys(self) -> ApiKeyStore:
        """The API keys: the durable register, cached in Redis."""
        return ApiKeyStore(self.redis, self.key_register)

    # The stores over Chroma are built on first use, once per process (their modules import Chroma, which the
    # commands that never touch it should not wait for).
    @cached_property
    def links(self) -> LinkStore:
        """Versions, relations and raw transcripts of every user's memories."""
        from memory.links import LinkStore

        return LinkStore(self.chroma, cipher=self.long_term.cipher)

    @cached_property
    def reflection_log(self) -> ReflectionLog:
        """Reflection's decisions for every user (sealed like the links: they quote what users said)."""
        from memory.reflection_log import ReflectionLog

        return ReflectionLog(self.chroma, cipher=self.long_term.cipher)

    @cached_property
    def personality(self) -> PersonalityStore:
        """Every user's personality state: Redis for the live copy, Chroma checkpoints as the durable one."""
        from memory.personality_store import PersonalityStore

        return PersonalityStore(self.chroma, self.redis, rates=personality_rates(self.settings))

    async def aclose(self) -> None:
        """Close clients and release the embedded Chroma lock (servers keep running for other processes).

        Personality checkpoints still being written in the background are finished first.
        """
        if "personality" in self.__dict__:
            await self.personality.drain()
        self.key_register.close()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()
        if self.chroma_lock is not None:
            self.chroma_lock.release()
            self.chroma_lock = None


#: The data dir holds every user's memories, keys and transcripts: only its owner may enter it.
DATA_DIR_MODE = 0o700
#: Files the process (and the Redis and Chroma servers it starts, which inherit it) creates are owner-only.
PRIVATE_UMASK = 0o077


def personality_rates(settings: Settings) -> Rates:
    """The personality engine's tunable rates, from the settings (handed to the personality store as values)."""
    return Rates(
        drift=settings.mood_drift_rate,
        quirk_reinforcement=settings.quirk_reinforcement_rate,
        quirk_decay=settings.quirk_decay_rate,
    )


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir if needed (owner-only), check it is writable; a clear error otherwise.

    A data dir that others can enter is tightened to ``0700`` when this user owns it, and the process umask
    becomes ``077`` so that Redis' append-only file, ``chroma.sqlite3`` and the checkpoints are created ``0600``.
    """
    os.umask(PRIVATE_UMASK)
    try:
        path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
        status = path.stat()
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            path.chmod(DATA_DIR_MODE)
        # a probe of its own: processes starting at once must not remove each other's (a shared name raced)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"data directory {path} is not writable ({exc.strerror or exc}); set COMPANION_DATA_DIR"
        ) from None
    return path


def resolve_redis_url(settings: Settings) -> tuple[str, bool]:
    """The Redis URL to use, starting the embedded server if needed; returns (url, started_now)."""
    if settings.redis_url:
        return settings.redis_url, False
    server = EmbeddedRedis(settings.data_dir)
    started = server.ensure_running()
    return server.url, started


def check_redis(url: str) -> None:
    """Fail fast, with one line, if Redis is unreachable or older than 6.2."""
    # No retries here: redis-py 8 retries with backoff by default, which turns "unreachable" into a long wait.
    client = SyncRedis.from_url(url, socket_connect_timeout=3, socket_timeout=3, retry=Retry(NoBackoff(), 0))
    try:
        info = client.info("server")
    except (RedisError, OSError) as exc:
        raise StoreUnavailableError(f"cannot reach Redis at {_redact(url)}: {exc}") from None
    finally:
        client.close()
    version = tuple(int(part) for part in str(info.get("redis_version", "0.0")).split(".")[:2])
    if version < MIN_REDIS_VERSION:
        raise StoreUnavailableError(f"Redis at {_redact(url)} is {info.get('redis_version')}; 6.2 or newer is needed")


def migrate_redis(url: str) -> None:
    """Bring Redis keys written before ids were encoded to their new names (``memory.keys``), once per database."""
    client = SyncRedis.from_url(url, socket_connect_timeout=3, socket_timeout=30, retry=Retry(NoBackoff(), 0))
    try:
        migrate_redis_keys(client)
    except (RedisError, OSError) as exc:
        raise StoreUnavailableError(f"cannot migrate the Redis keys at {_redact(url)}: {exc}") from None
    finally:
        client.close()


def open_chroma(settings: Settings) -> tuple[ClientAPI, str, ChromaDirectoryLock | None]:
    """The Chroma client to use (see module docstring); returns (client, mode, lock held for embedded)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    url = settings.chroma_url
    mode = "external"
    if url is None:
        url = running_chroma_server(settings.data_dir)
        mode = "shared-server"
    if url is not None:
        try:
            return chromadb.HttpClient(host=url, settings=chroma_settings), mode, None
        except Exception as exc:  # chromadb raises several types when the server is not there
            raise StoreUnavailableError(f"cannot reach Chroma at {url}: {_first_line(exc)}") from None
    path = settings.resolved_chroma_path
    ensure_data_dir(path)
    lock = ChromaDirectoryLock(path)
    lock.acquire()
    try:
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        lock.release()
        raise StoreUnavailableError(f"cannot open the Chroma store at {path}: {_first_line(exc)}") from None
    return client, "embedded", lock


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model via ``init_chat_model``, or ``None`` (offline responder)."""
    if not settings.chat_model:
        return None
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"temperature": settings.chat_temperature, "max_tokens": settings.chat_max_tokens}
    provider = settings.chat_model.split(":", 1)[0]
    if provider == "openai":
        if settings.openai_api_key is not None:
            kwargs["api_key"] = settings.openai_api_key.get_secret_value()
        if settings.openai_base_url:
            kwargs["base_url"] = settings.openai_base_url
    try:
        return init_chat_model(settings.chat_model, **kwargs)
    except Exception as exc:  # building a client makes no call: whatever it raises (a missing
        # package, an unknown provider, the SDK's own "missing credentials" error) is a configuration problem
        raise ConfigurationError(f"cannot use chat model {settings.chat_model!r}: {_first_line(exc)}") from None


def start_loading_models(settings: Settings) -> threading.Thread:
    """Load the local models a turn uses (embedder, perception model, emotion classifier) in a thread, now.

    Loading them is mostly reading and hashing files and ONNX Runtime building its sessions, work that releases the
    GIL; a one-shot ``companion chat`` would otherwise do it after importing Chroma and LangGraph, which takes
    longer still and holds the GIL. Started first, it runs beside those imports. Each loader builds its model once
    per process under a lock, so whoever asks for a model next (``build_services``, ``build_graph``, the turn) gets
    this thread's copy, waiting for it if it is still loading. A failure here is left for that caller to meet and
    report as before. The modules are imported here, in the calling thread, so that the two threads never import
    the same modules at once.
    """
    import onnxruntime  # noqa: F401  (imported here rather than in the thread, see above)
    import tokenizers  # noqa: F401

    from memory.embeddings import load_embedder
    from tools.detection import load_detector
    from tools.perception import load_perception_model

    models = ensure_data_dir(settings.data_dir) / "models"

    def load() -> None:
        try:
            load_embedder(models)
            load_perception_model()
            load_detector()
        except CompanionError as exc:
            logger.debug("loading the models ahead failed (%s); they are loaded where they are needed", exc)

    thread = threading.Thread(target=load, name="load-models")
    thread.start()
    return thread


@contextlib.contextmanager
def shared_stores(settings: Settings) -> Iterator[None]:
    """While the block runs, serve the data dir's embedded Chroma to other processes, as ``services start`` does.

    A server process (``serve``, a bot) would otherwise hold the embedded store for itself, and every other command
    on the same data dir would fail with "in use by another process". A Chroma server that was already running is
    used and left running; one started here stops with the block. With ``COMPANION_CHROMA_URL`` set there is
    nothing to share.
    """
    if settings.chroma_url is not None:
        yield
        return
    ensure_data_dir(settings.data_dir)
    server = EmbeddedChromaServer(settings.data_dir)
    started = server.ensure_running()
    if started:
        logger.info("serving the embedded Chroma at %s to other processes on this data dir", server.url)
    try:
        yield
    finally:
        if started:
            server.stop()


def build_services(settings: Settings) -> Services:
    """Open every service the graphs need. Raises one-line ``CompanionError``s for unusable configuration."""
    from threadpoolctl import threadpool_limits

    from memory.embeddings import load_embedder  # imports numpy, so threadpool_limits finds its BLAS
    from memory.long_term import LongTermStore

    ensure_data_dir(settings.data_dir)
    scrub_freed_memory()  # before any secret is decrypted: Chroma persists uninitialised heap (companion/core/heap.py)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the embedder never needs the hub; make sure nothing asks it
    threadpool_limits(limits=settings.blas_threads, user_api="blas")  # for the whole process, as the setting says
    redis_url, redis_started = resolve_redis_url(settings)
    check_redis(redis_url)
    chat_model = build_chat_model(settings)
    embedder = load_embedder(settings.data_dir / "models")
    chroma, chroma_mode, chroma_lock = open_chroma(settings)
    redis = Redis.from_url(redis_url, socket_connect_timeout=3)
    lexical = open_lexical_index(settings)
    short_term = ShortTermStore(
        redis,
        context_turns=settings.context_turns,
        active_ttl=settings.active_ttl_seconds,
        inactive_ttl=settings.inactive_ttl_seconds,
        per_user_per_minute=settings.rate_limit_per_user,
        global_per_minute=settings.rate_limit_global,
    )
    try:
        migrate_redis(redis_url)  # last: a process that cannot start writes nothing
    except StoreUnavailableError:
        if chroma_lock is not None:
            chroma_lock.release()
        raise
    return Services(
        settings=settings,
        redis_url=redis_url,
        redis=redis,
        chroma=chroma,
        chroma_mode=chroma_mode,
        long_term=LongTermStore(chroma, lexical=lexical, cipher=open_cipher(settings)),
        short_term=short_term,
        embedder=embedder,
        chat_model=chat_model,
        key_register=open_key_register(settings),
        chroma_lock=chroma_lock,
        started=["redis"] if redis_started else [],
    )


def open_cipher(settings: Settings) -> TextCipher:
    """What seals secret and ultrasecret memories: the configured key, or the data dir's key file."""
    key = settings.encryption_key.get_secret_value() if settings.encryption_key is not None else None
    return load_cipher(key, ensure_data_dir(settings.data_dir))


def open_key_register(settings: Settings) -> KeyRegister:
    """The durable register of API keys in the data dir."""
    return KeyRegister(ensure_data_dir(settings.data_dir) / REGISTER_FILE)


def open_lexical_index(settings: Settings) -> LexicalIndex | None:
    """The lexical index in the data dir (``None`` when turned off); a one-line error if it cannot be opened.

    The single ``lexical.sqlite3`` of earlier versions (every user's words in one file) is removed: the index is
    derived from Chroma, and each user's file is rebuilt from it on their next search.
    """
    if not settings.lexical_index:
        return None
    legacy = settings.data_dir / "lexical.sqlite3"
    path = settings.data_dir / "lexical"
    try:
        remove_database(legacy)
        return LexicalIndex(path)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot open the lexical index {path}: {exc.strerror or exc}. It is rebuilt from Chroma, so it can be "
            "removed; or set COMPANION_LEXICAL_INDEX=false"
        ) from None


@contextlib.asynccontextmanager
async def open_checkpointer(
    settings: Settings, *, services: Services | None = None
) -> AsyncIterator[LatestCheckpointSaver]:
    """The durable LangGraph checkpointer: SQLite under the data dir, keeping each thread's newest checkpoint only.

    WAL with ``synchronous=NORMAL``: a commit does not wait for an fsync (about half the checkpoint's cost on the
    turn), the file never corrupts, and only a power cut can lose the last checkpoints. Nothing of record lives
    only there: a turn's message and the state it changed are in Chroma (and Redis) before the checkpoint.
    Checkpoints are sealed with the memory key (``memory.checkpoints.CheckpointCipher``): they hold the memories a
    turn recalled, secret ones included.

    Threads of the form written before ids were encoded are migrated on open (``migrate_thread_ids``); with
    ``services``, a thread is only moved when no other user the stores know could have written to it.
    """
    path = ensure_data_dir(settings.data_dir) / "checkpoints.sqlite"
    cipher = (services.long_term.cipher if services is not None else None) or open_cipher(settings)
    try:
        connection, saver = await _open_saver(path, cipher)
    except sqlite3.DatabaseError as exc:
        # Nothing of record lives only here, so a damaged file is set aside (kept, for whoever wants to look at it)
        # and the checkpointer starts afresh rather than stopping every command.
        aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
        logger.warning("the checkpoint database %s is damaged (%s); moved to %s, starting afresh", path, exc, aside)
        for suffix in ("", "-wal", "-shm"):
            damaged = path.with_name(path.name + suffix)
            if damaged.exists():
                damaged.rename(aside.with_name(aside.name + suffix))
        connection, saver = await _open_saver(path, cipher)
    try:
        if services is not None and await saver.legacy_thread_ids():
            await saver.migrate_thread_ids(await known_users(services))
        else:
            await saver.migrate_thread_ids()
        yield saver
    finally:
        await connection.close()


async def _open_saver(path: Path, cipher: TextCipher) -> tuple[aiosqlite.Connection, LatestCheckpointSaver]:
    """A connection to the checkpoint file (WAL) and its saver (sealing with ``cipher``), compacted.

    A damaged file raises DatabaseError.
    """
    import aiosqlite

    from memory.checkpoints import LatestCheckpointSaver, sealed_serializer

    connection = await aiosqlite.connect(str(path))
    try:
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        saver = LatestCheckpointSaver(connection, serde=sealed_serializer(cipher))
        await saver.compact()
    except BaseException:
        await connection.close()
        raise
    return connection, saver


#: How often a long-running process checks that the embedded Redis it relies on is still there.
REDIS_SUPERVISE_SECONDS = 5.0


async def supervise_embedded_redis(settings: Settings, *, interval: float = REDIS_SUPERVISE_SECONDS) -> None:
    """Restart the embedded Redis whenever it is found dead, until cancelled (nothing to do for a configured one).

    The server is daemonised so that several processes share it; if it dies (killed, OOM), every turn would fail
    until someone ran ``companion services start``. A long-running process (``serve``, the bots) runs this beside
    its work instead; the AOF brings the data back.
    """
    if settings.redis_url:
        return
    server = EmbeddedRedis(settings.data_dir)
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(server.ensure_running):
                logger.warning("the embedded Redis in %s had stopped; restarted it", settings.data_dir)
        except CompanionError as exc:
            logger.error("the embedded Redis in %s is down and could not be restarted: %s", settings.data_dir, exc)


async def known_users(services: Services) -> set[str]:
    """Every user the stores know of: a Chroma collection, or a message in Redis."""
    users = set(await asyncio.to_thread(services.long_term.list_users))
    return users | set(await services.short_term.users_last_message())


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """``build_services`` as an async context manager that closes everything on exit."""
    services = build_services(settings)
    try:
        yield services
    finally:
        await services.aclose()


@contextlib.asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[tuple[ClientAPI, Redis]]:
    """The Chroma and Redis clients only, opened and checked as ``build_services`` opens them, closed on exit.

    For commands that read stored state and embed nothing (``personality show``): no model is loaded, so neither
    ONNX Runtime nor the embedding graph is paid for.
    """
    ensure_data_dir(settings.data_dir)
    redis_url, _ = resolve_redis_url(settings)
    check_redis(redis_url)
    chroma, _, chroma_lock = open_chroma(settings)
    redis = Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        migrate_redis(redis_url)
        yield chroma, redis
    finally:
        with contextlib.suppress(RedisError, OSError):
            await redis.aclose()
        if chroma_lock is not None:
            chroma_lock.release()


def _redact(url: str) -> str:
    """Hide a password in a Redis URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
