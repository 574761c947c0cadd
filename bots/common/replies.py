"""Splitting long replies at a platform's message limit (Discord 2,000 characters, Telegram 4,096)."""

from __future__ import annotations

DISCORD_MESSAGE_LIMIT = 2000
TELEGRAM_MESSAGE_LIMIT = 4096


def split_reply(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Cuts at the last paragraph break, else line break, else space before the limit, and only mid-word when a
    single word is longer than the limit. Joining the chunks with the separators they were cut at gives the text
    back (whitespace at the cuts aside). Empty text gives no chunks.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        chunk = rest[:cut].rstrip()
        if chunk:
            chunks.append(chunk)
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks
