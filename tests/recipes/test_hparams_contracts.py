"""A recipe whose yaml misspells a key its Brain needs fails at start-up,
before any data preparation or training batch, with a message naming the
key and the likely intent: one recipe of each Brain, run as a user would."""

import pytest
from recipe_runner import ROOT, run_script

from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert

CASES = [
    (
        "recipes/SynthVGS/VGS/train.py",
        "recipes/SynthVGS/VGS/hparams/resdavenet.yaml",
        "similarity: !new",
        "similarty: !new",
        "GroundingBrain: missing hparams key 'similarity' "
        "(did you mean 'similarty'?)",
    ),
    (
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/parallel.yaml",
        "retrieval_branch: parallel",
        "retreival_branch: parallel",
        "SpeechCLIPBrain: missing hparams key 'retrieval_branch' "
        "(did you mean 'retreival_branch'?)",
    ),
    (
        "recipes/SynthVGS/SpeechCLIP/train.py",
        "recipes/SynthVGS/SpeechCLIP/hparams/cascaded_plus.yaml",
        "quantity_target: subwords",
        "quantity_targt: subwords",
        "'quantity_targt' is not read by SpeechCLIPBrain: "
        "did you mean 'quantity_target'?",
    ),
    (
        "recipes/SynthVGS/CLIP/train.py",
        "recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml",
        "train_logger: !new",
        "train_loger: !new",
        "CLIPBrain: missing hparams key 'train_logger' "
        "(did you mean 'train_loger'?)",
    ),
    (
        "recipes/SynthVGS/HuBERT/train.py",
        "recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml",
        "mask_prob: 0.8",
        "mask_porb: 0.8",
        "HuBERTPretrainBrain: missing hparams key 'mask_prob' "
        "(did you mean 'mask_porb'?)",
    ),
    (
        "recipes/SynthVGS/KWS/train.py",
        "recipes/SynthVGS/KWS/hparams/crosslingual_sw.yaml",
        "bow_threshold: 0.5",
        "bow_treshold: 0.5",
        "'bow_treshold' is not read by KeywordSpottingBrain: "
        "did you mean 'bow_threshold'?",
    ),
    (
        "recipes/SynthVGS/ASR/train.py",
        "recipes/SynthVGS/ASR/hparams/fbank.yaml",
        "blank_index: 0",
        "blank_idx: 0",
        "CTCBrain: missing hparams key 'blank_index' "
        "(did you mean 'blank_idx'?)",
    ),
]


@pytest.fixture(scope="module")
def speechclip_sources(tmp_path_factory):
    """Tiny CLIP and HuBERT folders for the SpeechCLIP yaml to load."""
    clip = tmp_path_factory.mktemp("clip")
    save_tiny_clip(clip, name="tiny-clip")
    hubert = save_tiny_hubert(tmp_path_factory.mktemp("hubert"))
    return [
        f"--clip_folder={clip}",
        "--clip_name=tiny-clip",
        f"--hubert_source={hubert}",
    ]


@pytest.mark.parametrize("script,hparams,key,typo,message", CASES)
def test_misspelt_key_fails_at_start_up(
    script, hparams, key, typo, message, speechclip_sources, tmp_path
):
    with open(f"{ROOT}/{hparams}", encoding="utf-8") as f:
        text = f.read()
    assert text.count(key) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(key, typo), encoding="utf-8")
    overrides = [f"--data_folder={tmp_path / 'no_corpus'}"]
    if "SpeechCLIP" in script:
        overrides += speechclip_sources
    if "KWS" in script:
        overrides += speechclip_sources[:2]  # CLIP only
    proc = run_script(script, str(broken), tmp_path / "out", *overrides)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in output, output[-3000:]
    # nothing ran: no corpus was built, no epoch started
    assert not (tmp_path / "no_corpus").exists()
    assert "Going into epoch" not in output
