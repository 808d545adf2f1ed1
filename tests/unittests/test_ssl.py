"""Tests for the SSL upstream: loading, layer weights, padding, freezing,
HuBERT's span masking."""

import json
import os
import shutil

import huggingface_hub
import pytest
import torch
import torch.nn.functional as F
from transformers import HubertModel, Wav2Vec2FeatureExtractor

from speechbrain_vgs.lobes.masking import span_mask
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert


@pytest.fixture(scope="module")
def hubert_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hubert")
    return {
        "base": save_tiny_hubert(root / "base"),
        "large": save_tiny_hubert(root / "large", large=True, seed=1),
    }


def waves(*sizes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=generator) for n in sizes]


def pad(wavs):
    batch = torch.zeros(len(wavs), max(len(w) for w in wavs))
    for i, wav in enumerate(wavs):
        batch[i, : len(wav)] = wav
    lengths = torch.tensor([len(w) / batch.shape[1] for w in wavs])
    return batch, lengths


def transformers_reference(folder, wavs, weights, layernorm=False):
    """Weighted hidden states computed with transformers' own feature
    extractor (padding, attention mask, normalisation) and model."""
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
    model = HubertModel.from_pretrained(folder).eval()
    inputs = extractor(
        [w.numpy() for w in wavs],
        sampling_rate=16000,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    hidden = torch.stack(out.hidden_states)
    if layernorm:
        hidden = F.layer_norm(hidden, hidden.shape[-1:])
    weights = torch.softmax(weights, 0).view(-1, 1, 1, 1)
    frames = model._get_feat_extract_output_lengths(
        inputs["attention_mask"].sum(1)
    )
    return (weights * hidden).sum(0), frames


def test_loads_folder_with_all_hidden_states(hubert_folders):
    upstream = SSLUpstream(hubert_folders["base"])
    assert upstream.num_layers == 3 and upstream.dim == 32
    trainable = [p for p in upstream.parameters() if p.requires_grad]
    assert len(trainable) == 1 and trainable[0] is upstream.weights
    assert torch.equal(upstream.weights, torch.zeros(3))
    assert torch.allclose(upstream.layer_weights(), torch.full((3,), 1 / 3))


@pytest.mark.parametrize("layernorm", [False, True])
def test_matches_transformers_on_a_padded_batch(hubert_folders, layernorm):
    # Large layout: per-frame LayerNorm in the CNN, so transformers' own
    # padded computation is the reference for every item of the batch.
    folder = hubert_folders["large"]
    upstream = SSLUpstream(folder, layernorm=layernorm)
    with torch.no_grad():
        upstream.weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    wavs = waves(1600, 950, 1210)
    features, lengths = upstream(*pad(wavs))
    reference, frames = transformers_reference(
        folder, wavs, upstream.weights.detach(), layernorm
    )
    assert features.shape == reference.shape
    valid = torch.round(lengths * features.shape[1]).long()
    assert torch.equal(valid, frames)
    for i, n in enumerate(frames):
        assert torch.allclose(features[i, :n], reference[i, :n], atol=1e-5)
        assert torch.all(features[i, n:] == 0)


def test_base_layout_matches_transformers_without_padding(hubert_folders):
    # Checks the padding-aware group norm against torch's GroupNorm.
    folder = hubert_folders["base"]
    upstream = SSLUpstream(folder)
    wav = waves(1300)
    features, lengths = upstream(wav[0].unsqueeze(0))
    reference, frames = transformers_reference(folder, wav, upstream.weights)
    assert torch.equal(lengths, torch.ones(1))
    assert torch.allclose(features, reference, atol=1e-5)


@pytest.mark.parametrize("layout", ["base", "large"])
def test_padding_does_not_change_valid_frames(hubert_folders, layout):
    upstream = SSLUpstream(hubert_folders[layout], layernorm=True)
    with torch.no_grad():
        upstream.weights.copy_(torch.tensor([1.0, 0.0, -1.0]))
    short, long = waves(730, 2000, seed=3)
    alone, alone_lengths = upstream(short.unsqueeze(0))
    padded, padded_lengths = upstream(*pad([short, long]))
    n = alone.shape[1]
    assert torch.round(padded_lengths[0] * padded.shape[1]) == n
    assert alone_lengths == 1.0 and padded_lengths[1] == 1.0
    assert torch.allclose(padded[0, :n], alone[0], atol=1e-5)
    assert torch.all(padded[0, n:] == 0)
    longer, _ = upstream(long.unsqueeze(0))
    assert torch.allclose(padded[1], longer[0], atol=1e-5)


def test_frozen_upstream_has_no_graph_and_stays_in_eval(hubert_folders):
    upstream = SSLUpstream(hubert_folders["base"]).train()
    assert upstream.training and not upstream.ssl.model.training
    captured = []
    upstream.ssl.model.register_forward_hook(
        lambda module, args, out: captured.append(out.last_hidden_state)
    )
    wavs = waves(900, seed=5)[0].unsqueeze(0).requires_grad_(True)
    first, _ = upstream(wavs)
    second, _ = upstream(wavs)
    assert torch.equal(first, second)  # no dropout
    assert not captured[0].requires_grad  # computed without autograd
    first.pow(2).sum().backward()
    assert upstream.weights.grad.abs().sum() > 0
    assert wavs.grad is None
    assert all(p.grad is None for p in upstream.ssl.parameters())


def test_unfrozen_upstream_trains(hubert_folders):
    upstream = SSLUpstream(hubert_folders["base"], freeze=False).train()
    assert upstream.ssl.model.training
    features, _ = upstream(*pad(waves(800, 600, seed=2)))
    features.pow(2).sum().backward()
    conv = upstream.ssl.model.feature_extractor.conv_layers[0].conv
    assert conv.weight.grad.abs().sum() > 0


def test_hub_id_loads_offline_from_a_cache(
    hubert_folders, tmp_path, monkeypatch
):
    # The layout huggingface_hub downloads facebook/hubert-base-ls960 into.
    repo = tmp_path / "models--facebook--hubert-base-ls960"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(hubert_folders["base"], repo / "snapshots" / commit)
    os.makedirs(repo / "refs")
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    from_hub = SSLUpstream("facebook/hubert-base-ls960", save_path=tmp_path)
    from_folder = SSLUpstream(hubert_folders["base"])
    wavs, lengths = pad(waves(700, 500, seed=4))
    assert torch.equal(
        from_hub(wavs, lengths)[0], from_folder(wavs, lengths)[0]
    )


def test_too_short_utterance_is_an_error(hubert_folders):
    upstream = SSLUpstream(hubert_folders["base"])
    with pytest.raises(ValueError, match=r"\[10\] samples"):
        upstream(torch.randn(2, 400), torch.tensor([1.0, 0.025]))


def test_missing_folder_is_named(tmp_path):
    missing = tmp_path / "results" / "export"
    with pytest.raises(FileNotFoundError, match=r"results/export: no such"):
        SSLUpstream(missing)


def test_span_mask_covers_about_half_of_the_valid_frames():
    generator = torch.Generator().manual_seed(0)
    frames = torch.tensor([500] * 100 + [40] * 100)
    mask = span_mask(frames, 500, mask_prob=0.8, span=10, generator=generator)
    assert not mask[100:, 40:].any()  # padding never masked
    # spans of 10 starting at 8% of the frames cover 1 - 0.92^10 = 57%
    coverage = mask[:100].float().mean().item()
    assert 0.5 < coverage < 0.64
    starts = mask[:, 1:] & ~mask[:, :-1]
    ends = ~mask[:, 1:] & mask[:, :-1]
    assert starts.sum() > 0 and ends.sum() > 0
    # every utterance gets at least one span, even a short one
    assert mask.any(1).all()
    tiny = span_mask(torch.tensor([3]), 3, span=10)
    assert tiny.all()


def test_masked_frames_enter_the_transformer_as_the_mask_embedding(tmp_path):
    upstream = SSLUpstream(
        save_tiny_hubert(tmp_path, dropout=0.0), freeze=False
    ).eval()
    model = upstream.ssl.model
    seen = []
    hook = model.encoder.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].clone())
    )
    wavs = torch.randn(2, 1000)
    lengths = torch.tensor([1.0, 0.6])
    plain, frames = upstream.hidden_states(wavs, lengths)
    mask = span_mask(frames, plain[0].shape[1], span=3)
    masked, _ = upstream.hidden_states(wavs, lengths, mask=mask)
    hook.remove()
    unmasked_input, masked_input = seen
    assert torch.allclose(
        masked_input[mask], model.masked_spec_embed.expand(int(mask.sum()), -1)
    )
    assert torch.equal(masked_input[~mask], unmasked_input[~mask])
    assert not torch.allclose(masked[-1], plain[-1])
    # no mask at all is the same as an empty one
    empty = torch.zeros_like(mask)
    again, _ = upstream.hidden_states(wavs, lengths, mask=empty)
    assert torch.equal(again[-1], plain[-1])


