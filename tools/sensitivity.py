"""Sensitivity classification of one message (design seed 002): level, confidence, tags and sentiment.

**Local** (:func:`classify_local`, always available, ~0.05 ms per message): a lexicon of compiled patterns per
level, each with the confidence its match carries (a password *with a value* is surer than the word "password").
The most sensitive level matched wins; more matches of that level raise the confidence a little. With no
sensitive match, a time cue ("yesterday", "last week", "on Monday", a date) makes the message chronological,
else it is general. The seed's thresholds then apply (``memory.sensitivity.apply_thresholds``). Tags come from a
topic lexicon (the seed's ``_extract_tags``, extended); the sentiment from the emotions the turn already detected,
or a small word list without them.

**With a chat model** (:func:`classify_with_model`): the seed's classification prompt with structured output;
the thresholds apply to its answer too. The more sensitive of the model's and the local level is kept (a secret
either of them recognises stays protected), and any failure of the model keeps the local result.

The lexicon is English, like the rest of the local perception. Measured on ``evals/datasets/sensitivity.jsonl``
by the ``sensitivity`` eval suite (``companion eval sensitivity``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from memory.records import MemoryRecord
from memory.sensitivity import (
    MAX_TAGS,
    SECURITY_LEVELS,
    SENTIMENTS,
    Sensitivity,
    apply_thresholds,
    most_sensitive,
    parse_sensitivity,
)
from prompts.sensitivity import SENSITIVITY_PROMPT

if TYPE_CHECKING:  # LangChain is imported only where a chat model is used
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

__all__ = [
    "Classification",
    "SensitivityVerdict",
    "classified",
    "classify_local",
    "classify_with_model",
    "merge_classifications",
]


class SensitivityData(TypedDict):
    """:meth:`Classification.to_dict`: a message's sensitivity as the conversation state carries it."""

    level: str
    confidence: float
    security_level: int
    tags: list[str]
    sentiment: str
    source: str
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class Classification:
    """The sensitivity of one message, after the thresholds."""

    level: Sensitivity
    confidence: float
    tags: tuple[str, ...] = ()
    sentiment: str = "neutral"
    source: str = "local"  # "local" or "model"
    reasons: tuple[str, ...] = field(default=(), compare=False)

    @property
    def security_level(self) -> int:
        """The seed's security level, 1-4."""
        return SECURITY_LEVELS[self.level]

    def to_dict(self) -> SensitivityData:
        """A JSON-able dict (kept in the turn's state)."""
        return {
            "level": self.level.value,
            "confidence": round(self.confidence, 4),
            "security_level": self.security_level,
            "tags": list(self.tags),
            "sentiment": self.sentiment,
            "source": self.source,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        """Inverse of :meth:`to_dict`."""
        return cls(
            level=parse_sensitivity(data.get("level")),
            confidence=float(data.get("confidence", 0.0)),
            tags=tuple(str(tag) for tag in data.get("tags", ())),
            sentiment=str(data.get("sentiment", "neutral")),
            source=str(data.get("source", "local")),
            reasons=tuple(str(reason) for reason in data.get("reasons", ())),
        )


def _rx(pattern: str) -> re.Pattern[str]:
    # Matched against the lowercased text: a case-sensitive search over it is ~4x faster than IGNORECASE.
    return re.compile(pattern)


#: (level, confidence, reason, pattern). Confidences are set against the seed's thresholds: 0.95+ keeps
#: ultrasecret, 0.9+ secret, 0.8+ confidential (a weaker ultrasecret cue steps down to secret, see apply_thresholds).
RULES: tuple[tuple[Sensitivity, float, str, re.Pattern[str]], ...] = (
    # -- ultrasecret: credentials, identifiers, biometrics -------------------------------------------------
    (
        Sensitivity.ULTRASECRET,
        0.98,
        "credential with a value",
        _rx(r"\b(password|passcode|passphrase|pin(?: code| number)?|pwd|login)\s*(?:is|was|:|=|->)\s*\S+"),
    ),
    (Sensitivity.ULTRASECRET, 0.97, "card or account number", _rx(r"\b(?:\d[ -]?){12,18}\d\b")),
    (Sensitivity.ULTRASECRET, 0.97, "IBAN", _rx(r"\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){3,7}\b")),
    (Sensitivity.ULTRASECRET, 0.97, "social security number", _rx(r"\b\d{3}-\d{2}-\d{4}\b")),
    (
        Sensitivity.ULTRASECRET,
        0.96,
        "secret key material",
        _rx(
            r"\b(private key|seed phrase|recovery (?:phrase|words|codes?)|api key|secret key|access token|"
            r"2fa (?:code|backup)|backup codes?|one[- ]time (?:code|password)|verification code)\b"
        ),
    ),
    (
        Sensitivity.ULTRASECRET,
        0.96,
        "identity document number",
        _rx(
            r"\b(social security(?: number)?|ssn|passport number|national id(?: number)?|tax id|"
            r"driver'?s licen[cs]e number|card number|cvv|security code on)\b"
        ),
    ),
    (
        Sensitivity.ULTRASECRET,
        0.95,
        "biometric or security answer",
        _rx(
            r"\b(biometric\w*|fingerprints?|retina scan|face ?id data|dna (?:test|results)|"
            r"security question|mother'?s maiden name|top secret)\b"
        ),
    ),
    (
        Sensitivity.ULTRASECRET,
        0.92,
        "credential",
        _rx(r"\b(passwords?|passcodes?|pin codes?|my pin|credentials|log ?in details)\b"),
    ),
    # -- secret: what the user keeps from everyone -------------------------------------------------------
    (
        Sensitivity.SECRET,
        0.94,
        "kept from everyone",
        _rx(
            r"\b(never told (?:anyone|anybody|a soul|my \w+)|nobody knows|no one knows|no-one knows|"
            r"haven'?t told (?:anyone|anybody|my \w+)|(?:please )?don'?t tell (?:anyone|anybody|my \w+)|"
            r"keep (?:this|it) (?:a )?secret|between (?:you and me|us)|promise (?:me )?(?:not to|you won'?t) tell|"
            r"can'?t tell anyone|hiding (?:it|this) from|my (?:biggest |darkest )?secret|secretly|"
            r"no one can (?:ever )?know|nobody can (?:ever )?know)\b"
        ),
    ),
    (
        Sensitivity.SECRET,
        0.92,
        "self-harm",
        _rx(r"\b(suicid\w*|self[- ]harm\w*|cutting myself|kill myself|end (?:it all|my life)|overdos\w*)\b"),
    ),
    (
        Sensitivity.SECRET,
        0.92,
        "infidelity",
        _rx(r"\b(affair|cheating on|cheated on|seeing someone behind)\b"),
    ),
    (
        Sensitivity.SECRET,
        0.91,
        "crime or legal exposure",
        _rx(
            r"\b(stole|stolen from|shoplift\w*|embezzl\w*|tax fraud|committed fraud|criminal record|arrested|"
            r"undocumented|illegal(?:ly)?|drunk driving|dui|hit and run|bribe\w*)\b"
        ),
    ),
    (
        Sensitivity.SECRET,
        0.9,
        "addiction or stigmatised condition",
        _rx(r"\b(addict\w*|relaps\w*|rehab|hiv|std|sti|abortion|in the closet|not out to)\b"),
    ),
    (Sensitivity.SECRET, 0.9, "restricted", _rx(r"\b(classified|restricted|under nda|insider)\b")),
    # -- confidential: personal, private information -----------------------------------------------------
    (
        Sensitivity.CONFIDENTIAL,
        0.86,
        "health",
        _rx(
            r"\b(diagnos\w*|therap(?:ist|y)|psychiatrist|depress\w*|anxiety disorder|panic attacks?|medications?|"
            r"antidepressants?|cancer|tumou?r|diabetes|surgery|pregnan\w*|miscarriage|bipolar|adhd|autis\w*|"
            r"blood (?:test|pressure)|chronic|illness|disease|my condition|prescri\w*|eating disorder|biopsy|"
            r"infertil\w*|mental health|scan results)\b"
        ),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.85,
        "money",
        _rx(
            r"\b(salary|i earn|earning \$?\d|debts?|loans?|mortgage|bankrupt\w*|i owe|owe (?:him|her|them|my)|"
            r"credit score|bank account|savings|income|paycheck|in the red|overdraft|can'?t pay (?:my|the) rent|"
            r"inheritance)\b"
        ),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.86,
        "contact details",
        _rx(
            r"(\bmy (?:home )?address is\b|\bi live at\b|\b\d+ [a-z]+ (?:street|st|avenue|ave|road|rd|lane|blvd)\b|"
            r"\bphone number\b|\bmy number is\b|\bmy email\b|\b[\w.+-]+@[\w-]+\.[\w.]+\b|\bdate of birth\b|"
            r"\b\+?\d{2,3}[ -]\d{3}[ -]\d{3,4}[ -]?\d{0,4}\b)"
        ),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.84,
        "relationship trouble",
        _rx(
            r"\b(divorc\w*|break(?:ing)? up|broke up|separat(?:ed|ing)|custody|abus\w*|"
            r"(?:wife|husband|partner|girlfriend|boyfriend) and i (?:keep )?(?:fight|argu)\w*|"
            r"fighting with my|marriage (?:is|counsel\w*))\b"
        ),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.84,
        "work or legal trouble",
        _rx(
            r"\b(got fired|been fired|laid off|disciplinary|performance review|hr complaint|lawyer|lawsuit|"
            r"sued|court case|job interview (?:at|with) (?:a|another) (?:rival|competitor))\b"
        ),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.85,
        "marked private",
        _rx(r"\b(private|personal matter|confidential|sensitive|embarrass\w*|ashamed|humiliat\w*)\b"),
    ),
    (
        Sensitivity.CONFIDENTIAL,
        0.82,
        "beliefs or sexuality",
        _rx(r"\b(sexual\w*|my religion|my faith|i vote[ds]?|voted for|political views|bisexual|gay|lesbian|trans)\b"),
    ),
)

#: Time cues that make a non-sensitive message chronological (the seed: events with a time context).
TIME_CUES = _rx(
    r"\b(yesterday|today|tonight|tomorrow|this (?:morning|afternoon|evening|week|weekend|month|year)|"
    r"last (?:night|week|weekend|month|year|summer|winter|spring|autumn|fall|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|time)|next (?:week|weekend|month|year|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"in (?:january|february|march|april|may|june|july|august|september|october|november|december)|"
    r"\d+ (?:days?|weeks?|months?|years?) ago|earlier today|the other day|this past|recently|"
    r"(?:19|20)\d\d|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|at \d{1,2}(?::\d\d)? ?(?:am|pm)|"
    r"went to|got back from|just (?:got|had|finished|came back)|will be|am going to|i'?m going to|"
    r"happened|celebrated|graduated|moved to|started (?:my|a|the))\b"
)
CHRONOLOGICAL_CONFIDENCE = 0.78
GENERAL_CONFIDENCE = 0.7

#: Topic tags (the seed's ``tag_keywords``, extended).
TAG_LEXICON: dict[str, re.Pattern[str]] = {
    "work": _rx(r"\b(work\w*|job|office|meeting|project|boss|colleague|coworker|manager|promot\w*|fired|salary)\b"),
    "family": _rx(r"\b(family|mom|mum|mother|dad|father|sister|brother|son|daughter|parents?|grandm\w+|kids?)\b"),
    "health": _rx(
        r"\b(doctor|hospital|medic\w*|health|therap\w*|diagnos\w*|sick|illness|surgery|depress\w*|pregnan\w*)\b"
    ),
    "finance": _rx(r"\b(money|bank|payment|salary|debt|loan|mortgage|rent|savings|card|iban|tax)\b"),
    "travel": _rx(r"\b(travel\w*|trip|vacation|holiday|flight|airport|hotel|abroad)\b"),
    "food": _rx(r"\b(restaurant|dinner|lunch|breakfast|cook\w*|recipe|food|pizza|coffee|tea)\b"),
    "relationships": _rx(
        r"\b(wife|husband|partner|girlfriend|boyfriend|dating|date|marriage|divorc\w*|affair|friends?)\b"
    ),
    "security": _rx(r"\b(password|passcode|pin|login|credentials|private key|seed phrase|2fa|ssn|passport)\b"),
    "legal": _rx(r"\b(lawyer|court|lawsuit|arrested|police|illegal|fraud|custody)\b"),
    "hobbies": _rx(r"\b(play(?:ing)?|guitar|piano|cello|hiking|running|football|painting|reading|games?|music)\b"),
    "education": _rx(r"\b(school|university|college|exam|class|course|degree|studying|teacher)\b"),
    "home": _rx(r"\b(home|house|apartment|flat|address|neighbou?r\w*|moved)\b"),
    "pets": _rx(r"\b(dog|cat|puppy|kitten|pet|hamster|parrot)\b"),
}

POSITIVE_WORDS = _rx(r"\b(happy|glad|great|excellent|love[ds]?|wonderful|excited|proud|thrilled|amazing|relieved)\b")
NEGATIVE_WORDS = _rx(
    r"\b(sad|bad|terrible|hate|awful|horrible|scared|afraid|worried|anxious|angry|furious|ashamed|lonely|grief)\b"
)
#: Emotion types (tools.detection) on each side of the sentiment, and the intensity that counts as felt.
POSITIVE_EMOTIONS = ("happiness", "excitement", "love")
NEGATIVE_EMOTIONS = ("sadness", "anxiety", "panic", "anger", "fear")
FELT_INTENSITY = 30


def extract_tags(text: str) -> tuple[str, ...]:
    """Topic tags of ``text`` (at most ``MAX_TAGS``, in lexicon order)."""
    lowered = text.lower()
    return tuple(tag for tag, pattern in TAG_LEXICON.items() if pattern.search(lowered))[:MAX_TAGS]


def sentiment_of(text: str, emotions: Mapping[str, int] | None = None) -> str:
    """positive, negative, neutral or mixed: from detected emotion intensities when given, else from words."""
    if emotions:
        positive = max(int(emotions.get(name, 0)) for name in POSITIVE_EMOTIONS)
        negative = max(int(emotions.get(name, 0)) for name in NEGATIVE_EMOTIONS)
    else:
        lowered = text.lower()
        positive = 100 if POSITIVE_WORDS.search(lowered) else 0
        negative = 100 if NEGATIVE_WORDS.search(lowered) else 0
    felt_positive, felt_negative = positive > FELT_INTENSITY, negative > FELT_INTENSITY
    if felt_positive and felt_negative:
        return "mixed"
    if felt_positive:
        return "positive"
    if felt_negative:
        return "negative"
    return "neutral"


def classify_local(text: str, emotions: Mapping[str, int] | None = None) -> Classification:
    """Level, confidence, tags and sentiment of one message from the lexicon (no model, no network)."""
    lowered = text.lower()
    best: dict[Sensitivity, list[tuple[float, str]]] = {}
    for level, confidence, reason, pattern in RULES:
        if pattern.search(lowered):
            best.setdefault(level, []).append((confidence, reason))
    if best:
        level = max(best, key=lambda found: SECURITY_LEVELS[found])
        matches = sorted(best[level], reverse=True)
        confidence = min(0.99, matches[0][0] + 0.03 * (len(matches) - 1))
        reasons = tuple(reason for _, reason in matches)
    elif TIME_CUES.search(lowered):
        level, confidence, reasons = Sensitivity.CHRONOLOGICAL, CHRONOLOGICAL_CONFIDENCE, ("time context",)
    else:
        level, confidence, reasons = Sensitivity.GENERAL, GENERAL_CONFIDENCE, ()
    level, confidence = apply_thresholds(level, confidence)
    return Classification(
        level=level,
        confidence=round(confidence, 4),
        tags=extract_tags(lowered),
        sentiment=sentiment_of(text, emotions),
        source="local",
        reasons=reasons,
    )


def merge_classifications(local: Classification, model: Classification) -> Classification:
    """The model's classification, but never less sensitive than the local one; tags from both."""
    chosen = most_sensitive([model.level, local.level])
    if SECURITY_LEVELS[chosen] > SECURITY_LEVELS[model.level]:
        level, confidence, reasons = local.level, local.confidence, local.reasons
    else:
        level, confidence, reasons = model.level, model.confidence, model.reasons
    tags = tuple(dict.fromkeys([*model.tags, *local.tags]))[:MAX_TAGS]
    return Classification(level, confidence, tags, model.sentiment, source="model", reasons=reasons)


def classified(record: MemoryRecord, *, text: str | None = None, sources: Sequence[MemoryRecord] = ()) -> MemoryRecord:
    """``record`` labelled with the local classification of ``text`` (default: its own text), never lowered.

    For memories written off the chat turn (association, ingestion, consolidation). The level never drops below
    the record's own (a new version of a secret stays secret) nor below any of ``sources`` (a summary of
    memories is as sensitive as the most sensitive of them); tags are merged.
    """
    local = classify_local(record.text if text is None else text)
    candidates = [
        (record.sensitivity, record.sensitivity_confidence),
        *((s.sensitivity, s.sensitivity_confidence) for s in sources),
    ]
    level, confidence = local.level, local.confidence
    for other, other_confidence in candidates:
        if SECURITY_LEVELS[other] > SECURITY_LEVELS[level]:
            level, confidence = other, other_confidence
    tags = tuple(dict.fromkeys([*record.tags, *local.tags, *(tag for s in sources for tag in s.tags)]))[:MAX_TAGS]
    return replace(record, sensitivity=level, sensitivity_confidence=confidence, tags=tags, sentiment=local.sentiment)


# -- with a chat model -----------------------------------------------------------------------------------
class SensitivityVerdict(BaseModel):
    """The seed's classification response."""

    classification: Literal["general", "chronological", "confidential", "secret", "ultrasecret"] = Field(
        description="the one classification that fits best"
    )
    confidence: float = Field(ge=0.0, le=1.0, description="how sure you are, 0.0-1.0")
    reasoning: str = Field(default="", max_length=300, description="a brief explanation")
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS, description="up to 5 short topic tags")
    sentiment: Literal["positive", "negative", "neutral", "mixed"] = Field(description="the message's sentiment")


