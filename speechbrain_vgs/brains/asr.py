"""The CTC speech recognition Brain: phones or characters from any speech
features (a filterbank, or a layer of a grounding model: Hsu, Harwath &
Glass 2019).

Authors
 * speechbrain-vgs developers 2026
"""

import speechbrain as sb
from speechbrain.decoders import ctc_greedy_decode
from speechbrain.nnet.losses import ctc_loss
from speechbrain.utils.metric_stats import ErrorRateStats

from speechbrain_vgs.brains.base import HparamsError, VGSBrain

UNITS = ("phones", "chars")


class CTCBrain(VGSBrain):
    """Trains a CTC recogniser on speech features; phone or character
    error rates with greedy decoding.

    Modules (``modules`` in the hparams):

    - ``features``: waveforms, relative lengths -> ``(feats, lengths)``
      (:class:`speechbrain_vgs.lobes.grounded.GroundedFeatures` or
      :class:`~speechbrain_vgs.lobes.grounded.Filterbank`);
    - ``normalize``: SpeechBrain's ``InputNormalization`` of the features;
    - ``recognizer``: ``(feats, lengths)`` -> ``(log_probs, lengths)``
      (:class:`speechbrain_vgs.lobes.ctc.CTCRecognizer`).

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.VGSBrain`: ``label_encoder`` (a
    SpeechBrain ``CTCTextEncoder`` holding the tokens), ``blank_index``,
    ``units`` (``"phones"``: error rate ``per`` over space-separated
    phones; ``"chars"``: ``cer`` over characters, spaces included, and
    ``wer`` over the words they spell) and optionally ``features_lr``: the
    learning rate of the features' parameters when they are fine-tuned
    (``GroundedFeatures(freeze=False)``; by default the optimizer's).

    The recognizer's ``num_tokens`` outputs must cover the encoder's
    tokens (outputs that no token uses are never targets).
    Batches need ``sig``, ``tokens`` (encoded targets) and
    ``tokens_list`` (the target tokens). The checkpoint kept is the one of
    the lowest validation error rate (``per`` or ``cer``); ``results_file``
    gets, per test set, ``per`` or ``cer`` and ``wer``, in %.

    Example
    -------
    >>> import torch
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain.dataio.encoder import CTCTextEncoder
    >>> from speechbrain.processing.features import InputNormalization
    >>> from speechbrain.utils.train_logger import FileTrainLogger
    >>> from speechbrain_vgs.lobes.ctc import CTCRecognizer
    >>> from speechbrain_vgs.lobes.grounded import Filterbank
    >>> tmp = getfixture("tmpdir")
    >>> encoder = CTCTextEncoder()
    >>> encoder.update_from_iterable([["a", "b"]], sequence_input=True)
    >>> encoder.insert_blank(index=0)
    >>> brain = CTCBrain(
    ...     modules={"features": Filterbank(),
    ...              "normalize": InputNormalization(),
    ...              "recognizer": CTCRecognizer(40, 3, hidden_size=8)},
    ...     hparams={"train_logger": FileTrainLogger(tmp / "log.txt"),
    ...              "results_file": tmp / "results.json",
    ...              "label_encoder": encoder, "blank_index": 0,
    ...              "units": "phones"},
    ...     run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([
    ...     {"id": "u0", "sig": torch.randn(3200), "tokens_list": ["a", "b"],
    ...      "tokens": encoder.encode_sequence_torch(["a", "b"])},
    ...     {"id": "u1", "sig": torch.randn(1600), "tokens_list": ["b"],
    ...      "tokens": encoder.encode_sequence_torch(["b"])}])
    >>> brain.on_stage_start(sb.Stage.VALID)
    >>> predictions = brain.compute_forward(batch, sb.Stage.VALID)
    >>> loss = brain.compute_objectives(predictions, batch, sb.Stage.VALID)
    >>> sorted(brain.evaluation_stats())
    ['error_rate', 'per']
    """

    HPARAMS_NEEDED = ("label_encoder", "blank_index", "units")
    HPARAMS_OPTIONAL = {"features_lr": None}
    MODULES_NEEDED = ("features", "normalize", "recognizer")
    best_checkpoint = {"min_key": "error_rate"}

    def __init__(self, modules=None, opt_class=None, hparams=None, **kwargs):
        units = (hparams or {}).get("units")
        if units not in UNITS:
            raise ValueError(f"units must be one of {UNITS}, got {units!r}")
        super().__init__(modules, opt_class, hparams, **kwargs)
        outputs = self.modules.recognizer.num_tokens
        if len(self.hparams.label_encoder) > outputs:
            raise HparamsError(
                f"the recognizer has {outputs} outputs but the label encoder "
                f"{len(self.hparams.label_encoder)} tokens: raise num_tokens"
            )

    def init_optimizers(self):
        """One optimizer; fine-tuned features get ``features_lr``."""
        features = [
            p for p in self.modules.features.parameters() if p.requires_grad
        ]
        if not features or self.hparams.features_lr is None:
            super().init_optimizers()
            return
        feature_ids = {id(p) for p in features}
        others = [
            p
            for p in self.modules.parameters()
            if p.requires_grad and id(p) not in feature_ids
        ]
        self.optimizer = self.opt_class(
            [
                {"params": others},
                {"params": features, "lr": self.hparams.features_lr},
            ]
        )
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def compute_forward(self, batch, stage):
        """Features, normalisation, recogniser: ``(log_probs, lengths)``."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        feats, lengths = self.modules.features(wavs, wav_lens)
        feats = self.modules.normalize(feats, lengths)
        return self.modules.recognizer(feats, lengths)

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; out of training, greedy decoding into the error
        rate statistics."""
        log_probs, lengths = predictions
        tokens, token_lens = batch.tokens
        loss = ctc_loss(
            log_probs, tokens, lengths, token_lens, self.hparams.blank_index
        )
        if stage != sb.Stage.TRAIN:
            # outputs no token uses are never decoded
            tokens_used = len(self.hparams.label_encoder)
            hypotheses = ctc_greedy_decode(
                log_probs[..., :tokens_used],
                lengths,
                blank_id=self.hparams.blank_index,
            )
            predicted = self.hparams.label_encoder.decode_ndim(hypotheses)
            self.error_stats.append(batch.id, predicted, batch.tokens_list)
            if self.hparams.units == "chars":
                self.word_stats.append(
                    batch.id,
                    [spelt_words(chars) for chars in predicted],
                    [spelt_words(chars) for chars in batch.tokens_list],
                )
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh error rate statistics out of training."""
        if stage != sb.Stage.TRAIN:
            self.error_stats = ErrorRateStats()
            self.word_stats = ErrorRateStats()

    def evaluation_stats(self):
        """``per`` (phones) or ``cer`` and ``wer`` (characters), in %, and
        ``error_rate`` (``per`` or ``cer``), by which checkpoints are kept."""
        error_rate = self.error_stats.summarize("error_rate")
        if self.hparams.units == "phones":
            return {"error_rate": error_rate, "per": error_rate}
        return {
            "error_rate": error_rate,
            "cer": error_rate,
            "wer": self.word_stats.summarize("error_rate"),
        }


def spelt_words(chars):
    """The words a character sequence spells (split at spaces).

    Example
    -------
    >>> spelt_words(list(" a cat  sat"))
    ['a', 'cat', 'sat']
    """
    return "".join(chars).split()
