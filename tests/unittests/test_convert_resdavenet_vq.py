"""The ResDAVEnet-VQ converter on releases written by the tests: the
reference models rebuilt from plain torch modules (``reference_resdavenet``,
the release's module names, so its exact keys and shapes, at tiny widths;
the image trunk is a full ResNet-50, whose widths are fixed), randomised,
saved through ``nn.DataParallel`` as the release saved them. The converted
folder must hold the same numbers, compute what the release computes, load
for inference, and be tested and fine-tuned by the PlacesAudio recipe."""

import argparse
import os
import pickle

import numpy as np
import pytest
import torch
import torchvision
from hyperpyyaml import load_hyperpyyaml
from miniature_corpora import write_places
from PIL import Image
from recipe_runner import check_recall_results, run_recipe
from reference_resdavenet import (
    ReferenceResDavenetVQ,
    ReferenceResnet50,
    codebooks_from,
    randomize,
    reference_state,
    write_release,
)

from speechbrain_vgs.converters import CheckpointFormatError, convert_checkpoint
from speechbrain_vgs.converters.resdavenet_vq import (
    convert_resdavenet_vq,
    looks_like_resdavenet_vq,
    read_release_args,
    release_files,
)
from speechbrain_vgs.inference import (
    GroundingInference,
    load_inference,
    model_kind,
)
from speechbrain_vgs.lobes.features import LibrosaLogMel
from speechbrain_vgs.lobes.grounded import GroundedFeatures, load_speech_encoder

WIDTHS = [8, 16, 16, 24, 32]
DEPTHS = [2, 1, 2, 1]
CONVSIZE = 5
CODES = 16
TURNON = [0, 1, 1, 0, 0]  # the paper's {2,3}: after layer1 and layer2
ARGS = {  # as run_ResDavenetVQ.py pickles them (its option names)
    "audio_model": "ResDavenetVQ",
    "image_model": "Resnet50",
    "freeze_image_model": False,
    "pretrained_image_model": True,
    "layer_widths": ",".join(map(str, WIDTHS)),
    "layer_depths": ",".join(map(str, DEPTHS)),
    "convsize": CONVSIZE,
    "VQ_turnon": ",".join(map(str, TURNON)),
    "VQ_sizes": ",".join([str(CODES)] * 5),
    "VQ_commitment_cost": 0.5,
    "jitter": 0.05,
    "margin": 1.0,
    "lr": 0.0002,
    "seed": 8675309,
}
FRAMES_PER_OUTPUT = 16


