"""Every bad input gives a clear error (issue #15): a ``DataError`` naming
the file (and the manifest entry or line) and what is wrong, raised when
the dataset is built where it can be, else when the item is read; inputs
that are converted instead are logged once."""

import json
import logging
import re

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image
from speechbrain.dataio.encoder import CTCTextEncoder
from torchvision import transforms

from speechbrain_vgs.dataio import pipelines
from speechbrain_vgs.dataio.asr import asr_datasets
from speechbrain_vgs.dataio.flickr8k import read_token_file
from speechbrain_vgs.dataio.flickr_kws import read_keywords
from speechbrain_vgs.dataio.keywords import Lexicon, keyword_dataset
from speechbrain_vgs.dataio.manifest import DataError, write_json
from speechbrain_vgs.dataio.pipelines import (
    read_image,
    speech_dataset,
    vgs_dataset,
    vgs_datasets,
)
from speechbrain_vgs.dataio.spokencoco import read_spokencoco
from speechbrain_vgs.dataio.timit import read_txt
from speechbrain_vgs.recipe import synthvgs_manifests

RATE = 16000


def wav(path, seconds=0.1, rate=RATE, channels=1, samples=None):
    """Writes a wav of noise (or of ``samples``) and returns its path."""
    if samples is None:
        shape = (int(seconds * rate), channels)
        samples = np.random.default_rng(0).uniform(-0.5, 0.5, shape)
    soundfile.write(str(path), samples, rate, subtype="FLOAT")
    return path


def image(path, mode="RGB"):
    """Writes a 12x10 image and returns its path."""
    Image.new(mode, (10, 12)).save(str(path))
    return path


def entry(wav_name="u.wav", image_name="i.png", image_id="i", **fields):
    """A manifest entry with placeholders, as the preparers write them."""
    return {
        "wav": "{data_root}/" + wav_name,
        "duration": 0.1,
        "image": "{image_root}/" + image_name,
        "image_id": image_id,
        "speaker": "s",
        **fields,
    }


@pytest.fixture
def corpus(tmp_path):
    """A folder with ``u.wav`` (0.1 s) and ``i.png``, and the recipe's
    placeholder values."""
    wav(tmp_path / "u.wav")
    image(tmp_path / "i.png")
    return tmp_path, {"data_root": str(tmp_path), "image_root": str(tmp_path)}


def build(folder, replacements, manifest, **options):
    """Writes ``manifest`` (an object, or JSON text) to ``m.json`` and
    builds its dataset."""
    path = folder / "m.json"
    if isinstance(manifest, str):
        path.write_text(manifest, encoding="utf-8")
    else:
        write_json(path, manifest)
    return vgs_dataset(
        path, replacements, pipelines.image_transform(8), **options
    )


def raises(message):
    """``pytest.raises(DataError)`` matching ``message`` literally."""
    return pytest.raises(DataError, match=re.escape(message))


# 1
def test_manifest_not_json(corpus):
    folder, roots = corpus
    with raises(f"{folder / 'm.json'}:3: invalid JSON: Expecting"):
        build(folder, roots, '{"u": {"wav": "a",\n"duration": 1.0,\n}}')


# 2
@pytest.mark.parametrize(
    "manifest, message",
    [
        ([entry()], "expected a JSON object {utt_id: entry}, got a list"),
        ({"u": "u.wav"}, "entry 'u' is a str, expected an object"),
    ],
)
def test_manifest_not_an_object_of_entries(corpus, manifest, message):
    folder, roots = corpus
    with raises(f"{folder / 'm.json'}: {message}"):
        build(folder, roots, manifest)


# 3
@pytest.mark.parametrize("duration", ['"3.4"', "true", "NaN", "-1"])
def test_duration_not_a_positive_number(corpus, duration):
    folder, roots = corpus
    text = json.dumps({"u": entry()}).replace(
        '"duration": 0.1', f'"duration": {duration}'
    )
    with raises(
        f"{folder / 'm.json'}: entry 'u' has duration "
        f"{json.loads(duration)!r}: expected a positive number of seconds"
    ):
        build(folder, roots, text)


# 4
def test_braces_in_text_stay_and_unknown_placeholder_is_named(corpus):
    folder, roots = corpus
    wav(folder / "a{1}.wav")
    manifest = {"u": entry("a{{1}}.wav", text="a {red} dog {{x}}")}
    item = build(folder, roots, manifest, text=True)[0]
    assert item["text"] == "a {red} dog {x}"  # doubled braces: one brace
    manifest["u"]["image"] = "{images}/i.png"
    with raises(
        f"{folder / 'm.json'}: entry 'u' has the unknown placeholder "
        "{images} in its image '{images}/i.png'; known: {data_root}, "
        "{image_root}"
    ):
        build(folder, roots, manifest, text=True)


