"""A batch whose loss is NaN or infinite makes no update and is logged with
its utterances; more of them than ``--nonfinite_patience`` in an epoch stop
the run with a message naming the utterances. The input that causes one:
a wav whose samples are finite but so loud (3e37) that its log-mel
features overflow."""

import logging

import numpy as np
import pytest
import soundfile
import torch
from tiny_brain import fit, make_brain, small_manifest, train_set

from speechbrain_vgs.brains.base import NonFiniteLossError
from speechbrain_vgs.dataio.manifest import read_json, write_json


@pytest.fixture
def loud_manifest(synthvgs_tiny, tmp_path):
    """8 utterances; the first (shortest, so in the first batch) is
    rewritten at an amplitude that overflows the features."""
    valid = small_manifest(synthvgs_tiny, tmp_path / "valid.json")
    manifest = read_json(valid)
    first = min(manifest, key=lambda u: manifest[u]["duration"])
    wav, rate = soundfile.read(manifest[first]["wav"], dtype="float32")
    loud = str(tmp_path / "loud.wav")
    soundfile.write(loud, wav * np.float32(3e37), rate, subtype="FLOAT")
    manifest[first]["wav"] = loud
    write_json(tmp_path / "train.json", manifest)
    return train_set(tmp_path / "train.json"), train_set(valid), first


def test_nonfinite_batch_is_skipped_and_logged(loud_manifest, tmp_path, caplog):
    train, valid, loud_id = loud_manifest
    brain = make_brain(tmp_path / "run")
    before = [p.detach().clone() for p in brain.modules.parameters()]
    with caplog.at_level(logging.WARNING, logger="speechbrain_vgs"):
        fit(brain, train, valid)
    messages = [
        r.getMessage() for r in caplog.records if "loss is" in r.message
    ]
    assert len(messages) == 1, messages  # the first batch only
    assert loud_id in messages[0] and "makes no update" in messages[0]
    assert brain.optimizer_step == 1  # the second batch's update only
    after = list(brain.modules.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_persistent_nonfinite_losses_stop_the_run(loud_manifest, tmp_path):
    train, valid, loud_id = loud_manifest
    brain = make_brain(tmp_path / "run", nonfinite_patience=0)
    with pytest.raises(NonFiniteLossError, match="nonfinite_patience=0") as e:
        fit(brain, train, valid)
    assert loud_id in str(e.value)
