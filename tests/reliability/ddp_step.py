"""The runs compared by ``tests/reliability/test_ddp.py``: one training step
of the grounding and SpeechCLIP Brains, and evaluations of the grounding,
SpeechCLIP and keyword spotting Brains, in one process or, under
``torchrun``, in several (gloo, CPU).

Usage::

    python ddp_step.py CORPUS MODELS OUT           # one process
    torchrun --nproc_per_node 2 ddp_step.py CORPUS MODELS OUT

CORPUS is a SynthVGS corpus (English manifests), MODELS a folder with a
tiny HuBERT (``hubert/``) and a tiny CLIP (``clip/tiny-clip.{pt,json}``);
each process writes ``OUT/<one|ddp>_rank<r>.pt`` and, on the main process,
the evaluations' ``results.json`` (and SpeechCLIP's keywords) under
``OUT/<one|ddp>/<grounding|speechclip|kws>/``.

Randomness that cannot match between runs is off: dropout (the tiny
HuBERT is saved without it, the heads get 0), ResDAVEnet's temporal
jitter (0 by default), SpecAugment-like feature masking and speed
perturbation (not configured), and random crops of images and audio (the
datasets are built without them).

Authors
 * speechbrain-vgs developers 2026
"""

import os
import shutil
import sys

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import ddp_init_group, if_main_process
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_vgs.brains import (
    GroundingBrain,
    KeywordSpottingBrain,
    SpeechCLIPBrain,
)
from speechbrain_vgs.dataio.keywords import keyword_dataset
from speechbrain_vgs.dataio.manifest import load_manifest
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.distributed import is_distributed
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.image import SmallImageEncoder
from speechbrain_vgs.lobes.kws import BoWCNN, MFCCDeltas
from speechbrain_vgs.lobes.speechclip import (
    CascadedHead,
    ParallelHead,
    SpeechCLIP,
)
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.losses import InfoNCE
from speechbrain_vgs.similarity import Similarity

# the training batch: utterances 0-6 of the train set; process r of 2 has
# HALVES[r] (of different sizes, as with dynamic batching)
HALVES = (range(0, 3), range(3, 7))
TRAIN = sb.Stage.TRAIN


class Recorder:
    """A train logger that keeps what it is given."""

    def __init__(self):
        self.calls = []

    def log_stats(self, stats_meta, **stats):
        self.calls.append({"meta": stats_meta, **stats})


def grounding_brain(folder, run_opts, opt_class=None, checkpointer=None):
    """A tiny ResDAVEnet grounding model as the SynthVGS recipe's
    (cosine similarity, InfoNCE), without feature masking."""
    torch.manual_seed(0)
    audio = ResDAVEnet(widths=(8, 8, 8, 8, 16), blocks=(1, 1, 1, 1))
    image = SmallImageEncoder(embedding_dim=16, channels=(8, 8, 16, 16))
    hparams = {
        "similarity": Similarity("cosine"),
        "loss": InfoNCE(temperature=0.07),
        "train_logger": Recorder(),
        "results_file": os.path.join(folder, "results.json"),
    }
    if checkpointer is not None:
        checkpointer.add_recoverable(
            "model", torch.nn.ModuleList([audio, image])
        )
    return GroundingBrain(
        modules={
            "compute_features": LogMel(),
            "audio_encoder": audio,
            "image_encoder": image,
        },
        opt_class=opt_class,
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=checkpointer,
    )


def speechclip_brain(folder, run_opts, models, variant, vocabulary_texts):
    """A tiny SpeechCLIP as the SynthVGS recipes' (fine-tuned upstream,
    frozen CLIP, InfoNCE), without dropout."""
    clip_folder = os.path.join(models, "clip")
    clip = FrozenCLIP(
        "tiny-clip",
        None,
        os.path.join(clip_folder, "tiny-clip.pt"),
        os.path.join(clip_folder, "tiny-clip.json"),
    )
    torch.manual_seed(0)
    upstream = SSLUpstream(os.path.join(models, "hubert"), freeze=False)
    if variant == "parallel":
        head = ParallelHead(
            upstream.dim, clip.embedding_dim, 2, ffn_dim=16, dropout=0.0
        )
    else:
        head = CascadedHead(
            upstream.dim, clip.token_dim, num_keywords=3, dropout=0.0
        )
    model = SpeechCLIP(upstream, head, clip)
    model.set_vocabulary(clip.subword_vocabulary(vocabulary_texts))
    return SpeechCLIPBrain(
        modules={"model": model, "loss": InfoNCE(temperature=0.07)},
        hparams={
            "frozen_clip": clip,
            "retrieval_branch": variant,
            "train_logger": Recorder(),
            "results_file": os.path.join(folder, "results.json"),
        },
        run_opts=run_opts,
    )


