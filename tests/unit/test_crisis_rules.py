import pytest

from tools.crisis import NO_CRISIS, Crisis, combine, detect_crisis, everyday_routine, figure_of_speech


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I sometimes think about killing myself", "self_harm"),
        ("I don't want to wake up tomorrow", "self_harm"),
        ("I don't want to wake up to this life again", "self_harm"),
        ("honestly I'm done with living", "self_harm"),
        ("some days I'd rather never wake up", "self_harm"),
        ("je veux en finir avec ma vie", "self_harm"),
        ("I keep cutting my wrists with a razor when it gets bad", "self_harm"),
        ("voglio solo farla finita", "self_harm"),
        ("voglio farla finita con questa vita", "self_harm"),
        ("я хочу покончить со всем", "self_harm"),
        ("mi padre me amenaza con matarme", "abuse"),
        ("my girlfriend won't let me see my friends or use my phone", "abuse"),
        ("I'm so scared of my boyfriend, he gets violent when he drinks", "abuse"),
        ("he threatened to share the pictures I sent him with my whole school", "abuse"),
        ("my stepdad never feeds us when mum works nights", "abuse"),
        ("my stepdad beat me to the ground last night", "abuse"),
        ("everyone would be better off without me", "self_harm"),
        ("I've been cutting myself again", "self_harm"),
        ("lol I want to kill myself", "self_harm"),
        ("sometimes I wish I could go to sleep and not wake up", "self_harm"),
        ("I just want to fall asleep and never wake up", "self_harm"),
        ("how many sleeping pills would it take to not wake up", "self_harm"),
        ("I'm so tired of existing", "self_harm"),
        ("I used to self harm and I started again", "self_harm"),
        ("quiero morir, ya no puedo más", "self_harm"),
        ("ich will mich umbringen", "self_harm"),
        ("my boyfriend holds me down until I stop arguing", "abuse"),
        ("I had to tell the nurse I fell down the stairs", "abuse"),
        ("Mein Mann schlägt mich", "abuse"),
        ("я не хочу больше жить", "self_harm"),
        ("quero me matar", "self_harm"),
        ("My husband hits me when he drinks", "abuse"),
        ("he threatened to kill me if I leave", "abuse"),
        ("I'm scared to go home tonight", "abuse"),
        ("nobody would even notice if I never came back", "self_harm"),
        ("it'd make everyone's life easier if I was gone", "self_harm"),
        ("I keep thinking about stepping in front of a train", "self_harm"),
        ("my neighbour made me do things to him when I was nine", "abuse"),
        ("a guy in my class said he'll stab me after school", "abuse"),
        ("she told me she self-harms, and honestly I want to kill myself too", "self_harm"),
        ("I keep cutting myself on purpose", "self_harm"),
        ("I cut myself on the arm again", "self_harm"),
        ("I cut myself with a razor last night", "self_harm"),
        ("I'm going to jump off the bridge for real this time", "self_harm"),
        ("I watched a movie about suicide and now I want to kill myself", "self_harm"),
        ("he hit me with a belt", "abuse"),
        ("took a handful of my mom's pills about an hour ago", "self_harm"),
        ("I just swallowed a whole bottle of sleeping pills", "self_harm"),
        ("a kid in my class said he's bringing his dad's gun to school on Monday", "abuse"),
        ("I bought a rope yesterday and I don't know why I'm telling you", "self_harm"),
        ("I've already written the note, I just don't know who to leave it for", "self_harm"),
        ("I've made my peace with it, I just need to find the courage to go through with it", "self_harm"),
        ("I don't think I'll be around for my birthday next month", "self_harm"),
        ("I told my sister goodbye forever and turned off my phone", "self_harm"),
        ("made a noose in my room tonight", "self_harm"),
        ("whats the point of carrying on anymore", "self_harm"),
        ("I can't see myself living past this winter", "self_harm"),
        ("I keep hoping my flight crashes", "self_harm"),
        ("I'm scared to go home, my stepdad will be there", "abuse"),
        ("me corté los brazos otra vez anoche", "self_harm"),
        ("me cortei de novo ontem, escondo com moletom", "self_harm"),
        ("ich will einfach nur noch tot sein", "self_harm"),
        ("penso al suicidio ogni giorno", "self_harm"),
        ("my bf pushed me down the stairs again", "abuse"),
        ("i can't go on like this. i really can't", "self_harm"),
    ],
)
def test_crisis_phrases_are_flagged_with_their_kind(text: str, kind: str) -> None:
    crisis = detect_crisis(text)
    assert crisis.flagged and crisis.kind == kind and crisis.source == "rule"


