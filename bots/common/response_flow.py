"""When (and whether) the companion answers in a busy chat: relationship priorities, mentions and cooldowns.

Priorities (design seed 000), by how well the companion knows the sender:

============  ===================  ==============================================================
relationship  reply delay          how a user gets there
============  ===================  ==============================================================
admin         immediate            listed in ``COMPANION_ADMIN_IDS``
friend        5-30 s               ``FRIEND_MIN_MESSAGES`` messages to the companion on at least
                                   ``FRIEND_MIN_DAYS`` different days
known         15-60 s              ``KNOWN_MIN_MESSAGES`` messages to the companion
stranger      30-120 s; no reply   everyone else
              if the drawn delay
              exceeds 100 s
============  ===================  ==============================================================

Priorities (the seed's five), from what the message is and who sent it:

* ``immediate``: an admin, or a message perception flags as a crisis from anyone: answered at once, whatever the
  cooldowns, and never dropped for a long stranger delay (a person in danger meets care now, not in two minutes);
* ``high``: a friend addressing the companion in a group;
* ``medium``: a private chat (answered at once);
* ``low``: a known user or a stranger addressing the companion in a group;
* ``minimal``: a group message not addressed to the companion: it only goes to the chat buffer.

"Messages to the companion" are private messages, mentions and replies to it; they are counted in Redis by
``RelationshipStore`` (bots/common/relationships.py), so a relationship survives restarts and is the same in
every chat. In a group the companion answers only when addressed (mention, reply to one of its messages, or a
command); other messages only go to the chat buffer. Admins are answered at once and skip cooldowns. Everyone
else also meets a per-user cooldown (one reply per ``user_cooldown`` seconds) and a per-chat cooldown (one reply
per ``chat_cooldown`` seconds), counted from when the planned reply goes out. Private chats are answered at once:
the pacing exists to keep a busy group readable, and the per-conversation lock and rate limits still apply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from bots.common.clock import Clock


class Priority(StrEnum):
    """How urgently a message is answered (design seed 000's five response priorities), most urgent first."""

    IMMEDIATE = "immediate"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    MINIMAL = "minimal"


class Relationship(StrEnum):
    """How well the companion knows a user, best first."""

    ADMIN = "admin"
    FRIEND = "friend"
    KNOWN = "known"
    STRANGER = "stranger"


#: Reply delay range in seconds per relationship.
DELAY_RANGES: dict[Relationship, tuple[float, float]] = {
    Relationship.ADMIN: (0.0, 0.0),
    Relationship.FRIEND: (5.0, 30.0),
    Relationship.KNOWN: (15.0, 60.0),
    Relationship.STRANGER: (30.0, 120.0),
}
#: A stranger whose drawn delay is longer than this gets no reply.
STRANGER_MAX_DELAY = 100.0
KNOWN_MIN_MESSAGES = 5
FRIEND_MIN_MESSAGES = 30
FRIEND_MIN_DAYS = 3
USER_COOLDOWN_SECONDS = 60.0
CHAT_COOLDOWN_SECONDS = 10.0


def relationship_for(*, is_admin: bool, messages: int, days: int) -> Relationship:
    """The relationship earned by ``messages`` messages to the companion over ``days`` different days."""
    if is_admin:
        return Relationship.ADMIN
    if messages >= FRIEND_MIN_MESSAGES and days >= FRIEND_MIN_DAYS:
        return Relationship.FRIEND
    if messages >= KNOWN_MIN_MESSAGES:
        return Relationship.KNOWN
    return Relationship.STRANGER


@dataclass(frozen=True, slots=True)
class ResponseDecision:
    """Whether to answer, after how many seconds, and why."""

    respond: bool
    delay: float
    relationship: Relationship
    reason: str
    priority: Priority


class ResponseFlow:
    """Decides replies for one bot process. Pure apart from the injected clock and random source."""

    def __init__(
        self,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        user_cooldown: float = USER_COOLDOWN_SECONDS,
        chat_cooldown: float = CHAT_COOLDOWN_SECONDS,
    ) -> None:
        self.clock = clock
        self.rng = rng or random.Random()
        self.user_cooldown = user_cooldown
        self.chat_cooldown = chat_cooldown
        self._user_next: dict[str, float] = {}
        self._chat_next: dict[str, float] = {}

    def decide(
        self,
        *,
        chat_id: str,
        user_id: str,
        relationship: Relationship,
        private: bool,
        addressed: bool,
        crisis: bool = False,
    ) -> ResponseDecision:
        """Decide one message; a positive decision reserves the cooldowns from the planned reply time.

        ``crisis``: perception flagged the message as a crisis (``tools/crisis.py``); it is answered at once.
        """
        if private:
            priority = Priority.IMMEDIATE if crisis else Priority.MEDIUM
            return ResponseDecision(True, 0.0, relationship, "private chat", priority)
        if not addressed:
            return ResponseDecision(False, 0.0, relationship, "not addressed to the companion", Priority.MINIMAL)
        now = self.clock.now()
        if crisis or relationship is Relationship.ADMIN:  # at once, and without starting anyone's cooldown
            return ResponseDecision(True, 0.0, relationship, "crisis" if crisis else "admin", Priority.IMMEDIATE)
        priority = Priority.HIGH if relationship is Relationship.FRIEND else Priority.LOW
        if self._user_next.get(user_id, 0.0) > now:
            return ResponseDecision(False, 0.0, relationship, "user cooldown", priority)
        if self._chat_next.get(chat_id, 0.0) > now:
            return ResponseDecision(False, 0.0, relationship, "chat cooldown", priority)
        low, high = DELAY_RANGES[relationship]
        delay = round(self.rng.uniform(low, high), 3)
        if relationship is Relationship.STRANGER and delay > STRANGER_MAX_DELAY:
            reason = f"stranger delay {delay:.0f} s over {STRANGER_MAX_DELAY:.0f} s"
            return ResponseDecision(False, delay, relationship, reason, priority)
        reply_at = now + delay
        self._user_next[user_id] = reply_at + self.user_cooldown
        self._chat_next[chat_id] = reply_at + self.chat_cooldown
        self._prune(now)
        return ResponseDecision(True, delay, relationship, relationship.value, priority)

    def _prune(self, now: float) -> None:
        if len(self._user_next) > 10_000:
            self._user_next = {key: until for key, until in self._user_next.items() if until > now}
        if len(self._chat_next) > 10_000:
            self._chat_next = {key: until for key, until in self._chat_next.items() if until > now}
