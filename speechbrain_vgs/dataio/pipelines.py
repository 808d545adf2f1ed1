"""Audio and image loading, and datasets for image/spoken-caption pairs.

Recipes build their datasets with :func:`vgs_dataset`, which reads a
manifest (the format of :mod:`speechbrain_vgs.dataio.manifest`) into a
SpeechBrain ``DynamicItemDataset`` with the items ``sig`` (waveform),
``img`` (normalised image tensor) and ``image_idx`` (an integer per
distinct ``image_id``, so that losses can tell which captions share an
image).

Every bad input gives a :class:`~speechbrain_vgs.dataio.manifest.DataError`
naming the file (and the manifest entry): when the dataset is built (the
manifest's format, placeholders and files, see
:mod:`speechbrain_vgs.dataio.manifest`), or when an item is read (an
unreadable, empty or non-finite wav, a wav whose duration is far from the
manifest's, an unreadable image). Inputs that are converted instead (other
sample rates, several channels, images that are not RGB) are logged once
per process and kind of conversion (:func:`warn_once`).

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os

import numpy as np
import soundfile
import torch
import torchaudio
from PIL import Image
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes
from torchvision import transforms

from speechbrain_vgs.dataio.manifest import (
    VGS_KEYS,
    DataError,
    check_sets,
    load_manifest,
    resolve_paths,
)
from speechbrain_vgs.randomness import ItemRandomness

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # every model and corpus of the project reads 16 kHz
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# a wav is wrong if its duration is off the manifest's by more than both
DURATION_TOLERANCE_S = 0.5
DURATION_TOLERANCE = 0.1  # share of the manifest's duration
WARNED = set()  # the kinds of conversion this process has logged


def warn_once(kind, message, *args):
    """Logs a warning the first time this process meets ``kind``.

    Example
    -------
    >>> warn_once("doctest", "%s: converted", "a.wav")
    >>> "doctest" in WARNED
    True
    """
    if kind not in WARNED:
        WARNED.add(kind)
        logger.warning(message, *args)


def read_wav(path, sample_rate=SAMPLE_RATE):
    """Reads a wav file as a mono float tensor at ``sample_rate``.

    Multi-channel audio is averaged to mono; other sample rates are
    resampled; the first file of each kind is logged (:func:`warn_once`).
    Unreadable files, files without samples and files with NaN or infinite
    samples raise :class:`DataError` naming the file.

    Arguments
    ---------
    path : str
        The audio file.
    sample_rate : int
        The rate the caller wants.

    Returns
    -------
    torch.Tensor
        ``[samples]`` float32.

    Example
    -------
    >>> import numpy as np
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> soundfile.write(path, np.zeros((8000, 2)), 8000)
    >>> read_wav(path).shape
    torch.Size([16000])
    """
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as e:
        raise DataError(f"{path}: cannot read audio: {e}") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: has no samples (an empty audio file)")
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        raise DataError(
            f"{path}: {bad.size} NaN or infinite samples, the first at "
            f"{bad[0] / rate:.3f} s"
        )
    if data.shape[1] > 1:
        warn_once(
            "channels",
            "%s has %d channels: averaged to mono (logged once: later "
            "multi-channel files are averaged too)",
            path,
            data.shape[1],
        )
    wav = torch.from_numpy(data.mean(axis=1))
    if rate != sample_rate:
        warn_once(
            "sample rate",
            "%s is at %d Hz: resampled to %d Hz (logged once: later files "
            "at other rates are resampled too)",
            path,
            rate,
            sample_rate,
        )
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    return wav


def random_crop(wav, max_samples, generator=None):
    """Returns a random window of at most ``max_samples`` of ``wav``.

    Example
    -------
    >>> random_crop(torch.arange(10.0), 4).shape
    torch.Size([4])
    >>> random_crop(torch.arange(3.0), 4).shape
    torch.Size([3])
    """
    if wav.shape[0] <= max_samples:
        return wav
    start = torch.randint(
        0, wav.shape[0] - max_samples + 1, (1,), generator=generator
    ).item()
    return wav[start : start + max_samples]


def audio_item(
    sample_rate=SAMPLE_RATE, max_audio_seconds=None, randomness=None
):
    """The dynamic item ``wav`` (path) -> ``sig`` (waveform) of a dataset.

    It takes the entry's ``id`` and ``duration`` too: a file whose whole
    duration (before any crop) is off the manifest's by more than
    ``DURATION_TOLERANCE_S`` seconds and more than ``DURATION_TOLERANCE``
    of it raises :class:`DataError` naming the file, the entry and both
    durations.

    Arguments
    ---------
    sample_rate : int
        Audio is read (and resampled if needed) at this rate.
    max_audio_seconds : float, optional
        Randomly crop longer audio to this length (``None``: whole).
    randomness : speechbrain_vgs.randomness.ItemRandomness, optional
        Where the crops draw from (by utterance id and epoch, so that a
        resumed run crops as the uninterrupted one); ``None``: torch's
        global generator.

    Returns
    -------
    callable
        A SpeechBrain dynamic item (``takes("id", "wav", "duration")``,
        ``provides("sig")``).

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> soundfile.write(path, np.zeros(3200), 16000)
    >>> audio_item(max_audio_seconds=0.1)("u", path, 0.2).shape
    torch.Size([1600])
    >>> audio_item()("u", path, 2.0)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../a.wav: lasts 0.20 s, but
    its manifest entry 'u' says 2.00 s
    """
    max_samples = None
    if max_audio_seconds is not None:
        max_samples = int(round(max_audio_seconds * sample_rate))

    @takes("id", "wav", "duration")
    @provides("sig")
    def audio_pipeline(utt_id, wav, duration):
        sig = read_wav(wav, sample_rate)
        seconds = sig.shape[0] / sample_rate
        gap = abs(seconds - duration)
        if gap > DURATION_TOLERANCE_S and gap > DURATION_TOLERANCE * duration:
            raise DataError(
                f"{wav}: lasts {seconds:.2f} s, but its manifest entry "
                f"{utt_id!r} says {duration:.2f} s"
            )
        if max_samples is not None:
            generator = randomness and randomness.generator(utt_id)
            sig = random_crop(sig, max_samples, generator)
        return sig

    return audio_pipeline


def image_transform(size=224, resize=None, train_crop=False, crop_scale=None):
    """Builds the image preprocessing of DAVEnet/ResDAVEnet: a resize (or
    a random resized crop in training), then ImageNet normalisation.

    Arguments
    ---------
    size : int
        Output height and width.
    resize : int, optional
        Resize the shorter side to this before a centre crop of ``size``
        (256 for the papers' evaluation). ``None`` resizes straight to
        ``size`` x ``size``.
    train_crop : bool
        Random resized crop (the papers' training augmentation). Flips are
        never used: captions speak about left and right.
    crop_scale : tuple, optional
        Range of the crop's area as a share of the image (torchvision's
        default, (0.08, 1.0), when ``None``).

    Returns
    -------
    callable
        PIL image -> normalised ``[3, size, size]`` tensor.

    Example
    -------
    >>> t = image_transform(64)
    >>> t(Image.new("RGB", (100, 80))).shape
    torch.Size([3, 64, 64])
    """
    if train_crop:
        steps = [
            transforms.RandomResizedCrop(size, scale=crop_scale or (0.08, 1.0))
        ]
    elif resize is not None:
        steps = [transforms.Resize(resize), transforms.CenterCrop(size)]
    else:
        steps = [transforms.Resize((size, size))]
    steps += [
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    return transforms.Compose(steps)


def read_image(path, transform):
    """Opens an image as RGB and applies ``transform``.

    Images that are not RGB are converted, the first of each mode logged
    (:func:`warn_once`): grey levels are repeated in the three channels,
    16-bit grey (modes ``I;16`` and ``I``) is scaled to 8 bits (values
    divided by 257), palette images take their palette colours, and alpha
    is dropped. Unreadable files raise :class:`DataError` naming the file.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "x.png")
    >>> Image.new("RGB", (10, 10)).save(path)
    >>> read_image(path, image_transform(8)).shape
    torch.Size([3, 8, 8])
    >>> Image.new("L", (10, 12)).save(path)
    >>> read_image(path, transforms.ToTensor()).shape
    torch.Size([3, 12, 10])
    """
    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode.startswith("I"):
                grey = np.asarray(img, dtype=np.int64) // 257
                img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
            rgb = img.convert("RGB")
    except Exception as e:
        raise DataError(f"{path}: cannot read image: {e}") from None
    if mode != "RGB":
        warn_once(
            f"image mode {mode}",
            "%s has image mode %s: converted to RGB (logged once per mode)",
            path,
            mode,
        )
    return transform(rgb)


def image_index(manifest):
    """Maps each distinct ``image_id`` of a manifest to an integer.

    Example
    -------
    >>> image_index({"u1": {"image_id": "b"}, "u2": {"image_id": "a"},
    ...              "u3": {"image_id": "b"}})
    {'a': 0, 'b': 1}
    """
    ids = sorted({entry["image_id"] for entry in manifest.values()})
    return {image_id: i for i, image_id in enumerate(ids)}


def vgs_dataset(
    manifest_path,
    replacements,
    transform,
    sample_rate=16000,
    max_audio_seconds=None,
    text=False,
):
    """A ``DynamicItemDataset`` of image/spoken-caption pairs.

    Arguments
    ---------
    manifest_path : str
        A JSON manifest (see :mod:`speechbrain_vgs.dataio.manifest`).
    replacements : dict
        Values for the ``{data_root}``/``{image_root}`` placeholders.
    transform : callable or None
        Image preprocessing (see :func:`image_transform`); ``None`` gives
        the image file path instead of the image (for models that embed
        images themselves, e.g. a frozen CLIP with its cache).
    sample_rate : int
        Audio is read (and resampled if needed) at this rate.
    max_audio_seconds : float, optional
        Randomly crop longer audio to this length (SpeechCLIP trains on
        6.4 s crops). ``None`` keeps whole utterances.
    text : bool
        Whether the items carry the caption ``text`` (then every entry must
        have one).

    Returns
    -------
    DynamicItemDataset
        Output keys ``id``, ``sig`` (waveform), ``img`` (image tensor) or
        ``image`` (its path), ``image_idx``, and ``text`` if asked.

    Raises
    ------
    DataError
        Naming the manifest (and the entry) when it is not a valid
        manifest (:func:`~speechbrain_vgs.dataio.manifest.check_manifest`),
        has an unknown placeholder or names a missing file
        (:func:`~speechbrain_vgs.dataio.manifest.resolve_paths`).

    Example
    -------
    >>> import numpy as np
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(str(tmp / "u.wav"), np.zeros(1600), 16000)
    >>> Image.new("RGB", (32, 32)).save(str(tmp / "i.png"))
    >>> write_json(tmp / "m.json", {"u": {
    ...     "wav": "{data_root}/u.wav", "duration": 0.1,
    ...     "image": "{image_root}/i.png", "image_id": "i", "speaker": "s"}})
    >>> roots = {"data_root": str(tmp), "image_root": str(tmp)}
    >>> ds = vgs_dataset(tmp / "m.json", roots, image_transform(16))
    >>> item = ds[0]
    >>> item["sig"].shape, item["img"].shape, item["image_idx"]
    (torch.Size([1600]), torch.Size([3, 16, 16]), 0)
    """
    manifest_path = os.fspath(manifest_path)
    required = (*VGS_KEYS, "text") if text else VGS_KEYS
    data = resolve_paths(
        load_manifest(manifest_path, required), manifest_path, replacements
    )
    dataset = DynamicItemDataset(data)
    dataset.randomness = ItemRandomness()
    index = image_index(data)

    @takes("id", "image", "image_id")
    @provides("img", "image_idx")
    def image_pipeline(utt_id, image, image_id):
        with dataset.randomness.seeded(utt_id):  # random crops
            img = read_image(image, transform)
        yield img
        yield index[image_id]

    @takes("image_id")
    @provides("image_idx")
    def image_index_pipeline(image_id):
        return index[image_id]

    dataset.add_dynamic_item(
        audio_item(sample_rate, max_audio_seconds, dataset.randomness)
    )
    keys = ["id", "sig", "img", "image_idx"]
    if transform is None:
        dataset.add_dynamic_item(image_index_pipeline)
        keys[2] = "image"
    else:
        dataset.add_dynamic_item(image_pipeline)
    if text:
        keys.append("text")
    dataset.set_output_keys(keys)
    return dataset


def sort_by_duration(dataset, sorting):
    """Sorts a dataset for SpeechBrain's ``sorting`` option.

    Arguments
    ---------
    dataset : DynamicItemDataset
        A dataset whose entries have ``duration``.
    sorting : str
        ``"ascending"``, ``"descending"`` or ``"random"`` (unchanged order;
        the train loader shuffles).

    Returns
    -------
    DynamicItemDataset
        Keeping ``dataset``'s ``randomness``, if any.

    Example
    -------
    >>> ds = DynamicItemDataset({"a": {"duration": 2.0},
    ...                          "b": {"duration": 1.0}}, output_keys=["id"])
    >>> [x["id"] for x in sort_by_duration(ds, "ascending")]
    ['b', 'a']
    """
    if sorting == "random":
        return dataset
    if sorting not in ("ascending", "descending"):
        raise ValueError(
            f"sorting must be ascending, descending or random, not {sorting!r}"
        )
    randomness = getattr(dataset, "randomness", None)
    dataset = dataset.filtered_sorted(
        sort_key="duration", reverse=sorting == "descending"
    )
    dataset.randomness = randomness
    return dataset


def vgs_datasets(
    manifests,
    replacements,
    image_size,
    sorting="random",
    eval_resize=None,
    train_crop=False,
    crop_scale=None,
    max_audio_seconds=None,
    sample_rate=16000,
    text=False,
):
    """Builds the datasets of a recipe from its manifests.

    The ``"train"`` set gets the training image transform, the optional
    random audio crop and the ``sorting`` order; every other set is
    evaluated on whole utterances, sorted by duration (less padding).

    Arguments
    ---------
    manifests : dict
        ``{set name: manifest path}``; ``"train"`` is the training set.
    replacements : dict
        Values for the ``{data_root}``/``{image_root}`` placeholders.
    image_size : int or None
        Image height and width fed to the image encoder; ``None`` gives
        image paths (see :func:`vgs_dataset`).
    sorting : str
        Training order: ``"random"``, ``"ascending"`` or ``"descending"``.
    eval_resize : int, optional
        Resize before a centre crop at evaluation (256 in the papers).
    train_crop : bool
        Random resized crops in training.
    crop_scale : tuple, optional
        Area range of the training crops (see :func:`image_transform`).
    max_audio_seconds : float, optional
        Random crop of training audio (``None``: whole utterances).
    sample_rate : int
        Audio sample rate.
    text : bool
        Whether the items carry the caption ``text``.

    Returns
    -------
    dict
        ``{set name: DynamicItemDataset}``.

    Raises
    ------
    DataError
        Naming a set whose manifest is missing (see
        :func:`~speechbrain_vgs.dataio.manifest.check_sets`), or as
        :func:`vgs_dataset`.
    """
    check_sets(manifests)
    datasets = {}
    for name, path in manifests.items():
        train = name == "train"
        transform = None
        if image_size is not None:
            transform = image_transform(
                image_size,
                resize=eval_resize,
                train_crop=train and train_crop,
                crop_scale=crop_scale,
            )
        dataset = vgs_dataset(
            path,
            replacements,
            transform,
            sample_rate=sample_rate,
            max_audio_seconds=max_audio_seconds if train else None,
            text=text,
        )
        datasets[name] = sort_by_duration(
            dataset, sorting if train else "ascending"
        )
    return datasets


def speech_dataset(manifests, replacements, max_audio_seconds=None):
    """The utterances of several manifests as one speech-only dataset.

    Arguments
    ---------
    manifests : list of str
        JSON manifests (see :mod:`speechbrain_vgs.dataio.manifest`; only
        ``wav`` and ``duration`` are needed). Utterance ids must be unique
        across them.
    replacements : dict
        Values of the ``{data_root}`` placeholder.
    max_audio_seconds : float, optional
        Random crop of longer utterances (``None``: whole utterances).

    Returns
    -------
    DynamicItemDataset
        Output keys ``id`` and ``sig``; entries keep ``duration``.

    Raises
    ------
    DataError
        Naming the manifest of an entry without ``wav``/``duration`` or
        with a missing wav (see
        :func:`~speechbrain_vgs.dataio.manifest.resolve_paths`), or the two
        manifests that share an utterance id.

    Example
    -------
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(str(tmp / "u.wav"), np.zeros(3200), 16000)
    >>> write_json(tmp / "a.json", {"a": {"wav": "{data_root}/u.wav",
    ...                                   "duration": 0.2}})
    >>> write_json(tmp / "b.json", {"b": {"wav": "{data_root}/u.wav",
    ...                                   "duration": 0.2}})
    >>> ds = speech_dataset([tmp / "a.json", tmp / "b.json"],
    ...                     {"data_root": str(tmp)}, max_audio_seconds=0.1)
    >>> len(ds), ds[1]["id"], ds[1]["sig"].shape
    (2, 'b', torch.Size([1600]))
    """
    data, sources = {}, {}
    for path in manifests:
        path = os.fspath(path)
        manifest = load_manifest(path, ("wav", "duration"))
        entries = resolve_paths(manifest, path, replacements, ("wav",))
        for utt_id, entry in entries.items():
            if utt_id in data:
                raise DataError(
                    f"{path}: utterance {utt_id!r} is also in {sources[utt_id]}"
                )
            data[utt_id] = {"wav": entry["wav"], "duration": entry["duration"]}
            sources[utt_id] = path
    randomness = ItemRandomness()
    dataset = DynamicItemDataset(
        data,
        dynamic_items=[audio_item(SAMPLE_RATE, max_audio_seconds, randomness)],
        output_keys=["id", "sig"],
    )
    dataset.randomness = randomness
    return dataset
