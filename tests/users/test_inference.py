"""The inference classes on models trained in the tests (the
``trained_speechclip`` and ``trained_grounding`` fixtures: the real recipes
on the tiny corpus, long enough to know their training captions): every
method's results are checked, not only their shapes."""

import pytest
import torch
from PIL import Image
from training_pairs import training_pairs

from speechbrain_vgs.inference import (
    GroundingInference,
    SpeechCLIPInference,
    load_inference,
    model_kind,
)
from speechbrain_vgs.similarity import Similarity


def image_ranks(model, wavs, images, pictures):
    """Where each wav's own image ranks among ``pictures`` (0 = first)."""
    ranks = []
    for wav, image in zip(wavs, images):
        scores, ranking = model.search_images(wav, pictures)
        assert torch.equal(ranking, scores.argsort(descending=True))
        ranks.append(ranking.tolist().index(pictures.index(image)))
    return ranks


def test_speechclip_inference(trained_speechclip, synthvgs_tiny):
    model = load_inference(trained_speechclip)
    assert isinstance(model, SpeechCLIPInference)
    ids, wavs, images, texts = training_pairs(synthvgs_tiny)
    pictures = sorted(set(images))
    assert len(pictures) == 12

    # search_images: every training caption finds its image first
    assert image_ranks(model, wavs, images, pictures) == [0] * len(wavs)

    # encode_images: files (cached) and PIL images give the same embeddings
    from_files = model.encode_images(pictures[:3])
    from_pil = model.encode_images([Image.open(p) for p in pictures[:3]])
    torch.testing.assert_close(from_files, from_pil, atol=1e-4, rtol=1e-4)

    # encode_speech: a batch of files equals one file at a time
    batch = model.encode_speech(wavs[:4])
    single = torch.cat([model.encode_speech(w) for w in wavs[:4]])
    torch.testing.assert_close(batch, single, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(batch.norm(dim=-1), torch.ones(4))

    # search_speech by image: an image's own captions come first
    for picture in pictures[:4]:
        scores, ranking = model.search_speech(picture, wavs, batch_size=7)
        own = {i for i, image in enumerate(images) if image == picture}
        assert set(ranking[: len(own)].tolist()) == own
        torch.testing.assert_close(
            scores,
            model.encode_speech(wavs) @ model.encode_images([picture])[0],
        )

    # search_speech by text (zero-shot): a caption finds a caption of its
    # image first, for most captions (chance: 5 in 60)
    hits = 0
    for text, image in zip(texts, images):
        _, ranking = model.search_speech(text, wavs)
        hits += images[ranking[0]] == image
    assert hits >= 0.5 * len(texts), hits

    # keywords: most captions' top keywords include a word of the caption,
    # and they change with what is said
    heard = model.keywords(wavs, top_n=2)
    assert len(heard) == len(wavs)
    assert all(len(slot) == 2 for slots in heard for slot in slots)
    said = [
        bool(set(text.lower().split()) & {slot[0] for slot in slots})
        for text, slots in zip(texts, heard)
    ]
    assert sum(said) >= 0.8 * len(said), sum(said)
    assert len({tuple(s[0] for s in slots) for slots in heard}) > 1
    assert model.keywords(wavs[0], top_n=2) == heard[0]


def test_grounding_inference(trained_grounding, synthvgs_tiny):
    assert model_kind(trained_grounding) == "grounding"
    model = load_inference(trained_grounding)
    assert isinstance(model, GroundingInference)
    ids, wavs, images, texts = training_pairs(synthvgs_tiny)
    pictures = sorted(set(images))

    # search_images: training captions find their image first (chance: 1
    # in 12; it trained on random crops and searches whole images)
    ranks = image_ranks(model, wavs, images, pictures)
    assert sum(r == 0 for r in ranks) >= 0.75 * len(ranks), ranks

    # search_speech by image: the top utterance is a caption of the image
    # for most images (chance: 5 in 60)
    hits = 0
    for picture in pictures:
        _, ranking = model.search_speech(picture, wavs, batch_size=7)
        hits += images[ranking[0]] == picture
    assert hits >= 8, hits

    # a text is refused: grounding models have no text side
    with pytest.raises(ValueError, match="no text side"):
        model.search_speech("a red circle", wavs)

    # matchmap: frames x regions of one pair; its mean is the pooled score
    # of the same encoders' outputs (Harwath et al.'s SISA)
    audio, lengths = model.encode_speech(wavs[0])
    maps = model.encode_images([images[0]])
    matchmap = model.matchmap(wavs[0], images[0])
    frames = int(round(lengths[0].item() * audio.shape[1]))
    assert matchmap.shape == (*maps.shape[1:3], frames)
    pooled = Similarity("SISA")(audio, lengths, maps)[0, 0]
    torch.testing.assert_close(matchmap.mean(), pooled, rtol=1e-4, atol=1e-5)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_inference(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="not a recipe's output"):
        load_inference(tmp_path)
    (tmp_path / "hyperparams.yaml").write_text("frozen_clip: 1\n")
    with pytest.raises(FileNotFoundError, match="run it to the end"):
        load_inference(tmp_path)
