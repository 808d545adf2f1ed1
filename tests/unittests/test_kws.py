"""Keyword spotting lobes and data: padding never changes a speech net's
output, taggers learn (and out-of-fold tags cannot memorise), the zero-shot
tagger ranks the prompted image first, and SynthVGS relevance says the
same concepts for a caption in every language."""

import os

import pytest
import torch
from torch import nn

from speechbrain_vgs.dataio.keywords import (
    Lexicon,
    bag_of_words,
    content_words,
    keyword_vocabulary,
    stop_words,
)
from speechbrain_vgs.dataio.manifest import load_manifest, read_json
from speechbrain_vgs.lobes.clip import FrozenCLIP
from speechbrain_vgs.lobes.kws import (
    BoWCNN,
    SSLKeywordNet,
    ZeroShotTagger,
    cross_fitted_tags,
    fit_tagger,
    prompt_embeddings,
)
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert


class Frames(nn.Module):
    """Frame-local features: each 10 ms of samples is one 160-d frame, so
    padding a waveform only appends zero frames."""

    dim = 160

    def forward(self, wavs, lengths):
        frames = wavs.shape[1] // 160
        return wavs[:, : frames * 160].reshape(len(wavs), frames, 160)


def padded(signals):
    """A zero-padded batch and its relative lengths."""
    longest = max(len(s) for s in signals)
    batch = torch.zeros(len(signals), longest)
    for i, s in enumerate(signals):
        batch[i, : len(s)] = s
    return batch, torch.tensor([len(s) / longest for s in signals])


@pytest.mark.parametrize("alone_samples", [1600, 4960, 9600])
def test_bow_cnn_output_does_not_depend_on_padding(alone_samples):
    torch.manual_seed(0)
    net = BoWCNN(
        4, Frames(), channels=(8, 8, 16), kernels=(9, 10, 11), hidden=16
    ).eval()
    short = torch.randn(alone_samples)
    long = torch.randn(16000)
    batch, lengths = padded([long, short])
    together = net(batch, lengths)
    alone = net(short.unsqueeze(0), torch.ones(1))
    assert torch.allclose(together[1], alone[0], atol=1e-5)
    # whatever the padding holds (the lengths say where it starts)
    batch[1, alone_samples:] = 5.0
    assert torch.allclose(net(batch, lengths)[1], alone[0], atol=1e-5)
    # and read as signal, it would change the output
    as_signal = net(batch, torch.ones(2))[1]
    assert not torch.allclose(as_signal, alone[0], atol=1e-3)


def test_bow_cnn_rejects_mismatched_layers():
    with pytest.raises(ValueError, match="one kernel per channel"):
        BoWCNN(4, Frames(), channels=(8, 8), kernels=(9, 10, 11))


def test_ssl_keyword_net_output_does_not_depend_on_padding(tmp_path):
    torch.manual_seed(0)
    upstream = SSLUpstream(save_tiny_hubert(tmp_path))
    net = SSLKeywordNet(3, upstream, hidden=8).eval()
    short, long = torch.randn(4000), torch.randn(8000)
    batch, lengths = padded([long, short])
    together = net(batch, lengths)
    alone = net(short.unsqueeze(0), torch.ones(1))
    assert torch.allclose(together[1], alone[0], atol=1e-4)


def test_fit_tagger_learns_and_cross_fitting_cannot_memorise():
    torch.manual_seed(0)
    x = torch.randn(200, 6)
    readable = (x[:, :2] > 0).float()  # depends on the embedding
    noise = (torch.rand(200, 2) > 0.5).float()  # independent of it
    targets = torch.cat([readable, noise], dim=1)
    options = {"hidden": (256,), "dropout": 0.0, "epochs": 200, "lr": 3e-3}
    tagger = fit_tagger(x, targets, **options)
    with torch.no_grad():
        in_fold = torch.sigmoid(tagger(x))
    out_of_fold = cross_fitted_tags(x, targets, folds=2, **options)
    for tags in (in_fold, out_of_fold):
        accuracy = ((tags[:, :2] > 0.5).float() == readable).float().mean()
        assert accuracy > 0.85
    # noise: the tagger that saw it memorises it, out of fold it cannot
    memorised = ((in_fold[:, 2:] > 0.5).float() == noise).float().mean()
    held_out = ((out_of_fold[:, 2:] > 0.5).float() == noise).float().mean()
    assert memorised > 0.75
    assert held_out < 0.6


def test_fit_tagger_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="3 image embeddings but 2"):
        fit_tagger(torch.randn(3, 4), torch.zeros(2, 1))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    return FrozenCLIP("tiny-clip", None, *save_tiny_clip(folder))


