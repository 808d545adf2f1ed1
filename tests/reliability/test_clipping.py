"""``max_grad_norm`` clips the gradient norm over all of an optimizer's
parameter groups together: SpeechBrain 1.1 clips only the first group, which
would leave a second one (e.g. a fine-tuned upstream with its own learning
rate) unclipped."""

import torch
from tiny_brain import fit, make_brain, small_manifest, train_set


def two_groups(params):
    """Plain SGD (the update is the clipped gradient), in two groups."""
    params = list(params)
    half = len(params) // 2
    return torch.optim.SGD(
        [{"params": params[:half]}, {"params": params[half:]}], lr=1.0
    )


def test_clipping_covers_every_parameter_group(synthvgs_tiny, tmp_path):
    # 16 utterances of several images: one batch, with negatives
    manifest = small_manifest(synthvgs_tiny, tmp_path / "train.json", 16)
    data = train_set(manifest)
    brain = make_brain(tmp_path / "run", max_grad_norm=1e-3)
    brain.opt_class = two_groups
    before = [p.detach().clone() for p in brain.modules.parameters()]
    fit(brain, data, data, batch_size=16)
    assert brain.optimizer_step == 1
    groups = brain.optimizer.param_groups
    assert len(groups) == 2 and all(g["params"] for g in groups)
    params = list(brain.modules.parameters())
    moved = [(p.detach() - b).flatten() for p, b in zip(params, before)]
    # a gradient norm far above 1e-3, clipped to 1e-3 over both groups
    torch.testing.assert_close(
        torch.cat(moved).norm(), torch.tensor(1e-3), rtol=1e-3, atol=0
    )
    second = {id(p) for p in groups[1]["params"]}
    moved_second = torch.cat(
        [m for p, m in zip(params, moved) if id(p) in second]
    )
    assert 0 < moved_second.norm() < 1e-3
