"""Prompts of the perception tools. Formatted at call time; tests check the placeholders."""

#: Importance (the seed's five levels) and category of one message, with the seed's few-shot examples
#: (design seed 003, importance scorer, rescaled from 0.0-1.0 to 100-900; categories from seed 000).
#: Placeholders: message, emotion, intensity.
IMPORTANCE_CATEGORY_PROMPT = """You score how important a user's message is for an AI companion to remember,
and say what it is about.

IMPORTANCE LEVELS:
- 900 critical: life-changing events
- 700 high: important relationships, milestones
- 500 medium: regular interactions and events
- 300 low: casual conversation
- 100 minimal: minor details

SCORING CRITERIA (with weights):
- Emotional significance (30%): personal revelations, strong emotions, meaningful events
- Future relevance (25%): information likely to be referenced again
- Uniqueness (25%): rare or distinctive information about the user
- Personal disclosure (20%): the user sharing personal details, preferences, relationships

CATEGORIES: person (about people), event (significant moments), emotion (emotional experiences), interest (hobbies,
likes), fact (general facts), skill (abilities), goal (future goals), problem (issues, challenges), location (places)

EXAMPLES:
"I just got a new puppy named Max!" -> importance 700, category event (happy event, will come up again, pet ownership)
"What's the weather like?" -> importance 100, category fact (no emotion, no disclosure, generic question)
"My dad passed away last month, I'm still grieving" -> importance 900, category person (major life event, disclosure)
"I prefer tea over coffee" -> importance 300, category interest (a preference, some future relevance)
"I just got promoted to senior engineer at Google!" -> importance 900, category event (career milestone)

Detected emotion: {emotion} (intensity {intensity}/100)
User message: "{message}"

Give the importance level and the one category that fits best."""
