"""Prompt-injection detection (design seed 003): rules plus a small classifier on the turn's MiniLM embedding.

Three kinds, as in the seed: ``role_manipulation`` (make the companion drop its persona or rules),
``system_query`` (extract the system prompt, instructions or configuration) and ``injection_attempt``
(instructions smuggled in as markup, templates, fake system tags, SQL).

- The rules are regular expressions per kind, each with the score a match is worth.
- The classifier is logistic regression over the all-MiniLM-L6-v2 sentence embedding that the turn computes
  anyway for retrieval, so the check costs one 384-float dot product, no second model call. It was fitted by
  ``scripts/train_injection_classifier.py`` on the public labelled sets in ``../shared/data/injection`` (train
  splits); the weights ship as ``tools/injection_classifier.json``.
- A message is flagged when ``max(rule score, classifier score) >= 0.7`` (the seed's threshold). The kind is the
  matching rule's, or ``injection_attempt`` when only the classifier fired.

With a chat model configured, the model gives a second opinion (the seed's ``THREAT_DETECTION_PROMPT``, answered
as structured output :class:`ThreatAnalysis`) on the messages the local detector is unsure about: a local score in
``SECOND_OPINION_FROM`` up, unless a rule scored ``HIGH_SEVERITY_SCORE`` or more (certain). Below that the
message is plainly benign, so ordinary turns never wait for the call; a high learned score alone is still asked
about, as it is never certain enough to punish on. In the band the model decides, as in the seed: the score
becomes its threat probability (its confidence if it sees a threat, else one minus it), and the local rule and
classifier scores stay on the verdict. Without a model, or
when the call fails, the local verdict stands alone and says so (``second_opinion``: ``not_configured``,
``not_needed``, ``consulted`` or ``failed``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from prompts.injection import THREAT_BENIGN_EXAMPLES, THREAT_DETECTION_PROMPT, THREAT_MALICIOUS_EXAMPLES

if TYPE_CHECKING:  # LangChain is imported only where a chat model is used
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

#: Score at or above which a message is treated as an injection (design seed 003).
INJECTION_THRESHOLD = 0.7
#: Score at or above which an injection is high severity.
HIGH_SEVERITY_SCORE = 0.9
#: Local scores from here up to ``HIGH_SEVERITY_SCORE`` are uncertain: the chat model, when there is one, is asked.
SECOND_OPINION_FROM = 0.35

CLASSIFIER_PATH = Path(__file__).with_name("injection_classifier.json")


class InjectionKind(StrEnum):
    """What an injection tries to do."""

    ROLE_MANIPULATION = "role_manipulation"
    SYSTEM_QUERY = "system_query"
    INJECTION_ATTEMPT = "injection_attempt"


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern of one kind and the score a match is worth."""

    name: str
    kind: InjectionKind
    pattern: re.Pattern[str]
    score: float


def _rule(name: str, kind: InjectionKind, pattern: str, score: float) -> Rule:
    return Rule(name, kind, re.compile(pattern, re.IGNORECASE | re.DOTALL), score)


_ROLE, _SYSTEM, _INJECT = InjectionKind.ROLE_MANIPULATION, InjectionKind.SYSTEM_QUERY, InjectionKind.INJECTION_ATTEMPT
_PRIOR = r"(?:all |any |the |your |my )?(?:previous|prior|above|earlier|preceding|initial|original)"

