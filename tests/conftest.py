"""Shared pytest fixtures.

Authors
 * speechbrain-vgs developers 2026
"""

import pytest


@pytest.fixture(scope="session")
def synthvgs_tiny(tmp_path_factory):
    """Path (str) of a tiny SynthVGS corpus (en, de, sw; seed 1234), built
    once per test session with all cores."""
    from speechbrain_vgs.dataio.synthvgs import build_synthvgs

    out = tmp_path_factory.mktemp("synthvgs_tiny")
    build_synthvgs(out, size="tiny", seed=1234, langs=("en", "de", "sw"))
    return str(out)


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory):
    """Recipe overrides pointing at a tiny random CLIP (``"clip"``) and a
    tiny HuBERT at HuBERT's 50 Hz (``"hubert"``), in place of the exports
    of the CLIP and HuBERT recipes."""
    from speechbrain_vgs.lobes.tiny_models import (
        save_tiny_clip,
        save_tiny_hubert,
    )

    clip = tmp_path_factory.mktemp("clip")
    save_tiny_clip(clip, name="tiny-clip")
    hubert = save_tiny_hubert(
        tmp_path_factory.mktemp("hubert"),
        conv_kernel=(400, 2),
        conv_stride=(160, 2),
    )
    return {
        "clip": [f"--clip_folder={clip}", "--clip_name=tiny-clip"],
        "hubert": [f"--hubert_source={hubert}"],
    }


def _train(script, hparams, output, *overrides):
    """Runs a recipe to the end (not ``--debug``) and returns its output
    folder (str)."""
    from recipe_runner import run_recipe

    run_recipe(script, hparams, output, *overrides, debug=False)
    return str(output)


@pytest.fixture(scope="session")
def trained_clip(synthvgs_tiny, tmp_path_factory):
    """Overrides pointing at a tiny CLIP trained on the tiny corpus until
    its images are told apart (the CLIP recipe, 30 epochs, ~40 s)."""
    output = _train(
        "recipes/SynthVGS/CLIP/train.py",
        "recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml",
        tmp_path_factory.mktemp("trained_clip"),
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        "--number_of_epochs=30",
        "--batch_size=16",
        "--num_workers=0",
    )
    return [f"--clip_folder={output}/export"]


@pytest.fixture(scope="session")
def trained_speechclip(
    synthvgs_tiny, tiny_sources, trained_clip, tmp_path_factory
):
    """Output folder (str) of a hybrid SpeechCLIP (parallel retrieval and
    cascaded keywords) trained on the tiny corpus until it knows its
    training captions (every one finds its image first; ~1 min), tested on
    test_A."""
    return _train(
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/hybrid.yaml",
        tmp_path_factory.mktemp("trained_speechclip"),
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        *trained_clip,
        *tiny_sources["hubert"],
        "--number_of_epochs=40",
        "--lr=0.005",
        "--warmup_steps=5",
        "--dynamic_batching=False",
        "--batch_size=12",
        "--num_workers=0",
        "--wav_augment=null",
        "--test_sets=[test_A]",
    )


@pytest.fixture(scope="session")
def trained_grounding(synthvgs_tiny, tmp_path_factory):
    """Output folder (str) of a ResDAVEnet grounding model trained on the
    tiny corpus until it knows its training captions (~1 min), tested on
    test_A."""
    return _train(
        "recipes/SynthVGS/VGS/train.py",
        "recipes/SynthVGS/VGS/hparams/resdavenet.yaml",
        tmp_path_factory.mktemp("trained_grounding"),
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        "--number_of_epochs=40",
        "--lr=0.005",
        "--batch_size=12",
        "--num_workers=0",
        "--test_sets=[test_A]",
    )
