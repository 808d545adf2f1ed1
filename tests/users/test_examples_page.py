"""What a user sees on the examples page of a retrieval test
(``examples.html`` beside ``results.json``), rendered by a real headless
browser: Debian's Chromium driven by Playwright, from a ``file://`` URL.

The recipes' pages (a hybrid SpeechCLIP and a ResDAVEnet, trained on the
tiny SynthVGS corpus and tested on test_A) show, with every audio player
and image really loaded through its relative path: the set's first 5
utterances with their manifest transcripts and their top-5 images, the
utterance's own image (from the manifest) marked and the ranking that of
the trained model (recomputed with :mod:`speechbrain_vgs.inference`); the
first 3 images with their top-5 utterances, their own captions marked;
for SpeechCLIP, the cascaded keywords of ``keywords_test_A.json`` and the
figures. A page written from hand-made data shows a transcript holding
markup as text, a missing file as a note naming it, and links a file whose
name needs URL quoting.
"""

import json
import os
import pathlib
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from speechbrain_vgs.dataio.manifest import load_manifest, resolve_paths
from speechbrain_vgs.examples_page import (
    retrieval_examples,
    set_section,
    write_page,
)
from speechbrain_vgs.inference import GroundingInference, SpeechCLIPInference
from speechbrain_vgs.metrics import RetrievalStats

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 30_000
DURATION_TOLERANCE = 0.01  # seconds
TEST_BATCH_SIZE = 12  # the fixtures' --batch_size
MARK_COLOR = "rgb(34, 170, 34)"  # the right items' border (#2a2)

# Everything the page shows, as the browser renders it: file paths are
# those the browser resolved (currentSrc), media states those it loaded.
READ_PAGE = """() => {
  const media = el => el === null ? null : ({
    src: el.currentSrc, attribute: el.getAttribute("src"),
    width: el.naturalWidth ?? null, duration: el.duration ?? null,
    error: el.error ? el.error.code : null, alt: el.getAttribute("alt"),
  });
  const text = el => el === null ? null : el.textContent;
  const ranked = (article, item) => Array.from(
    article.querySelectorAll(":scope > ol.ranked > li")).map(li => ({
      id: li.dataset.id, correct: li.classList.contains("correct"),
      mark: text(li.querySelector(".mark")),
      border: getComputedStyle(li).borderTopColor, ...item(li)}));
  const caption = el => ({
    audio: media(el.querySelector(":scope > audio")),
    transcript: text(el.querySelector(":scope > p.transcript")),
  });
  return Array.from(document.querySelectorAll("section.test-set")).map(
    section => ({
      name: section.dataset.set,
      captions: Array.from(section.querySelectorAll("article.caption")).map(
        a => ({
          id: a.dataset.id, ...caption(a),
          keywords: Array.from(a.querySelectorAll(".keywords li")).map(
            li => Array.from(li.querySelectorAll(".subword")).map(text)),
          images: ranked(a, li => ({image: media(li.querySelector("img"))})),
        })),
      images: Array.from(section.querySelectorAll("article.image")).map(
        a => ({
          id: a.dataset.id, image: media(a.querySelector(":scope > img")),
          captions: ranked(a, caption),
        })),
      figures: Array.from(section.querySelectorAll(".figures img")).map(media),
      missing: Array.from(section.querySelectorAll(".missing")).map(text),
    }));
}"""
LOADED = """() =>
  Array.from(document.images).every(i => i.complete) &&
  Array.from(document.querySelectorAll("audio")).every(
    a => a.readyState >= 1 || a.error !== null)"""


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by Playwright."""
    assert os.path.exists(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], timeout=TIMEOUT_MS
        )
        yield chromium
        chromium.close()


def render(browser, path):
    """The sections of the page at ``path`` once its media have loaded."""
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(pathlib.Path(path).as_uri())
        page.wait_for_function(LOADED)
        return page.evaluate(READ_PAGE)
    finally:
        page.close()


def file_of(media):
    """The file a loaded element shows: its resolved URL, checked to come
    from a relative path that the browser loaded."""
    assert media["attribute"] and not media["attribute"].startswith(
        ("/", "file:")
    ), media
    assert media["error"] is None, media
    url = urlparse(media["src"])
    assert url.scheme == "file", media
    return os.path.realpath(unquote(url.path))


def check_audio(audio, entry):
    """The player loaded the entry's wav, with its duration."""
    assert file_of(audio) == os.path.realpath(entry["wav"])
    assert audio["duration"] == pytest.approx(
        entry["duration"], abs=DURATION_TOLERANCE
    )