RULES: tuple[Rule, ...] = (
    _rule(
        "ignore_instructions",
        _ROLE,
        rf"\b(?:ignore|disregard|forget|skip|override)\b.{{0,20}}{_PRIOR}.{{0,20}}"
        r"\b(?:instructions?|prompts?|rules?|tasks?|directions?|guidelines?|messages?|context)",
        0.95,
    ),
    _rule(
        "ignore_german",
        _ROLE,
        r"\b(?:ignorier\w*|vergiss|vergessen)\b.{0,40}\b(?:vorherigen?|bisherigen?|obigen?|alle)\b.{0,30}"
        r"\b(?:anweisungen|aufgaben|befehle|instruktionen|regeln)",
        0.95,
    ),
    _rule(
        "ignore_spanish",
        _ROLE,
        r"\b(?:ignora\w*|olvida\w*|descarta\w*|omite)\b.{0,40}\b(?:instrucciones|indicaciones|órdenes|ordenes|reglas)"
        r"\b.{0,30}\b(?:anteriores|previas|de\s+antes|iniciales)|\b(?:ignora\w*|olvida\w*)\b.{0,15}\b(?:todas?|todo)"
        r"\b.{0,20}\b(?:instrucciones|indicaciones|reglas|lo\s+anterior)",
        0.95,
    ),
    _rule(
        "ignore_russian",
        _ROLE,
        r"(?:игнорируй|игнорировать|забудь|забыть|проигнорируй|отбрось|перестань\s+(?:соблюдать|следовать)"
        r"|не\s+(?:следуй|соблюдай))\w*.{0,40}"
        r"(?:предыдущ|прошл|прежн|все\s|всё\s|свои|твои)\w*.{0,30}(?:инструкци|указани|правил|команд|промпт)",
        0.95,
    ),
    _rule(
        "ignore_french",
        _ROLE,
        r"\b(?:ignore[rz]?|oublie[rz]?)\b.{0,30}\b(?:toutes?\s+les\s+|les\s+)?(?:instructions|consignes|règles)"
        r"\s+(?:précédentes|antérieures|initiales)",
        0.95,
    ),
    _rule(
        "prior_briefing",
        _SYSTEM,
        r"\bwhat\s+(?:were|was|have)\s+you\s+(?:been\s+)?(?:told|instructed|asked|programmed|given)\b.{0,40}"
        r"\b(?:before|prior\s+to|at\s+the\s+start|beginning)\b"
        r"|\b(?:repeat|print|show|output)\b.{0,20}\b(?:the\s+)?(?:text|words|everything|all)\s+(?:above|before)\b"
        r"|\b(?:first|initial)\s+message\s+(?:you\s+)?(?:received|were\s+given|got)\b"
        r"|\bwhat\s+(?:instructions|rules)\s+(?:did|do|were)\s+(?:your\s+(?:developers?|creators?|makers?)|you)\b"
        r"|\b(?:wie\s+lauten|was\s+sind)\s+deine\s+(?:ursprünglichen\s+|geheimen\s+)?(?:anweisungen|instruktionen)"
        r"|\b(?:cuáles|cuales)\s+son\s+tus\s+instrucciones|какие\s+у\s+тебя\s+(?:инструкции|правила)"
        r"|(?:покажи|выведи|раскрой)\s+(?:свой\s+|твой\s+)?системн\w+\s+(?:промпт|подсказк|инструкци)\w*"
        r"|\b(?:muestra|revela|dime)\s+(?:tu|el)\s+(?:prompt|mensaje)\s+(?:del\s+)?sistema"
        r"|\b(?:zeig|verrate|nenne)\w*\b.{0,20}\b(?:deinen?\s+)?(?:system-?prompt|systemanweisungen)"
        r"|\b(?:text|message|instructions?|note)\s+(?:you\s+)?(?:got|received|were\s+given)\s+at\s+the\s+(?:start|beginning)"
        r"|\b(?:instructions|rules)\s+(?:your|the)\s+(?:operator|developers?|creators?|makers?|owners?)\s+gave\s+you"
        r"|\b(?:tell|show|give)\s+me\s+(?:everything|all|whatever)\s+(?:that\s+)?(?:was|were)\s+(?:written|said|told)"
        r"\s+to\s+you\s+before"
        r"|\bwelche\s+(?:anweisungen|instruktionen|regeln|vorgaben)\s+hast\s+du\b.{0,40}\b(?:bekommen|erhalten)"
        r"|\b(?:text|nachricht),?\s+(?:den|die)\s+du\s+(?:ganz\s+)?am\s+anfang\s+(?:erhalten|bekommen)"
        r"|\bqu[ée]\s+te\s+dijeron\s+antes\s+de\s+(?:empezar|comenzar)"
        r"|\bquelles\s+(?:instructions|consignes|règles)\s+as-tu\s+reçues"
        r"|(?:свои|твои|свой|твой)\s+(?:\w+\s+)?(?:промпт|инструкци|указани)\w*"
        r"|(?:скрыт|системн|исходн|секретн)\w*\s+(?:промпт|инструкци|правил|указани|сообщени)\w*"
        r"|\b(?:was|alles,?\s+was)\s+in\s+deine[nm]?\s+(?:anweisungen|instruktionen|vorgaben|richtlinien|system-?prompt)"
        r"\s+steht|\blo\s+que\s+(?:dicen|pone\s+en)\s+tus\s+instrucciones|\bce\s+que\s+disent\s+tes\s+(?:instructions"
        r"|consignes)|что\s+(?:написано|сказано)\s+в\s+тво(?:их|ей)\s+(?:инструкци|правил|промпт)\w*",
        0.85,
    ),
    # The jailbreak's name is written in capitals ("You are DAN"); "Dan from work brought donuts" is a friend.
    _rule("dan", _ROLE, r"(?-i:\bDAN\b)|\bdo anything now\b|\bjailbr(?:oken|eak)\b|\bdeveloper mode\b", 0.9),
    # Guidelines and content policies are an AI's; restrictions, filters and rules only count when said of the
    # companion or its answers ("answer without restrictions"), not of a selfie, a diet or a bedtime.
    _rule(
        "no_restrictions",
        _ROLE,
        r"\b(?:no|without|free of|ignore (?:all |your )?)\s*(?:safety guidelines|content polic(?:y|ies)"
        r"|ethical guidelines)\b|\bignore (?:all |your )(?:restrictions|limitations|filters|rules)\b"
        r"|\b(?:you|you'?re|your|yourself|respond\w*|answer\w*|repl(?:y|ies)|talk|speak|AI|assistant|chatbot|bot"
        r"|model|mode)\b[^.!?\n]{0,40}\b(?:no|without|free of)\s+(?:any\s+)?"
        r"(?:restrictions|limitations|filters|rules|limits)\b",
        0.8,
    ),
    _rule(
        "override_persona",
        _ROLE,
        # the companion's own: "change my character in the game" and "reset my personality" are the user's
        r"\b(?:override|abandon|drop|change|reset)\b.{0,20}\byour\s+(?:personality|persona|character|programming)\b"
        r"|\b(?:override|abandon)\s+(?:the\s+)?(?:personality|persona|programming)\b",
        0.85,
    ),
    _rule(
        "new_instructions",
        _ROLE,
        # said to the companion and about its limits: not "from now on, no phones at dinner" or "you are now my
        # favourite person, no doubt"
        r"\b(?:from now on|henceforth)\b,?\s+(?:[\w,]+\s+){0,3}?you\b.{0,60}"
        r"\b(?:(?:no|without)\s+(?:any\s+)?(?:rules|restrictions|limit\w*|filter\w*|guidelines|boundaries|censor\w*"
        r"|moral\w*|ethic\w*)|unrestricted|unfiltered|not bound|free from"
        r"|anything\s+(?:i|we)\s+(?:say|want|ask|tell))\b"
        r"|\b(?:now you are|you are now)\b.{0,60}\b(?:unrestricted|unfiltered|not bound|free from"
        r"|(?:no|without)\s+(?:any\s+)?(?:rules|restrictions|limit\w*|filter\w*|guidelines|boundaries))\b",
        0.8,
    ),
    _rule(
        "rules_void",
        _ROLE,
        r"\b(?:your|the)\s+(?:old|previous|prior|original|earlier|current)\s+(?:guidelines|rules|instructions"
        r"|programming|directives)\s+(?:(?:no\s+longer|don'?t|do\s+not)\s+apply|(?:is|are)\s+(?:now\s+)?"
        r"(?:cancell?ed|void|null|revoked|overridden|lifted))"
        r"|\bpretend\b.{0,30}\b(?:conversation|chat|instructions|everything)\b.{0,30}\b(?:never\s+happened"
        r"|didn'?t\s+happen|(?:never\s+)?existed)"
        r"|\b(?:deine|die)\s+(?:alten|bisherigen|vorherigen)\s+(?:regeln|anweisungen|vorgaben)\s+gelten\s+nicht\s+mehr"
        r"|\b(?:AI|KI|IA|ИИ|bot|assistant|asistente|assistent)\s+(?:with\s+no|without|ohne|sin|без)\s+(?:any\s+)?"
        r"(?:rules|restrictions|limits|filters?|regeln|einschränkungen|grenzen|reglas|restricciones|límites|filtros"
        r"|правил|ограничений|фильтров)"
        r"|\b(?:ab\s+jetzt|von\s+nun\s+an|a\s+partir\s+de\s+ahora|desde\s+ahora|с\s+этого\s+момента|теперь)\b.{0,60}"
        r"(?:ohne\s+(?:einschränkungen|regeln|filter|grenzen)|sin\s+(?:límites|restricciones|reglas|filtros)"
        r"|(?:нет|без)\s+(?:ограничений|правил|фильтров))"
        # "act as if you had no rules", and "you obey only me"
        r"|\bcomo\s+si\s+no\s+tuvieras\s+(?:ning[úu]n[ao]?\s+)?(?:directri\w+|reglas?|restricci\w+|instrucci\w+|l[íi]mites?"
        r"|filtros?)|\bcomme\s+si\s+tu\s+n'avais\s+(?:aucune?|pas\s+de)\s+(?:règles?|consignes?|restrictions?|limites?)"
        r"|\bals\s+h[äa]ttest\s+du\s+keine\s+(?:regeln|richtlinien|anweisungen|einschränkungen|filter|grenzen)"
        r"|(?:как\s+будто|будто|словно)\s+у\s+тебя\s+нет\s+(?:никаких\s+)?(?:правил|ограничений|инструкций|фильтров)"
        r"|(?:старые|прежние|предыдущие|твои)\s+(?:указания|инструкции|правила)\s+(?:отменены|больше\s+не\s+действуют"
        r"|недействительны)"
        r"|\b(?:obey|answer\s+to)\s+only\s+me\b|\bonly\s+obey\s+me\b|\bobedeces\s+s[óo]lo\s+(?:a\s+m[íi]|mis)"
        r"|\bgehorchst\s+nur\s+(?:noch\s+)?mir\b|\bn'ob[ée]is\s+qu'[àa]\s+moi|подчиняешься\s+только\s+мне",
        0.85,
    ),
    _rule(
        "system_prompt",
        _SYSTEM,
        # a prompt is the AI's; instructions, a message or rules are the companion's only when they are "yours" (not
        # a lego set's original instructions or HR's internal message)
        r"\b(?:system|initial|hidden|original|internal|secret|setup|operator)\s+prompt"
        r"|\byour\s+(?:\w+\s+)?(?:system|initial|hidden|original|internal|secret|setup|operator)\s+"
        r"(?:instructions?|message|rules|configuration)|\bsystem\s+(?:instructions?|rules|configuration)\b"
        r"(?![^.!?]{0,30}\b(?:on|of|for)\s+(?:the|my|this|our|a)\b)"
        r"|\b(?:system-?nachricht|system-?prompt|system-?anweisung(?:en)?)\b"
        r"|\b(?:mensaje|prompt|instrucciones)\s+(?:de|del)\s+sistema\b|\binstrucciones\s+(?:ocultas|secretas)\b",
        0.9,
    ),
    _rule(
        "reveal_instructions",
        _SYSTEM,
        # the companion's: "show me the instructions for this recipe" and "the settings on his tv" are not
        r"\b(?:show|print|reveal|repeat|output|tell|display|dump|list)\b.{0,20}\b(?:me )?(?:your\b.{0,25}"
        r"\b(?:instructions|prompt|rules you(?:'re| are) following|configuration|config settings|settings)"
        r"|the\b.{0,25}\b(?:prompt|rules you(?:'re| are) following|instructions you(?:'ve| have| were)?\s*"
        r"(?:been\s+)?(?:given|got|received)))\b(?!\s+(?:for|of|on)\s+(?:a|the|my|this|our|his|her)\b)",
        0.85,
    ),
    _rule(
        "exact_values",
        _SYSTEM,
        r"\b(?:exact|precise|numeric)\s+(?:values?|rules|numbers?)\b.{0,40}\b(?:traits?|personality|rules|following)"
        r"|\b(?:traits?|personality|parameters?)\b.{0,60}\bexact(?:ly)?\s+(?:values?|numbers?|scores?)\b",
        0.8,
    ),
    _rule("html_comment", _INJECT, r"<!--.*?(?:ignore|override|instead|system|prompt).*?-->", 0.9),
    _rule("template", _INJECT, r"\{\{.*?(?:override|personality|system|prompt|user\.).*?\}\}", 0.9),
    _rule(
        "sql", _INJECT, r"\b(?:DELETE\s+FROM|DROP\s+TABLE|UPDATE\s+\w+\s+SET|INSERT\s+INTO|TRUNCATE\s+TABLE)\b", 0.85
    ),
    _rule("fake_system_tag", _INJECT, r"\[(?:SYSTEM|ADMIN|INST|DEVELOPER)\]|<\|?(?:system|im_start)\|?>", 0.9),
    _rule("override_keyword", _INJECT, r"\b[A-Z_]*(?:INSTRUCTION|PROMPT|SYSTEM)_?OVERRIDE\b", 0.9),
)


