"""Keyword vocabularies, caption bag-of-words, keyword relevance and the
keyword spotting datasets.

* The keyword vocabulary is that of Kamper et al.: the most common
  *content words* of text captions in the query language (lower-cased
  word tokens, stop words removed): :func:`content_words`,
  :func:`keyword_vocabulary`, :func:`bag_of_words`.
* Relevance of a keyword to an utterance, for evaluation: on SynthVGS,
  :class:`Lexicon` maps every caption word of every language to a
  language-independent concept, so an English keyword is relevant to a
  Swahili utterance when the utterance *says* the keyword's concept
  (:meth:`Lexicon.spoken_relevance`, the papers' exact match), or when
  the concept is *visible* in the utterance's image
  (:meth:`Lexicon.visible_relevance`, the papers' semantic setting).
* :func:`keyword_dataset`: utterances with their image's soft tags (the
  training targets) and their relevance vectors.

Authors
 * speechbrain-vgs developers 2026
"""

import os
import re
from collections import Counter

import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

from speechbrain_vgs.dataio.manifest import DataError, read_json, resolve_paths
from speechbrain_vgs.dataio.pipelines import (
    SAMPLE_RATE,
    audio_item,
    sort_by_duration,
)

# NLTK's English stop words (Kamper et al. remove them from captions)
ENGLISH_STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd
    your yours yourself yourselves he him his himself she she's her hers
    herself it it's its itself they them their theirs themselves what which
    who whom this that that'll these those am is are was were be been being
    have has had having do does did doing a an the and but if or because as
    until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few
    more most other some such no nor not only own same so than too very s t
    can will just don don't should should've now d ll m o re ve y ain aren
    aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
    haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
    shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn
    wouldn't""".split()
)
# NLTK's German stop words (for German keywords, e.g. from Multi30k)
GERMAN_STOP_WORDS = frozenset(
    """aber alle allem allen aller alles als also am an ander andere anderem
    anderen anderer anderes anderm andern anderr anders auch auf aus bei bin
    bis bist da damit dann der den des dem die das dass daß derselbe
    derselben denselben desselben demselben dieselbe dieselben dasselbe dazu
    dein deine deinem deinen deiner deines denn derer dessen dich dir du
    dies diese diesem diesen dieser dieses doch dort durch ein eine einem
    einen einer eines einig einige einigem einigen einiger einiges einmal er
    ihn ihm es etwas euer eure eurem euren eurer eures für gegen gewesen hab
    habe haben hat hatte hatten hier hin hinter ich mich mir ihr ihre ihrem
    ihren ihrer ihres euch im in indem ins ist jede jedem jeden jeder jedes
    jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner
    keines können könnte machen man manche manchem manchen mancher manches
    mein meine meinem meinen meiner meines mit muss musste nach nicht nichts
    noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines
    selbst sich sie ihnen sind so solche solchem solchen solcher solches
    soll sollte sondern sonst über um und uns unsere unserem unseren unser
    unseres unter viel vom von vor während war waren warst was weg weil weiter
    welche welchem welchen welcher welches wenn werde werden wie wieder will
    wir wird wirst wo wollen wollte würde würden zu zum zur zwar
    zwischen""".split()
)
STOP_WORDS = {"en": ENGLISH_STOP_WORDS, "de": GERMAN_STOP_WORDS}
WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def stop_words(lang):
    """The stop words of a language (``"en"`` or ``"de"``).

    Example
    -------
    >>> "the" in stop_words("en"), "und" in stop_words("de")
    (True, True)
    """
    if lang not in STOP_WORDS:
        raise ValueError(
            f"no stop-word list for language {lang!r}: choose from "
            f"{', '.join(STOP_WORDS)} or give stop words yourself"
        )
    return STOP_WORDS[lang]


def content_words(text, stop=ENGLISH_STOP_WORDS):
    """The lower-cased word tokens of a caption that are not stop words.

    Example
    -------
    >>> content_words("Two dogs are running on the beach.")
    ['two', 'dogs', 'running', 'beach']
    """
    return [w for w in WORD.findall(text.lower()) if w not in stop]


