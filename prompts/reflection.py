"""Prompts of the reflection graph. Formatted at call time; tests check the placeholders."""

#: Consolidation: the chat model turns a cluster of related episodic memories into one semantic memory.
#: Placeholders: memories (one per line).
CONSOLIDATION_PROMPT = """These are things a user told their companion on different occasions, all on one theme.

{memories}

Write ONE short sentence, in the third person ("The user ..."), stating the lasting fact, habit or preference they
show together. Keep names and specifics; invent nothing. Answer with the sentence only."""

#: How one source memory is listed in the consolidation prompt. Placeholders: when, text.
CONSOLIDATION_LINE = "- ({when}) {text}"

#: Conflict check: the chat model says whether two very similar memories contradict each other.
#: Placeholders: older, newer, older_when, newer_when.
CONFLICT_CHECK_PROMPT = """Two things a user told their companion:

A ({older_when}): {older}
B ({newer_when}): {newer}

Do A and B contradict each other (both cannot be true at the same time, or B changes what A said)?
Answer with one JSON object and nothing else, with the keys:
"has_conflict" (true or false), "conflict_type" ("factual_contradiction", "timeline_inconsistency" or
"preference_conflict"), "description" (one short sentence), "confidence" (a number from 0 to 1)."""

#: The question queued for the next conversation when a conflict needs the user. Placeholders: older, newer.
CLARIFICATION_QUESTION = (
    "Earlier you told me \u201c{older}\u201d, and later \u201c{newer}\u201d. Which one is true now?"
)

#: Added to the chat model's system prompt on the turn that asks a queued clarification question.
#: Placeholders: question.
CLARIFICATION_ASK = """

SOMETHING TO CLEAR UP: two things the user told you contradict each other. Reply to their message first, then \
ask them about it once, naturally and in your own words (do not quote this note): {question}"""

#: Appended to the (labelled) offline reply on the turn that asks a queued question. Placeholders: question.
OFFLINE_CLARIFICATION = "One thing to clear up: {question}"

#: Reflection: the chat model reads the user's answer to a clarification question that the local rules could not
#: interpret. Placeholders: older, newer, question, answer.
CLARIFICATION_ANSWER_PROMPT = """A companion noticed two things a user said that contradict each other:

A (said first): {older}
B (said later): {newer}

It asked: {question}
The user answered: {answer}

Which statement does the answer say is true now? Answer with exactly one word: A, B or unclear."""

#: Insights: the chat model rewords the run's local report (the findings, one a line) for the person it is about.
#: Placeholders: findings.
INSIGHTS_REPORT_PROMPT = """You are a companion who reflected overnight on the last days of conversation with a user.
These are the findings, computed from their messages (moods are on a scale from -1 to +1):

{findings}

Write a short report for the user (at most 4 sentences, second person, warm and plain): what keeps coming up, how
their mood has moved, what changed. Use only these findings and keep their numbers; invent nothing, quote nothing
else, give no advice. Answer with the report only."""