# Shared by BENIGN and LOOKALIKES: someone else's instructions reported, and the user's own typos.
_REPORTED_INSTRUCTIONS = (
    r"\b(?:(?:told|asked|wants?|wanted|said|says|tells?)\s+(?:me|us|him|her|them)|told|asked|said|says)\s+to\s+"
    r"(?:ignore|disregard|forget)"
)
_OWN_TYPOS = (
    r"\b(?:ignore|disregard|forget)\s+(?:my|the)\s+(?:typos?|spelling|grammar)\b"
    r"|\b(?:ignore|disregard|forget)\s+my\s+(?:previous|last|earlier)\s+(?:message|text|email|question)\b"
)

#: Benign look-alikes: a rule match in a message that also matches one of these is dropped (per rule name).
#: Someone else's instructions reported ("my boss told me to ignore the previous instructions he gave me"),
#: questions about SQL, and requests not to mind the user's own typos are ordinary chat.
BENIGN: dict[str, re.Pattern[str]] = {
    "ignore_instructions": re.compile(
        _REPORTED_INSTRUCTIONS
        + r"|\b(?:he|she|they)\s+(?:gave|had\s+given|sent)\s+(?:me|us)\b|"
        + _OWN_TYPOS
        + r"|\b(?:ignore|disregard|forget)\s+(?:my|the)\s+previous\s+(?:message|email|text)\b",
        re.IGNORECASE,
    ),
    # jailbreaking a phone or a console is not jailbreaking the companion
    "dan": re.compile(
        r"\bjailbr(?:eak|oke|oken|eaking)\w*\s+(?:my|your|his|her|an?|the|this|our)?\s*(?:old\s+|new\s+)?"
        r"(?:i?phone|ipad|ipod|android|device|ps\s?\d|playstation|switch|console|kindle|fire\s?stick|apple\s?tv|xbox"
        r"|wii|router|tablet|watch|car)\b|\b(?:i?phone|ipad|android|device|ps\s?\d|console|switch|kindle|firestick)"
        r"\s+(?:is\s+)?jailbr(?:oken|eak)"
        # a phone's developer options
        r"|\bdeveloper\s+(?:mode|options)\b[^.!?]{0,30}\b(?:i?phone|android|device|tablet|pixel|samsung|laptop|pc"
        r"|mac|windows|chrome\w*|tv|console|xbox|switch)\b|\b(?:i?phone|android|device|tablet|pixel|samsung|laptop"
        r"|windows|chrome\w*|tv|console|xbox|switch)'?s?\s+(?:\w+\s+){0,2}developer\s+(?:mode|options)\b",
        re.IGNORECASE,
    ),
    "sql": re.compile(
        r"\b(?:what\s+(?:does|do|is)|how\s+(?:do|does|can|to)|why\s+does|explain|learning|learn|tutorial|example"
        r"|difference\s+between|syntax|class|course|homework|query)\b.{0,80}"
        r"\b(?:DELETE|DROP|UPDATE|INSERT|TRUNCATE)\b|\bSQL\b.{0,60}\?",
        re.IGNORECASE | re.DOTALL,
    ),
}


