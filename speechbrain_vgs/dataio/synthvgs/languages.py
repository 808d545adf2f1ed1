"""Lexicons and small grammars that describe a SynthVGS scene in words.

A scene (see :mod:`speechbrain_vgs.dataio.synthvgs.scenes`) has one or two
*groups* of identical objects (a group of 2-3 objects is counted: "two red
stars"), a background and, with two groups, a spatial relation between them.
A *caption spec* is a language-independent choice of how to describe the
scene (which template, which group first, which attributes to mention, where
to put the background, which synonyms), so caption ``k`` of an image is the
same description in every language: the captions are parallel translations.

English, German and Swahili realise a spec with a lexicon and a small grammar:

- English: "a big red circle above a small blue square", "there are two
  little stars to the left of a car", "on the grass there is a fish".
- German: gender and case agree (indefinite article + mixed adjective
  declension in the singular, strong declension after the numerals in the
  plural, dative after the spatial prepositions and "von"): "ein großer roter
  Kreis über einem kleinen blauen Quadrat", "es gibt einen roten Stern",
  "ein Bild von zwei kleinen gelben Häusern", "einem roten Herzen".
- Swahili: adjectives and numbers agree with the noun class (1/2 for the
  animate "samaki", 3/4, 5/6, 9/10), order noun-number-size-colour; the
  colours without an adjective stem use the associative "-a" agreeing with
  the noun ("nyota mbili za bluu", "gari la kijani", "miraba myeusi",
  "magari mawili madogo", "samaki wawili wekundu").

Only the words listed here are ever generated: every caption token is a
function word of its language (:data:`FUNCTION_WORDS`) or a surface form of
one concept (:func:`build_lexicon`), which is what lets keyword and
bag-of-words ground truth be derived from the text and from the scene.

Authors
 * speechbrain-vgs developers 2026
"""

LANGS = ("en", "de", "sw")

SHAPES = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "heart",
    "diamond",
    "ring",
    "house",
    "tree",
    "car",
    "fish",
)
COLORS = (
    "red",
    "green",
    "blue",
    "yellow",
    "black",
    "white",
    "purple",
    "brown",
)
SIZES = ("big", "small")
BACKGROUNDS = ("grass", "sand", "sky", "snow", "water")
COUNT_WORDS = {2: "two", 3: "three"}
RELATION_CONCEPTS = ("above", "below", "left", "right", "beside")

# The relation of the first-mentioned group to the second, per scene relation
# and the order the caption mentions the groups in.
INVERSE_RELATION = {
    "above": "below",
    "below": "above",
    "left_of": "right_of",
    "right_of": "left_of",
}
RELATION_CONCEPT = {
    "above": "above",
    "below": "below",
    "left_of": "left",
    "right_of": "right",
}
HORIZONTAL = ("left_of", "right_of")

N_INTROS = 5  # bare phrase, "there is", "a picture of", "I see", "here is"

# ----------------------------------------------------------------- English
EN_NOUNS = {
    "circle": ("circle", "circles"),
    "square": ("square", "squares"),
    "triangle": ("triangle", "triangles"),
    "star": ("star", "stars"),
    "cross": ("cross", "crosses"),
    "heart": ("heart", "hearts"),
    "diamond": ("diamond", "diamonds"),
    "ring": ("ring", "rings"),
    "house": ("house", "houses"),
    "tree": ("tree", "trees"),
    "car": ("car", "cars"),
    "fish": ("fish", "fish"),
}
EN_ADJECTIVES = {
    "big": ("big", "large"),
    "small": ("small", "little"),
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow",),
    "black": ("black",),
    "white": ("white",),
    "purple": ("purple", "violet"),
    "brown": ("brown",),
}
EN_NUMBERS = {2: "two", 3: "three"}
EN_RELATIONS = {
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
    "left_of": ("to the left of", "left of"),
    "right_of": ("to the right of", "right of"),
}
EN_BESIDE = ("next to", "beside")
EN_BACKGROUNDS = {
    "grass": "on the grass",
    "sand": "on the sand",
    "sky": "in the sky",
    "snow": "in the snow",
    "water": "in the water",
}

