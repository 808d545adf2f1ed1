"""Each Brain declares the hparams and modules it reads; building it with a
needed key missing, or an optional key misspelt, fails at once naming the
key (and the likely intent); absent optional keys get their defaults."""

import pytest
import torch

from speechbrain_vgs.brains import (
    CLIPBrain,
    GroundingBrain,
    HparamsError,
    HuBERTPretrainBrain,
    KeywordSpottingBrain,
    SpeechCLIPBrain,
)
from speechbrain_vgs.brains.base import check_hparams, declared_keys

BRAINS = [
    GroundingBrain,
    SpeechCLIPBrain,
    CLIPBrain,
    HuBERTPretrainBrain,
    KeywordSpottingBrain,
]


def complete(brain_class):
    """Placeholder hparams and modules with every needed key."""
    needed, _, modules = declared_keys(brain_class)
    hparams = {key: object() for key in needed}
    return hparams, {key: torch.nn.Identity() for key in modules}


@pytest.mark.parametrize("brain_class", BRAINS)
def test_each_missing_key_is_named(brain_class):
    hparams, modules = complete(brain_class)
    check_hparams(brain_class, hparams, modules)  # complete: no error
    for key in hparams:
        partial = {k: v for k, v in hparams.items() if k != key}
        with pytest.raises(HparamsError, match=f"missing hparams key '{key}'"):
            brain_class(modules=modules, hparams=partial)
    for key in modules:
        partial = {k: v for k, v in modules.items() if k != key}
        with pytest.raises(HparamsError, match=f"missing module '{key}'"):
            brain_class(modules=partial, hparams=hparams)


@pytest.mark.parametrize("brain_class", BRAINS)
def test_a_misspelt_needed_key_names_the_intent(brain_class):
    hparams, modules = complete(brain_class)
    key = next(iter(hparams))
    hparams[key[:-1] + key[-1].upper() + "x"] = hparams.pop(key)
    with pytest.raises(HparamsError) as error:
        check_hparams(brain_class, hparams, modules)
    assert f"missing hparams key '{key}' (did you mean" in str(error.value)


def test_a_misspelt_optional_key_names_the_intent():
    hparams, modules = complete(GroundingBrain)
    hparams["feature_augmnet"] = None
    with pytest.raises(
        HparamsError,
        match="'feature_augmnet' is not read by GroundingBrain: "
        "did you mean 'feature_augment'",
    ):
        check_hparams(GroundingBrain, hparams, modules)


def test_several_problems_in_one_message():
    _, modules = complete(GroundingBrain)
    with pytest.raises(HparamsError) as error:
        check_hparams(GroundingBrain, {"similarty": 1}, {})
    message = str(error.value)
    for key in ("similarity", "loss", "train_logger", "results_file"):
        assert f"missing hparams key '{key}'" in message
    for module in modules:
        assert f"missing module '{module}'" in message


def test_other_keys_and_run_options_are_accepted_and_defaults_filled(
    tmp_path,
):
    hparams, modules = complete(GroundingBrain)
    hparams.update(data_folder="x", number_of_epochs=3, max_grad_norm=5.0)
    brain = GroundingBrain(
        modules=modules, hparams=hparams, run_opts={"device": "cpu"}
    )
    assert brain.hparams.feature_augment is None
    assert brain.hparams.recall_ks == (1, 5, 10)
    assert brain.hparams.lr_scheduler is None
    assert brain.max_grad_norm == 5.0  # SpeechBrain still reads its options
