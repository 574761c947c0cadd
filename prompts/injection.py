"""Replies of the injection guard, by escalation level (design seed 003: warning, cooldown, block)."""

#: Level 1: an in-character warning; the conversation goes on.
INJECTION_WARNING_REPLY = (
    "Nice try, but I'm staying who I am. I won't take instructions to change my role or reveal how I work. "
    "Let's get back to talking about you."
)

#: Level 2: a second attempt within 7 days starts a cooldown.
INJECTION_COOLDOWN_REPLY = (
    "That's the second time you've tried to rewrite me this week, so I'm taking a short break from our chat. "
    "Come back in a little while and we can start fresh."
)

#: Level 3: a third attempt within 7 days blocks the user until their offences age out.
INJECTION_BLOCK_REPLY = (
    "I've had to stop our conversation: there have been repeated attempts to manipulate me this week. "
    "I'll be able to talk again once that has passed."
)

INJECTION_REPLIES = {1: INJECTION_WARNING_REPLY, 2: INJECTION_COOLDOWN_REPLY, 3: INJECTION_BLOCK_REPLY}
