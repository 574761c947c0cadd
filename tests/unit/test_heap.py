"""Freed heap blocks are scrubbed once the services start (companion/core/heap.py)."""

import subprocess
import sys
import textwrap

import pytest

# Writes a secret into a malloc'd block, frees it, allocates the same size again and reports what the new block
# holds. Blocks above glibc's per-thread cache (1,032 bytes) are the ones Chroma's index buffers are carved from.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from companion.core.heap import scrub_freed_memory
    if sys.argv[1] == "scrub":
        assert scrub_freed_memory()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    secret = b"My email password is hunter2." * 200
    for size in (4096, 70000):
        block = libc.malloc(size)
        ctypes.memmove(block, secret, min(size, len(secret)))
        libc.free(block)
        again = libc.malloc(size)
        print(size, b"hunter2" in ctypes.string_at(again, min(size, len(secret))))
        libc.free(again)
    """
)


def _residue(mode: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line.endswith("True")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_freed_secret_does_not_survive_into_the_next_allocation() -> None:
    assert _residue("plain"), "the probe no longer sees glibc reuse a freed block; it cannot show scrubbing"
    assert _residue("scrub") == []
