"""The SpeechCLIP Brain: a speech upstream and head trained against a
frozen CLIP (parallel, cascaded or hybrid), evaluated by speech<->image
recall, zero-shot speech<->text recall and the cascaded keywords.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import speechbrain as sb
import torch
from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.brains.base import HparamsError, RetrievalBrain
from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.dataio.pipelines import SAMPLE_RATE
from speechbrain_vgs.distributed import (
    gather_no_grad,
    gather_object,
    gather_with_grad,
)
from speechbrain_vgs.figures import (
    plot_cif_weights,
    plot_keyword_attention,
    plot_layer_weights,
)
from speechbrain_vgs.lobes.cif import quantity_loss
from speechbrain_vgs.lobes.speechclip import ranked_keywords
from speechbrain_vgs.metrics import KeywordHitStats, zero_shot_recall


class SpeechCLIPBrain(RetrievalBrain):
    """Trains SpeechCLIP (parallel, cascaded or hybrid) against frozen CLIP
    image embeddings and evaluates retrieval, zero-shot speech-text
    retrieval and the cascaded keywords.

    Modules (``modules`` in the hparams):

    - ``model``: a :class:`speechbrain_vgs.lobes.speechclip.SpeechCLIP`.
    - ``loss``: :class:`speechbrain_vgs.losses.InfoNCE` (a module, so that
      a learnable temperature trains).

    Hparams it reads, besides those of
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`: ``frozen_clip``
    (the model's :class:`~speechbrain_vgs.lobes.clip.FrozenCLIP`, which
    embeds and caches the images), ``retrieval_branch`` (``"parallel"`` or
    ``"cascaded"``, a branch of the model's head: the embedding evaluated
    for retrieval), and optionally ``upstream_lr_scale`` (the learning
    rate of a fine-tuned upstream's own weights relative to the rest,
    default 1; its layer weights train at the full rate), ``wav_augment``
    (a SpeechBrain ``Augmenter`` applied to the training waveforms; the
    image embeddings are replicated with its ``replicate_labels``),
    ``loss_weights`` (``{branch: weight}``, default 1 each),
    ``keyword_top_n`` (the hit-rate cut-offs, default ``(1, 5)``),
    ``figures_folder`` and ``num_figures`` (test utterances whose keyword
    attention is plotted, default 3), and for a head with a variable
    number of keywords (CIF, SpeechCLIP+): ``quantity_weight`` (the weight
    of CIF's quantity loss, default 0.25) and ``quantity_target``
    (``"frames"``, the default: the head's own target from the number of
    frames; ``"subwords"``: the number of CLIP subwords of the caption, the
    authors' ``using_gt_len``).

    Batches need ``id``, ``sig``, ``image`` (paths), ``image_idx`` and
    ``text`` (the caption, for zero-shot retrieval and keyword hits).

    The contrastive batch is global under DDP, and each process evaluates
    its share of a validation or test set, whose statistics, loss, keywords
    and figure examples are gathered: they are those of one process. Out of
    training, every utterance's retrieval embedding is scored against every
    unique image (speech<->image recall), against the CLIP text embedding of
    every caption of the set (zero-shot speech<->text recall, a caption of
    the same image counts as correct) and, for cascaded keywords, against
    its caption's subwords (keyword hit rate, with the most-frequent-subword
    baseline; padded keyword slots never count), and the mean number of
    keywords per utterance is reported next to the mean number of caption
    subwords. At test time the keywords of every utterance go to
    ``keywords_<set>.json`` next to ``results_file``, figures (keyword
    attention, layer weights) to ``figures_folder``, and the examples page
    (``examples.html``, see
    :class:`~speechbrain_vgs.brains.base.RetrievalBrain`) shows the
    cascaded keywords of its captions and the figures.
    """

    HPARAMS_NEEDED = ("frozen_clip", "retrieval_branch")
    HPARAMS_OPTIONAL = {
        "upstream_lr_scale": 1.0,
        "wav_augment": None,
        "loss_weights": None,
        "keyword_top_n": (1, 5),
        "figures_folder": None,
        "num_figures": 3,
        "quantity_weight": 0.25,
        "quantity_target": "frames",
    }
    MODULES_NEEDED = ("model", "loss")
    SHARDED_EVALUATION = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        branch = self.hparams.retrieval_branch
        if branch not in self.speechclip.branches:
            raise HparamsError(
                f"retrieval_branch is {branch!r}, but the model's head has "
                f"the branches {self.speechclip.branches}"
            )
        target = self.hparams.quantity_target
        if target not in ("frames", "subwords"):
            raise HparamsError(
                f"quantity_target is {target!r}; use 'frames' or 'subwords'"
            )
        self.variable_keywords = getattr(
            self.speechclip.head, "variable_keywords", False
        )
        if target == "subwords" and not self.variable_keywords:
            raise HparamsError(
                "quantity_target is 'subwords', but the model's head has a "
                "fixed number of keywords (use a CIF head, e.g. "
                "CascadedPlusHead)"
            )
        self.text_cache = {}
        upstream = self.speechclip.upstream
        embed = getattr(upstream.ssl.model, "masked_spec_embed", None)
        if embed is not None and upstream.mask_prob == 0:
            # never used without masking: a trainable parameter without a
            # gradient would make DDP wait for it (find_unused_parameters)
            embed.requires_grad_(False)

    @property
    def speechclip(self):
        """The SpeechCLIP model (outside any DDP wrapper)."""
        model = self.modules.model
        return getattr(model, "module", model)

    def init_optimizers(self):
        """One optimizer; with ``upstream_lr_scale`` the fine-tuned
        upstream's weights form a group whose learning rate is scaled."""
        scale = self.hparams.upstream_lr_scale
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
        embeddings, replicated as the augmentation replicates the speech;
        with ``quantity_target: subwords``, the captions' subword counts
        are the keyword targets."""
        batch = batch.to(self.device)
        wavs, lengths = batch.sig
        clip = self.hparams.frozen_clip
        images = clip.image_embeddings(batch.image)
        image_ids = torch.as_tensor(batch.image_idx, device=self.device)
        targets = None
        if self.hparams.quantity_target == "subwords":
            targets = torch.tensor(
                [len(clip.tokenizer.encode(text)) for text in batch.text],
                device=self.device,
            )
        augment = self.hparams.wav_augment
        if stage == sb.Stage.TRAIN and augment is not None:
            wavs, lengths = augment(wavs, lengths)
            images = augment.replicate_labels(images)
            image_ids = augment.replicate_labels(image_ids)
            if targets is not None:
                targets = augment.replicate_labels(targets)
        output = self.modules.model(wavs, lengths, keyword_targets=targets)
        return output, images, image_ids

    def compute_objectives(self, predictions, batch, stage):
        """Weighted InfoNCE of each branch, plus ``quantity_weight`` times
        CIF's quantity loss for a CIF head; evaluation stats out of
        training."""
        output, images, image_ids = predictions
        if stage != sb.Stage.TRAIN:
            self.append_evaluation(batch, output, images, image_ids)
        if stage == sb.Stage.TRAIN:
            images = gather_no_grad(images)
            image_ids = gather_no_grad(image_ids)
        weights = self.hparams.loss_weights or {}
        loss = 0
        for branch in self.speechclip.branches:
            speech = getattr(output, branch)
            if stage == sb.Stage.TRAIN:
                speech = gather_with_grad(speech)
            sim = speech.float() @ images.float().t()
            loss = loss + weights.get(branch, 1.0) * self.modules.loss(
                sim, image_ids
            )
        if output.weight_sum is not None:
            loss = loss + self.hparams.quantity_weight * quantity_loss(
                output.weight_sum, output.keyword_targets
            )
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Starts fresh evaluation accumulators out of training."""
        super().on_stage_start(stage, epoch)
        if stage == sb.Stage.TRAIN:
            return
        self.utterance_texts = {}
        self.keyword_stats = None
        if "cascaded" in self.speechclip.branches:
            self.keyword_stats = KeywordHitStats(
                ks=self.keyword_top_n,
                special_ids=self.hparams.frozen_clip.special_ids,
            )
        self.keywords = {}
        self.examples = []

    @property
    def keyword_top_n(self):
        """The keyword hit-rate cut-offs."""
        return tuple(self.hparams.keyword_top_n)

    def append_evaluation(self, batch, output, images, image_ids):
        """Stores one evaluation batch in the accumulators."""
        branch = self.hparams.retrieval_branch
        speech = getattr(output, branch)
        self.retrieval_stats.append(batch.id, speech, None, images, image_ids)
        self.utterance_texts.update(zip(batch.id, batch.text))
        if self.keyword_stats is None:
            return
        clip = self.hparams.frozen_clip
        ranked = ranked_keywords(
            output.scores, clip.vocabulary, max(self.keyword_top_n)
        ).cpu()
        captions = [clip.tokenizer.encode(text) for text in batch.text]
        counts = output.num_keywords.tolist()
        self.keyword_stats.append(
            batch.id,
            ranked,
            captions,
            counts if self.variable_keywords else None,
        )
        decode = self.decode_token
        for utt_id, text, slots, count in zip(
            batch.id, batch.text, ranked.tolist(), counts
        ):
            self.keywords[utt_id] = {
                "text": text,
                "keywords": [[decode(i) for i in s] for s in slots[:count]],
            }
        wavs, wav_lens = batch.sig
        num_figures = self.hparams.num_figures
        for b in range(len(batch.id)):
            if len(self.examples) >= num_figures:
                break
            frames = int(
                round(output.lengths[b].item() * output.attention.shape[-1])
            )
            seconds = wav_lens[b].item() * wavs.shape[1] / SAMPLE_RATE
            count = counts[b]
            example = {
                "id": batch.id[b],
                "attention": output.attention[b, :count, :frames].float().cpu(),
                "keywords": self.keywords[batch.id[b]]["keywords"],
                "frame_shift": seconds / max(frames, 1),
            }
            if output.frame_weights is not None:
                weights = output.frame_weights[b, :frames].float().cpu()
                example["frame_weights"] = weights
            self.examples.append(example)

    def decode_token(self, token_id):
        """The text of one CLIP token (word-final marks removed)."""
        return self.hparams.frozen_clip.tokenizer.decode([token_id]).strip()

    def text_embeddings(self, texts):
        """CLIP text embeddings of captions, each computed once."""
        clip = self.hparams.frozen_clip
        missing = [t for t in dict.fromkeys(texts) if t not in self.text_cache]
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            with torch.autocast(clip.device.type, enabled=False):
                embeddings = clip.encode_text(chunk).float().cpu()
            self.text_cache.update(zip(chunk, embeddings))
        return torch.stack([self.text_cache[t] for t in texts])

    def evaluation_stats(self):
        """Retrieval, zero-shot and keyword metrics of the stage."""
        stats = super().evaluation_stats()  # gathers the retrieval stats
        caption = {}
        for part in gather_object(self.utterance_texts):
            caption.update(part)
        images = self.retrieval_stats.utterance_images
        utterance_texts = [caption[i] for i in self.retrieval_stats.ids]
        pairs = list(dict.fromkeys(zip(images, utterance_texts)))
        texts = self.text_embeddings([text for _, text in pairs])
        speech = torch.stack(self.retrieval_stats.audio).float()
        groups = {image: g for g, image in enumerate(dict.fromkeys(images))}
        stats.update(
            zero_shot_recall(
                speech,
                texts,
                torch.tensor([groups[i] for i in images]),
                torch.tensor([groups[i] for i, _ in pairs]),
                ks=self.retrieval_stats.ks,
            )
        )
        if self.keyword_stats is not None:
            stats.update(self.keyword_stats.summarize())
            stats.update(self.keyword_stats.count_summary())
        return stats

    def valid_log_meta(self):
        """The upstream's layer weights, logged with each validation."""
        weights = self.speechclip.upstream.layer_weights()
        return {"layer_weights": [round(w, 3) for w in weights.tolist()]}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """The shared outline; a test also writes keywords and figures."""
        super().on_stage_end(stage, stage_loss, epoch)
        if stage == sb.Stage.TEST:
            self.gather_keywords_and_examples()
            if if_main_process():
                self.save_keywords_and_figures()

    def gather_keywords_and_examples(self):
        """Under DDP, the keywords of all processes' utterances and the
        first ``num_figures`` examples of the set (every process must
        call it)."""
        keywords, examples = {}, {}
        for part_keywords, part_examples in gather_object(
            (self.keywords, self.examples)
        ):
            keywords.update(part_keywords)
            examples.update((e["id"], e) for e in part_examples)
        self.keywords = keywords
        self.examples = list(examples.values())[: self.hparams.num_figures]

    def save_keywords_and_figures(self):
        """Writes the test keywords and the figures of this test set."""
        folder = os.path.dirname(os.path.abspath(self.hparams.results_file))
        if self.keywords:
            path = os.path.join(folder, f"keywords_{self.test_name}.json")
            write_json(path, self.keywords)
        figures = self.figure_paths()
        if not figures:
            return
        layer_weights, *attention = figures
        plot_layer_weights(
            self.speechclip.upstream.layer_weights(),
            layer_weights,
            title="Learned weights of the upstream's hidden states",
        )
        for example, path in zip(self.examples, attention):
            title = self.keywords[example["id"]]["text"]
            if "frame_weights" in example:
                plot_cif_weights(
                    example["frame_weights"],
                    example["attention"],
                    example["keywords"],
                    example["frame_shift"],
                    path,
                    title=title,
                )
                continue
            plot_keyword_attention(
                example["attention"],
                example["keywords"],
                example["frame_shift"],
                path,
                title=title,
            )

    def figure_paths(self):
        """The figures of this test set: its layer weights, then the
        keyword attention of each example; none without
        ``figures_folder``."""
        figures = self.hparams.figures_folder
        if figures is None:
            return []
        names = ["layer_weights.png"]
        names += [f"attention_{example['id']}.png" for example in self.examples]
        return [os.path.join(figures, self.test_name, n) for n in names]

    def on_test_set_end(self, dataset):
        """Writes the examples page with the cascaded keywords and the
        figures drawn (see
        :meth:`~speechbrain_vgs.brains.base.RetrievalBrain.write_examples`).
        """
        keywords = {i: k["keywords"] for i, k in self.keywords.items()}
        figures = [p for p in self.figure_paths() if os.path.isfile(p)]
        self.write_examples(dataset, keywords, figures)