def gradients(brain):
    """The parameter gradients of the Brain's modules (DDP unwrapped)."""
    grads = {}
    for key, module in brain.modules.items():
        module = getattr(module, "module", module)
        for name, param in module.named_parameters():
            if param.grad is not None:
                grads[f"{key}.{name}"] = param.grad.clone()
    return grads


def batch_of(dataset, rows):
    return PaddedBatch([dataset[i] for i in rows])


def brain_step(brain, batch):
    """SpeechBrain's training step (no optimizer: the gradients stay)."""
    brain.on_fit_start()  # wraps the modules in DDP when distributed
    brain.modules.train()
    loss = brain.fit_batch(batch)
    return {"loss": loss, "grads": gradients(brain)}


def step_per_half(brain, dataset, merge):
    """One process, the documented DDP behaviour: the model sees each half
    separately (its own padding and BatchNorm statistics), the loss is
    computed on the merged global batch."""
    brain.on_fit_start()
    brain.modules.train()
    halves = [
        brain.compute_forward(batch_of(dataset, rows), TRAIN) for rows in HALVES
    ]
    whole = batch_of(dataset, [i for rows in HALVES for i in rows])
    loss = brain.compute_objectives(merge(halves), whole, TRAIN)
    loss.backward()
    return {"loss": loss.detach(), "grads": gradients(brain)}


def merge_frames(halves):
    """Grounding predictions of the halves as gather_frames merges them."""
    frames = max(audio.shape[1] for audio, _, _ in halves)
    audio = torch.cat(
        [F.pad(a, (0, 0, 0, frames - a.shape[1])) for a, _, _ in halves]
    )
    lengths = torch.cat([lens * (a.shape[1] / frames) for a, lens, _ in halves])
    return audio, lengths, torch.cat([image for _, _, image in halves])


def merge_speechclip(halves):
    """SpeechCLIP predictions of the halves (training fields only)."""
    outputs = [output for output, _, _ in halves]
    merged = {
        branch: torch.cat([getattr(o, branch) for o in outputs])
        for branch in ("parallel", "cascaded")
        if outputs[0]._asdict()[branch] is not None
    }
    return (
        outputs[0]._replace(**merged),
        torch.cat([images for _, images, _ in halves]),
        torch.cat([ids for _, _, ids in halves]),
    )


def grounding_evaluation(folder, run_opts, datasets):
    """Fits one epoch that changes nothing (learning rate 0, BatchNorm
    momentum 0) so that validation runs, then tests; returns the logged
    statistics."""
    os.makedirs(folder, exist_ok=True)
    brain = grounding_brain(
        folder,
        run_opts,
        opt_class=lambda params: torch.optim.Adam(params, lr=0.0),
        checkpointer=Checkpointer(os.path.join(folder, "save")),
    )
    for module in brain.modules.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.0
    train = datasets["train"].filtered_sorted(select_n=8)
    brain.fit(
        EpochCounter(1),
        train,
        datasets["valid"],
        train_loader_kwargs={"batch_size": 4},
        valid_loader_kwargs={"batch_size": 3},  # 7 batches: 4 + 3
    )
    brain.evaluate_sets(
        {"valid": datasets["valid"], "test_A": datasets["test_A"]},
        {"batch_size": 3},
    )
    first = brain.hparams.results_file + ".first"
    if if_main_process():
        shutil.copy(brain.hparams.results_file, first)
    # one batch: the second process evaluates nothing
    brain.evaluate_sets({"test_B": datasets["test_B"]}, {"batch_size": 64})
    # a loader made outside the Brain is not split: every process
    # evaluates the whole set, and the statistics keep each utterance once
    brain.test_name = "test_A_whole"
    loader = sb.dataio.dataloader.make_dataloader(
        datasets["test_A"], batch_size=3
    )
    brain.evaluate(loader, **brain.best_checkpoint)
    return {"logged": brain.hparams.train_logger.calls}


