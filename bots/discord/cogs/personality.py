"""``/personality``: the companion's mood, needs and quirks (as far as they are tracked)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bots.discord.bot import CompanionBot


class PersonalityCog(commands.Cog):
    """The companion's state, shown only to the caller."""

    def __init__(self, bot: CompanionBot) -> None:
        self.bot = bot

    @app_commands.command(name="personality", description="The companion's mood, needs and quirks")
    async def personality(self, interaction: discord.Interaction) -> None:
        """What the companion can tell about itself."""
        await interaction.response.send_message(self.bot.companion.personality(), ephemeral=True)