def test_zero_shot_tagger_ranks_the_prompted_image_first(tiny_clip):
    keywords = ["red", "blue", "circle", "house"]
    text = prompt_embeddings(tiny_clip, keywords, ["a {}"])
    torch.manual_seed(0)
    images = nn.functional.normalize(torch.randn(40, text.shape[1]), dim=-1)
    images[7] = text[2]  # image 7 "is" the prompt of "circle"
    tagger = ZeroShotTagger(tiny_clip, keywords, ["a {}"])
    tagger.calibrate(images)
    tags = tagger(images)
    assert tags.shape == (40, 4)
    assert int(tags[:, 2].argmax()) == 7
    assert tags[7, 2] > 0.9
    # standardised over the reference images: about half below the mean
    assert 0.3 < (tags < torch.sigmoid(torch.tensor(-3.0))).float().mean()


def test_prompt_templates_need_one_slot(tiny_clip):
    with pytest.raises(ValueError, match="exactly one"):
        prompt_embeddings(tiny_clip, ["red"], ["a photo"])


def test_vocabulary_and_bag_of_words():
    captions = ["A red car on the road.", "Two red cars", "a blue car"]
    assert content_words(captions[0]) == ["red", "car", "road"]
    assert keyword_vocabulary(captions, 2) == ["car", "red"]
    with pytest.raises(ValueError, match="6 distinct content words"):
        keyword_vocabulary(captions, 7)
    assert bag_of_words(captions[:2], ["cars", "blue", "road"]).tolist() == [
        1.0,
        0.0,
        1.0,
    ]
    assert "und" in stop_words("de")
    with pytest.raises(ValueError, match="no stop-word list for language"):
        stop_words("sw")


def test_translations_say_the_same_concepts(synthvgs_tiny):
    lexicon = Lexicon.from_file(os.path.join(synthvgs_tiny, "lexicon.json"))
    scenes = read_json(os.path.join(synthvgs_tiny, "scenes.json"))
    keywords = ["red", "circle", "circles", "two", "grass", "picture"]
    relevance = {}
    for lang in ("en", "de", "sw"):
        path = os.path.join(synthvgs_tiny, "manifests", lang, "test_A.json")
        entries = load_manifest(path)
        said = lexicon.spoken_relevance(entries, keywords)
        visible = lexicon.visible_relevance(entries, scenes, keywords)
        relevance[lang] = {u.split("_", 1)[1]: s for u, s in said.items()}
        for utt_id in entries:
            assert said[utt_id] <= visible[utt_id]  # captions tell the truth
            assert "picture" not in visible[utt_id]  # no concept
    shared = set(relevance["en"]) & set(relevance["sw"]) & set(relevance["de"])
    assert len(shared) >= 20
    for caption in shared:
        assert relevance["en"][caption] == relevance["sw"][caption]
        assert relevance["en"][caption] == relevance["de"][caption]
    assert any(relevance["sw"][c] for c in shared)  # not all empty
    # "circle" and "circles" are one concept
    for said in relevance["en"].values():
        assert ("circle" in said) == ("circles" in said)


def test_lexicon_file_errors(tmp_path):
    bad = tmp_path / "lexicon.json"
    bad.write_text('{"red": ["red"]}', encoding="utf-8")
    with pytest.raises(ValueError, match="lexicon.json: a lexicon maps"):
        Lexicon.from_file(bad)
    with pytest.raises(ValueError, match="cannot read the lexicon"):
        Lexicon.from_file(tmp_path / "missing.json")


def test_image_targets_read_the_images_and_are_cached(tiny_clip, tmp_path):
    from PIL import Image

    from speechbrain_vgs.tagging import image_targets

    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    captions, images = {}, {}
    for i in range(24):
        colour = "red" if i % 2 else "blue"
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (32, 32), colours[colour]).save(path)
        if i < 16:  # the tagger's images
            captions[f"img{i}"] = (str(path), [f"a {colour} square"])
        if i >= 8:  # the images to tag: 8 shared, 8 unseen
            images[f"img{i}"] = str(path)
    hparams = {
        "targets": "visual",
        "output_folder": str(tmp_path),
        "frozen_clip": lambda: tiny_clip,
        "tagger_folds": 2,
        "tagger_hidden": (16,),
        "tagger_dropout": 0.0,
        "tagger_epochs": 100,
        "tagger_lr": 0.01,
        "seed": 0,
    }
    keywords = ["red", "blue", "square"]
    tags = image_targets(hparams, keywords, images, captions, set())
    assert sorted(tags) == sorted(images)
    for image_id, t in tags.items():
        red = int(image_id[3:]) % 2 == 1
        assert (t[0] > t[1]) == red  # a colour is read from the image
        assert t[2] > 0.9  # every caption says "square"
    # cached with its keywords: the same tags, unless the keywords change
    hparams["tagger_epochs"] = 1
    again = image_targets(hparams, keywords, images, captions, set())
    assert all(torch.equal(tags[i], again[i]) for i in tags)
    other = image_targets(hparams, keywords[:2], images, captions, set())
    assert other["img9"].shape == (2,)
    hparams["targets"] = "visul"
    with pytest.raises(ValueError, match="targets must be one of visual"):
        image_targets(hparams, keywords, images, captions, set())
