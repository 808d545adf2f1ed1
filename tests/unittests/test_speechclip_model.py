"""The SpeechCLIP model: its state dict holds what training changes (layer
weights, head, keyword vocabulary) and not the frozen HuBERT/CLIP weights,
and it round-trips into a freshly built model; the Brain trains a
fine-tuned upstream at its own learning rate and pairs augmented speech
with its images."""

import pytest
import speechbrain as sb
import torch
from PIL import Image
from speechbrain.augment.augmenter import Augmenter
from speechbrain.augment.time_domain import SpeedPerturb
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.nnet.schedulers import LinearWarmupScheduler
from speechbrain.utils.train_logger import FileTrainLogger

from speechbrain_vgs.brains import HparamsError, SpeechCLIPBrain
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.speechclip import (
    CascadedHead,
    HybridHead,
    ParallelHead,
    SpeechCLIP,
    ranked_keywords,
)
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert
from speechbrain_vgs.losses import InfoNCE

CAPTIONS = ["a red circle above two blue squares", "a green car"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    return save_tiny_hubert(tmp / "hubert"), save_tiny_clip(tmp / "clip")


def build(sources, head_name, seed, freeze=True):
    hubert, (checkpoint, config) = sources
    torch.manual_seed(seed)
    clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
    upstream = SSLUpstream(hubert, freeze=freeze)
    heads = {
        "parallel": lambda: ParallelHead(32, 32, num_heads=2, ffn_dim=16),
        "cascaded": lambda: CascadedHead(32, 32, num_keywords=3),
        "hybrid": lambda: HybridHead(32, 32, 32, num_keywords=3),
    }
    return SpeechCLIP(upstream, heads[head_name](), clip)


def test_frozen_weights_stay_out_of_the_state_dict(sources):
    model = build(sources, "hybrid", 0)
    keys = set(model.state_dict())
    assert "upstream.weights" in keys
    assert "clip.vocabulary" in keys
    assert any(k.startswith("head.") for k in keys)
    assert not any(k.startswith(("upstream.ssl.", "clip.model.")) for k in keys)
    # inside a larger model too (the exclusion follows the prefix)
    outer = torch.nn.ModuleDict({"speechclip": model})
    assert set(outer.state_dict()) == {f"speechclip.{k}" for k in keys}
    # a fine-tuned upstream is saved whole
    tuned = build(sources, "hybrid", 0, freeze=False)
    assert any(k.startswith("upstream.ssl.") for k in tuned.state_dict())


@pytest.mark.parametrize("head_name", ["parallel", "cascaded", "hybrid"])
def test_state_dict_round_trip(sources, head_name):
    trained = build(sources, head_name, 0)
    trained.set_vocabulary(trained.clip.subword_vocabulary(CAPTIONS))
    with torch.no_grad():
        trained.upstream.weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    trained.eval()
    fresh = build(sources, head_name, 1).eval()  # other init, full vocab
    assert len(fresh.clip.vocabulary) != len(trained.clip.vocabulary)
    fresh.load_state_dict(trained.state_dict())  # strict
    assert torch.equal(fresh.clip.vocabulary, trained.clip.vocabulary)
    wavs, lengths = torch.randn(2, 1600), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        expected, got = trained(wavs, lengths), fresh(wavs, lengths)
    for branch in trained.branches:
        assert torch.equal(getattr(got, branch), getattr(expected, branch))
    if head_name != "parallel":
        assert torch.equal(got.token_ids, expected.token_ids)
        assert torch.isin(got.token_ids, trained.clip.vocabulary).all()


def test_set_vocabulary_initialises_keyword_batchnorm(sources):
    model = build(sources, "cascaded", 0)
    model.set_vocabulary(model.clip.subword_vocabulary(CAPTIONS))
    table = model.clip.token_embedding.weight[model.clip.vocabulary]
    batchnorm = model.head.selector.batchnorm
    assert torch.allclose(batchnorm.bias[:32], table.mean(0))
    assert torch.allclose(batchnorm.weight[32:64], table.std(0))


def test_cascaded_output_contract(sources):
    model = build(sources, "cascaded", 0).eval()
    model.set_vocabulary(model.clip.subword_vocabulary(CAPTIONS))
    with torch.no_grad():
        out = model(torch.randn(2, 1600), torch.tensor([1.0, 0.5]))
    assert out.parallel is None
    assert out.cascaded.shape == (2, 32)
    assert out.scores.shape == (2, 3, len(model.clip.vocabulary))
    ranked = ranked_keywords(out.scores, model.clip.vocabulary, 4)
    assert torch.equal(ranked[..., 0], out.token_ids)
    # the cascaded embedding is CLIP's text embedding of [start, k.., end]
    table = model.clip.token_embedding.weight
    expected = model.clip.encode_keywords(table[out.token_ids])
    assert torch.allclose(out.cascaded, expected, atol=1e-6)
    # attention is zero on the padded frames of the shorter utterance
    frames = out.attention.shape[-1]
    valid = int(round(out.lengths[1].item() * frames))
    assert valid < frames
    assert torch.all(out.attention[1, :, valid:] == 0)


def brain_hparams(model, folder, **extra):
    """What a SpeechCLIPBrain needs, plus ``extra``."""
    return {
        "frozen_clip": model.clip,
        "retrieval_branch": model.branches[0],
        "train_logger": FileTrainLogger(str(folder / "log.txt")),
        "results_file": str(folder / "results.json"),
        **extra,
    }


def test_brain_scales_the_fine_tuned_upstream_learning_rate(sources, tmp_path):
    model = build(sources, "parallel", 0, freeze=False)
    brain = SpeechCLIPBrain(
        modules={"model": model, "loss": InfoNCE()},
        opt_class=lambda params: torch.optim.Adam(params, lr=1e-3),
        hparams=brain_hparams(
            model,
            tmp_path,
            upstream_lr_scale=0.1,
            lr_scheduler=LinearWarmupScheduler(1e-3, 1, 10),
        ),
        run_opts={"device": "cpu"},
    )
    brain.init_optimizers()
    brain.on_fit_batch_start(None, should_step=True)
    head_group, upstream_group = brain.optimizer.param_groups
    assert head_group["lr"] == pytest.approx(1e-3)
    assert upstream_group["lr"] == pytest.approx(1e-4)
    # all of the upstream but its mask embedding (unused without masking,
    # it would leave DDP waiting for its gradient)
    mask_embedding = model.upstream.ssl.model.masked_spec_embed
    assert not mask_embedding.requires_grad
    ssl = {id(p) for p in model.upstream.ssl.parameters() if p.requires_grad}
    assert id(mask_embedding) not in ssl
    assert {id(p) for p in upstream_group["params"]} == ssl
    assert id(model.upstream.weights) in {id(p) for p in head_group["params"]}
    # Adam's first step moves each weight by about its learning rate
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    out = model(torch.randn(4, 1600), torch.ones(4))
    out.parallel.sum().backward()
    brain.optimizer.step()
    steps = {
        name: (p.detach() - before[name]).abs().max().item()
        for name, p in model.named_parameters()
        if p.grad is not None
    }
    upstream = [s for n, s in steps.items() if n.startswith("upstream.ssl")]
    head = [s for n, s in steps.items() if n.startswith("head.")]
    assert max(upstream) == pytest.approx(1e-4, rel=0.01)
    assert max(head) == pytest.approx(1e-3, rel=0.01)


def test_brain_replicates_images_with_the_augmented_speech(sources, tmp_path):
    model = build(sources, "parallel", 0)
    augment = Augmenter(
        concat_original=True,
        augmentations=[SpeedPerturb(16000, speeds=[80])],
    )
    brain = SpeechCLIPBrain(
        modules={"model": model, "loss": InfoNCE()},
        hparams=brain_hparams(model, tmp_path, wav_augment=augment),
        run_opts={"device": "cpu"},
    )
    paths = []
    for colour in ("red", "green"):
        paths.append(str(tmp_path / f"{colour}.png"))
        Image.new("RGB", (40, 30), colour).save(paths[-1])
    batch = PaddedBatch(
        [
            {
                "id": "u0",
                "sig": torch.randn(1600),
                "image": paths[0],
                "image_idx": 7,
                "text": CAPTIONS[0],
            },
            {
                "id": "u1",
                "sig": torch.randn(1200),
                "image": paths[1],
                "image_idx": 3,
                "text": CAPTIONS[1],
            },
        ]
    )
    model.eval()  # no dropout: the original half must match unaugmented
    output, images, image_ids = brain.compute_forward(batch, sb.Stage.TRAIN)
    assert output.parallel.shape[0] == 4
    assert image_ids.tolist() == [7, 3, 7, 3]
    reference = model.clip.image_embeddings(paths)
    assert torch.equal(images, torch.cat([reference, reference]))
    plain, _, _ = brain.compute_forward(batch, sb.Stage.VALID)
    assert plain.parallel.shape[0] == 2
    assert torch.allclose(output.parallel[:2], plain.parallel, atol=1e-5)
    # the slowed copies are longer, so they are not the originals
    assert not torch.allclose(output.parallel[2:], plain.parallel, atol=1e-3)
    loss = brain.compute_objectives(
        (output, images, image_ids), batch, sb.Stage.TRAIN
    )
    assert torch.isfinite(loss)


def test_brain_rejects_a_retrieval_branch_the_head_lacks(sources, tmp_path):
    model = build(sources, "parallel", 0)
    hparams = brain_hparams(model, tmp_path, retrieval_branch="cascaded")
    with pytest.raises(HparamsError, match="'cascaded'.*\\('parallel',\\)"):
        SpeechCLIPBrain(
            modules={"model": model, "loss": InfoNCE()},
            hparams=hparams,
            run_opts={"device": "cpu"},
        )
