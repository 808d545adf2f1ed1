"""Training an open_clip CLIP from scratch on image/caption pairs.

No pretrained CLIP weights exist offline, so the SynthVGS recipes train a
small ``open_clip.CLIP`` on SynthVGS images and their text captions
(``recipes/SynthVGS/CLIP``) and save it in open_clip's own format, which
:class:`speechbrain_vgs.lobes.clip.FrozenCLIP` then loads through the same code
path as a real checkpoint.

* :func:`read_synthvgs_captions`: the captions of a SynthVGS folder
  (``captions.json``), per image split (``scenes.json``), one entry per
  (image, caption), validated with errors naming the file at fault.
* :func:`synthvgs_caption_datasets`: those entries as SpeechBrain
  ``DynamicItemDataset`` objects with the items ``img`` (preprocessed image,
  decoded once and kept in memory), ``tokens`` (CLIP's BPE token ids) and
  ``image_idx``; :func:`clip_transforms` gives the image preprocessing and
  tokenizer that open_clip itself uses for the exported model.
* :class:`CLIPBrain`: symmetric InfoNCE with a learnable temperature, other
  captions of the same image masked out (the contrastive batch is global
  under DDP); text<->image retrieval recall every validation, the best
  checkpoint kept by mean R@10. :class:`RandomResizedCrops` augments the
  training images (per image, in one call on the batch).
The trained model is exported with
:func:`speechbrain_vgs.lobes.tiny_models.export_open_clip`.

Authors
 * speechbrain-vgs developers 2026
"""

import math
import os

import open_clip
import speechbrain as sb
import torch
import torch.nn.functional as F
from open_clip.transform import PreprocessCfg, image_transform_v2
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

from speechbrain_vgs.brains import BEST_KEY, VGSBrain, mean_r10, pooled_dot
from speechbrain_vgs.dataio.manifest import DataError, read_json
from speechbrain_vgs.dataio.pipelines import image_index, read_image
from speechbrain_vgs.distributed import gather_no_grad, gather_with_grad
from speechbrain_vgs.metrics import RetrievalStats

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


class RandomResizedCrops(torch.nn.Module):
    """Random resized crops of a batch of images, each image its own crop.

    Each image keeps a random window with its aspect ratio, covering a
    random share in ``scale`` of its area at a random position, bilinearly
    resized back to the input size (one ``grid_sample`` call for the whole
    batch, on the batch's device). No flips: captions speak of left and
    right. Meant for training only, on preprocessed images.

    Arguments
    ---------
    scale : tuple of float
        Range of the share of the image's area kept, in (0, 1].

    Example
    -------
    >>> crops = RandomResizedCrops(scale=(0.5, 0.5))
    >>> ramp = torch.linspace(0, 1, 64).expand(4, 3, 64, 64)
    >>> out = crops(ramp)
    >>> out.shape
    torch.Size([4, 3, 64, 64])
    >>> span = out[..., -1] - out[..., 0]  # each row: a window of the ramp
    >>> bool(((span - 0.5 ** 0.5).abs() < 0.02).all())
    True
    >>> torch.allclose(RandomResizedCrops((1, 1))(ramp), ramp, atol=1e-6)
    True
    """

    def __init__(self, scale=(0.6, 1.0)):
        super().__init__()
        low, high = scale
        if not 0 < low <= high <= 1:
            raise ValueError(
                f"scale must satisfy 0 < low <= high <= 1: {scale}"
            )
        self.scale = (float(low), float(high))

    def forward(self, images):
        """Crops ``images`` ``[B, C, H, W]``; returns the same shape."""
        batch = images.shape[0]
        options = {"device": images.device, "dtype": images.dtype}
        side = torch.empty(batch, **options).uniform_(*self.scale).sqrt()
        shift = (1 - side) * torch.empty(2, batch, **options).uniform_(-1, 1)
        theta = torch.zeros(batch, 2, 3, **options)
        theta[:, 0, 0] = side
        theta[:, 1, 1] = side
        theta[:, :, 2] = shift.t()
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(
            images, grid, padding_mode="border", align_corners=False
        )


def text_image_recall(recall):
    """Renames :func:`speechbrain_vgs.metrics.retrieval_recall`'s keys for
    text captions: ``speech_to_image_r{k}`` -> ``text_to_image_r{k}`` and
    ``image_to_speech_r{k}`` -> ``image_to_text_r{k}``.

    Example
    -------
    >>> text_image_recall({"speech_to_image_r1": 0.5,
    ...                    "image_to_speech_r1": 0.25})
    {'text_to_image_r1': 0.5, 'image_to_text_r1': 0.25}
    """
    return {
        key.replace("speech_to_image", "text_to_image").replace(
            "image_to_speech", "image_to_text"
        ): value
        for key, value in recall.items()
    }


