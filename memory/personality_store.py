"""Durable personality state, one JSON document per (user, persona): Chroma is the source of truth, Redis a cache.

Why Chroma: it is the project's durable store (the long-term memories already live there, persisted on disk),
so the state survives a restart of every process *and* a Redis flush without adding a third store. The state
is written to Chroma first and then to Redis (like a memory); a read tries Redis, falls back to Chroma and puts
what it found back in Redis.

A chat turn does not write the state to Chroma every time (a second synchronous Chroma commit per turn was the
largest cost of the turn): it saves it with ``durable=False`` (Redis only) and checkpoints it in Chroma every few
turns. Nothing is lost in between, because every turn's memory, written to Chroma before Redis, carries the inputs of
its appraisal (``MemoryRecord.appraisal``): a read that falls back to Chroma takes the checkpoint and replays the
user's appraised messages newer than it (``companion.core.personality.journal``), giving the state the turns produced.

Layout: one collection, ``<namespace>-personality``, one record per (user, persona) whose id is a hash of both;
the document is the JSON state, the metadata names the user and persona (checked on every read, as the
long-term store does). Chroma needs a vector per record: these records carry a constant 1-d vector and are
never searched by similarity. Redis key: ``companion:u:{<user>}:personality:{<persona>}`` (with the user's
other short-term keys, so ``ShortTermStore.forget_user`` drops it too).

Turns of one user may run at once, each loading the state, changing it and saving it: ``update`` is a
compare-and-set on the Redis copy (``WATCH``/``MULTI``) that re-applies the caller's change to a state another
save put there since the caller loaded its own, so no concurrent change is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import orjson
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from companion.core.errors import StoreUnavailableError
from companion.core.personality.journal import AppraisalInputs, JournalEntry, replay
from companion.core.personality.state import DEFAULT_RATES, PersonalityData, PersonalityState, Rates
from memory.keys import hash_tag
from memory.long_term import HNSW_SYNC_THRESHOLD, LongTermStore, collection_name, sync_sooner
from memory.records import validate_user_id
from memory.short_term import PREFIX

logger = logging.getLogger(__name__)

#: How long the Redis copy lives after its last write (Chroma keeps the state regardless).
CACHE_TTL_SECONDS = 7 * 86_400
_VECTOR = np.ones((1, 1), dtype=np.float32)


def state_key(user_id: str, persona: str) -> str:
    """Redis key of a cached personality state."""
    return f"{PREFIX}:u:{hash_tag(user_id)}:personality:{hash_tag(persona)}"


def state_id(user_id: str, persona: str) -> str:
    """Chroma record id of a personality state."""
    return hashlib.sha256(f"{user_id}\x00{persona}".encode()).hexdigest()[:40]


# A state is tens of kB of JSON (the mood history), read, digested and written on every turn: orjson does each in
# a tenth of the standard library's time (about 13 ms a turn less CPU on this machine; bench/README.md).
def fingerprint(state: Mapping[str, Any] | None) -> str | None:
    """A short digest of a state's content (``None`` for none): what :meth:`PersonalityStore.update` compares."""
    if state is None:
        return None
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()[:32]


def _dumps(state: Mapping[str, Any]) -> str:
    return orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()


def _parsed(document: bytes | str) -> PersonalityData:
    # the store writes only PersonalityState.to_dict() (or a journal replay of one); from_dict validates on use
    return cast(PersonalityData, orjson.loads(document))


def _owned(raw: bytes | str | None, user_id: str) -> PersonalityData | None:
    """A cached state, if there is one and it is ``user_id``'s."""
    if not raw:
        return None
    data = _parsed(raw)
    return data if data.get("user_id") == user_id else None


