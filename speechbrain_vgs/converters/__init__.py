"""Converters from released checkpoints to this project's model folders.

:func:`convert_checkpoint` reads a released checkpoint, recognises its
family from its contents (keys and stored hyperparameters, never the file
name) and writes a model folder of this package:

* ``speechclip``: the Lightning checkpoints of SpeechCLIP (Shih et al.
  2022: parallel and cascaded, Base and Large, Flickr8k and SpokenCOCO) and
  SpeechCLIP+ (Wang et al. 2024: Hybrid, Cascaded+ and Hybrid+), see
  :mod:`speechbrain_vgs.converters.speechclip`. The folder loads with
  :func:`speechbrain_vgs.inference.load_inference`, and a SpeechCLIP
  recipe starts from it with ``--init_from``.
* ``fairseq-hubert``: a fairseq HuBERT checkpoint (``hubert_base_ls960.pt``,
  ``hubert_large_ll60k.pt``) becomes a ``transformers`` HuBERT folder, see
  :mod:`speechbrain_vgs.converters.fairseq_hubert`.
* ``resdavenet-vq``: the released ResDAVEnet-VQ audio and image models
  (:mod:`speechbrain_vgs.converters.resdavenet_vq`).

Checkpoints are read without running any of their code
(:func:`load_checkpoint`): objects of classes this package does not import
(the authors' config namespaces, Lightning's callback states) come back as
inert :class:`Record` objects, which :func:`plain` turns into dicts and
lists. A file of no known family, or one that lacks what its family needs,
raises :class:`CheckpointFormatError`, which names the file, the family it
looked like and the missing and unexpected keys.

From the shell::

    speechbrain-vgs convert slt_ckpts/SpeechCLIP/base/flickr/parallel/*.ckpt \\
        converted/parallel_base_flickr

Authors
 * speechbrain-vgs developers 2026
"""

import importlib
import inspect
import os
import zipfile
from typing import NamedTuple

import torch

MARKER_FILE = "conversion.json"  # what a converted folder says it came from
REQUIRED = object()  # setting(): no default, absence is an error


class CheckpointFormatError(ValueError):
    """A checkpoint of no known family, or one its family cannot convert.

    Arguments
    ---------
    path : str
        The checkpoint file.
    problem : str
        What is wrong.
    family : str, optional
        The family the checkpoint looked like.
    missing : iterable of str
        Keys the family needs that the checkpoint lacks.
    unexpected : iterable of str
        Keys of the checkpoint the family does not know.

    Example
    -------
    >>> error = CheckpointFormatError(
    ...     "a.ckpt", "some weights are missing", "SpeechCLIP parallel",
    ...     missing=["parallel_branch.cls"])
    >>> print(error)
    a.ckpt: looks like a SpeechCLIP parallel checkpoint, but some weights \
are missing; missing keys: parallel_branch.cls
    >>> error.missing
    ['parallel_branch.cls']
    """

    def __init__(self, path, problem, family=None, missing=(), unexpected=()):
        self.path = os.fspath(path)
        self.family = family
        self.missing = sorted(missing)
        self.unexpected = sorted(unexpected)
        where = f"looks like a {family} checkpoint, but " if family else ""
        message = f"{self.path}: {where}{problem}"
        if self.missing:
            message += f"; missing keys: {key_list(self.missing)}"
        if self.unexpected:
            message += f"; unexpected keys: {key_list(self.unexpected)}"
        super().__init__(message)


def key_list(keys, shown=8):
    """The first ``shown`` keys, comma-separated, and how many there are.

    Example
    -------
    >>> key_list(["a", "b", "c"], shown=2)
    'a, b, ... (3 in all)'
    """
    keys = list(keys)
    text = ", ".join(keys[:shown])
    if len(keys) > shown:
        text += f", ... ({len(keys)} in all)"
    return text


class Record:
    """An object of a class this package does not import, kept as data.

    :func:`load_checkpoint` builds one (of a subclass named after the
    class) wherever a checkpoint holds such an object: ``args`` are the
    arguments it was created with, ``state`` what it was restored from.
    None of the original class's code runs.

    Example
    -------
    >>> record = Record.__new__(Record, 3)
    >>> record.__setstate__({"a": 1})
    >>> record.args, record.state
    ((3,), {'a': 1})
    """

    global_name = "unknown"

    def __new__(cls, *args, **kwargs):
        record = super().__new__(cls)
        record.args = args
        record.state = None
        return record

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return (
            f"Record({self.global_name}, args={self.args}, state={self.state})"
        )


