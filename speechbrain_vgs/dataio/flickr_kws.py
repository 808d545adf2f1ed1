"""Visually grounded keyword spotting on the Flickr8k Audio Captions:
readers of the real corpora around it, and the recipe's datasets.

Kamper et al. (Interspeech 2017, TASLP 2019) train a visual tagger on the
text captions of images that are *not* Flickr8k images, tag the Flickr8k
training images with it, and train a speech network on the spoken
captions to predict these tags; Kamper & Roth (SLTU 2018) do the same
with a German tagger (Multi30k captions) so that German keywords find
English speech. The files read here, in their real formats:

* **Flickr30k** (Young et al. 2014), in ``flickr30k_folder``::

      results_20130124.token      "<photo id>.jpg#<k>\\t<caption>", k = 0..4
      flickr30k-images/<photo id>.jpg

  Flickr8k's ``Flickr8k_text/Flickr8k.token.txt`` has the same line
  format (:func:`read_caption_tokens` reads both). Flickr8k images are
  Flickr30k images too: the Flickr8k name is ``<photo id>_<secret>``
  (:func:`photo_id`); every one of them is removed from the tagger's
  images (:func:`exclude_flickr8k`).
* **Multi30k** (Elliott et al. 2016), a clone of
  ``github.com/multi30k/dataset`` in ``multi30k_folder``; the ``raw``
  files are gzip-compressed as in the repository (uncompressed copies are
  read too), one sentence per line, line ``i`` describing image line ``i``
  of the split's image list::

      data/task1/image_splits/<split>.txt         "<image>.jpg" lines
      data/task1/raw/<split>.<lang>.gz            one sentence per image
      data/task2/image_splits/<split>_images.txt  "<image>.jpg" lines
      data/task2/raw/<split>.<n>.<lang>.gz        n = 1..5: 5 independent
                                                  captions per image

  Task 1 splits: ``train`` (29,000 images), ``val`` (1,014) and
  ``test_2016_flickr`` (1,000), the Flickr30k images, named
  ``<photo id>.jpg``; ``test_2017_flickr`` and ``test_2018_flickr``
  (other Flickr images, ``<photo id>_<secret>.jpg``) and
  ``test_2017_mscoco`` (``COCO_<set>_<n>.jpg#<annotation id>``); in en,
  de, fr (and cs for some). Task 2 splits with captions: ``train``,
  ``val``, ``test_2016``, in en and de. Of the 1000 Flickr8k test
  images, task 1 holds 871 in ``train``, 28 in ``val`` and 30 in
  ``test_2016_flickr``. Task 2's German
  captions train the German tagger (:func:`read_multi30k_task2`); task 1's
  German translations of English captions give the German relevance of
  English utterances (:func:`read_multi30k_task1`,
  :func:`match_references`).
* **Kamper et al.'s semantic labels**, a clone of
  ``github.com/kamperh/semantic_flickraudio``: ``data/keywords.txt`` (the
  67 keywords, one per line) and ``data/semantic_flickraudio_labels.csv``
  (header ``utt_key,transcription,keywords``; ``utt_key`` is a Flickr8k
  utterance ``<image>_<k>``, ``keywords`` the keywords that at least 3 of
  5 annotators judged relevant, joined by ``|``, possibly empty) for 1000
  test utterances, one per test image (:func:`read_semantic_labels`). The
  raw counts (``semantic_flickraudio_counts.csv``, ``keyword=count``
  joined by ``|``) are not used.
* A keyword list (:func:`read_keywords`): one lower-case word per line.

Bad input raises :class:`~speechbrain_vgs.dataio.manifest.DataError`
naming the file and line.

Authors
 * speechbrain-vgs developers 2026
"""

import csv
import logging
import os
import re

import torch

from speechbrain_vgs.brains.base import HparamsError
from speechbrain_vgs.dataio.flickr8k import IMAGE_FOLDER
from speechbrain_vgs.dataio.keywords import (
    WORD,
    content_words,
    keyword_dataset,
    keyword_vocabulary,
    stop_words,
)
from speechbrain_vgs.dataio.manifest import (
    VGS_KEYS,
    DataError,
    load_manifest,
    text_lines,
    where,
)
from speechbrain_vgs.tagging import image_targets

logger = logging.getLogger(__name__)

FLICKR30K_TOKEN_FILE = "results_20130124.token"
FLICKR30K_IMAGE_FOLDER = "flickr30k-images"
MULTI30K_TASK1 = os.path.join("data", "task1")
MULTI30K_TASK2 = os.path.join("data", "task2")
MULTI30K_CAPTIONS = 5  # task 2 captions per image
SEMANTIC_HEADER = ["utt_key", "transcription", "keywords"]
# "<name>.jpg#<k>"; Flickr8k.token.txt also keys 5 captions with
# "2258277193_586949ec62.jpg.1#<k>", an image that is not in the corpus
TOKEN_KEY = re.compile(r"(?P<name>[^\s#/]+?)\.jpg(?P<copy>\.\d+)?#(?P<k>\d+)")
IMAGE_LIST_ENTRY = re.compile(r"(?P<name>[^\s#/]+)\.jpg(?:#\d+)?")
UTTERANCE_KEY = re.compile(r"[^\s,]+_\d+")


