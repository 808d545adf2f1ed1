"""HuBERT pre-training (masked prediction of frame clusters) from scratch.

No pretrained HuBERT can be downloaded offline, yet SpeechCLIP assumes one:
a frozen upstream whose layers already encode speech. The SynthVGS chain
therefore pre-trains a small ``transformers`` HuBERT on SynthVGS speech with
HuBERT's own objective (Hsu et al. 2021) and exports it with
:func:`speechbrain_vgs.lobes.ssl.export_hubert`, so that
:class:`speechbrain_vgs.lobes.ssl.SSLUpstream` loads it exactly as it loads
``facebook/hubert-base-ls960`` (``recipes/SynthVGS/HuBERT``). No transcript
is used. The targets and the head are in :mod:`speechbrain_vgs.lobes.hubert`;
masking is :func:`speechbrain_vgs.lobes.masking.span_mask`: spans of
``mask_length`` frames starting at ``mask_prob / mask_length`` of the valid
frames (about half the frames masked at HuBERT's 0.8 and 10); masked frames
get the model's learned mask embedding before the transformer.

Authors
 * speechbrain-vgs developers 2026
"""

import speechbrain as sb
import torch
import torch.nn.functional as F

from speechbrain_vgs.brains.base import VGSBrain
from speechbrain_vgs.lobes.masking import span_mask


class HuBERTPretrainBrain(VGSBrain):
    """Pre-trains an upstream with HuBERT's masked cluster prediction.

    Modules (``modules`` in the hparams): ``upstream``, a trainable
    :class:`speechbrain_vgs.lobes.ssl.SSLUpstream` (its last hidden state
    is used), ``head``, a :class:`speechbrain_vgs.lobes.hubert.
    ClusterPredictor`, and ``targets``, a fitted
    :class:`speechbrain_vgs.lobes.hubert.FrameClusters` (``MFCCClusters``
    in the first iteration, ``HiddenStateClusters`` in later ones).

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.VGSBrain`: ``mask_prob`` and
    ``mask_length`` (see :func:`speechbrain_vgs.lobes.masking.span_mask`).
    The loss is the cross-entropy
    of the masked valid frames; validation also masks (its masks are drawn
    from a fixed seed, so that epochs compare) and logs the masked-frame
    accuracy; the checkpoint with the lowest validation loss is kept.

    Example
    -------
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from speechbrain_vgs.lobes.hubert import ClusterPredictor, MFCCClusters
    >>> from speechbrain_vgs.lobes.ssl import SSLUpstream
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert
    >>> tmp = getfixture("tmpdir")
    >>> folder = save_tiny_hubert(tmp, conv_kernel=(400, 2),
    ...                           conv_stride=(160, 2))
    >>> upstream = SSLUpstream(folder, freeze=False)
    >>> targets = MFCCClusters(num_clusters=4)
    >>> targets.fit([torch.randn(8000)])
    >>> brain = HuBERTPretrainBrain(
    ...     modules={"upstream": upstream, "targets": targets,
    ...              "head": ClusterPredictor(32, 4, proj_dim=8)},
    ...     hparams={"mask_prob": 0.8, "mask_length": 5,
    ...              "train_logger": FileTrainLogger(tmp / "log.txt"),
    ...              "results_file": tmp / "results.json"},
    ...     run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([{"id": "a", "sig": torch.randn(8000)},
    ...                      {"id": "b", "sig": torch.randn(6000)}])
    >>> out = brain.compute_forward(batch, sb.Stage.TRAIN)
    >>> out[0].shape, out[1].shape
    (torch.Size([2, 24, 4]), torch.Size([2, 24]))
    >>> brain.compute_objectives(out, batch, sb.Stage.TRAIN).shape
    torch.Size([])
    """

    HPARAMS_NEEDED = ("mask_prob", "mask_length")
    MODULES_NEEDED = ("upstream", "head", "targets")

    def compute_forward(self, batch, stage):
        """Logits, targets and the mask of masked valid frames."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        upstream = self.modules.upstream
        upstream = getattr(upstream, "module", upstream)
        frames, max_frames = upstream.frame_counts(wavs, lengths)
        generator = None
        if stage != sb.Stage.TRAIN:
            generator = self.valid_generator
        mask = span_mask(
            frames,
            max_frames,
            self.hparams.mask_prob,
            self.hparams.mask_length,
            generator,
        )
        states, _ = upstream.hidden_states(wavs, lengths, mask=mask)
        targets = self.modules.targets(wavs, max_frames, lengths)
        return self.modules.head(states[-1]), targets, mask

    def compute_objectives(self, predictions, batch, stage):
        """Cross-entropy of the masked frames (accuracy out of training)."""
        logits, targets, mask = predictions
        logits, targets = logits[mask], targets[mask]
        if stage != sb.Stage.TRAIN:
            self.correct += (logits.argmax(-1) == targets).sum().item()
            self.counted += targets.numel()
        return F.cross_entropy(logits.float(), targets)

    def on_stage_start(self, stage, epoch=None):
        """Resets the accuracy counts and the validation mask seed."""
        self.correct = self.counted = 0
        self.valid_generator = torch.Generator().manual_seed(0)

    def evaluation_stats(self):
        """The accuracy of the masked-frame predictions."""
        return {"masked_accuracy": self.correct / max(self.counted, 1)}
