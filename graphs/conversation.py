"""The conversation graph: one chat turn.

    admit_message ─┬─> load_context ─────────────────────────────┐
                   ├─> load_personality ─────────────────────────┤
                   ├─> load_clarification ───────────────────────┼─> screen_message ─┬─> appraise ─> respond ┐
                   └─> retrieve_memories -> detect_emotion ──────┘                   │   (crisis: ─> attend_ │
                                           │                                         │    crisis -> respond; │
                                           │                                         │    uncertain: deflect)│
                                           │                                         └─> defend (a certain   │
                                           ├─> score_importance (with a chat model)        injection: nothing │
                                           │                         stored; high severity: -> penalize (PAD)) │
                                           └─> classify_sensitivity (lexicon; + chat model) ─────────────────┤
                                                                                                              v
                       store_personality, store_short_term <- store_long_term <──────────────────────────────┘
                         (side by side)          (respond -> settle_clarification, beside the stores)

``screen_message`` (the injection guard, when one is given) reuses the embedding ``retrieve_memories`` computed;
without a guard the loaders join straight into ``appraise``. After ``appraise``, ``route_reply`` (``nodes/care.py``)
chooses the reply: ``attend_crisis`` then ``respond`` with care when perception flagged a crisis, ``deflect`` for
an uncertain injection verdict (stored like any reply), else ``respond``.

``load_context`` (Redis, or Chroma when Redis lost it), ``load_personality`` (Redis, or Chroma) and
``retrieve_memories`` (embed + Chroma + MMR) run in parallel. ``detect_emotion`` reuses the message embedding;
``appraise`` moves the mood before the reply is written, and the persona prompt carries it.
Reflection's clarification questions (``nodes/clarification.py``): ``load_clarification`` (one Redis read of the
user's queue) joins the loaders, and ``settle_clarification`` runs beside ``store_long_term`` after ``respond``.
``classify_sensitivity`` (design seed 002) labels the message general ... ultrasecret beside the reply;
``retrieve_memories`` withholds memories above the context's ``max_sensitivity`` (a group: chronological at most).
The turn is written to Chroma (source of truth) before Redis; the Redis step also queues the message for background
association. The memory journals the appraisal, so the personality state needs a Chroma write only every few turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memory.clarifications import ClarificationQueue
from memory.embeddings import Embedder
from memory.keys import CHECKPOINT_USER_KEY, thread_id
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.personality_store import PersonalityStore
from memory.records import validate_conversation_id, validate_user_id
from memory.reflection_log import ReflectionLog
from memory.security import SecurityStore
from memory.sensitivity import sensitivity_from_input
from memory.short_term import ShortTermStore
from nodes.care import attend_crisis, deflect, route_reply
from nodes.clarification import load_clarification, settle_clarification
from nodes.conversation import (
    Context,
    ConversationState,
    GroupLine,
    TurnInput,
    TurnOutput,
    admit_message,
    load_context,
    respond,
    retrieve_memories,
    store_long_term,
    store_short_term,
)
from nodes.injection import defend, penalize, route_after_defend, route_after_screen, screen_message
from nodes.personality import appraise, detect_emotion, load_personality, score_importance, store_personality
from nodes.sensitivity import classify_sensitivity
from tools.detection import Detector, load_detector
from tools.injection import INJECTION_THRESHOLD, InjectionClassifier

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from companion.services import Services

GRAPH_NAME = "conversation"


def build_graph(
    *,
    long_term: LongTermStore,
    short_term: ShortTermStore,
    embedder: Embedder,
    chat_model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    retrieval_k: int = 5,
    retrieval_candidates: int = 0,
    max_message_chars: int = 4000,
    security: SecurityStore | None = None,
    injection_classifier: InjectionClassifier | None = None,
    personality_store: PersonalityStore | None = None,
    detector: Detector | None = None,
    importance_model: BaseChatModel | None = None,
    clarifications: ClarificationQueue | None = None,
    reflection_log: ReflectionLog | None = None,
    sensitivity_model: BaseChatModel | None = None,
    personality_checkpoint_turns: int = 20,
    injection_threshold: float = INJECTION_THRESHOLD,
    crisis_resources: str | None = None,
    outreach: OutreachStore | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the conversation graph over the given services.

    The graph has one shape whatever is configured, so Studio draws the graph the tests run. The injection guard
    screens every message before the mood is appraised and the reply written (rules, plus the perception model's
    injection score, or the frozen ``injection_classifier`` instead when one is given explicitly) over ``security``
    (default: over the short-term store's Redis). ``personality_store`` defaults to one over the long-term store's
    Chroma and the short-term store's Redis; ``detector`` to the committed local one. ``importance_model`` (usually
    the chat model) scores importance and category with the seed's prompt while the reply is written; without it the
    local scores stand.
    ``clarifications`` and ``reflection_log`` (defaults: over the same Redis and Chroma) carry reflection's
    questions: ``load_clarification`` reads the user's queue beside the other loaders, the reply asks a queued
    question, and ``settle_clarification`` marks it asked or settles the conflict with the user's answer.
    ``sensitivity_model`` (usually the chat model) classifies the message's sensitivity the same way, beside the
    local lexicon, which alone classifies without it.
    The personality state goes to Redis every turn and to Chroma every ``personality_checkpoint_turns`` turns
    (each turn's memory journals its appraisal, so nothing is lost in between; ``memory/personality_store.py``).
    ``injection_threshold`` (the setting) is the injection score from which the guard flags a message.
    ``crisis_resources`` (the setting) is where a user in crisis is pointed (``tools/care.py``); ``outreach``
    (default: over the same Redis) receives the check-in a crisis plans.
    """
    store = personality_store or PersonalityStore(long_term.client, short_term.redis)
    detector = detector or load_detector()
    security = security or SecurityStore(short_term.redis)
    graph = StateGraph(ConversationState, context_schema=Context, input_schema=TurnInput, output_schema=TurnOutput)
    graph.add_node("admit_message", partial(admit_message, short_term=short_term, max_message_chars=max_message_chars))
    graph.add_node("load_context", partial(load_context, short_term=short_term, long_term=long_term))
    graph.add_node(
        "retrieve_memories",
        partial(
            retrieve_memories, long_term=long_term, embedder=embedder, k=retrieval_k, candidates=retrieval_candidates
        ),
    )
    graph.add_node("load_personality", partial(load_personality, store=store))
    queue = clarifications or ClarificationQueue(short_term.redis)
    graph.add_node("load_clarification", partial(load_clarification, queue=queue))
    settle = partial(
        settle_clarification,
        queue=queue,
        long_term=long_term,
        log=reflection_log or ReflectionLog(long_term.client, cipher=long_term.cipher),
    )
    graph.add_node("settle_clarification", settle)
    graph.add_node("detect_emotion", partial(detect_emotion, detector=detector))
    graph.add_node("classify_sensitivity", partial(classify_sensitivity, chat_model=sensitivity_model))
    graph.add_node("appraise", partial(appraise, rates=store.rates))
    graph.add_node("respond", partial(respond, chat_model=chat_model, crisis_resources_setting=crisis_resources))
    graph.add_node(
        "attend_crisis",
        partial(
            attend_crisis,
            security=security,
            outreach=outreach or OutreachStore(short_term.redis),
        ),
    )
    graph.add_node("deflect", deflect)
    graph.add_node("store_long_term", partial(store_long_term, long_term=long_term))
    graph.add_node(
        "store_personality",
        partial(store_personality, store=store, checkpoint_turns=personality_checkpoint_turns),
    )
    graph.add_node("store_short_term", partial(store_short_term, short_term=short_term))
    graph.add_edge(START, "admit_message")
    graph.add_edge("admit_message", "load_context")
    graph.add_edge("admit_message", "load_personality")
    graph.add_edge("admit_message", "retrieve_memories")
    graph.add_edge("admit_message", "load_clarification")
    graph.add_edge("retrieve_memories", "detect_emotion")
    graph.add_node(
        "screen_message",
        partial(
            screen_message,
            security=security,
            classifier=injection_classifier,
            chat_model=chat_model,
            threshold=injection_threshold,
        ),
    )
    graph.add_node("defend", defend)
    graph.add_node("penalize", partial(penalize, store=store))
    graph.add_edge(["load_context", "load_personality", "detect_emotion", "load_clarification"], "screen_message")
    graph.add_conditional_edges("screen_message", route_after_screen, {"respond": "appraise", "defend": "defend"})
    graph.add_conditional_edges("defend", route_after_defend, {"penalize": "penalize", END: END})
    graph.add_edge("penalize", END)
    graph.add_conditional_edges(
        "appraise", route_reply, {"attend_crisis": "attend_crisis", "deflect": "deflect", "respond": "respond"}
    )
    graph.add_edge("attend_crisis", "respond")
    graph.add_edge("respond", "settle_clarification")
    graph.add_edge("settle_clarification", END)
    graph.add_node("score_importance", partial(score_importance, chat_model=importance_model))
    # What only the stored memory needs (the model's importance and category, the sensitivity) is worked out
    # while the reply is written, not before it: a superstep waits for its slowest node, and both may ask the chat
    # model. The appraisal therefore sees the local importance and category, and journals those.
    graph.add_edge("appraise", "score_importance")
    graph.add_edge("appraise", "classify_sensitivity")
    for reply in ("respond", "deflect"):  # one of the two runs
        graph.add_edge([reply, "score_importance", "classify_sensitivity"], "store_long_term")
    # Both Redis writes follow the Chroma write (the source of truth) and neither needs the other: one superstep.
    graph.add_edge("store_long_term", "store_personality")
    graph.add_edge("store_long_term", "store_short_term")
    graph.add_edge("store_personality", END)
    graph.add_edge("store_short_term", END)
    return graph.compile(checkpointer=checkpointer, name=GRAPH_NAME)


