"""The SynthVGS HuBERT pre-training recipe runs end to end in SpeechBrain's
``--debug`` mode on the tiny corpus; its export loads through
:class:`speechbrain_vgs.lobes.ssl.SSLUpstream` with exactly the weights of
the best checkpoint, the second iteration trains on clusters of its hidden
states, and the SpeechCLIP recipe fine-tunes it (as its yaml does)."""

import os

import torch
from hyperpyyaml import load_hyperpyyaml
from recipe_runner import check_speechclip_results, run_recipe

from speechbrain_vgs.dataio.pipelines import read_wav
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip

SCRIPT = "recipes/SynthVGS/HuBERT/train.py"
HPARAMS = "recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml"
ITERATION_2 = "recipes/SynthVGS/HuBERT/hparams/tiny_hubert_iter2.yaml"
SMALL = [
    "--synthvgs_size=tiny",
    "--hubert_dim=32",
    "--hubert_layers=1",
    "--num_clusters=8",
    "--kmeans_utterances=20",
    "--batch_size=4",
    "--num_workers=0",
]


def test_hubert_recipe_export_feeds_speechclip(synthvgs_tiny, tmp_path):
    output = tmp_path / "hubert"
    results = run_recipe(
        SCRIPT,
        HPARAMS,
        output,
        f"--data_folder={synthvgs_tiny}",
        *SMALL,
        "--debug_persistently",  # keep the checkpoints to compare with
    )
    assert set(results) == {"test_A"}
    assert set(results["test_A"]) == {"masked_accuracy"}
    assert 0.0 <= results["test_A"]["masked_accuracy"] <= 1.0

    export = output / "export"
    assert {"config.json", "preprocessor_config.json"} <= set(
        os.listdir(export)
    )
    exported = SSLUpstream(export, freeze=True)
    # the best checkpoint restored into the recipe's (initial) upstream
    with open(output / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    initial = [p.clone() for p in hparams["upstream"].ssl.parameters()]
    checkpointer = hparams["checkpointer"]
    assert checkpointer.recover_if_possible(min_key="loss") is not None
    trained = hparams["upstream"].eval()
    changed = [
        not torch.equal(a, b) for a, b in zip(initial, trained.ssl.parameters())
    ]
    assert any(changed)  # training moved the weights
    wav_folder = os.path.join(synthvgs_tiny, "wavs", "en", "test_A")
    wav = read_wav(os.path.join(wav_folder, sorted(os.listdir(wav_folder))[0]))
    with torch.no_grad():
        states, _ = trained.hidden_states(wav.unsqueeze(0))
    exported_states, _ = exported.hidden_states(wav.unsqueeze(0))
    for a, b in zip(states, exported_states):
        assert torch.equal(a, b)

    # the second iteration: clusters of the export's last hidden state
    # (the model has one layer: hidden states 0 and 1)
    second = run_recipe(
        SCRIPT,
        ITERATION_2,
        tmp_path / "iteration_2",
        f"--data_folder={synthvgs_tiny}",
        *SMALL,
        f"--first_iteration={export}",
        "--target_layer=1",
    )
    assert 0.0 <= second["test_A"]["masked_accuracy"] <= 1.0
    assert SSLUpstream(tmp_path / "iteration_2" / "export").dim == 32

    # SpeechCLIP on the export, fine-tuned (its width read from the model)
    clip = tmp_path / "clip"
    save_tiny_clip(clip, name="tiny-clip")
    speechclip = run_recipe(
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/cascaded.yaml",
        tmp_path / "speechclip",
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        f"--clip_folder={clip}",
        "--clip_name=tiny-clip",
        f"--hubert_source={export}",
        "--batch_size=4",
        "--num_workers=0",
        "--test_sets=[test_A]",
    )
    check_speechclip_results(speechclip, {"test_A"}, True)
