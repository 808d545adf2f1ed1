"""Tests of the readers of the keyword spotting corpora on miniature copies
laid out exactly like the real ones: Flickr30k's results_20130124.token
and flickr30k-images/, Flickr8k.token.txt, the multi30k/dataset
repository (task 1 and task 2, gzip-compressed raw files), Kamper et al.'s
semantic_flickraudio (keywords.txt, semantic_flickraudio_labels.csv), and
every error naming the file and line at fault."""

import gzip
import logging

import pytest
from miniature_corpora import (
    FLICKR8K_KWS_CAPTIONS,
    FLICKR30K_CAPTIONS,
    FLICKR30K_FROM_FLICKR8K,
    MULTI30K_TASK1,
    MULTI30K_TASK2,
    SEMANTIC_KEYWORDS,
    SEMANTIC_ROWS,
    write_flickr8k_kws,
    write_flickr30k,
    write_multi30k,
    write_semantic_flickraudio,
)

from speechbrain_vgs.brains.base import HparamsError
from speechbrain_vgs.dataio.flickr_kws import (
    exclude_flickr8k,
    flickr8k_photo_ids,
    keyword_list,
    match_references,
    read_caption_tokens,
    read_flickr30k,
    read_keywords,
    read_multi30k_task1,
    read_multi30k_task2,
    read_semantic_labels,
    read_text_lines,
    tagger_captions,
    text_relevance,
)
from speechbrain_vgs.dataio.keywords import stop_words
from speechbrain_vgs.dataio.manifest import DataError

EN, DE = stop_words("en"), stop_words("de")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Miniature Flickr8k, Flickr30k, Multi30k and semantic_flickraudio."""
    root = tmp_path_factory.mktemp("corpora")
    for name in ("flickr8k", "flickr30k", "multi30k", "semantic"):
        (root / name).mkdir()
    write_flickr8k_kws(root / "flickr8k")
    write_flickr30k(root / "flickr30k")
    write_multi30k(root / "multi30k")
    write_semantic_flickraudio(root / "semantic")
    return root


def write(path, text):
    """Writes ``text`` (UTF-8), creating the folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- text files


def test_read_text_lines_gz_plain_and_missing(tmp_path):
    with gzip.open(tmp_path / "a.de.gz", "wt", encoding="utf-8") as f:
        f.write("Ein Hund\r\nZwei Männer\n")
    found, lines = read_text_lines(tmp_path / "a.de")
    assert found.endswith("a.de.gz") and lines == ["Ein Hund", "Zwei Männer"]
    write(tmp_path / "b.txt", "\ufeffx\ny\n")  # a BOM is dropped
    assert read_text_lines(tmp_path / "b.txt.gz")[1] == ["x", "y"]
    with pytest.raises(
        DataError, match=r"c\.en: file not found \(nor .*c\.en\.gz\)"
    ):
        read_text_lines(tmp_path / "c.en")


