"""Miniature copies of the real image/spoken-caption corpora, laid out
exactly like the real ones, for the preparer tests and the recipes' debug
runs.

- :func:`write_flickr8k`: Flickr8k Audio Captions (wavs, wav2capt.txt,
  wav2spk.txt, JPEG images, Karpathy's dataset_flickr8k.json, the official
  Flickr8k_text files).
- :func:`write_spokencoco`: SpokenCOCO (SpokenCOCO_{train,val}.json,
  wavs/{train,val}/<n>/, COCO train2014/val2014 JPEG images, Karpathy's
  dataset_coco.json).
- :func:`write_places`: Places Audio Captions (metadata/{train,val}.json
  with image_base_path, audio_base_path and data entries,
  wavs/<n>/utterance_<m>.wav, Places205 JPEG images under
  <letter>/<category>/).
"""

import json

import numpy as np
import soundfile
from PIL import Image

RATE = 16000
# Karpathy split names -> manifest splits; "restval" belongs to training.
KARPATHY_TO_SPLIT = {
    "train": "train",
    "restval": "train",
    "val": "valid",
    "test": "test",
}

FLICKR8K_CAPTIONS = 5  # spoken captions per image
# image -> Karpathy split
FLICKR8K_IMAGES = {
    "1000268201_693b08cb0e": "train",
    "1001773457_577c3a7d70": "train",
    "1002674143_1b742ab4b8": "restval",
    "2513260012_03d33305cf": "val",
    "3385593926_d3e9c21170": "test",
}
FLICKR8K_OFFICIAL_LISTS = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
FLICKR8K_UNLISTED = "99679241_adc853a5c0"  # in no split, no audio

# (COCO folder, COCO id, Karpathy split, number of spoken captions)
SPOKENCOCO_IMAGES = [
    ("train2014", 9, "train", 5),
    ("train2014", 25, "train", 6),
    ("val2014", 42, "restval", 5),
    ("val2014", 73, "val", 5),
    ("val2014", 74, "test", 4),
    ("val2014", 133, "test", 5),
]

PLACES_CATEGORIES = ["a/abbey", "b/bedroom", "k/kitchen", "s/shoe_shop"]
PLACES_SHARED_IMAGE = 0  # the first val.json image also has a train caption


def flickr8k_caption_text(image, k):
    """The written caption ``k`` of a Flickr8k image (braces included)."""
    return f"Caption {k} of {image} with {{braces}} ."


