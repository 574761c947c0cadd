"""Stopping long-running commands (worker, scheduler) cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading


def stop_on_signals(stop: asyncio.Event) -> bool:
    """Set ``stop`` on SIGINT or SIGTERM; returns whether handlers were installed.

    asyncio can only install signal handlers from the main thread, and not on Windows; elsewhere (a test running
    the loop in a thread, say) the caller's ``stop`` event is the only way to end the loop.
    """
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        return False
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return True