def test_read_text_lines_bad_bytes(tmp_path):
    (tmp_path / "x.en").write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"x\.en:2: not UTF-8"):
        read_text_lines(tmp_path / "x.en")
    (tmp_path / "y.en.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"y\.en\.gz: cannot read"):
        read_text_lines(tmp_path / "y.en")


# ------------------------------------------------------- Flickr30k, Flickr8k


def test_read_flickr30k(corpora):
    images = read_flickr30k(corpora / "flickr30k")
    assert {i: c for i, (_, c) in images.items()} == FLICKR30K_CAPTIONS
    path, _ = images["10002456"]
    assert path == str(corpora / "flickr30k/flickr30k-images/10002456.jpg")


def test_read_caption_tokens_flickr8k(corpora, caplog):
    token_file = corpora / "flickr8k/Flickr8k_text/Flickr8k.token.txt"
    with caplog.at_level(logging.WARNING):
        captions = read_caption_tokens(token_file)
    for image, expected in FLICKR8K_KWS_CAPTIONS.items():
        assert captions[image] == expected
    # "2258277193_586949ec62.jpg.1#0" is no image of the corpus: skipped
    assert not any(i.startswith("2258277193") for i in captions)
    assert "skipped 1 captions keyed" in caplog.text


@pytest.mark.parametrize(
    "lines,line,message",
    [
        (["1.jpg#0\tA dog .", "2.jpg#0 A cat ."], 2, "expected '<image>.jpg#"),
        (["1.jpg#0\tA dog .", "1.png#1\tA dog ."], 2, "expected '<image>.jpg#"),
        (["1.jpg#x\tA dog ."], 1, "expected '<image>.jpg#"),
        (["1.jpg#0\t  "], 1, "expected '<image>.jpg#"),
        (["1.jpg#0\tA .", "", "1.jpg#0\tB ."], 3, "#0 of 1.jpg is already at"),
    ],
)
def test_read_caption_tokens_errors(tmp_path, lines, line, message):
    path = write(tmp_path / "results_20130124.token", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"token:{line}: .*{message}"):
        read_caption_tokens(path)


def test_read_flickr30k_missing_image(tmp_path):
    write(
        tmp_path / "results_20130124.token",
        "1.jpg#0\tA dog .\n2.jpg#0\tA cat .\n",
    )
    write(tmp_path / "flickr30k-images/1.jpg", "")
    with pytest.raises(
        DataError, match=r"2\.jpg: missing image, captioned at .*token:2"
    ):
        read_flickr30k(tmp_path)
    assert list(read_flickr30k(tmp_path, check_images=False)) == ["1", "2"]


def test_flickr8k_images_are_excluded(corpora, caplog):
    entries = {
        "train": {"u": {"image_id": "1000268201_693b08cb0e"}},
        "test": {"v": {"image_id": "3385593926_d3e9c21170"}},
    }
    ids = flickr8k_photo_ids(corpora / "flickr8k", entries)
    # the image folder's images count too, even those in no split
    assert {"1000268201", "3385593926", "2513260012", "99679241"} <= ids
    images = read_flickr30k(corpora / "flickr30k")
    with caplog.at_level(logging.INFO):
        kept = exclude_flickr8k(images, ids, "Flickr30k")
    assert set(kept) == set(FLICKR30K_CAPTIONS) - set(FLICKR30K_FROM_FLICKR8K)
    assert "excluded 3 of the 11 Flickr30k images" in caplog.text
    with pytest.raises(DataError, match="no image is left"):
        exclude_flickr8k({"1_a": 0}, {"1"}, "Flickr30k")


# ------------------------------------------------------------------ Multi30k


def test_read_multi30k_task2(corpora):
    captions = read_multi30k_task2(corpora / "multi30k", ["train", "val"])
    assert captions == {**MULTI30K_TASK2["train"], **MULTI30K_TASK2["val"]}
    english = read_multi30k_task2(corpora / "multi30k", ["val"], "en")
    assert english["1000523639"] == FLICKR30K_CAPTIONS["1000523639"]


def test_multi30k_german_tagger_captions(corpora):
    hparams = {
        "caption_corpus": "multi30k",
        "query_lang": "de",
        "multi30k_folder": corpora / "multi30k",
        "multi30k_task2_splits": ["train", "val"],
        "flickr30k_folder": corpora / "flickr30k",
    }
    images = tagger_captions(hparams, set(FLICKR30K_FROM_FLICKR8K))
    assert set(images) == {
        i
        for split in MULTI30K_TASK2.values()
        for i in split
        if i not in FLICKR30K_FROM_FLICKR8K
    }
    path, captions = images["1000344755"]
    assert path.endswith("flickr30k-images/1000344755.jpg")
    assert captions == MULTI30K_TASK2["train"]["1000344755"]
    with pytest.raises(HparamsError, match="Flickr30k captions are English"):
        tagger_captions({**hparams, "caption_corpus": "flickr30k"}, set())
    with pytest.raises(HparamsError, match="needs flickr30k_folder"):
        tagger_captions({**hparams, "flickr30k_folder": None}, set())


def multi30k_task2(root, images, captions):
    """A task 2 "val" split: an image list and 5 uncompressed files."""
    write(root / "data/task2/image_splits/val_images.txt", images)
    for n in range(1, 6):
        write(root / f"data/task2/raw/val.{n}.de", captions)


@pytest.mark.parametrize(
    "images,captions,message",
    [
        ("1.jpg\n2.jpg\n", "A\nB\nC\n", r"val\.1\.de: 3 lines, but .*"),
        ("1.jpg\n2.jpg\n", "A\n \n", r"val\.1\.de:2: empty sentence"),
        ("1.jpg\n2.png\n", "A\nB\n", r"val_images\.txt:2: expected one"),
        ("1.jpg\n\n", "A\nB\n", r"val_images\.txt:2: expected one"),
        ("1.jpg\n1.jpg\n", "A\nB\n", r"val_images\.txt:2: 1\.jpg is already"),
    ],
)
def test_read_multi30k_task2_errors(tmp_path, images, captions, message):
    multi30k_task2(tmp_path, images, captions)
    with pytest.raises(DataError, match=message):
        read_multi30k_task2(tmp_path, ["val"])


def test_read_multi30k_task2_missing_file(tmp_path):
    multi30k_task2(tmp_path, "1.jpg\n", "A\n")
    (tmp_path / "data/task2/raw/val.4.de").unlink()
    with pytest.raises(DataError, match=r"val\.4\.de: file not found"):
        read_multi30k_task2(tmp_path, ["val"])


def test_read_multi30k_task1(corpora):
    rows = read_multi30k_task1(corpora / "multi30k")
    expected = [
        (image, {"en": en, "de": de})
        for split in ("train", "val", "test_2016_flickr")
        for image, en, de in MULTI30K_TASK1[split]
    ]
    assert [row[:2] for row in rows] == expected
    assert rows[1][2].endswith("task1/image_splits/train.txt:2")
    with pytest.raises(DataError, match=r"test_2017_flickr\.txt: file not"):
        read_multi30k_task1(corpora / "multi30k", ["test_2017_flickr"])


def test_read_multi30k_task1_misaligned(tmp_path):
    write(tmp_path / "data/task1/image_splits/train.txt", "1.jpg\n2.jpg\n")
    write(tmp_path / "data/task1/raw/train.en", "A dog.\nA cat.\n")
    write(tmp_path / "data/task1/raw/train.de", "Ein Hund.\n")
    with pytest.raises(
        DataError, match=r"train\.de: 1 lines, but .*train\.txt lists 2"
    ):
        read_multi30k_task1(tmp_path, ["train"])


def test_match_references(corpora):
    texts = {
        f"{image}_{k}": (image, caption)
        for image, captions in FLICKR8K_KWS_CAPTIONS.items()
        for k, caption in enumerate(captions)
    }
    task1 = read_multi30k_task1(corpora / "multi30k")
    references = match_references(texts, task1)
    # tokenised Flickr8k captions match the raw Multi30k sentences
    assert references == {
        "3385593926_d3e9c21170_3": "Zwei braune Hunde raufen im Schnee.",
        "3637013_c675de7705_2": "Drei Menschen sitzen in einem Café im Freien.",
        "2513260012_03d33305cf_3": "Zwei Hunde spielen zusammen im Schnee.",
    }
    # the same sentence for another image is no reference
    other = {"u": ("1000344755_0123456789", "Two brown dogs wrestle in snow")}
    assert match_references(other, task1) == {}
    relevance = text_relevance(references, ["hunde", "schnee", "café"], DE)
    assert relevance["3637013_c675de7705_2"] == {"café"}
    assert relevance["3385593926_d3e9c21170_3"] == {"hunde", "schnee"}


# ------------------------------------------------ keywords, semantic labels


def test_read_keywords(corpora):
    path = corpora / "semantic/data/keywords.txt"
    assert read_keywords(path, EN) == SEMANTIC_KEYWORDS
    assert read_keywords(write(path.parent / "de.txt", "hund\nmädchen\n"), DE)


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("air\n\nbaby\n", 2, "blank line"),
        ("# keywords\nair\n", 1, "comment line"),
        ("air\nBaby\n", 2, "expected one lower-case word"),
        ("air\nice cream\n", 2, "expected one lower-case word"),
        ("air\nbaby\nair\n", 3, "'air' is already at line 1"),
        ("air\nthe\n", 2, "'the' is a stop word"),
    ],
)
def test_read_keywords_errors(tmp_path, text, line, message):
    path = write(tmp_path / "keywords.txt", text)
    with pytest.raises(DataError, match=f"keywords.txt:{line}: {message}"):
        read_keywords(path, EN)