def read_text_lines(path):
    """Reads a UTF-8 text file, gzip-compressed or not.

    Arguments
    ---------
    path : str
        The file; if it does not exist, ``path + ".gz"`` is read (and if
        ``path`` ends with ``.gz`` and does not exist, the file without
        the suffix).

    Returns
    -------
    found : str
        The file read.
    lines : list of str
        Its lines without line endings.

    Raises
    ------
    DataError
        If neither file exists, a gzip file is corrupt, or the text is not
        UTF-8 (naming the line and byte offset; see
        :func:`~speechbrain_vgs.dataio.manifest.read_text`).

    Example
    -------
    >>> import gzip
    >>> tmp = getfixture("tmpdir")
    >>> with gzip.open(tmp / "train.de.gz", "wt", encoding="utf-8") as f:
    ...     _ = f.write("Zwei Männer im Garten\\nEin Hund.\\n")
    >>> found, lines = read_text_lines(tmp / "train.de")
    >>> os.path.basename(found), lines
    ('train.de.gz', ['Zwei Männer im Garten', 'Ein Hund.'])
    """
    path = os.fspath(path)
    other = path[: -len(".gz")] if path.endswith(".gz") else path + ".gz"
    found = next((p for p in (path, other) if os.path.isfile(p)), None)
    if found is None:
        raise DataError(f"{path}: file not found (nor {other})")
    return found, text_lines(found)


def photo_id(image_id):
    """The Flickr photo id of a Flickr8k or Flickr30k image name: Flickr8k
    names images ``<photo id>_<secret>``, Flickr30k and Multi30k
    ``<photo id>``.

    Example
    -------
    >>> photo_id("1000268201_693b08cb0e"), photo_id("1000268201")
    ('1000268201', '1000268201')
    """
    return image_id.split("_", 1)[0]


def normalise_sentence(text):
    """A caption as its lower-cased word tokens joined by single spaces,
    so that a tokenised caption (Flickr8k, Flickr30k: ``"young , White
    males ."``) matches its untokenised form (Multi30k's raw files:
    ``"young, White males."``).

    Example
    -------
    >>> normalise_sentence("Two young , White males are outside .")
    'two young white males are outside'
    >>> normalise_sentence("Two young, White males are outside.")
    'two young white males are outside'
    """
    return " ".join(WORD.findall(text.lower()))


def _caption_token_lines(path):
    """Yields ``(line number, image name, k, caption)`` of a caption token
    file, skipping blank lines and the keys of another copy of an image
    (``<name>.jpg.<n>#<k>``), which are counted in the log."""
    found, lines = read_text_lines(path)
    seen = {}
    copies = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, _, caption = line.partition("\t")
        match = TOKEN_KEY.fullmatch(key.strip())
        if match is None or not caption.strip():
            raise DataError(
                f"{where(found, number)}: expected "
                f"'<image>.jpg#<k><TAB><caption>', got {line!r}"
            )
        if match["copy"]:
            copies += 1
            continue
        name, k = match["name"], int(match["k"])
        if (name, k) in seen:
            raise DataError(
                f"{where(found, number)}: caption #{k} of {name}.jpg is "
                f"already at line {seen[name, k]}"
            )
        seen[name, k] = number
        yield number, name, k, caption.strip()
    if copies:
        logger.warning(
            "%s: skipped %d captions keyed '<image>.jpg.<n>#<k>' (not an "
            "image file of the corpus)",
            found,
            copies,
        )


def read_caption_tokens(path):
    """Reads a caption token file: Flickr30k's ``results_20130124.token``
    or Flickr8k's ``Flickr8k.token.txt``, lines
    ``<image>.jpg#<k><TAB><caption>``.

    Blank lines are skipped, and so are the captions keyed
    ``<image>.jpg.<n>#<k>`` (Flickr8k.token.txt keys 5 captions of
    ``2258277193_586949ec62.jpg.1``, which is no image of the corpus).

    Arguments
    ---------
    path : str
        The token file.

    Returns
    -------
    dict
        ``{image name without .jpg: [captions in order of k]}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "results_20130124.token"
    >>> _ = path.write("1000092795.jpg#1\\tTwo men in a yard .\\n"
    ...                "1000092795.jpg#0\\tTwo young guys .\\n")
    >>> read_caption_tokens(path)
    {'1000092795': ['Two young guys .', 'Two men in a yard .']}
    >>> _ = path.write("1000092795.jpg#0 Two young guys .\\n")
    >>> read_caption_tokens(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...results_20130124.token:1:
    expected '<image>.jpg#<k><TAB><caption>', got '1000092795.jpg#0 Two ...'
    """
    captions = {}
    for _, name, k, caption in _caption_token_lines(path):
        captions.setdefault(name, []).append((k, caption))
    return {
        name: [caption for _, caption in sorted(numbered)]
        for name, numbered in captions.items()
    }


