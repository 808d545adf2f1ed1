"""Tests of the Flickr8k Audio Caption preparer on a miniature corpus laid
out exactly like the real one (wavs, wav2capt.txt, wav2spk.txt, JPEG images,
Karpathy's dataset_flickr8k.json, the official Flickr8k_text files)."""

import json
import os

import numpy as np
import pytest
import soundfile
from miniature_corpora import (
    FLICKR8K_CAPTIONS,
    FLICKR8K_IMAGES,
    FLICKR8K_UNLISTED,
    KARPATHY_TO_SPLIT,
    RATE,
    flickr8k_caption_text,
    write_flickr8k,
)
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.flickr8k import prepare_flickr8k
from speechbrain_vgs.dataio.manifest import DataError, read_json


def manifests(save):
    return {
        s: read_json(save / f"{s}.json") for s in ("train", "valid", "test")
    }


def check_manifests(save, wavs, with_text):
    found = manifests(save)
    for split, manifest in found.items():
        images = [
            i
            for i, s in FLICKR8K_IMAGES.items()
            if KARPATHY_TO_SPLIT[s] == split
        ]
        expected_ids = {
            f"{image}_{k}" for image in images for k in range(FLICKR8K_CAPTIONS)
        }
        assert set(manifest) == expected_ids
        for utt_id, entry in manifest.items():
            image, k = utt_id.rsplit("_", 1)
            samples, speaker = wavs[utt_id]
            assert (
                entry["wav"] == f"{{data_root}}/flickr_audio/wavs/{utt_id}.wav"
            )
            assert (
                entry["image"]
                == f"{{image_root}}/Flicker8k_Dataset/{image}.jpg"
            )
            assert entry["image_id"] == image
            assert entry["speaker"] == speaker
            assert entry["lang"] == "en"
            assert entry["duration"] == pytest.approx(samples / RATE)
            if with_text:
                # braces are doubled for SpeechBrain's str.format_map
                assert entry["text"] == flickr8k_caption_text(
                    image, int(k)
                ).replace("{", "{{").replace("}", "}}")
            else:
                assert "text" not in entry
    assert [len(found[s]) for s in ("train", "valid", "test")] == [15, 5, 5]
    train_images = {e["image_id"] for e in found["train"].values()}
    test_images = {e["image_id"] for e in found["test"].values()}
    assert not train_images & test_images
    assert FLICKR8K_UNLISTED not in {
        e["image_id"] for m in found.values() for e in m.values()
    }


def test_karpathy_split(tmp_path):
    data, save = tmp_path / "flickr8k", tmp_path / "save"
    data.mkdir()
    wavs = write_flickr8k(data, official=False, token_file=False)
    prepare_flickr8k(data, save)
    check_manifests(save, wavs, with_text=True)

    # SpeechBrain fills the placeholders and gives the braces back
    dataset = DynamicItemDataset.from_json(
        save / "test.json", {"data_root": str(data), "image_root": str(data)}
    )
    for utt_id, entry in dataset.data.items():
        assert os.path.isfile(entry["wav"])
        assert os.path.isfile(entry["image"])
        image, k = utt_id.rsplit("_", 1)
        assert entry["text"] == flickr8k_caption_text(image, int(k))


def test_official_split_with_token_file(tmp_path):
    data, save = tmp_path / "flickr8k", tmp_path / "save"
    data.mkdir()
    wavs = write_flickr8k(data, karpathy=False)
    prepare_flickr8k(data, save)
    check_manifests(save, wavs, with_text=True)
    assert read_json(save / "flickr8k_options.json")["splits_file"] == str(
        data / "Flickr8k_text"
    )


def test_official_split_without_text(tmp_path):
    data, save = tmp_path / "flickr8k", tmp_path / "save"
    data.mkdir()
    wavs = write_flickr8k(data, token_file=False)
    prepare_flickr8k(data, save, splits_file=data / "Flickr8k_text")
    check_manifests(save, wavs, with_text=False)


def test_idempotent(tmp_path):
    data, save = tmp_path / "flickr8k", tmp_path / "save"
    data.mkdir()
    write_flickr8k(data)
    prepare_flickr8k(data, save)
    paths = [save / f"{s}.json" for s in ("train", "valid", "test")]
    for path in paths:
        os.utime(path, (0, 0))
    prepare_flickr8k(data, save)
    assert all(path.stat().st_mtime == 0 for path in paths)
    prepare_flickr8k(data, save, splits_file=data / "Flickr8k_text")
    assert all(path.stat().st_mtime > 0 for path in paths)


def test_skip_prep(tmp_path):
    prepare_flickr8k(tmp_path, tmp_path / "save", skip_prep=True)
    assert not (tmp_path / "save").exists()


def replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "file, number, line",
    [
        ("flickr_audio/wav2capt.txt", 3, "x_0.wav x.jpg"),
        ("flickr_audio/wav2capt.txt", 4, "x_0.wav x.jpg 0"),
        ("flickr_audio/wav2capt.txt", 2, "x_0.wav x.jpg #a"),
        ("flickr_audio/wav2capt.txt", 2, "x_0.mp3 x.jpg #0"),
        ("flickr_audio/wav2spk.txt", 5, "x_0.wav 1 2"),
        ("Flickr8k_text/Flickr8k.token.txt", 6, "x.jpg#0 A dog ."),
        ("Flickr8k_text/Flickr8k.token.txt", 6, "x.jpg#z\tA dog ."),
        ("Flickr8k_text/Flickr_8k.trainImages.txt", 2, "a.jpg b.jpg"),
    ],
)
def test_malformed_line(tmp_path, file, number, line):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data, karpathy=False)
    replace_line(data / file, number, line)
    with pytest.raises(DataError, match=f"{file}:{number}: expected"):
        prepare_flickr8k(data, tmp_path / "save")


def test_bad_karpathy_split(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    content = read_json(data / "dataset_flickr8k.json")
    content["images"][2]["split"] = "dev"
    (data / "dataset_flickr8k.json").write_text(json.dumps(content))
    with pytest.raises(DataError, match=r"images\[2\]: unknown split 'dev'"):
        prepare_flickr8k(data, tmp_path / "save")


def test_image_in_two_splits(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data, karpathy=False)
    test_list = data / "Flickr8k_text" / "Flickr_8k.testImages.txt"
    test_list.write_text(test_list.read_text() + "1000268201_693b08cb0e.jpg\n")
    with pytest.raises(
        DataError,
        match="testImages.txt:2: .* already listed at .*trainImages.txt:1",
    ):
        prepare_flickr8k(data, tmp_path / "save")


def test_missing_wav(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    # line 7 of wav2capt.txt is caption 1 of the second image
    os.remove(data / "flickr_audio" / "wavs" / "1001773457_577c3a7d70_1.wav")
    with pytest.raises(
        DataError,
        match="1001773457_577c3a7d70_1.wav: missing audio file, "
        "referenced at .*wav2capt.txt:7$",
    ):
        prepare_flickr8k(data, tmp_path / "save")
    assert not (tmp_path / "save" / "flickr8k_options.json").exists()


def test_missing_image(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    os.remove(data / "Flicker8k_Dataset" / "3385593926_d3e9c21170.jpg")
    with pytest.raises(
        DataError,
        match="Flicker8k_Dataset/3385593926_d3e9c21170.jpg: missing image "
        "file, referenced at .*wav2capt.txt:5$",
    ):
        prepare_flickr8k(data, tmp_path / "save")


def test_wav_without_speaker(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    replace_line(data / "flickr_audio" / "wav2spk.txt", 3, "other_0.wav 1")
    with pytest.raises(DataError, match="wav2capt.txt:3: .* has no speaker"):
        prepare_flickr8k(data, tmp_path / "save")


def test_caption_without_text(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data, karpathy=False)
    token = data / "Flickr8k_text" / "Flickr8k.token.txt"
    lines = token.read_text().splitlines()
    token.write_text("\n".join(lines[1:]) + "\n")  # drops 1000268201_...#0
    with pytest.raises(
        DataError,
        match="wav2capt.txt:1: no text for caption #0 of '1000268201_",
    ):
        prepare_flickr8k(data, tmp_path / "save")


def test_images_outside_the_splits_are_left_out(tmp_path, caplog):
    data, save = tmp_path / "flickr8k", tmp_path / "save"
    data.mkdir()
    wavs = write_flickr8k(data, karpathy=False)
    # a spoken caption of an image that no split lists
    soundfile.write(
        str(data / "flickr_audio" / "wavs" / f"{FLICKR8K_UNLISTED}_0.wav"),
        np.zeros(1600),
        RATE,
    )
    with open(data / "flickr_audio" / "wav2capt.txt", "a") as f:
        f.write(f"{FLICKR8K_UNLISTED}_0.wav {FLICKR8K_UNLISTED}.jpg #0\n")
    with open(data / "flickr_audio" / "wav2spk.txt", "a") as f:
        f.write(f"{FLICKR8K_UNLISTED}_0.wav 4\n")
    # and a listed image with no spoken caption
    train_list = data / "Flickr8k_text" / "Flickr_8k.trainImages.txt"
    train_list.write_text(train_list.read_text() + "12345_abcdef.jpg\n")
    prepare_flickr8k(data, save)
    check_manifests(save, wavs, with_text=True)
    assert "1 captioned images are in no split" in caplog.text
    assert "1 images of" in caplog.text and "'12345_abcdef'" in caplog.text


def test_speaker_listed_twice(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    spk = data / "flickr_audio" / "wav2spk.txt"
    first = spk.read_text().splitlines()[0]
    spk.write_text(spk.read_text() + first.replace(" 1", " 2") + "\n")
    with pytest.raises(DataError, match="wav2spk.txt:26: .* is listed twice"):
        prepare_flickr8k(data, tmp_path / "save")