def load_checkpoint(path):
    """Reads a PyTorch checkpoint without running any of its code.

    The file is read with ``torch.load(weights_only=True)`` (memory-mapped),
    every class or function it names that PyTorch does not allow being
    replaced by an inert :class:`Record` subclass.

    Arguments
    ---------
    path : str
        A file written by ``torch.save``.

    Returns
    -------
    object
        What was saved (usually a dict).

    Raises
    ------
    CheckpointFormatError
        If the file cannot be read as a PyTorch checkpoint.

    Example
    -------
    >>> import argparse
    >>> path = getfixture("tmpdir") / "x.pt"
    >>> torch.save({"w": torch.ones(1), "args": argparse.Namespace(lr=0.1)},
    ...            path)
    >>> checkpoint = load_checkpoint(path)
    >>> checkpoint["w"], type(checkpoint["args"]).__name__
    (tensor([1.]), 'Namespace')
    >>> plain(checkpoint["args"])
    {'lr': 0.1}
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointFormatError(
            path,
            "not a PyTorch checkpoint (torch.save's zip format; files of "
            "PyTorch < 1.6 or other formats are not read)",
        )
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        stand_ins = [(record_class(name), name) for name in names]
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(
                path, map_location="cpu", weights_only=True, mmap=True
            )
    except (RuntimeError, ValueError, OSError, EOFError) as error:
        first = str(error).strip().splitlines()[0] if str(error) else ""
        raise CheckpointFormatError(
            path, f"cannot be read as a PyTorch checkpoint ({first[:300]})"
        ) from None


def record_class(global_name):
    """A :class:`Record` subclass standing in for the class or function
    ``global_name`` (``module.qualname``)."""
    name = global_name.rsplit(".", 1)[-1] or "Record"
    return type(name, (Record,), {"global_name": global_name})


def plain(value):
    """Turns records, ordered dicts and tuples into plain dicts and lists.

    A :class:`Record` becomes what it was restored from (a config
    namespace: its dict of fields) or, without a state, its single
    creation argument (an enum: its value) or the list of its arguments.

    Example
    -------
    >>> from collections import OrderedDict
    >>> record = Record.__new__(Record)
    >>> record.__setstate__(OrderedDict(model=OrderedDict(n=(1, 2))))
    >>> plain([record])
    [{'model': {'n': [1, 2]}}]
    """
    if isinstance(value, Record):
        if value.state is not None:
            return plain(value.state)
        if len(value.args) == 1:
            return plain(value.args[0])
        return plain(list(value.args))
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def setting(config, dotted, path, family, default=REQUIRED):
    """A nested value of a checkpoint's stored configuration.

    Arguments
    ---------
    config : dict
        The configuration (plain dicts, see :func:`plain`).
    dotted : str
        ``"section.key"`` path of the value.
    path : str
        The checkpoint file (for the error).
    family : str
        The family it looks like (for the error).
    default : object
        Returned when the value is absent; without it, absence is an error.

    Returns
    -------
    object

    Raises
    ------
    CheckpointFormatError
        Naming the setting, when it is absent and there is no default.

    Example
    -------
    >>> setting({"a": {"b": 3}}, "a.b", "x.ckpt", "SpeechCLIP")
    3
    >>> setting({"a": {}}, "a.c", "x.ckpt", "SpeechCLIP", default=None)
    """
    value = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            if default is REQUIRED:
                raise CheckpointFormatError(
                    path,
                    f"its stored configuration has no {dotted!r}",
                    family,
                )
            return default
        value = value[part]
    return value


def check_output_folder(folder):
    """Refuses to replace a folder that is not an earlier conversion.

    Arguments
    ---------
    folder : str
        Where a converter will write.

    Raises
    ------
    FileExistsError
        If ``folder`` exists, is not empty and holds no ``conversion.json``.

    Example
    -------
    >>> folder = getfixture("tmpdir") / "out"
    >>> check_output_folder(folder)  # absent: fine
    >>> _ = folder.mkdir(); _ = (folder / "notes.txt").write("mine")
    >>> check_output_folder(folder)
    Traceback (most recent call last):
    ...
    FileExistsError: ...: not empty and not a converted model folder ...
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder) or not os.listdir(folder):
        return
    if not os.path.isfile(os.path.join(folder, MARKER_FILE)):
        raise FileExistsError(
            f"{folder}: not empty and not a converted model folder (no "
            f"{MARKER_FILE}); give a new or empty folder"
        )


class Family(NamedTuple):
    """A family of released checkpoints: how to recognise and convert it.

    ``detect(path, content)`` says whether a checkpoint (``content``: the
    loaded file, ``None`` for a folder) is of the family;
    ``convert(path, out_folder, content=..., **options)`` writes the model
    folder and returns its path. ``module`` and the two
    function names are imported when first needed.
    """

    name: str
    description: str
    module: str
    detect: str
    convert: str

    def function(self, which):
        """The family's ``detect`` or ``convert`` function."""
        module = importlib.import_module(self.module)
        return getattr(module, getattr(self, which))


