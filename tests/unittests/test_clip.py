"""Tests for the frozen CLIP lobe: keywords, text, image cache, vocabulary."""

import os

import open_clip
import pytest
import torch
from PIL import Image

from speechbrain_vgs.dataio.manifest import DataError
from speechbrain_vgs.lobes.clip import FrozenCLIP, ImageEmbeddingCache
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip

CAPTIONS = [
    "a red circle above two small blue squares",
    "a dog",
    "three green triangles on a white background!",
]


@pytest.fixture(scope="module")
def tiny_clip_files(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def clip(tiny_clip_files):
    checkpoint, config = tiny_clip_files
    return FrozenCLIP("tiny-clip", None, checkpoint, config)


@pytest.fixture
def image_files(tmp_path):
    generator = torch.Generator().manual_seed(0)
    paths = []
    for i, size in enumerate([(40, 30), (32, 32), (50, 64)]):
        pixels = torch.randint(
            0, 256, (size[1], size[0], 3), generator=generator
        )
        path = tmp_path / f"image{i}.png"
        Image.fromarray(pixels.to(torch.uint8).numpy()).save(path)
        paths.append(str(path))
    return paths


def open_clip_image_embeddings(checkpoint, paths):
    """Reference: open_clip's own model, transform and encode_image."""
    model, _, preprocess = open_clip.create_model_and_transforms(
        "tiny-clip", pretrained=checkpoint
    )
    model.eval()
    images = torch.stack(
        [preprocess(Image.open(p).convert("RGB")) for p in paths]
    )
    with torch.no_grad():
        return model.encode_image(images, normalize=True)


def inner_tokens(tokens):
    """The caption tokens between start and end, per row."""
    return [row[1 : int((row != 0).sum()) - 1] for row in tokens]


def test_encode_text_is_open_clips(clip):
    tokens = open_clip.tokenize(CAPTIONS, context_length=77)
    with torch.no_grad():
        reference = clip.model.encode_text(tokens, normalize=True)
    assert torch.allclose(clip.encode_text(CAPTIONS), reference, atol=1e-6)


def test_keywords_of_a_caption_give_its_text_embedding(clip):
    tokens = clip.tokenizer(CAPTIONS)
    reference = clip.encode_text(CAPTIONS)
    inner = inner_tokens(tokens)
    for i, ids in enumerate(inner):
        keywords = clip.token_embedding(ids).unsqueeze(0)
        assert torch.allclose(
            clip.encode_keywords(keywords)[0], reference[i], atol=1e-5
        )
    # one batch of different keyword counts, end token after each count
    longest = max(len(ids) for ids in inner)
    keywords = torch.randn(len(inner), longest, clip.token_dim)
    for i, ids in enumerate(inner):
        keywords[i, : len(ids)] = clip.token_embedding(ids)
    lengths = torch.tensor([len(ids) / longest for ids in inner])
    batched = clip.encode_keywords(keywords, lengths)
    assert torch.allclose(batched, reference, atol=1e-5)


def test_keyword_sequence_is_start_keywords_end(clip):
    seen = {}

    def capture(module, args, kwargs):
        seen["x"], seen["mask"] = args[0], kwargs["attn_mask"]

    hook = clip.model.transformer.register_forward_pre_hook(
        capture, with_kwargs=True
    )
    keywords = torch.randn(2, 5, clip.token_dim)
    clip.encode_keywords(keywords, torch.tensor([1.0, 0.6]))
    hook.remove()
    table = clip.token_embedding.weight
    positions = clip.model.positional_embedding[:7]
    start, end = table[clip.start_id], table[clip.end_id]
    x = seen["x"] - positions
    assert x.shape == (2, 7, clip.token_dim)
    assert torch.allclose(x[:, 0], start.expand(2, -1), atol=1e-6)
    assert torch.allclose(x[0, 1:6], keywords[0], atol=1e-6)
    assert torch.allclose(x[0, 6], end, atol=1e-6)
    assert torch.allclose(x[1, 1:4], keywords[1, :3], atol=1e-6)
    assert torch.allclose(x[1, 4], end, atol=1e-6)
    causal = torch.full((7, 7), float("-inf")).triu(1)
    assert torch.equal(seen["mask"], causal)


def test_gradients_reach_keywords_not_clip(clip):
    clip.train()
    assert not clip.model.training
    assert not any(p.requires_grad for p in clip.parameters())
    keywords = torch.randn(3, 8, clip.token_dim, requires_grad=True)
    target = clip.encode_text(CAPTIONS)
    loss = -(clip.encode_keywords(keywords) * target).sum()
    loss.backward()
    assert keywords.grad.abs().sum() > 0
    assert all(p.grad is None for p in clip.parameters())


def test_cached_and_uncached_image_embeddings_are_identical(
    tiny_clip_files, image_files, tmp_path
):
    checkpoint, config = tiny_clip_files
    reference = open_clip_image_embeddings(checkpoint, image_files)
    cache = tmp_path / "cache"
    clip = FrozenCLIP("tiny-clip", None, checkpoint, config, cache_dir=cache)
    computed = clip.image_embeddings(image_files)
    assert torch.equal(computed, reference)
    assert torch.equal(clip.image_embeddings(image_files), reference)  # memory
    (folder,) = os.listdir(cache)
    assert folder.startswith("tiny-clip-")
    assert len(os.listdir(cache / folder)) == len(image_files)
    from_disk = FrozenCLIP(
        "tiny-clip",
        None,
        checkpoint,
        config,
        cache_dir=cache,
        cache_in_memory=False,
    )
    assert torch.equal(from_disk.image_embeddings(image_files), reference)
    mixed = [image_files[2], image_files[0], image_files[2]]
    assert torch.equal(clip.image_embeddings(mixed), reference[[2, 0, 2]])


def test_cache_is_per_model_and_per_file_version(
    tiny_clip_files, image_files, tmp_path
):
    checkpoint, config = tiny_clip_files
    cache = tmp_path / "cache"
    clip = FrozenCLIP("tiny-clip", None, checkpoint, config, cache_dir=cache)
    before = clip.image_embeddings(image_files[:1])
    other_checkpoint, _ = save_tiny_clip(tmp_path / "other", seed=1)
    other = FrozenCLIP(
        "tiny-clip", None, other_checkpoint, config, cache_dir=cache
    )
    assert len(os.listdir(cache)) == 2
    assert not torch.allclose(other.image_embeddings(image_files[:1]), before)
    # rewrite the image: it is embedded again
    Image.new("RGB", (30, 30), "blue").save(image_files[0])
    stat = os.stat(image_files[0])
    os.utime(image_files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = clip.image_embeddings(image_files[:1])
    assert torch.equal(
        after, open_clip_image_embeddings(checkpoint, image_files[:1])
    )
    assert not torch.allclose(after, before)


def test_image_embedding_cache_on_disk(tmp_path):
    folder = tmp_path / "cache"
    cache = ImageEmbeddingCache(folder)
    embeddings = torch.randn(3, 8)
    for i, embedding in enumerate(embeddings):
        cache.put(f"key{i}", embedding)
    cache.put("key0", embeddings[0])  # a second put replaces the file
    fresh = ImageEmbeddingCache(folder, in_memory=False)
    for i, embedding in enumerate(embeddings):
        assert torch.equal(fresh.get(f"key{i}"), embedding)
    assert fresh.get("missing") is None
    assert not fresh.memory
    assert sorted(os.listdir(folder)) == ["key0.pt", "key1.pt", "key2.pt"]


def test_image_embedding_cache_in_memory_only():
    cache = ImageEmbeddingCache()
    assert cache.get("key") is None
    embedding = torch.ones(4)
    cache.put("key", embedding)
    assert cache.get("key") is embedding


def test_vocabulary(clip):
    specials = {clip.pad_id, clip.start_id, clip.end_id}
    assert clip.start_id == 49406 and clip.end_id == 49407
    assert len(clip.vocabulary) == 49408 - 3
    assert not specials & set(clip.vocabulary.tolist())
    ids = clip.subword_vocabulary(CAPTIONS)
    tokens = open_clip.tokenize(CAPTIONS, context_length=77)
    assert ids.tolist() == sorted(set(tokens.flatten().tolist()) - specials)
    clip.set_vocabulary(ids)
    assert torch.equal(
        clip.vocabulary_embeddings, clip.token_embedding.weight[ids]
    )
    with pytest.raises(ValueError, match="special tokens"):
        clip.set_vocabulary([320, clip.end_id])
    clip.set_vocabulary([i for i in range(49408) if i not in specials])


def test_errors(tiny_clip_files, tmp_path):
    checkpoint, config = tiny_clip_files
    with pytest.raises(ValueError, match="file stem"):
        FrozenCLIP("ViT-B-32", None, checkpoint, config)
    with pytest.raises(ValueError, match="not a pretrained tag"):
        FrozenCLIP("tiny-clip", "openai", checkpoint, config)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        FrozenCLIP("tiny-clip", None, tmp_path / "missing.pt", config)
    with pytest.raises(ValueError, match="checkpoint"):
        FrozenCLIP("tiny-clip", None, None, config)
    clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
    with pytest.raises(DataError, match="nowhere.jpg"):
        clip.image_embeddings([tmp_path / "nowhere.jpg"])
    (tmp_path / "broken.jpg").write_text("not an image")
    with pytest.raises(DataError, match="broken.jpg"):
        clip.image_embeddings([tmp_path / "broken.jpg"])
    with pytest.raises(ValueError, match="context length"):
        clip.encode_keywords(torch.randn(1, 76, clip.token_dim))
