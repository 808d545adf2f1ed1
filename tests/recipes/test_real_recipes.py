"""Every real-corpus grounding recipe (Flickr8k, SpokenCOCO, Places Audio)
runs end to end in SpeechBrain's ``--debug`` mode on a miniature copy of its
corpus, laid out like the real one, and writes a well-formed results.json.
The papers' model sizes are overridden from the command line to fit CPU."""

import pytest
from miniature_corpora import write_flickr8k, write_places, write_spokencoco
from recipe_runner import check_recall_results, run_recipe

SMALL = [
    "--image_size=32",
    "--eval_resize=36",
    "--batch_size=4",
    "--num_workers=0",
    "--embedding_dim=16",
]
SMALL_RESDAVENET = [*SMALL, "--audio_widths=[8,8,8,8,16]"]
SMALL_DAVENET = [*SMALL, "--audio_widths=[8,8,8,8]"]


def flickr8k(tmp_path):
    data = tmp_path / "flickr8k"
    data.mkdir()
    write_flickr8k(data)
    return [f"--data_folder={data}"]


def spokencoco(tmp_path):
    data, images = tmp_path / "SpokenCOCO", tmp_path / "mscoco"
    data.mkdir()
    write_spokencoco(data, images)
    return [f"--data_folder={data}", f"--image_folder={images}"]


def places(tmp_path):
    data, images = tmp_path / "PlacesAudio_400k_distro", tmp_path / "images"
    data.mkdir()
    write_places(data, images)
    return [
        f"--data_folder={data}",
        f"--image_folder={images}",
        "--valid_images=3",
    ]


RECIPES = [
    ("Flickr8k", "resdavenet.yaml", flickr8k, SMALL_RESDAVENET),
    ("SpokenCOCO", "resdavenet.yaml", spokencoco, SMALL_RESDAVENET),
    ("PlacesAudio", "davenet.yaml", places, SMALL_DAVENET),
    ("PlacesAudio", "resdavenet.yaml", places, SMALL_RESDAVENET),
    ("PlacesAudio", "resdavenet_vq.yaml", places, SMALL_RESDAVENET),
]


@pytest.mark.parametrize("corpus,yaml,write_corpus,small", RECIPES)
def test_real_recipe_debug(corpus, yaml, write_corpus, small, tmp_path):
    output = tmp_path / "out"
    results = run_recipe(
        f"recipes/{corpus}/VGS/train.py",
        f"recipes/{corpus}/VGS/hparams/{yaml}",
        output,
        *write_corpus(tmp_path),
        *small,
    )
    check_recall_results(results, {"test"})
    for split in ("train", "valid", "test"):
        assert (output / "save" / f"{split}.json").is_file()
