"""Prompts of background association and ingestion. Formatted at call time; tests check the placeholders."""

#: Scores how strongly a new message relates to each candidate memory. Placeholders: message, candidates.
RELATION_SCORING_PROMPT = """You link a person's memories. A new message arrived:

{message}

Candidate memories, numbered:
{candidates}

For each candidate, rate how strongly it relates to the new message from 0 (unrelated) to 100 (about the very
same thing), and give a short reason (at most 15 words). Answer with JSON only, in this shape:
{{"scores": [{{"index": 0, "strength": 75, "reason": "..."}}]}}"""

#: One numbered candidate in the scoring prompt. Placeholders: index, text.
RELATION_CANDIDATE_LINE = "{index}. {text}"

#: Merges new information into an existing memory (a new version). Placeholders: existing, new_info, emotion.
MERGE_MEMORY_PROMPT = """Update this memory with new information while preserving all existing details.

Existing memory:
{existing}

New information:
{new_info}

Emotional context (the new information's emotional signals: emotion, intensity 0-100, the words carrying it):
{emotion}

Integrate the new information naturally, keep every existing fact, keep it under 600 words, and answer with the
updated memory text only."""

#: Extracts the lasting facts of an ingested session, each stored as a memory of its own. Placeholders: transcript.
SESSION_FACTS_PROMPT = """List the lasting facts the user shared in this conversation about themselves and their
world: people, places, events, plans, work, health, preferences, and how they feel about them. Leave out greetings,
questions, small talk and anything about the assistant. Write each fact as one short sentence in the user's own
voice, in the first person ("My sister Ana lives in Porto."), one fact per line starting with "- ". Answer "- none"
if the user shared no fact.

{transcript}"""

#: Summarises an ingested session. Placeholders: transcript.
SESSION_SUMMARY_PROMPT = """Summarise this conversation in at most five sentences, keeping the facts, preferences
and feelings the user shared. Answer with the summary only.

{transcript}"""
