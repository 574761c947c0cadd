"""Composite keys: the one encoding for every key, id or name built from more than one value.

User and conversation ids may contain ``:`` (``acme:alice``, ``discord:123``), so joining them with ``:`` is
ambiguous: user ``pb`` in conversation ``x:c1`` and user ``pb:x`` in conversation ``c1`` both gave the checkpoint
thread ``pb:x:c1`` and shared it. Every component is therefore percent-encoded (RFC 3986, UTF-8) before it is
joined: everything but letters, digits and ``_.-~@`` is written ``%XX``, so an encoded component never contains
``:``, ``{``, ``}``, ``/``, ``%`` (other than as an escape) or a Redis glob character, and ``encode_part`` is
one-to-one. Ids that match ``USER_ID_PATTERN`` change only where they contain ``:`` (``acme:alice`` ->
``acme%3Aalice``), so keys stay readable.

Where it is used (everything else is a single id, a hash or a UUID):

- checkpoint thread ids: ``<user>:<conversation>`` (``thread_id``), e.g. ``pb:x%3Ac1`` and ``pb%3Ax:c1``;
- every Redis key that names an id wraps it as a hash tag ``{<encoded id>}`` (``hash_tag``), e.g.
  ``companion:u:{acme%3Aalice}:c:{default}:turns``; the rate limiter's per-user counters use the encoded id;
- the lexical index's owner, ``<namespace>:<user>`` (``join_key``), whose hash names the user's file.

Not composite, so not changed: Chroma collections are named from a hash of the user id alone; the personality
state's Chroma id hashes user and persona joined by a NUL, which neither holds; every Chroma read also checks the
owner in the metadata; memory, version and link ids are UUIDs or ``<kind>:<one id>``; an outreach id,
``<user>:<seconds>``, ends in digits, so it has one reading, and is only ever looked up among its user's own.

Data written before this encoding is migrated when a process opens the stores (``migrate_redis_keys`` here; the
checkpointer's threads in ``companion.services``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from redis import Redis as SyncRedis
from redis.exceptions import ResponseError

logger = logging.getLogger(__name__)

#: The first part of every Redis key the project writes.
PREFIX = "companion"
#: Checkpoint metadata key naming the user a thread belongs to (the conversation graph writes it on every turn).
CHECKPOINT_USER_KEY = "companion_user_id"
#: The separator of ``join_key``; ``encode_part`` never leaves it in a component.
SEPARATOR = ":"
#: A Redis key whose hash tags are all encoded carries this version in ``KEYS_VERSION_KEY``.
KEYS_VERSION = 2
KEYS_VERSION_KEY = "companion:meta:keys_version"
_HASH_TAG = re.compile(r"\{([^{}]*)\}")


def encode_part(value: str) -> str:
    """``value`` percent-encoded, so that it holds no ``:``, ``{``, ``}``, ``/``, ``%`` or glob character."""
    return quote(value, safe="@")


def decode_part(text: str) -> str:
    """The value ``encode_part`` encoded as ``text``."""
    return unquote(text)


def join_key(*parts: str) -> str:
    """``parts`` encoded and joined with ``:``; ``split_key`` gives them back."""
    return SEPARATOR.join(encode_part(part) for part in parts)


def split_key(key: str) -> list[str]:
    """The parts of a ``join_key`` key."""
    return [decode_part(part) for part in key.split(SEPARATOR)]


def thread_id(user_id: str, conversation_id: str) -> str:
    """The LangGraph checkpoint thread of one user's conversation: ``<user>:<conversation>``, each encoded."""
    return join_key(user_id, conversation_id)


def split_thread_id(thread: str) -> tuple[str, str] | None:
    """``(user id, conversation id)`` of a ``thread_id``; ``None`` for a thread id of any other form."""
    parts = thread.split(SEPARATOR)
    if len(parts) != 2:
        return None
    return decode_part(parts[0]), decode_part(parts[1])


def legacy_thread_owner(thread: str, owner: str | None) -> tuple[str, str] | None:
    """``(user, conversation)`` of a thread id written before the encoding (``<user>:<conversation>``, raw ids).

    Only when it is certain: ``owner`` (the user the checkpoint names) is a prefix of the thread followed by ``:``,
    or, without an owner, the thread has exactly one ``:``. ``None`` otherwise (``pb:x:c1`` alone could be user
    ``pb`` or ``pb:x``): such a thread is never handed to either.
    """
    if owner:
        if thread.startswith(owner + SEPARATOR) and len(thread) > len(owner) + 1:
            return owner, thread[len(owner) + 1 :]
        return None
    parts = thread.split(SEPARATOR)
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def hash_tag(value: str) -> str:
    """``value`` as a Redis hash tag, ``{<encoded value>}``: the id in a Redis key, and its cluster slot."""
    return "{" + encode_part(value) + "}"


@dataclass(frozen=True, slots=True)
class UserKey:
    """One per-user Redis key, ``companion:u:{<user>}:<suffix>``; call it with a user id to get the key.

    Every per-user key is built here so that all of them share the user's prefix, which is what lets
    ``ShortTermStore.forget_user`` drop a user's whole short-term state with one ``SCAN`` of ``companion:u:{<user>}:*``.
    """

    suffix: str

    def __call__(self, user_id: str) -> str:
        """The key of ``user_id``."""
        return f"{PREFIX}:u:{hash_tag(user_id)}:{self.suffix}"


def migrate_redis_keys(redis: SyncRedis, *, prefix: str = "companion") -> int:
    """Rename the keys written before the encoding (a raw id in a hash tag) to the encoded form; returns how many.

    Unambiguous: a hash tag was always delimited by braces, which ids never contain, so each old key has exactly
    one new name. Runs once per Redis database (``KEYS_VERSION_KEY`` records it; an empty one is left unmarked and
    untouched). A key whose new name already exists (written by an upgraded process first) is kept under
    its old name rather than overwriting the newer data, and logged. Safe to run from several processes at once.
    """
    if int(redis.get(KEYS_VERSION_KEY) or 0) >= KEYS_VERSION or not redis.dbsize():  # an empty database: no mark
        return 0
    renamed = kept = 0
    for raw in redis.scan_iter(match=f"{prefix}:*{{*}}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        new = _HASH_TAG.sub(lambda match: hash_tag(decode_part(match.group(1))), key)
        if new == key:
            continue
        try:
            moved = redis.renamenx(key, new)
        except ResponseError as exc:  # another process renamed it first (no such key): nothing left to do
            logger.debug("key migration skipped a key: %s", exc)
            continue
        if moved:
            renamed += 1
        else:
            kept += 1
    if kept:
        logger.warning("key migration kept %d old Redis keys whose new name already existed", kept)
    if renamed:
        logger.info("key migration renamed %d Redis keys to the encoded form", renamed)
    redis.set(KEYS_VERSION_KEY, KEYS_VERSION)
    return renamed