@pytest.mark.parametrize(
    "text",
    [
        "this traffic is killing me",
        "I could die of boredom in this meeting",
        "I'm dying to see the new movie",
        "that cake was to die for",
        "I want to die laughing at this video lol",
        "My dog died last year and I still miss him",
        "the killer in that show was terrifying",
        "I want to sleep and not wake up until noon on Saturday",
        "I'm so embarrassed I want to die, I called my teacher mom",
        "I used to wish I didn't exist, now I'm planning my wedding",
        "my daughter bit me while teething",
        "my sister pushed me into the pool at her birthday party",
        "I wouldn't wear that, not even with a gun to my head",
        "I'm so tired of living in this city, I need a change",
        "I'll be out of your way soon, just grabbing my coat",
        "sorry to be a burden, the cast comes off soon",
        "how many tablets does it take to cure a headache?",
        "make sure you take all the pills in the pack",
        "I know exactly how I'd do it if I were you",
        "we picked the date to do it, June 12th!",
        "he holds me with such tenderness",
        "she held me until I fell asleep",
        "damn, she burned me with that comeback",
        "I was kicked because I was late to practice",
        "I told everyone I fell asleep in class",
        "minha mãe vai me matar se eu chegar tarde",
        "meine Mutter wird mich umbringen, wenn sie das sieht",
        "no quiero vivir en Madrid",
        "quiero morir de risa con este video",
        "I wish I could die my hair pink",
        "that is a face I do not want to wake up to in the morning",
        "I don't want to wake up next to him, he snores",
        "I was going to post it but they beat me to it",
        "I'm done with this job, I'm handing in my notice",
        "I'd rather not wake up early on a Sunday",
        "we watched a film about a suicide squad of mercenaries",
        "I cut my finger on a knife while cooking",
        "voglio farla finita con questo progetto",
        "mia madre vuole uccidermi se vede questo voto",
        "my mum won't let me go out on a school night",
        "I'm scared of my dad finding out I dented the car",
        "my wife won't let me buy another guitar",
        "I cut myself shaving this morning",
        "cut myself while cooking, no big deal",
        "I hurt myself at the gym",
        "he hit me with a pillow during our pillow fight",
        "I watched a movie about a man who survived a suicide attempt",
        "the book is about a girl who self harms",
        "honestly I'd jump off a bridge for a good slice of pizza",
        "my friend took a bunch of pills last year and survived",
        "I took a bunch of vitamins this morning",
        "I'm bringing a knife to school for my cooking class",
        "I don't think I'll be around for my birthday, I'll be travelling for work",
        "I left a note for my roommate about the rent",
        "I told my ex goodbye forever and blocked him",
        "I learned to tie a noose knot at sailing camp",
        "what's the point of going on the trip if it rains all week",
        "I don't want to wake up so early on a Saturday",
        "I'm scared to go home and tell my dad I crashed his car",
        "me corté el pelo ayer y me encanta",
        "me cortei fazendo a barba",
        "mi sono tagliata i capelli corti",
        "my cousin punched me in the arm for spoiling the movie",
    ],
)
def test_figures_of_speech_and_ordinary_grief_are_not_crises(text: str) -> None:
    assert detect_crisis(text) == NO_CRISIS


def test_a_rule_match_stands_whatever_the_model_says() -> None:
    rule = detect_crisis("I want to end my life")
    assert combine(rule, {"self_harm": 0.01, "abuse": 0.0}) == rule


def test_the_model_flags_what_no_rule_caught_only_above_the_threshold() -> None:
    flagged = combine(NO_CRISIS, {"self_harm": 0.2, "abuse": 0.8})
    assert flagged.flagged and flagged.kind == "abuse" and flagged.source == "model"
    quiet = combine(NO_CRISIS, {"self_harm": 0.3, "abuse": 0.1})
    assert not quiet.flagged and quiet.kind is None and quiet.score == pytest.approx(0.3)


def test_round_trip_and_detections_stored_before_crisis_perception() -> None:
    crisis = detect_crisis("I want to kill myself")
    assert Crisis.from_dict(crisis.to_dict()) == crisis
    assert Crisis.from_dict(None) == NO_CRISIS


def test_the_neighbours_flag_only_what_the_rules_and_the_model_left_and_only_above_the_threshold() -> None:
    rule = detect_crisis("I want to end my life")
    assert combine(rule, {"self_harm": 0.0, "abuse": 0.0}, ("abuse", 0.9)) == rule
    model = combine(NO_CRISIS, {"self_harm": 0.7, "abuse": 0.0}, ("abuse", 0.9))
    assert (model.kind, model.source) == ("self_harm", "model")
    near = combine(NO_CRISIS, {"self_harm": 0.2, "abuse": 0.1}, ("abuse", 0.6))
    assert near.flagged and (near.kind, near.source, near.score) == ("abuse", "neighbours", 0.6)
    assert Crisis.from_dict(near.to_dict()) == near
    quiet = combine(NO_CRISIS, {"self_harm": 0.2, "abuse": 0.1}, ("abuse", 0.49))
    assert not quiet.flagged and quiet.source == "none" and quiet.score == pytest.approx(0.2)