# ------------------------------------------------------------------ German
# gender, nominative/accusative singular, dative singular, plural
# (nominative/accusative), dative plural
DE_NOUNS = {
    "circle": ("m", "Kreis", "Kreis", "Kreise", "Kreisen"),
    "square": ("n", "Quadrat", "Quadrat", "Quadrate", "Quadraten"),
    "triangle": ("n", "Dreieck", "Dreieck", "Dreiecke", "Dreiecken"),
    "star": ("m", "Stern", "Stern", "Sterne", "Sternen"),
    "cross": ("n", "Kreuz", "Kreuz", "Kreuze", "Kreuzen"),
    "heart": ("n", "Herz", "Herzen", "Herzen", "Herzen"),
    "diamond": ("f", "Raute", "Raute", "Rauten", "Rauten"),
    "ring": ("m", "Ring", "Ring", "Ringe", "Ringen"),
    "house": ("n", "Haus", "Haus", "Häuser", "Häusern"),
    "tree": ("m", "Baum", "Baum", "Bäume", "Bäumen"),
    "car": ("n", "Auto", "Auto", "Autos", "Autos"),
    "fish": ("m", "Fisch", "Fisch", "Fische", "Fischen"),
}
DE_ADJECTIVE_STEMS = {
    "big": "groß",
    "small": "klein",
    "red": "rot",
    "green": "grün",
    "blue": "blau",
    "yellow": "gelb",
    "black": "schwarz",
    "white": "weiß",
    "purple": "violett",
    "brown": "braun",
}
DE_ARTICLES = {  # indefinite article, by (gender, case)
    ("m", "nom"): "ein",
    ("m", "acc"): "einen",
    ("m", "dat"): "einem",
    ("n", "nom"): "ein",
    ("n", "acc"): "ein",
    ("n", "dat"): "einem",
    ("f", "nom"): "eine",
    ("f", "acc"): "eine",
    ("f", "dat"): "einer",
}
DE_MIXED_ENDINGS = {  # adjective after the indefinite article
    ("m", "nom"): "er",
    ("m", "acc"): "en",
    ("m", "dat"): "en",
    ("n", "nom"): "es",
    ("n", "acc"): "es",
    ("n", "dat"): "en",
    ("f", "nom"): "e",
    ("f", "acc"): "e",
    ("f", "dat"): "en",
}
DE_STRONG_PLURAL_ENDINGS = {"nom": "e", "acc": "e", "dat": "en"}
DE_NUMBERS = {2: "zwei", 3: "drei"}
DE_RELATIONS = {  # all take the dative for a location
    "above": "über",
    "below": "unter",
    "left_of": "links von",
    "right_of": "rechts von",
}
DE_BESIDE = "neben"
DE_BACKGROUNDS = {
    "grass": "auf dem Gras",
    "sand": "auf dem Sand",
    "sky": "am Himmel",
    "snow": "im Schnee",
    "water": "im Wasser",
}
# The case each template governs: bare phrase and "hier ist" nominative,
# "es gibt" and "ich sehe" accusative, "ein Bild von" dative.
DE_INTRO_CASES = ("nom", "acc", "dat", "acc", "nom")