def write_flickr8k(root, karpathy=True, official=True, token_file=True):
    """Writes a miniature Flickr8k Audio Caption corpus under ``root``.

    Arguments
    ---------
    root : pathlib.Path
        An existing folder; it becomes the corpus root.
    karpathy : bool
        Whether to write Karpathy's ``dataset_flickr8k.json``.
    official : bool
        Whether to write the official ``Flickr_8k.*Images.txt`` lists.
    token_file : bool
        Whether to write ``Flickr8k_text/Flickr8k.token.txt``.

    Returns
    -------
    dict
        ``{wav stem: (samples, speaker)}``.
    """
    audio = root / "flickr_audio"
    (audio / "wavs").mkdir(parents=True)
    (root / "Flicker8k_Dataset").mkdir()
    wavs = {}
    capt_lines, spk_lines = [], []
    # wav2capt.txt is not grouped by image: caption k of every image, then k+1
    for k in range(FLICKR8K_CAPTIONS):
        for i, image in enumerate(FLICKR8K_IMAGES):
            stem = f"{image}_{k}"
            samples = 800 + 160 * (i * FLICKR8K_CAPTIONS + k)
            speaker = str(1 + (i + k) % 3)
            soundfile.write(
                str(audio / "wavs" / f"{stem}.wav"),
                np.random.default_rng(i).uniform(-0.1, 0.1, samples),
                RATE,
            )
            capt_lines.append(f"{stem}.wav {image}.jpg #{k}")
            spk_lines.append(f"{stem}.wav {speaker}")
            wavs[stem] = (samples, speaker)
    (audio / "wav2capt.txt").write_text("\n".join(capt_lines) + "\n")
    (audio / "wav2spk.txt").write_text("\n".join(spk_lines) + "\n")
    for image in [*FLICKR8K_IMAGES, FLICKR8K_UNLISTED]:
        Image.new("RGB", (8, 6), (10, 200, 30)).save(
            root / "Flicker8k_Dataset" / f"{image}.jpg", "JPEG"
        )
    if karpathy:
        images = [
            {
                "filename": f"{image}.jpg",
                "imgid": i,
                "split": split,
                "sentids": list(range(5 * i, 5 * i + 5)),
                "sentences": [
                    {
                        "raw": flickr8k_caption_text(image, k),
                        "tokens": flickr8k_caption_text(image, k).split(),
                        "imgid": i,
                        "sentid": 5 * i + k,
                    }
                    for k in range(FLICKR8K_CAPTIONS)
                ],
            }
            for i, (image, split) in enumerate(FLICKR8K_IMAGES.items())
        ]
        (root / "dataset_flickr8k.json").write_text(
            json.dumps({"images": images, "dataset": "flickr8k"})
        )
    text = root / "Flickr8k_text"
    text.mkdir()
    if official:
        for split, name in FLICKR8K_OFFICIAL_LISTS.items():
            names = [
                f"{image}.jpg"
                for image, s in FLICKR8K_IMAGES.items()
                if s == split or (split == "train" and s == "restval")
            ]
            (text / name).write_text("\n".join(names) + "\n")
    if token_file:
        lines = [
            f"{image}.jpg#{k}\t{flickr8k_caption_text(image, k)}"
            for image in [*FLICKR8K_IMAGES, FLICKR8K_UNLISTED]
            for k in range(FLICKR8K_CAPTIONS)
        ]
        # the real file has this odd key for an image that does not exist
        lines.append("2258277193_586949ec62.jpg.1#0\tA dog .")
        (text / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return wavs


def coco_image_name(folder, coco_id):
    """The COCO image name, e.g. ``COCO_val2014_000000000073``."""
    return f"COCO_{folder}_{coco_id:012d}"


def write_spokencoco(root, image_root):
    """Writes a miniature SpokenCOCO corpus and its COCO images.

    Arguments
    ---------
    root : pathlib.Path
        An existing folder; it becomes the SpokenCOCO root (with
        Karpathy's ``dataset_coco.json``).
    image_root : pathlib.Path
        Where ``train2014/`` and ``val2014/`` go (created as needed).

    Returns
    -------
    dict
        ``{uttid: expected manifest entry plus its "split"}``.
    """
    expected = {}
    data = {"train2014": [], "val2014": []}
    karpathy = []
    for i, (folder, coco_id, split, n_captions) in enumerate(SPOKENCOCO_IMAGES):
        name = coco_image_name(folder, coco_id)
        (image_root / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (10, 8), (i * 40, 90, 160)).save(
            image_root / folder / f"{name}.jpg", "JPEG"
        )
        captions = []
        for k in range(n_captions):
            speaker = f"m{(i + k) % 4:03d}xq"
            uttid = f"{speaker}-3LUY{i}GC63_{coco_id}_{600000 + 10 * i + k}"
            wav = f"wavs/{folder[:-4]}/{k % 2}/{uttid}.wav"
            samples = 1200 + 320 * (i * 7 + k)
            (root / wav).parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(root / wav), np.full(samples, 0.01), RATE)
            text = f"A PICTURE {k} OF THING {coco_id}"
            captions.append(
                {"text": text, "speaker": speaker, "uttid": uttid, "wav": wav}
            )
            expected[uttid] = {
                "wav": "{data_root}/" + wav,
                "image": "{image_root}/" + f"{folder}/{name}.jpg",
                "image_id": name,
                "speaker": speaker,
                "text": text,
                "lang": "en",
                "duration": samples / RATE,
                "split": KARPATHY_TO_SPLIT[split],
            }
        data[folder].append(
            {"image": f"{folder}/{name}.jpg", "captions": captions}
        )
        karpathy.append(
            {
                "filepath": folder,
                "filename": f"{name}.jpg",
                "imgid": i,
                "split": split,
                "cocoid": coco_id,
                "sentids": [5 * i],
                "sentences": [{"raw": "A thing.", "tokens": ["a", "thing"]}],
            }
        )
    (root / "SpokenCOCO_train.json").write_text(
        json.dumps({"data": data["train2014"]})
    )
    (root / "SpokenCOCO_val.json").write_text(
        json.dumps({"data": data["val2014"]}, indent=2)
    )
    (root / "dataset_coco.json").write_text(
        json.dumps({"images": karpathy, "dataset": "coco"})
    )
    return expected


