"""Several processes train and evaluate like one: ``ddp_step.py`` run by
``torchrun`` (2 processes, gloo on the CPU, as SpeechBrain recipes run
under DDP) against the same script in one process.

Training step (loss, and parameter gradients after DDP's all-reduce):

- SpeechCLIP parallel equals one process on the concatenated batch;
- the grounding Brain (ResDAVEnet) and SpeechCLIP cascaded have BatchNorm,
  which on the CPU normalises each process's half with its own statistics
  (SyncBatchNorm runs on GPUs only): they equal one process whose model
  sees each half separately, with the loss on the global batch, and differ
  from one process on the whole batch (the documented behaviour).

Tolerance: losses to 1e-5 relative; each gradient tensor to 1e-4 of its
largest entry, plus 1e-8 (float32 sums over differently padded batches;
the attention key biases' gradients are zero up to rounding, ~1e-13).
Measured: the grounding and cascaded steps match exactly, SpeechCLIP
parallel to below 4e-5 (the layer weights' gradient).

Evaluation: the logged validation and test statistics (the loss
included) on every process and the ``results.json`` (and SpeechCLIP's
keywords) written by the main process equal one process's exactly, for
the grounding, SpeechCLIP cascaded and keyword spotting Brains, including
a test set of a single batch (the second process evaluates nothing) and a
set evaluated whole by every process (a loader made outside the Brain).
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert

SCRIPT = os.path.join(os.path.dirname(__file__), "ddp_step.py")
TIMEOUT = 300  # seconds, each run
LOSS_RTOL = 1e-5
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-8
RESULTS = (
    "grounding/results.json.first",  # valid and test_A
    "grounding/results.json",  # test_B (one batch), test_A not split
    "speechclip/results.json",
    "speechclip/keywords_test_A.json",
    "kws/results.json",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command, log):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=out)


def finish(process, log):
    try:
        code = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = "timeout"
    if code != 0:
        with open(log, encoding="utf-8") as f:
            tail = f.read()[-4000:]
        pytest.fail(f"{log} ended with {code}:\n{tail}")


@pytest.fixture(scope="module")
def runs(synthvgs_tiny, tmp_path_factory):
    """The reports of the two-process run (one per rank) and of the
    one-process run, and the output folder."""
    out = tmp_path_factory.mktemp("ddp")
    models = out / "models"
    save_tiny_hubert(  # 50 frames a second, no dropout
        models / "hubert",
        conv_kernel=(400, 2),
        conv_stride=(160, 2),
        dropout=0.0,
    )
    save_tiny_clip(models / "clip", name="tiny-clip")
    arguments = [SCRIPT, synthvgs_tiny, str(models), str(out)]
    one = start([sys.executable, *arguments], out / "one.log")
    ddp = start(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
            *arguments,
        ],
        out / "ddp.log",
    )
    finish(one, out / "one.log")
    finish(ddp, out / "ddp.log")
    reports = [torch.load(out / f"ddp_rank{r}.pt") for r in range(2)]
    return reports, torch.load(out / "one_rank0.pt"), out


def gradient_error(grads, reference):
    """The largest difference of each gradient tensor, over its allowed
    tolerance (<= 1 passes)."""
    assert set(grads) == set(reference)
    return {
        name: float((grads[name] - ref).abs().max())
        / (GRAD_RTOL * float(ref.abs().max()) + GRAD_ATOL)
        for name, ref in reference.items()
    }


def assert_same_step(step, reference):
    assert float(step["loss"]) == pytest.approx(
        float(reference["loss"]), rel=LOSS_RTOL
    )
    errors = gradient_error(step["grads"], reference["grads"])
    assert max(errors.values()) <= 1, {k: e for k, e in errors.items() if e > 1}


@pytest.mark.parametrize(
    "step, reference, whole",
    [
        ("grounding", "grounding", "grounding_whole"),
        ("parallel", "parallel", None),
        ("cascaded", "cascaded_per_half", "cascaded"),
    ],
)
def test_training_step_matches_one_process(runs, step, reference, whole):
    reports, one, _ = runs
    for report in reports:
        assert_same_step(report[step], one[reference])
        if whole is not None:  # BatchNorm statistics per process
            errors = gradient_error(report[step]["grads"], one[whole]["grads"])
            assert max(errors.values()) > 1


def logged(calls):
    """Validation and test log lines (training statistics left out)."""
    return [
        (call["meta"], call.get("valid_stats"), call.get("test_stats"))
        for call in calls
    ]


@pytest.mark.parametrize(
    "evaluation",
    ["evaluation", "speechclip_evaluation", "keyword_evaluation"],
)
def test_evaluation_matches_one_process(runs, evaluation):
    reports, one, _ = runs
    expected = logged(one[evaluation]["logged"])
    assert len(expected) == {"evaluation": 5}.get(evaluation, 1)
    for report in reports:
        for got, want in zip(logged(report[evaluation]["logged"]), expected):
            assert got[0] == want[0]
            for stats, reference in zip(got[1:], want[1:]):
                assert (stats is None) == (reference is None)
                if stats is not None:
                    stats, reference = dict(stats), dict(reference)
                    loss = reference.pop("loss")
                    assert stats.pop("loss") == pytest.approx(loss, rel=1e-12)
                    assert stats == reference


@pytest.mark.parametrize("name", RESULTS)
def test_main_process_writes_the_results_of_one_process(runs, name):
    _, _, out = runs
    with open(out / "one" / name, encoding="utf-8") as f:
        expected = json.load(f)
    with open(out / "ddp" / name, encoding="utf-8") as f:
        assert json.load(f) == expected
