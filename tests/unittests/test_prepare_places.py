"""Tests of the Places Audio Caption preparer on a miniature corpus laid out
exactly like the real one (metadata/{train,val}.json with image_base_path,
audio_base_path and data entries, wavs/<n>/utterance_<m>.wav, Places205
JPEG images under <letter>/<category>/)."""

import json
import os

import pytest
from miniature_corpora import RATE, write_places
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.manifest import DataError, read_json
from speechbrain_vgs.dataio.places import prepare_places


@pytest.fixture
def corpus(tmp_path):
    data, images = tmp_path / "PlacesAudio_400k_distro", tmp_path / "images"
    data.mkdir()
    return data, images, write_places(data, images)


def read_manifests(save):
    return {
        s: read_json(save / f"{s}.json") for s in ("train", "valid", "test")
    }


def test_manifests(corpus, tmp_path):
    data, images, entries = corpus
    save = tmp_path / "save"
    prepare_places(data, save, valid_images=3)
    found = read_manifests(save)

    assert set(found["test"]) == {e["uttid"] for e in entries["val"]}
    test_images = {e["image"] for e in entries["val"]}
    kept = {
        e["uttid"] for e in entries["train"] if e["image"] not in test_images
    }
    assert len(kept) == len(entries["train"]) - 1
    assert set(found["train"]) | set(found["valid"]) == kept
    assert not set(found["train"]) & set(found["valid"])
    image_sets = {
        split: {e["image_id"] for e in manifest.values()}
        for split, manifest in found.items()
    }
    assert len(image_sets["valid"]) == 3
    assert not image_sets["train"] & image_sets["valid"]
    assert not image_sets["train"] & image_sets["test"]
    assert not image_sets["valid"] & image_sets["test"]

    by_uttid = {e["uttid"]: e for es in entries.values() for e in es}
    for manifest in found.values():
        for uttid, entry in manifest.items():
            source = by_uttid[uttid]
            samples = 2000 + 400 * int(source["wav"].split("_")[-1][:-4])
            assert entry == {
                "wav": "{data_root}/" + source["wav"],
                "duration": pytest.approx(samples / RATE),
                "image": "{image_root}/" + source["image"],
                "image_id": source["image"][: -len(".jpg")],
                "speaker": source["speaker"],
                "text": source["asr_text"],
                "lang": "en",
            }

    dataset = DynamicItemDataset.from_json(
        save / "train.json", {"data_root": str(data), "image_root": str(images)}
    )
    for entry in dataset.data.values():
        assert os.path.isfile(entry["wav"]) and os.path.isfile(entry["image"])


def test_held_out_images_do_not_depend_on_file_order(corpus, tmp_path):
    data, _, _ = corpus
    prepare_places(data, tmp_path / "first", valid_images=4)
    path = data / "metadata" / "train.json"
    content = read_json(path)
    content["data"].reverse()
    path.write_text(json.dumps(content))
    prepare_places(data, tmp_path / "second", valid_images=4)
    first = read_manifests(tmp_path / "first")
    second = read_manifests(tmp_path / "second")
    assert set(first["valid"]) == set(second["valid"])
    assert set(first["train"]) == set(second["train"])


def test_image_folder_argument_and_base_paths(tmp_path):
    data, images = tmp_path / "places", tmp_path / "images"
    data.mkdir()
    write_places(data, images, base_path="/data/sls/places205/images/")
    with pytest.raises(DataError, match="missing image file"):
        prepare_places(data, tmp_path / "save", valid_images=2)
    prepare_places(data, tmp_path / "save", image_folder=images, valid_images=2)
    assert read_json(tmp_path / "save" / "places_options.json")[
        "image_folder"
    ] == str(images)

    path = data / "metadata" / "val.json"
    content = read_json(path)
    content["image_base_path"] = "/elsewhere"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match="disagree on image_base_path"):
        prepare_places(data, tmp_path / "other", valid_images=2)


def test_idempotent(corpus, tmp_path):
    data, _, _ = corpus
    save = tmp_path / "save"
    prepare_places(data, save, valid_images=3)
    paths = [save / f"{s}.json" for s in ("train", "valid", "test")]
    for path in paths:
        os.utime(path, (0, 0))
    prepare_places(data, save, valid_images=3)
    assert all(path.stat().st_mtime == 0 for path in paths)
    prepare_places(data, save, valid_images=2)
    assert all(path.stat().st_mtime > 0 for path in paths)
    assert len({e["image_id"] for e in read_json(paths[1]).values()}) == 2


def test_skip_prep(tmp_path):
    prepare_places(tmp_path, tmp_path / "save", skip_prep=True)
    assert not (tmp_path / "save").exists()


def test_too_many_held_out_images(corpus, tmp_path):
    data, _, _ = corpus
    with pytest.raises(DataError, match="only 12 training images"):
        prepare_places(data, tmp_path / "save", valid_images=12)


def edit_json(path, edit):
    content = read_json(path)
    edit(content)
    path.write_text(json.dumps(content))


@pytest.mark.parametrize(
    "file, edit, message",
    [
        (
            "train.json",
            lambda c: c["data"][3].pop("speaker"),
            r"train.json: data\[3\]: lacks a 'speaker' string",
        ),
        (
            "val.json",
            lambda c: c["data"][1].update(image=None),
            r"val.json: data\[1\]: lacks a 'image' string",
        ),
        (
            "val.json",
            lambda c: c["data"][0].update(asr_text=["a", "b"]),
            r"val.json: data\[0\]: 'asr_text' is not a string",
        ),
        (
            "train.json",
            lambda c: c.update(data={"a": 1}),
            "train.json: expected an object with a non-empty 'data' list",
        ),
    ],
)
def test_malformed_entry(corpus, tmp_path, file, edit, message):
    data, _, _ = corpus
    edit_json(data / "metadata" / file, edit)
    with pytest.raises(DataError, match=message):
        prepare_places(data, tmp_path / "save", valid_images=3)


def test_missing_wav(corpus, tmp_path):
    data, _, entries = corpus
    os.remove(data / entries["train"][6]["wav"])
    with pytest.raises(
        DataError,
        match=f"{entries['train'][6]['wav']}: missing audio file, "
        r"referenced at .*metadata/train.json: data\[6\]$",
    ):
        prepare_places(data, tmp_path / "save", valid_images=3)


def test_missing_image(corpus, tmp_path):
    data, images, entries = corpus
    os.remove(images / entries["val"][2]["image"])
    with pytest.raises(
        DataError,
        match=f"{entries['val'][2]['image']}: missing image file, "
        r"referenced at .*metadata/val.json: data\[2\]$",
    ):
        prepare_places(data, tmp_path / "save", valid_images=3)


def test_duplicate_uttid(corpus, tmp_path):
    data, _, entries = corpus
    uttid = entries["val"][0]["uttid"]
    edit_json(
        data / "metadata" / "train.json",
        lambda c: c["data"][4].update(uttid=uttid),
    )
    with pytest.raises(DataError, match=f"utterance id '{uttid}' already used"):
        prepare_places(data, tmp_path / "save", valid_images=3)
