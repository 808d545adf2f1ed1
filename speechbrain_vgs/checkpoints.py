"""Checkpoints and outputs that survive a kill at any moment.

SpeechBrain's ``Checkpointer`` writes a checkpoint's ``CKPT.yaml`` before
its weights, and deletes old checkpoints after saving a new one; a job
killed in between leaves a folder that looks like a checkpoint but is not
complete. :func:`drop_incomplete_checkpoints` runs before every recovery
(the project's Brains call it): it checks each checkpoint folder
(:func:`checkpoint_problem`) and renames the incomplete ones
``incomplete+CKPT+...``, logging why, so recovery falls back to the latest
complete checkpoint.

Outputs that later steps read (exports, ``model.ckpt``, caches) are written
under a temporary name and renamed (:func:`save_torch`,
:func:`replaced_folder`), so a kill while writing leaves the previous
output intact. JSON outputs use :func:`speechbrain_vgs.dataio.manifest.
write_json`, which does the same.

Authors
 * speechbrain-vgs developers 2026
"""

import contextlib
import logging
import os
import shutil
import tempfile
import zipfile

import torch
import yaml
from speechbrain.utils.checkpoints import CKPT_PREFIX, METAFNAME, PARAMFILE_EXT

logger = logging.getLogger(__name__)
INCOMPLETE_PREFIX = "incomplete+"


def checkpoint_problem(folder, names):
    """Why a checkpoint folder is not complete, or ``None`` if it is.

    Complete means: ``CKPT.yaml`` holds a mapping, and each recoverable in
    ``names`` has a non-empty file, which, when it is a ``torch.save``
    archive, is whole (every member's CRC checks).

    Arguments
    ---------
    folder : str
        A ``CKPT+...`` folder.
    names : iterable of str
        The recoverables it must hold (the Checkpointer's).

    Returns
    -------
    str or None

    Example
    -------
    >>> folder = getfixture("tmpdir") / "CKPT+1"
    >>> _ = folder.mkdir()
    >>> _ = (folder / "CKPT.yaml").write_text("end-of-epoch: true\\n", "utf8")
    >>> torch.save({"w": torch.ones(2)}, str(folder / "model.ckpt"))
    >>> print(checkpoint_problem(folder, ["model"]))
    None
    >>> data = (folder / "model.ckpt").read_binary()
    >>> _ = (folder / "model.ckpt").write_binary(data[: len(data) // 2])
    >>> print(checkpoint_problem(folder, ["model", "counter"]))
    model.ckpt is truncated or corrupt (File is not a zip file)
    """
    try:
        with open(os.path.join(folder, METAFNAME), encoding="utf-8") as f:
            meta = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        return f"{METAFNAME} cannot be read ({e})"
    if not isinstance(meta, dict):
        return f"{METAFNAME} is incomplete"
    for name in names:
        path = os.path.join(folder, name + PARAMFILE_EXT)
        if not os.path.isfile(path):
            return f"{name}{PARAMFILE_EXT} is missing"
        if os.path.getsize(path) == 0:
            return f"{name}{PARAMFILE_EXT} is empty"
        with open(path, "rb") as f:
            magic = f.read(2)
        if magic != b"PK":
            continue  # not a torch.save archive (counters, positions)
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            return f"{name}{PARAMFILE_EXT} is truncated or corrupt ({e})"
        if bad is not None:
            return f"{name}{PARAMFILE_EXT} is corrupt (member {bad})"
    return None


def drop_incomplete_checkpoints(checkpointer):
    """Renames the incomplete checkpoints of a Checkpointer aside.

    Each ``CKPT+...`` folder of ``checkpointer.checkpoints_dir`` that
    :func:`checkpoint_problem` finds incomplete becomes
    ``incomplete+CKPT+...`` (kept for inspection, never recovered from),
    with a warning naming it and the problem. Call it on the main process
    only (``speechbrain.utils.distributed.run_on_main``).

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer

    Returns
    -------
    list of str
        The folders set aside.

    Example
    -------
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> tmp = getfixture("tmpdir")
    >>> checkpointer = Checkpointer(tmp, {"model": torch.nn.Linear(1, 1)})
    >>> good = checkpointer.save_checkpoint()
    >>> bad = checkpointer.save_checkpoint()
    >>> os.remove(bad.path / "model.ckpt")
    >>> [os.path.basename(p) for p in drop_incomplete_checkpoints(
    ...     checkpointer)] == [INCOMPLETE_PREFIX + bad.path.name]
    True
    >>> checkpointer.recover_if_possible().path == good.path
    True
    """
    folder = checkpointer.checkpoints_dir
    if not os.path.isdir(folder):
        return []
    dropped = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not (name.startswith(CKPT_PREFIX) and os.path.isdir(path)):
            continue
        problem = checkpoint_problem(path, checkpointer.recoverables)
        if problem is None:
            continue
        aside = os.path.join(folder, INCOMPLETE_PREFIX + name)
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(path, aside)
        logger.warning(
            "Checkpoint %s is incomplete (%s; the job was probably killed "
            "while writing or deleting it): not recovering from it, moved to "
            "%s",
            path,
            problem,
            aside,
        )
        dropped.append(aside)
    return dropped


def save_torch(obj, path):
    """``torch.save`` under a temporary name, then renamed to ``path``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "x.ckpt"
    >>> save_torch({"a": torch.ones(1)}, path)
    >>> torch.load(path, weights_only=True)
    {'a': tensor([1.])}
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise


@contextlib.contextmanager
def replaced_folder(folder):
    """Yields a fresh temporary folder that replaces ``folder`` on success.

    Everything is written into the temporary sibling; only when the block
    ends without error is the old ``folder`` renamed aside, the new one
    renamed into its place and the old one deleted. A kill while writing
    leaves the previous ``folder`` untouched (and a ``*.partial-*`` folder
    that the next successful write does not read).

    Example
    -------
    >>> folder = getfixture("tmpdir") / "export"
    >>> with replaced_folder(folder) as tmp:
    ...     _ = open(os.path.join(tmp, "a.txt"), "w").write("1")
    >>> with replaced_folder(folder) as tmp:
    ...     _ = open(os.path.join(tmp, "b.txt"), "w").write("2")
    >>> sorted(os.listdir(folder))
    ['b.txt']
    """
    folder = os.path.abspath(os.fspath(folder))
    parent, name = os.path.split(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f"{name}.partial-")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(folder):
        old = tempfile.mkdtemp(dir=parent, prefix=f"{name}.old-")
        os.replace(folder, os.path.join(old, name))
    os.replace(tmp, folder)
    if old is not None:
        shutil.rmtree(old)