def read_flickr30k(folder, check_images=True):
    """Reads Flickr30k: ``results_20130124.token`` and the image paths in
    ``flickr30k-images/``.

    Arguments
    ---------
    folder : str
        Holds ``results_20130124.token`` and ``flickr30k-images/``.
    check_images : bool
        Whether every captioned image must exist.

    Returns
    -------
    dict
        ``{photo id: (image path, [captions])}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "results_20130124.token").write("10002456.jpg#0\\tMen .\\n")
    >>> read_flickr30k(tmp)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...10002456.jpg:
    missing image, captioned at .../results_20130124.token:1
    """
    token_file = os.path.join(folder, FLICKR30K_TOKEN_FILE)
    images = {}
    for number, name, k, caption in _caption_token_lines(token_file):
        if name not in images:
            path = os.path.join(folder, FLICKR30K_IMAGE_FOLDER, f"{name}.jpg")
            if check_images and not os.path.isfile(path):
                raise DataError(
                    f"{path}: missing image, captioned at "
                    f"{where(token_file, number)}"
                )
            images[name] = (path, [])
        images[name][1].append((k, caption))
    return {
        name: (path, [caption for _, caption in sorted(numbered)])
        for name, (path, numbered) in images.items()
    }


def _read_image_list(path):
    """Reads a Multi30k image list, ``<image>.jpg`` lines (the MSCOCO
    test list appends ``#<annotation id>``): ``(file, [(line number,
    image name without .jpg)])``."""
    found, lines = read_text_lines(path)
    images = []
    for number, line in enumerate(lines, start=1):
        match = IMAGE_LIST_ENTRY.fullmatch(line.strip())
        if match is None:
            raise DataError(
                f"{where(found, number)}: expected one '<image>.jpg' name, "
                f"got {line!r}"
            )
        images.append((number, match["name"]))
    return found, images


def _read_aligned(path, image_list, count):
    """Reads a Multi30k sentence file aligned with an image list of
    ``count`` images: one non-empty sentence per line."""
    found, lines = read_text_lines(path)
    if len(lines) != count:
        raise DataError(
            f"{found}: {len(lines)} lines, but {image_list} lists {count} "
            "images (line i describes image i)"
        )
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{where(found, number)}: empty sentence")
    return [line.strip() for line in lines]


def read_multi30k_task2(folder, splits=("train", "val"), lang="de"):
    """Reads Multi30k task 2: 5 independent captions per image, in
    ``data/task2/raw/<split>.<n>.<lang>.gz`` (n = 1..5), line ``i``
    describing image line ``i`` of
    ``data/task2/image_splits/<split>_images.txt``.

    Arguments
    ---------
    folder : str
        A clone of the multi30k/dataset repository.
    splits : sequence of str
        Task 2 splits (``train``, ``val``, ``test_2016``).
    lang : str
        ``"de"`` or ``"en"``.

    Returns
    -------
    dict
        ``{photo id: [5 captions]}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> os.makedirs(tmp / "data/task2/image_splits")
    >>> os.makedirs(tmp / "data/task2/raw")
    >>> _ = (tmp / "data/task2/image_splits/val_images.txt").write(
    ...     "1018148011.jpg\\n1029450589.jpg\\n")
    >>> for n in range(1, 6):
    ...     _ = (tmp / f"data/task2/raw/val.{n}.de").write(
    ...         f"Ein Lager {n}\\nEin Mädchen {n}\\n")
    >>> read_multi30k_task2(tmp, ["val"])["1029450589"][:2]
    ['Ein Mädchen 1', 'Ein Mädchen 2']
    >>> _ = (tmp / "data/task2/raw/val.3.de").write("Ein Lager\\n")
    >>> read_multi30k_task2(tmp, ["val"])
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../val.3.de: 1 lines, but
    .../val_images.txt lists 2 images (line i describes image i)
    """
    captions = {}
    listed_at = {}
    task = os.path.join(folder, MULTI30K_TASK2)
    for split in splits:
        image_list, images = _read_image_list(
            os.path.join(task, "image_splits", f"{split}_images.txt")
        )
        columns = [
            _read_aligned(
                os.path.join(task, "raw", f"{split}.{n}.{lang}"),
                image_list,
                len(images),
            )
            for n in range(1, MULTI30K_CAPTIONS + 1)
        ]
        for i, (number, image) in enumerate(images):
            if image in captions:
                raise DataError(
                    f"{where(image_list, number)}: {image}.jpg is already "
                    f"listed at {listed_at[image]}"
                )
            captions[image] = [column[i] for column in columns]
            listed_at[image] = where(image_list, number)
    return captions


