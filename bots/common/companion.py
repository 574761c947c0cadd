"""What both bots call: one turn of the conversation graph under a per-conversation lock, memories, forgetting.

The bots hold no memory logic: a turn is ``graphs.conversation.run_turn``; recall is ``tools.recall``; forgetting
is ``companion.runtime.users.erase_user``, the erasure every front-end uses. This module adds only what a chat front-end
needs around them: serialised turns, the group-reply sensitivity guard, and ids that name the platform.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from langgraph.graph.state import CompiledStateGraph

from bots.common.locks import ConversationLocks
from bots.common.sensitivity import GROUP_MAX_LEVEL, sensitive_memories
from companion.runtime.users import ErasureReport, erase_user
from memory.embeddings import Embedder
from memory.idempotency import idempotent_request
from memory.long_term import LongTermStore
from memory.personality_store import PersonalityStore
from memory.sensitivity import Sensitivity
from memory.short_term import ShortTermStore
from tools.detection import perceive
from tools.recall import recall

if TYPE_CHECKING:
    from companion.services import Services

logger = logging.getLogger(__name__)

#: Sent instead of a group reply that drew on a confidential memory.
GROUP_WITHHELD_REPLY = "That touches on something personal, so I'd rather talk about it in a private chat."


#: How many of a group's messages before the one answered the reply gets to see (bots' group context).
GROUP_LINES = 12


class Audience(StrEnum):
    """Who will read a reply."""

    PRIVATE = "private"  # only the user: a DM, a private chat, an ephemeral answer
    GROUP = "group"  # a group chat or a server channel


def quiet_durability_warning() -> None:
    """Silence LangGraph's per-turn warning that ``durability`` has no effect without a checkpointer.

    The bots run the graph without one: the context lives in Redis and Chroma, and ``/forget`` must be able to
    delete everything a user left behind (checkpoint threads cannot be listed per user cheaply).
    """
    warnings.filterwarnings("ignore", message="`durability` has no effect", category=UserWarning)


def platform_user_id(platform: str, user_id: int | str) -> str:
    """The companion's user id of a platform user (``telegram:42``)."""
    return f"{platform}:{user_id}"


