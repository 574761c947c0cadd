"""Fill the persona prompt (``prompts/personality.py``) from a persona, a personality state and memories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from companion.core.personality.appraisal import perceived_feeling
from companion.core.personality.needs import NEED_NAMES
from companion.core.personality.persona import Persona
from companion.core.personality.quirks import active_quirks
from companion.core.personality.state import PersonalityState
from prompts.personality import (
    CRISIS_CARE_PROMPT,
    CRISIS_SITUATIONS,
    FEELING_WORDS,
    NEED_ITEM,
    NO_PERSONA_MEMORIES,
    NO_PRESSING_NEEDS,
    NO_QUIRKS,
    PERSONA_MEMORY_LINE,
    PERSONA_SYSTEM_PROMPT,
    QUIRK_ITEM,
    QUIRKS_SET_ASIDE,
    USER_FEELING,
    USER_FEELING_UNCLEAR,
)

#: Needs above this level are mentioned in the prompt (seed: ``current_level > 0.7``).
PROMPT_NEED_LEVEL = 0.7


def persona_system_prompt(
    persona: Persona,
    state: PersonalityState,
    memories: Sequence[str],
    *,
    user_emotions: Mapping[str, int] | None = None,
    crisis: str | None = None,
    crisis_resources: str = "",
) -> str:
    """The chat model's system prompt for this persona, mood, needs, quirks and memories.

    ``user_emotions`` (the detected intensities) tell the model how the user seems, so it meets their feeling
    before expressing its own mood. ``crisis`` (a crisis kind) sets the quirks aside and appends the care
    instructions with ``crisis_resources`` (``tools.care.crisis_resources``).
    """
    quirks = ", ".join(
        QUIRK_ITEM.format(
            description=quirk.description, category=quirk.category.replace("_", " "), strength=quirk.strength
        )
        for quirk in active_quirks(state.quirks)
    )
    pressing = sorted(
        (n for n in NEED_NAMES if state.needs.get(n, 0.0) > PROMPT_NEED_LEVEL), key=lambda n: -state.needs[n]
    )
    needs = ", ".join(NEED_ITEM.format(need=name, level=state.needs[name]) for name in pressing)
    memory_lines = "\n".join(PERSONA_MEMORY_LINE.format(text=text) for text in memories)
    traits = persona.traits
    feeling = perceived_feeling(user_emotions or {})
    user_feeling = (
        USER_FEELING_UNCLEAR
        if feeling.valence == "neutral"
        else USER_FEELING.format(feeling=FEELING_WORDS[feeling.emotion], intensity=round(feeling.strength * 100))
    )
    if crisis is not None:
        quirks = QUIRKS_SET_ASIDE
    prompt = PERSONA_SYSTEM_PROMPT.format(
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
        user_feeling=user_feeling,
        quirks_list=quirks or NO_QUIRKS,
        needs_summary=needs or NO_PRESSING_NEEDS,
        memories=memory_lines or NO_PERSONA_MEMORIES,
    )
    if crisis is None:
        return prompt
    situation = CRISIS_SITUATIONS.get(crisis, CRISIS_SITUATIONS["self_harm"])
    return prompt + CRISIS_CARE_PROMPT.format(situation=situation, resources=crisis_resources)
