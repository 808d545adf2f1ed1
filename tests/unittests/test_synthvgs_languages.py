"""SynthVGS grammars: hand-checked phrases in English, German and Swahili,
and a lexicon where every word names one concept.

Authors
 * speechbrain-vgs developers 2026
"""

import pytest

from speechbrain_vgs.dataio.synthvgs.languages import (
    FUNCTION_WORDS,
    LANGS,
    build_lexicon,
    realise,
)


def scene(groups, relation=None, background="grass"):
    """A scene from (shape, color, size, count) tuples."""
    objects = []
    for g, (shape, color, size, count) in enumerate(groups):
        for _ in range(count):
            objects.append(
                {"shape": shape, "color": color, "size": size, "group": g}
            )
    return {"objects": objects, "relation": relation, "background": background}


def spec(intro=0, first=0, link="relation", bg="none", mention=None):
    return {
        "intro": intro,
        "first": first,
        "link": link,
        "bg": bg,
        "mention": mention or [[True, True], [True, True]],
        "synonyms": [0, 0, 0, 0],
    }


# Expected phrases written by hand from the grammar of each language.
CASES = [
    # German: gender x case with the indefinite article, strong plural
    (
        scene([("circle", "red", "big", 1)]),
        spec(intro=1),
        "de",
        "es gibt einen großen roten Kreis",
    ),
    (
        scene([("diamond", "blue", "small", 1)]),
        spec(intro=3),
        "de",
        "ich sehe eine kleine blaue Raute",
    ),
    (
        scene([("house", "yellow", "small", 2)]),
        spec(intro=2, mention=[[False, True]]),
        "de",
        "ein Bild von zwei gelben Häusern",
    ),
    (
        scene(
            [("car", "green", "big", 1), ("heart", "black", "small", 1)],
            "above",
        ),
        spec(mention=[[False, True], [False, True]]),
        "de",
        "ein grünes Auto über einem schwarzen Herzen",
    ),
    (
        scene(
            [("star", "red", "big", 2), ("diamond", "white", "big", 1)],
            "left_of",
        ),
        spec(intro=4, mention=[[False, True], [False, False]]),
        "de",
        "hier sind zwei rote Sterne links von einer Raute",
    ),
    (
        scene([("tree", "brown", "big", 1)], background="snow"),
        spec(intro=1, bg="front"),
        "de",
        "im Schnee gibt es einen großen braunen Baum",
    ),
    (
        scene([("triangle", "purple", "small", 1)]),
        spec(intro=0),
        "de",
        "ein kleines violettes Dreieck",
    ),
    # Swahili: noun-class agreement of numbers, adjectives and "-a"
    (
        scene([("star", "blue", "big", 2)]),
        spec(mention=[[False, True]]),
        "sw",
        "nyota mbili za bluu",
    ),
    (
        scene([("square", "red", "big", 1)]),
        spec(mention=[[False, True]]),
        "sw",
        "mraba mwekundu",
    ),
    (
        scene([("car", "black", "small", 2)]),
        spec(intro=1),
        "sw",
        "kuna magari mawili madogo meusi",
    ),
    (
        scene([("square", "black", "big", 3)]),
        spec(mention=[[False, True]]),
        "sw",
        "miraba mitatu myeusi",
    ),
    (
        scene([("car", "green", "big", 1)]),
        spec(mention=[[False, True]]),
        "sw",
        "gari la kijani",
    ),
    (
        scene([("fish", "red", "big", 2)]),
        spec(mention=[[True, True]]),
        "sw",
        "samaki wawili wakubwa wekundu",
    ),
    (
        scene(
            [("tree", "white", "big", 1), ("house", "red", "small", 1)],
            "below",
        ),
        spec(intro=3),
        "sw",
        "ninaona mti mkubwa mweupe chini ya nyumba ndogo nyekundu",
    ),
    (
        scene([("car", "red", "big", 1)], background="sky"),
        spec(intro=2, bg="end"),
        "sw",
        "picha ya gari kubwa jekundu angani",
    ),
    # English: number agreement of the verb, word order after "first"
    (
        scene(
            [("star", "yellow", "small", 2), ("fish", "blue", "big", 1)],
            "above",
        ),
        spec(intro=1, first=1),
        "en",
        "there is a big blue fish below two small yellow stars",
    ),
    (
        scene(
            [("ring", "purple", "big", 1), ("cross", "black", "big", 1)],
            "right_of",
        ),
        spec(intro=4, link="and", mention=[[False, False], [False, True]]),
        "en",
        "here are a ring and a black cross",
    ),
]


@pytest.mark.parametrize("scene_, spec_, lang, expected", CASES)
def test_hand_checked_phrases(scene_, spec_, lang, expected):
    assert realise(spec_, scene_, lang) == expected


def test_lexicon_words_name_one_concept():
    lexicon = build_lexicon()
    for lang in LANGS:
        seen = {}
        for concept, by_lang in lexicon.items():
            assert by_lang[lang], f"{concept} has no {lang} word"
            for word in by_lang[lang]:
                assert word not in seen, (word, seen.get(word), concept)
                assert word not in FUNCTION_WORDS[lang], word
                seen[word] = concept
