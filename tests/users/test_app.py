"""The web demo as a user meets it: a real Gradio server on a trained
SpeechCLIP, driven by a real browser (Debian's Chromium, via Playwright).

A spoken caption uploaded through the page finds its image first and
shows the keywords heard; a microphone recording (Chromium's fake
capture device) is searched like the recorded file; a word typed in the
page lists the wavs that :meth:`SpeechCLIPInference.search_speech` ranks
first, with its scores.
"""

import json
import os
import re
import socket

import pytest

from speechbrain_vgs.inference import SpeechCLIPInference

CHROMIUM = "/usr/bin/chromium"
TOP_K = 5
TIMEOUT_MS = 30_000
PLAYER = "audio[data-testid^=audio-player]"  # shown once audio is in


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link_files(paths, folder):
    """Symlinks ``paths`` into a new ``folder``; returns it (str)."""
    folder.mkdir()
    for path in paths:
        os.symlink(path, folder / os.path.basename(path))
    return str(folder)


def gallery(page):
    """``(file, score)`` of the images the page shows, in order."""
    captions = page.locator("#images-found .caption-label").all_inner_texts()
    return [parse(caption) for caption in captions]


def parse(label):
    """``(name, score)`` of ``"[rank. ]name (score 0.123)"``."""
    match = re.fullmatch(r"(?:\d+\. )?(.+) \(score (-?\d+\.\d+)\)", label)
    assert match, label
    return match[1], float(match[2])


def expected(scores, ranking, paths):
    """``(file name, score)`` of the top results of a search."""
    return [
        (os.path.basename(paths[i]), scores[i].item())
        for i in ranking[:TOP_K].tolist()
    ]


def assert_same_results(shown, computed):
    """Same files in the same order, scores equal to 3 decimals."""
    assert [name for name, _ in shown] == [name for name, _ in computed]
    for (_, a), (_, b) in zip(shown, computed):
        assert a == pytest.approx(b, abs=6e-4)


def test_app_in_a_browser(
    trained_speechclip, synthvgs_tiny, tmp_path, monkeypatch
):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    from playwright.sync_api import sync_playwright

    from speechbrain_vgs.app import build_app
    from speechbrain_vgs.inference import load_inference

    manifest = os.path.join(synthvgs_tiny, "manifests", "en", "train.json")
    with open(manifest, encoding="utf-8") as f:
        items = [
            {
                key: value.format(
                    data_root=synthvgs_tiny, image_root=synthvgs_tiny
                )
                for key, value in item.items()
                if isinstance(value, str)
            }
            for item in json.load(f).values()
        ]
    image_of = {item["image_id"]: item["image"] for item in items}
    assert len(image_of) == 12
    images = link_files(sorted(image_of.values()), tmp_path / "images")
    firsts = {}  # the first caption of each image
    for item in items:
        firsts.setdefault(item["image_id"], item)
    speech = link_files(
        sorted(item["wav"] for item in firsts.values()), tmp_path / "speech"
    )
    searched = {item["wav"] for item in firsts.values()}
    query = next(item for item in items if item["wav"] not in searched)
    word = max(query["text"].split(), key=len)

    reference = SpeechCLIPInference.from_hparams(
        source=trained_speechclip, savedir=str(tmp_path / "reference")
    )
    image_paths = sorted(
        os.path.join(images, name) for name in os.listdir(images)
    )
    wav_paths = sorted(
        os.path.join(speech, name) for name in os.listdir(speech)
    )
    heard = reference.keywords(query["wav"], top_n=5)
    found = expected(*reference.search_speech(word, wav_paths), wav_paths)

    app = build_app(load_inference(trained_speechclip), images, speech, TOP_K)
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        allowed_paths=[images, speech],
        prevent_thread_lock=True,
        quiet=True,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={query['wav']}",
                ],
                timeout=TIMEOUT_MS,
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"http://127.0.0.1:{port}/")
                audio = page.locator("#speech-query")

                # no speech yet: the page says what to do
                page.get_by_role("button", name="Search images").click()
                page.get_by_text("Record or upload speech first.").wait_for()

                # upload a spoken caption: its image comes first
                audio.get_by_role("button", name="Upload file").click()
                audio.locator("input[type=file]").set_input_files(query["wav"])
                audio.locator(PLAYER).wait_for(state="attached")
                page.get_by_role("button", name="Search images").click()
                page.locator("#images-found .caption-label").nth(
                    TOP_K - 1
                ).wait_for()
                shown = gallery(page)
                assert len(shown) == TOP_K
                assert shown[0][0] == os.path.basename(query["image"])
                assert [s for _, s in shown] == sorted(
                    (s for _, s in shown), reverse=True
                )
                keywords = page.locator("#keywords-heard textarea")
                page.wait_for_function(
                    "e => e.value.length > 0", arg=keywords.element_handle()
                )
                assert keywords.input_value().splitlines() == [
                    f"slot {k}: {' '.join(words)}"
                    for k, words in enumerate(heard, start=1)
                ]

                # record with the microphone: searched like the recording
                audio.get_by_role("button", name="Clear").click()
                audio.get_by_role("button", name="Record audio").click()
                audio.get_by_role("button", name="Record", exact=True).click()
                page.wait_for_timeout(2000)
                audio.locator("button.stop-button").first.click()
                audio.locator(PLAYER).wait_for(state="attached")
                captions = page.locator("#images-found .caption-label")
                before = captions.all_inner_texts()
                page.get_by_role("button", name="Search images").click()
                page.wait_for_function(  # new results (new scores)
                    "before => [...document.querySelectorAll("
                    "'#images-found .caption-label')]"
                    ".map(e => e.innerText).join('|') !== before",
                    arg="|".join(before),
                )
                recorded = [
                    os.path.join(root, name)
                    for root, _, names in os.walk(tmp_path / "gradio")
                    for name in names
                    if name.endswith(".wav")
                    and name != os.path.basename(query["wav"])
                ]
                assert len(recorded) == 1, recorded
                assert_same_results(
                    gallery(page),
                    expected(
                        *reference.search_images(recorded[0], image_paths),
                        image_paths,
                    ),
                )

                # type a word of the caption: the wavs ranked for it
                page.get_by_role("tab", name="Search speech").click()
                page.locator("#text-query textarea").fill(word)
                page.get_by_role("button", name="Search by text").click()
                labels = [
                    page.locator(f"#utterance-{rank} [data-testid=block-label]")
                    for rank in range(1, TOP_K + 1)
                ]
                for label in labels:
                    label.wait_for()
                shown = [parse(label.inner_text()) for label in labels]
                assert all(name.endswith(".wav") for name, _ in shown)
                assert_same_results(shown, found)
            finally:
                browser.close()
    finally:
        app.close()


def test_app_command_line(tmp_path, capsys):
    """``--help``, and errors a user can fix exit with what to do."""
    from speechbrain_vgs.app import main

    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    assert "--images" in capsys.readouterr().out

    images, speech, model = (tmp_path / n for n in ("im", "wav", "model"))
    for folder in (images, speech, model):
        folder.mkdir()
    (images / "a.png").write_bytes(b"")
    (speech / "a.wav").write_bytes(b"")
    for folders, message in [
        ((tmp_path / "nowhere", images, speech), "no such folder"),
        ((model, images, speech), "no hyperparams.yaml"),
        ((model, speech, speech), "no image file"),
        ((model, images, images), "no audio file"),
    ]:
        argv = [str(folders[0]), "--images", str(folders[1])]
        with pytest.raises(SystemExit) as raised:
            main([*argv, "--speech", str(folders[2])])
        assert raised.value.code == 2
        assert message in capsys.readouterr().err
