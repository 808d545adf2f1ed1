"""Tests of the SpokenCOCO preparer on a miniature corpus laid out exactly
like the real one (SpokenCOCO_{train,val}.json, wavs/{train,val}/<n>/,
COCO train2014/val2014 JPEG images, Karpathy's dataset_coco.json)."""

import json
import os

import pytest
from miniature_corpora import coco_image_name, write_spokencoco
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.manifest import DataError, read_json
from speechbrain_vgs.dataio.spokencoco import prepare_spokencoco


@pytest.fixture
def corpus(tmp_path):
    data, images = tmp_path / "SpokenCOCO", tmp_path / "mscoco_img"
    data.mkdir()
    expected = write_spokencoco(data, images)
    return data, images, expected


def test_manifests(corpus, tmp_path):
    data, images, expected = corpus
    save = tmp_path / "save"
    prepare_spokencoco(data, save, image_folder=images)
    found = {
        s: read_json(save / f"{s}.json") for s in ("train", "valid", "test")
    }
    assert [len(found[s]) for s in ("train", "valid", "test")] == [16, 5, 9]
    for split, manifest in found.items():
        assert set(manifest) == {
            u for u, e in expected.items() if e["split"] == split
        }
        for uttid, entry in manifest.items():
            want = dict(expected[uttid])
            del want["split"]
            assert entry.pop("duration") == pytest.approx(want.pop("duration"))
            assert entry == want
    train_images = {e["image_id"] for e in found["train"].values()}
    test_images = {e["image_id"] for e in found["test"].values()}
    assert not train_images & test_images

    dataset = DynamicItemDataset.from_json(
        save / "valid.json", {"data_root": str(data), "image_root": str(images)}
    )
    for entry in dataset.data.values():
        assert os.path.isfile(entry["wav"]) and os.path.isfile(entry["image"])


def test_idempotent(corpus, tmp_path):
    data, images, _ = corpus
    save = tmp_path / "save"
    prepare_spokencoco(data, save, image_folder=images)
    paths = [save / f"{s}.json" for s in ("train", "valid", "test")]
    for path in paths:
        os.utime(path, (0, 0))
    prepare_spokencoco(data, save, image_folder=images)
    assert all(path.stat().st_mtime == 0 for path in paths)
    os.rename(images, data / "images")
    prepare_spokencoco(data, save, image_folder=data / "images")
    assert all(path.stat().st_mtime > 0 for path in paths)


def test_skip_prep(tmp_path):
    prepare_spokencoco(tmp_path, tmp_path / "save", skip_prep=True)
    assert not (tmp_path / "save").exists()


def edit_json(path, edit):
    content = read_json(path)
    edit(content)
    path.write_text(json.dumps(content))


@pytest.mark.parametrize(
    "file, edit, message",
    [
        (
            "SpokenCOCO_val.json",
            lambda c: c["data"][1]["captions"][2].pop("speaker"),
            r"SpokenCOCO_val.json: data\[1\].captions\[2\]: lacks a 'speaker'",
        ),
        (
            "SpokenCOCO_val.json",
            lambda c: c["data"][0]["captions"][0].update(wav=7),
            r"SpokenCOCO_val.json: data\[0\].captions\[0\]: lacks a 'wav'",
        ),
        (
            "SpokenCOCO_train.json",
            lambda c: c["data"][1].pop("captions"),
            r"SpokenCOCO_train.json: data\[1\]: lacks a 'captions' list",
        ),
        (
            "dataset_coco.json",
            lambda c: c["images"][3].update(split="minival"),
            r"dataset_coco.json: images\[3\]: unknown split 'minival'",
        ),
    ],
)
def test_malformed_entry(corpus, tmp_path, file, edit, message):
    data, images, _ = corpus
    edit_json(data / file, edit)
    with pytest.raises(DataError, match=message):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)


def test_invalid_json_names_the_line(corpus, tmp_path):
    data, images, _ = corpus
    path = data / "SpokenCOCO_val.json"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"image":' in line)
    lines[at] = lines[at].rstrip(",")  # the next key now lacks its comma
    path.write_text("\n".join(lines))
    with pytest.raises(
        DataError, match=f"SpokenCOCO_val.json:{at + 2}: invalid JSON"
    ):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)


def test_missing_wav(corpus, tmp_path):
    data, images, _ = corpus
    wav = read_json(data / "SpokenCOCO_val.json")["data"][2]["captions"][3][
        "wav"
    ]
    os.remove(data / wav)
    with pytest.raises(
        DataError,
        match=f"{wav}: missing audio file, referenced at "
        r".*SpokenCOCO_val.json: data\[2\].captions\[3\]$",
    ):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)


def test_missing_image(corpus, tmp_path):
    data, images, _ = corpus
    name = coco_image_name("val2014", 74)
    os.remove(images / "val2014" / f"{name}.jpg")
    with pytest.raises(
        DataError,
        match=f"val2014/{name}.jpg: missing image file, referenced at "
        r".*SpokenCOCO_val.json: data\[2\].captions\[0\]$",
    ):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)


def test_duplicate_uttid(corpus, tmp_path):
    data, images, _ = corpus

    def duplicate(content):
        content["data"][1]["captions"][1]["uttid"] = content["data"][0][
            "captions"
        ][0]["uttid"]

    edit_json(data / "SpokenCOCO_val.json", duplicate)
    with pytest.raises(
        DataError,
        match=r"data\[1\].captions\[1\]: utterance id .* already used at "
        r".*data\[0\].captions\[0\]",
    ):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)


def test_image_outside_karpathy_split_is_left_out(corpus, tmp_path, caplog):
    data, images, expected = corpus
    edit_json(data / "dataset_coco.json", lambda c: c["images"].pop(0))
    save = tmp_path / "save"
    prepare_spokencoco(data, save, image_folder=images)
    train = read_json(save / "train.json")
    left_out = coco_image_name("train2014", 9)
    assert set(train) == {
        u
        for u, e in expected.items()
        if e["split"] == "train" and e["image_id"] != left_out
    }
    assert f"1 captioned images are in no split of {data}" in caplog.text


def test_empty_split(corpus, tmp_path):
    data, images, _ = corpus

    def no_test(content):
        for image in content["images"]:
            if image["split"] == "test":
                image["split"] = "restval"

    edit_json(data / "dataset_coco.json", no_test)
    with pytest.raises(
        DataError,
        match="dataset_coco.json: split 'test' has no captioned image",
    ):
        prepare_spokencoco(data, tmp_path / "save", image_folder=images)
