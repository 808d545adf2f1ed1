"""The installed ``speechbrain-vgs`` command: every verb run as a user
would (the console script, in a subprocess) on models trained in the tests,
its printed results compared with the inference classes' own."""

import json
import os
import subprocess
import sys

import pytest
from training_pairs import training_pairs

from speechbrain_vgs.inference import load_inference
from speechbrain_vgs.report import format_report

COMMAND = os.path.join(os.path.dirname(sys.executable), "speechbrain-vgs")
VERBS = ["build-synthvgs", "search-images", "search-speech", "keywords"]


def run(*args, ok=True):
    """Runs the command; returns its stdout (or stderr when it fails)."""
    proc = subprocess.run(
        [COMMAND, *map(str, args)], capture_output=True, text=True, timeout=300
    )
    if ok:
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout
    assert proc.returncode != 0, proc.stdout[-2000:]
    return proc.stderr


def ranked_lines(output):
    """``[(path, score)]`` of ``rank score path`` lines, checking ranks."""
    rows = [line.split(maxsplit=2) for line in output.strip().splitlines()]
    assert [int(rank) for rank, _, _ in rows] == list(range(1, len(rows) + 1))
    return [(path, float(score)) for _, score, path in rows]


@pytest.mark.parametrize("verb", [None, *VERBS, "report"])
def test_help(verb):
    output = run(*([verb] if verb else []), "--help")
    assert output.startswith("usage: speechbrain-vgs")


def test_search_and_keywords(trained_speechclip, synthvgs_tiny, tmp_path):
    ids, wavs, images, texts = training_pairs(synthvgs_tiny)
    folder = os.path.dirname(images[0])  # the corpus's images
    model = load_inference(trained_speechclip)

    # search-images: the caption's image first, the model's order
    printed = ranked_lines(
        run("search-images", trained_speechclip, wavs[0], folder, "--top_k", 3)
    )
    assert printed[0][0] == images[0]
    pictures = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    scores, ranking = model.search_images(wavs[0], pictures)
    assert [p for p, _ in printed] == [pictures[i] for i in ranking[:3]]
    assert [s for _, s in printed] == pytest.approx(
        scores[ranking[:3]].tolist(), abs=1e-3
    )

    # search-speech with a text and with an image: the model's order
    speech = os.path.dirname(wavs[0])
    all_wavs = sorted(
        os.path.join(speech, n) for n in os.listdir(speech) if n.endswith("wav")
    )
    for query in (texts[0], images[0]):
        printed = ranked_lines(
            run(
                "search-speech", trained_speechclip, query, speech, "--top_k", 5
            )
        )
        _, ranking = model.search_speech(query, all_wavs)
        assert [p for p, _ in printed] == [all_wavs[i] for i in ranking[:5]]
    assert dict(zip(wavs, images))[printed[0][0]] == images[0]

    # keywords: one line per slot, the model's keywords
    printed = run("keywords", trained_speechclip, wavs[0], "--top_n", 2)
    heard = [line.split()[1:] for line in printed.strip().splitlines()]
    assert heard == model.keywords(wavs[0], top_n=2)

    # report: the recipe's results.json, as the report module prints it
    printed = run("report", trained_speechclip)
    assert printed.strip() == format_report(trained_speechclip).strip()
    with open(os.path.join(trained_speechclip, "results.json")) as f:
        r10 = json.load(f)["test_A"]["speech_to_image_r10"]
    assert f"R@10 {100 * r10:5.1f}" in printed


def test_grounding_search(trained_grounding, synthvgs_tiny):
    ids, wavs, images, texts = training_pairs(synthvgs_tiny)
    folder = os.path.dirname(images[0])
    printed = ranked_lines(
        run("search-images", trained_grounding, wavs[0], folder, "--top_k", 2)
    )
    assert printed[0][0] == images[0]
    speech = os.path.dirname(wavs[0])
    message = run(
        "search-speech", trained_grounding, "a cross", speech, ok=False
    )
    assert "no text side" in message
    message = run("keywords", trained_grounding, wavs[0], ok=False)
    assert "is not a SpeechCLIP" in message


def test_build_synthvgs(tmp_path):
    out = tmp_path / "corpus"
    build = [COMMAND, "build-synthvgs", "--size", "tiny", "--langs", "en"]
    proc = subprocess.run(
        [*build, "--out", out], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["size"] == "tiny" and summary["langs"] == ["en"]
    assert os.path.isfile(out / "manifests" / "en" / "test_A.json")
    # a progress bar for the long steps, none with --noprogressbar
    assert "SynthVGS: synthesising speech: 100%" in proc.stderr
    proc = subprocess.run(
        [*build, "--out", tmp_path / "quiet", "--noprogressbar"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "SynthVGS:" not in proc.stderr
    message = run("build-synthvgs", "--size", "huge", "--out", out, ok=False)
    assert "unknown SynthVGS size 'huge'" in message


def test_errors_say_what_to_do(tmp_path, trained_speechclip, synthvgs_tiny):
    ids, wavs, images, texts = training_pairs(synthvgs_tiny)
    missing = tmp_path / "nowhere"
    message = run("search-images", missing, wavs[0], tmp_path, ok=False)
    assert f"{missing}: no such folder" in message
    message = run("search-images", tmp_path, wavs[0], tmp_path, ok=False)
    assert "not a recipe's output folder" in message
    message = run("report", tmp_path, ok=False)
    assert "no results.json" in message
    # an empty image folder, a missing wav
    message = run(
        "search-images", trained_speechclip, wavs[0], tmp_path, ok=False
    )
    assert "no image file" in message and str(tmp_path) in message
    message = run("keywords", trained_speechclip, missing / "a.wav", ok=False)
    assert "no such file" in message
