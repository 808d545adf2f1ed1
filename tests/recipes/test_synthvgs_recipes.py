"""Every SynthVGS recipe and the template run end to end in SpeechBrain's
``--debug`` mode on the tiny corpus and write a well-formed results.json."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
RECALL_KEYS = {
    f"{direction}_r{k}"
    for direction in ("speech_to_image", "image_to_speech")
    for k in (1, 5, 10)
}

GROUNDING_RECIPES = [
    ("recipes/SynthVGS/VGS/train.py", "recipes/SynthVGS/VGS/hparams/" + y)
    for y in ("resdavenet.yaml", "davenet.yaml", "resdavenet_vq.yaml")
] + [("templates/vgs_retrieval/train.py", "templates/vgs_retrieval/train.yaml")]


def run_recipe(script, hparams, output, *overrides):
    """Runs a recipe as a user would, returning its results.json."""
    cmd = [
        sys.executable,
        os.path.join(ROOT, script),
        os.path.join(ROOT, hparams),
        "--debug",
        "--device=cpu",
        f"--output_folder={output}",
        *overrides,
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("script,hparams", GROUNDING_RECIPES)
def test_grounding_recipe_debug(script, hparams, synthvgs_tiny, tmp_path):
    results = run_recipe(
        script,
        hparams,
        tmp_path / "out",
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        "--image_size=32",
        "--batch_size=4",
        "--num_workers=0",
    )
    expected_sets = (
        {"test_A"} if "templates" in script else {f"test_{c}" for c in "ABCD"}
    )
    assert set(results) == expected_sets
    for metrics in results.values():
        assert set(metrics) == RECALL_KEYS
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
        assert metrics["speech_to_image_r1"] <= metrics["speech_to_image_r10"]
