"""A user's profile (design seed 003's ``user_profiles``): how to address them, their language, analytics consent.

One Redis hash per user, ``companion:u:{<user>}:profile``, under the user's key prefix, so erasure removes it and
export includes it. The chat turn reads it in the same round trip as its recent turns (``ShortTermStore.load``):

* ``display_name``: how the companion addresses the user (in the chat model's system prompt);
* ``language``: the language the user prefers replies in (a code such as ``en``, ``de`` or ``pt-BR``; the chat
  model is told, the offline responder only speaks English);
* ``analytics_consent``: whether turns join the per-user interaction log (seed 003's analytics, on by default as
  in the seed); withdrawing it also deletes the log kept so far.

The seed's timezone and ``proactive_messaging_enabled`` are the outreach preferences (``memory/outreach.py``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, cast

from redis.asyncio import Redis
from typing_extensions import TypedDict

from companion.core.errors import InvalidInputError
from memory.keys import UserKey
from memory.redis_io import as_text, redis_call

#: Redis hash of a user's profile.
profile_key = UserKey("profile")
#: Redis stream of a user's per-turn interaction log (numbers and labels only, never the words).
interactions_key = UserKey("interactions")
DEFAULT_LANGUAGE = "en"
MAX_DISPLAY_NAME_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # the API schema's rule too
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class ProfileData(TypedDict):
    """:meth:`UserProfile.to_dict`: the profile as the conversation state and the API carry it."""

    display_name: str
    language: str
    analytics_consent: bool


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What a user told the companion about how to talk with them."""

    display_name: str = ""
    language: str = DEFAULT_LANGUAGE
    analytics_consent: bool = True

    def to_dict(self) -> ProfileData:
        """A JSON-able dict."""
        return cast(ProfileData, asdict(self))


def profile_from_hash(raw: dict[Any, Any]) -> UserProfile:
    """The profile from its Redis hash (an empty hash: the defaults)."""
    values = {as_text(key): as_text(value) for key, value in raw.items()}
    return UserProfile(
        display_name=values.get("display_name", ""),
        language=values.get("language", DEFAULT_LANGUAGE),
        analytics_consent=values.get("analytics_consent", "1") == "1",
    )


def validate_language(code: str) -> str:
    """``code`` if it is a language code such as ``en``, ``de`` or ``pt-BR``, else ``InvalidInputError``."""
    if not _LANGUAGE.fullmatch(code):
        raise InvalidInputError(f"invalid language {code!r}: use a code such as en, de or pt-BR")
    return code


def validate_display_name(name: str) -> str:
    """``name`` without surrounding space, if it is printable and at most ``MAX_DISPLAY_NAME_CHARS`` long."""
    name = name.strip()
    if len(name) > MAX_DISPLAY_NAME_CHARS or _CONTROL.search(name):
        raise InvalidInputError(f"invalid display name: at most {MAX_DISPLAY_NAME_CHARS} characters, no control ones")
    return name


class ProfileStore:
    """Users' profiles in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, user_id: str) -> UserProfile:
        """The user's profile (the defaults when they never set one)."""
        return profile_from_hash(await redis_call(self.redis.hgetall(profile_key(user_id))))

    async def update(
        self,
        user_id: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        analytics_consent: bool | None = None,
    ) -> UserProfile:
        """Change some fields; returns the whole profile. Withdrawn consent deletes the interaction log too."""
        given = {
            "display_name": None if display_name is None else validate_display_name(display_name),
            "language": None if language is None else validate_language(language),
            "analytics_consent": None if analytics_consent is None else str(int(analytics_consent)),
        }
        mapping = {name: value for name, value in given.items() if value is not None}
        async with self.redis.pipeline(transaction=True) as pipe:
            if mapping:
                pipe.hset(profile_key(user_id), mapping=mapping)  # type: ignore[arg-type]
            if analytics_consent is False:
                pipe.delete(interactions_key(user_id))
            await redis_call(pipe.execute())
        return await self.get(user_id)
