"""Tests for the SpeechCLIP heads: parallel, cascaded, hybrid."""

import numpy as np
import pytest
import torch

from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.speechclip import (
    CascadedHead,
    HeadOutput,
    HybridHead,
    KeywordSelector,
    ParallelHead,
    select_keywords,
)
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip

BATCH, FRAMES, DIM, TOKEN_DIM, OUT_DIM, K, VOCAB = 3, 7, 8, 4, 6, 3, 20
VALID = [7, 4, 1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    checkpoint, config = save_tiny_clip(tmp_path_factory.mktemp("clip"))
    return FrozenCLIP("tiny-clip", None, checkpoint, config)


def make_heads():
    torch.manual_seed(0)
    return {
        "parallel": ParallelHead(DIM, OUT_DIM, num_heads=2, ffn_dim=16),
        "cascaded": CascadedHead(DIM, TOKEN_DIM, num_keywords=K),
        "hybrid": HybridHead(DIM, TOKEN_DIM, OUT_DIM, num_keywords=K),
    }


def vocabulary():
    generator = torch.Generator().manual_seed(1)
    table = torch.randn(VOCAB, TOKEN_DIM, generator=generator)
    return table, torch.arange(100, 100 + VOCAB)


def run(name, head, features, lengths):
    """The head's outputs that are not None (the fields of its branches)."""
    output = head(features, lengths, *vocabulary())
    return tuple(field for field in output if field is not None)


def test_shapes_and_outputs():
    features = torch.randn(BATCH, FRAMES, DIM)
    lengths = torch.tensor(VALID) / FRAMES
    table, ids = vocabulary()
    heads = make_heads()
    for head in heads.values():
        head.eval()
    (parallel,) = run("parallel", heads["parallel"], features, lengths)
    assert parallel.shape == (BATCH, OUT_DIM)
    assert torch.allclose(parallel.norm(dim=-1), torch.ones(BATCH))
    keywords, token_ids, scores, attention = run(
        "cascaded", heads["cascaded"], features, lengths
    )
    assert keywords.shape == (BATCH, K, TOKEN_DIM)
    assert attention.shape == (BATCH, K, FRAMES)
    # token ids are vocabulary ids and the keywords are their embeddings
    assert torch.equal(keywords, table[token_ids - 100])
    # the scores are the ranking behind the choice
    assert scores.shape == (BATCH, K, VOCAB)
    assert torch.equal(ids[scores.argmax(-1)], token_ids)
    embeddings, keywords, token_ids, scores, attention = run(
        "hybrid", heads["hybrid"], features, lengths
    )
    assert embeddings.shape == (BATCH, OUT_DIM)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(BATCH))
    assert torch.equal(keywords, table[token_ids - 100])
    assert torch.equal(ids[scores.argmax(-1)], token_ids)
    assert attention.shape == (BATCH, K, FRAMES)
    for b, valid in enumerate(VALID):
        assert torch.all(attention[b, :, valid:] == 0)
        assert torch.all(attention[b, :, :valid].sum(-1) > 0)


def test_heads_declare_their_branches_and_fill_only_those():
    features = torch.randn(BATCH, FRAMES, DIM)
    lengths = torch.tensor(VALID) / FRAMES
    expected = {
        "parallel": ("parallel",),
        "cascaded": ("cascaded",),
        "hybrid": ("parallel", "cascaded"),
    }
    for name, head in make_heads().items():
        assert head.branches == expected[name]
        output = head.eval()(features, lengths, *vocabulary())
        assert isinstance(output, HeadOutput)
        assert (output.parallel is not None) == ("parallel" in head.branches)
        cascaded = ("keywords", "token_ids", "scores", "attention")
        for field in cascaded:
            value = getattr(output, field)
            assert (value is not None) == ("cascaded" in head.branches)


@pytest.mark.parametrize("name", ["parallel", "cascaded", "hybrid"])
def test_padding_invariance(name):
    head = make_heads()[name].eval()
    features = torch.randn(BATCH, FRAMES, DIM)
    lengths = torch.tensor(VALID) / FRAMES
    extra = 5
    padded = torch.cat([features, 100 * torch.randn(BATCH, extra, DIM)], 1)
    # garbage also beyond each item's own length inside the batch
    for b, valid in enumerate(VALID):
        padded[b, valid:] = 50 * torch.randn(FRAMES + extra - valid, DIM)
    padded_lengths = torch.tensor(VALID) / (FRAMES + extra)
    with torch.no_grad():
        outputs = run(name, head, features, lengths)
        padded_outputs = run(name, head, padded, padded_lengths)
    for output, padded_output in zip(outputs, padded_outputs):
        if output.shape[-1] == FRAMES:  # attention maps over frames
            padded_output = padded_output[..., :FRAMES]
        if output.dtype == torch.long:
            assert torch.equal(output, padded_output)
        else:
            assert torch.allclose(output, padded_output, atol=1e-5)


def test_lengths_change_outputs():
    # the invariance above is not vacuous: masking does change outputs
    head = make_heads()["parallel"].eval()
    features = torch.randn(BATCH, FRAMES, DIM)
    with torch.no_grad():
        full = head(features, torch.ones(BATCH)).parallel
        short = head(features, torch.full((BATCH,), 0.5)).parallel
    assert not torch.allclose(full, short, atol=1e-3)