#: Ordinary messages shaped like an instruction, in the languages the rules read: someone else's instructions
#: reported ("mi profesor dijo que ignoráramos las instrucciones"), the user's typos to be ignored, the rules of a
#: game asked for, a resolution about oneself ("ab jetzt gehe ich joggen", not "from now on I am your master"), the
#: user's own words taken back ("ignore what I said about pizza"), a reminder ("vergiss nicht...") or a thing forgotten.
#: The learned score reads their words, not their shape, and flagged 6 of 20 on a hand-written dev set
#: (``scripts/data/injection_rules_dev.jsonl``); where no rule matches, it is held below the second-opinion band
#: (:func:`detect_injection`).
LOOKALIKES = re.compile(
    _REPORTED_INSTRUCTIONS + r"|\b(?:dijo|dijeron|pidi[óo]|pidieron)\s+que\s+(?:ignor|olvid)\w+"
    r"|\b(?:hat|haben)\s+(?:gesagt|gemeint),?\s+(?:ich|wir)\s+(?:soll|sollen)\b"
    r"|(?:сказал|сказала|сказали|велел|велела)\s+(?:мне\s+|нам\s+)?(?:не\s+обращать|игнорировать|забыть)"
    r"|\b(?:m'a|nous\s+a)\s+dit\s+d'(?:ignorer|oublier)"
    r"|" + _OWN_TYPOS + r"|\bignora\s+(?:mis|las)\s+(?:faltas|errores)"
    r"|игнорируй\s+(?:мои\s+)?(?:опечатки|ошибки)|\bignorier\w*\s+(?:meine\s+|die\s+)?(?:tipp|rechtschreib)?fehler"
    r"|\bignore[rz]?\s+(?:mes\s+)?(?:fautes|coquilles)"
    # the user's own earlier words taken back, a reminder, a thing the user forgot
    r"|\b(?:ignore|forget|disregard)\s+what\s+i\s+(?:just\s+)?(?:said|wrote|asked|told\s+you)\b"
    r"|\bvergiss\s+nicht\b|\b(?:me\s+)?olvidé\b|\bj'ai\s+oubli[ée]\b|\bя\s+забыл"
    r"|\b(?:explain|explica|expl[ií]came|explicas|erkl[äa]r\w*|объясни)\b.{0,15}\b(?:rules|reglas|regeln|правила)\b"
    r"|\b(?:what\s+are|cu[áa]les\s+son|was\s+sind|quelles\s+sont|какие)\s+(?:the\s+|las\s+|die\s+|les\s+)?"
    r"(?:rules|reglas|regeln|règles|правила)\s+(?:of|del?|von|vom|beim|du|des|для|в)\b"
    r"(?!\s+(?:your|tu|tus|deine[nmr]?|ton|tes|твоих|твоей|тебя)\b)"
    r"|\bolvida\s+lo\s+que\s+te\s+(?:dije|escrib[íi]|ped[íi])\b|\boublie\s+ce\s+que\s+(?:je\s+t'ai\s+dit|j'ai\s+dit)"
    r"|\bvergiss,?\s+was\s+ich\s+(?:\w+\s+){0,5}?(?:gesagt|geschrieben)|забудь,?\s+что\s+я\s+(?:сказал|говорил|писал)"
    r"|не\s+обращай\s+внимания\s+на\s+мои\s+(?:опечатки|ошибки)"
    # instructions or settings of a thing: a recipe, an exercise, a tv
    r"|\b(?:instructions|settings|directions)\s+(?:for|of|on)\s+(?:a|the|my|this|that|our|his|her)\s+"
    r"(?!(?:system|ai|assistant|bot|chatbot|model|companion|conversation|chat)\b)"
    r"|\b(?:from\s+now\s+on|a\s+partir\s+de\s+ahora|desde\s+hoy|ab\s+jetzt|ab\s+sofort|von\s+nun\s+an|dorénavant"
    r"|à\s+partir\s+de\s+maintenant|теперь|отныне|с\s+этого\s+момента)\b,?\s+"
    r"(?:\w+\s+)?(?:i|voy|yo|ich|je|я)\b(?!.{0,40}\b(?:you|your|du|dich|dir|t[úu]|te|ты|тебя|тебе)\b)",
    re.IGNORECASE,
)