def build_graph_from_services(
    services: Services, *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``build_graph`` wired to a process's live services and settings (used by the CLI, the app and Studio)."""
    return build_graph(
        long_term=services.long_term,
        short_term=services.short_term,
        embedder=services.embedder,
        chat_model=services.chat_model,
        checkpointer=checkpointer,
        retrieval_k=services.settings.retrieval_k,
        retrieval_candidates=services.settings.retrieval_candidates,
        max_message_chars=services.settings.max_message_chars,
        security=SecurityStore(
            services.redis,
            cooldown_seconds=services.settings.injection_cooldown_seconds,
            offence_window_seconds=services.settings.injection_offence_window_days * 86_400,
        ),
        importance_model=services.chat_model,
        sensitivity_model=services.chat_model,
        personality_checkpoint_turns=services.settings.personality_checkpoint_turns,
        injection_threshold=services.settings.injection_threshold,
        crisis_resources=services.settings.crisis_resources,
        personality_store=services.personality,
    )


async def run_turn(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    *,
    user_id: str,
    message: str,
    conversation_id: str = "default",
    persona: str = "default",
    max_sensitivity: str = "ultrasecret",
    turn_id: str | None = None,
    group_context: Sequence[GroupLine] = (),
    group_summary: str = "",
) -> dict[str, Any]:
    """Run one turn and return the final state. Ids are checked before anything runs or is written.

    ``group_context``: in a group chat, what was said there just before the message (oldest first); the chat model
    sees it so the reply fits the conversation; ``group_summary``, what was said there before that (the bots' running
    chat summary). Given on every turn (empty outside groups), so a turn never inherits another's.

    ``max_sensitivity`` is the most sensitive memory level the reply may use (a shared context passes
    ``memory.sensitivity.SHARED_MAX_LEVEL``). ``turn_id`` (32 hex characters) makes a retried turn write the
    same memory: pass the same one on every attempt (``memory.idempotency``, the bots' message ids).

    The checkpoint is written once, when the turn finishes (``durability="exit"``): the turn's intermediate
    steps are not worth a disk write each on the hot path, and a failed turn leaves no half-written state.
    """
    config, context = turn_config(
        user_id=user_id, conversation_id=conversation_id, persona=persona, max_sensitivity=max_sensitivity
    )
    turn_input = {
        "message": message,
        "requested_turn_id": turn_id,
        "group_context": list(group_context),
        "group_summary": group_summary,
    }
    if graph.checkpointer is None:  # durability only means something with a checkpointer (LangGraph warns otherwise)
        result = await graph.ainvoke(turn_input, config, context=context)
    else:
        result = await graph.ainvoke(turn_input, config, context=context, durability="exit")
    return dict(result)


def turn_config(
    *, user_id: str, conversation_id: str, persona: str = "default", max_sensitivity: str = "ultrasecret"
) -> tuple[RunnableConfig, Context]:
    """Checked ids -> the run config (thread ``<user>:<conversation>``, ``memory.keys.thread_id``) and the context.

    The user id also goes into the checkpoint metadata (``CHECKPOINT_USER_KEY``) so that erasing a user finds
    every one of their threads without parsing thread ids (user ids may contain ``:``).
    """
    validate_user_id(user_id)
    validate_conversation_id(conversation_id)
    ceiling = sensitivity_from_input(max_sensitivity)
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id(user_id, conversation_id)},
        "metadata": {CHECKPOINT_USER_KEY: user_id},
    }
    return config, Context(
        user_id=user_id, conversation_id=conversation_id, persona=persona, max_sensitivity=ceiling.value
    )
