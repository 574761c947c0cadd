"""``/personality``: the companion's mood, needs and quirks with this user."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bots.common.companion import platform_user_id

if TYPE_CHECKING:
    from bots.discord.bot import CompanionBot


class PersonalityCog(commands.Cog):
    """The companion's state, shown only to the caller."""

    def __init__(self, bot: CompanionBot) -> None:
        self.bot = bot

    @app_commands.command(name="personality", description="The companion's mood, needs and quirks")
    async def personality(self, interaction: discord.Interaction) -> None:
        """How the companion feels with the caller, what it needs, which quirks it picked up."""
        from bots.discord.bot import PLATFORM

        text = await self.bot.companion.personality(platform_user_id(PLATFORM, interaction.user.id))
        await interaction.response.send_message(text, ephemeral=True)