def test_read_keywords_empty(tmp_path):
    with pytest.raises(DataError, match="keywords.txt: no keywords"):
        read_keywords(write(tmp_path / "keywords.txt", ""))


def test_read_semantic_labels(corpora):
    path = corpora / "semantic/data/semantic_flickraudio_labels.csv"
    labels = read_semantic_labels(path)
    assert labels == {
        utt: {k for k, n in votes.items() if n >= 3}
        for utt, _, votes in SEMANTIC_ROWS
    }
    assert labels["3637013_c675de7705_3"] == set()  # nobody chose a keyword


HEADER = "utt_key,transcription,keywords\n"


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("utt_key,keywords\n", 1, "expected the header"),
        (HEADER + '1_a_0,"a dog"\n', 2, "expected 3 fields"),
        (HEADER + '1_a_0,"a, b",dogs,x\n', 2, "expected 3 fields"),
        (HEADER + '1_a_0,"a","dogs"\n1_a,"b",""\n', 3, "utterance key"),
        (HEADER + '1_a_0,"a",""\n1_a_0,"b",""\n', 3, "1_a_0 is already at"),
        (HEADER + '1_a_0,"a","dogs;cats"\n', 2, "keywords joined by '|'"),
        (HEADER + '1_a_0,"a,"dogs"\n', 2, "bad CSV"),
    ],
)
def test_read_semantic_labels_errors(tmp_path, text, line, message):
    path = write(tmp_path / "labels.csv", text)
    with pytest.raises(DataError, match=f"labels.csv:{line}: .*{message}"):
        read_semantic_labels(path)


