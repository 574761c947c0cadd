"""Per-chat message buffer with overflow batching to the association stream (design seed 000, the chat buffer).

Every message of a group or private chat the bot sees is buffered, up to ``capacity`` (100) per chat. When a
message overflows the buffer, the newest third of the capacity (33) is kept as the chat's context and the older
messages leave in batches of ``batch_size`` (50) for the memory implicator: the background association worker
reads them from ``companion:stream:association`` (entries with ``kind=chat_batch``). Each chat also keeps a
running summary, extended with every batch. Offline, the summary is extractive: the batch's most
representative messages by word frequency (Luhn's method), so it needs no model and invents nothing.

The buffer itself is process memory: a restart loses at most one buffer of context per chat, never a flushed
batch (those are in Redis).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.core.errors import StoreUnavailableError
from memory.short_term import ASSOCIATION_STREAM

DEFAULT_CAPACITY = 100
DEFAULT_BATCH_SIZE = 50
SUMMARY_LINES_PER_BATCH = 3
SUMMARY_MAX_LINES = 12
SUMMARY_LINE_CHARS = 200
#: From this many messages in a batch, a word in more than half of them counts as filler (``summary_lines``).
MIN_MESSAGES_FOR_FILLER = 8
MAX_PENDING_BATCHES = 1000

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)
# Frequent function words of the two languages the bots greet in; they say nothing about a chat's topic.
_STOPWORDS = frozenset(
    "the and for are but not you your with this that have has was were will what when where who how why "
    "just like from they them then than there their about would could should can all any our out get got "
    "its it's yes yeah okay really also very some been into more much one too well here now lol "
    "это как что так все всё его она они мне меня тебе тебя уже или нет нас вас был была было быть "
    "для тут там где кто когда если только еще ещё очень вот ну да".split()
)


@dataclass(frozen=True, slots=True)
class BufferedMessage:
    """One chat message as the buffer keeps it."""

    chat_id: str
    user_id: str
    author: str
    text: str
    ts: float

    def to_dict(self) -> dict[str, str | float]:
        """A JSON-able dict."""
        return {"user_id": self.user_id, "author": self.author, "text": self.text, "ts": self.ts}


@dataclass(frozen=True, slots=True)
class ChatBatch:
    """Messages that left a chat's buffer together, with the chat summary after them."""

    chat_id: str
    messages: tuple[BufferedMessage, ...]
    summary: str


class ChatBuffer:
    """Buffers of every chat of one bot process."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if capacity < 3 or batch_size < 1:
            raise ValueError("capacity must be at least 3 and batch_size at least 1")
        self.capacity = capacity
        self.batch_size = batch_size
        self.keep = capacity // 3
        self._buffers: dict[str, deque[BufferedMessage]] = {}
        self._summaries: dict[str, list[str]] = {}

    def add(self, message: BufferedMessage) -> list[ChatBatch]:
        """Buffer ``message``; on overflow return the batches that left the buffer (oldest first)."""
        buffer = self._buffers.setdefault(message.chat_id, deque())
        buffer.append(message)
        if len(buffer) <= self.capacity:
            return []
        leaving = [buffer.popleft() for _ in range(len(buffer) - self.keep)]
        batches = []
        for start in range(0, len(leaving), self.batch_size):
            chunk = tuple(leaving[start : start + self.batch_size])
            lines = self._summaries.setdefault(message.chat_id, [])
            lines.extend(summary_lines(chunk))
            del lines[:-SUMMARY_MAX_LINES]
            batches.append(ChatBatch(chat_id=message.chat_id, messages=chunk, summary="\n".join(lines)))
        return batches

    def context(self, chat_id: str) -> list[BufferedMessage]:
        """The buffered messages of a chat, oldest first."""
        return list(self._buffers.get(chat_id, ()))

    def summary(self, chat_id: str) -> str:
        """The running summary of a chat ('' until its first overflow)."""
        return "\n".join(self._summaries.get(chat_id, []))

    def size(self, chat_id: str) -> int:
        """How many messages a chat has buffered."""
        return len(self._buffers.get(chat_id, ()))

    def forget_user(self, user_id: str) -> int:
        """Drop a user's messages from every buffer; returns how many."""
        dropped = 0
        for chat_id, buffer in self._buffers.items():
            kept = deque(message for message in buffer if message.user_id != user_id)
            dropped += len(buffer) - len(kept)
            self._buffers[chat_id] = kept
        return dropped

    def drop_chat(self, chat_id: str) -> None:
        """Forget a chat (the bot left it)."""
        self._buffers.pop(chat_id, None)
        self._summaries.pop(chat_id, None)