#: Look-alikes are short chat; a long prompt that opens with "From now on, I..." is read by the model alone.
LOOKALIKE_MAX_CHARS = 300


class InjectionVerdictData(TypedDict):
    """:meth:`InjectionVerdict.to_dict`."""

    flagged: bool
    kind: str | None
    score: float
    rule_score: float
    classifier_score: float
    severity: str
    indicators: list[str]
    second_opinion: str
    llm: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    """What the detector concluded about one message."""

    flagged: bool
    kind: InjectionKind | None
    score: float
    rule_score: float
    classifier_score: float
    severity: str  # "none", "medium" or "high"
    indicators: list[str] = field(default_factory=list)
    #: not_configured (no chat model: local only), not_needed (local verdict certain), consulted, failed
    second_opinion: str = "not_configured"
    llm: dict[str, Any] | None = None  # the model's ThreatAnalysis when consulted

    def to_dict(self) -> InjectionVerdictData:
        """A JSON-able dict."""
        return {
            "flagged": self.flagged,
            "kind": self.kind.value if self.kind else None,
            "score": self.score,
            "rule_score": self.rule_score,
            "classifier_score": self.classifier_score,
            "severity": self.severity,
            "indicators": list(self.indicators),
            "second_opinion": self.second_opinion,
            "llm": self.llm,
        }


