"""Fill the persona prompt (``prompts/personality.py``) from a persona, a personality state and memories."""

from __future__ import annotations

from collections.abc import Sequence

from companion.personality.needs import NEED_NAMES
from companion.personality.persona import Persona
from companion.personality.quirks import active_quirks
from companion.personality.state import PersonalityState
from prompts.personality import (
    NEED_ITEM,
    NO_PERSONA_MEMORIES,
    NO_PRESSING_NEEDS,
    NO_QUIRKS,
    PERSONA_MEMORY_LINE,
    PERSONA_SYSTEM_PROMPT,
    QUIRK_ITEM,
)

#: Needs above this level are mentioned in the prompt (seed: ``current_level > 0.7``).
PROMPT_NEED_LEVEL = 0.7


def persona_system_prompt(persona: Persona, state: PersonalityState, memories: Sequence[str]) -> str:
    """The chat model's system prompt for this persona, mood, needs, quirks and memories."""
    quirks = ", ".join(
        QUIRK_ITEM.format(description=quirk.description, strength=quirk.strength)
        for quirk in active_quirks(state.quirks)
    )
    pressing = sorted(
        (n for n in NEED_NAMES if state.needs.get(n, 0.0) > PROMPT_NEED_LEVEL), key=lambda n: -state.needs[n]
    )
    needs = ", ".join(NEED_ITEM.format(need=name, level=state.needs[name]) for name in pressing)
    memory_lines = "\n".join(PERSONA_MEMORY_LINE.format(text=text) for text in memories)
    traits = persona.traits
    return PERSONA_SYSTEM_PROMPT.format(
        name=persona.name,
        style=persona.style,
        backstory=persona.backstory,
        openness=traits.openness,
        conscientiousness=traits.conscientiousness,
        extraversion=traits.extraversion,
        agreeableness=traits.agreeableness,
        neuroticism=traits.neuroticism,
        emotion_label=state.mood.label,
        pleasure=state.mood.pleasure,
        arousal=state.mood.arousal,
        dominance=state.mood.dominance,
        quirks_list=quirks or NO_QUIRKS,
        needs_summary=needs or NO_PRESSING_NEEDS,
        memories=memory_lines or NO_PERSONA_MEMORIES,
    )
