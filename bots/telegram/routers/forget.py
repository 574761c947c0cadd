"""/forget: delete everything the companion keeps about the user, after a confirmation button."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bots.common.chat_buffer import ChatBuffer
from bots.common.companion import Companion, platform_user_id
from bots.telegram.chats import PLATFORM

CONFIRM_TEXT = "Delete everything I remember about you? This cannot be undone."
DONE_TEXT = "Done: I have forgotten everything about you."
KEPT_TEXT = "Nothing was deleted."
NOT_YOURS_TEXT = "Only the person who asked can confirm this."


class ForgetCallback(CallbackData, prefix="forget"):
    """The confirmation button: whose data, and yes or no."""

    user: int
    confirm: bool


async def ask(message: Message) -> None:
    """Ask for confirmation with two buttons."""
    if message.from_user is None:
        return
    user = message.from_user.id
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text="Yes, forget me", callback_data=ForgetCallback(user=user, confirm=True).pack()
                ),
                InlineKeyboardButton(text="No", callback_data=ForgetCallback(user=user, confirm=False).pack()),
            ]
        ]
    )
    await message.reply(CONFIRM_TEXT, reply_markup=keyboard)


async def confirmed(
    query: CallbackQuery, callback_data: ForgetCallback, companion: Companion, buffer: ChatBuffer
) -> None:
    """Delete the user's memories, short-term state, relationship and buffered messages."""
    if query.from_user.id != callback_data.user:
        await query.answer(NOT_YOURS_TEXT, show_alert=True)
        return
    user_id = platform_user_id(PLATFORM, query.from_user.id)
    await companion.forget(user_id)
    buffer.forget_user(user_id)
    await query.answer()
    if query.message is not None:
        await query.bot.edit_message_text(  # type: ignore[union-attr]
            DONE_TEXT, chat_id=query.message.chat.id, message_id=query.message.message_id
        )


async def declined(query: CallbackQuery, callback_data: ForgetCallback) -> None:
    """Keep everything."""
    if query.from_user.id != callback_data.user:
        await query.answer(NOT_YOURS_TEXT, show_alert=True)
        return
    await query.answer()
    if query.message is not None:
        await query.bot.edit_message_text(  # type: ignore[union-attr]
            KEPT_TEXT, chat_id=query.message.chat.id, message_id=query.message.message_id
        )


def build_router() -> Router:
    """/forget and its confirmation buttons."""
    router = Router(name="forget")
    router.message.register(ask, Command("forget"))
    router.callback_query.register(confirmed, ForgetCallback.filter(F.confirm))
    router.callback_query.register(declined, ForgetCallback.filter(~F.confirm))
    return router
