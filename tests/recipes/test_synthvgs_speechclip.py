"""The SynthVGS SpeechCLIP recipes run end to end on the tiny corpus (with
a tiny random CLIP standing in for the CLIP recipe's export), and a trained
cascaded model loads through the inference class: same embeddings as the
model restored from its best checkpoint, same keywords as the recipe's own
evaluation."""

import io
import json
import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from recipe_runner import check_speechclip_results, run_recipe

from speechbrain_vgs import cli
from speechbrain_vgs.brains import BEST_KEY
from speechbrain_vgs.inference import SpeechCLIPInference
from speechbrain_vgs.lobes.grounded import GroundedFeatures

SCRIPT = "recipes/SynthVGS/SpeechCLIP/train.py"
HPARAMS = "recipes/SynthVGS/SpeechCLIP/hparams/{}.yaml"
TINY = [
    "--synthvgs_size=tiny",
    "--batch_size=4",
    "--num_workers=0",
    "--test_sets=[test_A]",
]


@pytest.mark.parametrize("variant", ["parallel", "hybrid", "hybrid_plus"])
def test_speechclip_recipe_debug(
    variant, synthvgs_tiny, tiny_sources, tmp_path
):
    results = run_recipe(
        SCRIPT,
        HPARAMS.format(variant),
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *tiny_sources["hubert"],
        *TINY,
        # the SynthVGS yaml counts the captions' subwords; the authors' target
        *(["--quantity_target=frames"] if variant == "hybrid_plus" else []),
    )
    check_speechclip_results(
        results, {"test_A"}, variant != "parallel", slots="plus" not in variant
    )
    assert (tmp_path / "model.ckpt").is_file()
    # the log keeps SpeechBrain's DEBUG records, not PIL's per image chunk
    log = (tmp_path / "log.txt").read_text()
    assert "DEBUG" in log and " - PIL." not in log


def test_cascaded_plus_keywords_through_inference(
    synthvgs_tiny, tiny_sources, tmp_path
):
    """Cascaded+ (CIF) in --debug, with the yaml's targets (the captions'
    subword counts): each utterance has its own number of keywords, the same in
    keywords_test_A.json, the inference class and the CLI, and its mean is
    the one in results.json; the CIF figures are drawn."""
    output = tmp_path / "out"
    results = run_recipe(
        SCRIPT,
        HPARAMS.format("cascaded_plus"),
        output,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *tiny_sources["hubert"],
        *TINY,
    )
    check_speechclip_results(results, {"test_A"}, True, slots=False)
    figures = sorted(os.listdir(output / "figures" / "test_A"))
    assert sum(f.startswith("attention_") for f in figures) == 3
    with open(output / "keywords_test_A.json", encoding="utf-8") as f:
        keywords = json.load(f)
    counts = [len(entry["keywords"]) for entry in keywords.values()]
    assert min(counts) >= 1
    assert results["test_A"]["keywords_per_utterance"] == pytest.approx(
        sum(counts) / len(counts)
    )
    speechclip = SpeechCLIPInference.from_hparams(
        source=str(output), savedir=str(tmp_path / "inference")
    )
    wav_folder = os.path.join(synthvgs_tiny, "wavs", "en", "test_A")
    for utt_id, expected in list(keywords.items())[:4]:
        wav = os.path.join(wav_folder, f"{utt_id}.wav")
        assert speechclip.keywords(wav) == expected["keywords"]
        printed = io.StringIO()
        cli.run(cli.parse_args(["keywords", str(output), wav]), printed)
        lines = printed.getvalue().splitlines()
        top3 = [slot[:3] for slot in expected["keywords"]]  # the default
        assert [line.split()[1:] for line in lines] == top3


def test_cascaded_checkpoint_through_inference(
    synthvgs_tiny, tiny_sources, tmp_path
):
    output = tmp_path / "out"
    results = run_recipe(
        SCRIPT,
        HPARAMS.format("cascaded"),
        output,
        f"--data_folder={synthvgs_tiny}",
        *tiny_sources["clip"],
        *tiny_sources["hubert"],
        *TINY,
        "--number_of_epochs=1",
        debug=False,
    )
    check_speechclip_results(results, {"test_A"}, True)
    figures = sorted(os.listdir(output / "figures" / "test_A"))
    assert "layer_weights.png" in figures
    assert sum(f.startswith("attention_") for f in figures) == 3

    # the model restored from the best training checkpoint
    with open(output / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    hparams["checkpointer"].recover_if_possible(max_key=BEST_KEY)
    model = hparams["model"].eval()

    # the exported upstream is the trained one, layer weights included
    exported = GroundedFeatures(output / "export")
    wav = torch.randn(1, 8000)
    with torch.no_grad():
        expected, _ = hparams["upstream"].eval()(wav)
    torch.testing.assert_close(exported(wav)[0], expected)

    speechclip = SpeechCLIPInference.from_hparams(
        source=str(output), savedir=str(tmp_path / "inference")
    )
    with open(output / "keywords_test_A.json", encoding="utf-8") as f:
        keywords = json.load(f)
    wav_folder = os.path.join(synthvgs_tiny, "wavs", "en", "test_A")
    for utt_id, expected in keywords.items():
        wav = os.path.join(wav_folder, f"{utt_id}.wav")
        embedding = speechclip.encode_speech(wav)
        signal = speechclip.speech_batch(wav)[0]
        with torch.no_grad():
            reference = model(signal, torch.ones(1)).cascaded
        assert torch.allclose(embedding, reference, atol=1e-6)
        assert speechclip.keywords(wav) == expected["keywords"]
    # a trained model's keywords carry over: not all identical
    assert len({str(k["keywords"]) for k in keywords.values()}) > 1