def keyword_vocabulary(captions, num_keywords, stop=ENGLISH_STOP_WORDS):
    """The ``num_keywords`` most common content words of some captions
    (ties broken alphabetically), each counted once per caption.

    Arguments
    ---------
    captions : iterable of str
        Text captions in the query language.
    num_keywords : int
        Vocabulary size W.
    stop : set of str
        Stop words.

    Returns
    -------
    list of str
        Most common first.

    Raises
    ------
    ValueError
        If the captions have fewer distinct content words.

    Example
    -------
    >>> keyword_vocabulary(["a red dog", "the red ball", "a dog"], 2)
    ['dog', 'red']
    """
    counts = Counter(
        w for caption in captions for w in set(content_words(caption, stop))
    )
    if len(counts) < num_keywords:
        raise ValueError(
            f"the captions have {len(counts)} distinct content words, "
            f"fewer than the {num_keywords} keywords asked for"
        )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:num_keywords]]


def bag_of_words(captions, keywords, stop=ENGLISH_STOP_WORDS):
    """Which keywords occur in any of an image's captions (Kamper et
    al.'s "single" targets: 1 if the word is in any caption).

    Arguments
    ---------
    captions : iterable of str
        The captions of one image.
    keywords : list of str
        The vocabulary.
    stop : set of str
        Stop words.

    Returns
    -------
    torch.Tensor
        ``[W]`` of 0.0/1.0.

    Example
    -------
    >>> bag_of_words(["a red dog", "a dog on grass"], ["dog", "ball", "grass"])
    tensor([1., 0., 1.])
    """
    words = {w for caption in captions for w in content_words(caption, stop)}
    return torch.tensor([float(k in words) for k in keywords])


class Lexicon:
    """SynthVGS's ``lexicon.json``: ``{concept: {lang: [surface words]}}``.

    Arguments
    ---------
    entries : dict
        The lexicon (see :meth:`from_file`).

    Example
    -------
    >>> lexicon = Lexicon({"red": {"en": ["red"], "sw": ["mwekundu"]},
    ...                    "circle": {"en": ["circle", "circles"],
    ...                               "sw": ["mduara"]}})
    >>> sorted(lexicon.concepts_said("mduara mwekundu", "sw"))
    ['circle', 'red']
    >>> lexicon.concept("circles", "en")
    'circle'
    """

    def __init__(self, entries):
        self.words = {}
        for concept, by_lang in entries.items():
            for lang, surface in by_lang.items():
                for word in surface:
                    self.words.setdefault(lang, {})[word.lower()] = concept

    @classmethod
    def from_file(cls, path):
        """Reads ``lexicon.json``, with a clear error if it is not one."""
        path = os.fspath(path)
        try:
            entries = read_json(path)
        except DataError as e:
            raise DataError(f"cannot read the lexicon: {e}") from None
        if not isinstance(entries, dict) or not all(
            isinstance(v, dict) for v in entries.values()
        ):
            raise DataError(
                f"{path}: a lexicon maps each concept to "
                "{lang: [surface words]}"
            )
        return cls(entries)

    def concept(self, word, lang):
        """The concept of a surface word, or ``None`` (function words)."""
        return self.words.get(lang, {}).get(word.lower())

    def concepts_said(self, text, lang):
        """The concepts a caption in ``lang`` says."""
        concepts = (self.concept(w, lang) for w in WORD.findall(text.lower()))
        return {c for c in concepts if c is not None}

    def keyword_concepts(self, keywords, lang="en"):
        """The concept of each keyword (``None`` for words the lexicon does
        not know, which have no relevance judgement)."""
        return [self.concept(k, lang) for k in keywords]

    def spoken_relevance(self, entries, keywords, query_lang="en"):
        """Keywords whose concept each utterance says.

        Arguments
        ---------
        entries : dict
            Manifest entries ``{utt_id: {"text", "lang", ...}}``.
        keywords : list of str
            Keywords in ``query_lang``.
        query_lang : str
            Language of the keywords.

        Returns
        -------
        dict
            ``{utt_id: set of keywords}``.
        """
        concepts = self.keyword_concepts(keywords, query_lang)
        relevance = {}
        for utt_id, entry in entries.items():
            said = self.concepts_said(entry["text"], entry["lang"])
            relevance[utt_id] = {
                k for k, c in zip(keywords, concepts) if c in said
            }
        return relevance

    def visible_relevance(self, entries, scenes, keywords, query_lang="en"):
        """Keywords whose concept is in each utterance's scene
        (``scenes.json``'s ``concepts``)."""
        concepts = self.keyword_concepts(keywords, query_lang)
        relevance = {}
        for utt_id, entry in entries.items():
            visible = set(scenes[entry["image_id"]]["concepts"])
            relevance[utt_id] = {
                k for k, c in zip(keywords, concepts) if c in visible
            }
        return relevance


