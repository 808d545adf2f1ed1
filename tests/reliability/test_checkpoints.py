"""Checkpoints and outputs: a checkpoint of another model fails with a
message naming it, checkpoints load without running pickled code, and a
process killed while writing an export, results.json or a cache entry
leaves the previous version intact."""

import os
import pickle
import signal
import subprocess
import sys

import pytest
import torch
from recipe_runner import ROOT
from tiny_brain import fit, make_brain, small_manifest, train_set

from speechbrain_vgs.brains.base import CheckpointError
from speechbrain_vgs.dataio.manifest import read_json
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.clip import ImageEmbeddingCache
from speechbrain_vgs.lobes.grounded import load_speech_encoder

KILLER = os.path.join(ROOT, "tests", "reliability", "kill_while_writing.py")


@pytest.fixture(scope="module")
def dataset(synthvgs_tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("manifest") / "train.json"
    return train_set(small_manifest(synthvgs_tiny, path))


def test_checkpoint_of_another_model_names_it(dataset, tmp_path):
    fit(make_brain(tmp_path), dataset, dataset)
    wider = make_brain(tmp_path, widths=(8, 8, 8, 8, 32))
    with pytest.raises(CheckpointError) as error:
        fit(wider, dataset, dataset)
    message = str(error.value)
    assert str(tmp_path / "save" / "CKPT+") in message
    assert "does not fit the model of the hparams" in message
    assert "size mismatch" in message or "Missing key" in message


class Payload:
    """A pickle that writes a file when it is loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_checkpoints_load_without_running_code(dataset, tmp_path):
    brain = make_brain(tmp_path)
    fit(brain, dataset, dataset)
    (checkpoint,) = brain.checkpointer.list_checkpoints()
    marker = tmp_path / "code-ran"
    with open(checkpoint.paramfiles["model"], "wb") as f:
        torch.save({"x": Payload(str(marker))}, f, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load"):
        make_brain(tmp_path).evaluate(dataset, test_loader_kwargs={})
    assert not marker.exists()


def kill_while_writing(kind, folder):
    process = subprocess.run(
        [sys.executable, KILLER, kind, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]


def test_export_killed_while_written_keeps_the_previous(tmp_path):
    folder = tmp_path / "export"
    kill_while_writing("export", folder)
    feats, encoder = load_speech_encoder(folder)  # whole and loadable
    assert read_json(folder / "encoder.json")["info"] == {"version": 1}
    torch.manual_seed(1)  # the first export's weights
    first = ResDAVEnet(widths=(8, 8, 8, 8, 16), blocks=(1, 1, 1, 1))
    for a, b in zip(first.state_dict().values(), encoder.state_dict().values()):
        assert torch.equal(a, b)


def test_results_killed_while_written_keep_the_previous(tmp_path):
    kill_while_writing("results", tmp_path)
    assert read_json(tmp_path / "results.json") == {"version": 1}


def test_cache_killed_while_written_keeps_the_previous(tmp_path):
    kill_while_writing("cache", tmp_path)
    cache = ImageEmbeddingCache(tmp_path, in_memory=False)
    assert torch.equal(cache.get("image"), torch.ones(4))
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".pt")) == [
        "image.pt"
    ]