class PersonalityStore:
    """Load and save personality states (JSON-able dicts) per (user, persona)."""

    def __init__(
        self, chroma: ClientAPI, redis: Redis, *, namespace: str = "companion", rates: Rates = DEFAULT_RATES
    ) -> None:
        #: The engine's rates (from the settings): the journal's replay and every caller that moves a state
        #: this store keeps use them, so a replayed state is the one the live turns produced.
        self.rates = rates
        self._chroma = chroma
        self._redis = redis
        self._name = f"{namespace}-personality"
        self._memories = LongTermStore(chroma, namespace=namespace)
        self._memories_namespace = namespace
        self._collection: Collection | None = None
        self._lock = threading.Lock()
        self._pending: set[asyncio.Task[None]] = set()

    def _records(self) -> Collection:
        with self._lock:
            if self._collection is None:
                try:
                    self._collection = self._chroma.get_or_create_collection(
                        self._name,
                        metadata={"companion_kind": "personality-state"},
                        embedding_function=None,
                        configuration={"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}},
                    )
                    sync_sooner(self._collection)
                except Exception as exc:  # chromadb raises many types for I/O problems; report them as one
                    raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
            return self._collection

    # -- Chroma (source of truth) -------------------------------------------------------------------------
    def read_durable(self, user_id: str, persona: str) -> PersonalityData | None:
        """The state as Chroma has it, or ``None``."""
        validate_user_id(user_id)
        try:
            result = self._records().get(ids=[state_id(user_id, persona)], include=["documents", "metadatas"])
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        if not result["ids"]:
            return None
        metadata = dict((result["metadatas"] or [{}])[0] or {})
        if metadata.get("user_id") != user_id or metadata.get("persona") != persona:
            logger.error("dropped a personality state that does not belong to %s/%s", user_id, persona)
            return None
        document = (result["documents"] or [""])[0] or ""
        return _parsed(document)

    def rebuild(self, user_id: str, persona: str) -> tuple[PersonalityData | None, int]:
        """The state from Chroma alone: the checkpoint plus the appraised messages after it; and how many there were.

        ``(None, 0)`` when there is no checkpoint (the user never talked to this persona).
        """
        checkpoint = self.read_durable(user_id, persona)
        if checkpoint is None:
            return None, 0
        state = PersonalityState.from_dict(checkpoint)
        try:
            # a margin: Chroma returns created_at rounded in its last bits; replay() compares the exact times
            records = self._memories.appraised_since(user_id, since=state.updated_at - 1.0)
        except Exception as exc:  # chromadb raises many types for I/O problems; report them as one
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        entries = [
            JournalEntry(message=record.text, inputs=AppraisalInputs.from_json(record.appraisal)) for record in records
        ]
        later = [entry for entry in entries if entry.inputs.persona == persona and entry.inputs.at > state.updated_at]
        if not later:
            return checkpoint, 0
        return replay(state, later, rates=self.rates).to_dict(), len(later)

    def write_durable(self, user_id: str, persona: str, state: Mapping[str, Any]) -> None:
        """Write the state to Chroma."""
        validate_user_id(user_id)
        try:
            self._records().upsert(
                ids=[state_id(user_id, persona)],
                documents=[_dumps(state)],
                metadatas=[{"user_id": user_id, "persona": persona, "updated_at": time.time()}],
                embeddings=_VECTOR,
            )
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc

    def delete_durable(self, user_id: str, persona: str) -> None:
        """Forget the state in Chroma."""
        validate_user_id(user_id)
        self._records().delete(ids=[state_id(user_id, persona)])

    def read_user(self, user_id: str) -> list[dict[str, Any]]:
        """Every durable state of ``user_id`` (one per persona), with the turns after its checkpoint replayed."""
        validate_user_id(user_id)
        try:
            found = self._records().get(where={"user_id": user_id}, include=["documents", "metadatas"])
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        states = []
        for document, metadata in zip(found["documents"] or [], found["metadatas"] or [], strict=True):
            if document and (metadata or {}).get("user_id") == user_id:
                persona = str((metadata or {}).get("persona"))
                rebuilt, _ = self.rebuild(user_id, persona)
                states.append({"persona": persona, "state": rebuilt if rebuilt is not None else _parsed(document)})
        return states

    def delete_user(self, user_id: str) -> int:
        """Forget the states of ``user_id`` with every persona in Chroma; returns how many there were."""
        validate_user_id(user_id)
        try:
            found = self._records().get(where={"user_id": user_id}, include=[])
            if found["ids"]:
                self._records().delete(ids=found["ids"])
        except StoreUnavailableError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(f"Chroma is not usable: {exc}") from exc
        return len(found["ids"])

    # -- with the Redis cache -----------------------------------------------------------------------------
    async def load(self, user_id: str, persona: str) -> tuple[PersonalityData | None, str]:
        """The state and where it came from: ``redis``, ``chroma`` (rebuilt, and put back in Redis) or ``new``.

        A state rebuilt from Chroma goes back into Redis only if no turn has cached one meanwhile (``SET NX``);
        otherwise that newer one is returned, so a slow rebuild never overwrites a turn's update.
        """
        key = state_key(user_id, persona)
        try:
            cached = await self._redis.get(key)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if (data := _owned(cached, user_id)) is not None:
            return data, "redis"
        durable, _ = await asyncio.to_thread(self.rebuild, user_id, persona)
        if durable is None:
            return None, "new"
        try:
            if await self._redis.set(key, _dumps(durable), ex=CACHE_TTL_SECONDS, nx=True):
                return durable, "chroma"
            newer = _owned(await self._redis.get(key), user_id)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        return (newer, "redis") if newer is not None else (durable, "chroma")

    async def save(self, user_id: str, persona: str, state: Mapping[str, Any], *, durable: bool = True) -> None:
        """Write the state to Chroma first (source of truth), then to the Redis cache, whatever is there.

        ``durable=False`` skips Chroma: only for a state whose latest change a memory in Chroma journals (a chat
        turn's appraisal), so that :meth:`rebuild` can replay it. A change made to a state read earlier goes
        through :meth:`update` instead, which cannot lose a concurrent one.
        """
        if durable:
            await asyncio.to_thread(self.write_durable, user_id, persona, state)
        await self._cache(state_key(user_id, persona), state)

    async def update(
        self,
        user_id: str,
        persona: str,
        *,
        loaded: str | None,
        updated: PersonalityData,
        redo: Callable[[PersonalityData], PersonalityData],
        durable: bool = True,
    ) -> PersonalityData:
        """Save ``updated`` (a change to the state whose ``fingerprint`` was ``loaded``) without losing another's.

        A compare-and-set on the Redis copy (``WATCH``/``MULTI``): if the cached state is still the one the caller
        loaded (or there is none), ``updated`` is written; if another turn or job saved in between, ``redo``
        applies the caller's change again to that newer state, which is written instead (retried until no other
        write comes between the read and the write). Twenty concurrent turns move ``interactions`` by twenty.
        Returns the state written. ``durable`` writes Chroma first, as :meth:`save` does (and again after a redo).
        """
        if durable:
            await asyncio.to_thread(self.write_durable, user_id, persona, updated)
        key = state_key(user_id, persona)
        while True:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(key)
                    current = _owned(await pipe.get(key), user_id)
                    target = updated if current is None or fingerprint(current) == loaded else redo(current)
                    pipe.multi()
                    pipe.set(key, _dumps(target), ex=CACHE_TTL_SECONDS)
                    await pipe.execute()
                    break
            except WatchError:
                continue
            except RedisError as exc:
                raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
        if durable and target is not updated:
            await asyncio.to_thread(self.write_durable, user_id, persona, target)
        return target

    def checkpoint_later(self, user_id: str, persona: str, state: Mapping[str, Any]) -> None:
        """Write a checkpoint of a journaled state to Chroma in the background, off the caller's path.

        Only for a state that :meth:`rebuild` can already reach from an earlier checkpoint and the journal: the
        checkpoint just shortens that replay, so losing it (the process stops first, Chroma fails) loses nothing,
        and one written out of order is still a true state at its own ``updated_at``. A failure is logged.
        """
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write_checkpoint, user_id, persona, state)
        )
        self._pending.add(task)
        task.add_done_callback(self._checkpoint_done)

    def _write_checkpoint(self, user_id: str, persona: str, state: Mapping[str, Any]) -> None:
        """``write_durable``, unless the user was erased since the turn (their memories collection is gone).

        Without this check a checkpoint still in flight when the user is erased (from any process) would write
        their state back after the erasure. ``erase_user`` also deletes the states again as its last step, which
        closes the remaining gap between this check and the write.
        """
        try:  # asked of Chroma itself: the memories store caches collections, and would miss another process's erasure
            self._chroma.get_collection(collection_name(user_id, namespace=self._memories_namespace))
        except NotFoundError:
            logger.info("personality checkpoint of an erased user %r skipped", user_id)
            return
        self.write_durable(user_id, persona, state)

    def _checkpoint_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning(
                "a personality checkpoint was not written (the journal keeps the state): %s", task.exception()
            )

    async def drain(self) -> None:
        """Wait for the background checkpoints started so far."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _cache(self, key: str, state: Mapping[str, Any]) -> None:
        try:
            await self._redis.set(key, _dumps(state), ex=CACHE_TTL_SECONDS)
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