# 5
def test_wav_without_samples(corpus):
    folder, roots = corpus
    wav(folder / "empty.wav", samples=np.zeros((0, 1)))
    dataset = build(folder, roots, {"u": entry("empty.wav")})
    with raises(f"{folder / 'empty.wav'}: has no samples"):
        dataset[0]


# 6
def test_duplicate_utterance_id(corpus):
    folder, roots = corpus
    one = json.dumps(entry())
    text = f'{{\n"u1": {one},\n"u2": {one},\n"u1": {one}\n}}'
    with raises(
        f"{folder / 'm.json'}:4: key 'u1' repeated in one object, first at "
        "line 2 (in a manifest: two entries with this utterance id)"
    ):
        build(folder, roots, text)


# 7
def test_one_image_id_for_two_images(corpus):
    folder, roots = corpus
    image(folder / "j.png")
    manifest = {"u1": entry(), "u2": entry(image_name="j.png")}
    with raises(
        f"{folder / 'm.json'}: image_id 'i' names two images: "
        "{image_root}/i.png (entry 'u1') and {image_root}/j.png (entry 'u2')"
    ):
        build(folder, roots, manifest)


# 8
@pytest.mark.parametrize(
    "duration, seconds, ok",
    [(1.5, 1.2, True), (10.0, 9.2, True), (1.5, 0.9, False)],
)
def test_duration_far_from_the_file(corpus, duration, seconds, ok):
    folder, roots = corpus
    wav(folder / "x.wav", seconds=seconds)
    # wrong: more than 0.5 s and more than 10 % off the manifest's duration
    dataset = build(folder, roots, {"u": entry("x.wav", duration=duration)})
    if ok:
        assert dataset[0]["sig"].shape == (int(seconds * RATE),)
        return
    with raises(
        f"{folder / 'x.wav'}: lasts 0.90 s, but its manifest entry 'u' "
        "says 1.50 s"
    ):
        dataset[0]


# 9
@pytest.mark.parametrize("text", [None, 3])
def test_text_not_a_string(corpus, text):
    folder, roots = corpus
    with raises(
        f"{folder / 'm.json'}: entry 'u' has text {text!r}: expected a string"
    ):
        build(folder, roots, {"u": entry(text=text)}, text=True)


