"""The converters of the authors' SpeechCLIP, SpeechCLIP+ and fairseq HuBERT
checkpoints, on tiny checkpoints written in the authors' formats
(:mod:`reference_checkpoints`): the weights land where they belong, the
converted models compute what the authors' code computes (rebuilt from
torch modules with its structure), the folders load for inference and run
through a recipe's test stage, and broken checkpoints are refused with
errors that name the file, the family and the keys."""

import io
import json
import os

import numpy as np
import pytest
import torch
from recipe_runner import check_speechclip_results, run_script
from reference_checkpoints import (
    ReferenceSpeechCLIP,
    fairseq_hubert_config,
    fairseq_hubert_state,
    fairseq_layer_results,
    reduced_ids,
    save_fairseq_hubert,
    save_speechclip_checkpoint,
    save_vocabulary,
)
from transformers import HubertModel, Wav2Vec2FeatureExtractor

from speechbrain_vgs.cli import parse_args, run
from speechbrain_vgs.converters import (
    CheckpointFormatError,
    convert_checkpoint,
)
from speechbrain_vgs.inference import load_inference
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SYNTHVGS_HPARAMS = os.path.join(
    ROOT, "recipes", "SynthVGS", "SpeechCLIP", "hparams", "{}.yaml"
)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny open_clip CLIP (weights, config) and the model itself."""
    import open_clip

    from speechbrain_vgs.lobes.clip import load_open_clip

    folder = tmp_path_factory.mktemp("clip")
    checkpoint, config = save_tiny_clip(folder, name="tiny-clip")
    model, _, _ = load_open_clip("tiny-clip", None, checkpoint, config)
    assert isinstance(model, open_clip.CLIP)
    return checkpoint, config, model.eval()


def clip_overrides(tiny_clip):
    """Hparams pointing the Flickr8k / SpokenCOCO recipes at the tiny CLIP."""
    checkpoint, config, _ = tiny_clip
    return {
        "clip_name": "tiny-clip",
        "clip_pretrained": None,
        "clip_checkpoint": str(checkpoint),
        "clip_config": str(config),
    }


def write_reference(folder, variant, large, tiny_clip, coco=False, **kwargs):
    """A reference model, its Lightning checkpoint and vocabulary file."""
    ids = reduced_ids()
    reference = ReferenceSpeechCLIP(
        variant, large, tiny_clip[2], ids, coco=coco, **kwargs
    )
    checkpoint = folder / "epoch_131-step_15443.ckpt"
    save_speechclip_checkpoint(checkpoint, reference)
    vocabulary = folder / "text_clip_vocab_usage_byfreq.npy"
    save_vocabulary(vocabulary, ids)
    return reference, checkpoint, vocabulary


def wave(seconds=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return 0.005 * torch.randn(int(16000 * seconds), generator=generator)


@pytest.mark.parametrize("large", [False, True], ids=["base", "large"])
def test_fairseq_hubert_computes_as_fairseq(large, tmp_path):
    width, heads = (32, 16) if large else (24, 12)
    state = fairseq_hubert_state(width, 2, large)
    path = tmp_path / ("hubert_large_ll60k.pt" if large else "hubert_base.pt")
    save_fairseq_hubert(
        path, state, fairseq_hubert_config(width, 2, heads, large)
    )
    family, folder = convert_checkpoint(path, tmp_path / "hubert")
    assert family == "fairseq-hubert"

    # every weight of the transformers model comes from the fairseq file
    model, info = HubertModel.from_pretrained(folder, output_loading_info=True)
    assert not any(info.values()), info
    torch.testing.assert_close(
        model.state_dict()["encoder.layers.1.feed_forward.output_dense.weight"],
        state["encoder.layers.1.fc2.weight"],
        rtol=0,
        atol=0,
    )
    torch.testing.assert_close(
        model.state_dict()["feature_projection.projection.bias"],
        state["post_extract_proj.bias"],
        rtol=0,
        atol=0,
    )
    assert model.config.do_stable_layer_norm == large
    assert model.config.num_attention_heads == heads
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
    assert extractor.do_normalize == large  # the task's normalize

    # hidden states: fairseq's (transformer input, then every layer)
    wav = wave()
    expected = fairseq_layer_results(state, wav, heads, large, normalize=large)
    upstream = SSLUpstream(folder, wav_norm_eps=1e-5).eval()
    states, frames = upstream.hidden_states(wav[None])
    assert len(states) == len(expected) == 3
    assert frames.item() == expected[0].shape[1] == 49
    for ours, theirs in zip(states, expected):
        torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


def test_fairseq_hubert_partial(tmp_path):
    state = fairseq_hubert_state(24, 2, False)
    del state["encoder.layers.1.fc2.weight"]
    state["encoder.layers.1.extra.weight"] = torch.zeros(2)
    path = tmp_path / "hubert.pt"
    save_fairseq_hubert(path, state, fairseq_hubert_config(24, 2, 12, False))
    with pytest.raises(CheckpointFormatError) as error:
        convert_checkpoint(path, tmp_path / "out")
    message = str(error.value)
    assert message.startswith(f"{path}: looks like a fairseq HuBERT")
    assert error.value.missing == ["encoder.layers.1.fc2.weight"]
    assert error.value.unexpected == ["encoder.layers.1.extra.weight"]
    assert not (tmp_path / "out").exists()


CASES = [
    ("parallel", False, False),
    ("parallel", True, False),
    ("cascaded", False, False),
    ("cascaded", True, True),
    ("hybrid", False, False),
    ("hybrid", True, False),
    ("hybrid", True, True),
    ("cascaded_plus", False, False),
    ("cascaded_plus", True, False),
    ("hybrid_plus", False, False),
    ("hybrid_plus", True, True),
]
FAMILY_NAMES = {
    "parallel": "SpeechCLIP parallel",
    "cascaded": "SpeechCLIP cascaded",
    "hybrid": "SpeechCLIP+ Hybrid",
    "cascaded_plus": "SpeechCLIP+ Cascaded+",
    "hybrid_plus": "SpeechCLIP+ Hybrid+",
}


@pytest.mark.parametrize(
    "variant,large,coco",
    CASES,
    ids=[
        f"{v}-{'large' if g else 'base'}{'-coco' if c else ''}"
        for v, g, c in CASES
    ],
)
def test_speechclip_computes_as_reference(
    variant, large, coco, tiny_clip, tmp_path
):
    plus = variant.endswith("plus")
    reference, path, vocabulary = write_reference(
        tmp_path, variant, large, tiny_clip, coco=coco, nhead=4 if plus else 1
    )
    options = {"overrides": clip_overrides(tiny_clip)}
    if variant != "parallel":
        options["reduced_vocabulary"] = vocabulary
    family, folder = convert_checkpoint(path, tmp_path / "converted", **options)
    assert family == "speechclip"
    info = json.loads((tmp_path / "converted" / "conversion.json").read_text())
    assert info["family"] == FAMILY_NAMES[variant]
    assert info["size"] == ("large" if large else "base")

    # the weights are the checkpoint's, where they belong
    source = reference.state_dict_of_checkpoint()
    state = torch.load(os.path.join(folder, "model.ckpt"), weights_only=True)
    assert torch.equal(
        state["upstream.weights"],
        source["audio_encoder.weightedsum_layer.weights"],
    )
    if variant == "parallel":
        assert torch.equal(
            state["head.cls"][0], source["parallel_branch.cls"][0, 0]
        )
        assert torch.equal(
            state["head.encoder.linear1.weight"],
            source["parallel_branch.self_att.model.layers.0.linear1.weight"],
        )
    else:
        k = 1 if plus else reference.num_keywords  # CIF: one BatchNorm
        bn = source["cascaded_branch.bn_layer.bn_layer.running_mean"]
        ours = state["head.selector.batchnorm.running_mean"].view(k, -1)
        for keyword in range(k):  # reference channel w * K + k
            assert torch.equal(ours[keyword], bn[keyword::k])
        ids = np.load(vocabulary)[:, 0]
        assert sorted(state["clip.vocabulary"].tolist()) == sorted(
            i for i in ids.tolist() if i not in (0, 49406, 49407)
        )
        cls = state.get("head.cls")
        if plus:  # the CIF, and the batches it has seen
            assert torch.equal(
                state["head.cif.conv.weight"],
                source["cascaded_branch.downsampling.conv.0.weight"],
            )
            assert state["head.cif.training_batches"] == 15443
            key = "cascaded_branch.cls"
        elif variant == "hybrid":
            assert torch.equal(
                cls[0], source["cascaded_branch.parallel_cls"][0, 0]
            )
            cls = cls[1:]
            key = "cascaded_branch.cascaded_cls"
        else:
            key = "cascaded_branch.cls"
        if key in source:
            assert torch.equal(cls, source[key][0])
        else:  # Cascaded+: no CLS
            assert cls is None
    hubert = HubertModel.from_pretrained(os.path.join(folder, "hubert"))
    assert torch.equal(
        hubert.state_dict()["encoder.layers.0.attention.q_proj.weight"],
        source[
            "audio_encoder.encoder.encoder.layers.0.self_attn.q_proj.weight"
        ],
    )

    # the folder loads for inference and computes what the reference does
    model = load_inference(folder)
    wav = wave()
    expected = reference(wav)
    output = model.encode_batch(wav)
    for branch in ("parallel", "cascaded"):
        if branch in expected:
            torch.testing.assert_close(
                getattr(output, branch)[0],
                expected[branch][0],
                atol=2e-5,
                rtol=1e-4,
            )
        else:
            assert getattr(output, branch) is None
    if "token_ids" in expected:
        assert output.token_ids[0].tolist() == expected["token_ids"][0].tolist()
        heard = model.keywords(wav, top_n=2)
        assert len(heard) == len(expected["token_ids"][0])
        if not plus:
            assert len(heard) == reference.num_keywords
    scores, ranking = model.search_speech("a dog", [wav, wave(seed=1)])
    assert scores.shape == (2,) and sorted(ranking.tolist()) == [0, 1]


def test_checkpoint_without_hubert_weights(tiny_clip, tmp_path):
    reference, path, vocabulary = write_reference(
        tmp_path, "cascaded", False, tiny_clip
    )
    state = reference.state_dict_of_checkpoint()
    without = {
        k: v
        for k, v in state.items()
        if not k.startswith("audio_encoder.encoder.")
    }
    save_speechclip_checkpoint(path, reference, state=without)
    options = {
        "reduced_vocabulary": vocabulary,
        "overrides": clip_overrides(tiny_clip),
    }
    with pytest.raises(CheckpointFormatError, match="give hubert"):
        convert_checkpoint(path, tmp_path / "out", **options)
    hubert = tmp_path / "hubert_base_ls960.pt"
    save_fairseq_hubert(
        hubert, reference.hubert, fairseq_hubert_config(24, 2, 12, False)
    )
    _, folder = convert_checkpoint(
        path, tmp_path / "out", hubert=hubert, **options
    )
    output = load_inference(folder).encode_batch(wave())
    torch.testing.assert_close(
        output.cascaded[0],
        reference(wave())["cascaded"][0],
        atol=2e-5,
        rtol=1e-4,
    )


def test_cli_and_recipe_test_stage(tiny_clip, synthvgs_tiny, tmp_path):
    reference, path, vocabulary = write_reference(
        tmp_path, "cascaded", False, tiny_clip, num_keywords=8
    )
    clip_folder = os.path.dirname(tiny_clip[0])
    folder = tmp_path / "converted"
    printed = io.StringIO()
    arguments = parse_args(
        [
            "convert",
            str(path),
            str(folder),
            "--reduced_vocabulary",
            str(vocabulary),
            "--hparams_file",
            SYNTHVGS_HPARAMS.format("cascaded"),
            "--data_folder",
            synthvgs_tiny,
            "--overrides",
            f"{{clip_folder: {clip_folder}, clip_name: tiny-clip, "
            "synthvgs_size: tiny, test_sets: [test_A], batch_size: 4, "
            "num_workers: 0}",
        ]
    )
    run(arguments, printed)
    assert printed.getvalue() == f"speechclip: {path} -> {folder}\n"

    # the recipe tests the converted model (init_from), without training
    proc = run_script(
        "recipes/SynthVGS/SpeechCLIP/train.py",
        str(folder / "hyperparams.yaml"),
        folder,
        "--test_only",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    check_speechclip_results(results, {"test_A"}, True)
    # its keywords come from the converted model's vocabulary (the reference's
    # reduced one), not from the SynthVGS training captions
    keywords = json.loads((folder / "keywords_test_A.json").read_text())
    model = load_inference(folder)
    decoded = {
        model.hparams.frozen_clip.tokenizer.decode([i]).strip()
        for i in np.load(vocabulary)[:, 0].tolist()
    }
    words = {
        w
        for item in keywords.values()
        for slot in item["keywords"]
        for w in slot
    }
    assert words and words <= decoded
    # the recipe saved the same weights it started from
    state = torch.load(folder / "model.ckpt", weights_only=True)
    assert torch.equal(
        state["head.cls"], reference.cascaded_branch.cls.detach()[0]
    )


def test_unknown_partial_and_unsupported(tiny_clip, tmp_path):
    unknown = tmp_path / "unknown.pt"
    torch.save({"weights": torch.zeros(3)}, unknown)
    with pytest.raises(
        CheckpointFormatError, match="not a checkpoint of a known"
    ):
        convert_checkpoint(unknown, tmp_path / "out")
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointFormatError, match="not a PyTorch checkpoint"):
        convert_checkpoint(text, tmp_path / "out")

    reference, path, vocabulary = write_reference(
        tmp_path, "cascaded", False, tiny_clip
    )
    options = {
        "reduced_vocabulary": vocabulary,
        "overrides": clip_overrides(tiny_clip),
    }
    # partial: a BatchNorm statistic missing, a stray weight
    state = reference.state_dict_of_checkpoint()
    del state["cascaded_branch.bn_layer.bn_layer.running_var"]
    state["cascaded_branch.extra.weight"] = torch.zeros(1)
    save_speechclip_checkpoint(path, reference, state=state)
    with pytest.raises(CheckpointFormatError) as error:
        convert_checkpoint(path, tmp_path / "out", **options)
    assert str(error.value).startswith(
        f"{path}: looks like a SpeechCLIP cascaded checkpoint"
    )
    assert error.value.missing == [
        "cascaded_branch.bn_layer.bn_layer.running_var"
    ]
    assert error.value.unexpected == ["cascaded_branch.extra.weight"]

    # keywords need the authors' vocabulary file
    save_speechclip_checkpoint(path, reference)
    with pytest.raises(CheckpointFormatError, match="give reduced_vocabulary"):
        convert_checkpoint(
            path, tmp_path / "out", overrides=options["overrides"]
        )
    wrong = tmp_path / "wrong.npy"
    save_vocabulary(wrong, reduced_ids(size=20))
    with pytest.raises(ValueError, match="not the vocabulary file of this"):
        convert_checkpoint(path, tmp_path / "out", reduced_vocabulary=wrong)

    # a setting this package does not compute
    config = reference.config()
    config["audio_encoder"]["normalize_hiddenstates"] = True
    config["audio_encoder"]["normalize_type"] = "method1"
    save_speechclip_checkpoint(path, reference, config=config)
    with pytest.raises(
        CheckpointFormatError, match="'method1'.*do not compute"
    ):
        convert_checkpoint(path, tmp_path / "out", **options)

    # an option of another family
    hubert = tmp_path / "hubert_base_ls960.pt"
    config = fairseq_hubert_config(24, 1, 12, False)
    save_fairseq_hubert(hubert, fairseq_hubert_state(24, 1, False), config)
    with pytest.raises(ValueError, match="does not take reduced_vocabulary"):
        convert_checkpoint(
            hubert, tmp_path / "out", reduced_vocabulary=vocabulary
        )
    # nothing was written, and an unrelated folder is never replaced
    assert not (tmp_path / "out").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    save_speechclip_checkpoint(path, reference)
    with pytest.raises(FileExistsError, match="not a converted model folder"):
        convert_checkpoint(path, tmp_path / "mine", **options)