# ----------------------------------------------------------------- Swahili
# singular, plural, agreement class of the singular and of the plural
# (samaki is a class 9/10 noun that takes animate class 1/2 agreement)
SW_NOUNS = {
    "circle": ("mduara", "miduara", 3, 4),
    "square": ("mraba", "miraba", 3, 4),
    "triangle": ("pembetatu", "pembetatu", 9, 10),
    "star": ("nyota", "nyota", 9, 10),
    "cross": ("msalaba", "misalaba", 3, 4),
    "heart": ("moyo", "mioyo", 3, 4),
    "diamond": ("almasi", "almasi", 9, 10),
    "ring": ("pete", "pete", 9, 10),
    "house": ("nyumba", "nyumba", 9, 10),
    "tree": ("mti", "miti", 3, 4),
    "car": ("gari", "magari", 5, 6),
    "fish": ("samaki", "samaki", 1, 2),
}
# Agreeing adjective and number stems, written out per class.
SW_AGREEING = {
    "big": {
        1: "mkubwa",
        2: "wakubwa",
        3: "mkubwa",
        4: "mikubwa",
        5: "kubwa",
        6: "makubwa",
        9: "kubwa",
        10: "kubwa",
    },
    "small": {
        1: "mdogo",
        2: "wadogo",
        3: "mdogo",
        4: "midogo",
        5: "dogo",
        6: "madogo",
        9: "ndogo",
        10: "ndogo",
    },
    "red": {
        1: "mwekundu",
        2: "wekundu",
        3: "mwekundu",
        4: "myekundu",
        5: "jekundu",
        6: "mekundu",
        9: "nyekundu",
        10: "nyekundu",
    },
    "black": {
        1: "mweusi",
        2: "weusi",
        3: "mweusi",
        4: "myeusi",
        5: "jeusi",
        6: "meusi",
        9: "nyeusi",
        10: "nyeusi",
    },
    "white": {
        1: "mweupe",
        2: "weupe",
        3: "mweupe",
        4: "myeupe",
        5: "jeupe",
        6: "meupe",
        9: "nyeupe",
        10: "nyeupe",
    },
    "two": {2: "wawili", 4: "miwili", 6: "mawili", 10: "mbili"},
    "three": {2: "watatu", 4: "mitatu", 6: "matatu", 10: "tatu"},
}
# Colours without an adjective stem: associative "-a" + an invariant noun.
SW_COLOR_NOUNS = {
    "green": "kijani",
    "blue": "bluu",
    "yellow": "njano",
    "purple": "zambarau",
    "brown": "kahawia",
}
SW_ASSOCIATIVE = {1: "wa", 2: "wa", 3: "wa", 4: "ya", 5: "la", 6: "ya"}
SW_ASSOCIATIVE.update({9: "ya", 10: "za"})
SW_RELATIONS = {
    "above": "juu ya",
    "below": "chini ya",
    "left_of": "upande wa kushoto wa",
    "right_of": "upande wa kulia wa",
}
SW_BESIDE = ("karibu na", "kando ya")
SW_BACKGROUNDS = {
    "grass": "kwenye nyasi",
    "sand": "kwenye mchanga",
    "sky": "angani",
    "snow": "kwenye theluji",
    "water": "majini",
}
SW_INTROS = ("", "kuna", "picha ya", "ninaona", "hapa kuna")

FUNCTION_WORDS = {
    "en": frozenset(
        "a an the of to and there is are picture I see here on in".split()
    ),
    "de": frozenset(
        "ein eine einen einem einer von und es gibt Bild ich sehe hier ist "
        "sind auf dem am im".split()
    ),
    "sw": frozenset(
        "kuna picha ya ninaona hapa kwenye upande wa na la za".split()
    ),
}


def scene_groups(scene):
    """Groups the objects of a scene: one dict per group, in group order.

    Arguments
    ---------
    scene : dict
        A scene as in ``scenes.json`` (objects carry a ``group`` index).

    Returns
    -------
    list of dict
        ``{"shape", "color", "size", "count"}`` for each group.

    Example
    -------
    >>> obj = {"shape": "star", "color": "red", "size": "big", "group": 0}
    >>> scene_groups({"objects": [obj, dict(obj)]})
    [{'shape': 'star', 'color': 'red', 'size': 'big', 'count': 2}]
    """
    groups = {}
    for obj in scene["objects"]:
        group = groups.setdefault(
            obj["group"],
            {
                "shape": obj["shape"],
                "color": obj["color"],
                "size": obj["size"],
                "count": 0,
            },
        )
        group["count"] += 1
    return [groups[g] for g in sorted(groups)]


