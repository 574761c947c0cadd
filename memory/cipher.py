"""Secret and ultrasecret memories are encrypted at rest: their text and the reply stored with them.

"My PIN is 4821" must not sit in plain text in ``chroma.sqlite3``, in a backup of it, or in anything else that
reads the store's files. The text of a memory classified ``secret`` or ``ultrasecret`` (seed 002's two highest
levels) is sealed with Fernet (AES-128-CBC with an HMAC-SHA256, from ``cryptography``) before it reaches Chroma,
and opened when it is read back through ``LongTermStore``, so nothing above the store sees the difference. A
sealed text starts with :data:`SEALED_PREFIX`.

The key is ``COMPANION_ENCRYPTION_KEY`` (a Fernet key: ``companion keys`` does not make it; any 32 url-safe base64
bytes do, e.g. ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``), or
else a key generated on first use into ``<data_dir>/encryption.key`` (owner-only). Machines sharing one Chroma
server must share the key. Losing it loses the sealed texts, and only them.

What stays readable: the memory's embedding (the vector of the text; it is what recall searches by), its
metadata (level, time, emotion), and nothing else. Sealed memories are kept out of the lexical index and out of
consolidation (nodes/reflection.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from companion.core.errors import ConfigurationError
from memory.sensitivity import Sensitivity

__all__ = [
    "SEALED_LEVELS",
    "SEALED_PREFIX",
    "TextCipher",
    "is_sealed_level",
    "load_cipher",
    "open_document",
    "seal_document",
]

SEALED_PREFIX = "enc:v1:"
SEALED_LEVELS = frozenset({Sensitivity.SECRET, Sensitivity.ULTRASECRET})
KEY_FILE = "encryption.key"


def is_sealed_level(level: Sensitivity) -> bool:
    """Whether memories of ``level`` are stored encrypted."""
    return level in SEALED_LEVELS


class TextCipher:
    """Seals and opens texts with one Fernet key."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigurationError(
                "invalid setting COMPANION_ENCRYPTION_KEY: not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None

    def seal(self, text: str) -> str:
        """``text`` encrypted, with the sealed prefix (an empty text stays empty)."""
        if not text or text.startswith(SEALED_PREFIX):
            return text
        return SEALED_PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, text: str) -> str:
        """The plain text of a sealed ``text``; any other text as it is."""
        if not text.startswith(SEALED_PREFIX):
            return text
        return self.open_bytes(text[len(SEALED_PREFIX) :].encode("ascii")).decode("utf-8")

    def seal_bytes(self, data: bytes) -> bytes:
        """``data`` encrypted (a Fernet token)."""
        return self._fernet.encrypt(data)

    def open_bytes(self, token: bytes) -> bytes:
        """The inverse of :meth:`seal_bytes`; a token of another key is a one-line configuration error."""
        try:
            return self._fernet.decrypt(token)
        except (InvalidToken, ValueError):
            raise ConfigurationError(
                "a sealed record cannot be decrypted with this key: COMPANION_ENCRYPTION_KEY (or the data dir's "
                f"{KEY_FILE}) is not the one it was stored with"
            ) from None


def seal_document(cipher: TextCipher | None, document: str) -> str:
    """A derived record's document as it is stored: sealed whenever there is a cipher.

    Versions, association outcomes, raw transcripts, session summaries and reflection's log quote what the user
    said, at whatever level, and are only ever read back by id or metadata, never searched by their text; so they
    are sealed whole rather than by the level of what they quote (a transcript mixes levels).
    """
    return document if cipher is None else cipher.seal(document)


def open_document(cipher: TextCipher | None, document: str) -> str:
    """The inverse of :func:`seal_document`; a plain (older) document is returned as it is."""
    if cipher is not None:
        return cipher.open(document)
    if document.startswith(SEALED_PREFIX):
        raise ConfigurationError("this store has no cipher, so it cannot read a sealed record")
    return document


def load_cipher(key: str | None, data_dir: Path) -> TextCipher:
    """The cipher of ``key``, or of the data dir's key file (made, owner-only, on first use)."""
    if key:
        return TextCipher(key.strip())
    path = data_dir / KEY_FILE
    if not path.exists():
        # Written whole to a private temporary file, then linked into place: a process starting at the same time
        # either links its own key first or reads the complete file of the one that did, never half a key.
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".encryption-key-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return TextCipher(path.read_bytes().strip())