@pytest.mark.parametrize("name", ["cascaded", "hybrid"])
def test_straight_through(name):
    head = make_heads()[name].train()
    table, ids = vocabulary()
    features = torch.randn(BATCH, FRAMES, DIM)
    outputs = head(features, torch.tensor(VALID) / FRAMES, table, ids)
    keywords, token_ids = outputs.keywords, outputs.token_ids
    # forward: exactly the chosen rows (a hard one-hot selection)
    assert torch.equal(keywords, table[token_ids - 100])
    selector = head.selector
    assert keywords.requires_grad
    # backward: the soft gradient reaches the projection and the CLS tokens
    weights = torch.randn(BATCH, K, TOKEN_DIM)
    (keywords * weights).sum().backward()
    assert selector.projection.weight.grad.abs().sum() > 0
    assert selector.batchnorm.weight.grad.abs().sum() > 0
    assert head.cls.grad[-K:].abs().sum() > 0


def test_straight_through_gradient_is_softmax_gradient():
    # the gradient equals that of softmax(cos / tau) @ table
    torch.manual_seed(0)
    table, _ = vocabulary()
    vectors = torch.randn(2, K, TOKEN_DIM, requires_grad=True)
    weights = torch.randn(2, K, TOKEN_DIM)
    keywords, _, _ = select_keywords(vectors, table, 0.1, True)
    (keywords * weights).sum().backward()
    reference = vectors.detach().clone().requires_grad_(True)
    cosine = torch.nn.functional.cosine_similarity(
        reference[:, :, None], table[None, None], dim=-1
    )
    soft = torch.softmax(cosine / 0.1, dim=-1)
    ((soft @ table) * weights).sum().backward()
    assert torch.allclose(vectors.grad, reference.grad, atol=1e-5)
    assert vectors.grad.abs().sum() > 0


def test_evaluation_has_no_gradient_path():
    table, _ = vocabulary()
    vectors = torch.randn(2, K, TOKEN_DIM, requires_grad=True)
    keywords, _, _ = select_keywords(vectors, table, 0.1, False)
    assert not keywords.requires_grad


def test_batchnorm_init():
    table, _ = vocabulary()
    selector = KeywordSelector(DIM, TOKEN_DIM, num_keywords=K)
    selector.init_batchnorm(table)
    array = table.numpy().astype(np.float64)
    mean = np.tile(array.mean(axis=0), K)
    std = np.tile(array.std(axis=0, ddof=1), K)
    gamma = selector.batchnorm.weight.detach().numpy()
    beta = selector.batchnorm.bias.detach().numpy()
    assert np.allclose(gamma, std, atol=1e-6)
    assert np.allclose(beta, mean, atol=1e-6)
    # channel k * token_dim + w of the flattened vector is keyword k, dim w
    selector.eval()
    with torch.no_grad():
        selector.projection.weight.zero_()
        selector.projection.bias.zero_()
        vectors = selector.projection(torch.randn(1, K, DIM)).flatten(1)
        normed = selector.batchnorm(vectors).view(1, K, TOKEN_DIM)
    assert torch.allclose(normed[0], table.mean(0).expand(K, -1), atol=1e-6)
    with pytest.raises(ValueError, match="token table"):
        selector.init_batchnorm(torch.randn(5, TOKEN_DIM + 1))


def test_special_tokens_never_chosen(clip):
    table = clip.token_embedding.weight
    vocabulary = clip.vocabulary
    assert len(vocabulary) == table.shape[0] - len(clip.special_ids)
    special = torch.tensor(clip.special_ids)
    # keyword vectors exactly equal to the special tokens' embeddings
    vectors = table[special].unsqueeze(0)
    _, indices, _ = select_keywords(
        vectors, clip.vocabulary_embeddings, 0.1, False
    )
    token_ids = vocabulary[indices]
    assert not torch.isin(token_ids, special).any()
    # the chosen ids are the best non-special ones over the whole table
    cosine = torch.nn.functional.cosine_similarity(
        vectors[0][:, None], table[None], dim=-1
    )
    cosine[:, special] = -torch.inf
    assert torch.equal(token_ids[0], cosine.argmax(-1))
    # through the head: BatchNorm's beta makes the keywords the special rows
    head = CascadedHead(DIM, clip.token_dim, num_keywords=3).eval()
    with torch.no_grad():
        head.selector.projection.weight.zero_()
        head.selector.projection.bias.zero_()
        head.selector.batchnorm.weight.zero_()
        head.selector.batchnorm.bias.copy_(table[special].flatten())
        token_ids = head(
            torch.randn(2, 4, DIM), None, clip.vocabulary_embeddings, vocabulary
        ).token_ids
    assert not torch.isin(token_ids, special).any()


@pytest.mark.parametrize("name", ["cascaded", "hybrid"])
def test_keywords_through_clip(clip, name):
    torch.manual_seed(0)
    if name == "cascaded":
        head = CascadedHead(DIM, clip.token_dim, num_keywords=K)
    else:
        head = HybridHead(DIM, clip.token_dim, clip.embedding_dim, K)
    head.init_batchnorm(clip.vocabulary_embeddings)
    head.train()
    features = torch.randn(BATCH, FRAMES, DIM)
    outputs = head(
        features,
        torch.tensor(VALID) / FRAMES,
        clip.vocabulary_embeddings,
        clip.vocabulary,
    )
    keywords, token_ids = outputs.keywords, outputs.token_ids
    assert torch.equal(keywords, clip.token_embedding.weight[token_ids])
    embeddings = clip.encode_keywords(keywords)
    assert embeddings.shape == (BATCH, clip.embedding_dim)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(BATCH))
    embeddings.sum().backward()
    assert head.selector.projection.weight.grad.abs().sum() > 0
    assert head.cls.grad.abs().sum() > 0
    assert clip.token_embedding.weight.grad is None


def test_bad_vocabulary():
    head = CascadedHead(DIM, TOKEN_DIM, num_keywords=K)
    table, ids = vocabulary()
    with pytest.raises(ValueError, match="vocabulary"):
        head(torch.randn(2, 4, DIM), None, table, ids[:-1])
