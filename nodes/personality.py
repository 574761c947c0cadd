"""Nodes of the conversation graph that perceive and feel: detection, personality state, appraisal.

    retrieve_memories -> detect_emotion ─┬─> appraise -> respond ...          (score_importance only with a
    load_personality ────────────────────┘   └─> score_importance ─┐             chat model: it runs while
                                                                   └─> store_long_term   the reply is written)

``detect_emotion`` reuses the message embedding ``retrieve_memories`` computed (no second embedding);
``appraise`` is pure (``companion.core.personality``) and records its inputs, which the turn's memory journals; the
state is written after that memory: to Redis every turn, to Chroma every few turns (``store_personality``).
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime
from redis.exceptions import RedisError

from companion.core.errors import StoreUnavailableError
from companion.core.personality.journal import AppraisalInputs
from companion.core.personality.persona import Persona, load_persona
from companion.core.personality.state import (
    DEFAULT_RATES,
    PersonalityData,
    PersonalityState,
    Rates,
    apply_interaction,
    new_state,
)
from memory.personality_store import PersonalityStore, fingerprint
from nodes.conversation import Context, ConversationState, mood_report
from tools.detection import Detection, Detector, detect_with_scores, score_with_model

if TYPE_CHECKING:  # LangChain's model classes are imported only where a chat model is built
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


@lru_cache(maxsize=32)
def cached_persona(name: str) -> Persona:
    """A persona file, read once per process."""
    return load_persona(name)


async def load_personality(
    state: ConversationState, runtime: Runtime[Context], *, store: PersonalityStore
) -> dict[str, Any]:
    """The (user, persona) personality state from Redis, else Chroma, else a fresh one at the persona's baseline."""
    started = time.perf_counter()
    persona = cached_persona(runtime.context.persona)
    data, source = await store.load(runtime.context.user_id, persona.key)
    loaded = fingerprint(data)
    if data is None:
        data = new_state(runtime.context.user_id, persona, state.get("received_at") or time.time()).to_dict()
    return {
        "persona": persona.to_dict(),
        "personality": data,
        "personality_source": source,
        "personality_loaded": loaded,
        "timings_ms": {"load_personality": _elapsed_ms(started)},
    }


async def detect_emotion(state: ConversationState, runtime: Runtime[Context], *, detector: Detector) -> dict[str, Any]:
    """Emotion, intensity, importance and category of the message, from the embedding the turn already has.

    A coroutine although it does no I/O: it takes about a millisecond of CPU, less than the thread-pool hop
    LangGraph makes for a synchronous node.
    """
    started = time.perf_counter()
    embedding = np.asarray(state["query_embedding"], dtype=np.float32).reshape(1, -1)
    scores = state.get("perception_scores")
    detection = detect_with_scores(
        [state["message"]], embedding, None if scores is None else [scores], detector=detector
    )[0]
    return {"detection": detection.to_dict(), "timings_ms": {"detect": _elapsed_ms(started)}}


async def appraise(
    state: ConversationState, runtime: Runtime[Context], *, rates: Rates = DEFAULT_RATES
) -> dict[str, Any]:
    """Move the mood by the OCC appraisal of the message (cause recorded), satisfy needs, count quirk patterns.

    Pure and quick (a coroutine only to save LangGraph's thread-pool hop, like ``detect_emotion``). ``rates``: the
    engine's tunable rates (the personality store's, from the settings).
    """
    started = time.perf_counter()
    detection = Detection.from_dict(state["detection"])
    result = apply_interaction(
        PersonalityState.from_dict(state["personality"]),
        message=state["message"],
        emotion=detection.emotion,
        intensity=detection.intensity,
        emotions=detection.emotions,
        category=detection.category,
        now=state.get("received_at") or time.time(),
        crisis=detection.crisis.kind if detection.crisis.flagged else None,
        rates=rates,
    )
    mood = result.state.mood
    change = result.change
    inputs = AppraisalInputs(
        at=result.state.updated_at,
        persona=result.state.persona,
        emotion=detection.emotion,
        intensity=detection.intensity,
        emotions=dict(detection.emotions),
        category=detection.category,
        crisis=detection.crisis.kind if detection.crisis.flagged else None,
    )
    return {
        "personality": result.state.to_dict(),
        "appraisal": inputs.to_json(),
        "mood": mood_report(mood, change),
        "timings_ms": {"appraise": _elapsed_ms(started)},
    }