def write_places(root, image_root, base_path=None):
    """Writes a miniature Places Audio Caption corpus and its images.

    ``val.json`` has 4 images with one caption each; ``train.json`` has 13
    images (one of them also in ``val.json``) and 14 captions.

    Arguments
    ---------
    root : pathlib.Path
        An existing folder; it becomes the corpus root.
    image_root : pathlib.Path
        Where the Places205 images go (created as needed).
    base_path : str, optional
        The ``image_base_path`` written in the metadata; ``image_root`` by
        default.

    Returns
    -------
    dict
        ``{"train": data entries, "val": data entries}``.
    """
    entries = {"train": [], "val": []}

    def add(split, image, number):
        speaker = f"A{number % 5}XK7Q"
        image_hash = image.split("_")[-1][: -len(".jpg")].upper()
        wav = f"wavs/{number % 3}/utterance_{number}.wav"
        (root / wav).parent.mkdir(parents=True, exist_ok=True)
        samples = 2000 + 400 * number
        soundfile.write(str(root / wav), np.full(samples, 0.02), RATE)
        entries[split].append(
            {
                "uttid": f"{speaker}-GSUN_{image_hash}-{number}",
                "speaker": speaker,
                "asr_text": f"this is picture {number}",
                "wav": wav,
                "image": image,
            }
        )

    images = []
    for number in range(16):
        category = PLACES_CATEGORIES[number % len(PLACES_CATEGORIES)]
        image = f"{category}/gsun_{number:04x}e1c0ffee.jpg"
        (image_root / category).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (12, 9), (number * 15, 20, 60)).save(
            image_root / image, "JPEG"
        )
        images.append(image)
    for number, image in enumerate(images[:4]):
        add("val", image, number)
    utterance = 4
    for image in [images[PLACES_SHARED_IMAGE], *images[4:]]:
        add("train", image, utterance)
        utterance += 1
    add("train", images[5], utterance)  # a second caption of one image
    base = str(image_root) if base_path is None else base_path
    for split, data in entries.items():
        (root / "metadata").mkdir(exist_ok=True)
        (root / "metadata" / f"{split}.json").write_text(
            json.dumps(
                {
                    "image_base_path": base,
                    "audio_base_path": "/data/sls/PlacesAudio_400k_distro/",
                    "data": data,
                },
                indent=1,
            )
        )
    return entries


# --------------------------------------------------------------------------
# Keyword spotting (recipes/Flickr8k/KWS): Flickr8k with written captions
# that share words, Flickr30k, Multi30k and Kamper's semantic labels.

