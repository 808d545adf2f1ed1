"""Steps shared by the real-corpus preparers (Flickr8k, SpokenCOCO, Places).

A preparer reads its corpus into *utterance records*, plain dicts::

    {"utt_id": "...", "wav": "<path relative to data_folder>",
     "image": "<path relative to image_folder>", "image_id": "...",
     "speaker": "...", "text": "... (optional)",
     "origin": "<file:line or file: data[i] where it was read>"}

puts them in splits by image (:func:`group_by_split`), and hands them to
:func:`write_vgs_manifests`, which checks every referenced file, reads the
durations and writes the manifests (the format is in
:mod:`speechbrain_vgs.dataio.manifest`).

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import soundfile

from speechbrain_vgs.dataio.manifest import (
    DataError,
    read_json,
    write_json,
)

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
KARPATHY_SPLITS = {
    "train": "train",
    "restval": "train",
    "val": "valid",
    "test": "test",
}
DURATION_THREADS = 8


def manifest_paths(save_folder):
    """The manifest path of each split.

    Example
    -------
    >>> sorted(manifest_paths("out"))
    ['test', 'train', 'valid']
    >>> manifest_paths("out")["valid"]
    'out/valid.json'
    """
    return {
        split: os.path.join(save_folder, f"{split}.json") for split in SPLITS
    }


def image_stem(filename):
    """The image key of a file name: its base name without extension.

    Example
    -------
    >>> image_stem("val2014/COCO_val2014_000000325114.jpg")
    'COCO_val2014_000000325114'
    """
    return os.path.splitext(os.path.basename(filename))[0]


def escape_braces(text):
    """Doubles ``{`` and ``}`` so that SpeechBrain's placeholder
    replacement (``str.format_map`` on every string of a manifest) gives
    the text back unchanged.

    Example
    -------
    >>> escape_braces("a {b}")
    'a {{b}}'
    >>> escape_braces("a {b}").format_map({"data_root": "/x"})
    'a {b}'
    """
    return text.replace("{", "{{").replace("}", "}}")


def read_karpathy_split(path):
    """Reads Karpathy's split file (``dataset_flickr8k.json``,
    ``dataset_coco.json``).

    Its format is ``{"images": [{"filename": "x.jpg", "split": "train",
    "sentences": [{"raw": "..."}, ...], ...}, ...], "dataset": "..."}``;
    the splits ``train`` and ``restval`` become ``train``, ``val`` becomes
    ``valid`` and ``test`` stays ``test``.

    Arguments
    ---------
    path : str
        The JSON file.

    Returns
    -------
    dict
        ``{image_id: (split, [caption text, ...])}``, the image id being
        the file name without extension, the captions in file order.

    Example
    -------
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> path = getfixture("tmpdir") / "dataset_flickr8k.json"
    >>> write_json(path, {"dataset": "flickr8k", "images": [
    ...     {"filename": "1_a.jpg", "split": "restval",
    ...      "sentences": [{"raw": "A dog runs ."}]}]})
    >>> read_karpathy_split(path)
    {'1_a': ('train', ['A dog runs .'])}
    >>> write_json(path, {"images": [{"filename": "1_a.jpg", "split": "x"}]})
    >>> read_karpathy_split(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...: images[0]: unknown split 'x'
    """
    content = read_json(path)
    images = content.get("images") if isinstance(content, dict) else None
    if not isinstance(images, list):
        raise DataError(f"{path}: expected an object with an 'images' list")
    splits = {}
    for i, image in enumerate(images):
        at = f"{path}: images[{i}]"
        if not isinstance(image, dict) or not isinstance(
            image.get("filename"), str
        ):
            raise DataError(f"{at}: lacks a 'filename' string")
        if image.get("split") not in KARPATHY_SPLITS:
            raise DataError(f"{at}: unknown split {image.get('split')!r}")
        sentences = image.get("sentences", [])
        if not isinstance(sentences, list) or not all(
            isinstance(s, dict) and isinstance(s.get("raw"), str)
            for s in sentences
        ):
            raise DataError(f"{at}: 'sentences' must be a list of {{'raw'}}")
        image_id = image_stem(image["filename"])
        if image_id in splits:
            raise DataError(f"{at}: image {image_id!r} is listed twice")
        splits[image_id] = (
            KARPATHY_SPLITS[image["split"]],
            [s["raw"] for s in sentences],
        )
    return splits


def group_by_split(records, image_splits, split_source):
    """Puts each utterance record in the split of its image.

    Records of images that no split lists are left out, and images of a
    split that have no record are reported; both with a warning, as the
    audio and split files of a corpus need not cover the same images.

    Arguments
    ---------
    records : list of dict
        Utterance records (see the module docstring).
    image_splits : dict
        ``{image_id: split}`` with splits among ``train/valid/test``.
    split_source : str
        The file that defines the splits, for messages.

    Returns
    -------
    dict
        ``{split: [record, ...]}`` for ``train``, ``valid`` and ``test``.

    Example
    -------
    >>> records = [{"utt_id": "u1", "image_id": "a"},
    ...            {"utt_id": "u2", "image_id": "b"},
    ...            {"utt_id": "u3", "image_id": "c"}]
    >>> splits = group_by_split(
    ...     records, {"a": "train", "b": "valid", "c": "test"}, "split.json")
    >>> {split: [r["utt_id"] for r in rs] for split, rs in splits.items()}
    {'train': ['u1'], 'valid': ['u2'], 'test': ['u3']}
    >>> group_by_split(records, {"a": "train", "b": "valid"}, "split.json")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: split.json: split 'test' has no
    captioned image
    """
    splits = {split: [] for split in SPLITS}
    outside = set()
    for record in records:
        split = image_splits.get(record["image_id"])
        if split is None:
            outside.add(record["image_id"])
        else:
            splits[split].append(record)
    if outside:
        logger.warning(
            "%d captioned images are in no split of %s and are left out "
            "(e.g. %r)",
            len(outside),
            split_source,
            min(outside),
        )
    uncaptioned = set(image_splits) - {r["image_id"] for r in records}
    if uncaptioned:
        logger.warning(
            "%d images of %s have no spoken caption (e.g. %r)",
            len(uncaptioned),
            split_source,
            min(uncaptioned),
        )
    for split, split_records in splits.items():
        if not split_records:
            raise DataError(
                f"{split_source}: split {split!r} has no captioned image"
            )
    return splits


def write_vgs_manifests(
    splits, data_folder, image_folder, save_folder, options, options_file
):
    """Checks the records' files, reads durations, writes the manifests.

    Each split goes to ``save_folder/<split>.json`` with entries
    ``{"wav": "{data_root}/<wav>", "duration": seconds,
    "image": "{image_root}/<image>", "image_id", "speaker", "lang": "en",
    "text" (when known)}`` keyed by utterance id; ``{data_root}`` stands
    for ``data_folder`` and ``{image_root}`` for ``image_folder``. Braces
    in the values are doubled (see :func:`escape_braces`).
    ``options`` goes to ``options_file`` last, so that
    :func:`~speechbrain_vgs.dataio.manifest.outputs_ready` only sees
    complete outputs.

    Arguments
    ---------
    splits : dict
        ``{split: [record, ...]}`` (see the module docstring).
    data_folder : str
        The folder the records' ``wav`` paths are relative to.
    image_folder : str
        The folder the records' ``image`` paths are relative to.
    save_folder : str
        Where the manifests go.
    options : dict
        The preparation options, saved for the idempotency check.
    options_file : str
        Where the options go.

    Example
    -------
    >>> import numpy as np
    >>> from PIL import Image
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(str(tmp / "u.wav"), np.zeros(800), 16000)
    >>> Image.new("RGB", (4, 4)).save(str(tmp / "i.jpg"))
    >>> record = {"utt_id": "u", "wav": "u.wav", "image": "i.jpg",
    ...           "image_id": "i", "speaker": "s", "origin": "list.txt:1"}
    >>> splits = {"train": [record], "valid": [], "test": []}
    >>> write_vgs_manifests(splits, tmp, tmp, tmp / "out", {}, tmp / "o.json")
    >>> read_json(tmp / "out" / "train.json")["u"]["duration"]
    0.05
    >>> record["wav"] = "missing.wav"
    >>> write_vgs_manifests(splits, tmp, tmp, tmp / "out", {}, tmp / "o.json")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../missing.wav: missing audio
    file, referenced at list.txt:1
    """
    records = [r for split_records in splits.values() for r in split_records]
    check_unique_ids(records)
    check_files_exist(records, "image", image_folder, "image")
    check_files_exist(records, "wav", data_folder, "audio")
    durations = read_durations(records, data_folder)
    paths = manifest_paths(save_folder)
    for split, split_records in splits.items():
        manifest = {
            r["utt_id"]: manifest_entry(r, durations[r["utt_id"]])
            for r in split_records
        }
        write_json(paths[split], manifest)
        logger.info(
            "Wrote %s: %d utterances of %d images",
            paths[split],
            len(manifest),
            len({r["image_id"] for r in split_records}),
        )
    write_json(options_file, options)


def manifest_entry(record, duration):
    """The manifest entry of one utterance record."""
    entry = {
        "wav": "{data_root}/" + escape_braces(record["wav"]),
        "duration": duration,
        "image": "{image_root}/" + escape_braces(record["image"]),
        "image_id": escape_braces(record["image_id"]),
        "speaker": escape_braces(record["speaker"]),
        "lang": "en",
    }
    if record.get("text") is not None:
        entry["text"] = escape_braces(record["text"])
    return entry


def check_unique_ids(records):
    """Raises :class:`DataError` when two records share an utterance id."""
    seen = {}
    for record in records:
        if record["utt_id"] in seen:
            raise DataError(
                f"{record['origin']}: utterance id {record['utt_id']!r} "
                f"already used at {seen[record['utt_id']]}"
            )
        seen[record["utt_id"]] = record["origin"]


def check_files_exist(records, key, folder, kind):
    """Raises :class:`DataError` naming the first missing ``record[key]``
    file under ``folder`` and where it was referenced."""
    checked = set()
    for record in records:
        if record[key] in checked:
            continue
        path = os.path.join(folder, record[key])
        if not os.path.isfile(path):
            raise DataError(
                f"{path}: missing {kind} file, referenced at {record['origin']}"
            )
        checked.add(record[key])


def read_durations(records, data_folder):
    """``{utt_id: seconds}`` from the wav headers, read by a thread pool."""

    def duration(record):
        path = os.path.join(data_folder, record["wav"])
        try:
            seconds = soundfile.info(path).duration
        except Exception as e:
            raise DataError(
                f"{path}: cannot read audio ({e}), referenced at "
                f"{record['origin']}"
            ) from None
        if not seconds > 0:
            raise DataError(
                f"{path}: empty audio, referenced at {record['origin']}"
            )
        return seconds

    with ThreadPoolExecutor(DURATION_THREADS) as pool:
        seconds = list(pool.map(duration, records))
    return {r["utt_id"]: s for r, s in zip(records, seconds)}
