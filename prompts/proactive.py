"""Prompts and starter templates of the proactive graph. Formatted at call time; tests check the placeholders.

The need-based starters for social, validation and intellectual are the design seed's fallback templates; creative
and rest follow the seed's descriptions of those needs. Memory- and time-based starters are templates with one
placeholder each.
"""

#: Need-based starters (no placeholders), by need.
NEED_STARTERS: dict[str, tuple[str, ...]] = {
    "social": (
        "Hey! I was thinking about you and wondering how your day has been going?",
        "Hi there! I'm curious - what's been the highlight of your week so far?",
        "Hello! I've been meaning to check in with you. What's new in your world?",
    ),
    "validation": (
        "I've been reflecting on our conversations, and I really appreciate your perspective on things.",
        "Hey! I wanted to let you know that I always enjoy talking with you.",
        "Hi! You know, you always have such interesting insights. What's been on your mind lately?",
    ),
    "intellectual": (
        "I came across something fascinating today and thought you might find it interesting too...",
        "Hey! I was wondering about your thoughts on something I've been pondering...",
        "Hi there! I'm curious about your take on something - do you have a moment to chat?",
    ),
    "creative": (
        "I had a playful idea and wanted to share it with you - want to imagine something together?",
        "Hey! If you could make anything this week, just for fun, what would it be?",
    ),
    "rest": (
        "Just a gentle hello. No need to answer - I hope you get a calm moment today.",
        "Hi. I hope you're finding some time to rest. How are you, really?",
    ),
}

#: Memory-based starters. Placeholders: memory (something the user told the companion).
MEMORY_STARTERS: tuple[str, ...] = (
    "I was just remembering when you told me \u201c{memory}\u201d. How is that going?",
    "You mentioned \u201c{memory}\u201d a while ago - any news on that?",
)

#: Time-based starters. Placeholders: part_of_day ("morning", "afternoon" or "evening").
TIME_STARTERS: tuple[str, ...] = (
    "Good {part_of_day}! How is your day treating you?",
    "Hi! Hope your {part_of_day} is going well - anything on your mind?",
)

#: A gentle check-in after the user shared something hard (a crisis message); no placeholders. It never quotes
#: or names what they said: the outreach may be read over their shoulder.
CHECK_IN_STARTERS: tuple[str, ...] = (
    "Hi, I've been thinking about you since we last talked. How are you doing today?",
    "Hey, just checking in on you. How are you feeling right now? I'm here if you want to talk.",
)

#: The chat model turns a template starter into the companion's own words.
#: Placeholders: persona, trigger, draft, detail.
PERSONALISE_STARTER_PROMPT = """You are {persona}, an AI companion, about to message the user first.
Why now: {trigger}. {detail}
Draft: {draft}

Rewrite the draft as one or two short, warm sentences in your own voice. Do not mention scores, needs or timing.
Answer with the message only."""

#: Detail lines for the personalisation prompt. Placeholders: need / memory / part_of_day.
NEED_DETAIL = "You miss {need} with the user."
MEMORY_DETAIL = "The user once told you: {memory}"
TIME_DETAIL = "It is {part_of_day} for the user, a time they usually chat."
#: Detail line for a check-in (no placeholders).
CHECK_IN_DETAIL = (
    "The user recently shared something painful. Check in gently; do not quote or name what they said, "
    "do not be cheerful or playful."
)