def conversation_id_for(platform: str, chat_id: int | str | None) -> str:
    """The conversation id of a chat; ``None`` (a direct message) is the user's private conversation."""
    return f"{platform}:dm" if chat_id is None else f"{platform}:chat:{chat_id}"


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to send and what it was built from."""

    reply: str
    memory_ids: list[str]
    withheld: list[str] = field(default_factory=list)  # memories that made a group reply unsafe to send


@dataclass(frozen=True, slots=True)
class MemoryView:
    """A memory as the ``/memories`` command shows it."""

    id: str
    text: str
    created_at: float
    score: float | None = None


class Companion:
    """The conversation graph and stores, as the bots use them."""

    def __init__(
        self,
        *,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        long_term: LongTermStore,
        short_term: ShortTermStore,
        embedder: Embedder,
        persona: str = "default",
        eraser: Callable[[str], Awaitable[ErasureReport]],
        locks: ConversationLocks | None = None,
        personality_store: PersonalityStore | None = None,
    ) -> None:
        self.graph = graph
        self.eraser = eraser
        self.long_term = long_term
        self.short_term = short_term
        self.embedder = embedder
        self.persona = persona
        self.locks = locks or ConversationLocks()
        self.personality_store = personality_store or PersonalityStore(long_term.client, short_term.redis)

    @classmethod
    def over_services(
        cls, services: Services, graph: CompiledStateGraph[Any, Any, Any, Any], *, persona: str
    ) -> Companion:
        """The companion a bot runs: ``graph`` over a process's stores, erasing users with ``erase_user``."""
        return cls(
            graph=graph,
            long_term=services.long_term,
            short_term=services.short_term,
            embedder=services.embedder,
            persona=persona,
            eraser=functools.partial(erase_user, services, None),  # the bots keep no checkpoints
            personality_store=services.personality,
        )

    async def answer(
        self,
        *,
        user_id: str,
        conversation_id: str,
        message: str,
        audience: Audience,
        source_id: str | None = None,
        group_lines: Sequence[tuple[str, str]] = (),
        group_summary: str = "",
    ) -> Answer:
        """Run one turn; turns of one conversation run one at a time, in arrival order.

        ``group_lines`` (author, text), in a group: what was said there just before the message, oldest first; the
        chat model sees them so the reply fits the conversation (ignored in private); ``group_summary``, the chat's
        running summary of what was said before them.

        ``source_id`` names the platform message (``telegram:<chat>:<message id>``): a message the platform delivers
        twice (a redelivered update after a restart, an edited retry) then writes the same memory, once.

        In a group, memories classified confidential or above are never given to the reply; when the turn had to
        withhold one, the reply is replaced by ``GROUP_WITHHELD_REPLY`` (see ``bots.common.sensitivity``).
        """
        from graphs.conversation import run_turn

        ceiling = GROUP_MAX_LEVEL if audience is Audience.GROUP else Sensitivity.ULTRASECRET
        async with self.locks.hold(f"{user_id}/{conversation_id}"):
            state = await run_turn(
                self.graph,
                user_id=user_id,
                conversation_id=conversation_id,
                message=message,
                persona=self.persona,
                max_sensitivity=ceiling.value,
                turn_id=None if source_id is None else idempotent_request(user_id, source_id).turn_id,
                group_context=[{"author": author, "text": text} for author, text in group_lines]
                if audience is Audience.GROUP
                else [],
                group_summary=group_summary if audience is Audience.GROUP else "",
            )
        memory_ids = [memory["id"] for memory in state.get("memories", [])]
        reply = str(state.get("reply", ""))
        if audience is Audience.GROUP:
            withheld = list(state.get("withheld_memories", []))
            if memory_ids:
                withheld += await asyncio.to_thread(sensitive_memories, self.long_term, user_id, memory_ids)
            if withheld:
                logger.info("withheld a group reply to %s: %d confidential memories", user_id, len(withheld))
                return Answer(reply=GROUP_WITHHELD_REPLY, memory_ids=memory_ids, withheld=withheld)
        return Answer(reply=reply, memory_ids=memory_ids)

    async def in_crisis(self, message: str) -> bool:
        """Whether perception flags ``message`` as a crisis (the turn's own perception, run ahead of it).

        A chat front-end asks before pacing a group reply, so that someone in danger is answered at once.
        """
        perceived = await asyncio.to_thread(perceive, [message], self.embedder)
        return perceived[0].detection.crisis.flagged

    async def memories(self, user_id: str, *, query: str | None = None, limit: int = 5) -> list[MemoryView]:
        """The user's memories relevant to ``query`` (MMR), or the newest ones without a query."""
        if query and query.strip():
            found = await asyncio.to_thread(recall, self.long_term, self.embedder, user_id, query.strip(), limit)
            return [
                MemoryView(
                    id=item.candidate.id,
                    text=item.candidate.text,
                    created_at=float(item.candidate.metadata.get("created_at", 0.0)),
                    score=round(item.score, 3),
                )
                for item in found.selected
            ]
        records = await asyncio.to_thread(self.long_term.list_memories, user_id, limit=limit)
        return [MemoryView(id=record.id, text=record.text, created_at=record.created_at) for record in records]

    async def forget(self, user_id: str) -> ErasureReport:
        """Erase everything stored about the user: the same erasure as ``DELETE /v1/users/{id}``."""
        return await self.eraser(user_id)

    async def personality(self, user_id: str) -> str:
        """The companion's mood with this user, its pressing needs and the quirks it picked up, in plain words."""
        from companion.core.personality.persona import load_persona
        from tools.personality import describe_personality, personality_snapshot

        snapshot = await personality_snapshot(self.personality_store, user_id, load_persona(self.persona), changes=1)
        return describe_personality(snapshot)
