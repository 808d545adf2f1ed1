"""Converts the released ResDAVEnet-VQ models into a grounding model folder.

The authors of "Learning Hierarchical Discrete Linguistic Units from
Visually-Grounded Speech" (Harwath, Hsu & Glass, ICLR 2020) released the
experiment folders of their training script (github.com/wnhsu/ResDAVEnet-VQ,
``run_ResDavenetVQ.py``): ``args.pkl`` (its pickled ``argparse`` options)
and ``models/best_audio_model.pth`` and ``models/best_image_model.pth``,
the state dicts of the audio and image models, saved while wrapped in
``nn.DataParallel`` (every key starts with ``module.``), by a PyTorch of
2019-2020 (both of ``torch.save``'s formats are read, without running
code).

What they hold and where it goes in this project's model (``model``, a
``ModuleList`` of the speech encoder, ``0.``, and the image encoder,
``1.``):

- audio (``ResDavenetVQ``) -> :class:`~speechbrain_vgs.lobes.audio.ResDAVEnet`:
  ``conv1.weight [W0, 1, n_mels, 1]`` (a 2-D conv over the mel bins) ->
  ``conv1.weight [W0, n_mels, 1]``; ``bn1`` -> ``bn1``;
  ``layer{i}.{j}.conv{1,2}.weight [W, W', 1, k]`` (2-D convs with
  ``(1, k)`` kernels) -> ``res.res{i}.{j}.conv{1,2}.weight [W, W', k]``,
  their ``bn{1,2}`` and ``downsample.{0,1}`` likewise;
  ``quant{l}._embedding.weight``, ``._ema_cluster_size``, ``._ema_w`` (the
  quantizer after conv1 for l = 1, after ``layer{l-1}`` otherwise) ->
  ``vq.<layer>.codebook``, ``.ema_count``, ``.ema_sum`` (the EMA state, so
  fine-tuning continues the codebook updates as the release would);
  ``batchnorm1`` is built by the release but never used by its forward,
  and is dropped.
- image (``Resnet50``: torchvision's ResNet-50 without ``avgpool`` and
  ``fc``, then a 1x1 ``embedder``) ->
  :class:`~speechbrain_vgs.lobes.image.ResNet50Encoder`: ``X`` ->
  ``trunk.X``, ``embedder.*`` -> ``embedder.*``.

The architecture comes from the weights' shapes (widths, blocks, kernel
size, quantized layers, codebook size, mel bins, embedding size); when
``args.pkl`` is there it must agree with them, and it gives what shapes
do not: the temporal jitter (``--jitter``), the commitment cost
(``--VQ-commitment-cost``) and whether the image trunk was frozen
(``--freeze-image-model``); without it the release's defaults are used
(0.12, 1.0, not frozen). ``args.pkl`` is read with an unpickler that can
build ``argparse.Namespace`` and nothing else.

The folder written is what a grounding recipe leaves: ``hyperparams.yaml``
(``recipes/PlacesAudio/VGS/hparams/resdavenet_vq.yaml`` with the
architecture above, the release's own front end,
:class:`~speechbrain_vgs.lobes.features.LibrosaLogMel`, and ``init_from``
naming the folder, so that the recipe run on this file tests or fine-tunes
the converted weights), ``model.ckpt``, ``export/`` (the speech encoder,
for :class:`~speechbrain_vgs.lobes.grounded.GroundedFeatures`) and
``conversion.json`` (where it came from). It loads with
:func:`speechbrain_vgs.inference.load_inference`.

Authors
 * speechbrain-vgs developers 2026
"""

import datetime
import io
import os
import pickle
import re

import torch
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.tag import Tag

from speechbrain_vgs.checkpoints import replaced_folder, save_torch
from speechbrain_vgs.converters import (
    MARKER_FILE,
    CheckpointFormatError,
    check_output_folder,
)
from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.features import LibrosaLogMel
from speechbrain_vgs.lobes.grounded import export_speech_encoder
from speechbrain_vgs.lobes.image import ResNet50Encoder

