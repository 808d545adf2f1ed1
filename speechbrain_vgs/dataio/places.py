"""Manifests for the Places Audio Caption corpus (Harwath et al. 2016-2018).

Expected layout of ``data_folder`` (``PlacesAudio_400k_distro``)::

    metadata/train.json, metadata/val.json
        {"image_base_path": "...", "audio_base_path": "...",
         "data": [{"uttid": "...", "speaker": "...", "asr_text": "...",
                   "wav": "wavs/<n>/utterance_<m>.wav",
                   "image": "<l>/<category>/gsun_<hash>.jpg"}, ...]}
    wavs/<n>/utterance_<m>.wav

and of ``image_folder``: the Places205 images that the ``image`` paths are
relative to. ``audio_base_path`` and ``image_base_path`` are absolute paths
on the corpus authors' machines: ``data_folder`` takes the place of the
first, and the second is only a default for ``image_folder``.

Splits. DAVEnet and ResDAVEnet report recall on the 1000 utterances of
``val.json`` and have no other held-out set; here ``val.json`` is the
**test** split, and ``valid`` is held out from ``train.json``: the
utterances of ``valid_images`` training images, chosen by the MD5 of the
image path (so the choice does not depend on the file order). Training
utterances of an image of ``val.json`` are dropped, so that no test image
is seen in training.

Authors
 * speechbrain-vgs developers 2026
"""

import hashlib
import logging
import os

from speechbrain_vgs.dataio.manifest import DataError, outputs_ready, read_json
from speechbrain_vgs.dataio.prep_utils import (
    manifest_paths,
    write_vgs_manifests,
)

logger = logging.getLogger(__name__)

METADATA_FILES = {"train": "train.json", "test": "val.json"}
ENTRY_KEYS = ("wav", "image", "uttid", "speaker")


def prepare_places(
    data_folder,
    save_folder,
    image_folder=None,
    valid_images=1000,
    skip_prep=False,
):
    """Writes ``train.json``, ``valid.json`` and ``test.json`` manifests
    for the Places Audio Caption corpus.

    One entry per spoken caption, keyed by its ``uttid``: ``wav`` is
    ``{data_root}/wavs/...`` (``{data_root}`` = ``data_folder``),
    ``image`` is ``{image_root}/<l>/<category>/...jpg`` (``{image_root}``
    = ``image_folder``), ``image_id`` is the image path without extension,
    ``speaker``, and ``text`` from ``asr_text`` (an ASR transcript) when
    present. The splits are described in the module docstring. Nothing is
    done when the manifests exist and were made with the same options.

    Arguments
    ---------
    data_folder : str
        The corpus root holding ``metadata/`` and ``wavs/``.
    save_folder : str
        Where the manifests (and ``places_options.json``) go.
    image_folder : str, optional
        The Places205 image root; by default the ``image_base_path`` of
        the metadata files (which must then agree).
    valid_images : int
        How many training images (with all their captions) make the
        validation split.
    skip_prep : bool
        If True, do nothing.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> prepare_places(tmp, tmp / "manifests", skip_prep=True)
    >>> prepare_places(tmp, tmp / "manifests")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../metadata/train.json: file not
    found
    """
    if skip_prep:
        return
    if valid_images < 1:
        raise ValueError(f"valid_images must be positive, got {valid_images}")
    options = {
        "data_folder": os.path.abspath(data_folder),
        "image_folder": None
        if image_folder is None
        else os.path.abspath(image_folder),
        "valid_images": valid_images,
    }
    outputs = manifest_paths(save_folder)
    options_file = os.path.join(save_folder, "places_options.json")
    if outputs_ready(outputs.values(), options, options_file):
        logger.info("Places manifests in %s are up to date", save_folder)
        return

    paths = {
        split: os.path.join(data_folder, "metadata", name)
        for split, name in METADATA_FILES.items()
    }
    metadata = {split: read_json(path) for split, path in paths.items()}
    if image_folder is None:
        image_folder = default_image_folder(metadata, paths)
    records = {
        split: read_places(metadata[split], path)
        for split, path in paths.items()
    }
    splits = split_places(records["train"], records["test"], valid_images)
    write_vgs_manifests(
        splits, data_folder, image_folder, save_folder, options, options_file
    )


