"""Each benchmark's ``--quick`` mode runs and reports what it promises
(no time is asserted: speed is measured by the benchmarks, not tests)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def run_benchmark(script, tmp_path, *args):
    """Runs ``benchmarks/<script> --quick``; returns its last JSON line."""
    command = [sys.executable, os.path.join("benchmarks", script), "--quick"]
    out = subprocess.run(
        [*command, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One model cache and tiny corpus for the benchmarks of this module."""
    return tmp_path_factory.mktemp("benchmarks")


def test_train_step_reports_each_model_against_its_floor(cache, tmp_path):
    profile = tmp_path / "profile.txt"
    result = run_benchmark(
        "train_step.py",
        tmp_path,
        "--cache",
        str(cache / "models"),
        "--data_folder",
        str(cache / "SynthVGS-tiny"),
        "--profile",
        str(profile),
    )
    assert set(result["step_over_upstream"]) == {
        "parallel",
        "cascaded",
        "hybrid",
    }
    for model, row in result["models"].items():
        assert row["yaml"].endswith(f"{model}.yaml")
        assert row["batch"][0] == 4
        assert row["upstream_s"] > 0 and row["step_s"] > 0
        assert row["step_over_upstream"] == pytest.approx(
            row["step_s"] / row["upstream_s"], rel=0.01
        )
    text = profile.read_text()
    assert text.count("Self CPU time total") == 3
    assert "aten::" in text


def test_evaluation_measures_three_sizes(cache, tmp_path):
    result = run_benchmark(
        "evaluation.py",
        tmp_path,
        "--cache",
        str(cache / "models"),
        "--data_folder",
        str(cache / "SynthVGS-tiny"),
    )
    steps = {}
    for row in result["rows"]:
        steps.setdefault(row["step"], []).append(row)
    assert set(steps) == {
        "embed (sorted)",
        "embed (random order)",
        "recall",
        "zero_shot",
        "kws",
    }
    for rows in steps.values():
        assert [r["n"] for r in rows] == [rows[0]["n"] * m for m in (1, 2, 4)]
        assert "growth" in rows[-1]
    assert [r["shape"] for r in steps["recall"]] == [
        [250, 50],
        [500, 100],
        [1000, 200],
    ]
    # duration-sorted batches never pad more than the same utterances
    # in random order
    for s, r in zip(steps["embed (sorted)"], steps["embed (random order)"]):
        assert s["padding"] <= r["padding"]


def test_whole_run_builds_and_trains_one_epoch(cache, tmp_path):
    result = run_benchmark(
        "whole_run.py", tmp_path, "--cache", str(cache / "models")
    )
    assert result["build"]["size"] == "tiny"
    assert result["build"]["utterances"] > 0
    assert result["build"]["disk_gb"] > 0
    assert [e["workers"] for e in result["epochs"]] == [1]
    assert result["epochs"][0]["train_utterances"] > 0


def test_synthvgs_build_times_the_tiny_build(tmp_path):
    rows = run_benchmark("synthvgs_build.py", tmp_path, "--out", str(tmp_path))
    assert [r["size"] for r in rows] == ["tiny"]
    assert rows[0]["utterances"] > 0 and rows[0]["cpu_s"] > 0