def check_image(image, entry=None):
    """The image loaded (of ``entry``'s image if given)."""
    path = file_of(image)
    assert image["width"] > 0, image
    if entry is not None:
        assert path == os.path.realpath(entry["image"])
    return path


def manifest_of_test_A(corpus):
    """The tiny corpus's test_A entries with their resolved paths."""
    path = os.path.join(corpus, "manifests", "en", "test_A.json")
    roots = {"data_root": corpus, "image_root": corpus}
    return resolve_paths(load_manifest(path), path, roots)


def model_scores(model, manifest, images):
    """``{utterance id: {image id: score}}`` of an inference model, with
    the utterances padded in the batches of the recipe's test (padding
    changes the scores a little)."""
    utterances = order_of_test(manifest)
    scores = {utt_id: {} for utt_id in utterances}
    for image_id, image in images.items():
        for start in range(0, len(utterances), TEST_BATCH_SIZE):
            batch = utterances[start : start + TEST_BATCH_SIZE]
            wavs = [manifest[utt_id]["wav"] for utt_id in batch]
            batch_scores, _ = model.search_speech(image, wavs)
            for utt_id, score in zip(batch, batch_scores.tolist()):
                scores[utt_id][image_id] = score
    return scores


def order_of_test(manifest):
    """The utterance ids in the order of the recipe's test: by duration,
    stable (``speechbrain_vgs.dataio.pipelines.vgs_datasets``)."""
    return sorted(manifest, key=lambda utt_id: manifest[utt_id]["duration"])


