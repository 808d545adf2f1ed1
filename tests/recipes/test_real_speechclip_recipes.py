"""Every real-corpus SpeechCLIP recipe (Flickr8k: parallel, cascaded Base
and Large, hybrid Base; SpokenCOCO: parallel and cascaded Large) runs one
epoch end to end in SpeechBrain's ``--debug`` mode on a miniature copy of
its corpus, laid out like the real one. Tiny randomly initialised HuBERT
(Base or Large layout, as the yaml's) and CLIP models stand in for
``facebook/hubert-*`` and open_clip's ``ViT-*`` ``openai`` weights and are
loaded through the same yaml keys. A trained model loads back through the
inference class the READMEs describe."""

import json

import pytest
from miniature_corpora import write_flickr8k, write_spokencoco
from recipe_runner import check_speechclip_results, run_in_process

from speechbrain_vgs.inference import SpeechCLIPInference
from speechbrain_vgs.lobes.tiny_models import save_tiny_clip, save_tiny_hubert

RECIPES = [
    ("Flickr8k", "parallel_base"),
    ("Flickr8k", "parallel_large"),
    ("Flickr8k", "cascaded_large"),
    ("Flickr8k", "hybrid_base"),
    ("SpokenCOCO", "parallel_large"),
    ("SpokenCOCO", "cascaded_large"),
    ("Flickr8k", "cascaded_plus_base"),
    ("SpokenCOCO", "hybrid_plus_large"),
]
SMALL = [
    "--clip_name=tiny-clip",
    "--clip_pretrained=null",  # must become None: no tag for tiny-clip
    "--batch_size=4",
    "--eval_batch_size=4",
    "--num_workers=0",
    "--debug_epochs=1",
]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Overrides pointing at a tiny CLIP and tiny Base/Large HuBERTs."""
    folder = tmp_path_factory.mktemp("tiny_models")
    checkpoint, config = save_tiny_clip(folder / "clip", name="tiny-clip")
    clip = [f"--clip_checkpoint={checkpoint}", f"--clip_config={config}"]
    return {
        size: [
            f"--hubert_source={save_tiny_hubert(folder / size, large=large)}",
            *clip,
        ]
        for size, large in (("base", False), ("large", True))
    }


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Overrides pointing at miniature Flickr8k and SpokenCOCO copies."""
    folder = tmp_path_factory.mktemp("corpora")
    flickr8k = folder / "flickr8k"
    flickr8k.mkdir()
    write_flickr8k(flickr8k)
    coco, images = folder / "SpokenCOCO", folder / "mscoco"
    coco.mkdir()
    write_spokencoco(coco, images)
    return {
        "Flickr8k": [f"--data_folder={flickr8k}"],
        "SpokenCOCO": [f"--data_folder={coco}", f"--image_folder={images}"],
    }


def run_speechclip(corpus, name, tiny_models, corpora, output):
    """Runs one recipe as ``python train.py <yaml> --debug ...`` would, but
    in this process (one import of torch, SpeechBrain, open_clip and
    transformers for all the runs); returns its results.json."""
    keywords = not name.startswith("parallel")
    return run_in_process(
        f"recipes/{corpus}/SpeechCLIP/train.py",
        f"recipes/{corpus}/SpeechCLIP/hparams/{name}.yaml",
        output,
        *corpora[corpus],
        *tiny_models[name.rsplit("_", 1)[1]],
        *SMALL,
        *(["--num_figures=1"] if keywords else ["--ffn_dim=64"]),
    )


def check_outputs(results, output, keywords, slots=True):
    """results.json's metrics, the manifests, model.ckpt, the figures and
    (with ``keywords``) keywords_test.json."""
    check_speechclip_results(results, {"test"}, keywords, slots)
    assert (output / "model.ckpt").is_file()
    for split in ("train", "valid", "test"):
        assert (output / "save" / f"{split}.json").is_file()
    figures = [p.name for p in (output / "figures" / "test").glob("*.png")]
    assert "layer_weights.png" in figures
    attention = [f for f in figures if f.startswith("attention_")]
    assert len(attention) == (1 if keywords else 0)
    assert (output / "keywords_test.json").is_file() == keywords


@pytest.mark.parametrize("corpus,name", RECIPES)
def test_real_speechclip_recipe_debug(
    corpus, name, tiny_models, corpora, tmp_path
):
    results = run_speechclip(corpus, name, tiny_models, corpora, tmp_path)
    check_outputs(
        results, tmp_path, not name.startswith("parallel"), "plus" not in name
    )


def test_cascaded_base_recipe_and_inference(tiny_models, corpora, tmp_path):
    """Flickr8k cascaded Base; its model.ckpt loads for inference and gives
    the keywords of the recipe's own evaluation."""
    output = tmp_path / "out"
    results = run_speechclip(
        "Flickr8k", "cascaded_base", tiny_models, corpora, output
    )
    check_outputs(results, output, True)
    speechclip = SpeechCLIPInference.from_hparams(
        source=str(output), savedir=str(tmp_path / "inference")
    )
    with open(output / "keywords_test.json", encoding="utf-8") as f:
        keywords = json.load(f)
    with open(output / "save" / "test.json", encoding="utf-8") as f:
        manifest = json.load(f)
    data_folder = corpora["Flickr8k"][0].split("=", 1)[1]
    for utt_id, expected in keywords.items():
        wav = manifest[utt_id]["wav"].replace("{data_root}", data_folder)
        assert speechclip.keywords(wav) == expected["keywords"]
