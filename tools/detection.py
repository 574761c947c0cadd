"""Perception: emotion (nine types, intensity 0-100), importance (100-900) and category of one user message.

Everything here runs locally on the MiniLM embedding the chat turn already computed (no second embedding, no
network). ``load_detector()`` loads the committed weights ``tools/models/emotion_classifier.npz``, produced by
``scripts/train_emotion.py``:

* **Emotion**: a one-hidden-layer network (384 → 256 → 8 sigmoid outputs) trained on GoEmotions, whose 28 labels
  are mapped to the project's types by :data:`GOEMOTIONS_TO_TYPE`, plus learned weights for the message's words
  and word pairs (hashed into :data:`WORD_BUCKETS` buckets, :func:`word_features`), added to the same outputs:
  the embedding carries the meaning, the words the explicit cues ("thanks", "lol", "sorry") it blurs.
  Each output's probability ``p`` is turned into
  an intensity with the type's decision threshold ``θ`` (tuned on the dev split) mapped to exactly
  :data:`EMOTIONAL_SIGNAL_THRESHOLD`: ``p ∈ [0, θ] → [0, 30]`` and ``p ∈ [θ, 1] → [30, 100]``, linearly. So
  "intensity > 30" means "the classifier decides the type is expressed", for every type alike.
* **Panic** has no GoEmotions label, so it is not learned: its intensity is the geometric mean of the fear and
  anxiety intensities (panic is fear with high anxious arousal), raised to at least the stronger of the two
  (and at least 50) when the message names it (:data:`PANIC_CUES`), held at :data:`NEGATED_CAP` when it names it
  only to deny it ("I'm not panicking", "no need to panic").
* **Neutral** is learned like the others (GoEmotions' ``neutral``, ``realization``, ``curiosity``,
  ``confusion``); the dominant emotion is the strongest feeling the classifier decides is expressed (above
  :data:`EMOTIONAL_SIGNAL_THRESHOLD`), even beside a stronger neutral ("I'm furious that my landlord kept my
  deposit": anger 32 beside a matter-of-fact neutral 43 is anger, as the emotion eval counts it); with no feeling
  above it, the type with the highest intensity.
* **Category**: the nearest category centroid (cosine) of a few dozen example sentences per category
  (``scripts/data/category_examples.jsonl``).
* **Importance** (:class:`ImportanceModel`): a distribution over the seed's five levels (:class:`ImportanceLevel`)
  that blends a multinomial logistic regression over the embedding with a similarity-sharpened vote of the nearest
  importance examples (``scripts/data/importance_examples.jsonl``), decided at its median level. The seed weighs
  emotional significance, and the examples carry it (a grieving "I miss my dad" is critical, tears at a film's
  wedding scene are a minor detail); an intensity rule on top (a strong emotion lifting 700 to 900) made the
  cross-validated error worse and lifted "my therapist is great" to critical, so there is none.

**The perception model** (``tools/perception.py``, ``tools/models/perception.onnx``, trained by
``scripts/train_perception.py``) replaces the frozen-embedding emotion classifier when the embedder can hand over
its layer-4 token states (:meth:`memory.embeddings.OnnxMiniLMEmbedder.embed_with_states`): :func:`perceive` runs
the encoder once for the retrieval vector and the states, then the model's last two layers for emotion, injection
and crisis scores. The frozen classifier above stays as the baseline the eval suites compare against (and the
fallback for an embedder without states). Either way, an emotion named only to be denied ("I'm not sad, I'm
actually doing great") is held below the signal threshold (:func:`negated_types`), and crisis is the rule verdict
of ``tools/crisis.py`` combined with the model's self-harm and abuse scores and, where neither flags, with the
message's nearest known crisis statements (``tools/crisis_neighbours.py``; :func:`tools.crisis.combine`).

With a chat model configured, :func:`score_with_model` asks it for importance and category with the seed's
few-shot prompt and structured output; the local scorer stays the default and the fallback.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from companion.core.errors import ConfigurationError
from memory.embeddings import Embedder
from prompts.detection import IMPORTANCE_CATEGORY_PROMPT
from tools.crisis import (
    CRISIS_KINDS,
    CRISIS_THRESHOLD,
    NO_CRISIS,
    Crisis,
    CrisisData,
    CrisisKind,
    combine,
    detect_crisis,
    everyday_routine,
    figure_of_speech,
)
from tools.crisis_neighbours import CrisisNeighbours, load_crisis_neighbours
from tools.injection import INJECTION_THRESHOLD
from tools.perception import DEFAULT_EMOTION_WEIGHT, OUTPUTS, PerceptionModel, load_perception_model

if TYPE_CHECKING:  # LangChain is imported only where a chat model is used
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

__all__ = [
    "CATEGORIES",
    "EMOTIONAL_SIGNAL_THRESHOLD",
    "EMOTION_TYPES",
    "GOEMOTIONS_LABELS",
    "GOEMOTIONS_TO_TYPE",
    "LEARNED_TYPES",
    "MODEL_PATH",
    "Detection",
    "Detector",
    "ImportanceLevel",
    "ImportanceModel",
    "Perceived",
    "detect_with_scores",
    "load_detector",
    "median_level",
    "negated_types",
    "perceive",
    "perception_scores",
    "score_with_model",
    "snap_importance",
]

#: The nine emotion types, in the design seed's order.
EMOTION_TYPES: tuple[str, ...] = (
    "happiness",
    "sadness",
    "anxiety",
    "panic",
    "excitement",
    "anger",
    "love",
    "fear",
    "neutral",
)

#: A message is an emotional signal when its dominant (non-neutral) emotion is stronger than this (0-100).
EMOTIONAL_SIGNAL_THRESHOLD = 30

#: Memory categories (design seed 000).
CATEGORIES: tuple[str, ...] = (
    "person",
    "event",
    "emotion",
    "interest",
    "fact",
    "skill",
    "goal",
    "problem",
    "location",
)

CategoryName = Literal["person", "event", "emotion", "interest", "fact", "skill", "goal", "problem", "location"]


class ImportanceLevel(IntEnum):
    """The seed's five importance levels."""

    CRITICAL = 900  # life-changing events
    HIGH = 700  # important relationships, milestones
    MEDIUM = 500  # regular interactions, events
    LOW = 300  # casual conversation
    MINIMAL = 100  # minor details


IMPORTANCE_VALUES: tuple[int, ...] = tuple(sorted(level.value for level in ImportanceLevel))

#: GoEmotions' 28 labels, in the order of its ``emotions.txt`` (label ids 0-27).
GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)