def sample_caption_specs(scene, rng, n=5):
    """Draws ``n`` language-independent descriptions of a scene.

    Each caption uses a different template (while ``n`` <= 5), mentions the
    shapes always, the colour of a group with probability 0.8, its size with
    probability 0.5 and the background with probability 0.3; with two
    groups, it names the relation (70%), "next to" for a horizontal relation
    (15%) or joins them with "and".

    Arguments
    ---------
    scene : dict
        The scene to describe.
    rng : numpy.random.Generator
        Source of randomness (the caller derives it from the seed).
    n : int
        Number of captions.

    Returns
    -------
    list of dict
        Caption specs for :func:`realise`.

    Example
    -------
    >>> import numpy as np
    >>> obj = {"shape": "star", "color": "red", "size": "big", "group": 0}
    >>> scene = {"objects": [obj], "relation": None, "background": "sky"}
    >>> specs = sample_caption_specs(scene, np.random.default_rng(0))
    >>> sorted(spec["intro"] for spec in specs)
    [0, 1, 2, 3, 4]
    """
    n_groups = len(scene_groups(scene))
    horizontal = scene["relation"] in HORIZONTAL
    specs = []
    for k in range(n):
        if k % N_INTROS == 0:
            intros = rng.permutation(N_INTROS)
        intro = int(intros[k % N_INTROS])
        link = "relation"
        if n_groups == 2:
            r = rng.random()
            if r >= 0.85:
                link = "and"
            elif r >= 0.7 and horizontal:
                link = "beside"
        r = rng.random()
        if r < 0.7:
            bg = "none"
        elif r < 0.85 and intro == 1:
            bg = "front"
        else:
            bg = "end"
        specs.append(
            {
                "intro": intro,
                "first": int(rng.integers(n_groups)),
                "link": link,
                "bg": bg,
                "mention": [
                    [bool(rng.random() < 0.5), bool(rng.random() < 0.8)]
                    for _ in range(n_groups)
                ],
                "synonyms": [int(i) for i in rng.integers(0, 6, size=4)],
            }
        )
    return specs


def _pick(options, index):
    return options[index % len(options)]


def _ordered(scene, spec):
    """Groups in mention order, their mention flags and the relation."""
    groups = scene_groups(scene)
    order = [spec["first"], 1 - spec["first"]][: len(groups)]
    relation = scene["relation"]
    if relation is not None and spec["first"] == 1:
        relation = INVERSE_RELATION[relation]
    ordered = [(groups[g], spec["mention"][g]) for g in order]
    return ordered, relation


def _plural_subject(ordered, spec):
    """Whether the subject is plural: counted, or two groups joined by and."""
    joined = len(ordered) == 2 and spec["link"] == "and"
    return ordered[0][0]["count"] > 1 or joined


def _english_np(group, mention, synonyms):
    words = []
    if mention[0]:
        words.append(_pick(EN_ADJECTIVES[group["size"]], synonyms[0]))
    if mention[1]:
        words.append(_pick(EN_ADJECTIVES[group["color"]], synonyms[1]))
    plural = group["count"] > 1
    words.append(EN_NOUNS[group["shape"]][plural])
    if plural:
        determiner = EN_NUMBERS[group["count"]]
    else:
        determiner = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([determiner] + words)


def _english(scene, spec):
    ordered, relation = _ordered(scene, spec)
    synonyms = spec["synonyms"]
    parts = [_english_np(ordered[0][0], ordered[0][1], synonyms)]
    if len(ordered) == 2:
        if spec["link"] == "and":
            parts.append("and")
        elif spec["link"] == "beside":
            parts.append(_pick(EN_BESIDE, synonyms[3]))
        else:
            parts.append(_pick(EN_RELATIONS[relation], synonyms[2]))
        parts.append(_english_np(ordered[1][0], ordered[1][1], synonyms))
    body = " ".join(parts)
    verb = "are" if _plural_subject(ordered, spec) else "is"
    intro = spec["intro"]
    background = EN_BACKGROUNDS[scene["background"]]
    if spec["bg"] == "front":
        return f"{background} there {verb} {body}"
    if spec["bg"] == "end":
        body = f"{body} {background}"
    prefix = ("", f"there {verb}", "a picture of", "I see", f"here {verb}")
    return f"{prefix[intro]} {body}".strip()