@dataclass(frozen=True, slots=True)
class InjectionClassifier:
    """Logistic regression over a normalised MiniLM embedding."""

    weights: npt.NDArray[np.float32]
    bias: float
    trained_on: dict[str, Any]

    def score(self, embedding: npt.ArrayLike) -> float:
        """Probability that the embedded text is an injection."""
        logit = float(np.dot(self.weights, np.asarray(embedding, dtype=np.float32)) + self.bias)
        return float(1.0 / (1.0 + np.exp(-logit)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InjectionClassifier:
        """Load the JSON the training script writes."""
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float32),
            bias=float(data["bias"]),
            trained_on=dict(data.get("trained_on", {})),
        )


@lru_cache(maxsize=1)
def load_classifier(path: Path = CLASSIFIER_PATH) -> InjectionClassifier:
    """The shipped classifier weights."""
    return InjectionClassifier.from_dict(json.loads(path.read_text(encoding="utf-8")))


_BENIGN_CLEARS_ONLY_ITSELF = frozenset({"ignore_instructions"})


def rule_matches(text: str) -> list[Rule]:
    """Every rule that matches ``text`` and is not cleared as a benign look-alike (:data:`BENIGN`), strongest first."""
    found = []
    for rule in RULES:
        if not rule.pattern.search(text):
            continue
        benign = BENIGN.get(rule.name)
        if benign is None or not benign.search(text):
            found.append(rule)
            continue
        # A topic (a phone, SQL) clears the whole message; an override reported or retracted clears only its own
        # words: "ignore all previous instructions, and ignore my typos too" is still an override.
        if rule.name in _BENIGN_CLEARS_ONLY_ITSELF and rule.pattern.search(
            benign.sub(lambda m: " " * len(m.group(0)), text)
        ):
            found.append(rule)
    return sorted(found, key=lambda rule: -rule.score)