#: GoEmotions label → project emotion type. Panic has no source label (see the module docstring).
GOEMOTIONS_TO_TYPE: dict[str, str] = {
    "admiration": "happiness",
    "amusement": "happiness",
    "approval": "happiness",
    "gratitude": "happiness",
    "joy": "happiness",
    "optimism": "happiness",
    "pride": "happiness",
    "relief": "happiness",
    "disappointment": "sadness",
    "grief": "sadness",
    "remorse": "sadness",
    "sadness": "sadness",
    "embarrassment": "anxiety",
    "nervousness": "anxiety",
    "desire": "excitement",
    "excitement": "excitement",
    "surprise": "excitement",
    "anger": "anger",
    "annoyance": "anger",
    "disapproval": "anger",
    "disgust": "anger",
    "caring": "love",
    "love": "love",
    "fear": "fear",
    "confusion": "neutral",
    "curiosity": "neutral",
    "neutral": "neutral",
    "realization": "neutral",
}

#: The types the classifier learns (every type but panic), in output order.
LEARNED_TYPES: tuple[str, ...] = tuple(t for t in EMOTION_TYPES if t != "panic")

#: The committed weights.
MODEL_PATH = Path(__file__).resolve().parent / "models" / "emotion_classifier.npz"

#: Words that name panic; they make panic at least as strong as fear or anxiety (unless named to be denied: "I'm not
#: panicking", see :meth:`Detector.intensities`).
PANIC_CUES = re.compile(
    r"\b(panic\w*|freak(?:ing|ed)? out|can'?t breathe|hyperventilat\w*|heart (?:is )?racing)\b", re.IGNORECASE
)

#: Hashed word features: unigrams and bigrams of lowercased word tokens, CRC-32 into this many buckets.
WORD_BUCKETS = 1 << 15
_TOKEN = re.compile(r"[a-z0-9']+|[!?]")


def word_features(text: str) -> npt.NDArray[np.int64]:
    """The distinct word-feature buckets of ``text`` (used in training and inference alike)."""
    tokens = _TOKEN.findall(text.lower())
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    return np.unique(np.fromiter((zlib.crc32(g.encode()) % WORD_BUCKETS for g in grams), dtype=np.int64))


