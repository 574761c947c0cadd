"""Clarification questions: asking the user about a conflict, and settling it with their answer.

The lifecycle of a conflict reflection could not settle (strategy *user clarification*, ``nodes/reflection.py``):

1. reflection logs it (status ``awaiting_user``) and queues its question in Redis (``memory/clarifications.py``);
2. the user's next chat turn reads the queue (one ``HGETALL``) and its reply asks the question: the chat model is
   told to ask it naturally (``CLARIFICATION_ASK``), the offline responder appends it to its labelled reply; the
   question is then marked asked, so it is asked once, not on every turn;
3. the user's next message is taken as the answer. :func:`interpret_answer` reads it with local rules; when they
   pick a side, :func:`apply_answer` keeps that memory and lowers the other's importance × 0.5 (as *confidence
   based* does; the seed gives no number for an answer), logged with status ``resolved`` and reversible with
   ``companion conflicts --undo``. When they cannot tell, the answer is recorded (status ``answered``) and the next
   reflection run asks the chat model, if one is configured (:func:`choice_from_model`). When no model settles
   it (offline, or the model cannot tell either), the conflict stays ``answered`` with both memories unchanged,
   visible in ``companion conflicts``, for :data:`UNCLEAR_ANSWER_GRACE_SECONDS` (a week: the user may still say
   more); after that reflection falls back to the seed's *temporal precedence* (the newer statement is kept, the
   older one's importance × 0.7), logged with ``resolved_by: temporal_precedence_after_unclear_answer`` and
   reversible like every resolution.

Local answer rules (:func:`interpret_answer`), first decisive one wins:

- *distinct words*: words (and slot values such as a city or a name) found in only one of the two statements
  count for that statement when the answer says them, and for the other one when the answer negates them
  ("not Berlin");
- *likes*: the answer likes or dislikes a thing the two statements disagree about ("I still love jazz");
- *negation*: the statements differ only by a negation; the answer, agreeing with their shared words, is negated
  or not ("I don't eat meat any more");
- *order*: "the first/former/earlier one" picks the older statement, "the second/latter/later/new one" the newer.

A tie, "both", "neither" or nothing recognisable is *unclear*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, NotRequired

from langchain_core.messages import AIMessage, HumanMessage
from typing_extensions import TypedDict

from companion.core.errors import ChatModelError
from memory.clarifications import Clarification, ClarificationData
from memory.long_term import LongTermStore
from memory.reflection_log import LogEntry, ReflectionLog
from prompts.reflection import CLARIFICATION_ANSWER_PROMPT, CLARIFICATION_ASK, OFFLINE_CLARIFICATION
from tools.reflection import TEMPORAL_PRECEDENCE_FACTOR, parse_statement, scale_importance

if TYPE_CHECKING:  # LangChain's model classes are imported only where a chat model is built
    from langchain_core.language_models import BaseChatModel

Side = Literal["older", "newer"]
#: The importance of the memory the user's answer contradicts is multiplied by this.
USER_ANSWER_FACTOR = 0.5
#: How long an unclear answer waits for a chat model (or more words from the user) before temporal precedence.
UNCLEAR_ANSWER_GRACE_SECONDS = 7 * 24 * 3600.0


class ClarificationOutcome(TypedDict):
    """What a turn did with its clarification: asked it, or settled (or recorded) the answer (:func:`apply_answer`)."""

    conflict_id: str
    status: str  # "asked", "answered", "resolved" or "stale"
    asked_at: NotRequired[float | None]
    kept_id: NotRequired[str]
    loser_id: NotRequired[str]


class ClarificationTurn(ClarificationData):
    """The queued question a turn asks (``mode: ask``) or whose answer it reads (``answer``), and its outcome."""

    mode: Literal["ask", "answer"]
    outcome: NotRequired[ClarificationOutcome]


_WORD = re.compile(r"[a-z0-9']+")
_NEGATORS = frozenset("not no never nope don't doesn't didn't isn't aren't wasn't dont doesnt didnt isnt".split())
_INTERJECTIONS = frozenset("yes yeah yep no nope oh well actually ah hmm ok okay sorry".split())
_FIRST = frozenset("first former earlier older original".split())
_SECOND = frozenset("second latter later newer new latest".split())
_UNDECIDED = frozenset("both neither".split())
_STOP = frozenset(
    "a an the i my me am is are was were to of in on at and or but it this that so very really you your "
    "one which true now still anymore any more just".split()
)


# -- asking ------------------------------------------------------------------------------------------------------
def question_to_ask(state: Mapping[str, Any]) -> str | None:
    """The question this turn's reply should ask (``None`` when there is none, or when this turn is an answer)."""
    clarification = state.get("clarification") or {}
    return str(clarification["question"]) if clarification.get("mode") == "ask" else None