class CLIPBrain(VGSBrain):
    """Trains an open_clip CLIP (both towers) on image/text-caption pairs.

    Modules (``modules`` in the hparams): ``clip``, an ``open_clip.CLIP``,
    and ``loss``, a :class:`speechbrain_vgs.losses.InfoNCE` (learnable
    temperature, as in CLIP). Batches are those of :func:`caption_dataset`.

    The loss is the symmetric InfoNCE over the cosine similarities of the
    text and image embeddings of the (global, under DDP) batch, other
    captions of the same image masked out. The model's own ``logit_scale``
    is not trained: the loss's trained one is copied into it before each
    checkpoint, so that saved and exported models carry the temperature.
    Out of training, text->image and image->text recall@k (images
    deduplicated by id) is computed with
    :func:`speechbrain_vgs.metrics.retrieval_recall`; validation logs it
    and keeps the best checkpoint by mean R@10 (``BEST_KEY``);
    :meth:`evaluate_sets` writes the test recalls to ``results_file``
    under ``text_to_image_r{k}`` / ``image_to_text_r{k}``.

    Hparams it reads: ``train_logger``, ``results_file``, and optionally
    ``image_augment`` (applied to the training images, e.g.
    :class:`RandomResizedCrops`), ``lr_scheduler`` (called with the
    optimizer before every training step, e.g. SpeechBrain's
    ``LinearWarmupScheduler``) and ``recall_ks``.

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain_vgs.losses import InfoNCE
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> model = open_clip.CLIP(**config)
    >>> brain = CLIPBrain(
    ...     modules={"clip": model, "loss": InfoNCE(learnable=True)},
    ...     hparams={"image_augment": RandomResizedCrops()},
    ...     run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([
    ...     {"id": f"c{i}", "img": torch.randn(3, 16, 16),
    ...      "tokens": torch.randint(1, 9, (16,)), "image_idx": i // 2}
    ...     for i in range(4)])
    >>> text, image = brain.compute_forward(batch, sb.Stage.TRAIN)
    >>> text.shape, image.shape
    (torch.Size([4, 8]), torch.Size([4, 8]))
    >>> brain.compute_objectives((text, image), batch, sb.Stage.TRAIN).shape
    torch.Size([])
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip.logit_scale.requires_grad_(False)

    @property
    def clip(self):
        """The open_clip model (outside any DDP wrapper)."""
        return getattr(self.modules.clip, "module", self.modules.clip)

    def compute_forward(self, batch, stage):
        """L2-normalised text and image embeddings ``[B, embed_dim]``."""
        batch = batch.to(self.device)
        images = batch.img.data
        augment = getattr(self.hparams, "image_augment", None)
        if stage == sb.Stage.TRAIN and augment is not None:
            images = augment(images)
        image, text = self.modules.clip(images, batch.tokens.data)[:2]
        return text, image

    def compute_objectives(self, predictions, batch, stage):
        """InfoNCE (global batch); retrieval stats out of training."""
        text, image = predictions
        image_ids = torch.as_tensor(batch.image_idx, device=self.device)
        if stage == sb.Stage.TRAIN:
            text = gather_with_grad(text)
            image = gather_with_grad(image)
            image_ids = gather_no_grad(image_ids)
        else:
            self.retrieval_stats.append(batch.id, text, None, image, image_ids)
        return self.modules.loss(text @ image.t(), image_ids)

    def on_stage_start(self, stage, epoch=None):
        """Starts a fresh retrieval accumulator out of training."""
        if stage != sb.Stage.TRAIN:
            self.retrieval_stats = RetrievalStats(
                pooled_dot,
                ks=getattr(self.hparams, "recall_ks", (1, 5, 10)),
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, checkpoints on mean R@10, writes results."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        recall = self.retrieval_stats.summarize()
        stats.update(text_image_recall(recall))
        stats[BEST_KEY] = mean_r10(recall)
        stats["temperature"] = 1.0 / self._logit_scale()
        if stage == sb.Stage.VALID:
            self.log_valid(epoch, stats)
            self._copy_logit_scale()
            self.checkpointer.save_and_keep_only(
                meta={BEST_KEY: stats[BEST_KEY]}, max_keys=[BEST_KEY]
            )
        else:
            self.log_test(stats)
            del stats["temperature"]
            self.save_results(self.test_name, stats)

    def _logit_scale(self):
        """The loss's current logit scale ``1 / temperature`` (a float)."""
        loss = self.modules.loss
        return getattr(loss, "module", loss).logit_scale().item()

    def _copy_logit_scale(self):
        """Sets the model's (untrained) ``logit_scale`` to the loss's."""
        with torch.no_grad():
            self.clip.logit_scale.fill_(math.log(self._logit_scale()))
