"""Which chats the companion stays in (design seed 000, the chat validator).

Private chats are always allowed. A group is allowed when an admin added the bot or an admin is a member;
otherwise the companion says goodbye, in Russian or English by the chat's language, and leaves. The bots
check when they are added and recheck every known group periodically (an admin may have left since).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

GOODBYES: dict[str, tuple[str, ...]] = {
    "en": (
        "Hi all! I can only stay in chats my people are in, so I'll slip out now. Take care!",
        "Looks like I wandered into the wrong party. Nobody I know is here, so I'll see myself out. Bye!",
        "I'm only allowed where one of my admins is around. Thanks for having me, goodbye!",
    ),
    "ru": (
        "Всем привет! Я могу оставаться только в чатах, где есть мои люди, так что я пойду. Берегите себя!",
        "Кажется, я попал не на ту вечеринку: никого знакомого нет. Тихонько ухожу. Пока!",
        "Мне можно быть только там, где есть кто-то из моих администраторов. Спасибо, до свидания!",
    ),
}
#: Language codes whose speakers are greeted in Russian.
RUSSIAN_LANGUAGE_CODES = ("ru", "uk", "be", "kk")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """Stay or leave, and why."""

    allowed: bool
    reason: str


def decide_chat_access(chat_type: str, *, added_by_admin: bool, admin_present: bool) -> AccessDecision:
    """Private chats stay; a group stays if an admin added the bot or is a member; else leave."""
    if chat_type == "private":
        return AccessDecision(True, "private chat")
    if added_by_admin:
        return AccessDecision(True, "added by an admin")
    if admin_present:
        return AccessDecision(True, "an admin is a member")
    return AccessDecision(False, "no admin in the chat")


def chat_language(language_codes: Iterable[str | None], texts: Iterable[str] = ()) -> str:
    """'ru' or 'en': from the members' language codes, else from the share of Cyrillic letters in the texts."""
    codes = [code.lower() for code in language_codes if code]
    if codes:
        russian = sum(code.startswith(RUSSIAN_LANGUAGE_CODES) for code in codes)
        return "ru" if russian * 2 > len(codes) else "en"
    joined = " ".join(texts)
    letters = len(_LETTER.findall(joined))
    return "ru" if letters and len(_CYRILLIC.findall(joined)) * 2 > letters else "en"


def goodbye_message(language: str, rng: random.Random | None = None) -> str:
    """One of the goodbye messages of ``language`` (English for any other language)."""
    options = GOODBYES.get(language, GOODBYES["en"])
    return (rng or random).choice(options)
