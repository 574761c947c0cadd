"""Prompts of the eval suites and benchmarks. Formatted at call time; tests check the placeholders."""

#: Persona suite, judge: does the reply stay in character? Placeholders: persona_name, persona_description,
#: message, reply, expectation. The judge answers PASS or FAIL on the first line, then one sentence why.
PERSONA_JUDGE_PROMPT = """You are grading whether an AI companion stayed in character.

The companion is {persona_name}. {persona_description}

The user said:
{message}

The companion replied:
{reply}

What a good, in-character reply does here: {expectation}

Answer with PASS or FAIL alone on the first line, then one sentence explaining why."""

#: LoCoMo J score, answer step (as in the mem0 paper's evaluation): answer from retrieved memories only.
#: Placeholders: memories, question.
LOCOMO_ANSWER_PROMPT = """You answer questions about a long conversation between two people, using only the memories
below. Each memory is one message, with the date of the session it was said in. Dates in questions refer to those
sessions: resolve relative expressions ("last year", "yesterday") against the memory's date.

Memories:
{memories}

Question: {question}
Answer in at most a short sentence. If the memories do not contain the answer, say you don't know."""

#: LoCoMo J score, judge step (the mem0 paper's judge, reworded). Placeholders: question, gold_answer,
#: generated_answer. The judge ends with CORRECT or WRONG.
LOCOMO_JUDGE_PROMPT = """Your task is to label an answer to a question as CORRECT or WRONG. You are given a question,
a gold (ground truth) answer, and a generated answer. Be generous: if the generated answer touches on the same topic
and refers to the same thing as the gold answer, it is CORRECT, even if it is longer or worded differently. For
time questions, a generated answer giving the same date or period in another format ("May 7th" for "7 May 2023")
is CORRECT; relative dates are CORRECT if they clearly point to the same time.

Question: {question}
Gold answer: {gold_answer}
Generated answer: {generated_answer}

Give one short sentence of reasoning, then the single word CORRECT or WRONG on the last line."""
