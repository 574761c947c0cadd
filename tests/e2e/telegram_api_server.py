"""A small local Telegram Bot API server for the bot tests: aiogram's real client talks HTTP to it.

It speaks the methods the bot uses (getMe, getUpdates, sendMessage, leaveChat, getChatMember, answerCallbackQuery,
editMessageText), answers like Telegram (``{"ok": true, "result": ...}`` or an error with its code), and records
every call. Updates go in through ``Dispatcher.feed_update``, or through getUpdates for a polling bot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000000001
BOT_USERNAME = "companion_test_bot"
TOKEN = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"


@dataclass
class Call:
    """One Bot API request."""

    method: str
    params: dict[str, Any]


@dataclass
class TelegramAPI:
    """State of the fake Bot API: chats, members, users who blocked the bot, and the calls received."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    chat_types: dict[int, str] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    updates: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def sent(self, chat_id: int | None = None) -> list[str]:
        """Texts of sendMessage calls (to one chat or all)."""
        return [
            str(call.params["text"])
            for call in self.calls
            if call.method == "sendMessage" and (chat_id is None or int(call.params["chat_id"]) == chat_id)
        ]

    def called(self, method: str) -> list[Call]:
        """Calls of one method."""
        return [call for call in self.calls if call.method == method]

    def bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Companion", "username": BOT_USERNAME}

    def chat(self, chat_id: int) -> dict[str, Any]:
        kind = self.chat_types.get(chat_id, "private" if chat_id > 0 else "supergroup")
        return {"id": chat_id, "type": kind, **({"title": f"chat {chat_id}"} if kind != "private" else {})}

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(Call(method, params))
        if method == "getMe":
            return 200, {"ok": True, "result": self.bot_user()}
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            if chat_id in self.blocked:
                return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            message_id = int(params.get("message_id") or next(self._ids))
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self.chat(chat_id),
                "from": self.bot_user(),
                "text": params["text"],
            }
            return 200, {"ok": True, "result": result}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            return 200, {"ok": True, "result": [u for u in self.updates if u["update_id"] >= offset]}
        if method in ("leaveChat", "answerCallbackQuery", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        if method == "getChatMember":
            chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
            status = "member" if user_id in self.members.get(chat_id, set()) else "left"
            user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
            return 200, {"ok": True, "result": {"status": status, "user": user}}
        return 404, {"ok": False, "error_code": 404, "description": f"Not Found: method {method} is not served here"}


async def start_server(api: TelegramAPI) -> web.AppRunner:
    """Serve ``api`` on a free local port; sets ``api.url``."""

    async def endpoint(request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        form = await request.post()
        params = {key: _decode(value) for key, value in form.items()}
        status, body = api.handle(request.match_info["method"], params)
        if request.match_info["method"] == "getUpdates" and not body["result"]:
            await asyncio.sleep(0.2)  # a short long-poll
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api.url = f"http://127.0.0.1:{port}"
    return runner


def _decode(value: Any) -> Any:
    text = value if isinstance(value, str) else str(value)
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
