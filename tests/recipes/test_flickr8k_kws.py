"""Every Flickr8k keyword spotting recipe (visual_en, multi30k_de,
zero_shot_en) runs end to end in SpeechBrain's ``--debug`` mode on
miniature copies of Flickr8k, Flickr30k, Multi30k and Kamper et al.'s
semantic labels, laid out like the real ones, with a tiny randomly
initialised CLIP loaded through the yaml's CLIP keys, and writes
results.json with the keyword spotting metrics of the model and of the
keyword prior in [0, 1]."""

import pytest
from miniature_corpora import (
    write_flickr8k_kws,
    write_flickr30k,
    write_multi30k,
    write_semantic_flickraudio,
)
from recipe_runner import run_in_process

from speechbrain_vgs.lobes.tiny_models import save_tiny_clip

METRICS = ("p_at_10", "p_at_n", "eer", "ap")
SMALL = [
    "--clip_name=tiny-clip",
    "--clip_pretrained=null",
    "--num_keywords=8",
    "--cnn_channels=[4,4,8]",
    "--fc_units=8",
    "--batch_size=4",
    "--eval_batch_size=4",
    "--num_workers=0",
    "--debug_epochs=1",
]
TAGGER = ["--tagger_hidden=[8]", "--tagger_epochs=2"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Overrides pointing at the miniature corpora and the tiny CLIP."""
    folder = tmp_path_factory.mktemp("kws")
    for name in ("flickr8k", "flickr30k", "multi30k", "semantic"):
        (folder / name).mkdir()
    write_flickr8k_kws(folder / "flickr8k")
    write_flickr30k(folder / "flickr30k")
    write_multi30k(folder / "multi30k")
    write_semantic_flickraudio(folder / "semantic")
    checkpoint, config = save_tiny_clip(folder / "clip", name="tiny-clip")
    return {
        "folder": folder,
        "common": [
            f"--data_folder={folder / 'flickr8k'}",
            f"--flickr30k_folder={folder / 'flickr30k'}",
            f"--clip_checkpoint={checkpoint}",
            f"--clip_config={config}",
            *SMALL,
        ],
    }


def run_kws(name, overrides, output):
    """Runs ``train.py <name>.yaml --debug ...`` in this process (one
    import of torch, SpeechBrain and open_clip for all the runs); returns
    results.json."""
    return run_in_process(
        "recipes/Flickr8k/KWS/train.py",
        f"recipes/Flickr8k/KWS/hparams/{name}.yaml",
        output,
        *overrides,
    )


def check_metrics(metrics, suffixes):
    """The model's and the prior's P@10, P@N, EER and AP in [0, 1], for
    each relevance suffix."""
    for suffix in suffixes:
        for prefix in ("", "prior_"):
            for key in METRICS:
                value = metrics[f"{prefix}{key}{suffix}"]
                assert 0.0 <= value <= 1.0, (prefix, key, suffix, value)


def check_outputs(output):
    """The trained network, its keywords, the cached tags, the manifests."""
    for name in ("speech_net.ckpt", "keywords.ckpt", "tags.pt"):
        assert (output / name).is_file(), name
    for split in ("train", "valid", "test"):
        assert (output / "save" / f"{split}.json").is_file()


def test_visual_en_with_semantic_labels(corpora, tmp_path):
    """English keywords: the 6 keywords of keywords.txt are evaluated among
    8 outputs; the semantic labels add test_semantic."""
    semantic = corpora["folder"] / "semantic" / "data"
    results = run_kws(
        "visual_en",
        [
            *corpora["common"],
            *TAGGER,
            f"--keywords_file={semantic / 'keywords.txt'}",
            f"--semantic_labels={semantic / 'semantic_flickraudio_labels.csv'}",
        ],
        tmp_path,
    )
    assert set(results) == {"test", "test_semantic"}
    check_metrics(results["test"], [""])
    check_metrics(results["test_semantic"], ["", "_semantic"])
    assert "ap_semantic" not in results["test"]
    check_outputs(tmp_path)
    log = (tmp_path / "log.txt").read_text()
    assert "excluded 3 of the 11 Flickr30k images" in log


def test_multi30k_de(corpora, tmp_path):
    """German keywords from a tagger on Multi30k German captions; tested
    on the 2 test utterances whose caption has a task 1 translation."""
    results = run_kws(
        "multi30k_de",
        [
            *corpora["common"],
            *TAGGER,
            f"--multi30k_folder={corpora['folder'] / 'multi30k'}",
        ],
        tmp_path,
    )
    assert set(results) == {"test"}
    check_metrics(results["test"], [""])
    check_outputs(tmp_path)
    log = (tmp_path / "log.txt").read_text()
    assert "excluded 2 of the 7 Multi30k task 2 images" in log
    assert "2 of the 10 Flickr8k test utterances" in log


def test_zero_shot_en(corpora, tmp_path):
    """CLIP prompts tag the images; Flickr30k captions only choose the
    vocabulary."""
    results = run_kws("zero_shot_en", corpora["common"], tmp_path)
    assert set(results) == {"test"}
    check_metrics(results["test"], [""])
    check_outputs(tmp_path)