def read_multi30k_task1(
    folder, splits=("train", "val", "test_2016_flickr"), langs=("en", "de")
):
    """Reads Multi30k task 1: one sentence per image and language
    (``data/task1/raw/<split>.<lang>.gz``, translations of each other),
    line ``i`` describing image line ``i`` of
    ``data/task1/image_splits/<split>.txt``.

    Arguments
    ---------
    folder : str
        A clone of the multi30k/dataset repository.
    splits : sequence of str
        Task 1 splits (``train``, ``val``, ``test_2016_flickr``, ...).
    langs : sequence of str
        Languages to read.

    Returns
    -------
    list of tuple
        ``(photo id, {lang: sentence}, "file:line")``, in file order.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> os.makedirs(tmp / "data/task1/image_splits")
    >>> os.makedirs(tmp / "data/task1/raw")
    >>> _ = (tmp / "data/task1/image_splits/val.txt").write("1018148011.jpg\\n")
    >>> _ = (tmp / "data/task1/raw/val.en").write("A dog runs.\\n")
    >>> _ = (tmp / "data/task1/raw/val.de").write("Ein Hund rennt.\\n")
    >>> [row[:2] for row in read_multi30k_task1(tmp, ["val"])]
    [('1018148011', {'en': 'A dog runs.', 'de': 'Ein Hund rennt.'})]
    >>> _ = (tmp / "data/task1/raw/val.de").write("\\n")
    >>> read_multi30k_task1(tmp, ["val"])
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../val.de:1: empty sentence
    """
    rows = []
    task = os.path.join(folder, MULTI30K_TASK1)
    for split in splits:
        image_list, images = _read_image_list(
            os.path.join(task, "image_splits", f"{split}.txt")
        )
        columns = {
            lang: _read_aligned(
                os.path.join(task, "raw", f"{split}.{lang}"),
                image_list,
                len(images),
            )
            for lang in langs
        }
        for i, (number, image) in enumerate(images):
            sentences = {lang: columns[lang][i] for lang in langs}
            rows.append((image, sentences, where(image_list, number)))
    return rows


def match_references(texts, task1, source="en", target="de"):
    """Reference translations of utterances: an utterance whose caption is
    the task 1 ``source`` sentence of its own image (same Flickr photo id;
    lower-cased word tokens compared, see :func:`normalise_sentence`) gets
    that sentence's ``target`` translation.

    Arguments
    ---------
    texts : dict
        ``{utt_id: (image id, caption)}``.
    task1 : list of tuple
        From :func:`read_multi30k_task1`.
    source, target : str
        Languages.

    Returns
    -------
    dict
        ``{utt_id: target sentence}`` for the utterances that have one.

    Example
    -------
    >>> task1 = [("1000268201", {"en": "A little girl climbing into a "
    ...           "wooden playhouse.", "de": "Ein kleines Mädchen klettert "
    ...           "hinein."}, "train.txt:3")]
    >>> texts = {"1000268201_693b08cb0e_2": ("1000268201_693b08cb0e",
    ...          "A little girl climbing into a wooden playhouse ."),
    ...          "1000268201_693b08cb0e_3": ("1000268201_693b08cb0e",
    ...          "A little girl climbing the stairs to her playhouse .")}
    >>> match_references(texts, task1)
    {'1000268201_693b08cb0e_2': 'Ein kleines Mädchen klettert hinein.'}
    """
    index = {}
    for image, sentences, _ in task1:
        key = (photo_id(image), normalise_sentence(sentences[source]))
        index.setdefault(key, sentences[target])
    references = {}
    for utt_id, (image_id, caption) in texts.items():
        key = (photo_id(image_id), normalise_sentence(caption))
        if key in index:
            references[utt_id] = index[key]
    return references


def read_keywords(path, stop=()):
    """Reads a keyword list: one keyword per line, a lower-case word
    (letters, inner hyphens or apostrophes), as Kamper et al.'s
    ``keywords.txt``. Blank lines, comment lines (``#``), duplicates and
    stop words (which captions never keep, so they would never be
    relevant) are errors.

    Arguments
    ---------
    path : str
        The keyword file.
    stop : set of str
        Stop words of the keywords' language.

    Returns
    -------
    list of str
        The keywords in file order.

    Example
    -------
    >>> path = getfixture("tmpdir") / "keywords.txt"
    >>> _ = path.write("air\\nbaby\\nt-shirt\\n")
    >>> read_keywords(path)
    ['air', 'baby', 't-shirt']
    >>> _ = path.write("air\\n\\nbaby\\n")
    >>> read_keywords(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...keywords.txt:2: blank line:
    one keyword per line, no blank lines or comments
    """
    found, lines = read_text_lines(path)
    keywords = {}
    for number, line in enumerate(lines, start=1):
        at = where(found, number)
        word = line.strip()
        if not word:
            raise DataError(
                f"{at}: blank line: one keyword per line, no blank lines "
                "or comments"
            )
        if word.startswith("#"):
            raise DataError(
                f"{at}: comment line: one keyword per line, no blank "
                "lines or comments"
            )
        if word != word.lower() or not WORD.fullmatch(word):
            raise DataError(f"{at}: expected one lower-case word, got {line!r}")
        if word in keywords:
            raise DataError(
                f"{at}: {word!r} is already at line {keywords[word]}"
            )
        if word in stop:
            raise DataError(
                f"{at}: {word!r} is a stop word: captions never keep it, "
                "so it can never be relevant"
            )
        keywords[word] = number
    if not keywords:
        raise DataError(f"{found}: no keywords")
    return list(keywords)


