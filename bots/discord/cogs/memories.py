"""``/memories``: search and show your own memories, only to you."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bots.common.companion import platform_user_id
from bots.common.replies import DISCORD_MESSAGE_LIMIT, split_reply

if TYPE_CHECKING:
    from bots.discord.bot import CompanionBot

NO_MEMORIES = "I don't remember anything about you yet."


class MemoriesCog(commands.Cog):
    """Your memories, as an ephemeral answer."""

    def __init__(self, bot: CompanionBot) -> None:
        self.bot = bot

    @app_commands.command(name="memories", description="What the companion remembers about you (only you see it)")
    @app_commands.describe(query="Words to search for (empty: the newest)", count="How many (1-10)")
    async def memories(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 500] | None = None,
        count: app_commands.Range[int, 1, 10] = 5,
    ) -> None:
        """Search (MMR) or list the newest memories of the caller."""
        from bots.discord.bot import PLATFORM

        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.bot.companion.memories(
            platform_user_id(PLATFORM, interaction.user.id), query=query, limit=count
        )
        lines = [f"`{time.strftime('%Y-%m-%d', time.gmtime(memory.created_at))}` {memory.text}" for memory in found]
        for chunk in split_reply("\n".join(lines) or NO_MEMORIES, DISCORD_MESSAGE_LIMIT):
            await interaction.followup.send(chunk, ephemeral=True)
