"""The learning-rate schedule's length comes from the train loader: the
same recipe yaml on the tiny corpus and on a larger dataset ends its
schedule at the last update of the last epoch (with gradient accumulation
too), and a fixed-length schedule that disagrees fails before training."""

import os

import pytest
from hyperpyyaml import load_hyperpyyaml
from recipe_runner import ROOT
from speechbrain.nnet.schedulers import LinearWarmupScheduler

from speechbrain_vgs.brains import CLIPBrain, HparamsError
from speechbrain_vgs.dataio.captions import (
    caption_dataset,
    clip_transforms,
    read_synthvgs_captions,
)
from speechbrain_vgs.schedulers import LinearWarmupDecay

YAML = os.path.join(ROOT, "recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml")
BATCH = 8
EPOCHS = 2


class LoggedCLIPBrain(CLIPBrain):
    """Records the learning rate of every update."""

    def on_fit_batch_start(self, batch, should_step):
        super().on_fit_batch_start(batch, should_step)
        if should_step:
            self.lrs.append(self.optimizer.param_groups[0]["lr"])


def recipe_hparams(folder, data_folder):
    """The CLIP recipe's yaml (smaller towers, batches of 8)."""
    overrides = {
        "data_folder": data_folder,
        "output_folder": str(folder),
        "batch_size": BATCH,
        "number_of_epochs": EPOCHS,
        "vision_layers": 1,
        "text_layers": 1,
    }
    with open(YAML, encoding="utf-8") as f:
        return load_hyperpyyaml(f, overrides)


def fit(hparams, entries, **run_opts):
    """Trains on ``entries`` without validation; returns the Brain."""
    train = caption_dataset(entries, *clip_transforms(hparams["clip"]))
    brain = LoggedCLIPBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True, **run_opts},
        checkpointer=hparams["checkpointer"],
    )
    brain.lrs = []
    brain.fit(
        hparams["epoch_counter"],
        train,
        train_loader_kwargs=hparams["train_dataloader_opts"],
    )
    return brain


@pytest.fixture(scope="module")
def captions(synthvgs_tiny):
    """The tiny corpus's training captions, and a larger set (all)."""
    splits = read_synthvgs_captions(synthvgs_tiny)
    everything = {k: v for split in splits.values() for k, v in split.items()}
    return {"tiny": splits["train"], "larger": everything}


@pytest.mark.parametrize("size", ["tiny", "larger"])
def test_schedule_ends_at_the_last_update(size, captions, tmp_path):
    hparams = recipe_hparams(tmp_path, str(tmp_path / "unused"))
    scheduler = hparams["lr_scheduler"]
    assert isinstance(scheduler, LinearWarmupDecay)
    brain = fit(hparams, captions[size])
    per_epoch = len(captions[size]) // BATCH  # drop_last
    assert scheduler.num_training_steps == EPOCHS * per_epoch
    assert scheduler.num_warmup_steps == per_epoch  # warmup_epochs: 1
    assert len(brain.lrs) == scheduler.num_training_steps
    assert brain.lrs[-1] == 0.0 and brain.lrs[-2] > 0.0
    assert max(brain.lrs) == pytest.approx(hparams["lr"])
    assert brain.lrs.index(max(brain.lrs)) == per_epoch - 1


def test_schedule_counts_accumulated_updates(captions, tmp_path):
    hparams = recipe_hparams(tmp_path, str(tmp_path / "unused"))
    brain = fit(hparams, captions["larger"], grad_accumulation_factor=2)
    updates = EPOCHS * (len(captions["larger"]) // BATCH // 2)
    assert hparams["lr_scheduler"].num_training_steps == updates
    assert len(brain.lrs) == updates and brain.lrs[-1] == 0.0


def test_a_fixed_schedule_that_disagrees_fails_before_training(
    captions, tmp_path
):
    hparams = recipe_hparams(tmp_path, str(tmp_path / "unused"))
    hparams["lr_scheduler"] = LinearWarmupScheduler(hparams["lr"], 2, 1000)
    with pytest.raises(HparamsError, match="ends after 1000 updates"):
        fit(hparams, captions["tiny"])