def read_semantic_labels(path):
    """Reads Kamper et al.'s ``semantic_flickraudio_labels.csv``: header
    ``utt_key,transcription,keywords``, then one row per utterance,
    ``keywords`` being the keywords judged relevant by at least 3 of 5
    annotators, joined by ``|`` (possibly empty).

    Arguments
    ---------
    path : str
        The CSV file.

    Returns
    -------
    dict
        ``{utt_key: set of keywords}``; ``utt_key`` is the Flickr8k
        utterance ``<image>_<k>`` (the wav name without ``.wav``).

    Example
    -------
    >>> path = getfixture("tmpdir") / "semantic_flickraudio_labels.csv"
    >>> _ = path.write('utt_key,transcription,keywords\\n'
    ...     '1084040636_97d9633581_2,"a white dog has its head on the '
    ...     'ground","white|dogs"\\n'
    ...     '1282392036_5a0328eb86_0,"a group of people in costume",""\\n')
    >>> labels = read_semantic_labels(path)
    >>> sorted(labels["1084040636_97d9633581_2"])
    ['dogs', 'white']
    >>> labels["1282392036_5a0328eb86_0"]
    set()
    >>> _ = path.write('utt_key,transcription,keywords\\n1084040636,"a",""\\n')
    >>> read_semantic_labels(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...labels.csv:2: expected an
    utterance key '<image>_<k>', got '1084040636'
    """
    found, lines = read_text_lines(path)
    if not lines:
        raise DataError(f"{found}: empty file: expected the header")
    labels = {}
    seen = {}
    reader = csv.reader(lines, strict=True)
    try:
        for row in reader:
            at = where(found, reader.line_num)
            if reader.line_num == 1:
                if row != SEMANTIC_HEADER:
                    raise DataError(
                        f"{at}: expected the header "
                        f"{','.join(SEMANTIC_HEADER)}, got {row}"
                    )
                continue
            if not row:
                continue
            if len(row) != len(SEMANTIC_HEADER):
                raise DataError(
                    f"{at}: expected 3 fields (utt_key, transcription, "
                    f"keywords), got {len(row)}"
                )
            utt, _, keywords = row
            if not UTTERANCE_KEY.fullmatch(utt):
                raise DataError(
                    f"{at}: expected an utterance key '<image>_<k>', "
                    f"got {utt!r}"
                )
            if utt in seen:
                raise DataError(f"{at}: {utt} is already at {seen[utt]}")
            words = [w for w in keywords.split("|") if w]
            bad = [w for w in words if not WORD.fullmatch(w)]
            if bad:
                raise DataError(
                    f"{at}: expected keywords joined by '|', got {keywords!r}"
                )
            labels[utt] = set(words)
            seen[utt] = at
    except csv.Error as e:
        raise DataError(
            f"{where(found, reader.line_num)}: bad CSV: {e}"
        ) from None
    return labels


def text_relevance(texts, keywords, stop):
    """The keywords among each text's content words (exact token match,
    no stemming).

    Arguments
    ---------
    texts : dict
        ``{utt_id: text}``.
    keywords : list of str
        The vocabulary.
    stop : set of str
        Stop words of the texts' language.

    Returns
    -------
    dict
        ``{utt_id: set of keywords}``.

    Example
    -------
    >>> relevant = text_relevance({"u": "Two dogs play in the snow ."},
    ...                           ["dog", "dogs", "snow"], stop_words("en"))
    >>> sorted(relevant["u"])
    ['dogs', 'snow']
    """
    vocabulary = set(keywords)
    return {
        utt_id: set(content_words(text, stop)) & vocabulary
        for utt_id, text in texts.items()
    }


def flickr8k_photo_ids(data_folder, entries):
    """The Flickr photo ids of every Flickr8k image: those in
    ``Flicker8k_Dataset/`` and those of the manifests.

    Arguments
    ---------
    data_folder : str
        The Flickr8k root.
    entries : dict
        ``{split: {utt_id: manifest entry}}``.

    Returns
    -------
    set of str
    """
    ids = {
        photo_id(_unescape(e["image_id"]))
        for split in entries.values()
        for e in split.values()
    }
    folder = os.path.join(data_folder, IMAGE_FOLDER)
    if os.path.isdir(folder):
        ids.update(
            photo_id(name[: -len(".jpg")])
            for name in os.listdir(folder)
            if name.endswith(".jpg")
        )
    return ids


