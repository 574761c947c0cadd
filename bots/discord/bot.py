"""The Discord bot (discord.py 2): a ``commands.Bot`` subclass whose ``setup_hook`` loads one cog per feature.

``CompanionBot`` takes its dependencies in the constructor (the tests drive it with dpytest, no network);
``run_discord_bot`` opens the real services and connects to Discord (``companion bot discord``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bots.common.chat_manager import ChatManager
from bots.common.clock import Clock, SystemClock
from bots.common.companion import Companion, quiet_durability_warning
from bots.common.errors import PlatformUnavailableError
from bots.common.outbox import OutboxConsumer
from bots.common.relationships import RelationshipStore
from bots.common.tokens import discord_token
from companion.core.errors import CompanionError, ConfigurationError, InvalidInputError, RateLimitedError
from companion.core.settings import Settings

logger = logging.getLogger(__name__)

PLATFORM = "discord"
FAILED_TEXT = "Sorry, I couldn't answer that just now. Please try again in a little while."


def default_intents() -> discord.Intents:
    """Guild and DM messages with their content (a privileged intent to enable in the developer portal)."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


def error_text(exc: BaseException) -> str:
    """The one line a user sees for a failed turn."""
    if isinstance(exc, RateLimitedError | InvalidInputError):
        return str(exc)
    return FAILED_TEXT


class CompanionBot(commands.Bot):
    """The companion on Discord: replies in DMs and where mentioned, slash commands, proactive DMs."""

    def __init__(
        self,
        *,
        companion: Companion,
        relations: RelationshipStore,
        chats: ChatManager,
        admin_ids: Collection[str] = (),
        clock: Clock | None = None,
        sync_commands: bool = False,
        intents: discord.Intents | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents or default_intents(), help_command=None
        )
        self.companion = companion
        self.relations = relations
        self.chats = chats
        self.admin_ids = frozenset(admin_ids)
        self.clock = clock or SystemClock()
        self.sync_commands = sync_commands

    async def setup_hook(self) -> None:
        """Load the cogs; publish the slash commands to Discord when asked to."""
        from bots.discord.cogs.conversation import ConversationCog
        from bots.discord.cogs.memories import MemoriesCog
        from bots.discord.cogs.outreach import OutreachCog
        from bots.discord.cogs.personality import PersonalityCog

        for cog in (ConversationCog(self), MemoriesCog(self), PersonalityCog(self), OutreachCog(self)):
            await self.add_cog(cog)
        self.tree.error(self.on_app_command_error)
        if self.sync_commands:
            synced = await self.tree.sync()
            logger.info("published %d slash commands", len(synced))

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands (the cogs answer messages; commands are slash commands)."""

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """One line to the user, only to them; unexpected errors are logged."""
        original = getattr(error, "original", error)
        if not isinstance(original, CompanionError):
            logger.error("slash command failed", exc_info=original)
        text = error_text(original)
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    async def deliver_outreach(self, user_id: int, text: str) -> str:
        """Send a proactive message as a DM, or in the user's last channel when DMs are closed (see OutreachCog)."""
        cog = self.get_cog("OutreachCog")
        if cog is None:
            raise RuntimeError("the outreach cog is not loaded (setup_hook has not run)")
        from bots.discord.cogs.outreach import OutreachCog

        assert isinstance(cog, OutreachCog)
        return await cog.deliver(user_id, text)


async def run_discord_bot(settings: Settings, *, sync_commands: bool = True) -> None:
    """Start the bot: check the token, open the services, connect until interrupted."""
    from companion.runtime.background import background_work
    from companion.services import open_services
    from graphs.conversation import build_graph_from_services

    token = discord_token(settings.discord_token)
    quiet_durability_warning()
    async with open_services(settings) as services, background_work(services):
        clock = SystemClock()
        companion = Companion.over_services(services, build_graph_from_services(services), persona=settings.persona)
        bot = CompanionBot(
            companion=companion,
            relations=RelationshipStore(services.redis, clock=clock),
            chats=ChatManager(services.redis, platform=PLATFORM, clock=clock),
            admin_ids=settings.admin_ids,
            clock=clock,
            sync_commands=sync_commands,
        )

        async def deliver(discord_user_id: str, text: str) -> str:
            await bot.wait_until_ready()
            return await bot.deliver_outreach(int(discord_user_id), text)

        outbox = OutboxConsumer(services.redis, platform=PLATFORM, deliver=deliver)
        try:
            async with bot:
                delivering = asyncio.create_task(outbox.run())
                try:
                    await bot.start(token)
                finally:
                    delivering.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await delivering
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise PlatformUnavailableError(f"cannot reach Discord: {exc}") from None
        except discord.LoginFailure:
            raise ConfigurationError(
                "Discord rejected COMPANION_DISCORD_TOKEN; reset it in the developer portal"
            ) from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigurationError(
                "enable the Message Content intent for the bot in the Discord developer portal (Bot > Privileged "
                "Gateway Intents)"
            ) from None
