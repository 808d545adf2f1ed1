"""The CLIP Brain: an open_clip CLIP (both towers) trained from scratch on
image/text-caption pairs.

No pretrained CLIP weights exist offline, so the SynthVGS recipes train a
small ``open_clip.CLIP`` on SynthVGS images and their text captions
(``recipes/SynthVGS/CLIP``; data from
:func:`speechbrain_vgs.dataio.captions.synthvgs_caption_datasets`) and
export it in open_clip's own format
(:func:`speechbrain_vgs.lobes.tiny_models.export_open_clip`), which
:class:`speechbrain_vgs.lobes.clip.FrozenCLIP` then loads through the same
code path as a real checkpoint.

Authors
 * speechbrain-vgs developers 2026
"""

import math

import speechbrain as sb
import torch

from speechbrain_vgs.brains.base import BEST_KEY, RetrievalBrain
from speechbrain_vgs.distributed import gather_no_grad, gather_with_grad
from speechbrain_vgs.metrics import mean_r10


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


class CLIPBrain(RetrievalBrain):
    """Trains an open_clip CLIP (both towers) on image/text-caption pairs.

    Modules (``modules`` in the hparams): ``clip``, an ``open_clip.CLIP``,
    and ``loss``, a :class:`speechbrain_vgs.losses.InfoNCE` (learnable
    temperature, as in CLIP). Batches are those of
    :func:`speechbrain_vgs.dataio.captions.caption_dataset`.

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
    under ``text_to_image_r{k}`` / ``image_to_text_r{k}``, and the examples
    page ``examples.html`` beside it (text captions with the images they
    retrieve and images with the captions they retrieve, see
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`).

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`: optionally
    ``image_augment`` (applied to the training images, e.g.
    :class:`speechbrain_vgs.lobes.augment.RandomResizedCrops`).

    Example
    -------
    >>> import open_clip
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from speechbrain_vgs.lobes.augment import RandomResizedCrops
    >>> from speechbrain_vgs.losses import InfoNCE
    >>> from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
    >>> tmp = getfixture("tmpdir")
    >>> config = tiny_clip_config(8, image_size=16, width=16, layers=1,
    ...                           context_length=16)
    >>> model = open_clip.CLIP(**config)
    >>> brain = CLIPBrain(
    ...     modules={"clip": model, "loss": InfoNCE(learnable=True)},
    ...     hparams={"image_augment": RandomResizedCrops(),
    ...              "train_logger": FileTrainLogger(tmp / "log.txt"),
    ...              "results_file": tmp / "results.json"},
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

    HPARAMS_OPTIONAL = {"image_augment": None}
    MODULES_NEEDED = ("clip", "loss")
    LOG_ONLY = ("temperature",)

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
        augment = self.hparams.image_augment
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

    def evaluation_stats(self):
        """Text<->image recall, ``mean_r10`` and the temperature."""
        recall = self.retrieval_stats.summarize()
        stats = text_image_recall(recall)
        stats[BEST_KEY] = mean_r10(recall)
        stats["temperature"] = 1.0 / self._logit_scale()
        return stats

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """The shared outline; before a validation's checkpoint, the
        model's ``logit_scale`` takes the loss's."""
        if stage == sb.Stage.VALID:
            self._copy_logit_scale()
        super().on_stage_end(stage, stage_loss, epoch)

    def _logit_scale(self):
        """The loss's current logit scale ``1 / temperature`` (a float)."""
        loss = self.modules.loss
        return getattr(loss, "module", loss).logit_scale().item()

    def _copy_logit_scale(self):
        """Sets the model's (untrained) ``logit_scale`` to the loss's."""
        with torch.no_grad():
            self.clip.logit_scale.fill_(math.log(self._logit_scale()))
