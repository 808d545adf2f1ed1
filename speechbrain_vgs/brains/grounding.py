"""The grounding Brain: speech and image encoders that tell whether an
image and a spoken caption match (DAVEnet, ResDAVEnet(-VQ) and any model
that follows the same contract).

Authors
 * speechbrain-vgs developers 2026
"""

import speechbrain as sb
import torch

from speechbrain_vgs.brains.base import RetrievalBrain
from speechbrain_vgs.distributed import (
    gather_frames,
    gather_no_grad,
    gather_with_grad,
)


class GroundingBrain(RetrievalBrain):
    """Trains speech and image encoders to match spoken captions to images.

    Modules (``modules`` in the hparams):

    - ``compute_features``: waveforms, relative lengths -> features.
    - ``audio_encoder``: features, lengths -> frames ``[B, T, D]`` (or
      pooled ``[B, D]``); if it has a ``vq_loss`` attribute, that loss is
      added in training.
    - ``image_encoder``: images ``[B, 3, H, W]`` -> maps ``[B, H, W, D]``
      (or pooled ``[B, D]``).

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`: ``similarity``
    (``f(audio, lengths, image) -> [Na, Ni]``, also used for recall),
    ``loss`` (``loss(sim, image_ids)``), and optionally ``feature_augment``
    (applied to the features in training, e.g. SpeechBrain's
    ``SpectrogramDrop``).

    In training the contrastive batch is global under DDP: frames, images
    and image ids are gathered from all processes (with gradients) before
    the similarity matrix is computed. Out of training each process
    evaluates its share of the set and the statistics and the loss are
    gathered, so they are those of one process. Validation keeps the best
    checkpoint by mean R@10; :meth:`evaluate_sets` writes recall@k both
    ways per test set to ``results_file`` and, beside it, the examples page
    ``examples.html`` (spoken captions with the images they retrieve and
    images with the captions they retrieve, see
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`).

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from speechbrain_vgs.losses import InfoNCE
    >>> from speechbrain_vgs.similarity import Similarity
    >>> tmp = getfixture("tmpdir")
    >>> identity = torch.nn.Identity()
    >>> brain = GroundingBrain(
    ...     modules={"compute_features": identity, "audio_encoder": identity,
    ...              "image_encoder": identity},
    ...     hparams={"similarity": Similarity("MISA"), "loss": InfoNCE(),
    ...              "train_logger": FileTrainLogger(tmp / "log.txt"),
    ...              "results_file": tmp / "results.json"},
    ...     run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([{"id": "u0", "image_idx": 0},
    ...                      {"id": "u1", "image_idx": 1}])
    >>> frames, lengths = torch.randn(2, 5, 8), torch.tensor([1.0, 0.6])
    >>> maps = torch.randn(2, 3, 3, 8)
    >>> loss = brain.compute_objectives((frames, lengths, maps), batch,
    ...                                 sb.Stage.TRAIN)
    >>> loss.shape
    torch.Size([])
    """

    HPARAMS_NEEDED = ("similarity", "loss")
    HPARAMS_OPTIONAL = {"feature_augment": None}
    MODULES_NEEDED = ("compute_features", "audio_encoder", "image_encoder")
    SHARDED_EVALUATION = True

    def retrieval_similarity(self, audio, audio_lens, image):
        """The training similarity (``similarity``) scores recall too."""
        return self.hparams.similarity(audio, audio_lens, image)

    def compute_forward(self, batch, stage):
        """Encodes the batch's speech and images."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        feats = self.modules.compute_features(wavs, lengths)
        augment = self.hparams.feature_augment
        if stage == sb.Stage.TRAIN and augment is not None:
            feats = augment(feats)
        audio = self.modules.audio_encoder(feats, lengths)
        image = self.modules.image_encoder(batch.img.data)
        return audio, lengths, image

    def compute_objectives(self, predictions, batch, stage):
        """Contrastive loss (global batch); retrieval stats out of training."""
        audio, lengths, image = predictions
        image_ids = torch.as_tensor(batch.image_idx, device=self.device)
        if stage != sb.Stage.TRAIN:
            self.retrieval_stats.append(
                batch.id, audio, lengths, image, image_ids
            )
        if stage == sb.Stage.TRAIN:
            if audio.dim() == 3:
                audio, lengths = gather_frames(audio, lengths)
            else:
                audio = gather_with_grad(audio)
            image = gather_with_grad(image)
            image_ids = gather_no_grad(image_ids)
        sim = self.hparams.similarity(audio, lengths, image)
        loss = self.hparams.loss(sim, image_ids)
        if stage == sb.Stage.TRAIN:
            encoder = self.modules.audio_encoder
            encoder = getattr(encoder, "module", encoder)  # DDP wrapper
            vq_loss = getattr(encoder, "vq_loss", None)
            if vq_loss is not None:
                loss = loss + vq_loss
        return loss
