"""The SynthVGS keyword spotting recipes run end to end on the tiny corpus
(a tiny random CLIP and HuBERT standing in for the CLIP and HuBERT
recipes' exports); a trained spotter loads through ``KeywordSpotter``
and the ``speechbrain-vgs search-speech`` command, and scores the test
utterances exactly as the recipe's own evaluation did."""

import os
import subprocess
import sys

import pytest
import torch
from recipe_runner import ROOT, run_recipe

from speechbrain_vgs.dataio.keywords import Lexicon
from speechbrain_vgs.dataio.manifest import load_manifest
from speechbrain_vgs.inference import KeywordSpotter
from speechbrain_vgs.metrics import keyword_spotting_metrics

SCRIPT = "recipes/SynthVGS/KWS/train.py"
HPARAMS = "recipes/SynthVGS/KWS/hparams/{}.yaml"
TINY = [
    "--synthvgs_size=tiny",
    "--num_keywords=12",
    "--num_workers=0",
    "--test_sets=[test_A]",
]
METRICS = ("p_at_10", "p_at_n", "eer", "ap")


def check_kws_results(results, prior=True, bow=True):
    """The keyword spotting keys, in [0, 1], for test_A."""
    assert set(results) == {"test_A"}
    metrics = results["test_A"]
    for suffix in ("", "_visible"):
        assert metrics["keywords" + suffix] >= 2
        for key in METRICS:
            assert 0.0 <= metrics[key + suffix] <= 1.0
            assert (f"prior_{key}{suffix}" in metrics) == prior
        if prior:  # constant scores: chance, whatever the relevance
            assert metrics["prior_eer" + suffix] == pytest.approx(0.5)
    assert ("bow_f1" in metrics) == bow


@pytest.mark.parametrize(
    "yaml",
    ["monolingual_en", "crosslingual_de", "topline_sw", "zero_shot_sw"],
)
def test_kws_recipe_debug(yaml, synthvgs_tiny, tiny_sources, tmp_path):
    results = run_recipe(
        SCRIPT,
        HPARAMS.format(yaml),
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        *([] if yaml == "topline_sw" else tiny_sources["clip"]),
        *TINY,
    )
    check_kws_results(results)
    assert (tmp_path / "speech_net.ckpt").is_file()


def test_hubert_kws_recipe_debug(synthvgs_tiny, tiny_sources, tmp_path):
    results = run_recipe(
        SCRIPT,
        HPARAMS.format("hubert_sw"),
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *tiny_sources["hubert"],
        *TINY,
    )
    check_kws_results(results)


def test_speechclip_as_keyword_spotter(synthvgs_tiny, tiny_sources, tmp_path):
    speechclip = tmp_path / "speechclip_sw"
    run_recipe(
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/parallel.yaml",
        speechclip,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *tiny_sources["hubert"],
        "--synthvgs_size=tiny",
        "--lang=sw",
        "--batch_size=4",
        "--num_workers=0",
        "--test_sets=[test_A]",
    )
    results = run_recipe(
        SCRIPT,
        HPARAMS.format("speechclip_sw"),
        tmp_path / "kws",
        f"--data_folder={synthvgs_tiny}",
        f"--speechclip_folder={speechclip}",
        *TINY,
        debug=False,
    )
    check_kws_results(results, prior=False, bow=False)


def test_trained_spotter_through_inference_and_command(
    synthvgs_tiny, tiny_sources, tmp_path
):
    output = tmp_path / "out"
    results = run_recipe(
        SCRIPT,
        HPARAMS.format("crosslingual_sw"),
        output,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *TINY,
        "--number_of_epochs=1",
        "--batch_size=4",
        "--test_dataloader_opts={batch_size: 1}",  # no padding, as below
        debug=False,
    )
    check_kws_results(results)
    spotter = KeywordSpotter.from_hparams(
        source=str(output), savedir=str(tmp_path / "inference")
    )
    keywords = spotter.vocabulary
    assert len(keywords) == 12

    # the spotter's probabilities give the recipe's own test metrics
    manifest = os.path.join(synthvgs_tiny, "manifests", "sw", "test_A.json")
    entries = load_manifest(manifest, ("wav", "text", "lang"))
    wavs = [e["wav"].format(data_root=synthvgs_tiny) for e in entries.values()]
    lexicon = Lexicon.from_file(os.path.join(synthvgs_tiny, "lexicon.json"))
    said = lexicon.spoken_relevance(entries, keywords)
    relevant = torch.tensor([[k in said[u] for k in keywords] for u in entries])
    known = [c is not None for c in lexicon.keyword_concepts(keywords)]
    probabilities = torch.cat([spotter.keyword_probabilities(w) for w in wavs])
    metrics = keyword_spotting_metrics(
        probabilities[:, known], relevant[:, known]
    )
    for key in METRICS:
        assert metrics[key] == pytest.approx(results["test_A"][key], abs=1e-5)

    # search = the same probabilities, ranked; the command prints them
    keyword = keywords[0]
    folder = os.path.dirname(wavs[0])
    ranked = spotter.search(folder, keyword, top_k=5, batch_size=1)
    column = keywords.index(keyword)
    best = sorted(
        zip(wavs, probabilities[:, column].tolist()),
        key=lambda x: (-x[1], x[0]),
    )[:5]
    assert [p for p, _ in ranked] == [p for p, _ in best]
    command = [
        sys.executable,
        "-m",
        "speechbrain_vgs.cli",
        "search-speech",
        str(output),
        keyword,
        folder,
        "--top_k",
        "3",
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    printed = [line.split()[2] for line in lines]
    assert printed == [p for p, _ in spotter.search(folder, keyword, 3)]
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]

    # an unknown keyword: a clear error listing the vocabulary
    command[5] = "zebra"
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "'zebra' is not a keyword of this model" in proc.stderr
    assert keyword in proc.stderr
