"""A recipe killed with SIGKILL at any moment, including while a
checkpoint is being written, and run again with the same command ends with
the same results.json (byte for byte) and the same exported weights as the
same run never interrupted: for the grounding, SpeechCLIP, CLIP and HuBERT
Brains.

Each case runs its recipe four times on the tiny corpus in SpeechBrain's
``--debug`` mode (4 batches an epoch, 2 epochs, a checkpoint after every
step): uninterrupted (alongside the others), then killed in the middle of
writing its second checkpoint (``CKPT.yaml`` and half of ``model.ckpt`` on
disk), then resumed and killed after the update that follows its third
checkpoint (progress no checkpoint holds), then resumed to the end.
"""

import filecmp
import os
import signal
import subprocess
import sys

import pytest
from recipe_runner import ROOT

from speechbrain_vgs.checkpoints import INCOMPLETE_PREFIX

RUNNER = os.path.join(ROOT, "tests", "reliability", "kill_runner.py")
COMMON = [
    "--debug",
    "--debug_persistently",
    "--debug_batches=4",
    "--ckpt_interval_steps=1",
    "--device=cpu",
    "--noprogressbar",
    "--synthvgs_size=tiny",
]
CASES = {
    "grounding": (
        "recipes/SynthVGS/VGS/train.py",
        "recipes/SynthVGS/VGS/hparams/resdavenet.yaml",
        ["--image_size=32", "--batch_size=4", "--num_workers=0"],
        "export/encoder.ckpt",
    ),
    "speechclip": (
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/cascaded.yaml",
        ["--batch_size=4", "--num_workers=0"],
        "model.ckpt",
    ),
    "clip": (
        "recipes/SynthVGS/CLIP/train.py",
        "recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml",
        ["--image_size=32", "--batch_size=8"],
        "export/tiny-clip-synthvgs.pt",
    ),
    "hubert": (
        "recipes/SynthVGS/HuBERT/train.py",
        "recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml",
        [
            "--hubert_dim=32",
            "--hubert_layers=1",
            "--num_clusters=8",
            "--kmeans_utterances=20",
            "--batch_size=4",
            "--num_workers=0",
        ],
        "export/model.safetensors",
    ),
}


def command(case, corpus, sources, output):
    script, hparams, options, _ = CASES[case]
    if case == "speechclip":
        options = [*options, *sources["clip"], *sources["hubert"]]
    if case != "clip":
        options = [*options, "--test_sets=[test_A]"]
    return [
        os.path.join(ROOT, script),
        os.path.join(ROOT, hparams),
        *COMMON,
        *options,
        f"--data_folder={corpus}",
        f"--output_folder={output}",
    ]


def run(args, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finish(process, returncode):
    output, _ = process.communicate(timeout=600)
    assert process.returncode == returncode, output[-3000:]
    return output


@pytest.mark.parametrize("case", list(CASES))
def test_killed_run_resumes_to_the_same_results(
    case, synthvgs_tiny, tiny_sources, tmp_path
):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    uninterrupted = run(command(case, synthvgs_tiny, tiny_sources, reference))
    args = command(case, synthvgs_tiny, tiny_sources, resumed)

    finish(run([RUNNER, "while-saving", "2", *args]), -signal.SIGKILL)
    log = finish(run([RUNNER, "after-saving", "3", *args]), -signal.SIGKILL)
    assert "is incomplete (" in log and "ckpt is truncated" in log
    finish(run(args), 0)
    finish(uninterrupted, 0)

    save = os.listdir(resumed / "save")
    assert any(name.startswith(INCOMPLETE_PREFIX) for name in save)
    assert (reference / "results.json").read_bytes() == (
        resumed / "results.json"
    ).read_bytes()
    weights = CASES[case][3]
    assert filecmp.cmp(reference / weights, resumed / weights, shallow=False)
