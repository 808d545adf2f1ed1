"""Brain classes shared by the recipes.

:class:`GroundingBrain` trains a speech encoder and an image encoder to tell
whether an image and a spoken caption match (DAVEnet, ResDAVEnet(-VQ) and
any model that follows the same contract), validates retrieval recall every
epoch, keeps the best checkpoint by mean R@10 and writes ``results.json`` at
test time.

Authors
 * speechbrain-vgs developers 2026
"""

import logging

import speechbrain as sb
import torch
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.distributed import (
    gather_frames,
    gather_no_grad,
    gather_with_grad,
)
from speechbrain_vgs.metrics import RetrievalStats

logger = logging.getLogger(__name__)

BEST_KEY = "mean_r10"


def mean_r10(stats):
    """The checkpoint-selection score: mean of both directions' R@10.

    Example
    -------
    >>> mean_r10({"speech_to_image_r10": 0.2, "image_to_speech_r10": 0.4})
    0.30000000000000004
    """
    return (stats["speech_to_image_r10"] + stats["image_to_speech_r10"]) / 2


def train_loader_options(dataset, hparams):
    """Train loader options, with a length-bucketed sampler if asked.

    With ``dynamic_batching: True`` in the hparams, batches are built by
    SpeechBrain's ``DynamicBatchSampler`` from ``dynamic_batch_sampler``
    (``max_batch_length`` in seconds of audio, ``num_buckets``,
    ``max_batch_ex``, ...); otherwise ``train_dataloader_opts`` is used.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> ds = DynamicItemDataset({str(i): {"duration": 1.0 + i}
    ...                          for i in range(8)})
    >>> opts = train_loader_options(ds, {"dynamic_batching": True,
    ...     "dynamic_batch_sampler": {"max_batch_length": 10,
    ...                               "num_buckets": 2}})
    >>> sum(len(b) for b in opts["batch_sampler"])
    8
    """
    options = dict(hparams.get("train_dataloader_opts", {}))
    if hparams.get("dynamic_batching", False):
        options.pop("batch_size", None)
        options.pop("shuffle", None)
        options["batch_sampler"] = DynamicBatchSampler(
            dataset,
            length_func=lambda entry: entry["duration"],
            **hparams["dynamic_batch_sampler"],
        )
    return options


class GroundingBrain(sb.Brain):
    """Trains speech and image encoders to match spoken captions to images.

    Modules (``modules`` in the hparams):

    - ``compute_features``: waveforms, relative lengths -> features.
    - ``audio_encoder``: features, lengths -> frames ``[B, T, D]`` (or
      pooled ``[B, D]``); if it has a ``vq_loss`` attribute, that loss is
      added in training.
    - ``image_encoder``: images ``[B, 3, H, W]`` -> maps ``[B, H, W, D]``
      (or pooled ``[B, D]``).

    Hparams it reads: ``similarity`` (``f(audio, lengths, image) -> [Na,
    Ni]``), ``loss`` (``loss(sim, image_ids)``), ``train_logger``,
    ``results_file``, and optionally ``lr_annealing`` (called with the
    epoch, returns old and new learning rates), ``feature_augment``
    (applied to the features in training, e.g. SpeechBrain's
    ``SpectrogramDrop``) and ``recall_ks``.

    In training the contrastive batch is global under DDP: frames, images
    and image ids are gathered from all processes (with gradients) before
    the similarity matrix is computed.

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain_vgs.losses import InfoNCE
    >>> from speechbrain_vgs.similarity import Similarity
    >>> identity = torch.nn.Identity()
    >>> brain = GroundingBrain(
    ...     modules={"compute_features": identity, "audio_encoder": identity,
    ...              "image_encoder": identity},
    ...     hparams={"similarity": Similarity("MISA"), "loss": InfoNCE()},
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = {}
        self.test_name = "test"

    def compute_forward(self, batch, stage):
        """Encodes the batch's speech and images."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        feats = self.modules.compute_features(wavs, lengths)
        augment = getattr(self.hparams, "feature_augment", None)
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

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """Also lets the Brain reshuffle a train batch sampler each epoch."""
        loader = super().make_dataloader(
            dataset, stage, ckpt_prefix, **loader_kwargs
        )
        batch_sampler = loader_kwargs.get("batch_sampler")
        if stage == sb.Stage.TRAIN and not self.distributed_launch:
            if hasattr(batch_sampler, "set_epoch"):
                self.train_sampler = batch_sampler
        return loader

    def on_stage_start(self, stage, epoch=None):
        """Starts a fresh retrieval accumulator out of training."""
        if stage != sb.Stage.TRAIN:
            self.retrieval_stats = RetrievalStats(
                self.hparams.similarity,
                ks=getattr(self.hparams, "recall_ks", (1, 5, 10)),
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, anneals, checkpoints on mean R@10, writes results."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats.update(self.retrieval_stats.summarize())
        stats[BEST_KEY] = mean_r10(stats)
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            if hasattr(self.hparams, "lr_annealing"):
                _, lr = self.hparams.lr_annealing(epoch)
                sb.nnet.schedulers.update_learning_rate(self.optimizer, lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={BEST_KEY: stats[BEST_KEY]}, max_keys=[BEST_KEY]
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"test set": self.test_name}, test_stats=stats
            )
            self.save_results(self.test_name, stats)

    def save_results(self, name, stats):
        """Records one test set's metrics and rewrites ``results_file``."""
        self.results[name] = {
            key: float(value)
            for key, value in stats.items()
            if key not in ("loss", BEST_KEY)
        }
        if if_main_process():
            write_json(self.hparams.results_file, self.results)

    def evaluate_sets(self, test_sets, loader_options=None):
        """Evaluates the best checkpoint on each named test set.

        Arguments
        ---------
        test_sets : dict
            ``{name: dataset}``; each name becomes a key of ``results.json``.
        loader_options : dict, optional
            Test dataloader options.
        """
        self.results = {}
        for name, dataset in test_sets.items():
            self.test_name = name
            self.evaluate(
                dataset,
                max_key=BEST_KEY,
                test_loader_kwargs=dict(loader_options or {}),
            )