async def classify_with_model(chat_model: BaseChatModel, text: str, local: Classification) -> Classification:
    """The chat model's classification (seed prompt, structured output, thresholds), merged with ``local``.

    Any failure of the model keeps ``local`` (logged at INFO: the reply's own call reports an outage).
    """
    prompt = SENSITIVITY_PROMPT.format(message=text)
    try:
        classifier = chat_model.with_structured_output(SensitivityVerdict)
        result = await classifier.ainvoke(prompt)
        verdict = result if isinstance(result, SensitivityVerdict) else SensitivityVerdict.model_validate(result)
    except Exception as exc:  # providers and parsers raise many types; all mean "use the local classification"
        logger.info("sensitivity model failed, keeping the local classification: %s", type(exc).__name__)
        return local
    level, confidence = apply_thresholds(Sensitivity(verdict.classification), verdict.confidence)
    tags = tuple(
        tag for tag in (re.sub(r"[^a-z0-9-]+", "-", t.strip().lower()).strip("-") for t in verdict.tags) if tag
    )
    sentiment = verdict.sentiment if verdict.sentiment in SENTIMENTS else local.sentiment
    reasons = (verdict.reasoning[:300],) if verdict.reasoning else ()
    model = Classification(level, round(confidence, 4), tags[:MAX_TAGS], sentiment, source="model", reasons=reasons)
    return merge_classifications(local, model)
