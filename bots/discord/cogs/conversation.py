"""Talking: replies in DMs and where the bot is mentioned, and the ``/companion`` slash command."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bots.common.companion import GROUP_LINES, Audience, conversation_id_for, platform_user_id
from bots.common.relationships import is_admin
from bots.common.replies import DISCORD_MESSAGE_LIMIT, split_reply
from companion.core.errors import CompanionError

if TYPE_CHECKING:
    from bots.discord.bot import CompanionBot

logger = logging.getLogger(__name__)


def strip_bot_mention(content: str, bot_id: int) -> str:
    """The message without the bot's mention (``<@id>`` or ``<@!id>``)."""
    return content.replace(f"<@{bot_id}>", "").replace(f"<@!{bot_id}>", "").strip()


async def channel_lines(message: discord.Message) -> list[tuple[str, str]]:
    """What the channel said just before ``message`` (author, text), oldest first; none if Discord cannot say."""
    try:
        earlier = [m async for m in message.channel.history(limit=GROUP_LINES, before=message)]
    except discord.DiscordException as exc:  # no read-history permission, a network failure: answer without it
        logger.info("no channel history for a group reply: %s", exc)
        return []
    # message ids are snowflakes, so they order messages in time whichever way the history came
    return [(m.author.display_name, m.content) for m in sorted(earlier, key=lambda m: m.id) if m.content]


class ConversationCog(commands.Cog):
    """Turns of the conversation graph from messages and ``/companion``."""

    def __init__(self, bot: CompanionBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a DM, or a channel message that mentions the bot; ignore everything else."""
        from bots.discord.bot import PLATFORM, error_text

        me = self.bot.user
        if message.author.bot or me is None:
            return
        private = message.guild is None
        if not private and me not in message.mentions:
            return
        text = strip_bot_mention(message.content, me.id)
        if not text:
            return
        user_id = platform_user_id(PLATFORM, message.author.id)
        chat_key = str(message.channel.id)
        title = "direct messages" if private else getattr(message.channel, "name", "")
        await self.bot.relations.record_message(
            user_id, admin=is_admin(PLATFORM, message.author.id, self.bot.admin_ids)
        )
        if not private:
            await self.bot.relations.remember_channel(user_id, message.channel.id)
            if await self.bot.chats.status(chat_key) is None:
                await self.bot.chats.set_status(chat_key, "allowed", "guild channel", title=title, chat_type="channel")
        await self.bot.chats.record_message(chat_key, title=title, chat_type="dm" if private else "channel", buffered=0)
        earlier = [] if private else await channel_lines(message)
        try:
            answer = await self.bot.companion.answer(
                user_id=user_id,
                conversation_id=conversation_id_for(PLATFORM, None if private else message.channel.id),
                message=text,
                audience=Audience.PRIVATE if private else Audience.GROUP,
                source_id=f"discord:{message.channel.id}:{message.id}",
                group_lines=earlier,
            )
        except CompanionError as exc:
            logger.warning("turn failed for %s: %s", user_id, exc)
            await self.bot.chats.record(chat_key, "errors")
            await message.reply(error_text(exc))
            return
        for index, chunk in enumerate(split_reply(answer.reply, DISCORD_MESSAGE_LIMIT)):
            if index == 0:
                await message.reply(chunk)
            else:
                await message.channel.send(chunk)
        await self.bot.chats.record(chat_key, "replies")

    @app_commands.command(name="companion", description="Talk to the companion")
    @app_commands.describe(message="What you want to say")
    async def companion_command(
        self, interaction: discord.Interaction, message: app_commands.Range[str, 1, 2000]
    ) -> None:
        """One turn; the reply is visible to the channel (or the DM)."""
        from bots.discord.bot import PLATFORM

        private = interaction.guild is None
        await interaction.response.defer(thinking=True)
        user_id = platform_user_id(PLATFORM, interaction.user.id)
        if not private and interaction.channel_id is not None:
            await self.bot.relations.remember_channel(user_id, interaction.channel_id)
        answer = await self.bot.companion.answer(
            user_id=user_id,
            conversation_id=conversation_id_for(PLATFORM, None if private else interaction.channel_id),
            message=message,
            audience=Audience.PRIVATE if private else Audience.GROUP,
            source_id=f"discord:interaction:{interaction.id}",
        )
        for chunk in split_reply(answer.reply, DISCORD_MESSAGE_LIMIT):
            await interaction.followup.send(chunk)