def exclude_flickr8k(images, flickr8k_ids, source):
    """The tagger's images without the Flickr8k images (Kamper et al.
    train the tagger on Flickr30k minus Flickr8k), with the number removed
    in the log.

    Arguments
    ---------
    images : dict
        ``{photo id: anything}``.
    flickr8k_ids : set of str
        Photo ids of the Flickr8k images (:func:`flickr8k_photo_ids`).
    source : str
        The corpus, for the log.

    Returns
    -------
    dict
        ``images`` without the Flickr8k ones.

    Example
    -------
    >>> exclude_flickr8k({"1": "a", "2": "b", "3": "c"}, {"2"}, "Flickr30k")
    {'1': 'a', '3': 'c'}
    """
    kept = {i: v for i, v in images.items() if photo_id(i) not in flickr8k_ids}
    logger.info(
        "Tagger images: excluded %d of the %d %s images that are Flickr8k "
        "images; %d remain",
        len(images) - len(kept),
        len(images),
        source,
        len(kept),
    )
    if not kept:
        raise DataError(f"{source}: no image is left once Flickr8k's are out")
    return kept


def tagger_captions(hparams, flickr8k_ids, check_images=True):
    """The images and text captions that define the keyword vocabulary
    and train the visual tagger, Flickr8k images excluded.

    ``caption_corpus``: ``flickr30k`` (``flickr30k_folder``, English),
    ``multi30k`` (task 2 ``multi30k_task2_splits`` of ``multi30k_folder``
    in ``query_lang``, images from ``flickr30k_folder``) or ``None`` (no
    captions).

    Returns
    -------
    dict
        ``{photo id: (image path, [captions])}``.
    """
    corpus = hparams.get("caption_corpus")
    query = hparams["query_lang"]
    if corpus is None:
        return {}
    if hparams.get("flickr30k_folder") is None:
        raise HparamsError(
            f"caption_corpus: {corpus} needs flickr30k_folder (the folder "
            f"of {FLICKR30K_TOKEN_FILE} and {FLICKR30K_IMAGE_FOLDER}/)"
        )
    if corpus == "flickr30k":
        if query != "en":
            raise HparamsError(
                f"Flickr30k captions are English, not {query!r}: use "
                "caption_corpus: multi30k"
            )
        images = read_flickr30k(hparams["flickr30k_folder"], check_images)
        return exclude_flickr8k(images, flickr8k_ids, "Flickr30k")
    if corpus == "multi30k":
        folder = hparams["multi30k_folder"]
        splits = hparams["multi30k_task2_splits"]
        captions = read_multi30k_task2(folder, splits, query)
        images_folder = os.path.join(
            hparams["flickr30k_folder"], FLICKR30K_IMAGE_FOLDER
        )
        images = {}
        for image, texts in captions.items():
            path = os.path.join(images_folder, f"{image}.jpg")
            if check_images and not os.path.isfile(path):
                raise DataError(
                    f"{path}: missing Flickr30k image of Multi30k task 2 "
                    f"({folder}, splits {', '.join(splits)})"
                )
            images[image] = (path, texts)
        return exclude_flickr8k(images, flickr8k_ids, "Multi30k task 2")
    raise HparamsError(
        f"caption_corpus must be flickr30k, multi30k or null, not {corpus!r}"
    )