async def score_importance(
    state: ConversationState, runtime: Runtime[Context], *, chat_model: BaseChatModel | None
) -> dict[str, Any]:
    """With a chat model: importance and category from the seed's few-shot prompt (local values on failure).

    Without one the local values stand and the node changes nothing (it stays in the graph, so the graph has one
    shape whatever is configured).
    """
    if chat_model is None:
        return {}
    started = time.perf_counter()
    local = Detection.from_dict(state["detection"])
    scored = await score_with_model(chat_model, state["message"], local)
    return {"detection": scored.to_dict(), "timings_ms": {"score_importance": _elapsed_ms(started)}}


async def store_personality(
    state: ConversationState, runtime: Runtime[Context], *, store: PersonalityStore, checkpoint_turns: int
) -> dict[str, Any]:
    """Persist the updated personality state: the Redis cache every turn, a Chroma checkpoint every few turns.

    The turn's memory, already in Chroma, journals this turn's appraisal, so a state not checkpointed is rebuilt
    from the last checkpoint (``PersonalityStore.rebuild``). The first turn's checkpoint is written before Redis
    (the replay needs a base); later ones, every ``checkpoint_turns`` interactions and after a rebuild, only
    shorten the replay, so they are written in the background, off the reply's path.

    Turns of one user may run at once: the save is a compare-and-set (``PersonalityStore.update``), and a turn
    whose loaded state another turn has since replaced applies its appraisal again to that newer state
    (``reappraise``), so no turn's change to the mood, needs or counts is lost.
    """
    started = time.perf_counter()
    personality = state["personality"]
    user_id, persona = runtime.context.user_id, str(personality["persona"])
    source = state.get("personality_source", "new")
    mode = checkpoint_mode(int(personality.get("interactions", 0)), source, checkpoint_turns)
    try:
        saved = await store.update(
            user_id,
            persona,
            loaded=state.get("personality_loaded"),
            updated=personality,
            redo=partial(
                reappraise,
                message=state["message"],
                inputs=AppraisalInputs.from_json(state["appraisal"]),
                rates=store.rates,
            ),
            durable=mode == "now",
        )
    except StoreUnavailableError as exc:
        if not isinstance(exc.__cause__, RedisError):
            raise
        # Redis failed after the turn's memory was stored: it journals this appraisal, and a state Redis lost is
        # rebuilt from Chroma with it, so the turn goes on (nodes/conversation.py store_short_term).
        logger.warning("personality state of a stored turn not cached (Redis failed: %s)", exc)
        return {"timings_ms": {"store_personality": _elapsed_ms(started)}, "personality_checkpoint": "none"}
    if mode != "now":  # another turn may have saved first: checkpoint by the count of the state written
        mode = checkpoint_mode(int(saved.get("interactions", 0)), source, checkpoint_turns)
    if mode == "later":
        store.checkpoint_later(user_id, persona, saved)
    return {
        "personality": saved,
        "timings_ms": {"store_personality": _elapsed_ms(started)},
        "personality_checkpoint": mode,
    }


def reappraise(
    current: PersonalityData, *, message: str, inputs: AppraisalInputs, rates: Rates = DEFAULT_RATES
) -> PersonalityData:
    """The turn's appraisal applied again, to a state another turn saved after this one loaded its own.

    At the later of the two times, so the state's clock never runs backwards (a checkpoint holds every appraisal
    up to its ``updated_at``).
    """
    state = PersonalityState.from_dict(current)
    return apply_interaction(
        state,
        message=message,
        emotion=inputs.emotion,
        intensity=inputs.intensity,
        emotions=inputs.emotions,
        category=inputs.category,
        now=max(inputs.at, state.updated_at),
        rates=rates,
    ).state.to_dict()


def checkpoint_mode(interactions: int, source: str, checkpoint_turns: int) -> str:
    """``now`` (in Chroma before Redis), ``later`` (a background checkpoint) or ``none``: see ``store_personality``.

    ``checkpoint_turns`` 1 writes every state before Redis, as the store did before the journal.
    """
    if source == "new" or checkpoint_turns <= 1:
        return "now"
    if source == "chroma" or interactions % checkpoint_turns == 0:
        return "later"
    return "none"