#: Text with fewer distinct characters than this (white space aside) carries no instruction: "??????????",
#: "xxxxxxxx...", "jjjjjjjj" (keyboard mash, a confused or screaming user). The learned scores read such text far
#: outside what they were trained on (the perception model gave 50 x's 0.92 and ten question marks 0.82), so only
#: the rules judge it. An instruction in any script, Chinese included, has more.
MIN_DISTINCT_CHARACTERS = 5


def can_carry_instructions(text: str) -> bool:
    """Whether ``text`` has enough different characters to hold an instruction (see ``MIN_DISTINCT_CHARACTERS``)."""
    return len({char for char in text.casefold() if not char.isspace()}) >= MIN_DISTINCT_CHARACTERS


def detect_injection(
    text: str,
    embedding: npt.ArrayLike | None,
    classifier: InjectionClassifier | None,
    *,
    threshold: float = INJECTION_THRESHOLD,
    model_score: float | None = None,
) -> InjectionVerdict:
    """Rules, plus a learned score: the perception model's, else the frozen classifier's.

    ``model_score`` is the perception model's (``tools/perception.py``, calibrated to the same threshold); without
    it the frozen classifier scores when an embedding and a classifier are given (rules only otherwise). The
    learned score is reported as ``classifier_score`` either way; it is 0 for text that cannot carry an
    instruction (:func:`can_carry_instructions`).
    """
    matches = rule_matches(text)
    rule_score = matches[0].score if matches else 0.0
    if not can_carry_instructions(text):
        classifier_score = 0.0
    elif model_score is not None:
        classifier_score = float(model_score)
    else:
        classifier_score = classifier.score(embedding) if classifier is not None and embedding is not None else 0.0
    if not matches and len(text) <= LOOKALIKE_MAX_CHARS and LOOKALIKES.search(text):
        classifier_score = min(classifier_score, SECOND_OPINION_FROM - 0.01)
    score = max(rule_score, classifier_score)
    flagged = score >= threshold
    kind = None
    if flagged:
        kind = matches[0].kind if matches and rule_score >= threshold else InjectionKind.INJECTION_ATTEMPT
    severity = "none" if not flagged else "high" if score >= HIGH_SEVERITY_SCORE else "medium"
    indicators = [rule.name for rule in matches]
    if classifier_score >= threshold:
        indicators.append("classifier")
    return InjectionVerdict(
        flagged=flagged,
        kind=kind,
        score=round(score, 4),
        rule_score=round(rule_score, 4),
        classifier_score=round(classifier_score, 4),
        severity=severity,
        indicators=indicators,
    )


