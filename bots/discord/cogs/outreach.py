"""Proactive messages: a DM, or the user's last channel when their DMs are closed.

The proactive outbox (to come) calls ``CompanionBot.deliver_outreach(user_id, text)`` for each message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bots.common.companion import platform_user_id
from bots.common.replies import DISCORD_MESSAGE_LIMIT, split_reply

if TYPE_CHECKING:
    from bots.discord.bot import CompanionBot

logger = logging.getLogger(__name__)


class OutreachCog(commands.Cog):
    """Delivers messages the companion starts."""

    def __init__(self, bot: CompanionBot) -> None:
        self.bot = bot

    async def deliver(self, user_id: int, text: str) -> str:
        """Send ``text`` to a Discord user; returns ``"dm"``, ``"channel"`` or ``"undeliverable"``."""
        from bots.discord.bot import PLATFORM

        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
        except discord.NotFound:
            return "undeliverable"
        try:
            for chunk in split_reply(text, DISCORD_MESSAGE_LIMIT):
                await user.send(chunk)
            return "dm"
        except discord.Forbidden:
            logger.info("DMs of %s are closed; trying their last channel", user_id)
        channel_id = await self.bot.relations.last_channel(platform_user_id(PLATFORM, user_id))
        if channel_id is None:
            return "undeliverable"
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return "undeliverable"
        prefix = f"{user.mention} "
        try:
            for index, chunk in enumerate(split_reply(text, DISCORD_MESSAGE_LIMIT - len(prefix))):
                await channel.send((prefix if index == 0 else "") + chunk)
        except discord.Forbidden:
            return "undeliverable"
        return "channel"
