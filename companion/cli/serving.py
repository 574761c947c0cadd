"""``companion serve``'s uvicorn server, which tells ``companion chat`` on the same data dir where to find it.

Kept apart from ``companion/cli/api.py`` because it imports uvicorn, which the other commands of that module (and
the parser, which imports it) must not pay for.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import uvicorn

from companion.cli import handoff

logger = logging.getLogger(__name__)


class AnnouncedServer(uvicorn.Server):
    """A uvicorn server that writes the data dir's discovery file once it listens and removes it when it stops.

    Written after the sockets are bound, not in the app's lifespan (which runs before them), so a CLI that finds
    the file finds a server that accepts its connection; removed as shutdown begins, so no CLI sends a turn to a
    server that is closing.
    """

    def __init__(self, config: uvicorn.Config, *, data_dir: Path, token: str, fingerprint: str) -> None:
        super().__init__(config)
        self.data_dir = data_dir
        self.token = token
        self.fingerprint = fingerprint

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then publish the address it listens on (the real port, also for ``--port 0``)."""
        await super().startup(sockets=sockets)
        address = _tcp_address(self)
        if address is None or self.should_exit:
            return
        host, port = address
        path = handoff.publish(self.data_dir, host=host, port=port, token=self.token, fingerprint=self.fingerprint)
        logger.info("companion chat on this data dir hands its turns to this server (%s)", path)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Withdraw the discovery file first, then shut down as uvicorn does."""
        handoff.withdraw(self.data_dir)
        await super().shutdown(sockets=sockets)


def _tcp_address(server: uvicorn.Server) -> tuple[str, int] | None:
    """The first IPv4 (else IPv6) address the server listens on, or ``None`` (a unix socket, nothing bound)."""
    bound = [sock.getsockname() for listener in getattr(server, "servers", []) for sock in listener.sockets]
    inet = [address for address in bound if isinstance(address, tuple)]
    inet.sort(key=lambda address: ":" in address[0])  # IPv4 first
    return (str(inet[0][0]), int(inet[0][1])) if inet else None