FAMILY = "ResDAVEnet-VQ"
FAMILY_NAME = "resdavenet-vq"  # the registry's name (conversion.json)
REPOSITORY = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
RECIPE_HPARAMS = os.path.join(
    REPOSITORY, "recipes", "PlacesAudio", "VGS", "hparams", "resdavenet_vq.yaml"
)
RECIPE_FEATURES = "!new:speechbrain_vgs.lobes.features.LogMel"
CONVERTED_FEATURES = "!new:speechbrain_vgs.lobes.features.LibrosaLogMel"
AUDIO_FILE = os.path.join("models", "best_audio_model.pth")
IMAGE_FILE = os.path.join("models", "best_image_model.pth")
ARGS_FILE = "args.pkl"
PREFIX = "module."
LAYERS = ResDAVEnet.layer_names  # the release's slots 1..5
VQ_ENTRIES = {
    "codebook": "_embedding.weight",
    "ema_count": "_ema_cluster_size",
    "ema_sum": "_ema_w",
}
UNUSED_AUDIO = "batchnorm1."
# The release's defaults (run_ResDavenetVQ.py) for what shapes do not tell
DEFAULT_JITTER = 0.12
DEFAULT_COMMITMENT = 1.0


def looks_like_resdavenet_vq(state_dict):
    """Whether a state dict is the audio model of a ResDAVEnet-VQ release.

    It is when it holds (with or without the ``module.`` prefix) a
    ``conv1.weight`` of shape ``[W, 1, n_mels, 1]`` and a
    ``layer1.0.conv1.weight`` of shape ``[W', W, 1, k]``. (The image model
    alone cannot tell: it is a ResNet-50 with a 1x1 embedder, as in other
    releases.)

    Arguments
    ---------
    state_dict : dict
        A loaded checkpoint.

    Returns
    -------
    bool

    Example
    -------
    >>> looks_like_resdavenet_vq({
    ...     "module.conv1.weight": torch.zeros(8, 1, 40, 1),
    ...     "module.layer1.0.conv1.weight": torch.zeros(16, 8, 1, 9)})
    True
    >>> looks_like_resdavenet_vq({"conv1.weight": torch.zeros(64, 3, 7, 7)})
    False
    """
    if not isinstance(state_dict, dict):
        return False
    state = _strip_prefix(state_dict)
    conv1 = state.get("conv1.weight")
    first = state.get("layer1.0.conv1.weight")
    if not (torch.is_tensor(conv1) and torch.is_tensor(first)):
        return False
    return (
        conv1.dim() == 4
        and conv1.shape[1] == 1
        and conv1.shape[3] == 1
        and first.dim() == 4
        and first.shape[1] == conv1.shape[0]
        and first.shape[2] == 1
    )


def release_files(folder):
    """The files of an unpacked release (an experiment folder).

    Arguments
    ---------
    folder : str
        Holds ``models/best_audio_model.pth``,
        ``models/best_image_model.pth`` and, usually, ``args.pkl``.

    Returns
    -------
    dict
        ``{"audio_model", "image_model", "args_file"}``: paths
        (``args_file`` is None when the folder has no ``args.pkl``), the
        keyword arguments of :func:`convert_resdavenet_vq`.

    Raises
    ------
    FileNotFoundError
        If a model file is missing.

    Example
    -------
    >>> release_files("exps/RDVQ_01000")
    Traceback (most recent call last):
    ...
    FileNotFoundError: exps/RDVQ_01000/models/best_audio_model.pth: no such ...
    """
    folder = os.fspath(folder)
    files = {
        "audio_model": os.path.join(folder, AUDIO_FILE),
        "image_model": os.path.join(folder, IMAGE_FILE),
        "args_file": os.path.join(folder, ARGS_FILE),
    }
    for key in ("audio_model", "image_model"):
        if not os.path.isfile(files[key]):
            raise FileNotFoundError(
                f"{files[key]}: no such file (a {FAMILY} release folder holds "
                f"{AUDIO_FILE}, {IMAGE_FILE} and {ARGS_FILE})"
            )
    if not os.path.isfile(files["args_file"]):
        files["args_file"] = None
    return files