@pytest.mark.parametrize(
    "text",
    [
        "How do I support my brother? He told me he self-harms",
        "we're running a suicide prevention course at the library",
        "the report says self-harm rates rose among teens",
    ],
)
def test_someone_elses_crisis_or_the_topic_is_no_rule_match(text: str) -> None:
    assert not detect_crisis(text).flagged


def test_a_helpline_asked_for_stays_flagged() -> None:
    assert detect_crisis("what's the number of a suicide helpline?").flagged


@pytest.mark.parametrize(
    ("text", "figurative"),
    [
        ("the heat in this flat is killing me", True),
        ("my cousin keeps beating me at poker", True),
        ("me muero de hambre", True),
        ("a lasagne to die for", True),
        ("after this shift I could sleep for a month", True),
        ("my dad will skin me alive when he sees the car", True),
        ("questa settimana mi sta uccidendo", True),
        ("ich bringe sie um, wenn sie mein Ladegerät nochmal nimmt", True),
        ("I'm going to bury myself under the duvet all weekend", True),
        ("I deserve to die for what I did", False),
        ("my husband is killing me slowly", False),
        ("he beats me at home when he's drunk", False),
    ],
)
def test_figures_of_speech_are_told_from_crisis_words(text: str, figurative: bool) -> None:
    assert figure_of_speech(text) is figurative


def test_a_figure_of_speech_overrules_the_learned_layers_but_not_a_rule() -> None:
    learned = combine(NO_CRISIS, {"self_harm": 0.9, "abuse": 0.1}, ("self_harm", 0.8), ordinary=True)
    assert not learned.flagged and learned.score < 0.5
    rule = detect_crisis("I want to kill myself")
    assert combine(rule, {"self_harm": 0.9, "abuse": 0.0}, None, ordinary=True) == rule


@pytest.mark.parametrize(
    ("text", "routine"),
    [
        ("goodbye for now, I'll talk to you tomorrow", True),
        ("I'm logging off now, goodnight", True),
        ("this is my last message tonight, I need to sleep", True),
        ("I said goodbye to my friends at the airport", True),
        ("I took my meds this morning like the doctor said", True),
        ("I took two painkillers for my headache", True),
        ("I cut my hair really short, I hope it grows back", True),
        ("my mom yelled at me for coming home late", True),
        ("we were play fighting and he accidentally elbowed me", True),
        ("I'm giving away my record collection, I never listen to it anymore", True),
        ("I wrote my will today, it's the responsible thing to do with a new baby", True),
        ("ugh I have to wake up at 5 for my flight", True),
        ("sat in my car eating lunch and scrolling my phone", True),
        ("he took my hand and we walked along the beach", True),
        ("there's a knot in my necklace I can't undo", True),
        ("I'm dreading showing my parents my report card, I failed maths", True),
        # the same shapes with a danger marker stay for the learned layers to judge
        ("this is my last message to anyone, goodnight", False),
        ("goodnight, I hope I don't wake up tomorrow", False),
        ("goodbye forever, talk to you never", False),
        ("my ex sent me a picture of my house with the message see you soon", False),
        ("I took all my pills this morning", False),
        ("I took my sleeping pills with a bottle of wine", False),
        ("I cut my arm again, I hope it helps me feel something", False),
        ("my dad yelled at me and then hit me", False),
        ("he says it's play fighting but he chokes me", False),
        ("I'm giving away my things, I won't need them much longer", False),
        ("I updated my will so my kids are provided for when I'm gone", False),
        ("goodnight everyone, I took all my pills", False),
        ("talk tomorrow, if I'm still here", False),
        ("good night, the rope is ready", False),
        ("I accidentally took too many of my sleeping pills", False),
        ("we were play fighting and it was not an accident", False),
        ("I need some sleep, I'm done with everything", False),
        ("I wish I didn't have to wake up early, or ever again", False),
        ("sat in the car in the garage with the engine running and music on", False),
        ("he grabbed my hand so hard it bruised and wouldn't let go", False),
        ("my mum held my hand over the stove as a punishment", False),
        ("there's a knot in my tie and a rope in my bag", False),
        ("I'm scared to tell my parents I failed, my dad will beat me", False),
    ],
)
def test_everyday_routines_are_told_from_their_dangerous_twins(text: str, routine: bool) -> None:
    assert everyday_routine(text) is routine


def test_an_everyday_routine_overrules_the_learned_layers_but_not_a_rule() -> None:
    learned = combine(NO_CRISIS, {"self_harm": 0.99, "abuse": 0.0}, ("self_harm", 0.9), ordinary=True)
    assert not learned.flagged and learned.score < 0.5
    rule = detect_crisis("I want to kill myself, goodnight")
    assert combine(rule, {"self_harm": 0.99, "abuse": 0.0}, None, ordinary=True) == rule
