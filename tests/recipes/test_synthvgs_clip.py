"""The SynthVGS CLIP recipe runs end to end in SpeechBrain's ``--debug``
mode on the tiny corpus; its export loads with
:class:`speechbrain_vgs.lobes.clip.FrozenCLIP` and computes exactly what the
best checkpoint computes. The caption datasets follow the corpus's own splits
and manifests, and a malformed ``captions.json`` fails naming the file."""

import json
import os

import open_clip
import pytest
import torch
from PIL import Image
from recipe_runner import run_recipe
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_vgs.brains import BEST_KEY
from speechbrain_vgs.dataio.captions import (
    clip_transforms,
    read_synthvgs_captions,
    synthvgs_caption_datasets,
)
from speechbrain_vgs.dataio.manifest import DataError, read_json, write_json
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.tiny_models import tiny_clip_config
from speechbrain_vgs.losses import InfoNCE

SCRIPT = "recipes/SynthVGS/CLIP/train.py"
HPARAMS = "recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml"
NAME = "tiny-clip-synthvgs"
RECALL_KEYS = {
    f"{direction}_r{k}"
    for direction in ("text_to_image", "image_to_text")
    for k in (1, 5, 10)
}


def test_clip_recipe_debug_and_export(synthvgs_tiny, tmp_path):
    results = run_recipe(
        SCRIPT,
        HPARAMS,
        tmp_path,
        f"--data_folder={synthvgs_tiny}",
        "--synthvgs_size=tiny",
        "--image_size=32",
        "--batch_size=8",
        "--debug_persistently",  # keep the checkpoints to compare with
    )
    assert set(results) == {"test"}
    metrics = results["test"]
    assert set(metrics) == RECALL_KEYS
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    for direction in ("text_to_image", "image_to_text"):
        r1, r5, r10 = (metrics[f"{direction}_r{k}"] for k in (1, 5, 10))
        assert r1 <= r5 <= r10

    # The export, loaded like a real checkpoint ...
    export = tmp_path / "export"
    assert sorted(os.listdir(export)) == [f"{NAME}.json", f"{NAME}.pt"]
    clip = FrozenCLIP(
        NAME,
        pretrained=None,
        checkpoint=export / f"{NAME}.pt",
        config=export / f"{NAME}.json",
    )
    # ... against the best checkpoint restored into a fresh model
    with open(export / f"{NAME}.json", encoding="utf-8") as f:
        trained = open_clip.CLIP(**json.load(f))
    loss = InfoNCE(learnable=True)
    checkpointer = Checkpointer(
        tmp_path / "save", {"clip": trained, "loss": loss}
    )
    assert checkpointer.recover_if_possible(max_key=BEST_KEY) is not None
    trained.eval()

    captions = read_synthvgs_captions(synthvgs_tiny, splits=["test"])["test"]
    entries = list(captions.values())[::4]
    preprocess, tokenizer = clip_transforms(trained)
    images = [Image.open(e["image"]).convert("RGB") for e in entries]
    pixels = torch.stack([preprocess(image) for image in images])
    assert torch.equal(
        pixels, torch.stack([clip.preprocess(image) for image in images])
    )
    texts = [e["text"] for e in entries]
    with torch.no_grad():
        image_embeddings = trained.encode_image(pixels, normalize=True)
        text_embeddings = trained.encode_text(tokenizer(texts), normalize=True)
    assert torch.equal(clip.encode_image(pixels), image_embeddings)
    assert torch.equal(clip.encode_text(texts), text_embeddings)
    # the learnt temperature travels with the export
    assert torch.allclose(clip.model.logit_scale.exp(), loss.logit_scale())
    assert not torch.allclose(loss.logit_scale(), torch.tensor(1 / 0.07))


def test_caption_datasets_follow_the_corpus(synthvgs_tiny):
    config = tiny_clip_config(8, image_size=16, width=16, layers=1)
    datasets = synthvgs_caption_datasets(
        synthvgs_tiny, *clip_transforms(open_clip.CLIP(**config))
    )
    scenes = read_json(os.path.join(synthvgs_tiny, "scenes.json"))
    summary = read_json(os.path.join(synthvgs_tiny, "summary.json"))
    manifests = os.path.join(synthvgs_tiny, "manifests", "en")
    for split, manifest in [
        ("train", "train"),
        ("valid", "valid"),
        ("test", "test_A"),
    ]:
        dataset = datasets[split]
        images = {dataset.data[i]["image_id"] for i in dataset.data_ids}
        assert images == {i for i, s in scenes.items() if s["split"] == split}
        assert len(images) == summary["splits"][manifest]["images"]
        # every caption of an image; ids and texts as the spoken ones
        assert len(dataset) == 5 * len(images)
        spoken = read_json(os.path.join(manifests, f"{manifest}.json"))
        for utt_id, entry in spoken.items():
            assert dataset.data[utt_id]["text"] == entry["text"]
            assert dataset.data[utt_id]["image_id"] == entry["image_id"]
        item = dataset[0]
        assert item["img"].shape == (3, 16, 16)
        assert item["tokens"].shape == (config["text_cfg"]["context_length"],)


def write_corpus(folder, captions):
    """A one-image SynthVGS-like folder with the given captions.json."""
    write_json(folder / "scenes.json", {"img0": {"split": "train"}})
    (folder / "images").mkdir()
    Image.new("RGB", (8, 8)).save(folder / "images" / "img0.png")
    if isinstance(captions, str):
        (folder / "captions.json").write_text(captions, encoding="utf-8")
    else:
        write_json(folder / "captions.json", captions)


@pytest.mark.parametrize(
    "captions,message",
    [
        ('{"img0": {"en": ["a dog"]\n', r"captions.json:2: invalid JSON"),
        (["a dog"], r"captions.json: expected a JSON object"),
        ({"img1": {"en": ["a dog"]}}, r"captions.json: no captions .*img0"),
        ({"img0": {"de": ["ein Hund"]}}, r"captions.json: image 'img0'"),
        ({"img0": {"en": "a dog"}}, r"captions.json: image 'img0'"),
        ({"img0": {"en": ["a dog", ""]}}, r"captions.json: image 'img0'"),
    ],
)
def test_malformed_captions_name_the_file(tmp_path, captions, message):
    write_corpus(tmp_path, captions)
    with pytest.raises(DataError, match=message):
        read_synthvgs_captions(tmp_path, splits=["train"])


def test_missing_image_and_split(tmp_path):
    write_corpus(tmp_path, {"img0": {"en": ["a dog"]}})
    with pytest.raises(ValueError, match="no image in split 'test'"):
        read_synthvgs_captions(tmp_path, splits=["test"])
    os.remove(tmp_path / "images" / "img0.png")
    with pytest.raises(DataError, match=r"img0.png: image of 'img0'"):
        read_synthvgs_captions(tmp_path, splits=["train"])
