"""Image/text-caption datasets (for training a CLIP) and the SynthVGS
text captions.

* :func:`read_synthvgs_captions`: the captions of a SynthVGS folder
  (``captions.json``), per image split (``scenes.json``), one entry per
  (image, caption), validated with errors naming the file at fault.
* :func:`caption_dataset` and :func:`synthvgs_caption_datasets`: those
  entries as SpeechBrain ``DynamicItemDataset`` objects with the items
  ``img`` (preprocessed image, decoded once and kept in memory), ``tokens``
  (CLIP's BPE token ids) and ``image_idx``; :func:`clip_transforms` gives
  the image preprocessing and tokenizer that open_clip itself uses for the
  exported model.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import open_clip
from open_clip.transform import PreprocessCfg, image_transform_v2
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

from speechbrain_vgs.dataio.manifest import DataError, read_json
from speechbrain_vgs.dataio.pipelines import image_index, read_image

SPLITS = ("train", "valid", "test")


def clip_transforms(model):
    """The image preprocessing and the tokenizer of an open_clip CLIP.

    They are the ones open_clip builds for the model once exported and
    loaded (``create_model_and_transforms``' inference transform, and
    CLIP's BPE ``SimpleTokenizer`` at the model's context length), so that
    training sees exactly what the loaded model will see.

    Arguments
    ---------
    model : open_clip.CLIP
        The model.

    Returns
    -------
    preprocess : callable
        PIL image -> normalised ``[3, H, W]`` tensor.
    tokenizer : open_clip.SimpleTokenizer
        List of texts -> token ids ``[N, context_length]``.

    Example
    -------
    >>> from PIL import Image
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> model = open_clip.CLIP(**config)
    >>> preprocess, tokenizer = clip_transforms(model)
    >>> preprocess(Image.new("RGB", (50, 40))).shape
    torch.Size([3, 16, 16])
    >>> tokenizer(["a red circle"]).shape
    torch.Size([1, 16])
    """
    config = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))
    preprocess = image_transform_v2(config, is_train=False)
    tokenizer = open_clip.SimpleTokenizer(context_length=model.context_length)
    return preprocess, tokenizer


def read_synthvgs_captions(data_folder, lang="en", splits=SPLITS):
    """The text captions of a SynthVGS folder, one entry per (image, caption).

    Images are assigned to splits by ``scenes.json`` (``train``, ``valid``,
    ``test``; the test images are those of test_A..test_D); their captions
    come from ``captions.json`` (``{image_id: {lang: [captions]}}``), and
    the images themselves are ``images/<image_id>.png``. The caption ids
    are those of the matching spoken utterances, ``<lang>_<image_id>_<k>``.

    Arguments
    ---------
    data_folder : str
        A SynthVGS folder (see :mod:`speechbrain_vgs.dataio.synthvgs`).
    lang : str
        Caption language.
    splits : sequence of str
        Image splits to read.

    Returns
    -------
    dict
        ``{split: {caption_id: {"image": path, "image_id": id,
        "text": caption}}}``, in image then caption order.

    Raises
    ------
    DataError
        Naming ``scenes.json`` or ``captions.json`` (and the image) when
        one is unreadable or malformed, or an image file that is missing.
    ValueError
        If a split has no image.

    Example
    -------
    >>> from PIL import Image
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "scenes.json", {"img0": {"split": "train"}})
    >>> write_json(tmp / "captions.json",
    ...            {"img0": {"en": ["a red circle", "a circle"]}})
    >>> images = tmp.mkdir("images")
    >>> Image.new("RGB", (8, 8)).save(images / "img0.png")
    >>> captions = read_synthvgs_captions(tmp, splits=["train"])
    >>> captions["train"]["en_img0_1"]["text"]
    'a circle'
    """
    data_folder = os.fspath(data_folder)
    scenes_path = os.path.join(data_folder, "scenes.json")
    captions_path = os.path.join(data_folder, "captions.json")
    scenes = read_json(scenes_path)
    if not isinstance(scenes, dict):
        raise DataError(f"{scenes_path}: expected a JSON object of scenes")
    image_splits = {}
    for image_id, scene in scenes.items():
        if not isinstance(scene, dict) or "split" not in scene:
            raise DataError(f"{scenes_path}: scene {image_id!r} has no split")
        image_splits[image_id] = scene["split"]
    captions = read_json(captions_path)
    if not isinstance(captions, dict):
        raise DataError(
            f"{captions_path}: expected a JSON object {{image_id: {{lang: "
            "[captions]}}}"
        )
    result = {}
    for split in splits:
        images = sorted(i for i, s in image_splits.items() if s == split)
        if not images:
            found = sorted(set(image_splits.values()))
            raise ValueError(
                f"{scenes_path}: no image in split {split!r} (found {found})"
            )
        entries = {}
        for image_id in images:
            texts = _image_captions(captions, image_id, lang, captions_path)
            image = os.path.join(data_folder, "images", f"{image_id}.png")
            if not os.path.isfile(image):
                raise DataError(f"{image}: image of {image_id!r} not found")
            for k, text in enumerate(texts):
                entries[f"{lang}_{image_id}_{k}"] = {
                    "image": image,
                    "image_id": image_id,
                    "text": text,
                }
        result[split] = entries
    return result


def _image_captions(captions, image_id, lang, path):
    """The validated ``lang`` captions of one image of ``captions.json``."""
    entry = captions.get(image_id)
    if not isinstance(entry, dict):
        raise DataError(f"{path}: no captions for image {image_id!r}")
    texts = entry.get(lang)
    if (
        not isinstance(texts, list)
        or not texts
        or not all(isinstance(t, str) and t.strip() for t in texts)
    ):
        raise DataError(
            f"{path}: image {image_id!r}: the {lang!r} captions must be a "
            f"non-empty list of non-empty strings, got {texts!r}"
        )
    return texts


def caption_dataset(entries, preprocess, tokenizer):
    """A ``DynamicItemDataset`` of image/text-caption pairs.

    Each image is decoded and preprocessed once, then kept in memory (in
    each data-loading process).

    Arguments
    ---------
    entries : dict
        ``{caption_id: {"image": path, "image_id": id, "text": caption}}``.
    preprocess : callable
        PIL image -> image tensor (see :func:`clip_transforms`).
    tokenizer : callable
        List of texts -> token ids ``[N, context_length]``.

    Returns
    -------
    DynamicItemDataset
        Output keys ``id``, ``img``, ``tokens`` (long ``[context_length]``)
        and ``image_idx`` (an integer per distinct ``image_id``).

    Example
    -------
    >>> from PIL import Image
    >>> tmp = getfixture("tmpdir")
    >>> Image.new("RGB", (20, 20), "red").save(tmp / "red.png")
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> preprocess, tokenizer = clip_transforms(open_clip.CLIP(**config))
    >>> entries = {"c0": {"image": str(tmp / "red.png"), "image_id": "red",
    ...                   "text": "a red square"}}
    >>> item = caption_dataset(entries, preprocess, tokenizer)[0]
    >>> item["img"].shape, item["tokens"].shape, item["image_idx"]
    (torch.Size([3, 16, 16]), torch.Size([16]), 0)
    """
    index = image_index(entries)
    images = {}

    @takes("image")
    @provides("img")
    def image_pipeline(image):
        if image not in images:
            images[image] = read_image(image, preprocess)
        return images[image]

    @takes("text", "image_id")
    @provides("tokens", "image_idx")
    def text_pipeline(text, image_id):
        yield tokenizer([text])[0]
        yield index[image_id]

    return DynamicItemDataset(
        entries,
        dynamic_items=[image_pipeline, text_pipeline],
        output_keys=["id", "img", "tokens", "image_idx"],
    )


def synthvgs_caption_datasets(
    data_folder, preprocess, tokenizer, lang="en", splits=SPLITS
):
    """Image/text-caption datasets of a SynthVGS folder, one per split.

    Arguments
    ---------
    data_folder : str
        A SynthVGS folder.
    preprocess : callable
        PIL image -> image tensor (see :func:`clip_transforms`).
    tokenizer : callable
        List of texts -> token ids.
    lang : str
        Caption language.
    splits : sequence of str
        Image splits (``train``, ``valid``, ``test``).

    Returns
    -------
    dict
        ``{split: DynamicItemDataset}`` (see :func:`caption_dataset`).

    Example
    -------
    >>> from PIL import Image
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "scenes.json", {"i0": {"split": "valid"}})
    >>> write_json(tmp / "captions.json", {"i0": {"en": ["a", "b", "c"]}})
    >>> images = tmp.mkdir("images")
    >>> Image.new("RGB", (8, 8)).save(images / "i0.png")
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> transforms = clip_transforms(open_clip.CLIP(**config))
    >>> datasets = synthvgs_caption_datasets(tmp, *transforms,
    ...                                      splits=["valid"])
    >>> len(datasets["valid"])
    3
    """
    captions = read_synthvgs_captions(data_folder, lang, splits)
    return {
        split: caption_dataset(entries, preprocess, tokenizer)
        for split, entries in captions.items()
    }