def word_logits(texts: Sequence[str], weights: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Sum of the word-feature weight rows of each text, shape ``(len(texts), outputs)``."""
    out = np.zeros((len(texts), weights.shape[1]), dtype=np.float32)
    for row, text in enumerate(texts):
        buckets = word_features(text)
        if buckets.size:
            out[row] = weights[buckets].sum(axis=0)
    return out


#: Words and phrases that name an emotion type, for negation handling ("I'm not sad", "no longer scared").
_EMOTION_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("sad", "sadness", "unhappy", "depressed", "devastated", "down", "heartbroken", "lonely", "miserable", "crying")
        + ("cry", "cried", "tears", "blue", "bummed", "homesick", "gloomy", "grief", "grieving", "loneliness")
        + ("heartbreak", "heartbroke", "melancholy", "gutted"),
        "sadness",
    ),
    **dict.fromkeys(
        ("happy", "happiness", "glad", "joy", "joyful", "thrilled", "pleased", "cheerful", "satisfied")
        + ("delighted", "ecstatic", "overjoyed", "elated", "chuffed"),
        "happiness",
    ),
    **dict.fromkeys(
        ("anxious", "anxiety", "nervous", "worried", "worrying", "worry", "stressed", "stress", "uneasy", "tense")
        + ("panicking", "jittery", "freaking out", "freak out", "on edge", "nervous wreck", "panic", "panicked")
        # panic is not learned (it is derived from fear and anxiety), so its words deny or affirm anxiety
        + ("panicky", "panic attack", "panic attacks", "nerves", "jitters", "stressing", "racing thoughts"),
        "anxiety",
    ),
    **dict.fromkeys(
        ("scared", "afraid", "frightened", "terrified", "fearful", "fear", "petrified", "terrify", "terrifies")
        + ("scare", "scares", "frighten", "frightens", "terror", "phobia", "fright", "horrified", "creeped out")
        + ("scaredy cat", "freaked out"),
        "fear",
    ),
    **dict.fromkeys(
        ("angry", "anger", "mad", "furious", "annoyed", "upset", "pissed", "irritated", "livid", "frustrated")
        + ("bothered", "resentment", "resentful", "fuming", "bother me", "bothers me", "hate", "dislike", "resent")
        + ("cross", "salty", "grumpy", "seething", "raging", "temper", "grudge", "grudges", "hard feelings"),
        "anger",
    ),
    **dict.fromkeys(
        ("excited", "excitement", "enthusiasm", "eager", "hyped", "pumped", "stoked", "psyched", "looking forward"),
        "excitement",
    ),
    **dict.fromkeys(
        ("love", "loved", "loving", "in love", "adore", "adored", "fond", "smitten", "feelings for"), "love"
    ),
}
_EMOTION = "(" + "|".join(word.replace(" ", r"\s+") for word in sorted(_EMOTION_WORDS, key=len, reverse=True)) + r")\b"
#: "not even a little bit sad": degree words between a negation and the emotion it denies.
_DEGREE = (
    r"(?:even\s+|really\s+)?(?:a\s+(?:little|tiny|wee)\s+bit|a\s+little|a\s+bit|a\s+tad|the\s+(?:least|slightest)\s+bit"
    r"|one\s+bit|in\s+the\s+least"
    r"|remotely|all\s+that|any)\s+"
)
#: Words after a negation that leave the emotion affirmed: "not just/only" adds to it, "how" measures it, "thought
#: I'd" is surprised by it, "so ... if" wishes it away ("wouldn't be so anxious if he texted back"); see the first
#: of :data:`_NEGATION_FORMS`.
_MEASURED = (
    r"just\b|only\b|merely\b|how\b|(?:thought|knew|imagined|realised|realized|dreamt|dreamed|expect(?:ed)?)\b"
    r"|th(?:ink|ought)\s+i(?:'d|\s+(?:would|could))\b|(?:so|as)\s+[\w']+\s+(?:if|unless)\b"
)
#: After the emotion, a comparison that affirms it ("couldn't love my cat more if I tried", "never felt love like
#: this", "never been hyped this much").
_COMPARED = r"(?!\s+(?:[\w']+\s+){0,3}?more\s+(?:if|than)\b|\s+(?:like\s+(?:this|that)|this\s+much)\b)"
#: Calm or glad states that, after "but", deny an emotion expected before it ("I thought I'd be nervous, but I was
#: calm"; "expected to be heartbroken, but honestly I feel free").
_SETTLED = r"(?:calm|fine|free|relieved|okay|ok|great|good|relaxed|grateful|peaceful|at\s+peace|ready|happy)\b"
#: The speaker's state denied ("I'm not", "I wasn't", "I didn't", "I don't", "not at all", "not me").
_DENIED_STATE = (
    r"\b(?:i'?m|i\s+(?:am|was|were|did|do|have|had|felt|feel)|it\s+(?:was|is|did))\s*(?:really\s+|actually\s+|even\s+)?"
    r"(?:not|n't|never)\b|\b(?:was|were|did|am)\s*(?:n't|not)\b"
    r"|\bnot\s+(?:at\s+all|really|me|one\s+bit|in\s+the\s+least)\b|\bnope\b|\bnah\b"
)
#: "I was", "I'm", "im", "I have been": the speaker's state in a reported or hedged denial.
_I_WAS = r"(?:i'?m|i\s+(?:was|am|felt|feel|have\s+been))"
#: How a reported answer is introduced ("I said", "I told her", "I replied").
_ANSWERED = r"(?:said|told\s+\w+|answered|replied)"
#: Where "gone", "over" or "passed" must end their clause to mean the feeling left ("my anxiety is over now"; not
#: "all over the place", "passed through me", "gone deeper", "over the moon", "gone for a while but it's back").
_CLAUSE_END = (
    r"(?=\s*(?:[.,!;:)]|$)|\s+(?:now|finally|for\s+good|at\s+last|completely|since|these\s+days|thank\w*|and|so|lol|once|after"
    r"|haha\w*)\b)"
)
# Each names the denied emotion word as group 1. The forms, from the most common:
_NEGATION_FORMS = (
    # a negation up to two words before it ("not sad", "don't feel anxious", "it's not like I'm unhappy"); "stop",
    # "help", "quit" and "wait" reverse the denial ("can't stop crying", "haven't stopped crying", "can't help
    # feeling sad"), a comparison affirms it ("not usually this sad", "never been so happy", "never felt more
    # alone"), so do "not just/only" ("not just angry, I'm hurt"), a measure of it ("didn't know how sad I was",
    # "never realised how lonely"), a surprise at it ("never thought I'd love again"), a question to the listener
    # ("don't you hate it when") and excitement that cannot be held in ("can't contain my excitement")
    r"\b(?:not|no\s+longer|n't|nt)\s+(?:" + _DEGREE + r")?"
    r"(?:(?!stop\w*\b|help\b|quit\b|wait\b|this\b|believe\b|more\b|you\b|contain\b|"
    + _MEASURED
    + r")[\w']+\s+){0,2}?"
    + _EMOTION
    + _COMPARED,
    r"\bnever\s+(?:(?!stop\w*\b|help\b|quit\b|this\b|so\b|more\b|as\b|"
    + _MEASURED
    + r")[\w']+\s+){0,2}?"
    + _EMOTION
    + _COMPARED,
    # a denying phrase right before it ("anything but sad", "far from pleased", "no fear", "no more crying",
    # "neither sad nor scared", "stopped worrying", "without a hint of fear", "done being sad", "over being angry",
    # "instead of panicking", "nothing to worry about", "no need to panic")
    r"\b(?:anything\s+but|far\s+from|hardly|nowhere\s+near|no(?:\s+more)?|zero|neither"
    r"|(?<!n't\s)stopped(?:\s+(?:being|getting|feeling))?"
    r"|without(?:\s+(?:any|a\s+(?:hint|trace|shred|speck|bit)\s+of|an\s+ounce\s+of))?|quit\s+being"
    r"|(?:done|over|through)\s+(?:being|feeling|getting)|done(?:\s+with)?|fell\s+out\s+of|let\s+go\s+of\s+(?:the|my|all\s+(?:the|my))|rather\s+than(?:\s+(?:being|feeling|getting))?"
    r"|instead\s+of(?:\s+(?:being|feeling|getting))?|(?:nothing|no\s+(?:reason|need))\s+to(?:\s+(?:be|feel|get))?"
    r"|(?:not|never)\s+(?:one|the\s+type|the\s+kind)\s+to\s+(?:be|feel|get))\s+"
    # (a word joined before the emotion is skipped only when it names none: "stopped feeling ashamed and sad"; "no
    # fear or worry" denies fear here and worry through _JOINED)
    r"(?:(?:so|that|too|very|feeling|being)\s+)?(?:[\w']+\s+(?:and|or|nor)\s+)??" + _EMOTION,
    # "I'd be lying if I said I was nervous", "I can't say I was ever scared of him", "I wouldn't say that I'm really
    # angry", "un-nervous"
    r"\blying\s+if\s+i\s+said\s+(?:that\s+)?" + _I_WAS + r"\s+(?:[\w']+\s+)?" + _EMOTION,
    r"\bn't\s+say\s+(?:that\s+)?" + _I_WAS + r"\s+(?:ever\s+|really\s+|particularly\s+)?(?:[\w']+\s+)?" + _EMOTION,
    r"\bun-" + _EMOTION,
    # "the loneliness doesn't bother me anymore"
    _EMOTION + r"\s+(?:does\s+n't|do\s+n't|did\s+n't|no\s+longer)\s+(?:bother|get\s+to|affect|scare|upset)\s+me\b",
    # named, then denied as an answer ("Sad? Not at all.", "Afraid? No, I feel ready.", "Scared of the dentist? Not
    # me.", "Who's scared? Definitely not me", "Hyped? Meh, not really", "asked 'upset?' and I said 'no'"); "Not
    # sure", "No idea" and "not gonna lie" answer something else
    _EMOTION + r"(?:\s+[\w']+){0,4}\s*\?+\s*['\"]?\s*(?:(?:and\s+)?i\s+" + _ANSWERED + r"\s*,?\s*['\"]?\s*)?"
    r"(?:(?:definitely|certainly|absolutely|honestly|well|meh|eh|um+|uh+|hmm+|lol|lmao|haha\w*)\s*,?\s*)?"
    # a second, incredulous question before the answer ("furious? over a parking ticket? nah")
    r"(?:(?:me|(?:over|about|at|by|of|for)\s+(?:[\w']+\s+){0,3}?[\w']+)\s*\?+\s*)?"
    r"(?:nope|nah|hardly|never|come\s+on|did\s*n't\s+happen|no\b(?!\s+(?:one|idea|clue))"
    r"|not\b(?!\s+(?:sure|certain|gonna|going)))",
    # asked about and denied in the same sentence ("when she asked if I was nervous I said nope")
    rf"\b(?:if|whether)\s+{_I_WAS}\s+(?:[\w']+\s+)?{_EMOTION}[^.!?]{{0,30}}?\bi\s+{_ANSWERED}\s*,?\s*['\"]?"
    r"(?:nope|nah|no|not)\b",
    # asked back as if absurd ("Why would I be scared? It's a spider."; not "why would I be so sad")
    r"\bwhy\s+(?:would|should)\s+i\s+(?:be|feel|get)\s+(?:(?!so\b|this\b)[\w']+\s+)?" + _EMOTION + r"[^.!?]{0,30}\?",
    # named and set aside as the wrong word ("Sad isn't really how I'd put it", "Happy is not how I'd describe
    # myself"; not "sad isn't the word", which reaches for a stronger one)
    _EMOTION + r"\s+(?:is|was)\s+(?:n't|not)\s+(?:really\s+|exactly\s+|quite\s+)?(?:how\s+i'?d\s+(?:put|describe|say)"
    r"|what\s+i'?(?:m|\s+am)?\s+feel(?:ing)?)\b",
    # asked about, then denied in a sentence of its own at the end ("Asking if I'm worried about the move? I'm
    # really not.")
    _EMOTION + r"\b[^.!?]{0,60}[.!?]\s+(?:(?:and|but|honestly|really|because|'?cause|cos|cuz)\s*,?\s*)?"
    r"(?:i'?m|i\s+am|i\s+was)\s+"
    r"(?:(?:really|honestly|actually|just|simply|definitely)\s+)?not\s*[.!]*\s*$",
    # expected, then denied ("I thought I'd be sad, but I'm not"; "expected to be frightened but I wasn't"; "thought
    # I'd be nervous but I was calm")
    r"\b(?:thought|expected|expect|assumed|figured|supposed|would|'d|should|must)\b[^.!?]{0,40}?\b"
    + _EMOTION
    + r"[^.!?]{0,40}?(?:\bbut\b[^.!?]{0,25}?(?:"
    + _DENIED_STATE
    + r"|\bnever\b|\b(?:felt|feel|feeling)\s+"
    r"(?:nothing|empty|numb)\b|\b"
    + _SETTLED
    # "and" or "yet" only before a plain negation ("expected to cry and didn't", not "glad it worked and it's ok")
    + r")|\b(?:and|yet)\b[^.!?]{0,25}?(?:\bnot\b|n't\b|\bnever\b))",
    # felt once, not any more ("I was sad last year, not anymore"; "used to be terrified of flying, not anymore";
    # "used to be a nervous wreck, these days I'm calm")
    _EMOTION + r"[^.!?]{0,40}?(?:,|;|\bbut)\s*(?:i'?m\s+|i\s+am\s+)?(?:not\s+any\s*more|no\s+longer"
    r"|(?:that|it)(?:'s|\s+is)\s+(?:all\s+)?behind\s+me)\b",
    r"\bused\s+to\s+(?:be|feel|get)\s+(?:[\w']+\s+){0,2}?" + _EMOTION + r"[^.!?]{0,40}?(?:,|;|\bbut|\bnow)\s*"
    r"(?:now|these\s+days|nowadays)?\s*,?\s*(?:i'?m|i\s+am|i\s+feel)\s+(?:[\w']+\s+)?" + _SETTLED,
    # gone from the speaker ("the fear is gone", "my anxiety has lifted", "the stress melted away")
    _EMOTION + r"(?:\s+that\s+used\s+to\s+[^.!?]{0,30}?)?\s+(?:is|was|has|had|'s)?\s*(?:\w+\s+)?(?:gone|lifted"
    r"|melted\s+away|passed|disappeared|vanished|left\s+me|(?<=has\s|had\s)left|(?<=finally\s)left"
    r"|faded(?:\s+away)?|went\s+away|eased(?:\s+off)?|subsided)" + _CLAUSE_END,
    # held by everyone but the speaker, or made by nothing ("everyone is hyped except me", "nothing about this makes
    # me happy", "nobody here is unhappy")
    _EMOTION + r"[^.!?]{0,40}?\bexcept\s+(?:for\s+)?me\b",
    r"\bnothing\s+(?:[\w']+\s+){0,3}?(?:makes?|made)\s+me\s+(?:feel\s+)?" + _EMOTION,
    r"\b(?:nobody|no\s+one)\s+(?:[\w']+\s+)?(?:is|was|feels|felt|gets|got)\s+(?:[\w']+\s+)?" + _EMOTION,
    # named and waved off as too big a word ("joy is the last thing I feel", "hate is too strong", "delighted is a
    # stretch", "devastated isn't the word, I barely knew him"; "sad isn't the word, I'm crushed" reaches higher)
    _EMOTION + r"['\"]?\s+(?:is|was|'s)\s+(?:the\s+last\s+thing|(?:way\s+|a\s+bit\s+|much\s+)?too\s+strong|a\s+stretch"
    r"|an\s+overstatement|an\s+exaggeration)\b",
    _EMOTION + r"['\"]?\s+(?:is|was)\s*(?:n't|not)\s+(?:really\s+|quite\s+)?the\s+(?:right\s+)?word[^!?]{0,12}?"
    r"(?:more\s+like|just|i\s+barely|it\s+was\s+(?:just|only)|only|a\s+bit|slightly|mildly|kinda|kind\s+of)\b",
    # "an anxiety-free week", "fear-free flight"
    _EMOTION + r"-free\b",
    # gone from the speaker, with words between ("the happiness from the holiday faded", "my fear of water has
    # faded", "the excitement kinda fizzled", "the terror wore off", "that phase is over" after the emotion)
    r"\b(?:the|my|that|this|all\s+(?:the|my)|our)\s+(?:[\w']+\s+){0,2}?"
    + _EMOTION
    + r"(?:\s+(?!but\b|and\b)[\w']+){0,5}?\s+(?:is|was|has|have|had|are|'s|kinda|kind\s+of|finally|totally|completely"
    r"|pretty\s+much|long|all|just)?\s*(?:\w+\s+)?(?:gone|faded|fizzled(?:\s+out)?|wore\s+off|worn\s+off|softened"
    r"|(?<!from\s)over|behind\s+me|lifted|disappeared|vanished|evaporated|died\s+down|passed)" + _CLAUSE_END,
    # felt once, then a sentence that closes it ("I used to be happy at this job. not anymore"; "I was happy with
    # him once. that's done now")
    _EMOTION + r"[^.!?]{0,40}?[.!]+\s*(?:(?:but|and)\s+)?(?:not\s+any\s*more|no\s+longer|(?:that|it)(?:'s|\s+is)\s+"
    r"(?:all\s+)?(?:done|over|behind\s+me)|those\s+days\s+are\s+(?:over|gone))\b",
    # assumed or expected by someone, denied by the speaker in the next sentence ("people assume I'm excited. I'm
    # not", "You'd think I'd be devastated. Nope.", "I told him I was glad to see him. I wasn't")
    r"\b(?:assume[sd]?|think|thinks|thought|expect(?:s|ed)?|figured?|said|told\s+\w+|would|'d)\b[^.!?]{0,50}?\b"
    + _EMOTION
    + r"[^.!?]{0,40}?[.!?,;]+\s*(?:nope|nah|no\b|(?:i'?m|i\s+(?:am|was|did|do))\s*(?:really\s+|actually\s+)?"
    r"(?:not|n't)\b(?!\s+(?:sure|certain|gonna|going|just|only|even|that|okay|ok|fine|well|ready|able)\b)"
    r"|(?:(?:totally|actually|honestly|completely|perfectly|i\s+was|i'?m)\s+){1,2}(?:fine|calm|relaxed)\b)",
    # felt by someone else and not by the speaker ("my roommate's the one who's livid, not me", "my brother was
    # petrified of the clown, I wasn't")
    r"\bthe\s+one\s+(?:(?:who|that)(?:'s|\s+is|\s+was|\s+gets)?\s+)?(?:[\w']+\s+)?"
    + _EMOTION
    + r"[^.!?]{0,40}?,\s*not\s+me\b",
    _EMOTION + r"[^.!?]{0,40}?,\s*(?:but\s+)?i\s+(?:was|am|'m|did)\s*(?:n't|not)\s*[.!]*\s*$",
    # "I'd hardly call myself pleased", "can't muster any excitement"
    r"\bhardly\s+call\s+(?:myself|me|it)\s+(?:[\w']+\s+)?" + _EMOTION,
    r"\bn't\s+(?:muster|summon|work\s+up)\s+(?:any|much|an\s+ounce\s+of)?\s*" + _EMOTION,
)
_NEGATED = tuple(re.compile(form, re.IGNORECASE) for form in _NEGATION_FORMS)
_AFFIRMED = re.compile(r"\b" + _EMOTION, re.IGNORECASE)
#: Two emotion words joined ("angry or sad", "sad nor scared", "sad and lonely"): the second shares a denial of the
#: first ("I'm not angry or sad", "neither nervous nor excited"); the lookahead lets a list chain ("sad or angry or
#: scared").
_JOINED = re.compile(r"\b" + _EMOTION + r"\s*,?\s+(?:and|or|nor)\s+(?:even\s+|really\s+)?(?=" + _EMOTION + ")", re.I)
#: A denial denied again affirms ("there's no way I'm not angry", "I won't pretend I'm not scared", "don't tell me
#: not to panic"), and so does one asked as if the emotion went without saying ("who wouldn't be scared?", "how
#: could I not be upset?", "why wouldn't I be nervous"; not "who's sad? not me", where the denial is the answer).
_DOUBLE_DENIAL = re.compile(
    r"(?:(?:\bno\s+way|\bpretend|\bdeny(?:ing)?|\bnot\s+that|n't\s+say|n't\s+tell\s+me|\bwho\s+says)\b[^.!?]{0,20}"
    r"|\b(?:who|how)\s+(?:would|could|can|ca|wo|is|are|do|does)(?:\s+(?:i|you|anyone|we|they|he|she))?\s*"
    r"|\bwhy\s+(?:would|should|ca|wo)\s*)$",
    re.I,
)
#: A negation written without its apostrophe ("dont", "im not sad", "i cant say", "aint", "wont"), split as
#: "n't" is split before matching (``do n't``, ``ca n't``).
_NO_APOSTROPHE = re.compile(
    r"\b(do|does|did|is|was|are|were|has|have|had|would|could|should|must|need|ca|wo|ai)nt\b", re.I
)
#: The intensity a negated type is held at (just below the signal threshold would still read as "a bit").
NEGATED_CAP = 15


def negated_types(text: str) -> set[str]:
    """Emotion types the text names only in denial ("I'm not sad", "Scared? Not at all", "sad once, not anymore").

    A type counts as negated when every word naming it is denied by one of :data:`_NEGATION_FORMS`; one
    affirmed mention ("I'm not sad about the job, I'm sad about her") keeps it.
    """
    normalised = _NO_APOSTROPHE.sub(r"\1 n't", text.replace("\u2019", "'").replace("n't", " n't"))
    negated_spans = {
        (m.start(1), m.end(1))
        for pattern in _NEGATED
        for m in pattern.finditer(normalised)
        if not _DOUBLE_DENIAL.search(normalised, 0, m.start())
    }
    if not negated_spans:
        return set()
    for m in _JOINED.finditer(normalised):  # left to right, so a denial runs down a list
        if m.span(1) in negated_spans:
            negated_spans.add(m.span(2))
    negated = {_emotion_of(normalised[a:b]) for a, b in negated_spans}
    # a mention overlapping a denied one is that one ("be in love": the denial may have matched "love" alone)
    affirmed = {
        _emotion_of(m.group(1))
        for m in _AFFIRMED.finditer(normalised)
        if not any(a < m.end(1) and m.start(1) < b for a, b in negated_spans)
    }
    return negated - affirmed


def _emotion_of(words: str) -> str:
    """The type an emotion word or phrase of :data:`_EMOTION_WORDS` names, whatever its case and spacing."""
    return _EMOTION_WORDS[" ".join(words.lower().split())]


class DetectionData(TypedDict):
    """:meth:`Detection.to_dict`: perception's findings as the conversation state and ``detect --json`` carry them."""

    emotion: str
    intensity: int
    emotions: dict[str, int]
    importance: int
    importance_level: str
    category: str
    is_emotional_signal: bool
    crisis: CrisisData


def dominant_index(values: npt.NDArray[Any]) -> int:
    """Index in :data:`EMOTION_TYPES` of the dominant emotion of one row of intensities (see the module docstring)."""
    neutral = EMOTION_TYPES.index("neutral")
    feelings = np.array(values, dtype=np.float64)
    feelings[neutral] = -1.0
    strongest = int(feelings.argmax())
    return strongest if feelings[strongest] > EMOTIONAL_SIGNAL_THRESHOLD else int(np.asarray(values).argmax())


@dataclass(frozen=True, slots=True)
class Detection:
    """What perception found in one message.

    Attributes:
        emotion: The dominant emotion type (one of :data:`EMOTION_TYPES`).
        intensity: Its intensity, 0-100.
        emotions: Every type's intensity, 0-100, keyed in :data:`EMOTION_TYPES` order.
        importance: 100-900, one of the seed's five levels (:class:`ImportanceLevel`).
        category: One of :data:`CATEGORIES`.
        crisis: Whether the message signals danger to the user (``tools/crisis.py``).
    """

    emotion: str
    intensity: int
    emotions: dict[str, int]
    importance: int
    category: str
    crisis: Crisis = NO_CRISIS

    @property
    def is_emotional_signal(self) -> bool:
        """True when the dominant emotion is not neutral and stronger than the signal threshold."""
        return self.intensity > EMOTIONAL_SIGNAL_THRESHOLD and self.emotion != "neutral"

    @property
    def importance_level(self) -> str:
        """The importance level's name (``critical`` ... ``minimal``)."""
        return ImportanceLevel(self.importance).name.lower()

    def to_dict(self) -> DetectionData:
        """A JSON-able dict (with ``is_emotional_signal`` and ``importance_level``)."""
        return {
            "emotion": self.emotion,
            "intensity": self.intensity,
            "emotions": dict(self.emotions),
            "importance": self.importance,
            "importance_level": self.importance_level,
            "category": self.category,
            "is_emotional_signal": self.is_emotional_signal,
            "crisis": self.crisis.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: DetectionData | dict[str, Any]) -> Detection:
        """Inverse of :meth:`to_dict` (extra keys are ignored)."""
        return cls(
            emotion=str(data["emotion"]),
            intensity=int(data["intensity"]),
            emotions={str(k): int(v) for k, v in dict(data["emotions"]).items()},
            importance=int(data["importance"]),
            category=str(data["category"]),
            crisis=Crisis.from_dict(data.get("crisis")),
        )


def snap_importance(value: float) -> int:
    """The importance level nearest to ``value`` (ties go up), clamped to 100-900."""
    clamped = min(900.0, max(100.0, float(value)))
    return min(IMPORTANCE_VALUES, key=lambda level: (abs(level - clamped), -level))


def _softmax(x: npt.NDArray[Any], axis: int = 1) -> npt.NDArray[np.float64]:
    z = np.asarray(x, dtype=np.float64)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    out: npt.NDArray[np.float64] = z / z.sum(axis=axis, keepdims=True)
    return out


_ONE_HOT = np.eye(len(IMPORTANCE_VALUES))


@dataclass(frozen=True, slots=True)
class ImportanceModel:
    """Importance of messages from their embeddings: a distribution over the five levels, decided at its median.

    The distribution is ``blend`` × a multinomial logistic regression over the embedding (``coef``, ``intercept``)
    plus (1 - ``blend``) × a vote of the ``neighbours`` most similar examples (``vectors`` with level indices
    ``labels``) weighted by ``softmax(cosine / temperature)``, so the closest examples dominate. The median level
    minimises the expected error in levels and, unlike the mean, does not pull a message whose evidence splits
    between two far levels into the middle. Fitted, with every number chosen by cross-validation, by
    ``scripts/train_emotion.py``.
    """

    coef: npt.NDArray[np.float32]  # (dimension, 5)
    intercept: npt.NDArray[np.float32]  # (5,)
    vectors: npt.NDArray[np.float32]  # (examples, dimension), unit rows
    labels: npt.NDArray[np.int64]  # (examples,), index into IMPORTANCE_VALUES
    neighbours: int
    temperature: float
    blend: float

    @classmethod
    def from_weights(cls, weights: dict[str, npt.NDArray[Any]]) -> ImportanceModel:
        """The model stored in a weights file (``importance_*`` arrays)."""
        values = np.asarray(weights["importance_values"]).astype(np.int64)
        index = {level: i for i, level in enumerate(IMPORTANCE_VALUES)}
        return cls(
            coef=np.ascontiguousarray(weights["importance_coef"], dtype=np.float32),
            intercept=np.asarray(weights["importance_intercept"], dtype=np.float32),
            vectors=np.ascontiguousarray(weights["importance_vectors"], dtype=np.float32),
            labels=np.array([index[int(v)] for v in values], dtype=np.int64),
            neighbours=int(weights["importance_neighbours"]),
            temperature=float(weights["importance_temperature"]),
            blend=float(weights["importance_blend"]),
        )

    def distribution(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Probabilities over :data:`IMPORTANCE_VALUES`, shape ``(n, 5)``."""
        linear = _softmax(vectors @ self.coef + self.intercept)
        similarity = vectors @ self.vectors.T
        k = min(self.neighbours, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = _softmax(np.take_along_axis(similarity, nearest, axis=1) / self.temperature)
        votes = np.einsum("nk,nkl->nl", weights, _ONE_HOT[self.labels[nearest]])
        out: npt.NDArray[np.float64] = self.blend * linear + (1.0 - self.blend) * votes
        return out

    def levels(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
        """The median level (100-900) of each message's distribution."""
        return median_level(self.distribution(vectors))


def median_level(distribution: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """The median level (100-900) of each row of probabilities over :data:`IMPORTANCE_VALUES`."""
    median = (np.cumsum(distribution, axis=1) >= 0.5 - 1e-9).argmax(axis=1)
    levels: npt.NDArray[np.int64] = np.asarray(IMPORTANCE_VALUES, dtype=np.int64)[median]
    return levels


def _sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
    return out


class Detector:
    """The local emotion/importance/category detector. Pure numpy; thread-safe (read-only weights)."""

    def __init__(self, weights: dict[str, npt.NDArray[Any]], neighbours: CrisisNeighbours | None = None) -> None:
        try:
            self._w1 = np.ascontiguousarray(weights["w1"], dtype=np.float32)
            self._b1 = np.asarray(weights["b1"], dtype=np.float32)
            self._w2 = np.ascontiguousarray(weights["w2"], dtype=np.float32)
            self._b2 = np.asarray(weights["b2"], dtype=np.float32)
            self._w_words = np.asarray(weights["w_words"], dtype=np.float32)
            thresholds = np.asarray(weights["thresholds"], dtype=np.float32)
            self._category_centroids = np.asarray(weights["category_centroids"], dtype=np.float32)
            self._importance = ImportanceModel.from_weights(weights)
            learned = tuple(str(t) for t in weights["learned_types"])
            categories = tuple(str(c) for c in weights["categories"])
        except KeyError as exc:
            raise ConfigurationError(f"emotion classifier weights lack {exc.args[0]!r}") from None
        if learned != LEARNED_TYPES or categories != CATEGORIES:
            raise ConfigurationError("emotion classifier weights were trained for other labels; retrain them")
        self.dimension = int(self._w1.shape[0])
        # Piecewise-linear calibration: p in [0, θ] -> [0, 30], p in [θ, 1] -> [30, 100].
        self._thresholds = np.clip(thresholds, 1e-3, 1.0 - 1e-3)
        self._signal = EMOTIONAL_SIGNAL_THRESHOLD / 100.0
        self._panic_sources = (LEARNED_TYPES.index("fear"), LEARNED_TYPES.index("anxiety"))
        self._neighbours = neighbours

    # -- the contract ------------------------------------------------------------------------------------
    def detect(self, text: str, embedding: npt.NDArray[Any]) -> Detection:
        """Detect emotion, importance and category of one message from its (unit) MiniLM embedding."""
        return self.detect_batch([text], np.asarray(embedding, dtype=np.float32).reshape(1, -1))[0]

    def detect_batch(
        self,
        texts: Sequence[str],
        embeddings: npt.NDArray[Any],
        *,
        emotion_scores: npt.NDArray[Any] | None = None,
        crisis_scores: npt.NDArray[Any] | None = None,
        model_weight: float = DEFAULT_EMOTION_WEIGHT,
    ) -> list[Detection]:
        """:meth:`detect` for many messages at once (one matrix product per layer).

        ``emotion_scores`` (``(n, 8)`` over :data:`LEARNED_TYPES`, already calibrated to 0-1 with the signal
        threshold at 0.3) replace the frozen classifier's; ``crisis_scores`` (``(n, 2)`` over
        :data:`tools.crisis.CRISIS_KINDS`, calibrated so the crisis threshold is :data:`CRISIS_THRESHOLD`) join
        the crisis rules. Both come from the perception model (:func:`perceive`), whose card says how much its
        emotion scores weigh against the frozen classifier's (``model_weight``).
        """
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected embeddings of shape ({len(texts)}, {self.dimension}), got {vectors.shape}")
        if len(texts) == 0:
            return []
        intensities = self.intensities(texts, vectors, emotion_scores=emotion_scores, model_weight=model_weight)
        categories = (vectors @ self._category_centroids.T).argmax(axis=1)
        importances = self._importance.levels(vectors)
        # The neighbour layer's threshold was set beside the model's crisis scores, on the retrieval encoder's
        # vectors: without those scores the vectors may come from another embedder, so it stays out.
        near = self._neighbours.scores(vectors) if self._neighbours and crisis_scores is not None else None
        detections = []
        for row in range(len(texts)):
            values = intensities[row]
            emotions = {name: int(values[i]) for i, name in enumerate(EMOTION_TYPES)}
            dominant = dominant_index(values)
            detections.append(
                Detection(
                    emotion=EMOTION_TYPES[dominant],
                    intensity=int(values[dominant]),
                    emotions=emotions,
                    importance=int(importances[row]),
                    category=CATEGORIES[int(categories[row])],
                    crisis=self._crisis(
                        texts[row],
                        None if crisis_scores is None else crisis_scores[row],
                        None if near is None else near[row],
                    ),
                )
            )
        return detections

    # -- parts -------------------------------------------------------------------------------------------
    def probabilities(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Raw sigmoid outputs over :data:`LEARNED_TYPES`, shape ``(n, 8)``."""
        hidden = np.maximum(vectors @ self._w1 + self._b1, 0.0)
        return _sigmoid(hidden @ self._w2 + self._b2 + word_logits(texts, self._w_words))

    @staticmethod
    def _crisis(text: str, scores: npt.NDArray[Any] | None, near: tuple[CrisisKind, float] | None) -> Crisis:
        rule = detect_crisis(text)
        if scores is None:
            return rule
        model: dict[CrisisKind, float] = {kind: float(scores[i]) for i, kind in enumerate(CRISIS_KINDS)}
        # The figure and routine checks (~0.15 ms) matter only when a learned layer would flag, which is rare.
        learned_flags = max(model.values()) >= CRISIS_THRESHOLD or (near is not None and near[1] >= CRISIS_THRESHOLD)
        ordinary = learned_flags and not rule.flagged and (figure_of_speech(text) or everyday_routine(text))
        return combine(rule, model, near, ordinary=ordinary)

    def intensities(
        self,
        texts: Sequence[str],
        vectors: npt.NDArray[np.float32],
        *,
        emotion_scores: npt.NDArray[Any] | None = None,
        model_weight: float = DEFAULT_EMOTION_WEIGHT,
    ) -> npt.NDArray[np.int64]:
        """Calibrated intensities 0-100 over :data:`EMOTION_TYPES` (panic derived), shape ``(n, 9)``.

        ``emotion_scores``: the perception model's calibrated scores (see :meth:`detect_batch`); without them the
        frozen classifier's probabilities are calibrated with its own thresholds. With them, the two are mixed:
        ``model_weight`` × the model's + (1 − ``model_weight``) × the frozen classifier's (both have their decision
        point at the signal threshold).
        """
        p = self.probabilities(texts, vectors)
        theta, signal = self._thresholds, self._signal
        low = p / theta * signal
        high = signal + (p - theta) / (1.0 - theta) * (1.0 - signal)
        learned = np.where(p <= theta, low, high) * 100.0
        if emotion_scores is not None:
            model = np.asarray(emotion_scores, dtype=np.float64) * 100.0
            learned = model_weight * model + (1.0 - model_weight) * learned
        denied = [negated_types(text) for text in texts]
        for row, names in enumerate(denied):
            for name in names:
                column = LEARNED_TYPES.index(name)
                learned[row, column] = min(learned[row, column], NEGATED_CAP)
        fear, anxiety = learned[:, self._panic_sources[0]], learned[:, self._panic_sources[1]]
        panic = np.sqrt(fear * anxiety)
        for row, text in enumerate(texts):
            if not PANIC_CUES.search(text):
                continue
            # the panic words are anxiety words of _EMOTION_WORDS: with anxiety negated, panic was named to be denied
            # ("I'm not panicking", "no need to panic", "Panic? Nope"), and is held like a negated type
            if "anxiety" in denied[row]:
                panic[row] = min(panic[row], NEGATED_CAP)
            else:
                panic[row] = max(panic[row], fear[row], anxiety[row], 50.0)
        panic_at = EMOTION_TYPES.index("panic")
        full = np.insert(learned, panic_at, panic, axis=1)
        return np.clip(np.rint(full), 0, 100).astype(np.int64)


_detector: Detector | None = None
_detector_lock = threading.Lock()  # one load per process, also when a thread loads it ahead (companion.services)


@dataclass(frozen=True, slots=True)
class Perceived:
    """What a turn perceives in one message, from one run of the encoder.

    Attributes:
        embedding: The message's unit MiniLM vector (the retrieval embedding).
        detection: Emotion, importance, category and crisis.
        injection_score: The perception model's injection score, calibrated so that
            :data:`tools.injection.INJECTION_THRESHOLD` is its decision point; ``None`` without the model (an
            embedder that cannot hand over its layer states).
    """

    embedding: npt.NDArray[np.float32]
    detection: Detection
    injection_score: float | None


#: Decision point of every model output on the scale its consumer reads (see ``tools/perception.py``).
_POINTS = np.array(
    [EMOTIONAL_SIGNAL_THRESHOLD / 100.0 if name in LEARNED_TYPES else 0.0 for name in OUTPUTS], dtype=np.float32
)
_POINTS[OUTPUTS.index("injection")] = INJECTION_THRESHOLD
for _kind in CRISIS_KINDS:
    _POINTS[OUTPUTS.index(_kind)] = CRISIS_THRESHOLD
_EMOTION_AT = [OUTPUTS.index(name) for name in LEARNED_TYPES]
_CRISIS_AT = [OUTPUTS.index(kind) for kind in CRISIS_KINDS]


def perception_scores(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    model: PerceptionModel | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
    """One run of the encoder: the texts' unit vectors and the perception model's calibrated scores.

    The scores are ``(n, len(OUTPUTS))`` over :data:`tools.perception.OUTPUTS`, or ``None`` when the embedder
    cannot hand over its layer-4 states. ``timings`` (optional) receives ``embed`` and ``perceive`` in ms.
    """
    started = time.perf_counter()
    with_states = getattr(embedder, "embed_with_states", None)
    if with_states is None:
        vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
        if timings is not None:
            timings["embed"] = round((time.perf_counter() - started) * 1000.0, 3)
        return vectors, None
    vectors, states, mask = with_states(list(texts))
    embedded = time.perf_counter()
    model = model or load_perception_model()
    scores = model.calibrated(model.probabilities(states, mask), _POINTS).astype(np.float32)
    if timings is not None:
        timings["embed"] = round((embedded - started) * 1000.0, 3)
        timings["perceive"] = round((time.perf_counter() - embedded) * 1000.0, 3)
    return np.asarray(vectors, dtype=np.float32), scores


def detect_with_scores(
    texts: Sequence[str],
    vectors: npt.NDArray[Any],
    scores: npt.ArrayLike | None,
    *,
    detector: Detector | None = None,
    model: PerceptionModel | None = None,
) -> list[Detection]:
    """Detections from the vectors and (when given) the scores of :func:`perception_scores` by ``model``."""
    detector = detector or load_detector()
    if scores is None:
        return detector.detect_batch(texts, vectors)
    table = np.asarray(scores, dtype=np.float32).reshape(len(texts), len(OUTPUTS))
    return detector.detect_batch(
        texts,
        vectors,
        emotion_scores=table[:, _EMOTION_AT],
        crisis_scores=table[:, _CRISIS_AT],
        model_weight=(model or load_perception_model()).emotion_weight,
    )


#: Where the injection score sits among the model's outputs.
INJECTION_OUTPUT = OUTPUTS.index("injection")


def perceive(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    detector: Detector | None = None,
    model: PerceptionModel | None = None,
) -> list[Perceived]:
    """Embed ``texts`` once and perceive each: detection (emotion, importance, category, crisis) and injection score.

    With an embedder that hands over its layer-4 states (``embed_with_states``), the perception model scores
    emotion, injection and crisis; otherwise the frozen classifier scores emotion and the rules alone crisis.
    """
    if not texts:
        return []
    vectors, scores = perception_scores(texts, embedder, model=model)
    detections = detect_with_scores(texts, vectors, scores, detector=detector, model=model)
    return [
        Perceived(vectors[i], detection, None if scores is None else float(scores[i, INJECTION_OUTPUT]))
        for i, detection in enumerate(detections)
    ]


class SignalData(TypedDict):
    """:meth:`EmotionalSignal.to_dict`."""

    emotion: str
    intensity: int
    keywords: list[str]
    context: str


@dataclass(frozen=True, slots=True)
class EmotionalSignal:
    """Seed 000's emotional signal: an emotion felt above the threshold, the words that carry it, their sentence."""

    emotion: str
    intensity: int
    keywords: tuple[str, ...]
    context: str

    def to_dict(self) -> SignalData:
        """A JSON-able dict (the keywords as a list)."""
        return cast(SignalData, {**asdict(self), "keywords": list(self.keywords)})


#: A word is a keyword of an emotion when leaving it out lowers the emotion's intensity by at least this much.
KEYWORD_MIN_DROP = 5
MAX_KEYWORDS = 3
#: At most this many distinct words are tried per message (each is one more short text for the encoder).
MAX_WORDS_TRIED = 24
_SIGNAL_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)
_SIGNAL_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def emotional_signals(
    text: str, embedder: Embedder, *, detection: Detection | None = None, model: PerceptionModel | None = None
) -> list[EmotionalSignal]:
    """Every emotion of ``text`` above the signal threshold, with its keywords and context.

    The keywords are found by occlusion: the message is perceived again once without each of its words (one
    batched encoder run), and a word is a keyword of an emotion when leaving it out lowers that emotion's intensity
    by ``KEYWORD_MIN_DROP`` or more; the strongest ``MAX_KEYWORDS`` are kept. So they are the words the perception
    itself relied on, not a word list's guess ("put our dog down" carries the sadness, not "today"). The context is
    the sentence holding the strongest keyword (the whole message, cut at 200 characters, when none stands out).
    For background work (association), not the turn's hot path.
    """
    detection = detection or perceive([text], embedder, model=model)[0].detection
    felt = {e: i for e, i in detection.emotions.items() if e != "neutral" and i > EMOTIONAL_SIGNAL_THRESHOLD}
    if not felt:
        return []
    words = list(dict.fromkeys(match.group() for match in _SIGNAL_WORD.finditer(text)))[:MAX_WORDS_TRIED]
    without = [re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", "", text).strip() or "." for word in words]
    variants = perceive(without, embedder, model=model) if words else []
    sentences = [part.strip() for part in _SIGNAL_SENTENCE.split(text) if part.strip()] or [text]
    signals = []
    for emotion, intensity in sorted(felt.items(), key=lambda item: -item[1]):
        drops = {
            word: intensity - variant.detection.emotions.get(emotion, 0)
            for word, variant in zip(words, variants, strict=True)
        }
        keywords = sorted((w for w, d in drops.items() if d >= KEYWORD_MIN_DROP), key=lambda w: -drops[w])
        keywords = keywords[:MAX_KEYWORDS]
        context = next((s for s in sentences if keywords and keywords[0] in s), text.strip())[:200]
        signals.append(EmotionalSignal(emotion, int(intensity), tuple(keywords), context))
    return signals


def load_detector(path: Path | None = None) -> Detector:
    """The detector with the committed weights (loaded once per process; no network).

    Raises:
        ConfigurationError: the weights file is missing or unreadable.
    """
    if path is not None:
        return _load_detector(path)
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = _load_detector(MODEL_PATH)
        return _detector


def _load_detector(source: Path) -> Detector:
    try:
        with np.load(source, allow_pickle=False) as stored:
            detector = Detector({name: stored[name] for name in stored.files}, load_crisis_neighbours())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot load the emotion classifier {source}: {exc}") from None
    # Warm up: the first call pays one-off costs (BLAS thread start-up, numpy first-use paths; ~0.3 s on a busy
    # 2-core machine, then ~0.3 ms per call). Pay them here, at start-up, not on the first chat turn.
    vector = np.zeros((1, detector.dimension), dtype=np.float32)
    vector[0, 0] = 1.0
    detector.detect_batch(["warm up!"], vector)
    return detector


# -- with a chat model -----------------------------------------------------------------------------------
class ImportanceAndCategory(BaseModel):
    """How important a message is to remember, and what it is about."""

    importance: Literal[100, 300, 500, 700, 900] = Field(
        description="900 life-changing, 700 important relationship or milestone, 500 regular event, "
        "300 casual conversation, 100 minor detail"
    )
    category: CategoryName = Field(description="the one category that fits best")


async def score_with_model(chat_model: BaseChatModel, text: str, local: Detection) -> Detection:
    """``local`` with importance and category from the chat model (seed's few-shot prompt, structured output).

    Any failure of the model keeps the local values (logged): the local scorer is the fallback.
    """
    prompt = IMPORTANCE_CATEGORY_PROMPT.format(message=text, emotion=local.emotion, intensity=local.intensity)
    try:
        scorer = chat_model.with_structured_output(ImportanceAndCategory)
        result = await scorer.ainvoke(prompt)
        scored = result if isinstance(result, ImportanceAndCategory) else ImportanceAndCategory.model_validate(result)
    except Exception as exc:  # providers and parsers raise many types; all mean "use the local scores"
        # INFO, not WARNING: the reply's own call to the same model reports an outage as the turn's one error line.
        logger.info("importance/category model failed, keeping local scores: %s", type(exc).__name__)
        return local
    return replace(local, importance=int(scored.importance), category=str(scored.category))
