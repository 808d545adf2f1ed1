"""Manifests for the Flickr8k Audio Caption Corpus (Harwath & Glass 2015).

Expected layout of ``data_folder``::

    flickr_audio/wavs/<image>_<k>.wav      40,000 spoken captions
    flickr_audio/wav2capt.txt              "<wav> <image>.jpg #<k>" lines
    flickr_audio/wav2spk.txt               "<wav> <speaker>" lines
    Flicker8k_Dataset/<image>.jpg          the images (sic "Flicker")
    dataset_flickr8k.json                  Karpathy's split, or
    Flickr8k_text/Flickr_8k.{train,dev,test}Images.txt   the official one
    Flickr8k_text/Flickr8k.token.txt       optional: "<image>.jpg#<k>\\t<text>"

Both split definitions give 6000/1000/1000 images (30k/5k/5k utterances).

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os
import re

from speechbrain_vgs.dataio.manifest import (
    DataError,
    outputs_ready,
    text_lines,
    where,
)
from speechbrain_vgs.dataio.prep_utils import (
    group_by_split,
    image_stem,
    manifest_paths,
    read_karpathy_split,
    write_vgs_manifests,
)

logger = logging.getLogger(__name__)

AUDIO_FOLDER = "flickr_audio"
IMAGE_FOLDER = "Flicker8k_Dataset"
TEXT_FOLDER = "Flickr8k_text"
KARPATHY_FILE = "dataset_flickr8k.json"
TEXT_FILE = "Flickr8k.token.txt"
IMAGE_LISTS = {
    "train": "Flickr_8k.trainImages.txt",
    "valid": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
CAPTION_NUMBER = re.compile(r"#(\d+)")


def prepare_flickr8k(
    data_folder, save_folder, splits_file=None, skip_prep=False
):
    """Writes ``train.json``, ``valid.json`` and ``test.json`` manifests
    for the Flickr8k Audio Caption Corpus.

    One entry per spoken caption, keyed by the wav name without extension
    (``<image>_<k>``): ``wav`` is ``{data_root}/flickr_audio/wavs/...``,
    ``image`` is ``{image_root}/Flicker8k_Dataset/...jpg`` (so both
    placeholders stand for ``data_folder``), ``image_id`` is the image
    name without extension, ``speaker`` comes from ``wav2spk.txt`` and
    ``text`` from ``Flickr8k_text/Flickr8k.token.txt`` when that file
    exists, else from the Karpathy file's sentences when that is the split
    definition. Every caption goes to the split of its image. Nothing is
    done when the manifests exist and were made with the same options.

    Arguments
    ---------
    data_folder : str
        The corpus root (layout in the module docstring).
    save_folder : str
        Where the manifests (and ``flickr8k_options.json``) go.
    splits_file : str, optional
        Karpathy's ``dataset_flickr8k.json``, or a folder holding the
        official ``Flickr_8k.{train,dev,test}Images.txt``. By default
        ``data_folder/dataset_flickr8k.json`` if it exists, else
        ``data_folder/Flickr8k_text``.
    skip_prep : bool
        If True, do nothing.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> prepare_flickr8k(tmp, tmp / "manifests", skip_prep=True)
    >>> prepare_flickr8k(tmp, tmp / "manifests")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...: no split definition:
    expected .../dataset_flickr8k.json or the folder .../Flickr8k_text with
    Flickr_8k.trainImages.txt, ...
    """
    if skip_prep:
        return
    if splits_file is None:
        splits_file = default_splits_file(data_folder)
    text_file = os.path.join(data_folder, TEXT_FOLDER, TEXT_FILE)
    if not os.path.isfile(text_file):
        text_file = None
    options = {
        "data_folder": os.path.abspath(data_folder),
        "splits_file": os.path.abspath(splits_file),
        "text_file": None if text_file is None else os.path.abspath(text_file),
    }
    outputs = manifest_paths(save_folder)
    options_file = os.path.join(save_folder, "flickr8k_options.json")
    if outputs_ready(outputs.values(), options, options_file):
        logger.info("Flickr8k manifests in %s are up to date", save_folder)
        return

    if os.path.isdir(splits_file):
        image_splits = read_image_lists(splits_file)
        texts = {}
    else:
        karpathy = read_karpathy_split(splits_file)
        image_splits = {key: split for key, (split, _) in karpathy.items()}
        texts = {
            (key, k): text
            for key, (_, sentences) in karpathy.items()
            for k, text in enumerate(sentences)
        }
    if text_file is not None:
        texts = read_token_file(text_file)
    text_source = text_file or splits_file

    audio_folder = os.path.join(data_folder, AUDIO_FOLDER)
    speakers = read_wav2spk(os.path.join(audio_folder, "wav2spk.txt"))
    records = read_wav2capt(
        os.path.join(audio_folder, "wav2capt.txt"), speakers
    )
    splits = group_by_split(records, image_splits, splits_file)
    for record in (r for split in splits.values() for r in split):
        caption = (record["image_id"], record.pop("caption_number"))
        if texts and caption not in texts:
            raise DataError(
                f"{record['origin']}: no text for caption #{caption[1]} of "
                f"{record['image_id']!r} in {text_source}"
            )
        record["text"] = texts.get(caption)
    write_vgs_manifests(
        splits, data_folder, data_folder, save_folder, options, options_file
    )


def default_splits_file(data_folder):
    """Karpathy's split file if present, else the official split folder."""
    karpathy = os.path.join(data_folder, KARPATHY_FILE)
    if os.path.isfile(karpathy):
        return karpathy
    official = os.path.join(data_folder, TEXT_FOLDER)
    if os.path.isfile(os.path.join(official, IMAGE_LISTS["train"])):
        return official
    raise DataError(
        f"{data_folder}: no split definition: expected {karpathy} or the "
        f"folder {official} with {', '.join(IMAGE_LISTS.values())}"
    )


