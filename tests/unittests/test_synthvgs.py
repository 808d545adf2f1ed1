"""SynthVGS corpus: layout, audio, images, speakers, captions vs scenes,
summary, idempotency and determinism (on the tiny size).

Authors
 * speechbrain-vgs developers 2026
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from speechbrain_vgs.dataio.manifest import load_manifest
from speechbrain_vgs.dataio.synthvgs import build_synthvgs
from speechbrain_vgs.dataio.synthvgs.scenes import (
    DRAWERS,
    render_scene,
    sample_scene,
)

LANGS = ("en", "de", "sw")
SPLITS = ("train", "valid", "test_A", "test_B", "test_C", "test_D")
KEYS = {"wav", "duration", "image", "image_id", "speaker", "lang", "text"}
KEYS |= {"phones"}


def read(root, name):
    with open(os.path.join(root, name), encoding="utf-8") as f:
        return json.load(f)


def manifests(root, lang):
    return {
        split: load_manifest(
            os.path.join(root, "manifests", lang, f"{split}.json")
        )
        for split in SPLITS
    }


def resolve(root, path):
    return path.replace("{data_root}", root).replace("{image_root}", root)


def test_manifest_entries_follow_the_contract(synthvgs_tiny):
    scenes = read(synthvgs_tiny, "scenes.json")
    for lang in LANGS:
        by_split = manifests(synthvgs_tiny, lang)
        for split, manifest in by_split.items():
            assert manifest, (lang, split)
            for utt_id, entry in manifest.items():
                extra = set(entry) - KEYS
                if split.startswith("test"):
                    assert entry["condition"] == split[-1]
                    noisy = split in ("test_B", "test_D")
                    assert extra == (
                        {"condition", "noise", "snr_db"}
                        if noisy
                        else {"condition"}
                    )
                else:
                    assert extra == set()
                assert entry["lang"] == lang
                assert entry["wav"] == (
                    f"{{data_root}}/wavs/{lang}/{split}/{utt_id}.wav"
                )
                assert entry["image"] == (
                    f"{{image_root}}/images/{entry['image_id']}.png"
                )
                scene_split = scenes[entry["image_id"]]["split"]
                assert split.startswith(scene_split)
                assert entry["phones"].split()
        # the four test conditions hold the same utterances
        test = by_split["test_A"]
        for condition in "BCD":
            other = by_split[f"test_{condition}"]
            assert list(other) == list(test)
            for utt_id, entry in other.items():
                for key in ("text", "speaker", "image_id", "duration"):
                    assert entry[key] == test[utt_id][key]


def test_wavs_and_images_are_readable(synthvgs_tiny):
    images = set()
    for lang in LANGS:
        for manifest in manifests(synthvgs_tiny, lang).values():
            for entry in manifest.values():
                info = sf.info(resolve(synthvgs_tiny, entry["wav"]))
                assert info.samplerate == 16000
                assert info.channels == 1
                assert info.subtype == "PCM_16"
                assert info.frames / 16000 == pytest.approx(
                    entry["duration"], abs=1e-9
                )
                audio, _ = sf.read(resolve(synthvgs_tiny, entry["wav"]))
                assert len(audio) == info.frames
                assert np.abs(audio).max() > 0.1
                images.add(resolve(synthvgs_tiny, entry["image"]))
    scenes = read(synthvgs_tiny, "scenes.json")
    assert len(images) == len(scenes)
    pixels = []
    for path in sorted(images):
        with Image.open(path) as image:
            image.load()
            assert image.mode == "RGB" and image.size == (224, 224)
            pixels.append(np.asarray(image))
    # rendered with jitter: no two images are identical
    assert len({p.tobytes() for p in pixels}) == len(pixels)


def test_splits_are_speaker_and_voice_disjoint(synthvgs_tiny):
    speakers = read(synthvgs_tiny, "speakers.json")
    timbres = {}
    for lang in LANGS:
        by_split = manifests(synthvgs_tiny, lang)
        seen = {}
        for split in ("train", "valid", "test_A"):
            ids = {e["speaker"] for e in by_split[split].values()}
            seen[split] = ids
            for speaker in ids:
                assert speakers[speaker]["lang"] == lang
                assert split.startswith(speakers[speaker]["split"])
                # the voice quality (espeak variant or flite voice)
                s = speakers[speaker]
                timbre = (s["engine"], s["variant"] or s["voice"])
                timbres.setdefault(timbre, set()).add(split)
        assert not seen["train"] & seen["valid"]
        assert not seen["train"] & seen["test_A"]
        assert not seen["valid"] & seen["test_A"]
        assert len(seen["train"]) > 10
    for timbre, splits in timbres.items():
        assert len(splits) == 1, (timbre, splits)


def inverted_lexicon(root):
    lexicon = read(root, "lexicon.json")
    return {
        lang: {w: c for c, by in lexicon.items() for w in by[lang]}
        for lang in LANGS
    }


SHAPES = {
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "heart",
    "diamond",
    "ring",
    "house",
    "tree",
    "car",
    "fish",
}
ATTRIBUTES = {"red", "green", "blue", "yellow", "black", "white", "purple"}
ATTRIBUTES |= {"brown", "big", "small", "two", "three"}
RELATIONS = {"above", "below", "left", "right", "beside"}


def noun_phrases(concepts, lang):
    """Splits a caption's concept sequence into noun phrases: attributes
    precede the noun in English/German and follow it in Swahili."""
    phrases, current = [], []
    for concept in concepts:
        if concept in SHAPES:
            if lang == "sw":
                current = [concept]
                phrases.append(current)
            else:
                phrases.append(current + [concept])
                current = []
        elif concept in ATTRIBUTES:
            current.append(concept)
        elif lang == "sw":
            current = []  # a relation or background ends a noun phrase
    return phrases


def matching_groups(phrase, groups):
    shape = [c for c in phrase if c in SHAPES][0]
    count = {"two": 2, "three": 3}
    wanted = [count[c] for c in phrase if c in count] or [1]
    return [
        g
        for g, group in groups.items()
        if group["shape"] == shape
        and group["count"] == wanted[0]
        and all(
            c in (group["color"], group["size"])
            for c in phrase
            if c in ATTRIBUTES - set(count)
        )
    ]


def test_captions_agree_with_their_scene(synthvgs_tiny):
    scenes = read(synthvgs_tiny, "scenes.json")
    captions = read(synthvgs_tiny, "captions.json")
    words = inverted_lexicon(synthvgs_tiny)
    function_words = {
        "en": set(
            "a an the of to and there is are picture I see here on in".split()
        ),
        "de": set(
            "ein eine einen einem einer von und es gibt Bild ich sehe hier "
            "ist sind auf dem am im".split()
        ),
        "sw": set(
            "kuna picha ya ninaona hapa kwenye upande wa na la za".split()
        ),
    }
    checked_relations = 0
    for image_id, scene in scenes.items():
        groups = {}
        for obj in scene["objects"]:
            group = groups.setdefault(
                obj["group"], dict(obj, count=0, ys=[], xs=[])
            )
            group["count"] += 1
            group["xs"].append(obj["x"])
            group["ys"].append(obj["y"])
        for lang in LANGS:
            assert len(captions[image_id][lang]) == 5
            for caption in captions[image_id][lang]:
                concepts = []
                for token in caption.split():
                    if token in words[lang]:
                        concepts.append(words[lang][token])
                    else:
                        assert token in function_words[lang], (lang, caption)
                # every concept said is true of the image
                assert set(concepts) <= set(scene["concepts"]), caption
                # each noun phrase binds its attributes to one group, and
                # every group is mentioned once
                phrases = noun_phrases(concepts, lang)
                assert len(phrases) == len(groups), caption
                options = [matching_groups(p, groups) for p in phrases]
                assert all(options), caption
                if len(phrases) == 2:
                    assert not (
                        len(options[0]) == 1 and options[0] == options[1]
                    ), caption
                relation = [c for c in concepts if c in RELATIONS]
                if relation and all(len(o) == 1 for o in options):
                    first, second = groups[options[0][0]], groups[options[1][0]]
                    if relation[0] == "above":
                        assert max(first["ys"]) < min(second["ys"]), caption
                    elif relation[0] == "below":
                        assert min(first["ys"]) > max(second["ys"]), caption
                    elif relation[0] == "left":
                        assert max(first["xs"]) < min(second["xs"]), caption
                    elif relation[0] == "right":
                        assert min(first["xs"]) > max(second["xs"]), caption
                    else:
                        assert scene["relation"] in ("left_of", "right_of")
                    checked_relations += 1
    assert checked_relations > 50


def test_manifest_texts_are_the_captions(synthvgs_tiny):
    captions = read(synthvgs_tiny, "captions.json")
    for lang in LANGS:
        for manifest in manifests(synthvgs_tiny, lang).values():
            for utt_id, entry in manifest.items():
                k = int(utt_id.rsplit("_", 1)[1])
                assert entry["text"] == captions[entry["image_id"]][lang][k]


def test_summary_matches_the_manifests(synthvgs_tiny):
    summary = read(synthvgs_tiny, "summary.json")
    assert (summary["size"], summary["seed"]) == ("tiny", 1234)
    assert summary["langs"] == list(LANGS)
    all_entries = {split: [] for split in SPLITS}
    for lang in LANGS:
        words = set()
        for split, manifest in manifests(synthvgs_tiny, lang).items():
            entries = list(manifest.values())
            all_entries[split] += entries
            stats = summary["per_lang"][lang][split]
            assert stats["utterances"] == len(entries)
            assert stats["speakers"] == len({e["speaker"] for e in entries})
            for e in entries:
                words.update(e["text"].split())
        assert summary["vocabulary"][lang] == len(words)
    for split, entries in all_entries.items():
        stats = summary["splits"][split]
        assert stats["utterances"] == len(entries)
        assert stats["images"] == len({e["image_id"] for e in entries})
        hours = sum(e["duration"] for e in entries) / 3600
        assert stats["hours"] == pytest.approx(hours, abs=1e-4)
    assert summary["splits"]["test_A"]["images"] == 6
    assert summary["build_seconds"] > 0


def test_second_call_returns_the_existing_build(synthvgs_tiny):
    summary_path = os.path.join(synthvgs_tiny, "summary.json")
    before = os.stat(summary_path).st_mtime_ns
    summary = build_synthvgs(synthvgs_tiny, "tiny", 1234, "en,de,sw")
    assert summary == read(synthvgs_tiny, "summary.json")
    assert os.stat(summary_path).st_mtime_ns == before


def test_cli_prints_the_summary(synthvgs_tiny):
    command = [sys.executable, "-m", "speechbrain_vgs.dataio.synthvgs"]
    command += ["--size", "tiny", "--out", synthvgs_tiny, "--seed", "1234"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == read(synthvgs_tiny, "summary.json")


def file_hashes(root):
    hashes = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name != "summary.json":  # holds the build time
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                hashes[os.path.relpath(path, root)] = digest
    return hashes


def test_same_seed_gives_identical_files(synthvgs_tiny, tmp_path):
    # one process here, all cores for the fixture: the output must not
    # depend on the scheduling either
    build_synthvgs(tmp_path, "tiny", seed=1234, jobs=1)
    first, second = file_hashes(synthvgs_tiny), file_hashes(str(tmp_path))
    assert any(name.endswith(".wav") for name in first)
    assert any(name.endswith(".png") for name in first)
    assert first == second


def test_every_sampled_shape_has_a_drawer_and_others_raise():
    shapes = {
        obj["shape"]
        for seed in range(200)
        for obj in sample_scene(np.random.default_rng(seed), "train")["objects"]
    }
    assert shapes == set(DRAWERS)
    scene = sample_scene(np.random.default_rng(0), "train")
    scene["objects"][0]["shape"] = "dodecahedron"
    with pytest.raises(ValueError, match="dodecahedron.*circle"):
        render_scene(scene, [0])