def reference_audio():
    """The release's audio model, random, its codebooks near the frames
    they quantize (as after training)."""
    model = ReferenceResDavenetVQ(
        40, DEPTHS, WIDTHS, CONVSIZE, [CODES] * 5, TURNON
    )
    model = randomize(model, seed=1).eval()
    _, feats = speech_features(seed=100)
    return codebooks_from(model, feats.transpose(1, 2), seed=1)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A release folder (audio model in torch.save's pre-1.6 format, as a
    2019-2020 PyTorch wrote it; image model in the zip format) and the
    reference modules it holds."""
    folder = tmp_path_factory.mktemp("release") / "RDVQ_01100"
    audio = reference_audio()
    image = randomize(ReferenceResnet50(WIDTHS[-1]), seed=2).eval()
    paths = write_release(folder, audio, image, **ARGS)
    torch.save(
        reference_state(audio),
        paths["audio_model"],
        _use_new_zipfile_serialization=False,
    )
    return {"folder": folder, "audio": audio, "image": image, **paths}


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "RDVQ_01100"
    files = release_files(release["folder"])
    assert files["args_file"] == release["args_file"]
    assert convert_resdavenet_vq(**files, out_folder=out) == str(out)
    return out


def speech_features(frames=160, seed=0):
    """A waveform whose LibrosaLogMel has ``frames`` frames (a multiple of
    16: the release pools ``frames // 16`` outputs, this project all of
    them, the same number then), and those features ``[1, frames, 40]``."""
    generator = torch.Generator().manual_seed(seed)
    samples = 160 * (frames - 1)  # centred STFT: S // 160 + 1 frames
    t = torch.arange(samples) / 16000
    wav = torch.sin(2 * torch.pi * 300 * t) * torch.linspace(0.1, 1, samples)
    wav = wav + 0.05 * torch.randn(samples, generator=generator)
    return wav, LibrosaLogMel()(wav.unsqueeze(0))


def test_converted_weights_equal_the_release(release, converted):
    model = torch.load(converted / "model.ckpt", weights_only=True)
    audio = {
        k[len("module.") :]: v
        for k, v in reference_state(release["audio"]).items()
    }
    image = {
        k[len("module.") :]: v
        for k, v in reference_state(release["image"]).items()
    }
    pairs = {  # ours: the release's, as the release's code names them
        "0.conv1.weight": audio["conv1.weight"].view(8, 40, 1),
        "0.bn1.running_mean": audio["bn1.running_mean"],
        "0.res.res1.0.conv1.weight": audio["layer1.0.conv1.weight"][:, :, 0],
        "0.res.res1.0.downsample.0.weight": audio[
            "layer1.0.downsample.0.weight"
        ][:, :, 0],
        "0.res.res1.0.downsample.1.running_var": audio[
            "layer1.0.downsample.1.running_var"
        ],
        "0.res.res3.1.conv2.weight": audio["layer3.1.conv2.weight"][:, :, 0],
        "0.res.res4.0.bn2.bias": audio["layer4.0.bn2.bias"],
        "0.vq.res1.codebook": audio["quant2._embedding.weight"],
        "0.vq.res1.ema_count": audio["quant2._ema_cluster_size"],
        "0.vq.res1.ema_sum": audio["quant2._ema_w"],
        "0.vq.res2.codebook": audio["quant3._embedding.weight"],
        "0.vq.res2.ema_sum": audio["quant3._ema_w"],
        "1.trunk.conv1.weight": image["conv1.weight"],
        "1.trunk.layer4.2.bn3.running_mean": image["layer4.2.bn3.running_mean"],
        "1.embedder.weight": image["embedder.weight"],
        "1.embedder.bias": image["embedder.bias"],
    }
    for ours, theirs in pairs.items():
        assert torch.equal(model[ours], theirs), ours
    # every tensor of the release is there once (but the unused batchnorm1)
    used = [k for k in audio if not k.startswith("batchnorm1.")]
    assert sum(k.startswith("0.") for k in model) == len(used)
    assert sum(k.startswith("1.") for k in model) == len(image)
    sources = sorted(
        [audio[k].double().sum().item() for k in used]
        + [v.double().sum().item() for v in image.values()]
    )
    np.testing.assert_allclose(
        sorted(v.double().sum().item() for v in model.values()), sources
    )


def test_architecture_and_options_come_from_the_release(converted):
    text = (converted / "hyperparams.yaml").read_text()
    assert "!new:speechbrain_vgs.lobes.features.LibrosaLogMel" in text
    assert f"init_from: {converted}" in text
    _, encoder = load_speech_encoder(converted / "export")
    assert encoder.config == {
        "input_dim": 40,
        "widths": WIDTHS,
        "blocks": DEPTHS,
        "kernel_size": CONVSIZE,
        "vq_layers": ["res1", "res2"],
        "vq_codes": CODES,
        "vq_commitment": 0.5,
        "vq_decay": 0.99,
        "jitter": 0.05,
    }
    marker = (converted / "conversion.json").read_text()
    assert "resdavenet-vq" in marker and "args.pkl" in marker


def test_converted_speech_encoder_computes_as_the_release(release, converted):
    compute_features, encoder = load_speech_encoder(converted / "export")
    assert isinstance(compute_features, LibrosaLogMel)
    encoder.eval()
    wav, feats = speech_features()
    with torch.no_grad():
        _, outputs, codes = release["audio"](feats.transpose(1, 2))
        for slot, layer in enumerate(encoder.layer_names):
            ours = encoder(feats, layer=layer)
            torch.testing.assert_close(
                ours, outputs[slot].transpose(1, 2), rtol=1e-4, atol=1e-5
            )
        # the quantizers after res1 and res2 chose the release's codewords
        assert torch.equal(encoder.vq_codes["res1"], codes[1])
        assert torch.equal(encoder.vq_codes["res2"], codes[2])
        assert len(codes[1].unique()) > 2
        # GroundedFeatures reads the same layer from the export
        frames, _ = GroundedFeatures(converted / "export", layer="res2")(
            wav.unsqueeze(0)
        )
        torch.testing.assert_close(
            frames, outputs[2].transpose(1, 2), rtol=1e-4, atol=1e-5
        )


def test_converted_image_encoder_computes_as_the_release(release, converted):
    model = load_inference(converted)
    images = torch.randn(
        2, 3, 64, 96, generator=torch.Generator().manual_seed(4)
    )
    with torch.no_grad():
        ours = model.mods.image_encoder(images)
        theirs = release["image"](images)
    torch.testing.assert_close(
        ours, theirs.permute(0, 2, 3, 1), rtol=1e-4, atol=1e-4
    )


def test_codebook_updates_continue_as_the_release(release, converted):
    """Fine-tuning moves the codebooks as the release's EMA update would."""
    _, encoder = load_speech_encoder(converted / "export")
    ours = encoder.vq["res1"].train()
    theirs = reference_audio().quant2
    frames = torch.rand(
        1, 40, WIDTHS[1], generator=torch.Generator().manual_seed(5)
    )
    ours(frames)
    flat = frames[0]
    _, onehots = theirs(flat)
    theirs.ema_update(flat, onehots)
    torch.testing.assert_close(ours.codebook, theirs._embedding.weight)
    torch.testing.assert_close(ours.ema_count, theirs._ema_cluster_size)
    torch.testing.assert_close(ours.ema_sum, theirs._ema_w)