def summary_lines(messages: Sequence[BufferedMessage], *, lines: int = SUMMARY_LINES_PER_BATCH) -> list[str]:
    """The ``lines`` most representative messages (Luhn: frequent content words), in chat order.

    As in Luhn's method, a word can also be too common to be significant: one said in more than half of the
    batch's messages is the chat's filler ("haha", an emoji's name), not its topic, and would otherwise make fifty
    "haha yes" the summary of a batch that also held the one plan the group made. A message repeating the words
    of one already scored adds nothing.
    """
    words = [_content_words(message.text) for message in messages]
    frequency = Counter(word for message_words in words for word in set(message_words))
    if len(messages) >= MIN_MESSAGES_FOR_FILLER:
        filler = {word for word, count in frequency.items() if count * 2 > len(messages)}
        words = [[word for word in message_words if word not in filler] for message_words in words]
    scored, seen = [], set()
    for index, message_words in enumerate(words):
        if not message_words or frozenset(message_words) in seen:
            continue
        seen.add(frozenset(message_words))
        score = sum(frequency[word] for word in set(message_words)) / math.sqrt(len(message_words))
        scored.append((score, index))
    chosen = sorted(index for _, index in sorted(scored, key=lambda item: (-item[0], item[1]))[:lines])
    return [_line(messages[index]) for index in chosen]


def _content_words(text: str) -> list[str]:
    return [word for word in (w.lower() for w in _WORD.findall(text)) if len(word) > 2 and word not in _STOPWORDS]


def _line(message: BufferedMessage) -> str:
    text = " ".join(message.text.split())
    if len(text) > SUMMARY_LINE_CHARS:
        text = text[: SUMMARY_LINE_CHARS - 1].rstrip() + "…"
    return f"{message.author}: {text}"


class ChatBatchQueue:
    """Queues chat batches on the association stream for the memory implicator.

    A batch that cannot be queued (Redis unreachable) is kept in process memory and sent, in order, before the
    next one; up to ``MAX_PENDING_BATCHES``, beyond which the oldest is dropped with an error in the log.
    """

    def __init__(self, redis: Redis, *, platform: str) -> None:
        self.redis = redis
        self.platform = platform
        self._pending: deque[ChatBatch] = deque()

    @property
    def pending(self) -> int:
        """Batches waiting for Redis."""
        return len(self._pending)

    async def push(self, *batches: ChatBatch) -> list[str]:
        """Queue ``batches`` after any batches still pending; returns the stream entry ids written now."""
        self._pending.extend(batches)
        while len(self._pending) > MAX_PENDING_BATCHES:
            dropped = self._pending.popleft()
            logger.error(
                "dropped a batch of %d messages of chat %s: Redis unreachable", len(dropped.messages), dropped.chat_id
            )
        written = []
        while self._pending:
            try:
                entry = await self.redis.xadd(ASSOCIATION_STREAM, self._fields(self._pending[0]))  # type: ignore[arg-type]
            except RedisError as exc:
                raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc
            self._pending.popleft()
            written.append(entry.decode() if isinstance(entry, bytes) else str(entry))
        return written

    def _fields(self, batch: ChatBatch) -> dict[str, str]:
        return {
            "kind": "chat_batch",
            "platform": self.platform,
            "chat_id": batch.chat_id,
            "count": str(len(batch.messages)),
            "messages": json.dumps([message.to_dict() for message in batch.messages], ensure_ascii=False),
            "summary": batch.summary,
        }
