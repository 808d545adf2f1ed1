"""SpeechBrain JSON manifests: writing, reading, validating, idempotency.

Every preparer in this package writes one manifest per split, one entry per
utterance, keyed by utterance id (the project's manifest format)::

    {"<utt_id>": {"wav": "{data_root}/...wav", "duration": 3.41,
                  "image": "{image_root}/...jpg", "image_id": "<key>",
                  "speaker": "..."}}

``wav``, ``duration`` (seconds), ``image``, ``image_id`` and ``speaker``
are always there (``VGS_KEYS``); ``image_id`` groups the captions of one
image (5 for Flickr8k and SpokenCOCO), and retrieval evaluation embeds each
image once by it. ``text`` is the caption where the corpus has one
(Flickr8k, SpokenCOCO, SynthVGS; for Places, its ``asr_text`` transcript
where the metadata has it), ``lang`` is written by SynthVGS, and
``phones`` (space-separated phone transcript) by SynthVGS only. Speech-only
manifests need ``wav`` and ``duration``; ASR manifests use ``ASR_KEYS``.
Paths hold the ``{data_root}`` and ``{image_root}`` placeholders that the
recipes replace.

Authors
 * speechbrain-vgs developers 2026
"""

import json
import os
import tempfile

VGS_KEYS = ("wav", "duration", "image", "image_id", "speaker")
ASR_KEYS = ("wav", "duration", "speaker")


class DataError(ValueError):
    """Bad input data: the message names the file (and line) at fault."""


def where(path, line=None):
    """Formats a location as ``path`` or ``path:line`` for error messages.

    Example
    -------
    >>> where("a/wav2capt.txt", 3)
    'a/wav2capt.txt:3'
    """
    return f"{path}:{line}" if line is not None else str(path)


def write_json(path, obj):
    """Writes ``obj`` as JSON atomically (temporary file, then rename).

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "x.json", {"a": 1})
    >>> read_json(tmp / "x.json")
    {'a': 1}
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path):
    """Reads a JSON file, raising :class:`DataError` naming the bad line."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where(path, e.lineno)}: invalid JSON: {e.msg}"
        ) from None
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None


def check_manifest(manifest, path, required=VGS_KEYS):
    """Checks that every entry has the required keys and a valid duration.

    Arguments
    ---------
    manifest : dict
        ``{utt_id: entry}`` as written by the preparers.
    path : str
        Where the manifest comes from (for error messages).
    required : tuple of str
        Keys each entry must have.

    Example
    -------
    >>> check_manifest({"u1": {"wav": "a.wav", "duration": 1.0}},
    ...                "m.json", required=("wav", "duration"))
    >>> check_manifest({"u1": {"wav": "a.wav"}}, "m.json",
    ...                required=("wav", "duration"))
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: m.json: entry 'u1' lacks ...
    """
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: expected a JSON object of utterances")
    for utt_id, entry in manifest.items():
        for key in required:
            if key not in entry:
                raise DataError(f"{path}: entry {utt_id!r} lacks {key!r}")
        if "duration" in entry and not entry["duration"] > 0:
            raise DataError(
                f"{path}: entry {utt_id!r} has duration {entry['duration']!r}"
            )


def load_manifest(path, required=VGS_KEYS):
    """Reads and checks a manifest written by :func:`write_json`."""
    manifest = read_json(path)
    check_manifest(manifest, path, required)
    return manifest


def outputs_ready(outputs, options, options_file):
    """Whether a preparation already ran with the same options.

    Preparers call this first and return early when it is true, and call
    :func:`write_json` on ``options_file`` with ``options`` when they finish.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> out, opts = tmp / "train.json", tmp / "opts.json"
    >>> outputs_ready([out], {"size": 1}, opts)
    False
    >>> write_json(out, {}); write_json(opts, {"size": 1})
    >>> outputs_ready([out], {"size": 1}, opts)
    True
    >>> outputs_ready([out], {"size": 2}, opts)
    False
    """
    if not all(os.path.isfile(p) for p in outputs):
        return False
    if not os.path.isfile(options_file):
        return False
    saved = read_json(options_file)
    return saved == json.loads(json.dumps(options))