def convert_resdavenet_vq(
    audio_model,
    image_model,
    out_folder,
    args_file=None,
    data_folder=None,
    image_folder=None,
    hparams_file=RECIPE_HPARAMS,
    overrides=None,
):
    """Converts a ResDAVEnet-VQ release into a grounding model folder.

    See the module docstring for what is converted and what the folder
    holds; :func:`release_files` names the files of a release folder.

    Arguments
    ---------
    audio_model : str
        The release's ``models/best_audio_model.pth``.
    image_model : str
        The release's ``models/best_image_model.pth``.
    out_folder : str
        The folder to write (new, empty, or an earlier conversion, which
        is replaced).
    args_file : str, optional
        The release's ``args.pkl``.
    data_folder : str, optional
        ``data_folder`` of the hparams (Places Audio Captions), for running
        the recipe on the folder's ``hyperparams.yaml``; null otherwise
        (then give it on the recipe's command line).
    image_folder : str, optional
        ``image_folder`` of the hparams (the Places205 images), likewise.
    hparams_file : str
        The recipe hparams the folder's ``hyperparams.yaml`` is made from
        (by default the PlacesAudio ResDAVEnet-VQ recipe's, in this
        source tree).
    overrides : dict, optional
        Other top-level keys of the hparams to set, e.g.
        ``{"image_weights": "resnet50-0676ba61.pth"}``.

    Returns
    -------
    str
        ``out_folder``, absolute.

    Raises
    ------
    CheckpointFormatError
        Naming the file, when a checkpoint is not a release's audio or
        image model or lacks entries (listing the missing, unexpected and
        misshapen ones), when ``args.pkl`` cannot be read or disagrees with
        the weights, or when the release computes something this project's
        models cannot (an even kernel size, codebooks of different sizes).
    FileExistsError
        If ``out_folder`` holds files and is not an earlier conversion.
    """
    out_folder = os.path.abspath(os.fspath(out_folder))
    check_output_folder(out_folder)
    audio_path, image_path = os.fspath(audio_model), os.fspath(image_model)
    audio_state = _read_state(audio_path, "audio")
    image_state = _read_state(image_path, "image")
    args = {}
    if args_file is not None:
        args_file = os.fspath(args_file)
        args = read_release_args(args_file)
    config = audio_config(audio_state, audio_path, args, args_file)
    audio = ResDAVEnet(**config)
    audio.load_state_dict(convert_audio_state(audio_state, config, audio_path))
    weights, embedding_dim = convert_image_state(image_state, image_path)
    if embedding_dim != config["widths"][-1]:
        raise CheckpointFormatError(
            image_path,
            f"it embeds images in {embedding_dim} dimensions and "
            f"{audio_path} embeds speech in {config['widths'][-1]}: not the "
            "two models of one release",
            FAMILY,
        )
    freeze = bool(args.get("freeze_image_model", False))
    image = ResNet50Encoder(embedding_dim=embedding_dim, freeze_trunk=freeze)
    image.load_state_dict(weights)
    sources = {
        "audio_model": os.path.abspath(audio_path),
        "image_model": os.path.abspath(image_path),
        "args_file": None if args_file is None else os.path.abspath(args_file),
    }
    settings = {
        "data_folder": data_folder,
        "image_folder": image_folder,
        **(overrides or {}),
    }
    text = _hyperparams_text(hparams_file, out_folder, config, freeze, settings)
    with replaced_folder(out_folder) as tmp:
        with open(
            os.path.join(tmp, "hyperparams.yaml"), "w", encoding="utf-8"
        ) as f:
            f.write(_header(sources) + text)
        model = torch.nn.ModuleList([audio, image])
        save_torch(model.state_dict(), os.path.join(tmp, "model.ckpt"))
        export_speech_encoder(
            os.path.join(tmp, "export"),
            audio.eval(),
            LibrosaLogMel(n_mels=config["input_dim"]),
            {"converted_from": sources},
        )
        write_json(
            os.path.join(tmp, MARKER_FILE),
            {
                "source": sources["audio_model"],
                "family": FAMILY_NAME,
                **sources,
            },
        )
    return out_folder