def ask_in_system_prompt(question: str) -> str:
    """What the chat model's system prompt gains on the turn that asks ``question``."""
    return CLARIFICATION_ASK.format(question=question)


def ask_offline(question: str) -> str:
    """What the offline responder appends to its (labelled) reply on the turn that asks ``question``."""
    return OFFLINE_CLARIFICATION.format(question=question)


def choose_for_turn(pending: list[Clarification]) -> ClarificationTurn | None:
    """What this turn does with the queue (``None`` when it is empty).

    The message answers the question asked last, if one was asked; otherwise the reply asks the oldest one.
    """
    asked = [item for item in pending if item.asked_at is not None]
    if asked:
        return {"mode": "answer", **max(asked, key=lambda item: item.asked_at or 0.0).to_dict()}
    if pending:
        return {"mode": "ask", **pending[0].to_dict()}
    return None


# -- reading the answer -------------------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _negated_at(words: list[str], index: int) -> bool:
    return any(word in _NEGATORS or word.endswith("n't") for word in words[max(0, index - 2) : index])


def _distinct_words(text: str, other: str) -> set[str]:
    own = {w for w in _tokens(text) if w not in _STOP and w not in _NEGATORS}
    own |= {w for value in parse_statement(text).slots.values() for w in value.split()}
    return own - set(_tokens(other))


def interpret_answer(answer: str, older: str, newer: str) -> Side | None:
    """Which statement the user's answer supports (see the module docstring), or ``None`` when it is unclear."""
    words = _tokens(answer)
    while words and words[0] in _INTERJECTIONS:  # "No, I live in Paris": the "no" answers the question, not Paris
        words = words[1:]
    if not words or _UNDECIDED & set(words):
        return None
    scores = {"older": 0, "newer": 0}
    distinct = {"older": _distinct_words(older, newer), "newer": _distinct_words(newer, older)}
    for index, word in enumerate(words):
        for side, other in (("older", "newer"), ("newer", "older")):
            if word in distinct[side]:
                scores[other if _negated_at(words, index) else side] += 1
    if scores["older"] != scores["newer"]:
        return "older" if scores["older"] > scores["newer"] else "newer"
    said = parse_statement(" ".join(words))
    statements = {"older": parse_statement(older), "newer": parse_statement(newer)}
    for thing, polarity in said.preferences.items():
        agreeing = [side for side, s in statements.items() if s.preferences.get(thing) == polarity]
        if len(agreeing) == 1:
            return "older" if agreeing[0] == "older" else "newer"
    if statements["older"].negated != statements["newer"].negated:
        shared = statements["older"].content & statements["newer"].content
        if shared and said.content & shared:
            return "older" if statements["older"].negated == said.negated else "newer"
    first, second = bool(_FIRST & set(words)), bool(_SECOND & set(words))
    if first != second:
        return "older" if first else "newer"
    return None