# a second test image, so that the test set has two images
FLICKR8K_KWS_TEST_IMAGE = "3637013_c675de7705"
# Flickr8k.token.txt captions (tokenised: a space before the full stop)
FLICKR8K_KWS_CAPTIONS = {
    "1000268201_693b08cb0e": [
        "A child in a pink dress is climbing up a set of stairs .",
        "A girl going into a wooden building .",
        "A little girl climbing into a wooden playhouse .",
        "A little girl climbing the stairs to her playhouse .",
        "A little girl in a pink dress going into a wooden cabin .",
    ],
    "1001773457_577c3a7d70": [
        "A black dog and a spotted dog are fighting",
        "A black dog and a white dog playing on the road .",
        "A black dog and a white dog with brown spots in the street .",
        "Two dogs of different breeds looking at each other on the road .",
        "Two dogs on pavement moving toward each other .",
    ],
    "1002674143_1b742ab4b8": [
        "A little girl covered in paint sits in front of a rainbow .",
        "A little girl is sitting in front of a large painted rainbow .",
        "A small girl in the grass plays with paints .",
        "There is a girl with pigtails sitting in front of a painting .",
        "Young girl with pigtails painting outside in the grass .",
    ],
    "2513260012_03d33305cf": [
        "A black dog is running after a white dog in the snow .",
        "Black dog chasing brown dog through snow",
        "Two dogs chase each other across the snowy ground .",
        "Two dogs play together in the snow .",
        "Two dogs running through a low lying body of water .",
    ],
    "3385593926_d3e9c21170": [
        "The dogs are in the snow in front of a fence .",
        "The dogs play on the snow .",
        "Two brown dogs playfully fight in the snow .",
        "Two brown dogs wrestle in the snow .",
        "Two dogs playing in the snow .",
    ],
    FLICKR8K_KWS_TEST_IMAGE: [
        "A couple of people sit outdoors at a table with an umbrella .",
        "Three people are sitting at an outside picnic bench .",
        "Three people sit at an outdoor cafe .",
        "Three people sit at an outdoor table in front of a building .",
        "Three people sit at a picnic table outside of a building .",
    ],
}

