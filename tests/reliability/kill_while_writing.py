"""Writes an output twice; the second write is killed (SIGKILL) half-way
through the bytes of its first ``torch.save``, ``json.dump`` or atomic
text write.

Usage: ``python kill_while_writing.py export|results|cache FOLDER``. The
first write stores version 1; the test checks that version 1 is still
what a reader gets after the killed second write.
"""

import io
import json
import os
import signal
import sys

import torch

from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.clip import ImageEmbeddingCache
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.grounded import export_speech_encoder

KIND, FOLDER = sys.argv[1], sys.argv[2]


def half_then_kill(serialize, buffer_class):
    """A ``torch.save``/``json.dump`` that writes half its output, then
    kills the process."""

    def write(obj, f, *args, **kwargs):
        buffer = buffer_class()
        serialize(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        if isinstance(f, str | os.PathLike):
            f = open(f, "wb" if isinstance(data, bytes) else "w")
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    return write


def write(version):
    if KIND == "export":
        torch.manual_seed(version)
        encoder = ResDAVEnet(widths=(8, 8, 8, 8, 16), blocks=(1, 1, 1, 1))
        export_speech_encoder(
            FOLDER, encoder, LogMel(), info={"version": version}
        )
    elif KIND == "results":
        write_json(os.path.join(FOLDER, "results.json"), {"version": version})
    else:
        cache = ImageEmbeddingCache(FOLDER, in_memory=False)
        cache.put("image", torch.full((4,), float(version)))


class HalfThenKill:
    """A file opened by ``os.fdopen`` (how atomic text writes open their
    temporary file) whose ``write`` stores half its data, then kills the
    process."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        os.fsync(self.f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


write(1)
torch.save = half_then_kill(torch.save, io.BytesIO)
json.dump = half_then_kill(json.dump, io.StringIO)
fdopen = os.fdopen
os.fdopen = lambda fd, *args, **kwargs: HalfThenKill(
    fdopen(fd, *args, **kwargs)
)
write(2)
raise SystemExit("the second write was not killed")
