"""Runs a recipe's command line and kills the process with SIGKILL at a
chosen moment, as a cluster's scheduler would.

Usage::

    python kill_runner.py while-saving K train.py hparams.yaml [args...]
    python kill_runner.py after-saving K train.py hparams.yaml [args...]

``while-saving K``: in the K-th checkpoint save of this process, after
SpeechBrain wrote its ``CKPT.yaml`` and half of the first ``torch.save``
file. ``after-saving K``: at the first optimizer update after the K-th
checkpoint save (between two checkpoints, with progress made that no
checkpoint holds). The recipe itself runs unchanged.
"""

import io
import os
import runpy
import signal
import sys

import torch
from speechbrain.utils import checkpoints
from torch.optim.optimizer import register_optimizer_step_post_hook

MODE, COUNT = sys.argv[1], int(sys.argv[2])
saves = 0


def kill():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def counting(save_checkpoint):
    def save(self, *args, **kwargs):
        global saves
        saves += 1
        return save_checkpoint(self, *args, **kwargs)

    return save


def half_then_kill(torch_save):
    def save(obj, path):
        if MODE != "while-saving" or saves != COUNT:
            return torch_save(obj, path)
        buffer = io.BytesIO()
        torch.save(obj.state_dict(), buffer)
        data = buffer.getvalue()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
        kill()

    return save


def after_save(optimizer, args, kwargs):
    if MODE == "after-saving" and saves >= COUNT:
        kill()


checkpoints.Checkpointer.save_checkpoint = counting(
    checkpoints.Checkpointer.save_checkpoint
)
for kind, hook in list(checkpoints.DEFAULT_SAVE_HOOKS.items()):
    if hook is checkpoints.torch_save:
        checkpoints.DEFAULT_SAVE_HOOKS[kind] = half_then_kill(hook)
register_optimizer_step_post_hook(after_save)

sys.argv = sys.argv[3:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
raise SystemExit(f"the run ended before the kill ({MODE} {COUNT})")
