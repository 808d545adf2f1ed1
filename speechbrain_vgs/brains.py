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
import os

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
from speechbrain_vgs.figures import plot_keyword_attention, plot_layer_weights
from speechbrain_vgs.lobes.speechclip import ranked_keywords
from speechbrain_vgs.metrics import (
    KeywordHitStats,
    RetrievalStats,
    zero_shot_recall,
)

logger = logging.getLogger(__name__)

BEST_KEY = "mean_r10"
SAMPLE_RATE = 16000


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
    (``max_batch_length`` in seconds of padded audio, ``bucket_boundaries``
    in seconds, ``max_batch_ex``, ...); otherwise ``train_dataloader_opts``
    is used. Durations count up to ``max_audio_seconds`` when the hparams
    crop training audio to it.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> ds = DynamicItemDataset({str(i): {"duration": 1.0 + i}
    ...                          for i in range(8)})
    >>> opts = train_loader_options(ds, {"dynamic_batching": True,
    ...     "max_audio_seconds": 4.0,
    ...     "dynamic_batch_sampler": {"max_batch_length": 8,
    ...                               "bucket_boundaries": [2.0, 4.0]}})
    >>> sorted(len(b) for b in opts["batch_sampler"])  # 5-8 s count as 4 s
    [2, 2, 2, 2]
    """
    options = dict(hparams.get("train_dataloader_opts", {}))
    if hparams.get("dynamic_batching", False):
        for option in ("batch_size", "shuffle", "drop_last"):
            options.pop(option, None)
        max_seconds = hparams.get("max_audio_seconds") or float("inf")
        options["batch_sampler"] = DynamicBatchSampler(
            dataset,
            length_func=lambda entry: min(entry["duration"], max_seconds),
            **hparams["dynamic_batch_sampler"],
        )
    return options


class VGSBrain(sb.Brain):
    """What the project's Brains share: several named test sets whose
    metrics go to one ``results.json``, a train batch sampler that is
    reshuffled every epoch, an optional per-update learning-rate schedule
    and the logging of validation and test statistics.

    Hparams it reads: ``results_file``, ``train_logger``, and optionally
    ``lr_scheduler`` (called with the optimizer before every update, e.g.
    SpeechBrain's ``LinearWarmupScheduler``).
    """

    # How the checkpoint that is tested is chosen (``evaluate``'s keys).
    best_checkpoint = {"max_key": BEST_KEY}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = {}
        self.test_name = "test"

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

    def on_fit_batch_start(self, batch, should_step):
        """Sets the learning rate of this update (``lr_scheduler``); a
        parameter group with an ``lr_scale`` gets that share of it."""
        scheduler = getattr(self.hparams, "lr_scheduler", None)
        if scheduler is not None and should_step:
            scheduler(self.optimizer)
            for group in self.optimizer.param_groups:
                group["lr"] *= group.get("lr_scale", 1.0)

    def log_valid(self, epoch, stats, **meta):
        """Logs an epoch's validation (and training) statistics, with the
        current learning rate and any extra ``meta``."""
        self.hparams.train_logger.log_stats(
            stats_meta={
                "epoch": epoch,
                "lr": self.optimizer.param_groups[0]["lr"],
                **meta,
            },
            train_stats=getattr(self, "train_stats", None),
            valid_stats=stats,
        )

    def log_test(self, stats):
        """Logs the statistics of the current test set."""
        self.hparams.train_logger.log_stats(
            stats_meta={"test set": self.test_name}, test_stats=stats
        )

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
                **self.best_checkpoint,
                test_loader_kwargs=dict(loader_options or {}),
            )


class GroundingBrain(VGSBrain):
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
            if hasattr(self.hparams, "lr_annealing"):
                _, lr = self.hparams.lr_annealing(epoch)
                sb.nnet.schedulers.update_learning_rate(self.optimizer, lr)
            self.log_valid(epoch, stats)
            self.checkpointer.save_and_keep_only(
                meta={BEST_KEY: stats[BEST_KEY]}, max_keys=[BEST_KEY]
            )
        else:
            self.log_test(stats)
            self.save_results(self.test_name, stats)


class SpeechCLIPBrain(VGSBrain):
    """Trains SpeechCLIP (parallel, cascaded or hybrid) against frozen CLIP
    image embeddings and evaluates retrieval, zero-shot speech-text
    retrieval and the cascaded keywords.

    Modules (``modules`` in the hparams):

    - ``model``: a :class:`speechbrain_vgs.lobes.speechclip.SpeechCLIP`.
    - ``loss``: :class:`speechbrain_vgs.losses.InfoNCE` (a module, so that
      a learnable temperature trains).

    Hparams it reads: ``clip`` (the model's frozen CLIP, which embeds and
    caches the images), optionally ``upstream_lr_scale`` (the learning
    rate of a fine-tuned upstream's own weights relative to the rest,
    default 1; its layer weights train at the full rate),
    ``retrieval_branch`` (``"parallel"`` or ``"cascaded"``: the embedding
    evaluated for retrieval),
    ``train_logger``, ``results_file``, and optionally ``wav_augment``
    (a SpeechBrain ``Augmenter`` applied to the training waveforms; the
    image embeddings are replicated with its ``replicate_labels``),
    ``loss_weights``
    (``{branch: weight}``, default 1 each), ``lr_scheduler`` (called with
    the optimizer before every training step, e.g. SpeechBrain's
    ``LinearWarmupScheduler``), ``recall_ks``, ``keyword_top_n`` (the
    hit-rate cut-offs, default ``(1, 5)``), ``figures_folder`` and
    ``num_figures`` (test utterances whose keyword attention is plotted).

    Batches need ``id``, ``sig``, ``image`` (paths), ``image_idx`` and
    ``text`` (the caption, for zero-shot retrieval and keyword hits).

    The contrastive batch is global under DDP. Out of training, every
    utterance's retrieval embedding is scored against every unique image
    (speech<->image recall), against the CLIP text embedding of every
    caption of the set (zero-shot speech<->text recall, a caption of the
    same image counts as correct) and, for cascaded keywords, against its
    caption's subwords (keyword hit rate, with the most-frequent-subword
    baseline). At test time the keywords of every utterance go to
    ``keywords_<set>.json`` next to ``results_file``, and figures (keyword
    attention, layer weights) to ``figures_folder``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.text_cache = {}

    @property
    def speechclip(self):
        """The SpeechCLIP model (outside any DDP wrapper)."""
        model = self.modules.model
        return getattr(model, "module", model)

    def init_optimizers(self):
        """One optimizer; with ``upstream_lr_scale`` the fine-tuned
        upstream's weights form a group whose learning rate is scaled."""
        scale = getattr(self.hparams, "upstream_lr_scale", 1.0)
        upstream = self.speechclip.upstream
        if self.opt_class is None or scale == 1.0 or upstream.freeze:
            return super().init_optimizers()
        upstream = {id(p) for p in upstream.ssl.parameters()}
        trainable = [p for p in self.modules.parameters() if p.requires_grad]
        self.optimizer = self.opt_class(
            [
                {"params": [p for p in trainable if id(p) not in upstream]},
                {
                    "params": [p for p in trainable if id(p) in upstream],
                    "lr_scale": scale,
                },
            ]
        )
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def compute_forward(self, batch, stage):
        """Embeds the (augmented) speech; looks up the (cached) CLIP image
        embeddings, replicated as the augmentation replicates the speech."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        images = self.hparams.clip.image_embeddings(batch.image)
        image_ids = torch.as_tensor(batch.image_idx, device=self.device)
        augment = getattr(self.hparams, "wav_augment", None)
        if stage == sb.Stage.TRAIN and augment is not None:
            wavs, lengths = augment(wavs, lengths)
            images = augment.replicate_labels(images)
            image_ids = augment.replicate_labels(image_ids)
        output = self.modules.model(wavs, lengths)
        return output, images, image_ids

    def compute_objectives(self, predictions, batch, stage):
        """Weighted InfoNCE of each branch; evaluation stats out of training."""
        output, images, image_ids = predictions
        if stage != sb.Stage.TRAIN:
            self.append_evaluation(batch, output, images, image_ids)
        if stage == sb.Stage.TRAIN:
            images = gather_no_grad(images)
            image_ids = gather_no_grad(image_ids)
        weights = getattr(self.hparams, "loss_weights", None) or {}
        loss = 0
        for branch in self.speechclip.branches:
            speech = getattr(output, branch)
            if stage == sb.Stage.TRAIN:
                speech = gather_with_grad(speech)
            sim = speech.float() @ images.float().t()
            loss = loss + weights.get(branch, 1.0) * self.modules.loss(
                sim, image_ids
            )
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Starts fresh evaluation accumulators out of training."""
        if stage == sb.Stage.TRAIN:
            return
        self.retrieval_stats = RetrievalStats(
            pooled_dot, ks=getattr(self.hparams, "recall_ks", (1, 5, 10))
        )
        self.utterance_texts = []
        self.keyword_stats = None
        if "cascaded" in self.speechclip.branches:
            self.keyword_stats = KeywordHitStats(
                ks=self.keyword_top_n,
                special_ids=self.hparams.clip.special_ids,
            )
        self.keywords = {}
        self.examples = []

    @property
    def keyword_top_n(self):
        """The keyword hit-rate cut-offs."""
        return tuple(getattr(self.hparams, "keyword_top_n", (1, 5)))

    def append_evaluation(self, batch, output, images, image_ids):
        """Stores one evaluation batch in the accumulators."""
        branch = self.hparams.retrieval_branch
        speech = getattr(output, branch)
        self.retrieval_stats.append(batch.id, speech, None, images, image_ids)
        self.utterance_texts.extend(batch.text)
        if self.keyword_stats is None:
            return
        clip = self.hparams.clip
        ranked = ranked_keywords(
            output.scores, clip.vocabulary, max(self.keyword_top_n)
        ).cpu()
        captions = [clip.tokenizer.encode(text) for text in batch.text]
        self.keyword_stats.append(batch.id, ranked, captions)
        decode = self.decode_token
        for utt_id, text, slots in zip(batch.id, batch.text, ranked.tolist()):
            self.keywords[utt_id] = {
                "text": text,
                "keywords": [[decode(i) for i in slot] for slot in slots],
            }
        wavs, wav_lens = batch.sig
        num_figures = getattr(self.hparams, "num_figures", 3)
        for b in range(len(batch.id)):
            if len(self.examples) >= num_figures:
                break
            frames = int(
                round(output.lengths[b].item() * output.attention.shape[-1])
            )
            seconds = wav_lens[b].item() * wavs.shape[1] / SAMPLE_RATE
            self.examples.append(
                {
                    "id": batch.id[b],
                    "attention": output.attention[b, :, :frames].float().cpu(),
                    "keywords": self.keywords[batch.id[b]]["keywords"],
                    "frame_shift": seconds / max(frames, 1),
                }
            )

    def decode_token(self, token_id):
        """The text of one CLIP token (word-final marks removed)."""
        return self.hparams.clip.tokenizer.decode([token_id]).strip()

    def text_embeddings(self, texts):
        """CLIP text embeddings of captions, each computed once."""
        clip = self.hparams.clip
        missing = [t for t in dict.fromkeys(texts) if t not in self.text_cache]
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            with torch.autocast(clip.device.type, enabled=False):
                embeddings = clip.encode_text(chunk).float().cpu()
            self.text_cache.update(zip(chunk, embeddings))
        return torch.stack([self.text_cache[t] for t in texts])

    def evaluation_stats(self):
        """Retrieval, zero-shot and keyword metrics of the stage."""
        stats = dict(self.retrieval_stats.summarize())
        stats[BEST_KEY] = mean_r10(stats)
        images = self.retrieval_stats.utterance_images
        pairs = list(dict.fromkeys(zip(images, self.utterance_texts)))
        texts = self.text_embeddings([text for _, text in pairs])
        speech = torch.stack(self.retrieval_stats.audio).float()
        groups = {image: g for g, image in enumerate(dict.fromkeys(images))}
        stats.update(
            zero_shot_recall(
                speech @ texts.t(),
                torch.tensor([groups[i] for i in images]),
                torch.tensor([groups[i] for i, _ in pairs]),
                ks=self.retrieval_stats.ks,
            )
        )
        if self.keyword_stats is not None:
            stats.update(self.keyword_stats.summarize())
        return stats

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, schedules, checkpoints on mean R@10, writes results."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats.update(self.evaluation_stats())
        if stage == sb.Stage.VALID:
            weights = self.speechclip.upstream.layer_weights()
            self.log_valid(
                epoch,
                stats,
                layer_weights=[round(w, 3) for w in weights.tolist()],
            )
            self.checkpointer.save_and_keep_only(
                meta={BEST_KEY: stats[BEST_KEY]}, max_keys=[BEST_KEY]
            )
            return
        self.log_test(stats)
        self.save_results(self.test_name, stats)
        if if_main_process():
            self.save_keywords_and_figures()

    def save_keywords_and_figures(self):
        """Writes the test keywords and the figures of this test set."""
        folder = os.path.dirname(os.path.abspath(self.hparams.results_file))
        if self.keywords:
            path = os.path.join(folder, f"keywords_{self.test_name}.json")
            write_json(path, self.keywords)
        figures = getattr(self.hparams, "figures_folder", None)
        if figures is None:
            return
        figures = os.path.join(figures, self.test_name)
        plot_layer_weights(
            self.speechclip.upstream.layer_weights(),
            os.path.join(figures, "layer_weights.png"),
            title="Learned weights of the upstream's hidden states",
        )
        for example in self.examples:
            plot_keyword_attention(
                example["attention"],
                example["keywords"],
                example["frame_shift"],
                os.path.join(figures, f"attention_{example['id']}.png"),
                title=self.keywords[example["id"]]["text"],
            )

    def save_for_inference(self, path):
        """Saves the model's state dict (the best checkpoint after
        :meth:`evaluate_sets`) where ``Pretrained.from_hparams`` finds it.

        Arguments
        ---------
        path : str
            Usually ``<output_folder>/model.ckpt``, next to the experiment's
            ``hyperparams.yaml`` (see
            :class:`speechbrain_vgs.inference.SpeechCLIPInference`).
        """
        if if_main_process():
            torch.save(self.speechclip.state_dict(), path)


def pooled_dot(audio, audio_lens, image):
    """Dot products of pooled embeddings ``[Na, D] x [Ni, D]``.

    Example
    -------
    >>> pooled_dot(torch.eye(2), None, torch.ones(3, 2)).shape
    torch.Size([2, 3])
    """
    return audio.float() @ image.float().t()