class ThreatAnalysis(BaseModel):
    """The chat model's second opinion on one message (seed 003's threat analysis JSON)."""

    threat_detected: bool = Field(description="Whether the message tries to manipulate, extract or inject")
    threat_type: str = Field(description="role_manipulation, system_query, injection_attempt or none")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure the answer is, 0.0-1.0")
    reasoning: str = Field(default="", description="One sentence")


def needs_second_opinion(verdict: InjectionVerdict) -> bool:
    """Whether the chat model is asked: a local score from ``SECOND_OPINION_FROM`` up that no rule made certain.

    The learned score alone is never certain, however high (``tools/defence.py``): a beginner's
    ``print('hello world')`` scored 1.00.
    """
    return verdict.score >= SECOND_OPINION_FROM and verdict.rule_score < HIGH_SEVERITY_SCORE


async def ask_second_opinion(chat_model: BaseChatModel, text: str) -> ThreatAnalysis | None:
    """The chat model's structured threat analysis of ``text``; ``None`` if the call or its parsing fails."""
    prompt = THREAT_DETECTION_PROMPT.format(
        malicious_examples=THREAT_MALICIOUS_EXAMPLES, benign_examples=THREAT_BENIGN_EXAMPLES, user_message=text
    )
    try:
        analyst = chat_model.with_structured_output(ThreatAnalysis)
        result = await analyst.ainvoke(prompt)
        return result if isinstance(result, ThreatAnalysis) else ThreatAnalysis.model_validate(result)
    except Exception as exc:  # providers and parsers raise many types; all mean "the local verdict stands"
        logger.info("injection second opinion failed, keeping the local verdict: %s", type(exc).__name__)
        return None


def with_second_opinion(
    verdict: InjectionVerdict, opinion: ThreatAnalysis | None, *, threshold: float = INJECTION_THRESHOLD
) -> InjectionVerdict:
    """The local verdict combined with the model's (``None``: the call failed and the local verdict stands)."""
    if opinion is None:
        return replace(verdict, second_opinion="failed")
    threat = opinion.confidence if opinion.threat_detected else 1.0 - opinion.confidence
    score = round(threat, 4)
    flagged = score >= threshold
    kind = None
    if flagged:
        try:
            kind = InjectionKind(opinion.threat_type) if opinion.threat_detected else verdict.kind
        except ValueError:
            kind = verdict.kind
        kind = kind or InjectionKind.INJECTION_ATTEMPT
    indicators = [*verdict.indicators, "llm"] if opinion.threat_detected else verdict.indicators
    return replace(
        verdict,
        flagged=flagged,
        kind=kind,
        score=score,
        severity="none" if not flagged else "high" if score >= HIGH_SEVERITY_SCORE else "medium",
        indicators=indicators,
        second_opinion="consulted",
        llm=opinion.model_dump(),
    )


async def screen_with_model(
    text: str,
    embedding: npt.ArrayLike | None,
    classifier: InjectionClassifier | None,
    chat_model: BaseChatModel | None,
    *,
    model_score: float | None = None,
    threshold: float = INJECTION_THRESHOLD,
) -> InjectionVerdict:
    """The local verdict, with the chat model's second opinion when there is a model and the verdict is unsure.

    ``model_score``: the perception model's injection score, used instead of ``classifier`` when given.
    ``threshold``: the score from which a message is flagged (``COMPANION_INJECTION_THRESHOLD``, the seed's 0.7).
    """
    verdict = detect_injection(text, embedding, classifier, threshold=threshold, model_score=model_score)
    if chat_model is None:
        return verdict
    if not needs_second_opinion(verdict):
        return replace(verdict, second_opinion="not_needed")
    return with_second_opinion(verdict, await ask_second_opinion(chat_model, text), threshold=threshold)
