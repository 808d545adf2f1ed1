"""Builds a SynthVGS corpus: scenes, images, captions, speech, manifests.

See the package docstring (:mod:`speechbrain_vgs.dataio.synthvgs`) for the
layout and the sizes.

Authors
 * speechbrain-vgs developers 2026
"""

import multiprocessing
import os
import shutil
import time

import numpy as np

from speechbrain_vgs.dataio.manifest import read_json, write_json
from speechbrain_vgs.dataio.synthvgs.conditions import (
    BABBLE_TALKERS,
    render_conditions,
    sample_noise_type,
)
from speechbrain_vgs.dataio.synthvgs.languages import (
    LANGS,
    build_lexicon,
    check_langs,
    realise,
    sample_caption_specs,
)
from speechbrain_vgs.dataio.synthvgs.scenes import render_scene, sample_scene
from speechbrain_vgs.dataio.synthvgs.speech import (
    SAMPLE_RATE,
    check_synthesisers,
    make_speakers,
    read_wav,
    synthesise,
    write_wav,
)
from speechbrain_vgs.progress import progress

SPLITS = ("train", "valid", "test")
CONDITIONS = ("A", "B", "C", "D")
CAPTIONS_PER_IMAGE = 5


def _spoken(en, de_sw):
    """Spoken captions per image, {lang: {split: n}}, from two
    (train, valid, test) tuples: English and German/Swahili."""
    return {
        "en": dict(zip(SPLITS, en)),
        "de": dict(zip(SPLITS, de_sw)),
        "sw": dict(zip(SPLITS, de_sw)),
    }


# images per split, and how many of the 5 captions of each image are spoken
SIZES = {
    "tiny": {
        "images": {"train": 12, "valid": 4, "test": 6},
        "spoken": _spoken((5, 5, 5), (2, 2, 5)),
    },
    "small": {
        "images": {"train": 800, "valid": 100, "test": 300},
        "spoken": _spoken((5, 5, 5), (1, 2, 2)),
    },
    "full": {
        "images": {"train": 6000, "valid": 1000, "test": 1000},
        "spoken": _spoken((5, 5, 5), (2, 5, 5)),
    },
}
# Every random generator is seeded by [seed, stream, ...item indices].
SEED_STREAMS = {
    "scene": 1,
    "caption": 2,
    "render": 3,
    "speaker": 4,
    "condition": 5,
    "babble": 6,
}
# fork: workers start at once and need no importable __main__ (they only run
# numpy, PIL and subprocesses, so forking a process with threads is safe).
START_METHOD = (
    "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
)


def check_size(size):
    """Validates a size name.

    Example
    -------
    >>> check_size("huge")
    Traceback (most recent call last):
     ...
    ValueError: unknown SynthVGS size 'huge': choose from tiny, small, full
    """
    if size not in SIZES:
        raise ValueError(
            f"unknown SynthVGS size {size!r}: choose from {', '.join(SIZES)}"
        )
    return size


def _writable_folder(out):
    """Creates ``out`` if needed; raises OSError naming it if not writable."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".synthvgs_write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise OSError(
            f"cannot write the SynthVGS output folder {out!r}: "
            f"{e.strerror or e}"
        ) from e


def _run_tasks(function, tasks, jobs, desc):
    """Runs ``function`` over ``tasks`` on ``jobs`` processes (results in
    task order), with a progress bar saying ``desc``."""
    if jobs == 1 or len(tasks) < 2:
        return [function(task) for task in progress(tasks, desc)]
    chunk = max(1, min(32, len(tasks) // (8 * jobs)))
    context = multiprocessing.get_context(START_METHOD)
    with context.Pool(jobs) as pool:
        results = pool.imap(function, tasks, chunksize=chunk)
        return list(progress(results, desc, total=len(tasks)))


def _render_task(task):
    scene, seed, path = task
    render_scene(scene, seed).save(path, compress_level=6)


def _speech_task(task):
    text, speaker, path = task
    return synthesise(text, speaker, path)


def _condition_task(task):
    clean_path, babble_paths, seed, paths = task
    clean = read_wav(clean_path)
    rng = np.random.default_rng(seed)
    kind = sample_noise_type(rng)
    babble = [read_wav(p) for p in babble_paths] if kind == "babble" else []
    audio, info = render_conditions(clean, kind, rng, babble)
    for condition, path in paths.items():
        write_wav(path, audio[condition])
    return info


def _sample_scenes(size, seed):
    """Scenes and their captions' specs, keyed by image id."""
    scenes, specs = {}, {}
    index = 0
    for split in SPLITS:
        for _ in range(SIZES[size]["images"][split]):
            image_id = f"img{index:05d}"
            rng = np.random.default_rng([seed, SEED_STREAMS["scene"], index])
            scenes[image_id] = sample_scene(rng, split)
            rng = np.random.default_rng([seed, SEED_STREAMS["caption"], index])
            specs[image_id] = sample_caption_specs(
                scenes[image_id], rng, CAPTIONS_PER_IMAGE
            )
            index += 1
    return scenes, specs


