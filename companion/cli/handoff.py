"""Handing ``companion chat`` turns to a ``companion serve`` that runs on the same data dir (issue 22).

A one-shot chat that runs its turn itself spends seconds importing Chroma, LangGraph and ONNX Runtime for a turn of
about 50 ms. While ``companion serve`` runs, its process has all of that loaded already, so the CLI sends the turn
to it over HTTP instead and prints what it would have printed had it run the turn itself.

Discovery: once ``serve`` listens, it writes ``<data_dir>/serve.json`` (owner-only, written atomically): its URL,
its pid, a fingerprint of the settings that decide whose data a turn touches and who answers it, and a random token
made for this process alone. The app accepts that token as an operator admin key for as long as the process lives
(it is kept in memory, never stored; anyone who can read the file can read the data dir's encryption key anyway).
``serve`` removes the file when it shuts down cleanly.

The CLI ignores the file, and runs the turn in-process as before, when it is missing or unreadable, not owned by
this user, its pid is gone or is no ``companion`` process (a killed server, a reused pid), its fingerprint differs
from this process's settings, or nothing accepts a connection at its URL, or the listener there rejects the token
(it is not the process that wrote the file). Each of those is known before the message was processed, so falling
back never runs a turn twice. Once the request is sent, a failure is reported instead: the turn may have happened.

Only the standard library is imported here: this module is on the path of a handed-off turn, whose whole point is
to start fast (``httpx`` alone takes about 0.3 s to import, a fifth of the budget).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.core.errors import (
    AuthenticationError,
    ChatModelError,
    CompanionError,
    ConfigurationError,
    ConflictError,
    InjectionBlockedError,
    InvalidInputError,
    MissingContextError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryLaterError,
    StoreUnavailableError,
    UserBusyError,
)

if TYPE_CHECKING:
    from companion.core.settings import Settings

logger = logging.getLogger(__name__)

#: The discovery file ``companion serve`` writes in its data dir.
DISCOVERY_FILE = "serve.json"
#: Seconds to wait for the local server to accept a connection: it is on this machine, or it is not there.
CONNECT_TIMEOUT = 2.0
#: Seconds to wait for a turn's answer once it is sent; a turn with a slow chat model can take a while.
TURN_TIMEOUT = 300.0

#: The errors the API names in ``ErrorBody.error``, rebuilt here so each keeps its message and exit code.
_ERRORS: dict[str, type[CompanionError]] = {
    cls.__name__: cls
    for cls in (
        InvalidInputError,
        MissingContextError,
        ConfigurationError,
        RateLimitedError,
        InjectionBlockedError,
        StoreUnavailableError,
        ChatModelError,
        NotFoundError,
        AuthenticationError,
        PermissionDeniedError,
        UserBusyError,
        ConflictError,
    )
}
#: What an error the API does not name as a domain error becomes, by status (a 422 is malformed input).
_BY_STATUS: dict[int, type[CompanionError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidInputError,
    422: InvalidInputError,
    429: RateLimitedError,
    503: StoreUnavailableError,
}


class ServiceNotReachedError(Exception):
    """The service could not be given the turn, and nothing of it was processed: run it in-process instead."""


@dataclass(frozen=True, slots=True)
class LocalService:
    """A ``companion serve`` process found through the data dir's discovery file."""

    url: str
    host: str
    port: int
    pid: int
    token: str

    def answers(self) -> bool:
        """Whether the service accepts a connection now (for an interactive session, before its first line)."""
        try:
            self._connect().close()
        except ServiceNotReachedError:
            return False
        return True

    def chat(self, *, user_id: str, conversation_id: str, message: str) -> dict[str, Any]:
        """Run one turn on the service: the ``ChatResponse`` as a dict.

        Raises ``ServiceNotReachedError`` when nothing was processed (no connection, or the token was refused), the
        ``CompanionError`` the service answered with, or ``StoreUnavailableError`` when it stopped answering.
        """
        body = json.dumps({"user_id": user_id, "conversation_id": conversation_id, "message": message})
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Connection": "close",  # one connection per turn: an idle kept-alive one may be closed under us
        }
        connection = self._connect()
        try:
            connection.sock.settimeout(TURN_TIMEOUT)
            connection.request("POST", "/v1/chat", body=body.encode("utf-8"), headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
            retry_after = response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailableError(
                f"the companion service at {self.url} (pid {self.pid}) stopped answering during the turn "
                f"({exc or type(exc).__name__}); the message may have been stored"
            ) from None
        finally:
            connection.close()
        if status == 401:
            # Our token is this process's own: a refusal means the listener is some other process, which ran nothing.
            raise ServiceNotReachedError(f"{self.url} refused the discovery file's token")
        data = _json_object(raw)
        if status == 200 and data is not None:
            return data
        raise error_from_response(status, data, retry_after, url=self.url)

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=CONNECT_TIMEOUT)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise ServiceNotReachedError(f"cannot connect to {self.url}: {exc}") from None
        return connection