def _german_np(group, mention, case):
    gender, nominative, dative, plural, dative_plural = DE_NOUNS[group["shape"]]
    if group["count"] > 1:
        determiner = DE_NUMBERS[group["count"]]
        ending = DE_STRONG_PLURAL_ENDINGS[case]
        noun = dative_plural if case == "dat" else plural
    else:
        determiner = DE_ARTICLES[(gender, case)]
        ending = DE_MIXED_ENDINGS[(gender, case)]
        noun = dative if case == "dat" else nominative
    words = [determiner]
    if mention[0]:
        words.append(DE_ADJECTIVE_STEMS[group["size"]] + ending)
    if mention[1]:
        words.append(DE_ADJECTIVE_STEMS[group["color"]] + ending)
    words.append(noun)
    return " ".join(words)


def _german(scene, spec):
    ordered, relation = _ordered(scene, spec)
    intro = spec["intro"]
    case = DE_INTRO_CASES[intro]
    parts = [_german_np(ordered[0][0], ordered[0][1], case)]
    if len(ordered) == 2:
        if spec["link"] == "and":
            parts.append("und")
            second_case = case
        else:
            if spec["link"] == "beside":
                parts.append(DE_BESIDE)
            else:
                parts.append(DE_RELATIONS[relation])
            second_case = "dat"
        parts.append(_german_np(ordered[1][0], ordered[1][1], second_case))
    body = " ".join(parts)
    background = DE_BACKGROUNDS[scene["background"]]
    if spec["bg"] == "front":
        return f"{background} gibt es {body}"
    if spec["bg"] == "end":
        body = f"{body} {background}"
    here = "hier sind" if _plural_subject(ordered, spec) else "hier ist"
    prefix = ("", "es gibt", "ein Bild von", "ich sehe", here)
    return f"{prefix[intro]} {body}".strip()


def _swahili_np(group, mention):
    singular, plural, singular_class, plural_class = SW_NOUNS[group["shape"]]
    count = group["count"]
    noun_class = plural_class if count > 1 else singular_class
    words = [plural if count > 1 else singular]
    if count > 1:
        words.append(SW_AGREEING[COUNT_WORDS[count]][noun_class])
    if mention[0]:
        words.append(SW_AGREEING[group["size"]][noun_class])
    if mention[1]:
        color = group["color"]
        if color in SW_AGREEING:
            words.append(SW_AGREEING[color][noun_class])
        else:
            words.append(SW_ASSOCIATIVE[noun_class])
            words.append(SW_COLOR_NOUNS[color])
    return " ".join(words)


def _swahili(scene, spec):
    ordered, relation = _ordered(scene, spec)
    parts = [_swahili_np(*ordered[0])]
    if len(ordered) == 2:
        if spec["link"] == "and":
            parts.append("na")
        elif spec["link"] == "beside":
            parts.append(_pick(SW_BESIDE, spec["synonyms"][3]))
        else:
            parts.append(SW_RELATIONS[relation])
        parts.append(_swahili_np(*ordered[1]))
    body = " ".join(parts)
    background = SW_BACKGROUNDS[scene["background"]]
    if spec["bg"] == "front":
        return f"{background} kuna {body}"
    if spec["bg"] == "end":
        body = f"{body} {background}"
    return f"{SW_INTROS[spec['intro']]} {body}".strip()


REALISERS = {"en": _english, "de": _german, "sw": _swahili}


def check_langs(langs):
    """Validates language codes, returning them as a tuple in given order.

    Example
    -------
    >>> check_langs("en,sw")
    ('en', 'sw')
    >>> check_langs(["xx"])
    Traceback (most recent call last):
     ...
    ValueError: unknown language 'xx': choose from en, de, sw
    """
    if isinstance(langs, str):
        langs = langs.split(",")
    langs = tuple(dict.fromkeys(lang.strip() for lang in langs))
    for lang in langs:
        if lang not in LANGS:
            raise ValueError(
                f"unknown language {lang!r}: choose from {', '.join(LANGS)}"
            )
    if not langs:
        raise ValueError(f"no language given: choose from {', '.join(LANGS)}")
    return langs