def test_inference_scores_as_the_release(release, converted, tmp_path):
    """Speech -> image search scores the release's pooled dot product of
    its own models, features and image preprocessing."""
    model = load_inference(converted)
    assert isinstance(model, GroundingInference)
    generator = np.random.default_rng(6)
    images = [
        Image.fromarray(
            generator.integers(0, 255, (260 + 20 * i, 300, 3), np.uint8)
        )
        for i in range(3)
    ]
    wav, feats = speech_features(seed=7)
    scores, ranking = model.search_images(wav, images)
    # the release: Resize(256), CenterCrop(224), ImageNet normalisation;
    # mean over the map; mean over the utterance's output frames; dot
    preprocess = torchvision.transforms.Compose(
        [
            torchvision.transforms.Resize(256),
            torchvision.transforms.CenterCrop(224),
            torchvision.transforms.ToTensor(),
            torchvision.transforms.Normalize(
                [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
            ),
        ]
    )
    with torch.no_grad():
        image_maps = release["image"](
            torch.stack([preprocess(i) for i in images])
        )
        audio, _, _ = release["audio"](feats.transpose(1, 2))
    assert audio.shape[-1] == feats.shape[1] // FRAMES_PER_OUTPUT
    expected = image_maps.mean(dim=(2, 3)) @ audio.mean(dim=(2, 3))[0]
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(ranking, expected.argsort(descending=True))
    # image -> speech search scores the same pairs
    path = tmp_path / "image.png"
    images[0].save(path)
    other, _ = speech_features(seed=8)
    speech_scores, _ = model.search_speech(str(path), torch.stack([wav, other]))
    assert speech_scores[0] == pytest.approx(scores[0].item(), rel=1e-4)


def test_recipe_tests_and_fine_tunes_the_converted_folder(converted, tmp_path):
    data, images = tmp_path / "PlacesAudio_400k_distro", tmp_path / "images"
    data.mkdir()
    write_places(data, images)
    options = [
        f"--data_folder={data}",
        f"--image_folder={images}",
        "--valid_images=3",
        "--image_size=64",
        "--eval_resize=72",
        "--batch_size=4",
        "--num_workers=0",
    ]
    hparams = str(converted / "hyperparams.yaml")
    script = "recipes/PlacesAudio/VGS/train.py"
    converted_model = torch.load(converted / "model.ckpt", weights_only=True)

    # test only: the converted weights are the ones tested and saved
    tested = tmp_path / "tested"
    results = run_recipe(script, hparams, tested, *options, "--test_only")
    check_recall_results(results, {"test"})
    saved = torch.load(tested / "model.ckpt", weights_only=True)
    assert saved.keys() == converted_model.keys()
    for key, value in converted_model.items():
        assert torch.equal(saved[key], value), key

    # fine-tuning starts from them: a few Adam steps at the release's
    # learning rate stay close to them (a fresh model would be far)
    tuned = tmp_path / "tuned"
    results = run_recipe(script, hparams, tuned, *options)
    check_recall_results(results, {"test"})
    saved = torch.load(tuned / "model.ckpt", weights_only=True)
    for key in ("0.res.res2.0.conv1.weight", "1.embedder.weight"):
        change = (saved[key] - converted_model[key]).abs().max().item()
        assert 0 < change < 0.01, (key, change)
    # the converted folder itself is left as it was
    assert not (converted / "results.json").exists()
    unchanged = torch.load(converted / "model.ckpt", weights_only=True)
    key = "0.res.res2.0.conv1.weight"
    assert torch.equal(unchanged[key], converted_model[key])


def test_registry_converts_a_release_folder(release, tmp_path):
    out = tmp_path / "out"
    family, folder = convert_checkpoint(
        release["folder"],
        out,
        data_folder="/data/PlacesAudio_400k_distro",
        image_folder="/data/places205",
    )
    assert (family, folder) == ("resdavenet-vq", str(out))
    assert model_kind(out) == "grounding"
    with open(out / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    assert hparams["data_folder"] == "/data/PlacesAudio_400k_distro"
    assert hparams["image_folder"] == "/data/places205"
    assert hparams["init_from"] == str(out)
    assert hparams["save_folder"] == f"{out}/save"
    # an earlier conversion is replaced (by a fresh folder); other hparams
    # can be set
    convert_resdavenet_vq(
        release["audio_model"],
        release["image_model"],
        out,
        overrides={"batch_size": 8},
    )
    assert sorted(os.listdir(out)) == [
        "conversion.json",
        "export",
        "hyperparams.yaml",
        "model.ckpt",
    ]
    with open(out / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    assert hparams["test_dataloader_opts"]["batch_size"] == 8
    assert hparams["data_folder"] is None


def test_detection(release):
    audio = torch.load(release["audio_model"], weights_only=True)
    image = torch.load(release["image_model"], weights_only=True)
    assert looks_like_resdavenet_vq(audio)
    assert not looks_like_resdavenet_vq(image)
    assert not looks_like_resdavenet_vq(
        torchvision.models.resnet18().state_dict()
    )
    assert not looks_like_resdavenet_vq({"conv1.weight": "not a tensor"})


def modified_release(release, tmp_path, audio=None, image=None, args=None):
    """A copy of the release with its audio or image state dict (or its
    options) changed by the given functions."""
    folder = tmp_path / "release"
    paths = write_release(folder, release["audio"], release["image"], **ARGS)
    for key, change in (("audio_model", audio), ("image_model", image)):
        if change is not None:
            state = torch.load(paths[key], weights_only=True)
            change(state)
            torch.save(state, paths[key])
    if args is not None:
        with open(paths["args_file"], "wb") as f:
            pickle.dump(argparse.Namespace(**{**ARGS, **args}), f)
    return folder, paths


def test_partial_audio_model_names_the_missing_keys(release, tmp_path):
    def drop(state):
        del state["module.layer2.0.bn2.running_var"]
        del state["module.quant3._ema_w"]

    folder, paths = modified_release(release, tmp_path, audio=drop)
    with pytest.raises(CheckpointFormatError) as error:
        convert_resdavenet_vq(
            **release_files(folder), out_folder=tmp_path / "out"
        )
    assert error.value.path == paths["audio_model"]
    assert error.value.missing == ["layer2.0.bn2.running_var", "quant3._ema_w"]
    assert "looks like a ResDAVEnet-VQ checkpoint" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_unexpected_and_misshapen_entries_are_named(release, tmp_path):
    def add_classifier(state):
        state["module.fc.weight"] = torch.zeros(1000, 2048)

    folder, paths = modified_release(release, tmp_path, image=add_classifier)
    with pytest.raises(CheckpointFormatError) as error:
        convert_resdavenet_vq(
            **release_files(folder), out_folder=tmp_path / "out"
        )
    assert error.value.path == paths["image_model"]
    assert error.value.unexpected == ["fc.weight"]

    def reshape(state):
        state["module.quant2._ema_w"] = torch.zeros(CODES, WIDTHS[1] + 1)

    folder, paths = modified_release(release, tmp_path, audio=reshape)
    with pytest.raises(
        CheckpointFormatError, match=r"quant2._ema_w \(16, 17\)"
    ):
        convert_resdavenet_vq(
            **release_files(folder), out_folder=tmp_path / "out"
        )


def test_unknown_or_swapped_checkpoints(release, tmp_path):
    other = tmp_path / "other.pth"
    torch.save(torchvision.models.resnet18().state_dict(), other)
    with pytest.raises(
        CheckpointFormatError, match="not the audio model"
    ) as error:
        convert_resdavenet_vq(other, other, tmp_path / "out")
    assert error.value.path == str(other)
    with pytest.raises(CheckpointFormatError, match="files swapped"):
        convert_resdavenet_vq(
            release["image_model"], release["audio_model"], tmp_path / "out"
        )
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointFormatError, match="cannot be read"):
        convert_resdavenet_vq(text, text, tmp_path / "out")


def test_args_must_agree_with_the_weights(release, tmp_path):
    folder, paths = modified_release(
        release, tmp_path, args={"VQ_turnon": "0,0,1,0,0"}
    )
    with pytest.raises(CheckpointFormatError, match="VQ_turnon") as error:
        convert_resdavenet_vq(
            **release_files(folder), out_folder=tmp_path / "out"
        )
    assert error.value.path == paths["args_file"]


def test_args_pickle_runs_no_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    path = tmp_path / "args.pkl"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointFormatError, match="only argparse.Namespace"):
        read_release_args(path)
    assert not (tmp_path / "pwned").exists()


def test_output_folder_is_not_overwritten(release, converted, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        convert_resdavenet_vq(
            **release_files(release["folder"]), out_folder=mine
        )
    assert (mine / "notes.txt").read_text() == "keep"