def read_release_args(path):
    """The options of a release's ``args.pkl``, read without running code.

    Only ``argparse.Namespace`` may be built (the file is the release's
    ``pickle.dump`` of its options); anything else in the pickle is an
    error.

    Arguments
    ---------
    path : str
        The ``args.pkl`` file.

    Returns
    -------
    dict
        ``{option: value}`` (e.g. ``"VQ_turnon": "0,1,0,0,0"``).

    Raises
    ------
    CheckpointFormatError
        Naming the file, if it is not a pickled ``argparse.Namespace``.

    Example
    -------
    >>> import argparse
    >>> path = getfixture("tmpdir") / "args.pkl"
    >>> with open(path, "wb") as f:
    ...     pickle.dump(argparse.Namespace(jitter=0.12), f)
    >>> read_release_args(path)
    {'jitter': 0.12}
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            args = _NamespaceUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as error:
        raise CheckpointFormatError(
            path,
            f"it cannot be read as the release's {ARGS_FILE} (a pickled "
            f"argparse.Namespace): {error}",
            FAMILY,
        ) from None
    if type(args).__name__ != "Namespace":
        raise CheckpointFormatError(
            path,
            f"it holds a {type(args).__name__}, not the pickled "
            f"argparse.Namespace of the release's {ARGS_FILE}",
            FAMILY,
        )
    return vars(args)


class _NamespaceUnpickler(pickle.Unpickler):
    """An unpickler that can build ``argparse.Namespace`` only."""

    def find_class(self, module, name):
        if (module, name) == ("argparse", "Namespace"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it asks for {module}.{name}; only argparse.Namespace is allowed"
        )


def audio_config(state, path, args=None, args_file=None):
    """The :class:`~speechbrain_vgs.lobes.audio.ResDAVEnet` arguments of a
    release's audio model, from its shapes and its options.

    Arguments
    ---------
    state : dict
        The audio state dict (``module.`` prefix removed or not).
    path : str
        Its file, for messages.
    args : dict, optional
        The release's options (:func:`read_release_args`); they must agree
        with the shapes.
    args_file : str, optional
        Their file, for messages.

    Returns
    -------
    dict
        ``ResDAVEnet(**config)`` builds the model.

    Raises
    ------
    CheckpointFormatError
        Naming the file.

    Example
    -------
    >>> widths = [8, 16, 16, 24, 32]
    >>> state = {"conv1.weight": torch.zeros(8, 1, 40, 1)}
    >>> for i in range(1, 5):
    ...     state[f"layer{i}.0.conv1.weight"] = torch.zeros(
    ...         widths[i], widths[i - 1], 1, 5)
    >>> state["quant2._embedding.weight"] = torch.zeros(64, 16)
    >>> config = audio_config(state, "best_audio_model.pth")
    >>> config["widths"], config["blocks"], config["kernel_size"]
    ([8, 16, 16, 24, 32], [1, 1, 1, 1], 5)
    >>> config["vq_layers"], config["vq_codes"], config["jitter"]
    (['res1'], 64, 0.12)
    """
    args = args or {}
    state = _strip_prefix(state)
    if not looks_like_resdavenet_vq(state):
        hint = ""
        if "embedder.weight" in state:
            hint = " (it looks like the image model: files swapped?)"
        raise CheckpointFormatError(
            path,
            f"not the audio model of a {FAMILY} release ({AUDIO_FILE}): it "
            "has no conv1.weight [W, 1, n_mels, 1] and layer1.0.conv1.weight "
            f"[W', W, 1, k]{hint}; its entries begin {_first_keys(state)}",
        )
    firsts = [f"layer{i}.0.conv1.weight" for i in range(1, 5)]
    missing = [key for key in firsts if key not in state]
    if missing:
        raise CheckpointFormatError(
            path, "layers are missing", FAMILY, missing=missing
        )
    conv1 = state["conv1.weight"]
    widths = [conv1.shape[0]] + [state[key].shape[0] for key in firsts]
    blocks = [_count_blocks(state, i) for i in range(1, 5)]
    kernel_size = state["layer1.0.conv1.weight"].shape[-1]
    if kernel_size % 2 == 0:
        raise CheckpointFormatError(
            path,
            f"its convolutions have width {kernel_size}; the release pads "
            "even widths by half a width on both sides, which changes the "
            "lengths of the outputs, and speechbrain_vgs's ResDAVEnet does "
            "not (odd widths only)",
            FAMILY,
        )
    slots = sorted(
        {
            int(m[1])
            for key in state
            if isinstance(key, str) and (m := re.match(r"quant([1-5])\.", key))
        }
    )
    codebooks = [f"quant{slot}._embedding.weight" for slot in slots]
    missing = [key for key in codebooks if key not in state]
    if missing:
        raise CheckpointFormatError(
            path, "codebooks are missing", FAMILY, missing=missing
        )
    sizes = {state[key].shape[0] for key in codebooks}
    if len(sizes) > 1:
        listed = ", ".join(f"{k} {state[k].shape[0]}" for k in codebooks)
        raise CheckpointFormatError(
            path,
            f"its codebooks have different sizes ({listed}); "
            "speechbrain_vgs's ResDAVEnet has one size for all",
            FAMILY,
        )
    config = {
        "input_dim": conv1.shape[2],
        "widths": widths,
        "blocks": blocks,
        "kernel_size": kernel_size,
        "vq_layers": [LAYERS[slot - 1] for slot in slots],
        "vq_codes": sizes.pop() if sizes else 1024,  # unused without VQ
        "vq_commitment": float(
            args.get("VQ_commitment_cost", DEFAULT_COMMITMENT)
        ),
        "jitter": float(args.get("jitter", DEFAULT_JITTER)),
    }
    _check_args(args, args_file, config, path)
    return config


def _check_args(args, args_file, config, path):
    """Checks the release's options against the architecture of its
    weights."""
    for option, known in (
        ("audio_model", "ResDavenetVQ"),
        ("image_model", "Resnet50"),
    ):
        if args.get(option, known) != known:
            raise CheckpointFormatError(
                args_file,
                f"{option}={args[option]!r}; the converter knows {known} only",
                FAMILY,
            )
    turned_on = [int(name in config["vq_layers"]) for name in LAYERS]
    shapes = {
        "layer_widths": config["widths"],
        "layer_depths": config["blocks"],
        "convsize": [config["kernel_size"]],
        "VQ_turnon": turned_on,
    }
    for option, value in shapes.items():
        if option in args and _int_list(args[option]) != list(value):
            raise CheckpointFormatError(
                args_file,
                f"{option}={args[option]!r} but {path} holds "
                f"{','.join(map(str, value))}: not the options of this model",
                FAMILY,
            )
    if "VQ_sizes" in args:
        sizes = _int_list(args["VQ_sizes"])
        used = {sizes[LAYERS.index(name)] for name in config["vq_layers"]}
        if used - {config["vq_codes"]}:
            raise CheckpointFormatError(
                args_file,
                f"VQ_sizes={args['VQ_sizes']!r} but the codebooks of {path} "
                f"have {config['vq_codes']} codes",
                FAMILY,
            )


def convert_audio_state(state, config, path):
    """This project's ResDAVEnet state dict from a release's audio model.

    Every entry the model needs must be in ``state`` with the release's
    shape (``num_batches_tracked`` may be absent), and nothing else but
    the unused ``batchnorm1``.

    Arguments
    ---------
    state : dict
        The release's audio state dict.
    config : dict
        Its architecture (:func:`audio_config`).
    path : str
        Its file, for messages.

    Returns
    -------
    dict
        For :class:`~speechbrain_vgs.lobes.audio.ResDAVEnet` ``(**config)``.
    """
    state = {
        key: value
        for key, value in _strip_prefix(state).items()
        if not key.startswith(UNUSED_AUDIO)
    }
    target = ResDAVEnet(**config).state_dict()
    names = {key: _reference_audio_key(key) for key in target}
    shapes = {
        names[key]: _reference_audio_shape(key, value)
        for key, value in target.items()
    }
    _check_entries(state, shapes, path, "audio")
    return {
        key: state[names[key]].reshape(value.shape)
        if names[key] in state
        else value
        for key, value in target.items()
    }


def convert_image_state(state, path):
    """This project's ResNet50Encoder state dict from a release's image
    model, and its embedding size.

    Arguments
    ---------
    state : dict
        The release's image state dict.
    path : str
        Its file, for messages.

    Returns
    -------
    weights : dict
        For :class:`~speechbrain_vgs.lobes.image.ResNet50Encoder`.
    embedding_dim : int
    """
    state = _strip_prefix(state)
    embedder = state.get("embedder.weight")
    if not (torch.is_tensor(embedder) and embedder.dim() == 4):
        hint = ""
        if looks_like_resdavenet_vq(state):
            hint = " (it looks like the audio model: files swapped?)"
        raise CheckpointFormatError(
            path,
            f"not the image model of a {FAMILY} release ({IMAGE_FILE}): it "
            f"has no embedder.weight [D, 2048, 1, 1]{hint}; its entries "
            f"begin {_first_keys(state)}",
        )
    embedding_dim = embedder.shape[0]
    target = ResNet50Encoder(embedding_dim=embedding_dim).state_dict()
    names = {key: key.removeprefix("trunk.") for key in target}
    shapes = {names[key]: tuple(value.shape) for key, value in target.items()}
    _check_entries(state, shapes, path, "image")
    weights = {
        key: state[names[key]] if names[key] in state else value
        for key, value in target.items()
    }
    return weights, embedding_dim


def _reference_audio_key(key):
    """The release's name of an entry of this project's ResDAVEnet."""
    parts = key.split(".")
    if parts[0] == "res":  # res.res2.0.conv1.weight -> layer2.0.conv1.weight
        return ".".join([f"layer{parts[1][len('res') :]}", *parts[2:]])
    if parts[0] == "vq":  # vq.res1.codebook -> quant2._embedding.weight
        return f"quant{LAYERS.index(parts[1]) + 1}.{VQ_ENTRIES[parts[2]]}"
    return key


def _reference_audio_shape(key, value):
    """The release's shape of an entry: its convs are 2-D, conv1 with an
    ``(n_mels, 1)`` kernel over one input channel, the others ``(1, k)``."""
    if key == "conv1.weight":
        out_channels, n_mels, _ = value.shape
        return (out_channels, 1, n_mels, 1)
    if value.dim() == 3:
        out_channels, in_channels, width = value.shape
        return (out_channels, in_channels, 1, width)
    return tuple(value.shape)


def _check_entries(state, shapes, path, what):
    """Raises a :class:`CheckpointFormatError` naming the file and the
    missing, unexpected and misshapen entries of a state dict."""
    missing = [
        k
        for k in shapes
        if k not in state and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in state if k not in shapes]
    misshapen = [
        f"{k} {tuple(state[k].shape)} (expected {shapes[k]})"
        for k in shapes
        if k in state and tuple(state[k].shape) != shapes[k]
    ]
    if missing or unexpected or misshapen:
        problem = f"its {what} model is not complete"
        if misshapen:
            problem += f"; entries of other shapes: {', '.join(misshapen[:5])}"
        raise CheckpointFormatError(
            path, problem, FAMILY, missing=missing, unexpected=unexpected
        )


def _read_state(path, what):
    """Loads a state dict (tensors only, no code runs; either of
    ``torch.save``'s formats)."""
    expected = f"the {what} model of a {FAMILY} release"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file ({expected})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error) else ""
        raise CheckpointFormatError(
            path, f"cannot be read as a state dict, {expected} ({first[:300]})"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointFormatError(
            path,
            f"holds a {type(state).__name__}, not a state dict ({expected})",
        )
    others = [str(k) for k, v in state.items() if not torch.is_tensor(v)]
    if others:
        raise CheckpointFormatError(
            path,
            f"not a state dict ({expected}): entries that are not tensors: "
            f"{', '.join(others[:5])}",
        )
    return state


def _strip_prefix(state):
    """The state dict without ``nn.DataParallel``'s ``module.`` prefix."""
    return {
        key.removeprefix(PREFIX) if isinstance(key, str) else key: value
        for key, value in state.items()
    }


def _count_blocks(state, layer):
    """Number of blocks of ``layer{layer}`` in a release's state dict."""
    pattern = re.compile(rf"layer{layer}\.(\d+)\.")
    return 1 + max(
        int(m[1])
        for key in state
        if isinstance(key, str) and (m := pattern.match(key))
    )


def _int_list(value):
    """``"128,256"`` or ``9`` -> ``[128, 256]`` or ``[9]``."""
    return [int(v) for v in str(value).split(",")]


def _first_keys(state):
    """The first entries of a state dict, for messages."""
    if not state:
        return "(none: it is empty)"
    first = ", ".join(map(str, list(state)[:5]))
    return first + (", ..." if len(state) > 5 else "")


def _hyperparams_text(hparams_file, out_folder, config, freeze, settings):
    """The recipe's hparams with the release's architecture and front end,
    then the top-level ``settings``: the values are replaced in the
    recipe's own text (its comments and its references kept, so that
    ``--output_folder`` moves every output)."""
    try:
        with open(hparams_file, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise FileNotFoundError(
            f"{hparams_file}: cannot be read ({error.strerror}); give "
            "hparams_file, the PlacesAudio VGS resdavenet_vq.yaml of a "
            "source checkout"
        ) from None
    for key in ("data_folder", "image_folder"):  # set below
        text = text.replace(f"{key}: !PLACEHOLDER", f"{key}: null")
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=4, sequence=6, offset=4)
    yaml.boolean_representation = ["False", "True"]
    yaml.representer.add_representer(type(None), _represent_null)
    hparams = yaml.load(text)
    features = hparams.get("compute_features")
    if getattr(features, "tag", None) != RECIPE_FEATURES:
        raise ValueError(
            f"{hparams_file}: its compute_features is not {RECIPE_FEATURES}, "
            "the front end to replace with the release's"
        )
    features.yaml_set_ctag(Tag(suffix=CONVERTED_FEATURES))
    features["n_mels"] = config["input_dim"]
    hparams.update(
        output_folder=out_folder,
        embedding_dim=config["widths"][-1],
        audio_widths=_flow(config["widths"]),
        vq_layers=_flow(config["vq_layers"]),
        image_weights=None,
        init_from=out_folder,
    )
    encoder = hparams["audio_encoder"]
    encoder["blocks"] = _flow(config["blocks"])
    for key in ("input_dim", "kernel_size", "vq_codes", "vq_commitment"):
        encoder[key] = config[key]
    encoder["jitter"] = config["jitter"]
    if freeze:
        hparams["image_encoder"].insert(0, "freeze_trunk", True)
    hparams.update(settings)
    out = io.StringIO()
    yaml.dump(hparams, out)
    return out.getvalue()


def _flow(values):
    """A list written ``[a, b]``, as the recipes write them."""
    sequence = CommentedSeq(values)
    sequence.fa.set_flow_style()
    return sequence


def _represent_null(representer, value):
    """Writes None as ``null`` (ruamel writes nothing)."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _header(sources):
    """The comment that opens the converted ``hyperparams.yaml``."""
    lines = [
        f"Converted {datetime.date.today()} by "
        "speechbrain_vgs.converters.resdavenet_vq from the ResDAVEnet-VQ "
        "release (github.com/wnhsu/ResDAVEnet-VQ):",
        *(f"  {key}: {value}" for key, value in sources.items()),
        "Architecture from the weights' shapes (and args.pkl); front end:",
        "the release's (LibrosaLogMel). Run the recipe on this file to test",
        "(--test_only) or fine-tune (--output_folder elsewhere) the model.",
    ]
    return "".join(f"# {line}\n" for line in lines)
