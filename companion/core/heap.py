"""Freed memory is scrubbed, so that no plaintext outlives its use in this process's heap.

Chroma writes its HNSW index buffers to disk whole, unused capacity included, and those buffers come from ``malloc``
uninitialised. A memory's text decrypted for its owner (a memory listing, a prompt) that sat in a freed block could
then land in another user's index file: the sealing test found one user's secret, inside the JSON of a memory
listing, in another collection's ``data_level0.bin``. glibc's ``M_PERTURB`` fills every block ``malloc`` hands out
and every block freed with a fixed byte, so nothing freed survives into a new allocation. Python's small-object
allocator keeps its own arenas (mapped fresh from the kernel, zeroed), so the blocks at stake are glibc's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["scrub_freed_memory"]

logger = logging.getLogger(__name__)

#: ``mallopt`` parameter number of ``M_PERTURB`` in glibc's ``malloc.h``.
M_PERTURB = -6
#: The byte freed blocks are filled with (new blocks get its complement).
SCRUB_BYTE = 0x5A


def scrub_freed_memory() -> bool:
    """Turn on glibc's ``M_PERTURB`` for this process; ``False`` where the C library has no such switch."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        logger.debug("no mallopt in this C library: freed memory is not scrubbed")
        return False
    return bool(mallopt(M_PERTURB, SCRUB_BYTE))