def read_lines(path):
    """Yields ``(line number, stripped line)`` for the non-blank lines of a
    UTF-8 text file (see :func:`~speechbrain_vgs.dataio.manifest.text_lines`).
    """
    for number, line in enumerate(text_lines(path), start=1):
        if line.strip():
            yield number, line.strip()


def read_image_lists(folder):
    """Reads the official split: one image file name per line.

    Arguments
    ---------
    folder : str
        Holds ``Flickr_8k.{train,dev,test}Images.txt``.

    Returns
    -------
    dict
        ``{image_id: split}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> for name, images in [("train", "1_a.jpg\\n2_b.jpg\\n"),
    ...                      ("dev", "3_c.jpg\\n"), ("test", "4_d.jpg\\n")]:
    ...     _ = (tmp / f"Flickr_8k.{name}Images.txt").write(images)
    >>> read_image_lists(tmp)
    {'1_a': 'train', '2_b': 'train', '3_c': 'valid', '4_d': 'test'}
    """
    image_splits = {}
    listed_at = {}
    for split, name in IMAGE_LISTS.items():
        path = os.path.join(folder, name)
        for number, line in read_lines(path):
            if len(line.split()) != 1 or not line.endswith(".jpg"):
                raise DataError(
                    f"{where(path, number)}: expected one '<image>.jpg' "
                    f"name, got {line!r}"
                )
            image_id = image_stem(line)
            if image_id in image_splits:
                raise DataError(
                    f"{where(path, number)}: {line} already listed at "
                    f"{listed_at[image_id]}"
                )
            image_splits[image_id] = split
            listed_at[image_id] = where(path, number)
    return image_splits


def read_token_file(path):
    """Reads ``Flickr8k.token.txt``: ``<image>.jpg#<k>\\t<caption>`` lines.

    Returns
    -------
    dict
        ``{(image_id, k): caption}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "Flickr8k.token.txt"
    >>> _ = path.write("1_a.jpg#0\\tA dog runs .\\n1_a.jpg#1\\tA dog .\\n")
    >>> read_token_file(path)
    {('1_a', 0): 'A dog runs .', ('1_a', 1): 'A dog .'}
    >>> _ = path.write("1_a.jpg 0 A dog runs .\\n")
    >>> read_token_file(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...Flickr8k.token.txt:1: expected
    '<image>.jpg#<k><TAB><caption>', got '1_a.jpg 0 A dog runs .'
    """
    texts = {}
    for number, line in read_lines(path):
        key, _, caption = line.partition("\t")
        image, _, k = key.rpartition("#")
        if not (image and caption.strip() and k.isdigit()):
            raise DataError(
                f"{where(path, number)}: expected "
                f"'<image>.jpg#<k><TAB><caption>', got {line!r}"
            )
        texts[(image_stem(image), int(k))] = caption.strip()
    return texts


def read_wav2spk(path):
    """Reads ``wav2spk.txt``: ``<wav> <speaker>`` lines.

    Returns
    -------
    dict
        ``{wav name: speaker}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "wav2spk.txt"
    >>> _ = path.write("1_a_0.wav 1\\n1_a_1.wav 2\\n")
    >>> read_wav2spk(path)
    {'1_a_0.wav': '1', '1_a_1.wav': '2'}
    """
    speakers = {}
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 2 or not fields[0].endswith(".wav"):
            raise DataError(
                f"{where(path, number)}: expected '<wav> <speaker>', "
                f"got {line!r}"
            )
        if fields[0] in speakers:
            raise DataError(
                f"{where(path, number)}: {fields[0]} is listed twice"
            )
        speakers[fields[0]] = fields[1]
    return speakers


def read_wav2capt(path, speakers):
    """Reads ``wav2capt.txt``: ``<wav> <image>.jpg #<k>`` lines.

    Arguments
    ---------
    path : str
        The ``wav2capt.txt`` file (inside ``flickr_audio/``).
    speakers : dict
        ``{wav name: speaker}`` from :func:`read_wav2spk`.

    Returns
    -------
    list of dict
        Utterance records (see :mod:`speechbrain_vgs.dataio.prep_utils`)
        with paths relative to the corpus root and an extra
        ``caption_number`` (k).

    Example
    -------
    >>> path = getfixture("tmpdir") / "wav2capt.txt"
    >>> _ = path.write("1_a_0.wav 1_a.jpg #0\\n1_a_1.wav 1_a.jpg 1\\n")
    >>> read_wav2capt(path, {"1_a_0.wav": "1", "1_a_1.wav": "2"})
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...wav2capt.txt:2: expected
    '<wav> <image>.jpg #<k>', got '1_a_1.wav 1_a.jpg 1'
    """
    records = []
    for number, line in read_lines(path):
        fields = line.split()
        if (
            len(fields) != 3
            or not fields[0].endswith(".wav")
            or not fields[1].endswith(".jpg")
            or not CAPTION_NUMBER.fullmatch(fields[2])
        ):
            raise DataError(
                f"{where(path, number)}: expected '<wav> <image>.jpg #<k>', "
                f"got {line!r}"
            )
        wav, image, k = fields
        if wav not in speakers:
            raise DataError(
                f"{where(path, number)}: {wav} has no speaker in wav2spk.txt"
            )
        records.append(
            {
                "utt_id": image_stem(wav),
                "wav": f"{AUDIO_FOLDER}/wavs/{wav}",
                "image": f"{IMAGE_FOLDER}/{image}",
                "image_id": image_stem(image),
                "speaker": speakers[wav],
                "caption_number": int(k[1:]),
                "origin": where(path, number),
            }
        )
    return records