# Flickr30k: <photo id> -> 5 captions. Flickr8k images are in Flickr30k
# under their Flickr photo id (the part of the Flickr8k name before "_"):
# FLICKR30K_FROM_FLICKR8K must never train a tagger.
FLICKR30K_FROM_FLICKR8K = ("1000268201", "2513260012", "3385593926")
FLICKR30K_CAPTIONS = {
    "1000092795": [
        "Two young guys with shaggy hair look at their hands in the yard .",
        "Two young , White males are outside near many bushes .",
        "Two men in green shirts are standing in a yard .",
        "A man in a blue shirt standing in a garden .",
        "Two friends enjoy time spent together .",
    ],
    "10002456": [
        "Several men in hard hats are operating a giant pulley system .",
        "Workers look down from up above on a piece of equipment .",
        "Two men working on a machine wearing hard hats .",
        "Four men on top of a tall structure .",
        "Three men on a large rig .",
    ],
    "1000344755": [
        "Two brown dogs run through the snow .",
        "Two dogs play in the deep snow .",
        "A brown dog and a black dog in the snow .",
        "Dogs running in the white snow .",
        "Two dogs playing together in snow .",
    ],
    "1000366164": [
        "Three people sit at a table outside a cafe .",
        "People sitting at a table with an umbrella .",
        "Three people eating at a picnic table .",
        "A group of people sit at a table in the sun .",
        "Three friends sitting at a table .",
    ],
    "1000523639": [
        "A black dog runs on the grass .",
        "A dog running in the green grass .",
        "The black dog plays in a field of grass .",
        "A dog runs across the grass .",
        "A black dog running outside .",
    ],
    "1000919630": [
        "A man sits on a bench in the snow .",
        "A man sitting outside in the snow .",
        "Two people sitting on a bench .",
        "People sit on a bench near a building .",
        "A man sitting on a park bench .",
    ],
    "10010052": [
        "A girl in a pink dress plays in the water .",
        "A little girl playing in the water .",
        "A girl splashes in the water .",
        "A child plays in a pool of water .",
        "A little girl in pink in the water .",
    ],
    "1001465944": [
        "Two dogs play with a ball on the grass .",
        "Two brown dogs chase a ball .",
        "Dogs playing with a ball in the grass .",
        "Two dogs running after a ball .",
        "A brown dog and a white dog play with a ball .",
    ],
    "1000268201": [
        "A little girl climbing into a wooden playhouse .",
        "A girl going into a wooden building .",
        "A little girl climbing the stairs to her playhouse .",
        "A child in a pink dress is climbing up stairs .",
        "A little girl in a pink dress going into a cabin .",
    ],
    "2513260012": [
        "Two dogs play together in the snow .",
        "Black dog chasing brown dog through snow .",
        "Two dogs chase each other across the snowy ground .",
        "A black dog running after a white dog in the snow .",
        "Two dogs running through water .",
    ],
    "3385593926": [
        "Two brown dogs wrestle in the snow .",
        "Two dogs playing in the snow .",
        "The dogs play on the snow .",
        "The dogs are in the snow in front of a fence .",
        "Two brown dogs playfully fight in the snow .",
    ],
}
# Multi30k task 2: 5 independent German captions of each image
MULTI30K_TASK2 = {
    "train": {
        "1000092795": [
            "Zwei Männer betrachten etwas im Garten",
            "Zwei junge Männer stehen im Garten.",
            "Männer im Garten neben Büschen.",
            "Zwei Freunde verbringen Zeit im Garten.",
            "Ein Mann steht in einem Garten.",
        ],
        "1000344755": [
            "Zwei braune Hunde laufen durch den Schnee.",
            "Zwei Hunde spielen im tiefen Schnee.",
            "Ein brauner Hund und ein schwarzer Hund im Schnee.",
            "Hunde laufen im weißen Schnee.",
            "Zwei Hunde spielen zusammen im Schnee.",
        ],
        "1000366164": [
            "Drei Menschen sitzen an einem Tisch vor einem Café.",
            "Menschen sitzen an einem Tisch mit Schirm.",
            "Drei Menschen essen an einem Tisch.",
            "Eine Gruppe Menschen sitzt an einem Tisch.",
            "Drei Freunde sitzen an einem Tisch.",
        ],
        "1000268201": [
            "Ein kleines Mädchen klettert in ein Spielhaus.",
            "Ein Mädchen geht in ein Holzhaus.",
            "Ein Mädchen klettert die Treppe hinauf.",
            "Ein Kind im rosa Kleid klettert.",
            "Ein kleines Mädchen im rosa Kleid.",
        ],
        "3385593926": [
            "Zwei braune Hunde raufen im Schnee.",
            "Zwei Hunde spielen im Schnee.",
            "Die Hunde spielen auf dem Schnee.",
            "Die Hunde sind im Schnee vor einem Zaun.",
            "Zwei braune Hunde kämpfen im Schnee.",
        ],
    },
    "val": {
        "1000523639": [
            "Ein schwarzer Hund läuft auf dem Gras.",
            "Ein Hund läuft im grünen Gras.",
            "Der schwarze Hund spielt im Gras.",
            "Ein Hund läuft über das Gras.",
            "Ein schwarzer Hund läuft draußen.",
        ],
        "1000919630": [
            "Ein Mann sitzt auf einer Bank im Schnee.",
            "Ein Mann sitzt draußen im Schnee.",
            "Zwei Menschen sitzen auf einer Bank.",
            "Menschen sitzen auf einer Bank.",
            "Ein Mann sitzt auf einer Parkbank.",
        ],
    },
}
# Multi30k task 1: one English sentence (untokenised, as in the raw files)
# and its German translation per image; two images are Flickr8k test images
# (in the train split, as in the real data)
MULTI30K_TASK1 = {
    "train": [
        (
            "1000092795",
            "Two young, White males are outside near many bushes.",
            "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
        ),
        (
            "3385593926",
            "Two brown dogs wrestle in the snow.",
            "Zwei braune Hunde raufen im Schnee.",
        ),
        (
            "3637013",
            "Three people sit at an outdoor cafe.",
            "Drei Menschen sitzen in einem Café im Freien.",
        ),
    ],
    "val": [
        (
            "2513260012",
            "Two dogs play together in the snow.",
            "Zwei Hunde spielen zusammen im Schnee.",
        ),
    ],
    "test_2016_flickr": [
        (
            "1007129816",
            "A man in an orange hat starring at something.",
            "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
        ),
    ],
}
# Kamper et al.'s semantic labels (semantic_flickraudio/data/): the hard
# labels and annotator counts of some Flickr8k test utterances
SEMANTIC_KEYWORDS = ["dogs", "snow", "people", "brown", "sitting", "table"]
SEMANTIC_ROWS = [
    (
        "3385593926_d3e9c21170_2",
        "two brown dogs playfully fight in the snow",
        {"dogs": 5, "snow": 5, "brown": 4, "people": 1},
    ),
    (
        "3637013_c675de7705_1",
        "three people are sitting at an outside picnic bench",
        {"people": 5, "sitting": 5, "table": 3, "snow": 1},
    ),
    ("3637013_c675de7705_3", "three people sit at an outdoor table", {}),
]


