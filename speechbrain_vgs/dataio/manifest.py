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
recipes replace (:func:`resolve_paths`).

Braces: as SpeechBrain formats every string of a manifest with
``str.format_map``, the preparers double the braces of the values
(``{{`` stands for ``{``). The datasets of this package replace
placeholders only in the path fields (``PATH_KEYS``), where an unknown
placeholder is an error, and read doubled braces as single ones in every
string; other braces, e.g. in a hand-written caption, stay as they are.

Every reading error is a :class:`DataError` naming the file (and the line
or manifest entry) and what is wrong.

Authors
 * speechbrain-vgs developers 2026
"""

import gzip
import json
import math
import os
import re
import tempfile

VGS_KEYS = ("wav", "duration", "image", "image_id", "speaker")
ASR_KEYS = ("wav", "duration", "speaker")
PATH_KEYS = ("wav", "image")
BRACES = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


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
    """Writes ``obj`` as JSON atomically (see :func:`write_text`).

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "x.json", {"a": 1})
    >>> read_json(tmp / "x.json")
    {'a': 1}
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)
    write_text(path, text + "\n")


def write_text(path, text):
    """Writes UTF-8 ``text`` atomically: to a temporary file in the same
    folder (created if needed), then renamed to ``path``, so that a reader
    or a kill never sees half a file.

    Example
    -------
    >>> path = getfixture("tmpdir") / "sub" / "x.txt"
    >>> write_text(path, "café\\n")
    >>> read_text(path)
    'café\\n'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise


def read_text(path):
    """Reads a UTF-8 text file (gzip-compressed if its name ends with
    ``.gz``), without its byte order mark.

    Raises
    ------
    DataError
        If the file is missing or unreadable, or not UTF-8 (naming the
        line and the byte offset of the first bad byte).

    Example
    -------
    >>> path = getfixture("tmpdir") / "t.txt"
    >>> _ = path.write_binary(b"caf\\xc3\\xa9\\nna\\xefve\\n")
    >>> read_text(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../t.txt:2: not UTF-8 text:
    byte 0xef at byte offset 8 (invalid continuation byte)
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{where(path, line)}: not UTF-8 text: byte "
            f"0x{data[e.start]:02x} at byte offset {e.start} ({e.reason})"
        ) from None
    return text.removeprefix("\ufeff")


def text_lines(path):
    """The lines of a UTF-8 text file (see :func:`read_text`), without
    their line endings (``\\n``, ``\\r\\n`` or ``\\r``).

    Example
    -------
    >>> path = getfixture("tmpdir") / "t.txt"
    >>> _ = path.write_binary(b"\\xef\\xbb\\xbfa dog\\r\\n\\nA cat\\n")
    >>> text_lines(path)
    ['a dog', '', 'A cat']
    """
    text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def read_json(path):
    """Reads a JSON file, raising :class:`DataError` naming the bad line,
    or the key that an object has twice (JSON would keep the last one).

    Example
    -------
    >>> path = getfixture("tmpdir") / "m.json"
    >>> _ = path.write('{"u1": {"duration": 1},\\n "u1": {"duration": 2}}')
    >>> read_json(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../m.json:2: key 'u1'
    repeated in one object, first at line 1 (in a manifest: two entries
    with this utterance id)
    """
    path = os.fspath(path)
    text = read_text(path)

    def unique_keys(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DataError(repeated_key(path, text, key))
            seen.add(key)
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{where(path, e.lineno)}: invalid JSON: {e.msg}"
        ) from None


def repeated_key(path, text, key):
    """The message for a key that one object of a JSON file has twice,
    with its lines when the key appears as a key twice in the whole file
    (the usual case: a repeated utterance id)."""
    pattern = re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:"
    lines = [
        text.count("\n", 0, m.start()) + 1 for m in re.finditer(pattern, text)
    ]
    at, first = path, ""
    if len(lines) == 2:
        at, first = where(path, lines[1]), f", first at line {lines[0]}"
    return (
        f"{at}: key {key!r} repeated in one object{first} (in a manifest: "
        "two entries with this utterance id)"
    )


def check_manifest(manifest, path, required=VGS_KEYS):
    """Checks a manifest: a non-empty object of entries that have the
    required keys, a duration that is a positive number of seconds,
    strings for the other required keys, and one image per ``image_id``.

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
    >>> check_manifest({"u1": {"wav": "a.wav", "duration": "3.4"}},
    ...                "m.json", required=("wav", "duration"))
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: m.json: entry 'u1' has
    duration '3.4': expected a positive number of seconds
    """
    if not isinstance(manifest, dict):
        raise DataError(
            f"{path}: expected a JSON object {{utt_id: entry}}, got a "
            f"{type(manifest).__name__}"
        )
    if not manifest:
        raise DataError(f"{path}: no utterances (the manifest is empty)")
    images = {}
    for utt_id, entry in manifest.items():
        at = f"{path}: entry {utt_id!r}"
        if not isinstance(entry, dict):
            raise DataError(
                f"{at} is a {type(entry).__name__}, expected an object"
            )
        for key in required:
            if key not in entry:
                raise DataError(f"{at} lacks {key!r}")
            if key != "duration" and not isinstance(entry[key], str):
                raise DataError(
                    f"{at} has {key} {entry[key]!r}: expected a string"
                )
        if "duration" in entry:
            duration = entry["duration"]
            if (
                not isinstance(duration, (int, float))
                or isinstance(duration, bool)
                or not math.isfinite(duration)
                or duration <= 0
            ):
                raise DataError(
                    f"{at} has duration {duration!r}: expected a positive "
                    "number of seconds"
                )
        if "image_id" in entry and "image" in entry:
            first = images.setdefault(entry["image_id"], (entry, utt_id))
            if first[0]["image"] != entry["image"]:
                raise DataError(
                    f"{path}: image_id {entry['image_id']!r} names two "
                    f"images: {first[0]['image']} (entry {first[1]!r}) and "
                    f"{entry['image']} (entry {utt_id!r})"
                )


def load_manifest(path, required=VGS_KEYS):
    """Reads and checks a manifest (see :func:`check_manifest`)."""
    manifest = read_json(path)
    check_manifest(manifest, path, required)
    return manifest


def fill_placeholders(text, replacements=None):
    """Replaces the ``{name}`` placeholders of ``text`` by
    ``replacements[name]`` and its doubled braces by single ones.

    Arguments
    ---------
    text : str
        A manifest string.
    replacements : dict, optional
        Placeholder values; ``None`` leaves every placeholder as it is.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        Naming a placeholder that ``replacements`` lacks.

    Example
    -------
    >>> fill_placeholders("{data_root}/a{{1}}.wav", {"data_root": "/d"})
    '/d/a{1}.wav'
    >>> fill_placeholders("a {b} and {{c}}")
    'a {b} and {c}'
    """

    def replace(match):
        if match[1] is None:
            return match[0][0]
        if replacements is None:
            return match[0]
        return str(replacements[match[1]])

    return BRACES.sub(replace, text)


def resolve_paths(manifest, path, replacements, keys=PATH_KEYS):
    """The entries of a checked manifest as a dataset uses them: the
    placeholders of the ``keys`` paths replaced, the doubled braces of the
    other strings made single, and every ``keys`` file checked to exist.

    Arguments
    ---------
    manifest : dict
        ``{utt_id: entry}`` (see :func:`check_manifest`).
    path : str
        Where the manifest comes from (for error messages).
    replacements : dict
        Values of the placeholders (``data_root``, ``image_root``, ...).
    keys : tuple of str
        The path fields the dataset reads.

    Returns
    -------
    dict
        ``{utt_id: entry}``, new entries.

    Raises
    ------
    DataError
        Naming the entry with an unknown placeholder (and the known ones)
        or a missing file.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "u.wav").write("")
    >>> entry = {"wav": "{data_root}/u.wav", "duration": 1.0,
    ...          "text": "a {b} {{c}}"}
    >>> item = resolve_paths({"u": entry}, "m.json", {"data_root": str(tmp)})
    >>> item["u"]["wav"] == str(tmp / "u.wav"), item["u"]["text"]
    (True, 'a {b} {c}')
    >>> resolve_paths({"u": entry}, "m.json", {"root": "/d"})
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: m.json: entry 'u' has the
    unknown placeholder {data_root} in its wav '{data_root}/u.wav'; known:
    {root}
    """
    resolved, found = {}, set()
    for utt_id, entry in manifest.items():
        item = {}
        for key, value in entry.items():
            if not isinstance(value, str):
                item[key] = value
            elif key not in keys:
                item[key] = fill_placeholders(value)
            else:
                try:
                    item[key] = fill_placeholders(value, replacements)
                except KeyError as e:
                    known = ", ".join(f"{{{k}}}" for k in replacements)
                    raise DataError(
                        f"{path}: entry {utt_id!r} has the unknown "
                        f"placeholder {{{e.args[0]}}} in its {key} "
                        f"{value!r}; known: {known or 'none'}"
                    ) from None
                if item[key] not in found:
                    if not os.path.isfile(item[key]):
                        raise DataError(
                            f"{path}: entry {utt_id!r}: {key} file not "
                            f"found: {item[key]}"
                        )
                    found.add(item[key])
        resolved[utt_id] = item
    return resolved


def check_sets(manifests):
    """Checks that the manifest of every set exists.

    Arguments
    ---------
    manifests : dict
        ``{set name: manifest path}``.

    Raises
    ------
    DataError
        Naming the missing manifest and its set, and listing the manifests
        of its folder.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "train.json", {})
    >>> check_sets({"train": str(tmp / "train.json"),
    ...             "test_X": str(tmp / "test_X.json")})
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../test_X.json: no manifest
    for the set 'test_X'; the manifests in ... are: train
    """
    for name, path in manifests.items():
        path = os.fspath(path)
        if os.path.isfile(path):
            continue
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise DataError(
                f"{path}: no manifest for the set {name!r}; the folder "
                f"{folder} does not exist"
            )
        existing = sorted(
            f[: -len(".json")]
            for f in os.listdir(folder)
            if f.endswith(".json")
        )
        raise DataError(
            f"{path}: no manifest for the set {name!r}; the manifests in "
            f"{folder} are: {', '.join(existing) or 'none'}"
        )


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