def encoder_inputs(upstream, wavs, lengths):
    """The transformer's inputs of one forward pass."""
    seen = []
    hook = upstream.ssl.model.encoder.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone())
    )
    try:
        upstream(wavs, lengths)
    finally:
        hook.remove()
    return seen[0]


def test_fine_tuning_masks_spans_in_training_only(tmp_path):
    torch.manual_seed(0)
    upstream = SSLUpstream(
        save_tiny_hubert(tmp_path, dropout=0.0),
        freeze=False,
        mask_prob=0.3,
        mask_length=3,
    )
    embed = upstream.ssl.model.masked_spec_embed.detach()
    wavs, lengths = pad(waves(4000, 2000))
    masked = (encoder_inputs(upstream.train(), wavs, lengths) == embed).all(-1)
    frames, _ = upstream.frame_counts(wavs, lengths)
    share = masked[0].float().mean().item()
    assert 0.15 < share < 0.31  # 10% of the frames start a span of 3
    assert not masked[1, frames[1] :].any()  # padding never masked
    assert masked[1, : frames[1]].any()
    evaluated = encoder_inputs(upstream.eval(), wavs, lengths)
    assert not (evaluated == embed).all(-1).any()


def test_masking_needs_a_mask_embedding(tmp_path):
    folder = save_tiny_hubert(tmp_path)
    config_file = os.path.join(folder, "config.json")
    with open(config_file) as f:
        config = json.load(f)
    config.update(mask_time_prob=0.0, mask_feature_prob=0.0)
    with open(config_file, "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match="mask embedding"):
        SSLUpstream(folder, mask_prob=0.1)


def test_init_from_a_frozen_upstream_fine_tunes_it_from_its_source(
    hubert_folders, tmp_path
):
    from speechbrain_vgs.dataio.manifest import DataError
    from speechbrain_vgs.recipe import init_model

    def model(freeze):
        torch.manual_seed(int(freeze))
        return torch.nn.ModuleDict(
            {
                "upstream": SSLUpstream(hubert_folders["base"], freeze=freeze),
                "head": torch.nn.Linear(32, 4),
            }
        )

    frozen = model(freeze=True)
    torch.save(frozen.state_dict(), tmp_path / "model.ckpt")
    assert not any(".ssl." in key for key in frozen.state_dict())
    tuned = model(freeze=False)
    init_model(tuned, tmp_path)
    assert torch.equal(tuned["head"].weight, frozen["head"].weight)
    # the fine-tuned upstream starts from its source's weights
    source = SSLUpstream(hubert_folders["base"], freeze=False).state_dict()
    tuned_state = tuned["upstream"].state_dict()
    assert sum(".ssl." in f".{key}" for key in tuned_state) > 10
    assert tuned_state.keys() == source.keys()
    for key, value in tuned_state.items():
        if key.startswith("ssl."):
            assert torch.equal(value, source[key]), key
    # any other missing weight is still an error, naming the file
    state = frozen.state_dict()
    del state["head.bias"]
    torch.save(state, tmp_path / "model.ckpt")
    with pytest.raises(DataError, match=r"model\.ckpt: does not fit.*head"):
        init_model(model(freeze=False), tmp_path)
