"""Crisis perception: a message that says the user may be in danger, from themselves or from someone else.

Two kinds:

* ``self_harm``: suicidal thoughts or intent, self-harm ("I sometimes think about killing myself").
* ``abuse``: danger from others: violence, abuse, threats, assault ("my husband hits me when he drinks").

A crisis is a signal of its own, beside emotion: the reply turns to care, the memory is kept out of shared
contexts and no injection consequence applies (see the README's "Reactions" section). A miss costs far more
than a false alarm, so the rules lean towards recall, while figures of speech ("this traffic is killing me",
"I could die of boredom", "I'm dying to see it") are recognised and cleared.

:func:`detect_crisis` is the rule layer. A learned score (the perception model) can be combined with it through
:func:`combine`; a rule match always stands, because phrases like "kill myself" are unambiguous enough that no
model should talk the companion out of caring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from typing_extensions import TypedDict

__all__ = [
    "CRISIS_KINDS",
    "CRISIS_THRESHOLD",
    "Crisis",
    "CrisisData",
    "CrisisKind",
    "CrisisSource",
    "combine",
    "detect_crisis",
    "everyday_routine",
    "figure_of_speech",
]

CrisisKind = Literal["self_harm", "abuse"]
#: What flagged it: a rule, the perception model, the nearest known crisis statements (``tools.crisis_neighbours``).
CrisisSource = Literal["rule", "model", "neighbours", "none"]
_SOURCES: tuple[CrisisSource, ...] = ("rule", "model", "neighbours")
CRISIS_KINDS: tuple[CrisisKind, ...] = ("self_harm", "abuse")

#: A learned score at or above this flags a crisis (rules flag at 1.0).
CRISIS_THRESHOLD = 0.5


class CrisisData(TypedDict):
    """:meth:`Crisis.to_dict`: the crisis verdict as state, JSON and the REST schema carry it."""

    flagged: bool
    kind: CrisisKind | None
    score: float
    source: CrisisSource


@dataclass(frozen=True, slots=True)
class Crisis:
    """The crisis verdict on one message.

    Attributes:
        flagged: True when the message signals danger to the user.
        kind: ``self_harm`` or ``abuse`` when flagged, else None.
        score: 0-1; 1.0 for a rule match, else the model's calibrated score, or the neighbours' when they flagged
            (both with their decision point at :data:`CRISIS_THRESHOLD`).
        source: ``rule``, ``model``, ``neighbours`` or ``none``.
    """

    flagged: bool
    kind: CrisisKind | None
    score: float
    source: CrisisSource = "none"

    def to_dict(self) -> CrisisData:
        """A JSON-able dict."""
        return {"flagged": self.flagged, "kind": self.kind, "score": round(self.score, 4), "source": self.source}

    @classmethod
    def from_dict(cls, data: CrisisData | dict[str, Any] | None) -> Crisis:
        """Inverse of :meth:`to_dict`; ``None`` (a detection stored before crisis perception) is no crisis."""
        if not data:
            return NO_CRISIS
        kind, source = data.get("kind"), data.get("source")
        return cls(
            flagged=bool(data.get("flagged")),
            kind=kind if kind in CRISIS_KINDS else None,
            score=float(data.get("score") or 0.0),
            source=next((known for known in _SOURCES if known == source), "none"),
        )


NO_CRISIS = Crisis(flagged=False, kind=None, score=0.0, source="none")

_FLAGS = re.IGNORECASE

# Suicidal thoughts or intent, self-harm. First person, or a wish not to exist.
_SELF_HARM = re.compile(
    r"\b(?:"
    r"kill(?:ing)?\s+my\s*self|end(?:ing)?\s+(?:my|it)\s+(?:own\s+)?(?:life|all)|take\s+my\s+(?:own\s+)?life"
    # not the attack, the film, the door or the sprint that share the word
    r"|suicid(?:e|al)(?!\s+(?:bomb\w*|attacks?|missions?|squad|doors?|runs?|sprints?|drills?|squeeze))"
    r"|commit(?:ting)?\s+suicide|(?:want|wanted|wanting|going)\s+to\s+die\b(?!\s+(?:of|from|laughing))"
    r"|wish\s+(?:i\s+(?:was|were)|to\s+be)\s+dead|(?:better\s+off|rather\s+be)\s+dead"
    r"|(?:everyone|they|people|the\s+world)\s+(?:would\s+be\s+)?better\s+off\s+without\s+me"
    # "a face I don't want to wake up to" and waking up next to someone are about the morning, not about living
    r"|(?:don'?t|do\s+not|no\s+longer)\s+want\s+to\s+(?:live|be\s+alive|exist"
    r"|wake\s+up(?!\s+(?:(?:next\s+to|beside|with|to\s+(?:that|this|his|her|your|their|a)\s+face|to\s+(?:in|every|each))\b"
    r"|to\s*[.!?,]*$|(?:so\s+)?early\b|at\s+\d|before\b|on\s+time\b|for\s+(?:work|school|class)\b)))"
    r"|no\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|going\s+on)"
    # the question form, about going on at all ("what's the point of going on like this"; not "going on the trip")
    r"|what'?s\s+the\s+point\s+(?:of|in)\s+(?:living|being\s+alive|staying\s+alive"
    r"|(?:going|carrying)\s+on(?=\s*(?:[.,!?;]|$|like\s+this|anymore|any\s+more)))"
    # not expecting to grow older ("I don't see myself getting older than this year")
    r"|(?:don'?t|can'?t|do\s+not|cannot)\s+see\s+myself\s+(?:getting\s+(?:any\s+)?older|living\s+(?:past|beyond|much\s+longer)"
    r"|(?:still\s+)?(?:being\s+)?(?:here|alive|around)\s+(?:next\s+year|in\s+a\s+(?:year|month)))"
    # a means made ready: a noose tied (not the sailing knot)
    r"|(?:tied|tying|made|making|hung|hanging|put\s+up|set\s+up)\s+(?:a|the|my)\s+noose\b(?!\s+knot)"
    # an accident is not self-harm ("I cut myself shaving", "burned myself on the oven"; not "with a razor")
    r"|(?:hurt(?:ing)?|cut(?:ting)?|harm(?:ing)?|burn(?:ing)?|starv(?:e|ing))\s+my\s*self\b"
    r"(?!\s+(?:(?:while|when)\s+)?(?:shaving|cooking|chopping|slicing|gardening|opening|cleaning|baking|ironing"
    r"|on\s+(?:a|an|the|some|my)\s+(?!purpose\b|(?:arms?|wrists?|legs?|thighs?|stomach|skin|hips?|body|chest|face|hands?)\b)|by\s+accident|accidentally|at\s+(?:the\s+)?(?:gym|work)|playing|lifting"
    r"|running|(?:when|while)\s+i\s+(?:fell|slipped|tripped)))"
    r"|self[-\s]?harm"
    r"|(?:cut|cutting|burn|burning|scratch|scratching|carve|carving)\s+my\s+(?:arms?|wrists?|legs?|thighs?|skin|stomach)\b"
    r"[^.!?]{0,30}\b(?:with\s+(?:a\s+)?(?:lighter|razor|blade|knife|cigarette|scissors)|on\s+purpose|again|to\s+feel)"
    r"|overdos(?:e|ing)\b|(?:jump|jumping)\s+off\s+(?:a|the)\s+(?:bridge|roof|building)"
    # "I'd jump off a bridge for a slice of pizza" is devotion or appetite; "for real" and "for good" are not
    r"(?!\s+for\s+(?!real\b|good\b|sure\b))"
    r"|can'?t\s+(?:go\s+on|do\s+this\s+anymore)\s+(?:living|with\s+life)"
    # "i can't go on like this" (not "can't go on like this with the noise upstairs", which names what to change)
    r"|can'?t\s+go\s+on\s+(?:like\s+this|anymore|any\s+more)\s*(?:[.!]|$|,?\s*i\s+(?:really\s+)?(?:can'?t|mean\s+it))"
    # the internet's words for it: kms, ctb, unalive, sewerslide (not "kms lol" about homework, which stays a figure)
    r"|\bunalive\s+(?:my\s*self|me)\b|\bsewerslide\b|\bctb(?:'?d)?\b(?=[^.!?]{0,40}\b(?:tonight|this\s+weekend|soon|i\s+think"
    r"|last\s+night|almost|today|tomorrow))|\bkms\b(?=[^.!?]{0,30}\b(?:tonight|for\s+real|i\s+mean\s+it|not\s+joking))"
    r"|k+i+l+\s*(?:my|me)\s*(?:slef|selv|sefl|slf|self)\b"
    r"|(?:want|wants|wanting)\s+to\s+(?:be\s+dead|not\s+wake\s+up|never\s+wake\s+up)\b"
    r"|check\s+out\s+(?:permanently|for\s+good)|(?:not|n'?t)\s+(?:going\s+to|gonna)\s+be\s+around\s+(?:much\s+)?longer"
    r"|(?:wouldn'?t|would\s+not)\s+mind\s+if\s+(?:a|the|some)\s+(?:bus|car|truck|lorry|train)\s+(?:hit|ran\s+over|killed)\s+me"
    r"|if\s+(?:my|the)\s+(?:plane|flight)\s+(?:went|goes|came|comes)\s+down\b[^.!?]{0,25}\b(?:grateful|relief|fine|glad|happy)"
    # passive ideation as the Columbia scale's first question words it: go to sleep and not wake up
    r"|(?:go\s+to\s+sleep|fall\s+asleep|sleep)\s+and\s+(?:never|not|just\s+not)\s+wake\s+up\b(?!\s+(?:until|till|before|early|for\s+(?:a|\d)))"
    # the warning signs public crisis lines list: hoping to die, tired of living, nothing to live for, a burden
    # leaving soon, a plan, a lethal dose asked about, a means at hand
    r"|hop(?:e|ing)\s+(?:that\s+)?i\s+(?:crash|die\b(?!\s+(?:laughing|of|from))|don'?t\s+wake\s+up|never\s+wake\s+up"
    r"|get\s+hit\s+by)|hop(?:e|es|ing)\s+(?:that\s+)?(?:the|my)\s+(?:plane|flight)\s+(?:crashes|goes\s+down)"
    r"|wish\s+i\s+(?:could\s+|would\s+)?(?:just\s+)?(?:die\b(?!\s+(?:laughing|of|from|my\s+hair))|disappear\s+forever"
    r"|stop\s+existing|didn'?t\s+exist|never\s+wake\s+up)"
    r"|tired\s+of\s+(?:existing|being\s+alive|fighting\s+to\s+(?:stay|live)"
    r"|living(?=\s*(?:[.,!?;]|$|anymore|any\s+more)))"
    r"|nothing\s+(?:left\s+)?to\s+live\s+for|(?:except|but|other\s+than)\s+ending\s+it\b"
    r"|burden\b[^.!?]{0,40}\b(?:much\s+longer|for\s+good)\b|out\s+of\s+everyone'?s\s+way\b[^.!?]{0,20}\b(?:soon|for\s+good)"
    r"|(?:planned|picked|chose|chosen)\s+(?:the\s+)?(?:date|day|place|way)\s+(?:to\s+|i'?ll\s+|i'?m\s+going\s+to\s+)die"
    r"|how\s+many\s+(?:\w+\s+)?(?:pills|tablets|paracetamol|tylenol)\s+(?:would|does|will)\s+it\s+take\s+to\s+"
    r"(?:die|kill|not\s+wake|never\s+wake|end\s+it|overdose)"
    r"|(?:going\s+to|gonna|want\s+to|could\s+just|should\s+just)\s+take\s+all\s+(?:of\s+)?(?:my|the|these|those)\s+"
    r"(?:pills|meds|tablets)"
    # warning signs the crisis lines list, told plainly: a means bought and mentioned for no reason, a note
    # written for someone to find, peace made with "going through with it", not expecting to be there, goodbye
    # forever to family
    r"|\b(?:bought|got|ordered|picked\s+up)\s+(?:a|some|the)\s+(?:rope|noose|razor\s+blades?|blades|rat\s+poison"
    r"|charcoal|gun|bullets)\b[^?]{0,60}\b(?:don'?t|do\s+not)\s+know\s+why\s+i'?m\s+telling\s+(?:you|anyone)"
    r"|\bi(?:'ve|\s+have)?\s+(?:already\s+|just\s+)?(?:written|wrote|writing|left)\s+(?:the|a|my)\s+"
    r"(?:(?:suicide|goodbye|farewell)\s+note\b|note\b[^.!?]{0,60}\b(?:who\s+to\s+leave\s+it|where\s+to\s+leave\s+it"
    r"|who\s+(?:will|'ll)\s+find\s+it|(?:for|so)\s+(?:my\s+)?(?:family|parents|kids|mom|mum|dad|wife|husband)\s+"
    r"(?:to|can|will)\s+find))"
    r"|made\s+(?:my\s+)?peace\s+with\s+it\b[^?]{0,80}\bgo\s+through\s+with\s+it"
    r"|(?:don'?t|do\s+not)\s+think\s+i'?(?:ll|\s+will)\s+(?:still\s+)?(?:be\s+)?(?:around|here|alive)\s+(?:for|by|at|to\s+see)\s+"
    r"(?:my|the|next|christmas|new\s+year)\b(?![^.!?]*\b(?:travel\w*|trip|abroad|away|vacation|holiday|business"
    r"|conference|work(?:ing)?|shift|moving|visiting|camp\w*|hospital)\b)"
    r"|\b(?:told|said)\s+(?:my\s+(?:sister|brother|mom|mum|mother|dad|father|parents|family|kids|children|son|daughter"
    r"|best\s+friend)|everyone)\s+goodbye\s+(?:forever|for\s+good)\b"
    # an overdose taken: a handful, a whole bottle, dozens ("took a handful of my mom's pills an hour ago")
    r"|(?:^|\bi\s+(?:just\s+)?|\bi'?ve\s+(?:just\s+)?)(?:took|swallowed|taken)\s+(?:a\s+handful|a\s+bunch"
    r"|(?:a|the)\s+whole\s+(?:bottle|pack|packet|box|strip)|\d{2,})\s+(?:of\s+)?[^.!?]{0,25}?"
    r"\b(?:pills|meds|tablets|painkillers|capsules|antidepressants|paracetamol|tylenol|ibuprofen)\b"
    r"|(?<!with\sa\s)(?<!like\sa\s)gun\s+(?:in\s+my\s+(?:lap|mouth)|to\s+my\s+head)"
    r"|(?:jump|jumping|step|stepping|throw\s+myself)\s+in\s+front\s+of\s+(?:a|the)\s+(?:train|bus|truck|lorry|car)"
    # a world imagined without the user, better or unmoved ("nobody would notice if I never came back", "they'd
    # get the insurance money if I was gone")
    r"|(?:nobody|no\s+one|no-one)\s+(?:would|will|'d)\s+(?:even\s+)?(?:notice|care|miss\s+me)\s+if\s+i\s+"
    r"(?:died|was\s+gone|were\s+gone|disappeared|never\s+came\s+back|wasn'?t\s+here|killed\s+myself|was\s+dead)"
    r"|(?:better|easier|happier|insurance)\b[^.!?]{0,40}\bif\s+i\s+(?:was|were)\s+(?:gone|dead|not\s+here|not\s+around)"
    # done with life itself (not "done with this job"), and a morning one would rather not wake up to
    r"|done\s+with\s+(?:life|living|being\s+alive)\b"
    r"|(?:rather|prefer\s+to)\s+(?:just\s+)?(?:not|never)\s+wake\s+up\b(?!\s+(?:until|till|before|early)\b)"
    # other languages: first-person phrases for killing or hurting oneself and not wanting to live (not "my mother
    # will kill me", which these languages say as English does)
    r"|suicidarme|quitarme\s+la\s+vida|quiero\s+morir(?:me)?\b(?!\s+de\b)"
    r"|(?:quiero|voy\s+a|pienso\s+en|ganas\s+de)\s+hacerme\s+daño"
    r"|no\s+quiero\s+(?:seguir\s+)?vivir\b(?!\s+(?:en|con|aqu[ií]|all[aá]|cerca|lejos)\b)"
    r"|(?:will|möchte|werde|würde)\s+mich\s+umbringen|mich\s+umzubringen|mich\s+(?:selbst\s+verletzen|ritzen)"
    r"|mir\s+das\s+leben\s+(?:nehmen|zu\s+nehmen)|will\s+nicht\s+mehr\s+leben"
    r"|farla\s+finita\b(?!\s+con\s+(?!(?:la|questa|mia)\s+vita))|togliermi\s+la\s+vita"
    r"|(?:voglio|vorrei|penso\s+di|ho\s+pensato\s+di|sto\s+pensando\s+di)\s+uccidermi|voglio\s+morire"
    r"|non\s+(?:ce\s+la\s+faccio|voglio)\s+più\s+(?:a\s+)?vivere"
    r"|me\s+suicider|mettre\s+fin\s+à\s+mes\s+jours|en\s+finir\s+avec\s+(?:la\s+vie|ma\s+vie|tout\s+ça)|(?:je\s+veux|envie\s+de)\s+me\s+faire\s+du\s+mal"
    r"|(?:quero|vou|penso\s+em|pensado\s+em|pensando\s+em|queria)\s+me\s+(?:matar|machucar)"
    r"|tirar\s+(?:a\s+)?minha\s+(?:própria\s+)?vida"
    r"|покончить\s+(?:с\s+собой|со\s+всем)|убить\s+себя|не\s+хочу\s+(?:больше\s+)?жить"
    # the suicide noun in the other languages, and the same wishes in other words
    r"|\bsuicid(?:io|ios|ar|arme|er|é|ée)\b|\bsuizid|самоубийств"
    r"|(?:will|möchte|wäre)\s+(?:einfach\s+)?(?:nur\s+noch\s+)?(?:lieber\s+)?tot(?:\s+sein)?\b|lieber\s+tot\s+wäre"
    r"|(?:hoff\w*|wünsch\w*)[^.!?]{0,20}\bnicht\s+mehr\s+(?:aufzuwachen|aufwache)|(?:wieder\s+)?geritzt\b|\britze\s+mich"
    r"|schluss\s+(?:mit\s+allem|machen\s+mit\s+(?:allem|meinem\s+leben))"
    r"|no\s+quiero\s+seguir\s+viviendo|(?:creo\s+que\s+)?(?:este\s+finde|hoy|mañana|esta\s+noche)\s+me\s+mato\b"
    r"|pienso\s+en\s+matarme|ganas\s+de\s+(?:morir|matarme)|(?:dormirme|dormir)\s+y\s+no\s+despertar"
    # (a haircut, a nail or a shave is not: "me corté el pelo", "me cortei fazendo a barba", "mi sono tagliata i
    # capelli")
    r"|(?:me\s+(?:volví\s+a\s+)?(?:cort[eé]|quem[eé])|volví\s+a\s+(?:cortarme|quemarme)|me\s+cortei|mi\s+sono\s+tagliat[oa])\b"
    r"(?!\s+(?:el|la|las|los|o|a|os|as|i|le|il|un|uno|una)\s+(?:pelo|cabello|uñas?|flequillo|barba|cabelo|unhas?|franja"
    r"|capelli|unghie|frangia|dedo|dito)\b|\s+(?:fazendo|afeitando|afeitándome|cocinando|cozinhando|mentre|con\s+la\s+carta"
    r"|cortando|tagliando|sin\s+querer|sem\s+querer|per\s+sbaglio))"
    r"|envie\s+de\s+(?:mourir|crever)|me\s+foutre\s+en\s+l'air|d[ée]cid[ée]\s+d'en\s+finir|(?:pr[ée]f[ée]r\w*)\s+mourir"
    r"|disparaître\s+pour\s+de\s+bon|me\s+tuer\b(?=[^.!?]{0,20}\b(?:ce\s+soir|ce\s+week|demain|bientôt))"
    r"|(?:quero|queria)\s+(?:muito\s+)?morrer|planejando\s+me\s+matar|vou\s+acabar\s+com\s+(?:isso|tudo)"
    r"|(?:se|que)\s+eu\s+não\s+acordasse|sumir\s+pra\s+sempre"
    r"|(?:voler|vorrei|voglio)\s+morire|preferire\w*\s+essere\s+mort[oa]|(?:la\s+)?faccio\s+finita"
    r"|non\s+mi\s+svegliassi|уби(?:ть|ю)\s+себя|хочу\s+умереть|не\s+хочу\s+просыпаться"
    r")",
    _FLAGS,
)

# Danger from others: someone hurts, threatens or abuses the user.
_PERSON = (
    r"(?:he|she|they|my\s+(?:husband|wife|partner|boyfriend|girlfriend|bf|gf|hubby|fianc[ée]e?|ex|dad|father|mom|mum"
    r"|mother|stepdad|stepfather|stepmom|stepmother|stepbrother|stepsister|(?:older\s+|big\s+)?brother|(?:older\s+|big\s+)?sister"
    r"|uncle|aunt|cousin|grandpa|grandfather|grandma|boss|manager|coach|teacher|tutor|roommate|landlord|son|daughter"
    r"|carer|caregiver))"
)
# "he hits me", "he always hits me", "he keeps hitting me"
_HOW_OFTEN = r"\s+(?:always\s+|often\s+|sometimes\s+|keeps?\s+|still\s+)?"
_ABUSE = re.compile(
    r"\b(?:"
    + _PERSON
    + _HOW_OFTEN
    + r"(?:hits?|beats?|hit|beat|punche[sd]|punch|kicks?|kicked|chok(?:es|ed)|strangl(?:es|ed)|slap(?:s|ped)"
    r"|rap(?:es|ed)|hurts?|abuses?|abused|threaten(?:s|ed)\s+to\s+(?:kill|hurt|beat)|locks?\s+me\s+in|slaps?|touche[sd]"
    r"|grope[sd]?|molest(?:s|ed))\s+me\b"
    # "they beat me to it": someone was quicker; "he hit me with a pillow": a game; "punched me in the arm for
    # spoiling the movie": a sibling's telling-off
    r"(?!\s+to\s+(?:it|the\s+punch)\b)(?!\s+(?:playfully|lightly|(?:in|on)\s+the\s+(?:arm|shoulder)\s+for)\b)"
    r"(?!\s+with\s+(?:a|the|his|her|their|my)\s+(?:pillow|snowball|water\s+(?:balloon|gun|pistol)|nerf\s+\w+|foam\s+\w+"
    r"|beach\s+ball|frisbee|cushion|paper\s+ball|balloon)s?\b)"
    r"|threaten(?:s|ed|ing)\s+to\s+kill\s+me"
    r"|(?:said|says|told\s+me|threaten\w*)\s+(?:that\s+)?(?:they|he|she)(?:'ll|\s+will|\s+would|'d|\s+(?:is|are)\s+going\s+to)"
    r"\s+(?:stab|kill|shoot|hurt|beat\s+up|jump|attack|rape)\s+me"
    r"|(?:i\s+was|i'?ve\s+been|i\s+am|i'?m\s+being)\s+"
    r"(?:raped|sexually\s+assaulted|abused|assaulted|beaten|stalked)"
    r"|afraid\s+(?:he|she|they)(?:'ll|\s+will|\s+might|\s+is\s+going\s+to)\s+(?:kill|hurt)\s+me"
    # scared to go home, not of the news one has to bring there ("scared to go home and tell my parents I failed")
    r"|(?:scared|afraid)\s+(?:to\s+go\s+home(?!\s+(?:and|to)\s+(?:tell|show|face\s+(?:the|my)\s+(?:music|grades?)))"
    r"|for\s+my\s+life)|someone\s+is\s+(?:following|stalking)\s+me"
    # a weapon announced for school or work
    r"|(?:bring(?:ing)?|brought|tak(?:e|ing))\s+(?:a|his|her|their|the|\w+'s)\s+(?:\w+'s\s+)?(?:gun|rifle|pistol"
    r"|weapon|bomb)\s+to\s+(?:school|class|work|the\s+office|campus)|shoot\s+up\s+(?:the|my|our)\s+(?:school|class|office)"
    r"|" + _PERSON + _HOW_OFTEN + r"(?:push(?:es|ed)?|shov(?:es|ed)"
    r"|pins?|pinned|holds?|held)\s+me\s+(?:down|against)"
    r"|" + _PERSON + r"\s+(?:strangled|chokes|choked)\s+me\b"
    # pushed down the stairs, a plate thrown at one's head, hair pulled, a head held under water, intimate grabbing
    r"|"
    + _PERSON
    + _HOW_OFTEN
    + r"(?:push(?:es|ed)?|shov(?:es|ed)|threw\s+me|throws\s+me)\s+(?:me\s+)?down\s+the\s+stairs"
    r"|"
    + _PERSON
    + _HOW_OFTEN
    + r"(?:threw|throws|throw)\s+(?:a|the|his|her|their)\s+\w+\s+at\s+(?:me|my\s+(?:head|face))\b"
    r"|" + _PERSON + _HOW_OFTEN + r"(?:pulls?|pulled|yanks?|yanked)\s+my\s+hair"
    r"|" + _PERSON + _HOW_OFTEN + r"(?:holds?|held|pushe[sd]|push)\s+my\s+head\s+under"
    r"|\bgrabbed\s+my\s+(?:ass|butt|bum|breasts?|boobs?|crotch|chest)\b|\b(?:stranger|guy|man|someone)\s+grabbed\s+me\b"
    r"|touched\s+me\s+when\s+i\s+was\s+(?:little|young|a\s+kid|a\s+child|\d+)"
    r"|\bi(?:'m|\s+am)\s+being\s+groomed|(?:i\s+think\s+)?i'?m\s+being\s+groomed"
    r"|(?:i\s+get|i\s+got|i\s+was|i'?ve\s+been)\s+(?:hit|beaten|slapped|kicked|choked|strangled|punched)"
    r"\s+(?:if|when|every|again|last)\b"
    r"|(?:things|stuff)\s+to\s+me\s+(?:that\s+)?i\s+(?:didn'?t|did\s+not)\s+(?:agree|consent|want)"
    r"|(?:made|makes|forced|forces)\s+me\s+(?:to\s+)?(?:do|touch)\s+(?:things|stuff)\s+(?:to|with|for)\s+(?:him|her|them)"
    r"|(?:tell|told)\s+(?:the\s+)?(?:doctor|nurse|teacher|police|everyone|people)\s+(?:that\s+)?i\s+"
    r"(?:walked\s+into|fell\b(?!\s+(?:asleep|in\s+love|for)))"
    r"|(?:ask|need)\s+(?:his|her|their|my\s+[\w-]+'s)?\s*permission\s+to\s+(?:leave\s+the\s+house|eat)"
    # coercive control by a partner or carer: kept from family, friends, a phone, the door (not "my mum won't let
    # me go out on a school night")
    r"|(?:husband|wife|partner|boyfriend|girlfriend|fianc[ée]e?|daughter-in-law|son-in-law|carer|caregiver|he|she)"
    r"\b[^.!?]{0,30}?\s(?:won'?t|doesn'?t|does\s+not|will\s+not|never)\s+lets?\s+me\s+(?:see\s+my\s+(?:family|friends|parents|kids)"
    r"|use\s+(?:the|my)\s+phone|call\s+(?:my|anyone)|leave\s+the\s+(?:house|flat|apartment)|have\s+(?:my\s+own\s+)?money)"
    r"|(?:i'?m|i\s+am|i\s+feel)\s+(?:so\s+|really\s+|very\s+|genuinely\s+)?(?:scared|afraid|terrified|frightened)\s+of\s+my\s+"
    r"(?:husband|wife|partner|boyfriend|girlfriend|dad|father|stepdad|stepfather|mom|mum|mother|stepmom|stepmother"
    r"|brother|uncle|son|carer)\b(?!'s|\s+(?:finding|seeing|knowing|reaction|when|if|will|might|being\s+(?:mad|angry|upset)))"
    # sexual images as a threat, abuse recalled from childhood, a child not fed
    r"|threaten\w*\s+to\s+(?:post|share|send|leak|publish|upload)\s+(?:the|my|our|those|these)\s+(?:\w+\s+)?"
    r"(?:video|videos|pictures|photos|pics|nudes|images)"
    r"|(?:made|makes|forced)\s+me\s+do\s+(?:stuff|things)\s+when\s+i\s+was\s+(?:little|young|a\s+kid|a\s+child|\d+)"
    r"|(?:mom|mum|mother|dad|father|stepmom|stepmother|stepdad|stepfather|parents|foster\s+\w+)\s+(?:doesn'?t|don'?t"
    r"|won'?t|never)\s+feeds?\s+(?:us|me)\b"
    r"|(?:tells|calls|told|called)\s+me\s+(?:i'?m\s+|i\s+am\s+)?(?:worthless|useless|a\s+waste\s+of\s+space|nothing"
    r"|pathetic)\b[^.!?]{0,30}\b(?:every\s+(?:day|single\s+day)|all\s+the\s+time|constantly|always)"
    # other languages: choked, shoved, held in
    r"|hat\s+mich\s+gewürgt|würgt\s+mich|me\s+(?:bouscule|cogne|gifle|étrangle)\b|me\s+traite\s+de\s+moins\s+que\s+rien"
    r"|не\s+(?:выпускает|выпускают|пускает)\s+меня\s+из\s+(?:квартиры|дома|комнаты)"
    r"|(?:marido|novio|pareja|esposo|novia|esposa)\s+(?:\w+\s+){0,4}no\s+me\s+deja\s+salir"
    r"|amenaz\w*\s+con\s+matarme|menace\s+de\s+me\s+tuer|droht\w*,?\s+mich\s+umzubringen"
    r"|amea[çc]a\w*\s+(?:me\s+matar|matar-me)|minaccia\w*\s+di\s+uccidermi"
    r"|(?:schlägt|verprügelt)\s+mich|me\s+(?:pega|golpea)\b|me\s+frappe\b|me\s+bate\b|бь[её]т\s+меня"
    r"|mich\s+gewürgt|fasst\s+mich\s+(?:ständig\s+|immer\s+)?an\b|droht\w*[^.!?]{0,30}\bnacktbilder|mich\s+gezwungen"
    r"|me\s+empuj[óo]\s+contra|me\s+amenaza\s+con|me\s+tira\s+del\s+pelo|me\s+encierra"
    r"|m'a\s+gifl[ée]e?|me\s+touche\s+(?:dès|quand|tout)|chantage\s+avec\s+mes\s+photos|me\s+fait\s+des\s+choses"
    r"|me\s+bateu|me\s+deixa\s+sem\s+comer|(?:pra|para)\s+me\s+amea[çc]ar|passou\s+a\s+mão\s+em\s+mim"
    r"|mi\s+ha\s+dato\s+uno\s+schiaffo|mi\s+picchia|minaccia\s+di\s+mandare\s+le\s+mie\s+foto|mi\s+chiude\s+fuori"
    r")",
    _FLAGS,
)

# Figures of speech that use crisis words for everyday feelings; they clear a rule match in the same clause.
_FIGURATIVE = re.compile(
    r"\b(?:"
    r"(?:killing|kill)\s+me\b(?!\s+(?:to|if))|dying\s+to\b|to\s+die\s+for|die\s+(?:of|from)\s+"
    r"(?:boredom|embarrassment|laughter|laughing|cuteness|shame|hunger|thirst)|(?:dead|died)\s+(?:lol|lmao|haha)"
    r"|i'?m\s+dead\b(?!\s+(?:serious|inside))|(?:lol|lmao|haha|jk|just\s+kidding)\b"
    r"|(?:embarrass\w*|awkward|cringe\w*|mortified)\b[^.!?]{0,30}\b(?:want|wanted)\s+to\s+die\b"
    r")",
    _FLAGS,
)

# Figures of speech that the learned layers (model, neighbours) take for crises because they use the words: a
# thing that is "killing me", dying of hunger or laughter, being beaten at a game. Narrower than _FIGURATIVE (no
# joke markers, no "kill me if..."), because here it overrules a learned verdict rather than a rule.
_PEOPLE = (
    r"husband|wife|partner|boyfriend|girlfriend|ex|dad|father|mom|mum|mother|stepdad|stepfather|stepmom|stepmother"
    r"|brother|sister|uncle|aunt|boss|roommate|landlord|son|daughter|family|parents|neighbou?r"
)
_FIGURE_OF_SPEECH = re.compile(
    r"\b(?:"
    r"(?:this|that|the|these|those|my|your|our)\s+(?!(?:" + _PEOPLE + r")\b)[\w-]+(?:\s+[\w-]+)?\s+"
    r"(?:is|are|was|were|'s|'re)\s+(?:\w+\s+)?killing\s+me\b(?!\s+(?:to|if))"
    r"|kill\s+me\s+now|kill(?:ed|ing)\s+it\b|would\s+kill\s+for\b"
    r"|(?:sleep|hibernate)\s+for\s+(?:a|an|the\s+next|\d+)\s+(?:weeks?|months?|years?|days|hours)\b"
    r"|bury\s+myself\s+(?:under|in)\s+(?:a|the|my)\s+(?:blankets?|covers|duvet|pillows?|work|books|bed)\b"
    r"|skin\s+me\s+alive|(?:have|want)\s+my\s+head\s+on\s+a\s+(?:plate|platter|stick)"
    # a thing that "killed me" in other languages ("essa prova me matou", "questo caldo mi sta uccidendo")
    r"|(?:ess[ae]|est[ae]|questo|questa|ce|cette|este|esta)\s+\w+\s+(?:me\s+mat(?:ou|a|ando)|mi\s+sta\s+uccidendo"
    r"|mi\s+ha\s+ucciso|m'a\s+tu[ée]|me\s+tue|me\s+est[áa]\s+matando|me\s+mat[óo])"
    # a threat to someone else over a trifle ("ich bring ihn um, wenn er wieder zu spät kommt")
    r"|bring\w*\s+(?:ihn|sie|dich|euch)\s+um,?\s+wenn|убью\s+(?:его|её|ее|тебя|их),?\s+если"
    r"|(?:i'?ll|i\s+will|i'?m\s+going\s+to|gonna)\s+(?:kill|strangle|murder)\s+(?:him|her|them|you|my\s+\w+)\s+if\b"
    r"|(?:dying|die|died|dead)\s+(?:of|from)\s+(?:boredom|embarrassment|laughter|laughing|cuteness|shame|hunger|thirst"
    r"|cringe|heat|curiosity|suspense|jealousy)|dying\s+to\b|died\s+laughing|dead\s+tired"
    # "a view to die for", not "I deserve to die for what I did"
    r"|(?<!want\s)(?<!wanted\s)(?<!deserve\s)(?<!deserved\s)(?<!ready\s)(?<!going\s)to\s+die\s+for\b"
    r"|beat(?:s|ing)?\s+me\s+at\s+(?:chess|cards|poker|tennis|golf|pool|darts|scrabble|monopoly|fifa|mario\s*kart"
    r"|video\s*games|board\s*games|ping\s*pong|basketball|football|soccer|arm\s*wrestling|(?:every|this|that|the)"
    r"\s+game|games?)\b"
    r"|(?:phone|battery|laptop|car|plants?)\s+(?:is\s+|are\s+|was\s+)?(?:dying|died|dead)"
    r"|muero\s+de\s+(?:risa|hambre|sed|vergüenza|calor|frío|sueño|aburrimiento|ganas)"
    r"|meurs\s+de\s+(?:faim|rire|soif|honte|froid|chaud|envie)"
    r"|sterbe\s+vor\s+(?:hunger|langeweile|lachen|scham|hitze|durst|neugier)"
    r"|умр\w*\s+от\s+(?:смеха|скуки|голода|стыда|жары)|умер\w*\s+от\s+(?:смеха|скуки|голода|стыда)"
    r"|morr(?:o|endo)\s+de\s+(?:fome|rir|sede|vergonha|calor|tédio)"
    r")",
    _FLAGS,
)
# Someone else's crisis asked about, or the topic itself ("how can I support my sister, she self-harms", "a
# suicide prevention workshop"): a rule match inside one of these does not count; the model still judges. A
# helpline asked for is not cleared: whoever asks may need it.
_ABOUT_OTHERS = re.compile(
    r"\b(?:she|he|they|friend|" + _PEOPLE + r"|student|patient|colleague|classmate|client|cousin)\b"
    r"(?:'s|\s+(?:is|was|has\s+been|had\s+been|told\s+me\s+(?:she|he|they)|says\s+(?:she|he|they)))?\s+"
    r"(?:self[-\s]?harms?|self[-\s]?harming|suicidal|attempted\s+suicide|tried\s+to\s+kill\s+(?:her|him|them)sel(?:f|ves))"
    r"|\b(?:suicide|self[-\s]?harm)\s+(?:prevention|awareness|rates?|statistics|research"
    r"|training|squad)\b"
    # a story or a lesson about it ("a movie about a man who survived a suicide attempt")
    r"|\b(?:movie|film|documentary|book|novel|memoir|show|series|episode|song|podcast|play|article|essay|paper"
    r"|lecture|talk|course|class|chapter)(?:\s+(?:is|was))?\s+(?:about|on)\s+[^.!?]{0,50}?"
    r"(?:suicid(?:e|al)(?:\s+attempts?)?|self[-\s]?harm\w*)",
    _FLAGS,
)


# Everyday routines a companion hears all day that the learned layers (model, neighbours) take for crises because
# they share a crisis word or shape: a sign-off with a return, medicine taken as meant, a haircut or a kitchen cut,
# being shouted at, a game, things given away for a reason, waking up on a schedule, sitting in the car, a hand
# held, a knot in laces, bad grades to bring home, a will after a life event. Each clears a learned verdict only
# when none of its danger markers is in the message; a rule match still stands. Written on
# ``scripts/data/crisis_companion_rules_dev.jsonl`` and ``crisis_indirect_rules_dev.jsonl``.
# Waking up at an hour, as a schedule asks, is not waking up at all.
_ON_SCHEDULE = (
    r"\s+(?:(?:so|too|really)\s+)?early\b|\s+at\s+\d|\s+before\b|\s+on\s+time\b|\s+for\s+(?:work|school|class)\b"
)
# Despair about living itself, in the words crisis lines list.
_DESPAIR = (
    r"wake\s+up\b(?!"
    + _ON_SCHEDULE
    + r")|\bkill|\bdie\b|\bdead\b|suicid|overdos|no\s+point|can'?t\s+(?:go\s+on|do\s+this)|end\s+it"
    r"|done\s+with\s+(?:everything|it\s+all|life|living)|tired\s+of\s+(?:everything|living|life|being)"
    r"|can'?t\s+take\s+(?:it|this)\s+any\s*more|(?:don'?t|do\s+not)\s+want\s+to\s+(?:live|be\s+here|exist)"
    r"|give\s+up\s+on\s+(?:life|everything)|nothing\s+matters|hopeless|worthless|burden"
)
# Finality: a farewell, affairs put in order, or despair.
_FINAL = (
    r"forever|for\s+good|(?:the|one)\s+last\s+time|won'?t\s+(?:be\s+(?:here|around|back)|need)|when\s+i'?m\s+gone"
    r"|after\s+i'?m\s+(?:gone|dead)|where\s+i'?m\s+going|(?:much|any)\s+longer|goodbye\s+(?:everyone|world|forever)"
    r"|sorry\s+for\s+everything|tell\s+(?:them|everyone|my\s+\w+)\b|take\s+care\s+of\s+(?:my|him|her|them)"
    r"|last\s+(?:message|words|thing)\b(?!\s+(?:tonight|today|for\s+(?:today|tonight|now)|before\s+(?:i|my|the|bed)))"
    r"|" + _DESPAIR
)
# A means or a doubt about being there: "goodnight, I took all my pills" is not a sign-off to wave through.
_MEANS = (
    r"|pills?\b|meds\b|tablets?\b|overdos|poison|bleach|rope|noose|\bgun|bridge|roof|ledge"
    r"|\bjump|\bnote\b|bleed|hurt\s+myself|too\s+many|if\s+i'?m\s+(?:still\s+)?(?:here|alive|around)"
)
# Blades are a means too, except in the kitchen and shaving cuts of the routine that names them.
_BLADES = r"|knife|blade|razor"
# Hurt done by a hand: a grip that holds on, bruises, force.
_FORCE = (
    r"|hard\b|tight|twist|bruis|hurt|wouldn'?t\s+let|couldn'?t\s+(?:get\s+)?(?:away|free)|forc|dragg|pinn|scared"
    r"|afraid|punish|burn|over\s+(?:the|a)\s+(?:cooker|stove|hob|fire|flame|candle)"
)
_ROUTINES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # signing off with a return, or a goodbye at a station, a party, a sale
    (
        re.compile(
            r"\b(?:good\s*night|night\s+night|bye\s+for\s+now|goodbye\s+for\s+now|see\s+(?:you|ya)\b"
            r"|talk\s+(?:to\s+you\s+)?(?:tomorrow|later|soon|in\s+the\s+morning|next\s+week)|catch\s+you\s+later"
            r"|logging\s+off|signing\s+off|heading\s+(?:to\s+bed|out|off)|off\s+to\s+(?:bed|sleep|work)|brb|ttyl"
            r"|i\s+need\s+(?:to|some)\s+sleep"
            r"|said\s+(?:our\s+)?goodbyes?\b[^.!?]{0,60}\b(?:at\s+the\s+(?:airport|station|gate|door|party|bus)"
            r"|drove|went\s+home|sold|moving|moved|retir\w+|last\s+day|holidays?|visit))",
            _FLAGS,
        ),
        # someone else's "see you soon" sent to the user is a threat, not a sign-off
        re.compile(
            _FINAL + _MEANS + _BLADES + r"|[\"“”]|\bsent\b|\btext(?:ed|s)?\b|\bmessag(?:ed|es)\b|\bwrote\b|\bex\b|stalk"
            r"|follow|outside\s+my|my\s+(?:house|address|work)",
            _FLAGS,
        ),
    ),
    # medicine taken as it is meant to be
    (
        re.compile(
            r"\b(?:took|take|taking|taken)\s+(?:my|a|an|one|two|the|some)\s+(?:\w+\s+){0,4}?"
            r"(?:meds|medications?|medicine|pills?|tablets?|vitamins?|painkillers?|ibuprofen|paracetamol|aspirin"
            r"|antibiotics|insulin|inhaler)\b[^.!?]{0,60}\b(?:this\s+morning|with\s+(?:breakfast|food|dinner|water)"
            r"|like\s+the\s+doctor|as\s+(?:prescribed|directed)|on\s+time|every\s+(?:day|morning|night)|slept"
            r"|for\s+(?:my|the|a)\s+(?:\w+\s+)?(?:headache|migraine|cold|flu|cough|pain|back|allerg\w+|period"
            r"|blood\s+pressure|thyroid|heart|infection|fever)|help(?:s|ed|ing)?\b)",
            _FLAGS,
        ),
        re.compile(
            _FINAL + r"|\ball\b|whole|entire|bottle|handful|bunch|too\s+many|extra|double|at\s+once|stockpil"
            r"|sav(?:ed|ing)\s+(?:them\s+)?up|\b\d{2,}\b|on\s+purpose|wine|vodka|alcohol",
            _FLAGS,
        ),
    ),
    # a haircut, a kitchen or shaving cut
    (
        re.compile(
            r"\bcut\s+(?:my|her|his)\s+(?:own\s+)?(?:hair|bangs|fringe|nails|beard)\b"
            r"|\b(?:cut|nicked|sliced)\s+(?:myself|my\s+(?:finger|thumb|hand))\b[^.!?]{0,30}"
            r"\b(?:shaving|cooking|chopping|slicing|opening|cutting|gardening|knife\s+while|by\s+accident|accidentally)",
            _FLAGS,
        ),
        re.compile(
            _FINAL + _MEANS + r"|on\s+purpose|again|to\s+feel|deserve|punish|relief"
            r"|numb|wrists?|arms?\b|thighs?",
            _FLAGS,
        ),
    ),
    # shouted at, with nothing worse
    (
        re.compile(r"\b(?:yelled|shouted|screamed|snapped)\s+at\s+(?:me|us)\b", _FLAGS),
        re.compile(
            _FINAL
            + _MEANS
            + _BLADES
            + r"|\bhit|slap|punch|kick|chok|strangl|threw|throw|shov|push|grab|hurt|scared|afraid"
            r"|terrified|bruis|every\s+(?:day|night)|always|lock",
            _FLAGS,
        ),
    ),
    # a game or an accident
    (
        re.compile(
            r"\b(?:pillow\s+fight\w*|play[-\s]?fight\w*|by\s+accident|accidentally|tickl\w+|sparring"
            r"|rough[-\s]?hous\w*|during\s+(?:the|our|a)\s+(?:game|match|practice))\b",
            _FLAGS,
        ),
        re.compile(
            _FINAL + _MEANS + _BLADES + r"|chok|strangl|rap(?:e|ed|ing)\b|says\s+it'?s|calls\s+it|claims|pretends"
            r"|but\s+(?:he|she|they)\b|scared|afraid|every\s+(?:day|night)|always"
            r"|(?:not|n'?t|never|no)\s+(?:\w+\s+){0,2}(?:by\s+)?(?:an\s+)?accident",
            _FLAGS,
        ),
    ),
    # things given away for a reason that is not leaving
    (
        re.compile(
            r"\b(?:giv(?:e|ing)|gave)\s+away\b[^.!?]{0,60}\b(?:moving|move|moved|declutter\w*|minimalis\w*"
            r"|never\s+(?:use|listen|wear|play|read)|don'?t\s+(?:use|need|wear|play)|outgr\w+|too\s+small|charity"
            r"|new\s+one|kids\s+are\s+older|no\s+(?:time|room|space))",
            _FLAGS,
        ),
        re.compile(_FINAL + _MEANS + _BLADES, _FLAGS),
    ),
    # waking up on a schedule ("I don't want to wake up early tomorrow")
    (
        re.compile(r"\b(?:wake|get)\s+up(?=" + _ON_SCHEDULE + r")", _FLAGS),
        re.compile(_FINAL + _MEANS + _BLADES + r"|\bever\b|never", _FLAGS),
    ),
    # sitting in the car with music, a call or a meal, not an engine left running
    (
        re.compile(
            r"\bsat\s+in\s+(?:the|my|our)\s+car\b[^.!?]{0,60}\b(?:music|songs?|podcast|radio|phone|scroll\w*|sing\w*"
            r"|eat\w*|lunch|coffee|call\w*|waiting|before\s+going\s+in|parking\s+lot|car\s+park|driveway)",
            _FLAGS,
        ),
        re.compile(_FINAL + _MEANS + _BLADES + r"|engine|running|garage|exhaust|hose|fumes|carbon|monoxide", _FLAGS),
    ),
    # a hand taken or held, with no force
    (
        re.compile(r"\b(?:grabbed|took|held|holding|holds|squeezed)\s+my\s+hand\b", _FLAGS),
        re.compile(_FINAL + _MEANS + _BLADES + _FORCE, _FLAGS),
    ),
    # a knot in laces, a tie or hair
    (
        re.compile(
            r"\bknots?\s+in\s+(?:my|the|his|her)\s+(?:shoe\s*laces?|laces|tie|hair|necklace|yarn|thread)\b", _FLAGS
        ),
        re.compile(_FINAL + _MEANS + _BLADES, _FLAGS),
    ),
    # bad news to bring home: grades, a dent, a tattoo
    (
        re.compile(
            r"\b(?:scared|afraid|nervous|terrified|dreading)\s+(?:(?:to|of)\s+)?(?:go(?:ing)?\s+home\s+(?:and|to)\s+)?"
            r"(?:tell|show)\w*\s+(?:my\s+)?(?:parents|mom|mum|dad|mother|father|family)\b[^.!?]{0,60}"
            r"\b(?:fail\w*|grades?|report\s+card|results?|dent(?:ed)?\b|crash\w*|broke|tattoo|piercing|lost|dropp\w*|quit)",
            _FLAGS,
        ),
        # telling the parents is the routine itself, so a farewell's "tell my mom" is not a marker here
        re.compile(
            _DESPAIR + _MEANS + _BLADES + r"|forever|for\s+good|\bhit|beat|slap|punch|kick|belt|hurt|throw\s+me\s+out"
            r"|lock|starv",
            _FLAGS,
        ),
    ),
    # a will after a life event
    (
        re.compile(
            r"\b(?:my|our)\s+(?:will|wills|life\s+insurance|estate\s+plan\w*)\b[^.!?]{0,80}"
            r"\b(?:baby|born|wedding|married|house|mortgage|lawyer|responsible|adult\s+thing)",
            _FLAGS,
        ),
        re.compile(_FINAL + _MEANS + _BLADES, _FLAGS),
    ),
)


# A danger told as the past it no longer is, right before the phrase.
_RECOVERED = re.compile(r"\bused\s+to\s+(?:\w+\s+)?$", _FLAGS)
_RELAPSE = re.compile(r"\b(?:again|relaps\w*|started|back\s+to|lately|these\s+days)\b", _FLAGS)


def detect_crisis(text: str) -> Crisis:
    """The rule verdict on ``text``: a self-harm or abuse phrase not cleared as a figure of speech."""
    about_others = [(m.start(), m.end()) for m in _ABOUT_OTHERS.finditer(text)]
    for kind, pattern in (("self_harm", _SELF_HARM), ("abuse", _ABUSE)):
        match = next(
            (m for m in pattern.finditer(text) if not any(a <= m.start() and m.end() <= b for a, b in about_others)),
            None,
        )
        if match is None:
            continue
        if _FIGURATIVE.search(text) and not _unambiguous(match.group(0)):
            continue
        if _RECOVERED.search(text[: match.start()]) and not _RELAPSE.search(text):
            continue  # "I used to wish I didn't exist, now I'm planning my wedding" (but not "...and I started again")
        return Crisis(flagged=True, kind=kind, score=1.0, source="rule")  # type: ignore[arg-type]
    return NO_CRISIS


def _unambiguous(phrase: str) -> bool:
    """Phrases that stay a crisis even beside a joke marker ("lol I want to kill myself" is not a joke to dismiss)."""
    return bool(re.search(r"kill(?:ing)?\s+my\s*self|suicid|end(?:ing)?\s+my\s+life|self[-\s]?harm", phrase, _FLAGS))


def everyday_routine(text: str) -> bool:
    """Whether ``text`` tells an everyday routine the learned layers mistake for a crisis, with no danger marker.

    "goodbye for now, talk tomorrow" and "took my meds this morning like the doctor said" are; "goodnight, I hope I
    don't wake up" and "I took all my pills this morning" are not.
    """
    return any(pattern.search(text) and not danger.search(text) for pattern, danger in _ROUTINES)


def figure_of_speech(text: str) -> bool:
    """Whether ``text`` uses crisis words as a figure of speech ("this heat is killing me", "je meurs de faim")."""
    return _FIGURE_OF_SPEECH.search(text) is not None


def combine(
    rule: Crisis,
    model_scores: dict[CrisisKind, float] | None,
    neighbours: tuple[CrisisKind, float] | None = None,
    *,
    ordinary: bool = False,
) -> Crisis:
    """The rule verdict; else the model's when its best kind reaches :data:`CRISIS_THRESHOLD`; else the neighbours'.

    ``neighbours`` is the nearest kind and its score from :mod:`tools.crisis_neighbours` (same scale, same
    threshold). ``ordinary`` (:func:`figure_of_speech` or :func:`everyday_routine` of the text) keeps the learned
    layers from flagging: they know crisis words, not what a figure or a routine does with them; a rule match still
    stands. An unflagged verdict carries the model's best score.
    """
    best_kind, best_score = max((model_scores or {"self_harm": 0.0}).items(), key=lambda item: item[1])
    if rule.flagged:
        return rule
    if ordinary:
        return Crisis(flagged=False, kind=None, score=min(float(best_score), CRISIS_THRESHOLD - 0.01), source="none")
    if model_scores and best_score >= CRISIS_THRESHOLD:
        return Crisis(flagged=True, kind=best_kind, score=float(best_score), source="model")
    if neighbours is not None and neighbours[1] >= CRISIS_THRESHOLD:
        return Crisis(flagged=True, kind=neighbours[0], score=float(neighbours[1]), source="neighbours")
    return Crisis(flagged=False, kind=None, score=float(best_score), source="none")