def _plan_utterances(size, seed, langs, scenes, captions):
    """Utterances to synthesise: {lang: {split: [(utt_id, entry)]}}."""
    plan = {}
    speakers = {}
    for lang in langs:
        plan[lang] = {}
        for split in SPLITS:
            pool = make_speakers(lang, split, seed)
            speakers.update((s["id"], s) for s in pool)
            images = [i for i, s in scenes.items() if s["split"] == split]
            n_spoken = SIZES[size]["spoken"][lang][split]
            rng = np.random.default_rng(
                [seed, SEED_STREAMS["speaker"], LANGS.index(lang)]
                + [SPLITS.index(split)]
            )
            n_utts = len(images) * n_spoken
            order = np.concatenate(
                [
                    rng.permutation(len(pool))
                    for _ in range(-(-n_utts // len(pool)))
                ]
            )
            utts = []
            for image_id in images:
                for k in range(n_spoken):
                    speaker = pool[order[len(utts)]]
                    utts.append(
                        (
                            f"{lang}_{image_id}_{k}",
                            {
                                "image_id": image_id,
                                "speaker": speaker["id"],
                                "lang": lang,
                                "text": captions[image_id][lang][k],
                            },
                        )
                    )
            plan[lang][split] = utts
    return plan, speakers


def _render_images(out, scenes, seed, jobs):
    """Draws every scene into out/images/<image_id>.png."""
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    tasks = [
        (
            scene,
            [seed, SEED_STREAMS["render"], index],
            os.path.join(out, "images", f"{image_id}.png"),
        )
        for index, (image_id, scene) in enumerate(scenes.items())
    ]
    _run_tasks(_render_task, tasks, jobs, "SynthVGS: rendering images")


def _synthesise(out, plan, speakers, jobs):
    """Speaks every planned utterance; returns the train, valid and test_A
    manifests, {lang: {name: manifest}}."""
    tasks, keys = [], []
    for lang, by_split in plan.items():
        for split, utts in by_split.items():
            name = "test_A" if split == "test" else split
            folder = os.path.join(out, "wavs", lang, name)
            os.makedirs(folder, exist_ok=True)
            for utt_id, entry in utts:
                path = os.path.join(folder, f"{utt_id}.wav")
                tasks.append((entry["text"], speakers[entry["speaker"]], path))
                keys.append((lang, utt_id))
    spoken = dict(
        zip(
            keys,
            _run_tasks(
                _speech_task, tasks, jobs, "SynthVGS: synthesising speech"
            ),
        )
    )
    manifests = {}
    for lang, by_split in plan.items():
        manifests[lang] = {}
        for split, utts in by_split.items():
            name = "test_A" if split == "test" else split
            manifest = {}
            for utt_id, entry in utts:
                n_samples, phones = spoken[(lang, utt_id)]
                manifest[utt_id] = {
                    "wav": f"{{data_root}}/wavs/{lang}/{name}/{utt_id}.wav",
                    "duration": n_samples / SAMPLE_RATE,
                    "image": f"{{image_root}}/images/{entry['image_id']}.png",
                    "image_id": entry["image_id"],
                    "speaker": entry["speaker"],
                    "lang": lang,
                    "text": entry["text"],
                    "phones": phones,
                }
                if split == "test":
                    manifest[utt_id]["condition"] = "A"
            manifests[lang][name] = manifest
    return manifests


def _add_test_conditions(out, manifests, seed, jobs):
    """Renders test_B, test_C and test_D from test_A (wavs and manifests)."""
    tasks, keys = [], []
    for lang, by_name in manifests.items():
        wavs = os.path.join(out, "wavs", lang)
        for condition in CONDITIONS[1:]:
            os.makedirs(os.path.join(wavs, f"test_{condition}"), exist_ok=True)
        test = by_name["test_A"]
        for index, (utt_id, entry) in enumerate(test.items()):
            others = [
                u for u, e in test.items() if e["image_id"] != entry["image_id"]
            ]
            rng = np.random.default_rng(
                [seed, SEED_STREAMS["babble"], LANGS.index(lang), index]
            )
            babble = rng.choice(others, min(BABBLE_TALKERS, len(others)), False)
            tasks.append(
                (
                    os.path.join(wavs, "test_A", f"{utt_id}.wav"),
                    [os.path.join(wavs, "test_A", f"{b}.wav") for b in babble],
                    [seed, SEED_STREAMS["condition"], LANGS.index(lang), index],
                    {
                        c: os.path.join(wavs, f"test_{c}", f"{utt_id}.wav")
                        for c in CONDITIONS[1:]
                    },
                )
            )
            keys.append((lang, utt_id))
    infos = dict(
        zip(
            keys,
            _run_tasks(
                _condition_task, tasks, jobs, "SynthVGS: test conditions"
            ),
        )
    )
    for lang, by_name in manifests.items():
        for condition in CONDITIONS[1:]:
            name = f"test_{condition}"
            by_name[name] = {}
            for utt_id, entry in by_name["test_A"].items():
                entry = dict(entry, condition=condition)
                entry["wav"] = entry["wav"].replace("/test_A/", f"/{name}/")
                if condition in ("B", "D"):
                    entry["noise"] = infos[(lang, utt_id)]["noise"]
                    entry["snr_db"] = infos[(lang, utt_id)]["snr_db"]
                by_name[name][utt_id] = entry


def _summarise(manifests, scenes, langs, size, seed):
    def stats(entries):
        return {
            "images": len({e["image_id"] for e in entries}),
            "utterances": len(entries),
            "hours": round(sum(e["duration"] for e in entries) / 3600, 4),
            "speakers": len({e["speaker"] for e in entries}),
        }

    names = ["train", "valid"] + [f"test_{c}" for c in CONDITIONS]
    per_lang = {
        lang: {
            name: stats(list(manifests[lang][name].values())) for name in names
        }
        for lang in langs
    }
    splits = {
        name: stats(
            [e for lang in langs for e in manifests[lang][name].values()]
        )
        for name in names
    }
    vocabulary = {}
    for lang in langs:
        words = set()
        for name in names:
            for entry in manifests[lang][name].values():
                words.update(entry["text"].split())
        vocabulary[lang] = len(words)
    return {
        "size": size,
        "seed": seed,
        "langs": list(langs),
        "splits": splits,
        "per_lang": per_lang,
        "vocabulary": vocabulary,
        "scenes": len(scenes),
    }


def build_synthvgs(out, size="tiny", seed=1234, langs=LANGS, jobs=None):
    """Builds (or finds) a SynthVGS corpus in ``out``.

    Idempotent: if ``out/summary.json`` exists with the same size, seed and
    languages, it is returned without rebuilding. A previous build with
    other options is replaced (its images/, wavs/ and manifests/ are
    removed first). The same seed gives identical manifests, images and
    audio bytes, whatever ``jobs`` is.

    Arguments
    ---------
    out : str
        Output folder (created if needed).
    size : str
        "tiny" (tests), "small" (the demo) or "full" (benchmarks).
    seed : int
        Global seed.
    langs : sequence of str or str
        Languages among "en", "de", "sw" (or a comma-separated string).
    jobs : int, optional
        Worker processes; default ``os.cpu_count()``.

    Returns
    -------
    dict
        The summary (also written to ``out/summary.json``).

    Example
    -------
    >>> out = getfixture("tmpdir") / "synthvgs"
    >>> summary = build_synthvgs(out, "tiny", seed=1, langs="sw", jobs=1)
    >>> summary["splits"]["test_A"]["images"], summary["langs"]
    (6, ['sw'])
    """
    out = os.fspath(out)
    size = check_size(size)
    langs = check_langs(langs)
    seed = int(seed)
    jobs = int(jobs or os.cpu_count() or 1)
    _writable_folder(out)
    summary_path = os.path.join(out, "summary.json")
    options = {"size": size, "seed": seed, "langs": list(langs)}
    if os.path.isfile(summary_path):
        previous = read_json(summary_path)
        if {k: previous.get(k) for k in options} == options:
            return previous
        for folder in ("images", "wavs", "manifests"):
            shutil.rmtree(os.path.join(out, folder), ignore_errors=True)
        os.remove(summary_path)
    check_synthesisers(langs)
    start = time.perf_counter()
    scenes, specs = _sample_scenes(size, seed)
    captions = {
        image_id: {
            lang: [realise(spec, scenes[image_id], lang) for spec in specs_]
            for lang in langs
        }
        for image_id, specs_ in specs.items()
    }
    _render_images(out, scenes, seed, jobs)
    plan, speakers = _plan_utterances(size, seed, langs, scenes, captions)
    manifests = _synthesise(out, plan, speakers, jobs)
    _add_test_conditions(out, manifests, seed, jobs)
    for lang in langs:
        for name, manifest in manifests[lang].items():
            write_json(
                os.path.join(out, "manifests", lang, f"{name}.json"), manifest
            )
    write_json(os.path.join(out, "scenes.json"), scenes)
    write_json(os.path.join(out, "captions.json"), captions)
    write_json(os.path.join(out, "lexicon.json"), build_lexicon())
    write_json(os.path.join(out, "speakers.json"), speakers)
    summary = _summarise(manifests, scenes, langs, size, seed)
    summary["jobs"] = jobs
    summary["build_seconds"] = round(time.perf_counter() - start, 2)
    write_json(summary_path, summary)
    return summary