FAMILIES = (
    Family(
        "speechclip",
        "SpeechCLIP / SpeechCLIP+ Lightning checkpoint",
        "speechbrain_vgs.converters.speechclip",
        "is_speechclip",
        "convert_speechclip",
    ),
    Family(
        "fairseq-hubert",
        "fairseq HuBERT checkpoint",
        "speechbrain_vgs.converters.fairseq_hubert",
        "is_fairseq_hubert",
        "convert_fairseq_hubert",
    ),
    Family(
        "resdavenet-vq",
        "ResDAVEnet-VQ release folder (models/best_audio_model.pth ...)",
        "speechbrain_vgs.converters",
        "is_resdavenet_vq_release",
        "convert_resdavenet_vq_release",
    ),
)


def detect_family(path, content=None):
    """The family of a released checkpoint, from its contents.

    Arguments
    ---------
    path : str
        The checkpoint file (or folder).
    content : object, optional
        The loaded file (:func:`load_checkpoint`), if already read.

    Returns
    -------
    Family

    Raises
    ------
    CheckpointFormatError
        If no family recognises it.
    """
    for family in FAMILIES:
        if family.function("detect")(path, content):
            return family
    known = "; ".join(family.description for family in FAMILIES)
    if isinstance(content, dict):
        keys = key_list(sorted(map(str, content)))
        held = f"its top-level keys are {keys}"
    else:
        held = f"it holds a {type(content).__name__}"
    raise CheckpointFormatError(
        path, f"not a checkpoint of a known family ({known}): {held}"
    )


def convert_checkpoint(path, out_folder, **options):
    """Converts a released checkpoint into a model folder of this package.

    Arguments
    ---------
    path : str
        The released checkpoint (file or folder).
    out_folder : str
        The folder to write (new, empty, or an earlier conversion).
    **options
        The family's options (e.g. ``reduced_vocabulary`` or ``clip_name``
        for SpeechCLIP, see each family's ``convert`` function).

    Returns
    -------
    family : str
        The family's name.
    folder : str
        The model folder.

    Raises
    ------
    CheckpointFormatError
        For a checkpoint of no known family, or one its family cannot
        convert (naming the file and the keys).
    ValueError
        For an option the family does not take.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    content = load_checkpoint(path) if os.path.isfile(path) else None
    family = detect_family(path, content)
    convert = family.function("convert")
    accepted = set(inspect.signature(convert).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"{path} is a {family.description}: its converter does not "
            f"take {', '.join(unknown)}"
        )
    check_output_folder(out_folder)
    return family.name, convert(path, out_folder, content=content, **options)


def is_resdavenet_vq_release(path, content):
    """Whether ``path`` is a ResDAVEnet-VQ release folder: one whose
    ``models/best_audio_model.pth`` is a ResDAVEnet-VQ audio model.

    Arguments
    ---------
    path : str
        A folder (or file: never a release).
    content : object
        Unused (a release is a folder).

    Returns
    -------
    bool
    """
    from speechbrain_vgs.converters.resdavenet_vq import (
        AUDIO_FILE,
        looks_like_resdavenet_vq,
    )

    audio = os.path.join(os.fspath(path), AUDIO_FILE)
    if not os.path.isfile(audio):
        return False
    try:
        state = torch.load(audio, map_location="cpu", weights_only=True)
    except Exception:  # its converter names the problem
        return True
    return looks_like_resdavenet_vq(state)


def convert_resdavenet_vq_release(
    path,
    out_folder,
    content=None,
    data_folder=None,
    image_folder=None,
    hparams_file=None,
    overrides=None,
):
    """Converts a ResDAVEnet-VQ release folder (see
    :func:`speechbrain_vgs.converters.resdavenet_vq.convert_resdavenet_vq`).

    Arguments
    ---------
    path : str
        The release folder (``models/``, ``args.pkl``).
    out_folder : str
        The folder to write.
    content : object
        Unused.
    data_folder : str, optional
        The Places Audio Captions folder, for the recipe.
    image_folder : str, optional
        The Places205 images, for the recipe.
    hparams_file : str, optional
        The recipe hparams the folder is made from (default: the
        PlacesAudio ResDAVEnet-VQ recipe's).
    overrides : dict, optional
        Other top-level hparams to set.

    Returns
    -------
    str
        ``out_folder``.
    """
    from speechbrain_vgs.converters.resdavenet_vq import (
        convert_resdavenet_vq,
        release_files,
    )

    options = {"hparams_file": hparams_file} if hparams_file else {}
    return convert_resdavenet_vq(
        out_folder=out_folder,
        data_folder=data_folder,
        image_folder=image_folder,
        overrides=overrides,
        **options,
        **release_files(path),
    )
