"""What a SpeechCLIP training step costs next to its floor, the frozen
upstream's forward pass on the same batch.

For each model (parallel, cascaded, hybrid) the recipe's yaml is loaded as
a recipe loads it (``--size tiny``: ``recipes/SynthVGS/SpeechCLIP``, with
the upstream frozen as in the papers unless ``--fine_tune``; ``base`` /
``large``: ``recipes/Flickr8k/SpeechCLIP`` ``<model>_<size>.yaml``), on
randomly initialised models of the same architectures (``stand_ins.py``:
HuBERT Base/Large and open_clip ViT-B-32/ViT-L-14 from their configs) and
on batches of real SynthVGS utterances, randomly cropped to the yaml's
``max_audio_seconds`` as the recipes crop them. Three things are timed, in
one run, interleaved step by step so that other load on the machine hits
them alike; medians over ``--steps`` after ``--warmup``:

- ``upstream``: the frozen upstream's forward on the batch (inference
  mode, under the run's precision): the floor;
- ``step``: :meth:`SpeechCLIPBrain.fit_batch`, everything the Brain does
  for a training batch (device copy, augmentation, cached CLIP image
  embeddings, gathers, loss, backward, gradient clipping, optimiser and
  scheduler);
- ``loader``: the data loader alone (reading, cropping, collating a
  batch), which runs in parallel with the step when the loader has
  workers.

Wall-clock and CPU seconds (all the process's threads) are both kept:
``step_over_upstream`` is the wall-clock ratio, ``cpu_step_over_upstream``
the CPU-time one, which other jobs on a shared CPU disturb far less (run
with ``--threads 1`` there).

Peak memory is CUDA's maximum allocated memory, or on CPU the growth of
the process's peak resident set during the model's steps. ``--profile
FILE`` adds a ``torch.profiler`` table of some steps of each model.
Prints a table, then one JSON line with ``step_over_upstream`` per model.

Usage::

    python benchmarks/train_step.py --size base --device cpu --batch_size 8
    python benchmarks/train_step.py --size base --device cuda --precision bf16
    python benchmarks/train_step.py --quick  # tiny, 2 steps (the tests)

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from stand_ins import TINY_CLIP_NAME, stand_ins

from speechbrain_vgs.brains import SpeechCLIPBrain
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.dataio.synthvgs import build_synthvgs

MODELS = ("parallel", "cascaded", "hybrid")
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def recipe_hparams(model, size, hubert, clip, args, output_folder):
    """The recipe's yaml for ``model`` at ``size``, pointed at the
    stand-ins and the tiny corpus; ``None`` if there is no such yaml."""
    overrides = {"output_folder": output_folder, "num_workers": 0}
    if args.max_audio_seconds:
        overrides["max_audio_seconds"] = args.max_audio_seconds
    if size == "tiny":
        path = f"recipes/SynthVGS/SpeechCLIP/hparams/{model}.yaml"
        overrides.update(
            data_folder=args.data_folder,
            synthvgs_size="tiny",
            hubert_source=hubert,
            clip_folder=os.path.dirname(clip["checkpoint"]),
            clip_name=TINY_CLIP_NAME,
            freeze_upstream=not args.fine_tune,
            dynamic_batching=False,
            batch_size=args.batch_size,
        )
    else:
        path = f"recipes/Flickr8k/SpeechCLIP/hparams/{model}_{size}.yaml"
        overrides.update(
            data_folder=args.data_folder,
            hubert_source=hubert,
            clip_checkpoint=clip["checkpoint"],
            batch_size=args.batch_size,
        )
    if not os.path.isfile(path):
        return None, path
    with open(path, encoding="utf-8") as f:
        return load_hyperpyyaml(f, overrides), path


def train_set(hparams, data_folder):
    """The tiny corpus's English training set, as the recipe builds it."""
    folder = os.path.join(data_folder, "manifests", "en")
    datasets = vgs_datasets(
        {"train": os.path.join(folder, "train.json")},
        {"data_root": data_folder, "image_root": data_folder},
        image_size=None,
        sorting="random",
        max_audio_seconds=hparams.get("max_audio_seconds"),
        text=True,
    )
    return datasets["train"]


def make_brain(hparams, dataset, args):
    """The recipe's Brain, set up for training as ``fit`` sets it up."""
    model, clip = hparams["model"], hparams["frozen_clip"]
    vocabulary = clip.vocabulary
    if hparams.get("train_caption_vocabulary", False):
        texts = [entry["text"] for entry in dataset.data.values()]
        vocabulary = clip.subword_vocabulary(texts)
    model.set_vocabulary(vocabulary)
    brain = SpeechCLIPBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={
            "device": args.device,
            "precision": args.precision,
            "noprogressbar": True,
        },
        checkpointer=None,
    )
    brain.epoch_counter = hparams["epoch_counter"]
    brain.updates_per_epoch = 1000
    brain.epoch_limit = 1
    brain.on_fit_start()
    brain.modules.train()
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    return brain


def synchronize(device):
    """Waits for the device's queued work (CUDA)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(function, device):
    """Wall-clock and CPU seconds (all threads of the process) of one
    call, the device's work included."""
    synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    synchronize(device)
    return time.perf_counter() - start, time.process_time() - start_cpu


def reset_peak(device):
    """Starts a new peak-memory measurement; returns the baseline."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return 0
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss_mb("VmRSS")


def peak_mb(device, baseline):
    """Peak memory since :func:`reset_peak` (MB)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return rss_mb("VmHWM") - baseline


