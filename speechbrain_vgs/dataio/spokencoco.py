"""Manifests for SpokenCOCO (Hsu et al. 2021) on Karpathy's COCO split.

Expected layout of ``data_folder`` (the unpacked ``SpokenCOCO.tar.gz``)::

    SpokenCOCO_train.json, SpokenCOCO_val.json
        {"data": [{"image": "val2014/COCO_val2014_000000325114.jpg",
                   "captions": [{"text": "...", "speaker": "...",
                                 "uttid": "...",
                                 "wav": "wavs/val/0/<uttid>.wav"}, ...]},
                  ...]}
    wavs/{train,val}/<n>/<uttid>.wav
    dataset_coco.json             Karpathy's split (may live elsewhere)

and of ``image_folder``: ``train2014/`` and ``val2014/`` with the COCO
images. Karpathy's ``train`` and ``restval`` images make the training set,
``val`` the validation set and ``test`` the 5k-image test set (25k
utterances); the official train/val origin of an image does not matter.

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os

from speechbrain_vgs.dataio.manifest import DataError, outputs_ready, read_json
from speechbrain_vgs.dataio.prep_utils import (
    group_by_split,
    image_stem,
    manifest_paths,
    read_karpathy_split,
    write_vgs_manifests,
)

logger = logging.getLogger(__name__)

SPOKENCOCO_FILES = ("SpokenCOCO_train.json", "SpokenCOCO_val.json")
KARPATHY_FILE = "dataset_coco.json"
CAPTION_KEYS = ("wav", "uttid", "speaker")


def prepare_spokencoco(
    data_folder,
    save_folder,
    karpathy_split=None,
    image_folder=None,
    skip_prep=False,
):
    """Writes ``train.json``, ``valid.json`` and ``test.json`` manifests
    for SpokenCOCO.

    One entry per spoken caption, keyed by its ``uttid``: ``wav`` is
    ``{data_root}/wavs/...`` (``{data_root}`` = ``data_folder``),
    ``image`` is ``{image_root}/<train2014|val2014>/...jpg``
    (``{image_root}`` = ``image_folder``), ``image_id`` is the image name
    without extension (``COCO_val2014_000000325114``), plus ``speaker`` and
    ``text``. Every caption goes to the Karpathy split of its image.
    Nothing is done when the manifests exist and were made with the same
    options.

    Arguments
    ---------
    data_folder : str
        The SpokenCOCO folder (layout in the module docstring).
    save_folder : str
        Where the manifests (and ``spokencoco_options.json``) go.
    karpathy_split : str, optional
        Karpathy's ``dataset_coco.json``; ``data_folder/dataset_coco.json``
        by default.
    image_folder : str, optional
        The folder holding ``train2014/`` and ``val2014/``;
        ``data_folder`` by default.
    skip_prep : bool
        If True, do nothing.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> prepare_spokencoco(tmp, tmp / "manifests", skip_prep=True)
    >>> prepare_spokencoco(tmp, tmp / "manifests")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../dataset_coco.json: file not
    found
    """
    if skip_prep:
        return
    if karpathy_split is None:
        karpathy_split = os.path.join(data_folder, KARPATHY_FILE)
    if image_folder is None:
        image_folder = data_folder
    options = {
        "data_folder": os.path.abspath(data_folder),
        "karpathy_split": os.path.abspath(karpathy_split),
        "image_folder": os.path.abspath(image_folder),
    }
    outputs = manifest_paths(save_folder)
    options_file = os.path.join(save_folder, "spokencoco_options.json")
    if outputs_ready(outputs.values(), options, options_file):
        logger.info("SpokenCOCO manifests in %s are up to date", save_folder)
        return

    image_splits = {
        image_id: split
        for image_id, (split, _) in read_karpathy_split(karpathy_split).items()
    }
    records = []
    for name in SPOKENCOCO_FILES:
        records += read_spokencoco(os.path.join(data_folder, name))
    splits = group_by_split(records, image_splits, karpathy_split)
    write_vgs_manifests(
        splits, data_folder, image_folder, save_folder, options, options_file
    )


def read_spokencoco(path):
    """Reads one ``SpokenCOCO_{train,val}.json`` file.

    Arguments
    ---------
    path : str
        The JSON file.

    Returns
    -------
    list of dict
        Utterance records (see :mod:`speechbrain_vgs.dataio.prep_utils`),
        one per caption.

    Example
    -------
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> path = getfixture("tmpdir") / "SpokenCOCO_val.json"
    >>> write_json(path, {"data": [{"image": "val2014/COCO_val2014_1.jpg",
    ...     "captions": [{"text": "A cat.", "speaker": "s1", "uttid": "u1",
    ...                   "wav": "wavs/val/0/u1.wav"}]}]})
    >>> [r["image_id"] for r in read_spokencoco(path)]
    ['COCO_val2014_1']
    >>> write_json(path, {"data": [{"image": "val2014/COCO_val2014_1.jpg",
    ...     "captions": [{"text": "A cat.", "uttid": "u1",
    ...                   "wav": "wavs/val/0/u1.wav"}]}]})
    >>> read_spokencoco(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...SpokenCOCO_val.json:
    data[0].captions[0]: lacks a 'speaker' string
    """
    content = read_json(path)
    data = content.get("data") if isinstance(content, dict) else None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected an object with a 'data' list")
    records = []
    for i, item in enumerate(data):
        at = f"{path}: data[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("image"), str):
            raise DataError(f"{at}: lacks an 'image' string")
        if not isinstance(item.get("captions"), list):
            raise DataError(f"{at}: lacks a 'captions' list")
        for j, caption in enumerate(item["captions"]):
            caption_at = f"{at}.captions[{j}]"
            if not isinstance(caption, dict):
                raise DataError(f"{caption_at}: expected an object")
            for key in CAPTION_KEYS:
                if not isinstance(caption.get(key), str):
                    raise DataError(f"{caption_at}: lacks a {key!r} string")
            if not isinstance(caption.get("text", ""), str):
                raise DataError(f"{caption_at}: 'text' is not a string")
            records.append(
                {
                    "utt_id": caption["uttid"],
                    "wav": caption["wav"],
                    "image": item["image"],
                    "image_id": image_stem(item["image"]),
                    "speaker": caption["speaker"],
                    "text": caption.get("text"),
                    "origin": caption_at,
                }
            )
    return records
