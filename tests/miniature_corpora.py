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