def keyword_list(captions, num_keywords, keywords_file, stop):
    """The vocabulary (the speech network's ``num_keywords`` outputs) and
    the keywords evaluated.

    Without ``keywords_file``, the vocabulary is the ``num_keywords`` most
    common content words of the captions (Kamper et al.'s tagger's 1000
    outputs) and all of them are evaluated. With it, its keywords are
    evaluated and are all in the vocabulary, which the most common other
    content words fill up to ``num_keywords`` (the papers evaluate 20 or
    67 of the 1000 outputs); without captions the vocabulary is the
    file's keywords.

    Arguments
    ---------
    captions : list of str
        The tagger's captions (may be empty).
    num_keywords : int
        Vocabulary size W.
    keywords_file : str or None
        A keyword list (:func:`read_keywords`).
    stop : set of str
        Stop words.

    Returns
    -------
    keywords : list of str
        The vocabulary: the caption words most common first, then the
        file's keywords that no caption has.
    evaluated : list of int
        Indices of the evaluated keywords, in the file's order.

    Example
    -------
    >>> captions = ["a red dog", "a red ball", "a dog", "a blue cat"]
    >>> keyword_list(captions, 2, None, stop_words("en"))
    (['dog', 'red'], [0, 1])
    >>> path = getfixture("tmpdir") / "keywords.txt"
    >>> _ = path.write("cat\\nowl\\n")
    >>> keyword_list(captions, 3, path, stop_words("en"))
    (['dog', 'cat', 'owl'], [1, 2])
    """
    if not captions and keywords_file is None:
        raise HparamsError(
            "without caption_corpus, a keywords_file must give the keywords"
        )
    if keywords_file is None:
        vocabulary = keyword_vocabulary(captions, num_keywords, stop)
        return vocabulary, list(range(len(vocabulary)))
    chosen = read_keywords(keywords_file, stop)
    if len(chosen) > num_keywords or (
        not captions and len(chosen) != num_keywords
    ):
        raise HparamsError(
            f"{keywords_file} has {len(chosen)} keywords: num_keywords "
            f"({num_keywords}) must be "
            + ("at least that" if captions else "that (no captions)")
        )
    if not captions:
        return chosen, list(range(len(chosen)))
    words = {w for c in captions for w in content_words(c, stop)}
    ranking = keyword_vocabulary(captions, len(words), stop)
    rank = {w: i for i, w in enumerate(ranking)}
    wanted = set(chosen)
    others = [w for w in ranking if w not in wanted]
    fill = num_keywords - len(chosen)
    if fill > len(others):
        raise DataError(
            f"the tagger's captions have {len(words)} distinct content "
            f"words; with the keywords of {keywords_file}, fewer than the "
            f"{num_keywords} keywords asked for"
        )
    vocabulary = sorted(
        [*chosen, *others[:fill]], key=lambda w: rank.get(w, len(rank))
    )
    unseen = [k for k in chosen if k not in rank]
    top = set(ranking[:num_keywords])
    logger.info(
        "%d of the %d keywords of %s are not among the %d most common "
        "content words of the tagger's captions; they replace the least "
        "common of these",
        len(wanted - top),
        len(chosen),
        keywords_file,
        num_keywords,
    )
    if unseen:
        logger.warning(
            "Keywords never in the tagger's captions (their targets are "
            "near 0): %s",
            ", ".join(unseen),
        )
    index = {k: i for i, k in enumerate(vocabulary)}
    return vocabulary, [index[k] for k in chosen]


def _unescape(text):
    """A manifest string without its doubled braces."""
    return text.replace("{{", "{").replace("}}", "}")


def _load_flickr8k(manifests, data_folder):
    """Loads the Flickr8k manifests, which must have caption texts."""
    entries = {}
    for name, path in manifests.items():
        entries[name] = load_manifest(path, VGS_KEYS)
        for utt_id, entry in entries[name].items():
            if entry.get("text") is None:
                raise DataError(
                    f"{path}: entry {utt_id!r} has no caption text: keyword "
                    "relevance needs Flickr8k_text/Flickr8k.token.txt in "
                    f"{data_folder}"
                )
    return entries


def _test_relevance(hparams, test_entries, keywords):
    """The test sets' entries and relevance: ``{name: (entries,
    {relevance name: {utt_id: set}})}``."""
    query = hparams["query_lang"]
    stop = stop_words(query)
    texts = {u: _unescape(e["text"]) for u, e in test_entries.items()}
    if query == "en":
        sets = {"test": (test_entries, {"spoken": texts})}
    else:
        task1 = read_multi30k_task1(
            hparams["multi30k_folder"],
            hparams["multi30k_task1_splits"],
            ("en", query),
        )
        images = {u: _unescape(e["image_id"]) for u, e in test_entries.items()}
        references = match_references(
            {u: (images[u], texts[u]) for u in texts}, task1, "en", query
        )
        logger.info(
            "Multi30k task 1 (%s): %d of the %d Flickr8k test utterances "
            "(%d of %d images) have a %s reference translation; only these "
            "are tested",
            ", ".join(hparams["multi30k_task1_splits"]),
            len(references),
            len(test_entries),
            len({images[u] for u in references}),
            len(set(images.values())),
            query,
        )
        if not references:
            raise DataError(
                f"{hparams['multi30k_folder']}: no Flickr8k test caption is "
                "a Multi30k task 1 English sentence"
            )
        entries = {u: test_entries[u] for u in references}
        sets = {"test": (entries, {"spoken": references})}
    relevance = {
        name: (
            entries,
            {k: text_relevance(t, keywords, stop) for k, t in by_kind.items()},
        )
        for name, (entries, by_kind) in sets.items()
    }
    labels_file = hparams.get("semantic_labels")
    if labels_file is not None:
        if query != "en":
            raise HparamsError("semantic_labels are for English keywords")
        relevance["test_semantic"] = _semantic_set(
            labels_file, test_entries, texts, keywords, stop
        )
    return relevance


def _semantic_set(labels_file, test_entries, texts, keywords, stop):
    """The semantically labelled test utterances: exact (``spoken``) and
    semantic (``semantic``) relevance."""
    labels = read_semantic_labels(labels_file)
    unknown = [u for u in labels if u not in test_entries]
    if unknown:
        raise DataError(
            f"{labels_file}: {unknown[0]} (and {len(unknown) - 1} more) is "
            "not a Flickr8k test utterance of the manifests"
        )
    vocabulary = set(keywords)
    outside = {k for s in labels.values() for k in s} - vocabulary
    logger.info(
        "Semantic labels: %d test utterances; %d labelled keywords are not "
        "in the vocabulary and are ignored%s",
        len(labels),
        len(outside),
        f" ({', '.join(sorted(outside))})" if outside else "",
    )
    entries = {u: test_entries[u] for u in labels}
    spoken = text_relevance({u: texts[u] for u in labels}, keywords, stop)
    semantic = {u: s & vocabulary for u, s in labels.items()}
    return entries, {"spoken": spoken, "semantic": semantic}