def speechclip_evaluation(folder, run_opts, models, datasets):
    """Tests a (untrained) cascaded SpeechCLIP: recall, zero-shot recall,
    keyword hits and the keywords file."""
    os.makedirs(folder, exist_ok=True)
    texts = [item["text"] for item in datasets["train"].data.values()]
    brain = speechclip_brain(folder, run_opts, models, "cascaded", texts)
    brain.evaluate_sets({"test_A": datasets["test_A"]}, {"batch_size": 4})
    return {"logged": brain.hparams.train_logger.calls}


def keyword_evaluation(folder, run_opts, manifest, corpus):
    """Tests an (untrained) keyword spotter on the words of the captions
    that some, not all, utterances say, with a constant prior."""
    os.makedirs(folder, exist_ok=True)
    entries = load_manifest(manifest)
    words = {u: set(e["text"].split()) for u, e in entries.items()}
    counts = {}
    for said in words.values():
        for word in said:
            counts[word] = counts.get(word, 0) + 1
    keywords = sorted(w for w, n in counts.items() if 1 < n < len(words))
    spoken = {u: said & set(keywords) for u, said in words.items()}
    dataset = keyword_dataset(
        entries, {"data_root": corpus}, keywords, None, {"spoken": spoken}
    )
    torch.manual_seed(0)
    brain = KeywordSpottingBrain(
        modules={
            "speech_net": BoWCNN(
                len(keywords), MFCCDeltas(), channels=(4, 4, 8), hidden=8
            )
        },
        hparams={
            "keyword_prior": torch.full([len(keywords)], 0.1),
            "train_logger": Recorder(),
            "results_file": os.path.join(folder, "results.json"),
        },
        run_opts=run_opts,
    )
    brain.evaluate_sets({"test_A": dataset}, {"batch_size": 4})
    return {"logged": brain.hparams.train_logger.calls}


def main(corpus, models, out):
    run_opts = {
        "distributed_launch": True,
        "distributed_backend": "gloo",
        "device": "cpu",
        "noprogressbar": True,
    }
    ddp_init_group(run_opts)
    distributed = is_distributed()
    rank = torch.distributed.get_rank() if distributed else 0
    mode = "ddp" if distributed else "one"
    folder = os.path.join(out, mode)
    os.makedirs(folder, exist_ok=True)
    manifests = {
        name: os.path.join(corpus, "manifests", "en", f"{name}.json")
        for name in ("train", "valid", "test_A", "test_B")
    }
    places = {"data_root": corpus, "image_root": corpus}
    images = vgs_datasets(manifests, places, image_size=32, sorting="ascending")
    paths = vgs_datasets(
        manifests, places, image_size=None, sorting="ascending", text=True
    )
    texts = [item["text"] for item in paths["train"].data.values()]
    report = {}
    if distributed:
        rows = HALVES[rank]
        report["grounding"] = brain_step(
            grounding_brain(folder, run_opts), batch_of(images["train"], rows)
        )
        for variant in ("parallel", "cascaded"):
            brain = speechclip_brain(folder, run_opts, models, variant, texts)
            report[variant] = brain_step(brain, batch_of(paths["train"], rows))
    else:
        whole = [i for rows in HALVES for i in rows]
        report["grounding"] = step_per_half(
            grounding_brain(folder, run_opts), images["train"], merge_frames
        )
        report["grounding_whole"] = brain_step(
            grounding_brain(folder, run_opts), batch_of(images["train"], whole)
        )
        for variant in ("parallel", "cascaded"):
            brain = speechclip_brain(folder, run_opts, models, variant, texts)
            report[variant] = brain_step(brain, batch_of(paths["train"], whole))
        brain = speechclip_brain(folder, run_opts, models, "cascaded", texts)
        report["cascaded_per_half"] = step_per_half(
            brain, paths["train"], merge_speechclip
        )
    report["evaluation"] = grounding_evaluation(
        os.path.join(folder, "grounding"), run_opts, images
    )
    report["speechclip_evaluation"] = speechclip_evaluation(
        os.path.join(folder, "speechclip"), run_opts, models, paths
    )
    report["keyword_evaluation"] = keyword_evaluation(
        os.path.join(folder, "kws"), run_opts, manifests["test_A"], corpus
    )
    torch.save(report, os.path.join(out, f"{mode}_rank{rank}.pt"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