def default_image_folder(metadata, paths):
    """The ``image_base_path`` shared by the metadata files.

    Arguments
    ---------
    metadata : dict
        ``{split: parsed metadata file}``.
    paths : dict
        ``{split: metadata file path}``, for messages.

    Returns
    -------
    str
        The image folder.

    Example
    -------
    >>> default_image_folder({"train": {"image_base_path": "/im"},
    ...                       "test": {"image_base_path": "/im"}},
    ...                      {"train": "train.json", "test": "val.json"})
    '/im'
    """
    bases = {}
    for split, content in metadata.items():
        base = (
            content.get("image_base_path")
            if isinstance(content, dict)
            else None
        )
        if not isinstance(base, str):
            raise DataError(
                f"{paths[split]}: lacks an 'image_base_path' string; "
                "pass image_folder"
            )
        bases[paths[split]] = base
    if len(set(bases.values())) > 1:
        raise DataError(
            f"the metadata files disagree on image_base_path ({bases}); "
            "pass image_folder"
        )
    return next(iter(bases.values()))


def read_places(content, path):
    """Utterance records from the content of one Places metadata file.

    Arguments
    ---------
    content : dict
        The parsed JSON file.
    path : str
        Where it was read, for messages.

    Returns
    -------
    list of dict
        Utterance records (see :mod:`speechbrain_vgs.dataio.prep_utils`).

    Example
    -------
    >>> entry = {"uttid": "A1-GSUN_1", "speaker": "A1", "asr_text": "a shop",
    ...          "wav": "wavs/0/utterance_1.wav",
    ...          "image": "s/shoe_shop/gsun_1.jpg"}
    >>> [r["image_id"] for r in read_places({"data": [entry]}, "val.json")]
    ['s/shoe_shop/gsun_1']
    >>> del entry["speaker"]
    >>> read_places({"data": [entry]}, "val.json")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: val.json: data[0]: lacks a
    'speaker' string
    """
    data = content.get("data") if isinstance(content, dict) else None
    if not isinstance(data, list) or not data:
        raise DataError(
            f"{path}: expected an object with a non-empty 'data' list"
        )
    records = []
    for i, entry in enumerate(data):
        at = f"{path}: data[{i}]"
        if not isinstance(entry, dict):
            raise DataError(f"{at}: expected an object")
        for key in ENTRY_KEYS:
            if not isinstance(entry.get(key), str):
                raise DataError(f"{at}: lacks a {key!r} string")
        if not isinstance(entry.get("asr_text", ""), str):
            raise DataError(f"{at}: 'asr_text' is not a string")
        records.append(
            {
                "utt_id": entry["uttid"],
                "wav": entry["wav"],
                "image": entry["image"],
                "image_id": os.path.splitext(entry["image"])[0],
                "speaker": entry["speaker"],
                "text": entry.get("asr_text"),
                "origin": at,
            }
        )
    return records


def split_places(train_records, test_records, valid_images):
    """Splits Places utterances into train/valid/test (module docstring).

    Arguments
    ---------
    train_records : list of dict
        Records of ``train.json``.
    test_records : list of dict
        Records of ``val.json``.
    valid_images : int
        How many training images go to the validation split.

    Returns
    -------
    dict
        ``{split: [record, ...]}``.

    Example
    -------
    >>> train = [{"utt_id": f"u{i}", "image_id": f"i{i}"} for i in range(4)]
    >>> test = [{"utt_id": "t0", "image_id": "i3"}]
    >>> splits = split_places(train, test, valid_images=1)
    >>> [len(splits[s]) for s in ("train", "valid", "test")]
    [2, 1, 1]
    """
    test_images = {r["image_id"] for r in test_records}
    kept = [r for r in train_records if r["image_id"] not in test_images]
    if len(kept) < len(train_records):
        logger.warning(
            "%d training utterances show a test image and are dropped",
            len(train_records) - len(kept),
        )
    images = sorted(
        {r["image_id"] for r in kept},
        key=lambda image_id: hashlib.md5(image_id.encode("utf-8")).hexdigest(),
    )
    if len(images) <= valid_images:
        raise DataError(
            f"only {len(images)} training images, cannot hold out "
            f"{valid_images} for validation"
        )
    valid = set(images[:valid_images])
    return {
        "train": [r for r in kept if r["image_id"] not in valid],
        "valid": [r for r in kept if r["image_id"] in valid],
        "test": test_records,
    }