def rss_mb(field):
    """A field of /proc/self/status, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def measure(brain, loader, args, profile=None):
    """Interleaved timings of the floor, the step and the loader."""
    device, dtype = args.device, DTYPES[args.precision]
    upstream = brain.speechclip.upstream

    def floor(batch):
        wavs, lengths = batch.sig
        wavs, lengths = wavs.to(device), lengths.to(device)
        with (
            torch.inference_mode(),
            torch.autocast(
                torch.device(device).type,
                dtype=dtype,
                enabled=dtype is not None,
            ),
        ):
            return timed(lambda: upstream(wavs, lengths), device)

    times = {k: [] for k in ("upstream", "step", "upstream_cpu", "step_cpu")}
    times["loader"] = []
    batches = iter(())
    baseline = reset_peak(device)
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            batches = iter(loader)
            batch = next(batches)
        loader_seconds = time.perf_counter() - start
        upstream_seconds, upstream_cpu = floor(batch)
        brain.step += 1
        step_seconds, step_cpu = timed(
            lambda b=batch: brain.fit_batch(b), device
        )
        if step >= args.warmup:
            times["loader"].append(loader_seconds)
            times["upstream"].append(upstream_seconds)
            times["step"].append(step_seconds)
            times["upstream_cpu"].append(upstream_cpu)
            times["step_cpu"].append(step_cpu)
    peak = peak_mb(device, baseline)
    if profile is not None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.device(device).type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(3):
                brain.step += 1
                brain.fit_batch(batch)
                synchronize(device)
        sort = "self_cuda_time_total" if len(activities) > 1 else None
        profile.write(
            prof.key_averages().table(
                sort_by=sort or "self_cpu_time_total", row_limit=25
            )
        )
    medians = {k: statistics.median(v) for k, v in times.items()}
    return medians, peak, batch.sig[0].shape


def main():
    """Parses the arguments, times each model, prints."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", default="tiny", choices=("tiny", "base", "large")
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=tuple(DTYPES))
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--fine_tune",
        action="store_true",
        help="tiny: fine-tune the upstream, as the SynthVGS yamls do "
        "(default: frozen, as in the papers)",
    )
    parser.add_argument(
        "--max_audio_seconds",
        type=float,
        default=None,
        help="crop of the training audio (default: the yaml's)",
    )
    parser.add_argument("--data_folder", default="data/SynthVGS-tiny")
    parser.add_argument("--cache", default="results/benchmarks/models")
    parser.add_argument("--profile", default=None, help="profile tables file")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup, args.batch_size = 2, 1, 4
    if args.threads:
        torch.set_num_threads(args.threads)
    build_synthvgs(args.data_folder, size="tiny")
    hubert, clip = stand_ins(args.size, args.cache)
    results = {}
    profile = open(args.profile, "w") if args.profile else None
    print(
        f"{'model':<10} {'batch':>12} {'upstream s':>10} {'step s':>8} "
        f"{'loader s':>8} {'step/upstream':>13} {'(CPU time)':>10} "
        f"{'peak MB':>8}"
    )
    for model in args.models.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            hparams, path = recipe_hparams(
                model, args.size, hubert, clip, args, scratch
            )
            if hparams is None:
                print(f"{model:<10} no yaml {path}")
                continue
            dataset = train_set(hparams, args.data_folder)
            brain = make_brain(hparams, dataset, args)
            loader = brain.make_dataloader(
                dataset,
                sb.Stage.TRAIN,
                batch_size=args.batch_size,
                shuffle=True,
                drop_last=True,
                num_workers=0,
            )
            if profile is not None:
                profile.write(
                    f"\n# {model} ({path}, {args.size}, "
                    f"{args.device}, {args.precision})\n"
                )
            medians, peak, shape = measure(brain, loader, args, profile)
        ratio = medians["step"] / medians["upstream"]
        results[model] = {
            "yaml": path,
            "batch": list(shape),
            "upstream_s": round(medians["upstream"], 4),
            "step_s": round(medians["step"], 4),
            "loader_s": round(medians["loader"], 4),
            "step_over_upstream": round(ratio, 3),
            "upstream_cpu_s": round(medians["upstream_cpu"], 4),
            "step_cpu_s": round(medians["step_cpu"], 4),
            "cpu_step_over_upstream": round(
                medians["step_cpu"] / medians["upstream_cpu"], 3
            ),
            "loader_over_upstream": round(
                medians["loader"] / medians["upstream"], 3
            ),
            "peak_mb": round(peak, 1),
        }
        r = results[model]
        print(
            f"{model:<10} {str(tuple(shape)):>12} {r['upstream_s']:>10} "
            f"{r['step_s']:>8} {r['loader_s']:>8} "
            f"{r['step_over_upstream']:>13} "
            f"{r['cpu_step_over_upstream']:>10} {r['peak_mb']:>8}"
        )
    if profile is not None:
        profile.close()
    print(
        json.dumps(
            {
                "size": args.size,
                "device": args.device,
                "precision": args.precision,
                "batch_size": args.batch_size,
                "steps": args.steps,
                "threads": torch.get_num_threads(),
                "load": round(os.getloadavg()[0], 2),
                "step_over_upstream": {
                    m: r["step_over_upstream"] for m, r in results.items()
                },
                "models": results,
            }
        )
    )


if __name__ == "__main__":
    main()