def choice_from_model(chat_model: BaseChatModel, entry: LogEntry) -> Side | None:
    """Reflection's second reading of an answer the local rules could not interpret: ask the chat model."""
    older, newer = entry.data.get("texts", ["", ""])
    prompt = CLARIFICATION_ANSWER_PROMPT.format(
        older=older, newer=newer, question=entry.data.get("question", ""), answer=entry.data.get("answer", "")
    )
    try:
        response = chat_model.invoke([HumanMessage(prompt)])
    except Exception as exc:  # providers raise their own types; all mean "no answer", so report them as one
        raise ChatModelError(f"the chat model failed during reflection: {type(exc).__name__}: {exc}") from exc
    text = response.text if isinstance(response, AIMessage) else str(response.content)
    word = (_tokens(text) or [""])[0]
    return "older" if word == "a" else "newer" if word == "b" else None


# -- settling ------------------------------------------------------------------------------------------------------
def apply_answer(
    long_term: LongTermStore,
    log: ReflectionLog,
    user_id: str,
    conflict_id: str,
    *,
    choice: Side | None,
    now: float,
    answer: str | None = None,
    answer_memory_id: str = "",
    asked_at: float | None = None,
    resolved_by: str = "user_answer",
    factor: float = USER_ANSWER_FACTOR,
) -> ClarificationOutcome:
    """Settle (or, with ``choice=None``, record the answer to) a conflict awaiting the user; returns the outcome.

    The importance of the memory not kept is multiplied by ``factor``.

    A conflict no longer awaiting the user (reverted or settled meanwhile) is left alone (``status: "stale"``).
    """
    entry = log.get(user_id, [conflict_id]).get(conflict_id)
    if entry is None or entry.type != "conflict" or entry.status not in {"awaiting_user", "answered"}:
        return {"conflict_id": conflict_id, "status": "stale"}
    data = dict(entry.data)
    if answer is not None:
        data.update(answer=answer, answer_memory_id=answer_memory_id, answered_at=now)
    if asked_at is not None:
        data["asked_at"] = asked_at
    if choice is None:
        log.put(user_id, [LogEntry(entry.id, "conflict", "answered", entry.at, data)])
        return {"conflict_id": conflict_id, "status": "answered"}
    older_id, newer_id = data["memory_ids"]
    kept_id, loser_id = (older_id, newer_id) if choice == "older" else (newer_id, older_id)
    loser = long_term.get(user_id, loser_id)
    before = loser.importance if loser is not None else None
    after = scale_importance(before, factor) if before is not None else None
    if loser is not None and after is not None:
        long_term.update_metadata(user_id, [replace(loser, importance=after)])
    data.update(
        kept_id=kept_id,
        loser_id=loser_id,
        importance_before=before,
        importance_after=after,
        resolved_by=resolved_by,
        resolved_at=now,
    )
    log.put(user_id, [LogEntry(entry.id, "conflict", "resolved", entry.at, data)])
    return {"conflict_id": conflict_id, "status": "resolved", "kept_id": kept_id, "loser_id": loser_id}


def queued_from_log(log: ReflectionLog, user_id: str) -> list[Clarification]:
    """The log's conflicts awaiting the user, as queue items (what reflection puts in Redis)."""
    return [
        Clarification(
            conflict_id=entry.id,
            question=str(entry.data.get("question", "")),
            memory_ids=[str(i) for i in entry.data["memory_ids"]],
            texts=[str(t) for t in entry.data.get("texts", [])],
            queued_at=entry.at,
        )
        for entry in log.entries(user_id, type="conflict", status="awaiting_user")
    ]


def settle_unclear_answers(
    long_term: LongTermStore, log: ReflectionLog, user_id: str, *, now: float
) -> list[ClarificationOutcome]:
    """Settle, by temporal precedence, the conflicts whose unclear answer is older than the grace period."""
    settled = []
    for entry in log.entries(user_id, type="conflict", status="answered"):
        answered_at = float(entry.data.get("answered_at") or entry.at)
        if now - answered_at >= UNCLEAR_ANSWER_GRACE_SECONDS:
            settled.append(
                apply_answer(
                    long_term,
                    log,
                    user_id,
                    entry.id,
                    choice="newer",
                    now=now,
                    resolved_by="temporal_precedence_after_unclear_answer",
                    factor=TEMPORAL_PRECEDENCE_FACTOR,
                )
            )
    return settled
