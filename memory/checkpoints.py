"""The LangGraph checkpointer's saver: SQLite (``AsyncSqliteSaver``) keeping each thread's newest checkpoint only.

It lives apart from ``companion.services`` so that importing the services factory does not import LangGraph: a
command that opens no checkpointer (``services status``, ``keys``, ``detect``) never pays for it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from companion.core.errors import ConfigurationError
from memory.cipher import TextCipher
from memory.keys import CHECKPOINT_USER_KEY, legacy_thread_owner, thread_id

logger = logging.getLogger(__name__)

__all__ = ["CheckpointCipher", "LatestCheckpointSaver", "sealed_serializer"]


class CheckpointCipher(CipherProtocol):
    """The memory key's Fernet, as LangGraph's ``EncryptedSerializer`` asks for a cipher.

    A conversation checkpoint holds the turn's message, the memories it recalled (secret ones too, opened) and the
    reply, so it is sealed whole, like every derived record (``memory.cipher.seal_document``).
    """

    NAME = "fernet"

    def __init__(self, cipher: TextCipher) -> None:
        self._cipher = cipher

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        """``(cipher name, token)`` of ``plaintext``."""
        return self.NAME, self._cipher.seal_bytes(plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        """The plaintext of a token this cipher wrote; another key's token is a one-line configuration error."""
        if ciphername != self.NAME:
            raise ConfigurationError(f"a checkpoint is sealed with an unknown cipher {ciphername!r}")
        return self._cipher.open_bytes(ciphertext)


def sealed_serializer(cipher: TextCipher) -> EncryptedSerializer:
    """The checkpointer's serializer: LangGraph's own (JSON plus), sealed; plain checkpoints written earlier load."""
    return EncryptedSerializer(CheckpointCipher(cipher), JsonPlusSerializer())


class LatestCheckpointSaver(AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that keeps only the newest checkpoint of each thread (per namespace), and its writes.

    A conversation thread is only ever resumed from its newest checkpoint: nothing here reads a thread's history
    (no time travel, no ``get_state_history``). Each turn writes one checkpoint of 12-16 KB, so keeping them all
    grew the file by that much per turn, forever. Checkpoint ids are time-ordered (LangGraph finds the newest by
    ``ORDER BY checkpoint_id DESC``), so "older" is ``checkpoint_id <`` the one just written.
    """

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save ``checkpoint``, then delete the older checkpoints of its thread and namespace, and their writes."""
        saved = await super().aput(config, checkpoint, metadata, new_versions)
        key = (str(saved["configurable"]["thread_id"]), saved["configurable"]["checkpoint_ns"], checkpoint["id"])
        async with self.lock:
            for table in ("checkpoints", "writes"):
                await self.conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?", key
                )
            await self.conn.commit()
        return saved

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only the newest checkpoint of each of ``thread_ids`` (``"keep_latest"``), or none (``"delete"``)."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}")
        for thread in thread_ids:
            if strategy == "delete":
                await self.adelete_thread(thread)
            else:
                await self._keep_newest("WHERE thread_id = ?", (str(thread),))

    async def migrate_thread_ids(self, known_users: Collection[str] = ()) -> tuple[int, int]:
        """Rename the threads written before ids were encoded (``memory.keys``); returns (migrated, left).

        A thread id with more than one ``:`` is of the old form (an encoded id never holds ``:``): ``pb:x:c1`` may
        be user ``pb`` in conversation ``x:c1`` or user ``pb:x`` in ``c1``, and both users' turns went to that one
        thread, whose state carries what a turn did not overwrite from the turn before. Its owner is what its
        newest checkpoint records: the user id in its metadata (``CHECKPOINT_USER_KEY``, written on every turn),
        or else the ``user_id`` of the personality state in its values. The thread moves to that owner only if
        no other reading of the id names a user that exists (``known_users``: the stores' users; the users the
        checkpoints name are added here), since that user may have written to it too. Any other old thread is left
        under its old id, which no user's export or erasure reaches and no new turn writes to: an old thread is
        never handed to a user it may not belong to.
        """
        legacy = await self.legacy_thread_ids()
        if not legacy:
            return 0, 0
        query = f"SELECT DISTINCT json_extract(CAST(metadata AS TEXT), '$.{CHECKPOINT_USER_KEY}') FROM checkpoints"
        async with self.lock, self.conn.execute(query) as cursor:
            users = {str(row[0]) for row in await cursor.fetchall() if row[0]} | set(known_users)
        migrated = left = 0
        for old in legacy:
            owner = await self._legacy_owner(old)
            ids = legacy_thread_owner(old, owner) if owner else None
            readings = {old[:index] for index, char in enumerate(old) if char == ":"}
            if ids is None or (readings - {ids[0]}) & users:
                left += 1
                continue
            new = thread_id(*ids)
            async with self.lock:
                for table in ("checkpoints", "writes"):
                    await self.conn.execute(f"UPDATE {table} SET thread_id = ? WHERE thread_id = ?", (new, old))
                await self.conn.commit()
            await self._keep_newest("WHERE thread_id = ?", (new,))  # an upgraded process may have started it too
            migrated += 1
        if migrated:
            logger.info("checkpointer: %d thread ids migrated to the encoded form", migrated)
        if left:
            logger.warning("checkpointer: %d old thread ids have no certain owner and were left as they are", left)
        return migrated, left

    async def legacy_thread_ids(self) -> list[str]:
        """Thread ids of the form written before ids were encoded: more than one ``:``."""
        await self.setup()
        query = "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id LIKE '%:%:%'"
        async with self.lock, self.conn.execute(query) as cursor:
            return [str(row[0]) for row in await cursor.fetchall()]

    async def _legacy_owner(self, thread: str) -> str | None:
        """The user an old thread's newest checkpoint names (metadata, or its personality state), if any."""
        query = (
            f"SELECT json_extract(CAST(metadata AS TEXT), '$.{CHECKPOINT_USER_KEY}') FROM checkpoints"
            " WHERE thread_id = ? ORDER BY checkpoint_id DESC LIMIT 1"
        )
        async with self.lock, self.conn.execute(query, (thread,)) as cursor:
            row = await cursor.fetchone()
        if row is not None and isinstance(row[0], str) and row[0]:
            return row[0]
        latest = await self.aget_tuple({"configurable": {"thread_id": thread}})
        personality = latest.checkpoint["channel_values"].get("personality") if latest is not None else None
        owner = personality.get("user_id") if isinstance(personality, dict) else None
        return owner if isinstance(owner, str) and owner else None

    async def compact(self) -> None:
        """Drop every checkpoint but the newest of each thread (a file written before this saver kept them all)."""
        await self._keep_newest("", ())

    async def _keep_newest(self, where: str, parameters: tuple[str, ...]) -> None:
        await self.setup()
        newest = f"SELECT thread_id, checkpoint_ns, max(checkpoint_id) FROM checkpoints {where} GROUP BY 1, 2"
        async with self.lock:
            for table in ("checkpoints", "writes"):
                await self.conn.execute(
                    f"DELETE FROM {table} {where} {'AND' if where else 'WHERE'}"
                    f" (thread_id, checkpoint_ns, checkpoint_id) NOT IN ({newest})",
                    parameters * 2,
                )
            await self.conn.commit()
