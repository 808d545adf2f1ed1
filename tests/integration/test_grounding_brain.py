"""GroundingBrain on SynthVGS tiny: intra-epoch checkpoints resume exactly,
the best checkpoint is the one with the best validation mean R@10, and the
test metrics match a recomputation from the saved model."""

import json
import os

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter
from speechbrain.utils.train_logger import FileTrainLogger

from speechbrain_vgs.brains import BEST_KEY, GroundingBrain
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.image import SmallImageEncoder
from speechbrain_vgs.losses import InfoNCE
from speechbrain_vgs.similarity import Similarity


class Interrupted(Exception):
    """Stands for a job killed in the middle of an epoch."""


class InterruptedBrain(GroundingBrain):
    """Stops training after ``stop_after`` optimizer steps."""

    stop_after = None

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        if self.optimizer_step == self.stop_after:
            raise Interrupted()


def make_brain(folder, brain_class=GroundingBrain, epochs=2, **run_opts):
    torch.manual_seed(0)
    audio = ResDAVEnet(widths=(8, 8, 8, 8, 16), blocks=(1, 1, 1, 1))
    image = SmallImageEncoder(embedding_dim=16, channels=(8, 8, 16, 16))
    model = torch.nn.ModuleList([audio, image])
    counter = EpochCounter(epochs)
    hparams = {
        "similarity": Similarity("pooled"),
        "loss": InfoNCE(temperature=0.1),
        "train_logger": FileTrainLogger(os.path.join(folder, "log.txt")),
        "results_file": os.path.join(folder, "results.json"),
        "epoch_counter": counter,
    }
    checkpointer = Checkpointer(
        os.path.join(folder, "save"), {"model": model, "counter": counter}
    )
    return brain_class(
        modules={
            "compute_features": LogMel(),
            "audio_encoder": audio,
            "image_encoder": image,
        },
        opt_class=lambda params: torch.optim.Adam(params, 1e-3),
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True, **run_opts},
        checkpointer=checkpointer,
    )


@pytest.fixture(scope="module")
def datasets(synthvgs_tiny):
    manifests = os.path.join(synthvgs_tiny, "manifests", "en")
    return vgs_datasets(
        {
            name: os.path.join(manifests, f"{name}.json")
            for name in ("train", "valid", "test_A")
        },
        {"data_root": str(synthvgs_tiny), "image_root": str(synthvgs_tiny)},
        image_size=32,
    )


def fit(brain, datasets):
    loader = {"batch_size": 8, "shuffle": True, "drop_last": True}
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=dict(loader),
        valid_loader_kwargs={"batch_size": 8},
    )


def test_intra_epoch_resume_is_exact(datasets, tmp_path):
    reference = make_brain(tmp_path / "ref")
    fit(reference, datasets)

    InterruptedBrain.stop_after = 3  # in the middle of the first epoch
    first = make_brain(
        tmp_path / "resumed", InterruptedBrain, ckpt_interval_steps=1
    )
    with pytest.raises(Interrupted):
        fit(first, datasets)
    assert first.optimizer_step == 3
    resumed = make_brain(tmp_path / "resumed", ckpt_interval_steps=1)
    fit(resumed, datasets)

    assert resumed.optimizer_step == reference.optimizer_step
    for (name, a), b in zip(
        reference.modules.named_parameters(), resumed.modules.parameters()
    ):
        assert torch.allclose(a, b, atol=1e-6), name


def test_best_checkpoint_and_results(datasets, tmp_path):
    brain = make_brain(tmp_path, epochs=3)
    fit(brain, datasets)
    ckpts = brain.checkpointer.list_checkpoints()
    assert len(ckpts) == 1  # only the best end-of-epoch checkpoint is kept
    best = ckpts[0].meta[BEST_KEY]

    brain.evaluate_sets({"valid": datasets["valid"]}, {"batch_size": 8})
    valid = brain.results["valid"]
    # The loaded best checkpoint reproduces its own validation score.
    assert (
        valid["speech_to_image_r10"] + valid["image_to_speech_r10"]
    ) / 2 == pytest.approx(best)
    with open(tmp_path / "results.json", encoding="utf-8") as f:
        assert json.load(f) == {"valid": pytest.approx(valid)}