# 10
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(corpus, bad):
    folder, roots = corpus
    samples = np.zeros((RATE // 10, 1))
    samples[800] = bad
    wav(folder / "bad.wav", samples=samples)
    dataset = build(folder, roots, {"u": entry("bad.wav")})
    with raises(
        f"{folder / 'bad.wav'}: 1 NaN or infinite samples, the first at 0.050 s"
    ):
        dataset[0]


# 11
@pytest.mark.parametrize("key", ["wav", "image"])
def test_missing_file(corpus, key):
    folder, roots = corpus
    gone = {"wav": entry("gone.wav"), "image": entry(image_name="gone.png")}
    manifest = {"u1": entry(), "u2": {**gone[key], "image_id": "g"}}
    missing = folder / ("gone.wav" if key == "wav" else "gone.png")
    with raises(
        f"{folder / 'm.json'}: entry 'u2': {key} file not found: {missing}"
    ):
        build(folder, roots, manifest)


def test_missing_wav_in_speech_asr_and_keyword_datasets(corpus):
    folder, roots = corpus
    manifest = {"u": {**entry("gone.wav"), "phones": "sil a sil"}}
    write_json(folder / "m.json", manifest)
    message = f"entry 'u': wav file not found: {folder / 'gone.wav'}"
    with raises(f"{folder / 'm.json'}: {message}"):
        speech_dataset([folder / "m.json"], roots)
    with raises(f"{folder / 'm.json'}: {message}"):
        asr_datasets(
            {"train": folder / "m.json"},
            roots,
            "phones",
            CTCTextEncoder(),
            folder,
        )
    with raises(f"keyword dataset: {message}"):
        keyword_dataset(manifest, roots, ["dog"], None, {})


# 12
def test_corrupt_wav_and_image(corpus):
    folder, roots = corpus
    (folder / "bad.wav").write_bytes(b"RIFF garbage, not a wav file")
    (folder / "bad.png").write_bytes(b"\x89PNG garbage, not an image")
    manifest = {"u": entry("bad.wav"), "v": entry(image_name="bad.png")}
    manifest["v"]["image_id"] = "bad"
    dataset = build(folder, roots, manifest)
    with raises(f"{folder / 'bad.wav'}: cannot read audio: "):
        dataset[0]
    with raises(f"{folder / 'bad.png'}: cannot read image: "):
        dataset[1]


# 13
def test_other_rate_and_stereo_are_converted_and_logged_once(corpus, caplog):
    folder, roots = corpus
    names = ["a8k.wav", "b8k.wav", "c2ch.wav", "d2ch.wav"]
    wav(folder / names[0], seconds=0.2, rate=8000)
    wav(folder / names[1], seconds=0.2, rate=22050)
    wav(folder / names[2], seconds=0.2, channels=2)
    wav(folder / names[3], seconds=0.2, channels=3)
    manifest = {n: entry(n, duration=0.2) for n in names}
    dataset = build(folder, roots, manifest)
    pipelines.WARNED.clear()
    with caplog.at_level(logging.WARNING, logger=pipelines.__name__):
        sigs = [dataset[i]["sig"] for i in range(len(dataset))]
    assert [s.shape for s in sigs] == [(3200,)] * 4
    assert caplog.messages == [
        f"{folder / names[0]} is at 8000 Hz: resampled to 16000 Hz (logged "
        "once: later files at other rates are resampled too)",
        f"{folder / names[2]} has 2 channels: averaged to mono (logged "
        "once: later multi-channel files are averaged too)",
    ]


# 14
def test_images_that_are_not_rgb_are_converted_and_logged_once(
    tmp_path, caplog
):
    modes = ["L", "RGBA", "P", "I;16"]
    pipelines.WARNED.clear()
    with caplog.at_level(logging.WARNING, logger=pipelines.__name__):
        for mode in modes:
            for copy in (1, 2):
                path = image(tmp_path / f"{copy}_{mode[0]}.png", mode)
                img = read_image(str(path), transforms.ToTensor())
                assert img.shape == (3, 12, 10)
    assert caplog.messages == [
        f"{tmp_path / f'1_{m[0]}.png'} has image mode {m}: converted to RGB "
        "(logged once per mode)"
        for m in modes
    ]
    # 16-bit grey is scaled to 8 bits, not clipped to white
    grey = np.full((12, 10), 32896, dtype=np.uint16)  # 128 * 257
    Image.fromarray(grey).save(str(tmp_path / "grey16.png"))
    img = read_image(str(tmp_path / "grey16.png"), transforms.ToTensor())
    assert torch.allclose(img, torch.full((3, 12, 10), 128 / 255))


# 15
def test_empty_split(corpus):
    folder, roots = corpus
    with raises(f"{folder / 'm.json'}: no utterances (the manifest is empty)"):
        build(folder, roots, {})


# 16
def test_missing_split(corpus):
    folder, roots = corpus
    manifests = folder / "manifests" / "en"
    for name in ("train", "valid", "test_A"):
        write_json(manifests / f"{name}.json", {"u": entry()})
    message = (
        f"{manifests / 'test_X.json'}: no manifest for the set 'test_X'; "
        f"the manifests in {manifests} are: test_A, train, valid"
    )
    with raises(message):
        vgs_datasets(
            {
                name: manifests / f"{name}.json"
                for name in ("train", "valid", "test_X")
            },
            roots,
            8,
        )
    # a SynthVGS corpus that is already built (its summary says so)
    options = {"size": "tiny", "seed": 1, "langs": ["en", "de", "sw"]}
    write_json(folder / "summary.json", options)
    hparams = {
        "data_folder": str(folder),
        "synthvgs_size": "tiny",
        "synthvgs_seed": 1,
        "lang": "en",
        "test_sets": ["test_A", "test_X"],
    }
    with raises(message):
        synthvgs_manifests(hparams)


# 17
def write_bad(path, lines):
    """Writes UTF-8 ``lines`` and then a Latin-1 line (``é`` is 0xe9)."""
    path.write_bytes("".join(lines).encode() + "café\n".encode("latin-1"))
    return path


@pytest.mark.parametrize(
    "name, lines, read",
    [
        ("Flickr8k.token.txt", ["1_a.jpg#0\tA dog .\n"], read_token_file),
        ("SpokenCOCO_val.json", ['{"data": [\n'], read_spokencoco),
        ("SX1.TXT", ["\n"], read_txt),
        ("keywords.txt", ["dog\n"], read_keywords),
        ("lexicon.json", ['{"red":\n'], Lexicon.from_file),
    ],
)
def test_text_file_not_utf8(tmp_path, name, lines, read):
    path = write_bad(tmp_path / name, lines)
    offset = len("".join(lines).encode()) + 3
    with raises(
        f"{path}:2: not UTF-8 text: byte 0xe9 at byte offset {offset} "
        "(invalid continuation byte)"
    ):
        read(path)