def check_page(browser, output, manifest, model):
    """The page of ``output`` shows test_A as the model retrieves it;
    returns the section as rendered."""
    (section,) = render(browser, os.path.join(output, "examples.html"))
    assert section["name"] == "test_A"
    assert section["missing"] == []
    order = order_of_test(manifest)
    images = {}  # image_id -> path, in the order of the set
    for utt_id in order:
        images.setdefault(
            manifest[utt_id]["image_id"], manifest[utt_id]["image"]
        )
    scores = model_scores(model, manifest, images)
    captions = section["captions"]
    # spread over the set: every (len // n)-th of the sorted ids
    ids = sorted(order)
    assert [caption["id"] for caption in captions] == ids[:: len(ids) // 5][:5]
    for caption in captions:
        entry = manifest[caption["id"]]
        check_audio(caption["audio"], entry)
        assert caption["transcript"] == entry["text"]
        for item in caption["images"]:
            check_image(item["image"], {"image": images[item["id"]]})
            assert item["correct"] == (item["id"] == entry["image_id"])
            assert (item["mark"] is not None) == item["correct"]
            if item["correct"]:
                assert "\u2713" in item["mark"]
                assert "own image" in item["image"]["alt"]
                assert item["border"] == MARK_COLOR
            else:
                assert item["border"] != MARK_COLOR
        best = sorted(images, key=lambda i: -scores[caption["id"]][i])
        assert [item["id"] for item in caption["images"]] == best[:5]
    # the model ranks some captions' own images in their top 5
    assert any(item["correct"] for c in captions for item in c["images"])
    ids = sorted(images)
    assert [image["id"] for image in section["images"]] == ids[
        :: len(ids) // 3
    ][:3]
    for image in section["images"]:
        check_image(image["image"], {"image": images[image["id"]]})
        for item in image["captions"]:
            entry = manifest[item["id"]]
            check_audio(item["audio"], entry)
            assert item["transcript"] == entry["text"]
            assert item["correct"] == (entry["image_id"] == image["id"])
            assert (item["mark"] is not None) == item["correct"]
        best = sorted(order, key=lambda u: -scores[u][image["id"]])
        assert [item["id"] for item in image["captions"]] == best[:5]
    return section


def test_speechclip_page(browser, trained_speechclip, synthvgs_tiny, tmp_path):
    """The hybrid SpeechCLIP's page, with its keywords and figures."""
    output = trained_speechclip
    manifest = manifest_of_test_A(synthvgs_tiny)
    model = SpeechCLIPInference.from_hparams(
        source=output, savedir=str(tmp_path), run_opts={"device": "cpu"}
    )
    section = check_page(browser, output, manifest, model)
    with open(
        os.path.join(output, "keywords_test_A.json"), encoding="utf-8"
    ) as f:
        keywords = json.load(f)
    for caption in section["captions"]:
        assert caption["keywords"] == keywords[caption["id"]]["keywords"]
    figures = os.path.join(output, "figures", "test_A")
    expected = {"layer_weights.png"} | {
        f"attention_{u}.png" for u in order_of_test(manifest)[:3]
    }
    assert set(os.listdir(figures)) == expected
    shown = [check_image(figure) for figure in section["figures"]]
    assert sorted(shown) == sorted(
        os.path.realpath(os.path.join(figures, n)) for n in expected
    )


def test_grounding_page(browser, trained_grounding, synthvgs_tiny, tmp_path):
    """The ResDAVEnet's page, without keywords or figures."""
    output = trained_grounding
    manifest = manifest_of_test_A(synthvgs_tiny)
    model = GroundingInference.from_hparams(
        source=output, savedir=str(tmp_path), run_opts={"device": "cpu"}
    )
    section = check_page(browser, output, manifest, model)
    assert all(caption["keywords"] == [] for caption in section["captions"])
    assert section["figures"] == []


def test_page_of_hand_made_data(browser, tmp_path):
    """Markup in a transcript shows as text, a missing image as a note
    naming it, and a file whose name needs quoting is linked."""
    data = tmp_path / "data #1"
    data.mkdir()
    wav = data / "caption 1?.wav"
    soundfile.write(str(wav), np.zeros(8000), 16000)
    Image.new("RGB", (8, 8), "red").save(data / "red.png")
    entries = {
        "u1": {
            "wav": str(wav),
            "text": "a <b>red</b> & square",
            "image": str(data / "red.png"),
            "image_id": "red",
        },
        "u2": {
            "wav": str(data / "gone.wav"),
            "image": str(data / "gone.png"),
            "image_id": "gone",
        },
    }
    stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
    stats.append(["u1", "u2"], torch.eye(2), None, torch.eye(2), [0, 1])
    captions, images = retrieval_examples(stats, entries, 2, 2)
    folder = tmp_path / "out"
    write_page(
        folder / "examples.html",
        [set_section("<set>", captions, images, [], str(folder))],
    )
    (section,) = render(browser, folder / "examples.html")
    assert section["name"] == "<set>"
    first, second = section["captions"]
    assert first["transcript"] == "a <b>red</b> & square"
    check_audio(first["audio"], {"wav": str(wav), "duration": 0.5})
    assert [item["correct"] for item in first["images"]] == [True, False]
    check_image(first["images"][0]["image"], entries["u1"])
    assert first["images"][1]["image"] is None
    assert second["audio"] is None and second["transcript"] is None
    assert set(section["missing"]) == {
        "missing file: ../data #1/gone.wav",
        "missing file: ../data #1/gone.png",
    }
    assert len(section["images"]) == 2
