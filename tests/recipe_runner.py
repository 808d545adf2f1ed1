"""Runs a recipe as a user would (a subprocess in SpeechBrain's ``--debug``
mode on CPU) and checks the results.json contract shared by all recipes."""

import contextlib
import json
import logging
import os
import runpy
import subprocess
import sys
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECALL_KEYS = {
    f"{direction}_r{k}"
    for direction in ("speech_to_image", "image_to_speech")
    for k in (1, 5, 10)
}


ZERO_SHOT_KEYS = {
    f"{direction}_r{k}"
    for direction in ("speech_to_text", "text_to_speech")
    for k in (1, 5, 10)
}
KEYWORD_KEYS = {
    f"{prefix}keyword_hit_top{n}"
    for prefix in ("", "baseline_")
    for n in (1, 5)
}
# counts, not fractions
KEYWORD_COUNT_KEYS = {
    "keywords_per_utterance",
    "caption_subwords_per_utterance",
}


def run_script(script, hparams, output, *overrides, debug=True):
    """Runs ``script hparams [--debug] ...``; returns the finished process."""
    cmd = [
        sys.executable,
        os.path.join(ROOT, script),
        os.path.join(ROOT, hparams),
        *(["--debug"] if debug else []),
        "--device=cpu",
        "--noprogressbar",
        f"--output_folder={output}",
        *overrides,
    ]
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def run_recipe(script, hparams, output, *overrides, debug=True):
    """Runs ``script hparams [--debug] ...`` and returns its results.json."""
    proc = run_script(script, hparams, output, *overrides, debug=debug)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
        return json.load(f)


def check_recall_results(results, expected_sets):
    """Each expected set has exactly the six recalls, in [0, 1], ordered."""
    assert set(results) == set(expected_sets)
    for metrics in results.values():
        assert set(metrics) == RECALL_KEYS
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
        for direction in ("speech_to_image", "image_to_speech"):
            r1, r5, r10 = (metrics[f"{direction}_r{k}"] for k in (1, 5, 10))
            assert r1 <= r5 <= r10


def check_speechclip_results(results, expected_sets, keywords, slots=True):
    """Recall, zero-shot recall and (with ``keywords``) keyword hit rates
    (mean and, for fixed ``slots``, per slot, model and baseline) in
    [0, 1] for each set, and the mean keyword and caption subword counts
    (positive)."""
    assert set(results) == set(expected_sets)
    for metrics in results.values():
        assert RECALL_KEYS | ZERO_SHOT_KEYS <= set(metrics)
        assert (KEYWORD_KEYS <= set(metrics)) == keywords
        assert (KEYWORD_COUNT_KEYS <= set(metrics)) == keywords
        fractions = set(metrics) - KEYWORD_COUNT_KEYS
        assert all(0.0 <= metrics[k] <= 1.0 for k in fractions)
        for direction in ("speech_to_image", "image_to_speech"):
            r1, r5, r10 = (metrics[f"{direction}_r{k}"] for k in (1, 5, 10))
            assert r1 <= r5 <= r10
        if keywords:
            assert metrics["keyword_hit_top1"] <= metrics["keyword_hit_top5"]
            assert all(metrics[k] > 0 for k in KEYWORD_COUNT_KEYS)
            per_slot = [k for k in metrics if k.startswith("keyword_hit_top1_")]
            assert (len(per_slot) > 0) == slots


@contextlib.contextmanager
def recipe_process(argv):
    """Gives a recipe its command line, then undoes what SpeechBrain sets
    up for a process: root logger handlers, excepthook, SB_LOG_LEVEL."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with (
            mock.patch.object(sys, "argv", argv),
            mock.patch.object(sys, "excepthook", sys.excepthook),
            mock.patch.dict(os.environ),
        ):
            yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def run_in_process(script, hparams, output, *overrides):
    """Runs ``script hparams --debug ...`` in this process (one import of
    torch, SpeechBrain and open_clip for all the runs of a test module) and
    returns its results.json."""
    argv = [
        os.path.join(ROOT, script),
        os.path.join(ROOT, hparams),
        "--debug",
        "--device=cpu",
        "--noprogressbar",
        f"--output_folder={output}",
        *overrides,
    ]
    with recipe_process(argv):
        runpy.run_path(argv[0], run_name="__main__")
    with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
        return json.load(f)
