"""Evaluation at scale: embedding a test set, speech<->image recall,
zero-shot speech<->text recall and keyword spotting metrics, each at three
sizes (N, 2N, 4N) with its time and peak memory.

- ``embed``: parallel SpeechCLIP (``--size`` stand-ins with random
  weights, see ``stand_ins.py``) embeds N SynthVGS utterances (drawn
  from every language and test condition of the tiny corpus, read into
  memory first) in batches of 32, duration-sorted as the recipes
  evaluate, and in random order; ``padding`` is the share of padded
  samples.
- ``recall``: :func:`speechbrain_vgs.metrics.retrieval_recall` on an
  ``[N, N / 5]`` score matrix (5 spoken captions an image; SpokenCOCO's
  test set is 25,000 x 5,000), the matrix given.
- ``zero_shot``: :func:`speechbrain_vgs.metrics.zero_shot_recall` of N
  speech against N text embeddings (512-d), scored in blocks.
- ``kws``: :func:`speechbrain_vgs.metrics.keyword_spotting_metrics` on
  N utterances x 1,000 keywords.

Peak memory is the growth of the process's peak resident set during the
step (Linux's ``VmHWM``, reset before each step), inputs excluded.
``growth`` is time(4N) / time(2N): 2 for linear cost, 4 for quadratic.
Prints a table, then one JSON line.

Usage::

    python benchmarks/evaluation.py            # N = 6,250 / 12,500 / 25,000
    python benchmarks/evaluation.py --quick    # small N, for the tests

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import os
import tempfile
import time

import torch
from stand_ins import stand_ins

from speechbrain_vgs.dataio.manifest import read_json, write_json
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.dataio.synthvgs import build_synthvgs
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.speechclip import ParallelHead, SpeechCLIP
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.metrics import (
    keyword_spotting_metrics,
    retrieval_recall,
    zero_shot_recall,
)


def rss_kb(field):
    """A field of /proc/self/status, in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def measure(function, *args):
    """Wall-clock seconds, CPU seconds (all threads) and peak-memory
    growth (MB) of one call."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before = rss_kb("VmRSS")
    start, start_cpu = time.perf_counter(), time.process_time()
    function(*args)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    return seconds, cpu, (rss_kb("VmHWM") - before) / 1024


def pooled_manifest(data_folder, out):
    """One manifest of every utterance of a SynthVGS folder."""
    pooled = {}
    root = os.path.join(data_folder, "manifests")
    for lang in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, lang))):
            for key, entry in read_json(os.path.join(root, lang, name)).items():
                pooled[f"{name[:-5]}/{key}"] = entry
    write_json(out, pooled)
    return len(pooled)


def embedding_model(size, cache):
    """Parallel SpeechCLIP on the stand-ins of ``size`` (eval mode)."""
    hubert, clip = stand_ins(size, cache)
    upstream = SSLUpstream(hubert)
    clip = FrozenCLIP(**clip)
    head = ParallelHead(
        upstream.dim, clip.embedding_dim, ffn_dim=upstream.dim * 4
    )
    return SpeechCLIP(upstream, head, clip).eval()


def embed(model, wavs, batch_size=32):
    """Embeds waveforms in batches of their order; returns the padding."""
    padded = valid = 0
    with torch.inference_mode():
        for start in range(0, len(wavs), batch_size):
            chunk = wavs[start : start + batch_size]
            longest = max(len(w) for w in chunk)
            batch = torch.zeros(len(chunk), longest)
            for row, wav in enumerate(chunk):
                batch[row, : len(wav)] = wav
            model(batch, torch.tensor([len(w) / longest for w in chunk]))
            padded += batch.numel()
            valid += sum(len(w) for w in chunk)
    return 1 - valid / padded


def scores_and_groups(n, generator):
    """A ``[n, n / 5]`` score matrix with 5 captions an image."""
    images = n // 5
    image_index = torch.arange(n) // 5
    speech = torch.randn(n, 512, generator=generator)
    pictures = torch.randn(images, 512, generator=generator)
    speech += 2 * pictures[image_index]
    return speech, pictures, image_index


def run(args):
    """All measurements; returns the rows."""
    generator = torch.Generator().manual_seed(0)
    sizes = [args.n, 2 * args.n, 4 * args.n]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.embed:
            data = args.data_folder
            build_synthvgs(data, size="tiny")
            manifest = os.path.join(scratch, "pool.json")
            pool = min(pooled_manifest(data, manifest), args.embed_max)
            replacements = {"data_root": data, "image_root": data}
            datasets = vgs_datasets(
                {"train": manifest, "pool": manifest},
                replacements,
                image_size=None,
                sorting="random",
            )
            dataset = datasets["pool"]  # an evaluation set
            model = embedding_model(args.size, args.cache)
            wavs = [dataset[i]["sig"] for i in range(pool)]  # read once
            shuffled = torch.randperm(pool, generator=generator).tolist()
            for n in [pool // 4, pool // 2, pool]:
                chosen = [wavs[i] for i in shuffled[:n]]
                for order, batches in [
                    ("sorted", sorted(chosen, key=len)),
                    ("random order", chosen),
                ]:
                    embed(model, batches[:2])  # warm-up
                    start = time.perf_counter()
                    padding = embed(model, batches)
                    seconds = time.perf_counter() - start
                    rows.append(
                        {
                            "step": f"embed ({order})",
                            "n": n,
                            "seconds": round(seconds, 3),
                            "padding": round(padding, 3),
                        }
                    )
        for n in sizes:
            speech, pictures, image_index = scores_and_groups(n, generator)
            sim = speech @ pictures.t()
            seconds, cpu, peak = measure(retrieval_recall, sim, image_index)
            rows.append(
                {
                    "step": "recall",
                    "n": n,
                    "shape": list(sim.shape),
                    "seconds": round(seconds, 3),
                    "cpu_s": round(cpu, 3),
                    "peak_mb": round(peak, 1),
                    "input_mb": round(sim.numel() * 4 / 2**20, 1),
                }
            )
            del sim
        for n in sizes:
            speech, pictures, image_index = scores_and_groups(n, generator)
            texts = pictures[image_index] + torch.randn(
                n, 512, generator=generator
            )
            seconds, cpu, peak = measure(
                zero_shot_recall, speech, texts, image_index, image_index
            )
            rows.append(
                {
                    "step": "zero_shot",
                    "n": n,
                    "shape": [n, n],
                    "seconds": round(seconds, 3),
                    "cpu_s": round(cpu, 3),
                    "peak_mb": round(peak, 1),
                    "full_matrix_mb": round(n * n * 4 / 2**20, 1),
                }
            )
        for n in sizes:
            n_kws = int(n * args.kws_scale)
            relevant = torch.rand(n_kws, args.keywords, generator=generator)
            relevant = relevant < 0.02
            scores = torch.randn(n_kws, args.keywords, generator=generator)
            scores += relevant.float()
            seconds, cpu, peak = measure(
                keyword_spotting_metrics, scores, relevant
            )
            rows.append(
                {
                    "step": "kws",
                    "n": n_kws,
                    "shape": [n_kws, args.keywords],
                    "seconds": round(seconds, 3),
                    "cpu_s": round(cpu, 3),
                    "peak_mb": round(peak, 1),
                }
            )
    for row in rows:  # time(4N) / time(2N)
        same = [r for r in rows if r["step"] == row["step"]]
        if row is same[-1] and len(same) >= 2:
            row["growth"] = round(row["seconds"] / same[-2]["seconds"], 2)
    return rows


def main():
    """Parses the arguments, measures, prints."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6250, help="smallest N")
    parser.add_argument("--keywords", type=int, default=1000)
    parser.add_argument(
        "--kws_scale",
        type=float,
        default=0.4,
        help="utterances of the keyword benchmark per N (0.4: 10,000 at 4N)",
    )
    parser.add_argument("--size", default="tiny", help="embedding model")
    parser.add_argument("--data_folder", default="data/SynthVGS-tiny")
    parser.add_argument("--cache", default="results/benchmarks/models")
    parser.add_argument(
        "--embed_max", type=int, default=100000, help="utterances embedded"
    )
    parser.add_argument("--no_embed", dest="embed", action="store_false")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.keywords, args.embed_max = 250, 50, 64
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args)
    print(
        f"{'step':<20} {'n':>7} {'seconds':>8} {'CPU s':>8} {'peak MB':>8} "
        "growth"
    )
    for row in rows:
        print(
            f"{row['step']:<20} {row['n']:>7} {row['seconds']:>8} "
            f"{row.get('cpu_s', ''):>8} {row.get('peak_mb', ''):>8} "
            f"{row.get('growth', '')}"
        )
    print(
        json.dumps(
            {
                "rows": rows,
                "threads": torch.get_num_threads(),
                "load": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
