"""Every SynthVGS grounding recipe and the template run end to end in
SpeechBrain's ``--debug`` mode on the tiny corpus and write a well-formed
results.json (one entry per test condition)."""

import pytest
import torch
from recipe_runner import check_recall_results, run_recipe

from speechbrain_vgs.lobes.grounded import GroundedFeatures

GROUNDING_RECIPES = [
    ("recipes/SynthVGS/VGS/train.py", "recipes/SynthVGS/VGS/hparams/" + y)
    for y in ("resdavenet.yaml", "davenet.yaml", "resdavenet_vq.yaml")
]
TEMPLATE = (
    "templates/vgs_retrieval/train.py",
    "templates/vgs_retrieval/train.yaml",
)
TINY = [
    "--synthvgs_size=tiny",
    "--image_size=32",
    "--batch_size=4",
    "--num_workers=0",
]


@pytest.mark.parametrize("script,hparams", GROUNDING_RECIPES)
def test_grounding_recipe_debug(script, hparams, synthvgs_tiny, tmp_path):
    results = run_recipe(
        script, hparams, tmp_path, f"--data_folder={synthvgs_tiny}", *TINY
    )
    check_recall_results(results, {f"test_{c}" for c in "ABCD"})
    # the speech encoder is exported for GroundedFeatures, each layer
    features = GroundedFeatures(tmp_path / "export")
    for layer in features.layer_names:
        frames, _ = GroundedFeatures(tmp_path / "export", layer=layer)(
            torch.randn(1, 8000)
        )
        assert frames.shape[0] == 1 and frames.abs().sum() > 0


def test_template_debug(synthvgs_tiny, tmp_path):
    results = run_recipe(
        *TEMPLATE, tmp_path, f"--data_folder={synthvgs_tiny}", *TINY
    )
    check_recall_results(results, {"test_A"})
