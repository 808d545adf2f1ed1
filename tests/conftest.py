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