def flickr8k_keyword_datasets(hparams, manifests, replacements, device="cpu"):
    """The keyword spotting data of the Flickr8k recipe.

    * Speech: the Flickr8k Audio Captions (manifests by
      :func:`~speechbrain_vgs.dataio.flickr8k.prepare_flickr8k`, which
      needs ``Flickr8k.token.txt`` for the relevance).
    * Vocabulary (:func:`keyword_list`): the ``num_keywords`` most common
      content words of the tagger's captions (:func:`tagger_captions`,
      Flickr8k images excluded); with ``keywords_file``, its keywords
      (the ones evaluated) and the most common other words.
    * Targets (``targets``, see
      :func:`speechbrain_vgs.tagging.image_targets`): ``visual``, a tagger
      on the frozen CLIP image embeddings trained on those captions, tags
      the Flickr8k training and validation images; ``zero_shot``, CLIP
      prompts calibrated on the Flickr8k training images (the captions, if
      any, only choose the vocabulary).
    * Test sets: ``test``, the Flickr8k test utterances; a keyword is
      relevant when it is one of the content words of the utterance's
      written caption (``query_lang: en``), or of the Multi30k task 1
      translation of that caption (other languages; only the utterances
      that have one are tested). With ``semantic_labels``, also
      ``test_semantic``: the labelled utterances, with exact relevance
      under ``spoken`` and Kamper et al.'s semantic labels under
      ``semantic`` (the Brain reports them with the suffix ``_semantic``).

    Arguments
    ---------
    hparams : dict
        Reads ``data_folder``, ``splits_file``, ``manifest_folder``,
        ``skip_prep``, ``query_lang``, ``caption_corpus``,
        ``flickr30k_folder``, ``multi30k_folder``,
        ``multi30k_task1_splits``, ``multi30k_task2_splits``,
        ``num_keywords``, ``keywords_file``, ``semantic_labels``,
        ``targets``, ``sorting`` and what
        :func:`~speechbrain_vgs.tagging.image_targets` reads.
    manifests : dict
        ``{"train", "valid", "test": manifest path}`` of the Flickr8k
        Audio Captions (see
        :func:`~speechbrain_vgs.dataio.flickr8k.prepare_flickr8k`).
    replacements : dict
        The manifests' ``{data_root}``/``{image_root}`` values.
    device : str
        Where CLIP embeds the images.

    Returns
    -------
    datasets : dict
        ``{name: dataset}``: ``train``, ``valid`` and the test sets.
    keywords : list of str
        The vocabulary.
    prior : torch.Tensor
        ``[W]`` mean training target.
    evaluated : list of int
        Indices of the evaluated keywords.
    """
    entries = _load_flickr8k(manifests, hparams["data_folder"])
    stop = stop_words(hparams["query_lang"])
    kind = hparams["targets"]
    flickr8k_ids = flickr8k_photo_ids(hparams["data_folder"], entries)
    tagger = tagger_captions(hparams, flickr8k_ids, kind == "visual")
    captions = [c for _, texts in tagger.values() for c in texts]
    keywords, evaluated = keyword_list(
        captions, hparams["num_keywords"], hparams.get("keywords_file"), stop
    )
    logger.info(
        "%d keywords (%s), %d evaluated",
        len(keywords),
        ", ".join(keywords[:10]) + (" ..." if len(keywords) > 10 else ""),
        len(evaluated),
    )
    # the test relevance first: its errors show before the tagging
    tests = _test_relevance(hparams, entries["test"], keywords)
    images = {
        name: {
            _unescape(e["image_id"]): e["image"].format(**replacements)
            for e in entries[name].values()
        }
        for name in ("train", "valid")
    }
    if kind == "visual" and not tagger:
        raise HparamsError("targets: visual needs a caption_corpus")
    tags = image_targets(
        hparams,
        keywords,
        {**images["train"], **images["valid"]},
        tagger,
        stop,
        device,
    )
    datasets = {
        name: keyword_dataset(
            entries[name],
            replacements,
            keywords,
            tags,
            {},
            hparams["sorting"] if name == "train" else "ascending",
            source=manifests[name],
        )
        for name in ("train", "valid")
    }
    for name, (test, relevance) in tests.items():
        datasets[name] = keyword_dataset(
            test,
            replacements,
            keywords,
            None,
            relevance,
            source=manifests["test"],
        )
    prior = torch.stack(
        [tags[_unescape(e["image_id"])] for e in entries["train"].values()]
    ).mean(0)
    return datasets, keywords, prior, evaluated