def keyword_dataset(
    entries,
    replacements,
    keywords,
    tags,
    relevance,
    sorting="ascending",
    source="keyword dataset",
):
    """Utterances with soft keyword targets and relevance vectors.

    Arguments
    ---------
    entries : dict
        Manifest entries ``{utt_id: {"wav", "duration", "image_id", ...}}``.
    replacements : dict
        Values of the ``{data_root}`` placeholder.
    keywords : list of str
        The vocabulary (W).
    tags : dict
        ``{image_id: tensor [W]}``, the targets of an utterance's image (or
        ``{utt_id: tensor [W]}`` for per-utterance targets); ``None`` for
        sets without targets.
    relevance : dict
        ``{name: {utt_id: set of keywords}}``; each name becomes a bool
        ``[W]`` output key.
    sorting : str
        ``"ascending"``, ``"descending"`` or ``"random"``.
    source : str
        The manifest the entries come from (named in error messages).

    Returns
    -------
    DynamicItemDataset
        Output keys ``id``, ``sig``, ``tags`` (if ``tags``) and the
        relevance names.

    Raises
    ------
    DataError
        Naming the entry with an unknown placeholder or a missing wav (see
        :func:`~speechbrain_vgs.dataio.manifest.resolve_paths`), or without
        tags.

    Example
    -------
    >>> import numpy as np, soundfile
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(str(tmp / "u.wav"), np.zeros(1600), 16000)
    >>> entries = {"u": {"wav": "{data_root}/u.wav", "duration": 0.1,
    ...                  "image_id": "i"}}
    >>> ds = keyword_dataset(entries, {"data_root": str(tmp)}, ["red", "dog"],
    ...                      {"i": torch.tensor([0.9, 0.1])},
    ...                      {"spoken": {"u": {"dog"}}})
    >>> item = ds[0]
    >>> item["tags"], item["spoken"]
    (tensor([0.9000, 0.1000]), tensor([False,  True]))
    """
    index = {k: i for i, k in enumerate(keywords)}
    wavs = resolve_paths(entries, source, replacements, ("wav",))
    data = {}
    for utt_id, entry in entries.items():
        item = {
            "wav": wavs[utt_id]["wav"],
            "duration": entry["duration"],
            "image_id": entry.get("image_id", utt_id),
        }
        if tags is not None:
            key = utt_id if utt_id in tags else item["image_id"]
            if key not in tags:
                raise DataError(
                    f"{source}: utterance {utt_id!r}: no tags for its image "
                    f"{item['image_id']!r}"
                )
            item["tag_key"] = key
        data[utt_id] = item
    dataset = DynamicItemDataset(data)
    dataset.add_dynamic_item(audio_item(SAMPLE_RATE))
    keys = ["id", "sig"]
    if tags is not None:
        dataset.add_dynamic_item(
            lambda key: tags[key], takes="tag_key", provides="tags"
        )
        keys.append("tags")
    for name, sets in relevance.items():
        dataset.add_dynamic_item(_relevance_item(name, sets, index))
        keys.append(name)
    dataset.set_output_keys(keys)
    return sort_by_duration(dataset, sorting)


def _relevance_item(name, sets, index):
    """A dynamic item giving the bool relevance vector ``name``."""

    @takes("id")
    @provides(name)
    def relevance(utt_id):
        vector = torch.zeros(len(index), dtype=torch.bool)
        for keyword in sets[utt_id]:
            vector[index[keyword]] = True
        return vector

    return relevance