def test_read_semantic_labels_empty(tmp_path):
    with pytest.raises(DataError, match="labels.csv: empty file"):
        read_semantic_labels(write(tmp_path / "labels.csv", ""))


# ------------------------------------------------------------ keyword lists


def test_keyword_list(tmp_path):
    captions = ["a red dog", "a red ball", "a dog", "a blue cat", "red"]
    assert keyword_list(captions, 3, None, EN) == (
        ["red", "dog", "ball"],
        [0, 1, 2],
    )
    path = write(tmp_path / "keywords.txt", "owl\ncat\n")
    # the file's keywords are evaluated and replace the least common words
    assert keyword_list(captions, 3, path, EN) == (
        ["red", "cat", "owl"],
        [2, 1],
    )
    with pytest.raises(HparamsError, match="must be at least that"):
        keyword_list(captions, 1, path, EN)
    with pytest.raises(DataError, match="fewer than the 9 keywords"):
        keyword_list(captions, 9, path, EN)
    # no captions: the file's keywords, as many as the network's outputs
    assert keyword_list([], 2, path, EN) == (["owl", "cat"], [0, 1])
    with pytest.raises(HparamsError, match="must be that"):
        keyword_list([], 3, path, EN)
    with pytest.raises(HparamsError, match="a keywords_file must give"):
        keyword_list([], 3, None, EN)