def write_flickr8k_kws(root):
    """Writes a miniature Flickr8k Audio Caption corpus (see
    :func:`write_flickr8k`) with a second test image,
    :data:`FLICKR8K_KWS_TEST_IMAGE` (wavs, wav2capt.txt, wav2spk.txt,
    JPEG, the official test list and Karpathy's file), and
    ``Flickr8k.token.txt`` holding :data:`FLICKR8K_KWS_CAPTIONS`.

    Returns
    -------
    dict
        ``{wav stem: (samples, speaker)}``.
    """
    wavs = write_flickr8k(root)
    image = FLICKR8K_KWS_TEST_IMAGE
    audio = root / "flickr_audio"
    capt, spk = [], []
    for k in range(FLICKR8K_CAPTIONS):
        stem = f"{image}_{k}"
        samples = 1200 + 160 * k
        soundfile.write(
            str(audio / "wavs" / f"{stem}.wav"),
            np.random.default_rng(7 + k).uniform(-0.1, 0.1, samples),
            RATE,
        )
        capt.append(f"{stem}.wav {image}.jpg #{k}\n")
        spk.append(f"{stem}.wav {1 + k % 3}\n")
        wavs[stem] = (samples, str(1 + k % 3))
    with open(audio / "wav2capt.txt", "a") as f:
        f.writelines(capt)
    with open(audio / "wav2spk.txt", "a") as f:
        f.writelines(spk)
    Image.new("RGB", (8, 6), (200, 30, 10)).save(
        root / "Flicker8k_Dataset" / f"{image}.jpg", "JPEG"
    )
    with open(root / "Flickr8k_text" / "Flickr_8k.testImages.txt", "a") as f:
        f.write(f"{image}.jpg\n")
    karpathy = json.loads((root / "dataset_flickr8k.json").read_text())
    karpathy["images"].append(
        {
            "filename": f"{image}.jpg",
            "imgid": len(karpathy["images"]),
            "split": "test",
            "sentences": [
                {"raw": c, "tokens": c.split()}
                for c in FLICKR8K_KWS_CAPTIONS[image]
            ],
        }
    )
    (root / "dataset_flickr8k.json").write_text(json.dumps(karpathy))
    lines = [
        f"{name}.jpg#{k}\t{caption}"
        for name, captions in FLICKR8K_KWS_CAPTIONS.items()
        for k, caption in enumerate(captions)
    ]
    lines += [f"{FLICKR8K_UNLISTED}.jpg#{k}\tA cat ." for k in range(5)]
    lines.append("2258277193_586949ec62.jpg.1#0\tA dog .")  # the real quirk
    (root / "Flickr8k_text" / "Flickr8k.token.txt").write_text(
        "\n".join(lines) + "\n"
    )
    return wavs


