"""Tests of the SpokenCOCO preparer on a miniature corpus laid out exactly
like the real one (SpokenCOCO_{train,val}.json, wavs/{train,val}/<n>/,
COCO train2014/val2014 JPEG images, Karpathy's dataset_coco.json)."""

import json
import os

import numpy as np
import pytest
import soundfile
from PIL import Image
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.manifest import DataError, read_json
from speechbrain_vgs.dataio.spokencoco import prepare_spokencoco

RATE = 16000
# (COCO folder, COCO id, Karpathy split, number of spoken captions)
IMAGES = [
    ("train2014", 9, "train", 5),
    ("train2014", 25, "train", 6),
    ("val2014", 42, "restval", 5),
    ("val2014", 73, "val", 5),
    ("val2014", 74, "test", 4),
    ("val2014", 133, "test", 5),
]
MANIFEST_SPLIT = {
    "train": "train",
    "restval": "train",
    "val": "valid",
    "test": "test",
}


def image_name(folder, coco_id):
    return f"COCO_{folder}_{coco_id:012d}"


def write_corpus(root, image_root):
    """Writes the miniature corpus; returns {uttid: expected entry parts}."""
    expected = {}
    data = {"train2014": [], "val2014": []}
    karpathy = []
    for i, (folder, coco_id, split, n_captions) in enumerate(IMAGES):
        name = image_name(folder, coco_id)
        (image_root / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (10, 8), (i * 40, 90, 160)).save(
            image_root / folder / f"{name}.jpg", "JPEG"
        )
        captions = []
        for k in range(n_captions):
            speaker = f"m{(i + k) % 4:03d}xq"
            uttid = f"{speaker}-3LUY{i}GC63_{coco_id}_{600000 + 10 * i + k}"
            wav = f"wavs/{folder[:-4]}/{k % 2}/{uttid}.wav"
            samples = 1200 + 320 * (i * 7 + k)
            (root / wav).parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(root / wav), np.full(samples, 0.01), RATE)
            text = f"A PICTURE {k} OF THING {coco_id}"
            captions.append(
                {"text": text, "speaker": speaker, "uttid": uttid, "wav": wav}
            )
            expected[uttid] = {
                "wav": "{data_root}/" + wav,
                "image": "{image_root}/" + f"{folder}/{name}.jpg",
                "image_id": name,
                "speaker": speaker,
                "text": text,
                "lang": "en",
                "duration": samples / RATE,
                "split": MANIFEST_SPLIT[split],
            }
        data[folder].append(
            {"image": f"{folder}/{name}.jpg", "captions": captions}
        )
        karpathy.append(
            {
                "filepath": folder,
                "filename": f"{name}.jpg",
                "imgid": i,
                "split": split,
                "cocoid": coco_id,
                "sentids": [5 * i],
                "sentences": [{"raw": "A thing.", "tokens": ["a", "thing"]}],
            }
        )
    (root / "SpokenCOCO_train.json").write_text(
        json.dumps({"data": data["train2014"]})
    )
    (root / "SpokenCOCO_val.json").write_text(
        json.dumps({"data": data["val2014"]}, indent=2)
    )
    (root / "dataset_coco.json").write_text(
        json.dumps({"images": karpathy, "dataset": "coco"})
    )
    return expected


@pytest.fixture
def corpus(tmp_path):
    data, images = tmp_path / "SpokenCOCO", tmp_path / "mscoco_img"
    data.mkdir()
    expected = write_corpus(data, images)
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
    name = image_name("val2014", 74)
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
    left_out = image_name("train2014", 9)
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
