"""Utterance type: is a message a statement, a question, a request or small talk? Local rules, no model.

What the companion recalls as "things you told me" should be statements about the user and their world, not the
questions they asked, their acknowledgements ("ok", "lol yes") or their requests ("tell me a joke"). Every message
stays in long-term memory (the conversation log is searchable); this label, stored with it (``MemoryRecord.utterance``),
lets ranking, the offline responder, association and consolidation tell facts from chatter.

Rules, in order, on the text with leading mentions (``@bot``, ``<@123>``) removed:

1. **small talk**: nothing but greetings, thanks, acknowledgements, laughter, emoji and punctuation
   ("ok", "lol yes", "thanks!", "good morning :)"), a greeting with a name ("Hey Mel!", "Good morning, Sam."), or
   at most three words none of which is a content word; a message whose every sentence is one of these
   ("Hey Mel! Good to see you!") too;
2. **question**: the last sentence ends with ``?``, or the first sentence opens with a question word or an
   auxiliary-first inversion ("what is my PIN", "do you remember ...", "is it raining") and has no ``.``/``!`` end;
3. **request**: an imperative or polite request addressed to the companion ("tell me a joke", "please remind me",
   "can you help", "let's ...") - checked before the question rule for "can you / could you / would you" so those
   are requests whatever their punctuation;
4. otherwise a **statement**.

A message with a statement and a question ("I moved to Lyon. Do you know it?") is a statement: it told something.

One more label is never the result of these rules: **observation**, what nightly reflection noticed about the user
(an insight, ``nodes/reflection.py``). It is the companion's own words, so it is never quoted back or updated as
something the user said, and it is not chatter either: recall ranks it like a statement.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum

__all__ = [
    "CHATTER_TYPES",
    "FACT_TYPES",
    "UtteranceType",
    "classify_utterance",
    "is_chatter",
    "is_fact",
    "is_observation",
    "parse_utterance",
    "strip_mentions",
]


class UtteranceType(StrEnum):
    """What kind of thing a message says."""

    STATEMENT = "statement"
    QUESTION = "question"
    REQUEST = "request"
    SMALL_TALK = "small_talk"
    #: The companion's own observation (a reflection insight): set by reflection, never by ``classify_utterance``.
    OBSERVATION = "observation"


#: The types recalled as "things you told me".
FACT_TYPES = frozenset({UtteranceType.STATEMENT})
#: What the user said that is not a fact about them: kept and searchable, ranked below what they told.
CHATTER_TYPES = frozenset({UtteranceType.QUESTION, UtteranceType.REQUEST, UtteranceType.SMALL_TALK})

_MENTION = re.compile(r"^(?:\s*(?:<@!?&?\d+>|@[\w.]+)[,:]?)+\s*")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_EMOJI_OR_SYMBOL = re.compile(r"^[\W_]+$")

_SMALL_TALK_WORDS = frozenset(
    """
    ok okay okey k kk yes yeah yep yup ya yea no nope nah sure cool nice great good fine alright right lol lmao rofl
    haha hahaha hah hehe heh xd omg wow oh ah aha hmm hm mhm uh um yay thanks thank thx ty you hi hello hey hiya
    yo morning evening night afternoon good bye goodbye bye cya see later gn gm sup np welcome awesome indeed true
    exactly agreed same too me totally definitely absolutely of course sounds perfect ikr idk lool lolol pls please
    sorry oops ugh meh hahah brb ttyl bro dude man guys all everyone there just so really very much a the to meet
    """.split()
)
#: A greeting with the name of whom it greets ("Hey Mel!", "Good morning, Sam Lee."): small talk like "hey!".
_GREETING = re.compile(
    r"(?i:hi|hey|hello|hiya|heya|yo|morning|good\s+(?:morning|afternoon|evening|night))\b[\s,]*"
    r"(?:[A-Z][\w'-]*\s*){0,2}[!.?\s]*"
)
_QUESTION_OPENERS = frozenset(
    """
    what what's whats when where where's who who's whom whose why how how's which
    do does did is are was were am have has had can could would should will shall may might must
    isn't aren't wasn't weren't don't doesn't didn't haven't hasn't won't wouldn't can't couldn't shouldn't
    """.split()
)
_REQUEST_OPENERS = (
    "please",
    "pls",
    "tell me",
    "remind me",
    "show me",
    "give me",
    "help me",
    "let me know",
    "let's",
    "lets ",
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "would you mind",
    "write ",
    "explain",
    "describe",
    "recommend",
    "suggest",
    "find ",
    "send ",
    "repeat",
    "say ",
    "talk to me",
    "play ",
    "sing ",
    "imagine ",
    "pretend ",
)


def strip_mentions(text: str) -> str:
    """``text`` without the mentions it opens with (``@bot``, Discord's ``<@123>``): what the user said."""
    return _MENTION.sub("", text, count=1).strip()


def _is_small_talk(text: str) -> bool:
    if _EMOJI_OR_SYMBOL.fullmatch(text) or _GREETING.fullmatch(text.strip()):
        return True
    words = [word.lower() for word in _WORD.findall(text)]
    if not words:
        return True
    if all(word in _SMALL_TALK_WORDS for word in words):
        return True
    return False


@functools.lru_cache(maxsize=4096)  # memories stored before labels existed are classified at every recall
def classify_utterance(text: str) -> UtteranceType:
    """The type of ``text`` by the rules in the module docstring."""
    said = strip_mentions(text)
    if not said or _is_small_talk(said):
        return UtteranceType.SMALL_TALK
    lowered = said.lower().lstrip("\"'([ ")
    sentences = [s.strip() for s in _SENTENCE.findall(said) if s.strip() and _WORD.search(s)]
    if not sentences:
        return UtteranceType.SMALL_TALK
    # One sentence that states something is enough for a statement ("I moved to Lyon. Do you know it?").
    types = [_sentence_type(sentence) for sentence in sentences]
    if UtteranceType.STATEMENT in types:
        return UtteranceType.STATEMENT
    if all(kind is UtteranceType.SMALL_TALK for kind in types):  # "Hey Mel! Good to see you!"
        return UtteranceType.SMALL_TALK
    if lowered.startswith(_REQUEST_OPENERS):
        return UtteranceType.REQUEST
    if UtteranceType.QUESTION in types:
        return UtteranceType.QUESTION
    return UtteranceType.REQUEST


def _sentence_type(sentence: str) -> UtteranceType:
    text = sentence.strip()
    lowered = text.lower().lstrip("\"'([ ")
    words = [word.lower() for word in _WORD.findall(text)]
    if not words or all(word in _SMALL_TALK_WORDS for word in words) or _GREETING.fullmatch(text):
        return UtteranceType.SMALL_TALK
    if lowered.startswith(_REQUEST_OPENERS):
        return UtteranceType.REQUEST
    if text.rstrip(" )\"'").endswith("?"):
        return UtteranceType.QUESTION
    ends_flat = text.rstrip(" )\"'").endswith((".", "!"))
    if words[0] in _QUESTION_OPENERS and not ends_flat:
        return UtteranceType.QUESTION
    return UtteranceType.STATEMENT


def parse_utterance(value: object, text: str = "") -> UtteranceType:
    """A stored label as an ``UtteranceType``; a memory stored before labels existed is classified from ``text``."""
    try:
        return UtteranceType(str(value))
    except ValueError:
        return classify_utterance(text)


def is_fact(value: object, text: str = "") -> bool:
    """Whether a memory (its stored label, else its text) is a statement: something the user told."""
    return parse_utterance(value, text) in FACT_TYPES


def is_chatter(value: object, text: str = "") -> bool:
    """Whether a memory is a question, a request or small talk: something the user said that tells nothing."""
    return parse_utterance(value, text) in CHATTER_TYPES


def is_observation(value: object) -> bool:
    """Whether a memory's stored label says it is the companion's own observation (a reflection insight)."""
    return str(value) == UtteranceType.OBSERVATION.value
