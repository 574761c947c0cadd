"""Helpers of the bot tests: an injected clock and random source, and an echoing fake chat model."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field
from redis.asyncio import Redis

from companion.core.settings import load_settings
from companion.runtime.users import ErasureReport, erase_user
from companion.services import Services
from memory.api_keys import REGISTER_FILE, KeyRegister
from memory.long_term import LongTermStore
from memory.short_term import ShortTermStore


class ManualClock:
    """A clock the test moves; ``sleep`` records the wait and moves time instead of waiting."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.current = now
        self.slept: list[float] = []

    def now(self) -> float:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += seconds


class FixedRandom(random.Random):
    """A random source whose draws all sit at one point of their range (uniform(a, b) = a + (b - a) * f)."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def random(self) -> float:
        return self.fraction


class EchoChatModel(GenericFakeChatModel):
    """LangChain's fake chat model answering ``echo: <message>``; it tracks how many calls overlap in time."""

    messages: Any = Field(default_factory=lambda: iter(()))
    delay: float = 0.05
    active: int = 0
    peak: int = 0
    seen: list[str] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list)  # each call's system prompt
    reply_suffix: str = ""

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        last = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
        self.seen.append(str(last.content))
        self.systems.append(next((str(m.content) for m in messages if isinstance(m, SystemMessage)), ""))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(f"echo: {last.content}{self.reply_suffix}"))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            return self._reply(messages)
        finally:
            self.active -= 1


def services_over(
    data_dir: Path, redis_url: str, redis: Redis, long_term: LongTermStore, short_term: ShortTermStore, embedder: Any
) -> Services:
    """The process's services as a bot gets them, over the test's own stores (for the erasure ``/forget`` runs)."""
    return Services(
        settings=load_settings(data_dir=data_dir, redis_url=redis_url),
        redis_url=redis_url,
        redis=redis,
        chroma=long_term.client,
        chroma_mode="embedded",
        long_term=long_term,
        short_term=short_term,
        embedder=embedder,
        chat_model=None,
        key_register=KeyRegister(data_dir / REGISTER_FILE),
    )


def bot_eraser(services: Services) -> Callable[[str], Awaitable[ErasureReport]]:
    """The erasure the bots' ``/forget`` runs (no checkpointer: the bots keep none)."""
    return functools.partial(erase_user, services, None)
