"""SynthVGS fails clearly on a bad size or language, an unwritable output
folder and a missing synthesiser.

Authors
 * speechbrain-vgs developers 2026
"""

import os
import shutil
import subprocess
import sys

import pytest

from speechbrain_vgs.dataio.synthvgs import build_synthvgs
from speechbrain_vgs.dataio.synthvgs.speech import (
    SynthesiserMissing,
    check_synthesisers,
)


def test_unknown_size_lists_the_sizes(tmp_path):
    with pytest.raises(ValueError, match="'huge'.*tiny, small, full"):
        build_synthvgs(tmp_path, size="huge")


def test_unknown_language_lists_the_languages(tmp_path):
    with pytest.raises(ValueError, match="'fr'.*en, de, sw"):
        build_synthvgs(tmp_path, langs=("en", "fr"))


def test_unwritable_output_folder_is_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "corpus"
    with pytest.raises(OSError, match=f"cannot write.*{out}"):
        build_synthvgs(out)


def test_missing_espeak_names_its_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SynthesiserMissing, match="apt-get install espeak-ng"):
        build_synthvgs(tmp_path / "out", langs="sw")


def test_missing_flite_matters_for_english_only(tmp_path, monkeypatch):
    os.symlink(shutil.which("espeak-ng"), tmp_path / "espeak-ng")
    monkeypatch.setenv("PATH", str(tmp_path))
    check_synthesisers(("de", "sw"))
    with pytest.raises(SynthesiserMissing, match="apt-get install flite"):
        check_synthesisers(("en", "sw"))


def test_cli_reports_errors(tmp_path):
    command = [sys.executable, "-m", "speechbrain_vgs.dataio.synthvgs"]
    command += ["--size", "huge", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown SynthVGS size 'huge'" in result.stderr