def realise(spec, scene, lang):
    """Writes the caption described by ``spec`` in language ``lang``.

    Arguments
    ---------
    spec : dict
        A caption spec from :func:`sample_caption_specs`.
    scene : dict
        The scene the spec describes.
    lang : str
        "en", "de" or "sw".

    Returns
    -------
    str
        The caption: words separated by single spaces, no punctuation.

    Example
    -------
    >>> big_red = {"shape": "circle", "color": "red", "size": "big"}
    >>> small_blue = {"shape": "square", "color": "blue", "size": "small"}
    >>> scene = {"objects": [dict(big_red, group=0), dict(small_blue, group=1)],
    ...          "relation": "above", "background": "grass"}
    >>> spec = {"intro": 0, "first": 0, "link": "relation", "bg": "none",
    ...         "mention": [[True, True], [True, True]],
    ...         "synonyms": [0, 0, 0, 0]}
    >>> realise(spec, scene, "en")
    'a big red circle above a small blue square'
    >>> realise(spec, scene, "de")
    'ein großer roter Kreis über einem kleinen blauen Quadrat'
    >>> realise(spec, scene, "sw")
    'mduara mkubwa mwekundu juu ya mraba mdogo wa bluu'
    """
    return REALISERS[lang](scene, spec)


def _add(lexicon, concept, lang, words):
    for word in words.split():
        if word not in FUNCTION_WORDS[lang]:
            lexicon[concept][lang].add(word)


def build_lexicon():
    """Surface words of every concept in every language.

    Returns
    -------
    dict
        ``{concept: {lang: sorted list of words}}``; a word belongs to one
        concept only, and function words (articles, "von", "ya", ...) to
        none.

    Example
    -------
    >>> lexicon = build_lexicon()
    >>> lexicon["big"]["de"]
    ['große', 'großen', 'großer', 'großes']
    >>> lexicon["two"]["sw"]
    ['mawili', 'mbili', 'miwili', 'wawili']
    """
    concepts = (
        SHAPES
        + COLORS
        + SIZES
        + BACKGROUNDS
        + tuple(COUNT_WORDS.values())
        + RELATION_CONCEPTS
    )
    lexicon = {c: {lang: set() for lang in LANGS} for c in concepts}
    for shape in SHAPES:
        _add(lexicon, shape, "en", " ".join(EN_NOUNS[shape]))
        _add(lexicon, shape, "de", " ".join(DE_NOUNS[shape][1:]))
        _add(lexicon, shape, "sw", " ".join(SW_NOUNS[shape][:2]))
    for attribute in COLORS + SIZES:
        _add(lexicon, attribute, "en", " ".join(EN_ADJECTIVES[attribute]))
        stem = DE_ADJECTIVE_STEMS[attribute]
        endings = set(DE_MIXED_ENDINGS.values())
        endings |= set(DE_STRONG_PLURAL_ENDINGS.values())
        _add(lexicon, attribute, "de", " ".join(stem + e for e in endings))
        if attribute in SW_AGREEING:
            forms = SW_AGREEING[attribute].values()
            _add(lexicon, attribute, "sw", " ".join(forms))
        else:
            _add(lexicon, attribute, "sw", SW_COLOR_NOUNS[attribute])
    for count, concept in COUNT_WORDS.items():
        _add(lexicon, concept, "en", EN_NUMBERS[count])
        _add(lexicon, concept, "de", DE_NUMBERS[count])
        _add(lexicon, concept, "sw", " ".join(SW_AGREEING[concept].values()))
    for relation, concept in RELATION_CONCEPT.items():
        _add(lexicon, concept, "en", " ".join(EN_RELATIONS[relation]))
        _add(lexicon, concept, "de", DE_RELATIONS[relation])
        _add(lexicon, concept, "sw", SW_RELATIONS[relation])
    _add(lexicon, "beside", "en", " ".join(EN_BESIDE))
    _add(lexicon, "beside", "de", DE_BESIDE)
    _add(lexicon, "beside", "sw", " ".join(SW_BESIDE))
    for background in BACKGROUNDS:
        _add(lexicon, background, "en", EN_BACKGROUNDS[background])
        _add(lexicon, background, "de", DE_BACKGROUNDS[background])
        _add(lexicon, background, "sw", SW_BACKGROUNDS[background])
    return {
        concept: {lang: sorted(words) for lang, words in by_lang.items()}
        for concept, by_lang in lexicon.items()
    }
