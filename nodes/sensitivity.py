"""Node of the conversation graph that classifies the message's sensitivity (design seed 002).

Runs beside the reply (after ``detect_emotion``, whose emotions give the sentiment) and joins into
``store_long_term``, which stores the classification on the memory. Local lexicon always; with a chat model, the
seed's prompt with structured output while the reply is written (``tools.sensitivity``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from nodes.conversation import Context, ConversationState
from tools.care import at_least_confidential
from tools.crisis import Crisis
from tools.sensitivity import classify_local, classify_with_model

if TYPE_CHECKING:  # LangChain's model classes are imported only where a chat model is built
    from langchain_core.language_models import BaseChatModel


async def classify_sensitivity(
    state: ConversationState, runtime: Runtime[Context], *, chat_model: BaseChatModel | None
) -> dict[str, Any]:
    """Level, confidence, tags and sentiment of the message: the lexicon, then the chat model when there is one.

    A message perception flagged as a crisis is kept at least ``confidential`` (``tools/care.py``).
    """
    started = time.perf_counter()
    detection = state.get("detection")
    emotions = detection["emotions"] if detection else None
    classification = classify_local(state["message"], emotions)
    timings = {"classify": round((time.perf_counter() - started) * 1000.0, 3)}
    if chat_model is not None:
        classification = await classify_with_model(chat_model, state["message"], classification)
        timings["classify_model"] = round((time.perf_counter() - started) * 1000.0, 3)
    classification = at_least_confidential(classification, Crisis.from_dict(detection["crisis"] if detection else None))
    return {"sensitivity": classification.to_dict(), "timings_ms": timings}
