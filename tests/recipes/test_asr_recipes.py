"""The ASR recipes run end to end in SpeechBrain's ``--debug`` mode: SynthVGS
(both protocols, filterbanks and grounded features), the transfer study
command, TIMIT and Aurora-4 on miniature trees in their real layouts, and a
plain SpeechBrain CTC recipe that takes GroundedFeatures from its yaml."""

import json
import os
import subprocess
import sys

import pytest
import torch
from miniature_aurora4 import write_aurora4
from miniature_timit import write_timit
from recipe_runner import ROOT, run_in_process, run_script

from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.grounded import export_speech_encoder
from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert

SYNTHVGS = "recipes/SynthVGS/ASR/"
TINY = ["--synthvgs_size=tiny", "--batch_size=4", "--num_workers=0"]


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    """Recipe output folders holding an ``export``: a (random) ResDAVEnet
    and a tiny HuBERT with HuBERT's 20 ms frames."""
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    resdavenet = ResDAVEnet(widths=(8, 8, 16, 16, 32), blocks=(1, 1, 1, 1))
    export_speech_encoder(
        root / "resdavenet" / "export", resdavenet.eval(), LogMel()
    )
    save_tiny_hubert(
        root / "hubert" / "export", conv_kernel=(400, 2), conv_stride=(160, 2)
    )
    return root


def check_error_rates(results, sets, keys):
    assert set(results) == set(sets)
    for metrics in results.values():
        assert set(metrics) == set(keys)
        assert all(0.0 <= value < 1000.0 for value in metrics.values())


def test_synthvgs_fbank_clean(synthvgs_tiny, tmp_path):
    results = run_in_process(
        SYNTHVGS + "train.py",
        SYNTHVGS + "hparams/fbank.yaml",
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        *TINY,
    )
    check_error_rates(results, [f"test_{c}" for c in "ABCD"], ["per"])


def test_synthvgs_grounded_male_female(synthvgs_tiny, encoders, tmp_path):
    results = run_in_process(
        SYNTHVGS + "train.py",
        SYNTHVGS + "hparams/grounded.yaml",
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        f"--encoder_source={encoders / 'resdavenet' / 'export'}",
        "--layer=res2",
        "--protocol=male_female",
        *TINY,
    )
    check_error_rates(results, ["test_male", "test_female"], ["per"])
    # the frozen encoder stays out of the checkpoints
    with open(tmp_path / "hyperparams.yaml") as f:
        assert "res2" in f.read()


def test_transfer_study_command(synthvgs_tiny, encoders, tmp_path):
    out = tmp_path / "study"
    command = [
        sys.executable,
        os.path.join(ROOT, SYNTHVGS, "study.py"),
        f"--data_folder={synthvgs_tiny}",
        f"--output_folder={out}",
        f"--resdavenet_folder={encoders / 'resdavenet'}",
        f"--hubert_folder={encoders / 'hubert'}",
        "--resdavenet_layers",
        "res1",
        "--hubert_layers",
        "1",
        "--protocols",
        "male_female",
        "--jobs",
        "2",
        "--debug",
        *TINY,
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (out / "study.md").read_text().splitlines()
    assert table[0].startswith("| features | male PER | female PER")
    assert [line.split(" | ")[0] for line in table[2:]] == [
        "| fbank",
        "| resdavenet res1",
        "| hubert 1",
    ]
    assert (out / "study.png").read_bytes()[:4] == b"\x89PNG"
    for run in ("fbank", "resdavenet_res1", "hubert_1"):
        with open(out / run / "male_female" / "results.json") as f:
            check_error_rates(
                json.load(f), ["test_male", "test_female"], ["per"]
            )
    study = json.loads((out / "study.json").read_text())
    row = study["rows"][1]
    expected = 100 * (row["test_female"] - row["test_male"]) / row["test_male"]
    assert row["test_female_degradation"] == pytest.approx(expected)


@pytest.fixture(scope="module")
def timit(tmp_path_factory):
    root = tmp_path_factory.mktemp("timit")
    write_timit(root)
    return root


def test_timit_fbank_standard(timit, tmp_path):
    results = run_in_process(
        "recipes/TIMIT/ASR/train.py",
        "recipes/TIMIT/ASR/hparams/fbank.yaml",
        tmp_path,
        f"--data_folder={timit}",
        "--batch_size=2",
        "--num_workers=0",
    )
    check_error_rates(results, ["test"], ["per"])


def test_timit_hubert_layer_male_female(timit, encoders, tmp_path):
    results = run_in_process(
        "recipes/TIMIT/ASR/train.py",
        "recipes/TIMIT/ASR/hparams/grounded.yaml",
        tmp_path,
        f"--data_folder={timit}",
        f"--encoder_source={encoders / 'hubert' / 'export'}",
        "--encoder_name=hubert",
        "--layer=1",
        "--protocol=male_female",
        "--batch_size=2",
        "--num_workers=0",
    )
    check_error_rates(results, ["test_male", "test_female"], ["per"])


@pytest.mark.parametrize("features", ["fbank", "grounded"])
def test_aurora4(features, encoders, tmp_path):
    corpus = write_aurora4(tmp_path)
    grounded = [
        f"--encoder_source={encoders / 'resdavenet' / 'export'}",
        "--layer=res3",
    ]
    results = run_in_process(
        "recipes/Aurora4/ASR/train.py",
        f"recipes/Aurora4/ASR/hparams/{features}.yaml",
        tmp_path / "run",
        f"--data_folder={corpus['data_folder']}",
        f"--wsj0_folder={corpus['wsj0_folder']}",
        f"--manifest_folder={tmp_path / 'prepared'}",
        "--batch_size=2",
        "--num_workers=0",
        *(grounded if features == "grounded" else []),
    )
    check_error_rates(results, [f"test_{c}" for c in "ABCD"], ["cer", "wer"])


def test_plain_speechbrain_recipe_takes_grounded_features(
    timit, encoders, tmp_path
):
    """SpeechBrain's CTC recipe shape with its own Brain: the grounded
    features come from the yaml alone."""
    proc = run_script(
        "tests/recipes/speechbrain_timit_ctc/train.py",
        "tests/recipes/speechbrain_timit_ctc/hparams.yaml",
        tmp_path,
        f"--data_folder={timit}",
        f"--encoder_source={encoders / 'resdavenet' / 'export'}",
        "--layer=res1",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    per = float((tmp_path / "per.txt").read_text())
    assert 0.0 <= per < 1000.0