def write_flickr30k(root):
    """Writes a miniature Flickr30k: ``results_20130124.token``
    (``<photo id>.jpg#<k>\\t<caption>``) and ``flickr30k-images/`` with a
    JPEG of every image of :data:`FLICKR30K_CAPTIONS` (which holds those
    of Multi30k task 2), some of them Flickr8k images
    (:data:`FLICKR30K_FROM_FLICKR8K`).

    Returns
    -------
    dict
        :data:`FLICKR30K_CAPTIONS`.
    """
    (root / "flickr30k-images").mkdir(parents=True)
    lines = []
    for i, (image, captions) in enumerate(FLICKR30K_CAPTIONS.items()):
        Image.new("RGB", (10, 8), (20 * i, 100, 255 - 20 * i)).save(
            root / "flickr30k-images" / f"{image}.jpg", "JPEG"
        )
        lines += [f"{image}.jpg#{k}\t{c}" for k, c in enumerate(captions)]
    (root / "results_20130124.token").write_text("\n".join(lines) + "\n")
    return FLICKR30K_CAPTIONS


def _write_gz_lines(path, lines):
    """Writes UTF-8 lines, gzip-compressed, as the Multi30k raw files."""
    import gzip

    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def write_multi30k(root):
    """Writes a miniature clone of the multi30k/dataset repository:
    ``data/task1/image_splits/<split>.txt`` with
    ``data/task1/raw/<split>.{en,de}.gz`` (:data:`MULTI30K_TASK1`) and
    ``data/task2/image_splits/<split>_images.txt`` with
    ``data/task2/raw/<split>.{1..5}.{en,de}.gz`` (:data:`MULTI30K_TASK2`;
    the English task 2 files hold Flickr30k captions).
    """
    task1 = root / "data" / "task1"
    for folder in ("image_splits", "raw"):
        (task1 / folder).mkdir(parents=True)
    for split, rows in MULTI30K_TASK1.items():
        (task1 / "image_splits" / f"{split}.txt").write_text(
            "".join(f"{image}.jpg\n" for image, _, _ in rows)
        )
        _write_gz_lines(task1 / "raw" / f"{split}.en.gz", [r[1] for r in rows])
        _write_gz_lines(task1 / "raw" / f"{split}.de.gz", [r[2] for r in rows])
    task2 = root / "data" / "task2"
    for folder in ("image_splits", "raw"):
        (task2 / folder).mkdir(parents=True)
    for split, images in MULTI30K_TASK2.items():
        (task2 / "image_splits" / f"{split}_images.txt").write_text(
            "".join(f"{image}.jpg\n" for image in images)
        )
        for k in range(5):
            _write_gz_lines(
                task2 / "raw" / f"{split}.{k + 1}.de.gz",
                [captions[k] for captions in images.values()],
            )
            _write_gz_lines(
                task2 / "raw" / f"{split}.{k + 1}.en.gz",
                [FLICKR30K_CAPTIONS[image][k] for image in images],
            )


def write_semantic_flickraudio(root):
    """Writes a miniature clone of kamperh/semantic_flickraudio:
    ``data/keywords.txt`` (:data:`SEMANTIC_KEYWORDS`),
    ``data/semantic_flickraudio_labels.csv`` (``utt_key,transcription,
    keywords``: the keywords at least 3 of 5 annotators chose, joined by
    ``|``, possibly none) and ``data/semantic_flickraudio_counts.csv``
    (``utt_key,transcription,counts``: ``keyword=count`` joined by ``|``),
    from :data:`SEMANTIC_ROWS`.
    """
    data = root / "data"
    data.mkdir(parents=True)
    (data / "keywords.txt").write_text("\n".join(SEMANTIC_KEYWORDS) + "\n")
    labels = ["utt_key,transcription,keywords"]
    counts = ["utt_key,transcription,counts"]
    for utt, text, votes in SEMANTIC_ROWS:
        chosen = "|".join(k for k, n in votes.items() if n >= 3)
        labels.append(f'{utt},"{text}","{chosen}"')
        counted = "|".join(f"{k}={n}" for k, n in votes.items())
        counts.append(f'{utt},"{text}","{counted}"')
    (data / "semantic_flickraudio_labels.csv").write_text(
        "\n".join(labels) + "\n"
    )
    (data / "semantic_flickraudio_counts.csv").write_text(
        "\n".join(counts) + "\n"
    )
