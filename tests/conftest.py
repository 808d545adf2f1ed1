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