def error_from_response(
    status: int, body: Mapping[str, Any] | None, retry_after: str | None, *, url: str
) -> CompanionError:
    """The ``CompanionError`` an error response of the API stands for: same class, same one-line message."""
    detail = str(body.get("detail", "")) if body is not None else ""
    name = str(body.get("error", "")) if body is not None else ""
    cls = _ERRORS.get(name) or _BY_STATUS.get(status)
    if cls is None or not detail:
        return CompanionError(f"the companion service at {url} failed (HTTP {status}): {detail or 'no detail'}")
    if issubclass(cls, RetryLaterError):
        return cls(detail, retry_after=_seconds(retry_after))
    return cls(detail)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def response_as_state(response: Mapping[str, Any]) -> dict[str, Any]:
    """A ``ChatResponse`` in the shape of the turn state ``companion chat --json`` is printed from.

    The API answers ``short_term: "stored"`` for a turn that stored nothing (a message the injection guard
    answered); the state has no ``short_term`` then, and the CLI prints null.
    """
    return {**response, "short_term": response.get("short_term") if response.get("memory_id") else None}


# -- the discovery file ------------------------------------------------------------------------------------
def new_token() -> str:
    """A fresh per-process token (256 bits)."""
    return secrets.token_urlsafe(32)


def settings_fingerprint(settings: Settings) -> str:
    """A digest of the settings that decide whose data a turn touches and who answers it.

    A CLI whose settings differ (another persona, chat model, Redis or Chroma) runs its turn itself, so that it
    prints what it would print without the service. The values are hashed, so a password in a Redis URL is not
    written to the file.
    """
    shaping = [
        settings.persona,
        settings.chat_model,
        settings.redis_url,
        settings.chroma_url,
        str(settings.resolved_chroma_path),
    ]
    return hashlib.sha256(json.dumps(shaping).encode("utf-8")).hexdigest()


def connect_host(bound: str) -> str:
    """The address a client on this machine connects to for a server bound to ``bound``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bound, bound)


def publish(data_dir: Path, *, host: str, port: int, token: str, fingerprint: str) -> Path:
    """Write the discovery file for this process (``0600``, atomically: a reader sees the old file or the new)."""
    host = connect_host(host)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    record = {"url": url, "host": host, "port": port, "pid": os.getpid(), "token": token, "settings": fingerprint}
    path = data_dir / DISCOVERY_FILE
    descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".serve-", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(descriptor, "w") as out:
            json.dump(record, out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def withdraw(data_dir: Path) -> None:
    """Remove the discovery file if this process wrote it (a second server on the data dir may have replaced it)."""
    path = data_dir / DISCOVERY_FILE
    record = _read(path)
    if record is not None and record.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def find_service(settings: Settings) -> LocalService | None:
    """The ``companion serve`` of this data dir to hand turns to, or ``None`` (see the module docstring)."""
    path = settings.data_dir / DISCOVERY_FILE
    record = _read(path)
    if record is None:
        return None
    try:
        service = LocalService(
            url=str(record["url"]),
            host=str(record["host"]),
            port=int(record["port"]),
            pid=int(record["pid"]),
            token=str(record["token"]),
        )
    except (KeyError, TypeError, ValueError):
        logger.debug("ignoring %s: not a discovery file", path)
        return None
    if not _is_companion_process(service.pid):
        logger.debug("ignoring %s: pid %d is not a running companion process", path, service.pid)
        return None
    if record.get("settings") != settings_fingerprint(settings):
        logger.debug("not handing the turn to %s: it runs with other settings", service.url)
        return None
    return service


def _read(path: Path) -> dict[str, Any] | None:
    """The discovery file's record, when it is one of this user's, writable by no one else."""
    try:
        with path.open("rb") as file:
            status = os.fstat(file.fileno())
            raw = file.read(64 * 1024)
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        logger.debug("ignoring %s: not owned by this user, or writable by others", path)
        return None
    return _json_object(raw)


def _is_companion_process(pid: int) -> bool:
    """Whether ``pid`` is alive and, where procfs tells, a ``companion`` process (not a pid reused since)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: not the server this user started
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs (macOS): the pid is all there is to go on
    except OSError:
        return False
    return b"companion" in command
