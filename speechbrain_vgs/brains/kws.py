"""The keyword spotting Brain: a speech network trained to predict soft
bag-of-words tags (from a visual tagger, or a transcript for a topline)
and evaluated as a keyword spotter (Kamper et al. 2017, 2019; Kamper &
Roth 2018).

Authors
 * speechbrain-vgs developers 2026
"""

import speechbrain as sb
import torch
import torch.nn.functional as F

from speechbrain_vgs.brains.base import VGSBrain
from speechbrain_vgs.distributed import (
    first_occurrences,
    gather_object,
    gather_tensors,
)
from speechbrain_vgs.metrics import bow_metrics, keyword_spotting_metrics

# relevance names a test batch may carry, and their results-key suffixes
RELEVANCE_SUFFIX = {
    "spoken": "",
    "visible": "_visible",
    "semantic": "_semantic",
}


class KeywordSpottingBrain(VGSBrain):
    """Trains a speech network on soft keyword targets with binary
    cross-entropy and evaluates it as a keyword spotter.

    Modules (``modules`` in the hparams):

    - ``speech_net``: waveforms ``[B, S]``, relative lengths ``[B]`` ->
      keyword logits ``[B, W]`` (e.g.
      :class:`speechbrain_vgs.lobes.kws.BoWCNN`); a scorer that is not
      trained (e.g. :class:`speechbrain_vgs.lobes.kws.
      SpeechCLIPKeywordScorer`) gives scores instead.

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.VGSBrain`: optionally
    ``keyword_prior`` (``[W]``, each keyword's mean training target: the
    prior baseline scores every utterance with it), ``evaluated_keywords``
    (indices of the keywords that have relevance judgements; default all),
    ``bow_threshold`` (probability at which a keyword counts as predicted
    for the bag-of-words precision/recall, default 0.5; ``None`` for scores
    that are not probabilities) and ``wav_augment`` (a SpeechBrain
    ``Augmenter`` applied to the training waveforms; targets are
    replicated with its ``replicate_labels``).

    Batches need ``sig`` and, to train or validate, ``tags`` (``[B, W]``
    targets in [0, 1]); test batches carry bool relevance ``[B, W]`` under
    ``spoken`` (the utterance says the keyword) and optionally ``visible``
    (its image shows it) or ``semantic`` (annotators judged it relevant,
    Kamper et al. 2019). Validation keeps the best checkpoint by
    its loss against the targets (no transcript is needed to select it).
    Under DDP each process evaluates its share of the set, and the loss,
    scores and relevance are gathered, so the metrics are those of one
    process.
    At test time, ``results_file`` gets, per test set, ``p_at_10``,
    ``p_at_n``, ``eer`` and ``ap`` (spoken relevance; the others with the
    suffix ``_visible`` or ``_semantic``), the same for the prior baseline
    (``prior_p_at_10`` ...) and ``bow_precision``, ``bow_recall`` and
    ``bow_f1`` (spoken relevance), all from
    :mod:`speechbrain_vgs.metrics`.

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from speechbrain_vgs.lobes.kws import BoWCNN, MFCCDeltas
    >>> tmp = getfixture("tmpdir")
    >>> net = BoWCNN(3, MFCCDeltas(), channels=(4, 4, 8), hidden=8)
    >>> brain = KeywordSpottingBrain(
    ...     modules={"speech_net": net},
    ...     hparams={"train_logger": FileTrainLogger(tmp / "log.txt"),
    ...              "results_file": tmp / "results.json"},
    ...     run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([
    ...     {"id": "u0", "sig": torch.randn(1600),
    ...      "tags": torch.tensor([0.9, 0.1, 0.0])},
    ...     {"id": "u1", "sig": torch.randn(800),
    ...      "tags": torch.tensor([0.0, 0.8, 0.2])}])
    >>> predictions = brain.compute_forward(batch, sb.Stage.TRAIN)
    >>> brain.compute_objectives(predictions, batch, sb.Stage.TRAIN).shape
    torch.Size([])
    """

    HPARAMS_OPTIONAL = {
        "keyword_prior": None,
        "evaluated_keywords": None,
        "bow_threshold": 0.5,
        "wav_augment": None,
    }
    MODULES_NEEDED = ("speech_net",)
    SHARDED_EVALUATION = True

    def compute_forward(self, batch, stage):
        """Keyword logits (or scores) of the batch's speech, and the
        targets (replicated like an augmented batch)."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        tags = batch.tags.data if hasattr(batch, "tags") else None
        augment = self.hparams.wav_augment
        if stage == sb.Stage.TRAIN and augment is not None:
            wavs, lengths = augment(wavs, lengths)
            tags = augment.replicate_labels(tags)
        return self.modules.speech_net(wavs, lengths), tags

    def compute_objectives(self, predictions, batch, stage):
        """Binary cross-entropy against the targets (mean over utterances
        and keywords); scores and relevance kept out of training."""
        logits, tags = predictions
        if stage != sb.Stage.TRAIN:
            self.ids.extend(batch.id)
            self.scores.append(logits.detach().float().cpu())
            for name in RELEVANCE_SUFFIX:
                if hasattr(batch, name):
                    self.relevance[name].append(getattr(batch, name).data.cpu())
        if tags is None:
            return torch.zeros((), device=self.device)
        return F.binary_cross_entropy_with_logits(logits.float(), tags.float())

    def on_stage_start(self, stage, epoch=None):
        """Starts fresh score and relevance lists out of training."""
        self.stage = stage
        self.ids = []
        self.scores = []
        self.relevance = {name: [] for name in RELEVANCE_SUFFIX}

    def evaluation_stats(self):
        """Keyword spotting metrics of the model and the prior at test
        time (see the class docstring); none at validation."""
        if self.stage != sb.Stage.TEST:
            return {}
        scores, relevance = self.gather_scores()
        keep = self.hparams.evaluated_keywords
        if keep is not None:
            scores = scores[:, keep]
        prior = None
        if self.hparams.keyword_prior is not None:
            prior = torch.as_tensor(self.hparams.keyword_prior).float()
            prior = prior[keep] if keep is not None else prior
            prior = prior.expand_as(scores)
        stats = {}
        for name, suffix in RELEVANCE_SUFFIX.items():
            relevant = relevance[name]
            if relevant is None:
                continue
            relevant = relevant[:, keep] if keep is not None else relevant
            metrics = keyword_spotting_metrics(scores, relevant)
            stats["keywords" + suffix] = metrics.pop("keywords")
            stats.update({key + suffix: v for key, v in metrics.items()})
            if prior is not None:
                metrics = keyword_spotting_metrics(prior, relevant)
                del metrics["keywords"]
                stats.update(
                    {f"prior_{key}{suffix}": v for key, v in metrics.items()}
                )
            if name == "spoken" and self.hparams.bow_threshold is not None:
                stats.update(
                    bow_metrics(
                        torch.sigmoid(scores),
                        relevant,
                        self.hparams.bow_threshold,
                    )
                )
        return stats

    def gather_scores(self):
        """The scores ``[utterances, W]`` and the relevance of each kind
        (``{name: [utterances, W]}``, ``None`` for a kind the batches lack)
        of the stage: under DDP, those of all processes in rank order, each
        utterance once (every process must call it)."""
        ids = [i for part in gather_object(self.ids) for i in part]
        rows = first_occurrences(ids)
        scores = torch.cat(gather_tensors(self.scores))
        relevance = {}
        for name in RELEVANCE_SUFFIX:
            parts = gather_tensors(self.relevance[name])
            relevance[name] = torch.cat(parts)[rows] if parts else None
        return scores[rows], relevance
