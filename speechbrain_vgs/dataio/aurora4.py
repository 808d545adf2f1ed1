"""Manifests for Aurora-4 (noisy WSJ0, 16 kHz), read the way Kaldi's
``egs/aurora4/s5`` recipe reads it.

Aurora-4 adds six noises (car, babble, restaurant, street, airport,
train) to the WSJ0 (LDC93S6B) SI-84 training and Nov'92 5k evaluation
sentences, recorded with the primary Sennheiser microphone (``.wv1``) or a
secondary microphone (``.wv2``). The corpus ships no transcripts: they come
from WSJ0's ``.dot`` files.

What ``data_folder`` must hold (as ``local/aurora4_data_prep.sh`` reads it)::

    lists/training_clean_sennh_16k.list    clean SI-84 training (7138 utts)
    lists/training_multicondition_16k.list multi-condition SI-84 training
    lists/test<NN>_0330_16k.list           eval92 test set NN = 01..14
                                           (330 utts each; 0166: a
                                           166-utterance subset)
    lists/devtest<NN>_0330_16k.list        dev set NN = 01..14 (330 utts
                                           each; 1206: 1206 utts each)
    <the audio files that the lists name>

Every list line that does not start with ``;`` names one file by its path
relative to ``data_folder`` (first whitespace-separated field; the rest of
the line is ignored). The file is ``<utterance id>.wv1`` or ``.wv2``, the
utterance id being WSJ's 8 characters (lowercased, as Kaldi does); the
folders are whatever the lists say. Dev-list paths are looked up first
under Kaldi's prefix (``dev_x_y/...`` is read as ``devx_y/dev_x_y/...``:
the first path component, split at ``_``, gives ``<B0><B1>_<B2>/``) and
then as listed. The audio is headerless 16-bit signed big-endian PCM,
mono, 16 kHz (Kaldi: ``sox -B -r 16k -e signed -b 16 -c 1 -t raw``).
NIST SPHERE and RIFF files are accepted too; compressed (shorten) SPHERE
files are refused with a :class:`DataError` that names the conversion.

The 14 test (and dev) sets, by number (Kaldi numbers them 01-14; the
noise of each set as in the Aurora-4 definition)::

    set    condition  noise                                   microphone
    01     A          clean                                   primary
    02-07  B          car, babble, restaurant, street,        primary
                      airport, train (in this order)
    08     C          clean                                   secondary
    09-14  D          car, babble, restaurant, street,        secondary
                      airport, train (in this order)

Sets 01-07 must list ``.wv1`` files and 08-14 ``.wv2`` files; a listed path
with a folder named ``<noise>_wv<1|2>`` must name its set's condition.

Transcripts: every ``*.dot`` file under ``wsj0_folder`` (searched
recursively, following links) named ``<6 characters>00.dot`` holds the
lines ``<transcript> (<utterance id>)`` of the utterances whose id starts
with those 6 characters. Transcripts are normalised like Kaldi's
``local/normalize_transcript.pl`` (see :func:`normalize_transcript`).

Written to ``save_folder`` (keys of the returned dict, ``.json`` files)::

    train_clean          clean SI-84 training, ids <utt>_clean
    train_multi          multi-condition SI-84 training, ids <utt>_multi
    valid                the dev set (dev_set "0330" or "1206"), all 14
                         conditions, ids <utt>_<NN>
    test_01 ... test_14  one eval92 test set each, ids <utt>_<NN>
    test_A ... test_D    the sets of each condition group, ids <utt>_<NN>

Entries: ``wav`` (``{data_root}/<path as listed>.wav``, where
``{data_root}`` is ``wav_folder``, by default ``<save_folder>/wavs``: the
raw audio cannot be read by libsndfile without being told its format, so
each listed file is converted once into a RIFF wav there, mirroring the
corpus tree), ``duration`` (seconds), ``speaker`` (the first 3 characters
of the utterance id), ``text`` (normalised transcript), ``source`` (the
audio path relative to ``data_folder``), ``microphone``
(``primary``/``secondary``, from the extension), ``condition`` (``A``-``D``
for test and dev sets, ``clean``/``multi`` for training), ``test_set``
(``01``-``14``, test and dev sets) and ``noise`` (test and dev sets, and
``clean`` for clean training; the multi-condition list does not say
which noise each file has).

Kaldi drops ``408o0302.wv2`` from the multi-condition training list
(``aurora4_data_prep.sh`` line 102); ``excluded_files`` does the same, and
logs what it drops.

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile

from speechbrain_vgs.dataio.manifest import (
    ASR_KEYS,
    DataError,
    check_manifest,
    outputs_ready,
    where,
    write_json,
)
from speechbrain_vgs.dataio.prep_utils import escape_braces

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
LIST_FOLDER = "lists"
TRAIN_LISTS = {
    "train_clean": "training_clean_sennh_16k.list",
    "train_multi": "training_multicondition_16k.list",
}
TEST_SUBSETS = ("0330", "0166")
DEV_SUBSETS = ("0330", "1206")
NOISES = ("car", "babble", "restaurant", "street", "airport", "train")
# set number -> (condition group, noise, microphone)
TEST_SETS = {
    "01": ("A", "clean", "primary"),
    **{f"{2 + i:02d}": ("B", n, "primary") for i, n in enumerate(NOISES)},
    "08": ("C", "clean", "secondary"),
    **{f"{9 + i:02d}": ("D", n, "secondary") for i, n in enumerate(NOISES)},
}
GROUPS = ("A", "B", "C", "D")
MICROPHONES = {"1": "primary", "2": "secondary"}
NOISE_WORD = "<NOISE>"
KALDI_EXCLUDED = ("408o0302.wv2",)
WAV_FOLDER = "wavs"
OPTIONS_FILE = "aurora4_options.json"
CONVERT_THREADS = 8

LISTED_FILE = re.compile(r"(?:.*/)?(\w{8})\.wv([12])", re.ASCII | re.I)
CONDITION_FOLDER = re.compile(
    r"(?:.*_)?(clean|car|babble|restaurant|street|airport|train)_wv([12])",
    re.ASCII | re.I,
)
DOT_NAME = re.compile(r"(\w{6})00\.dot", re.ASCII | re.I)
DOT_LINE = re.compile(r"(.+)\((\w{8})\)\s*", re.ASCII | re.S)
UPPER = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
DELETED_TOKENS = [
    re.compile(p, re.ASCII)
    for p in (
        r"^\[<\w+\]$",  # [<door_slam]: noise during the previous word
        r"^\[\w+>\]$",  # [door_slam>]: noise during the next word
        r"\[\w+/\]$",  # [phone_ring/]: a noise starts
        r"\[/\w+\]$",  # [/phone_ring]: a noise ends
    )
]
NOISE_TOKEN = re.compile(r"\[\w+\]", re.ASCII)
VERBAL_DELETION = re.compile(r"^<([\w']+)>$", re.ASCII)


def aurora4_manifest_paths(save_folder, names=None):
    """The manifest path of each manifest name (all of them by default).

    Example
    -------
    >>> paths = aurora4_manifest_paths("out")
    >>> len(paths), paths["test_B"], paths["train_multi"]
    (21, 'out/test_B.json', 'out/train_multi.json')
    """
    if names is None:
        names = [
            *TRAIN_LISTS,
            "valid",
            *(f"test_{s}" for s in TEST_SETS),
            *(f"test_{g}" for g in GROUPS),
        ]
    return {name: os.path.join(save_folder, f"{name}.json") for name in names}


def prepare_aurora4(
    data_folder,
    save_folder,
    wsj0_folder=None,
    skip_prep=False,
    dev_set="0330",
    test_subset="0330",
    noise_word=NOISE_WORD,
    excluded_files=KALDI_EXCLUDED,
    wav_folder=None,
):
    """Writes the Aurora-4 manifests (names and format in the module
    docstring) and converts the listed audio to RIFF wavs.

    Nothing is done when the manifests exist and were made with the same
    options (saved in ``save_folder/aurora4_options.json``); converted
    wavs that are complete and newer than their source are not rewritten.

    Arguments
    ---------
    data_folder : str
        The Aurora-4 root, holding ``lists/`` and the listed audio.
    save_folder : str
        Where the manifests go.
    wsj0_folder : str, optional
        WSJ0 (LDC93S6B), searched for the ``.dot`` transcript files;
        ``data_folder`` by default (if the ``.dot`` files were copied
        there).
    skip_prep : bool
        If True, return the manifest paths without looking at anything.
    dev_set : str
        ``"0330"`` or ``"1206"``: the dev lists that make ``valid.json``.
    test_subset : str
        ``"0330"`` (the 330-utterance eval92 sets) or ``"0166"``.
    noise_word : str
        What a noise marker such as ``[loud_breath]`` becomes (``""``:
        nothing, the marker is dropped).
    excluded_files : tuple of str
        File names (case-insensitive) left out of the training lists, each
        exclusion logged; by default Kaldi's ``408o0302.wv2``.
    wav_folder : str, optional
        Where the converted wavs go (the manifests' ``{data_root}``);
        ``<save_folder>/wavs`` by default.

    Returns
    -------
    dict
        ``{manifest name: path}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> paths = prepare_aurora4(tmp, tmp / "manifests", skip_prep=True)
    >>> os.path.basename(paths["test_A"]), os.path.exists(paths["test_A"])
    ('test_A.json', False)
    >>> prepare_aurora4(tmp, tmp / "manifests")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...training_clean_sennh_16k.list:
    file not found (the Aurora-4 lists folder, see Kaldi's
    aurora4_data_prep.sh)
    """
    outputs = aurora4_manifest_paths(save_folder)
    if skip_prep:
        return outputs
    if dev_set not in DEV_SUBSETS:
        raise ValueError(f"dev_set must be one of {DEV_SUBSETS}: {dev_set!r}")
    if test_subset not in TEST_SUBSETS:
        raise ValueError(
            f"test_subset must be one of {TEST_SUBSETS}: {test_subset!r}"
        )
    if wsj0_folder is None:
        wsj0_folder = data_folder
    if wav_folder is None:
        wav_folder = os.path.join(save_folder, WAV_FOLDER)
    options = {
        "data_folder": os.path.abspath(data_folder),
        "wsj0_folder": os.path.abspath(wsj0_folder),
        "wav_folder": os.path.abspath(wav_folder),
        "dev_set": dev_set,
        "test_subset": test_subset,
        "noise_word": noise_word,
        "excluded_files": sorted(f.lower() for f in excluded_files),
    }
    options_file = os.path.join(save_folder, OPTIONS_FILE)
    if outputs_ready(outputs.values(), options, options_file):
        logger.info("Aurora-4 manifests in %s are up to date", save_folder)
        return outputs

    splits = read_all_lists(data_folder, dev_set, test_subset, excluded_files)
    records = [r for split in splits.values() for r in split]
    texts = find_transcripts(records, wsj0_folder, noise_word)
    samples = convert_all(records, data_folder, wav_folder)
    manifests = {}
    for name, split in splits.items():
        manifests[name] = {
            r["id"]: manifest_entry(r, samples[r["path"]], texts[r["utt"]])
            for r in split
        }
    for group in GROUPS:
        manifests[f"test_{group}"] = {
            r["id"]: manifest_entry(r, samples[r["path"]], texts[r["utt"]])
            for s, (g, _, _) in TEST_SETS.items()
            if g == group
            for r in splits[f"test_{s}"]
        }
    for name, manifest in manifests.items():
        check_manifest(manifest, outputs[name], ASR_KEYS)
        write_json(outputs[name], manifest)
        logger.info(
            "Wrote %s: %d utterances of %d speakers",
            outputs[name],
            len(manifest),
            len({e["speaker"] for e in manifest.values()}),
        )
    write_json(options_file, options)
    return outputs


def read_all_lists(data_folder, dev_set, test_subset, excluded_files):
    """Reads the training, dev and test lists into utterance records.

    Returns
    -------
    dict
        ``{manifest name: [record, ...]}`` for ``train_clean``,
        ``train_multi``, ``valid`` and ``test_01`` ... ``test_14``; a
        record is ``{"id", "utt", "path", "origin", "kind", "set"}``.
    """
    lists = os.path.join(data_folder, LIST_FOLDER)
    excluded = {f.lower() for f in excluded_files}
    splits = {}
    for name, list_name in TRAIN_LISTS.items():
        kind = name.split("_")[1]
        entries = read_list(os.path.join(lists, list_name), excluded)
        for entry in entries:
            if kind == "clean" and entry["mic"] != "1":
                raise DataError(
                    f"{entry['origin']}: {entry['listed']} is not a .wv1 "
                    "file: the clean training list has Sennheiser "
                    "(primary microphone) audio only"
                )
            check_exists(entry, data_folder)
        splits[name] = [
            {**entry, "id": f"{entry['utt']}_{kind}", "kind": kind}
            for entry in entries
        ]
    splits["valid"] = []
    for test_set in TEST_SETS:
        for name, list_name in [
            ("valid", f"devtest{test_set}_{dev_set}_16k.list"),
            (f"test_{test_set}", f"test{test_set}_{test_subset}_16k.list"),
        ]:
            path = os.path.join(lists, list_name)
            records = []
            for entry in read_list(path):
                check_condition(entry, test_set)
                if name == "valid":
                    entry["path"] = resolve_dev_path(entry, data_folder)
                else:
                    check_exists(entry, data_folder)
                records.append(
                    {
                        **entry,
                        "id": f"{entry['utt']}_{test_set}",
                        "kind": "test",
                        "set": test_set,
                    }
                )
            splits.setdefault(name, []).extend(records)
    for name, split in splits.items():
        if not split:
            raise DataError(f"{data_folder}: no utterance listed for {name}")
    return splits


def read_list(path, excluded=()):
    """Reads an Aurora-4 list: one ``<path>.wv1``/``.wv2`` per line.

    Lines starting with ``;`` are comments, blank lines are skipped and
    only a line's first field is read (as Kaldi's ``aurora2flist.pl``).
    A path listed twice is kept once (Kaldi sorts the lists with
    ``sort -u``); two paths of one utterance are an error unless one of
    them is in ``excluded``.

    Arguments
    ---------
    path : str
        The list file.
    excluded : set of str
        Lowercased file names to leave out (each one is logged).

    Returns
    -------
    list of dict
        ``{"utt": lowercased utterance id, "path": listed path, "listed":
        the same, "mic": "1" or "2", "origin": "<list>:<line>"}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "test01_0330_16k.list"
    >>> _ = path.write(";; eval92\\ntest_clean_wv1/440_16k/440C0201.wv1\\n")
    >>> [(e["utt"], e["mic"]) for e in read_list(path)]
    [('440c0201', '1')]
    >>> _ = path.write("test_clean_wv1/440_16k/440c0201.wav\\n")
    >>> read_list(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...test01_0330_16k.list:1:
    expected '<folders>/<8-character utterance id>.wv1' (or .wv2), got
    'test_clean_wv1/440_16k/440c0201.wav'
    """
    entries, by_utt, seen_paths = [], {}, set()
    duplicates, dropped = 0, []
    for number, line in read_lines(
        path, "the Aurora-4 lists folder, see Kaldi's aurora4_data_prep.sh"
    ):
        if line.startswith(";"):
            continue
        listed = line.split()[0]
        origin = where(path, number)
        match = LISTED_FILE.fullmatch(listed)
        parts = listed.split("/")
        if match is None or listed.startswith("/") or ".." in parts:
            raise DataError(
                f"{origin}: expected '<folders>/<8-character utterance "
                f"id>.wv1' (or .wv2), got {listed!r}"
            )
        if listed in seen_paths:
            duplicates += 1
            continue
        seen_paths.add(listed)
        if parts[-1].lower() in excluded:
            dropped.append((origin, listed))
            continue
        utt = match.group(1).lower()
        if utt in by_utt:
            raise DataError(
                f"{origin}: utterance {utt} is already listed at {by_utt[utt]}"
            )
        by_utt[utt] = origin
        entries.append(
            {
                "utt": utt,
                "path": listed,
                "listed": listed,
                "mic": match.group(2),
                "origin": origin,
            }
        )
    if duplicates:
        logger.warning("%s: %d paths listed twice, kept once", path, duplicates)
    for origin, listed in dropped:
        logger.warning(
            "%s: %s left out (excluded_files, as Kaldi does)", origin, listed
        )
    return entries


def read_lines(path, what):
    """Yields ``(line number, stripped line)`` for the non-blank lines."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found ({what})")
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line.strip()


def check_condition(entry, test_set):
    """Checks a test/dev list entry against its set's microphone and, when
    a folder of its path is named ``<noise>_wv<n>``, its noise.

    Example
    -------
    >>> entry = {"listed": "test_car_wv1/440_16k/440c0201.wv1",
    ...          "mic": "1", "origin": "test02_0330_16k.list:1"}
    >>> check_condition(entry, "02")
    >>> check_condition(entry, "03")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: test02_0330_16k.list:1: the
    folder 'test_car_wv1' is condition car_wv1, but set 03 is babble_wv1
    """
    _, noise, microphone = TEST_SETS[test_set]
    expected_mic = "1" if microphone == "primary" else "2"
    if entry["mic"] != expected_mic:
        raise DataError(
            f"{entry['origin']}: {entry['listed']} is a .wv{entry['mic']} "
            f"file, but set {test_set} is {microphone}-microphone (.wv"
            f"{expected_mic}) audio"
        )
    for folder in entry["listed"].split("/")[:-1]:
        match = CONDITION_FOLDER.fullmatch(folder)
        if match is None:
            continue
        found = (match.group(1).lower(), match.group(2))
        if found != (noise, expected_mic):
            raise DataError(
                f"{entry['origin']}: the folder {folder!r} is condition "
                f"{found[0]}_wv{found[1]}, but set {test_set} is "
                f"{noise}_wv{expected_mic}"
            )


def check_exists(entry, data_folder):
    """Raises :class:`DataError` when a listed file is not on disk."""
    path = os.path.join(data_folder, entry["path"])
    if not os.path.isfile(path):
        raise DataError(
            f"{path}: missing audio file, listed at {entry['origin']}"
        )


def kaldi_dev_path(listed):
    """The path Kaldi reads for a dev-list entry (``aurora4_data_prep.sh``
    lines 57-62): the first folder ``a_b_c...`` gives the prefix ``ab_c/``.

    Example
    -------
    >>> kaldi_dev_path("dev_clean_wv1/050_16k/050c0101.wv1")
    'devclean_wv1/dev_clean_wv1/050_16k/050c0101.wv1'
    >>> kaldi_dev_path("dev/050c0101.wv1") is None
    True
    """
    parts = listed.split("/")[0].split("_")
    if len(parts) < 3 or "/" not in listed:
        return None
    return f"{parts[0]}{parts[1]}_{parts[2]}/{listed}"


def resolve_dev_path(entry, data_folder):
    """A dev-list path as on disk: under Kaldi's prefix
    (:func:`kaldi_dev_path`) if that exists, else as listed."""
    candidates = [kaldi_dev_path(entry["listed"]), entry["listed"]]
    candidates = [c for c in candidates if c is not None]
    for candidate in candidates:
        if os.path.isfile(os.path.join(data_folder, candidate)):
            return candidate
    tried = " or ".join(os.path.join(data_folder, c) for c in candidates)
    raise DataError(f"{tried}: missing audio file, listed at {entry['origin']}")


def normalize_transcript(text, noise_word=NOISE_WORD):
    """Normalises a WSJ ``.dot`` transcript as Kaldi's
    ``local/normalize_transcript.pl``, word by word: upper case; no
    backslashes; ``%PERCENT`` and ``.POINT`` lose their mark; noise
    onsets/offsets (``[<x]``, ``[x>]``, ``[x/]``, ``[/x]``), ``~``
    (truncation) and ``.`` (pause) are deleted; other noises (``[x]``)
    become ``noise_word``; ``<word>`` (verbal deletion, still spoken)
    becomes ``WORD``; ``--DASH`` becomes ``-DASH``.

    Example
    -------
    >>> normalize_transcript("[loud_breath] And I\\\\. B\\\\. M\\\\. "
    ...                      "said <and> . [<door_slam] ~ ten %percent")
    '<NOISE> AND I. B. M. SAID AND TEN PERCENT'
    >>> normalize_transcript("--dash [phone_ring/] hi [/phone_ring]", "<N>")
    '-DASH HI'
    >>> normalize_transcript("[cough] yes [cough]", noise_word="")  # dropped
    'YES'
    """
    words = []
    for word in text.split():
        word = word.translate(UPPER).replace("\\", "")
        if word == "%PERCENT":
            word = "PERCENT"
        elif word == ".POINT":
            word = "POINT"
        if (
            any(p.search(word) for p in DELETED_TOKENS)
            or word == "~"
            or word == "."
        ):
            continue
        if NOISE_TOKEN.search(word):
            if noise_word:
                words.append(noise_word)
        elif VERBAL_DELETION.match(word):
            words.append(VERBAL_DELETION.match(word).group(1))
        elif word == "--DASH":
            words.append("-DASH")
        else:
            words.append(word)
    return " ".join(words)


def find_dot_files(folder):
    """Finds the WSJ0 transcript files under ``folder`` (following links).

    Returns
    -------
    dict
        ``{lowercased 6-character prefix: [path, ...]}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = tmp.ensure("wsj0/si_tr_s/011/011C0200.DOT")
    >>> find_dot_files(tmp)
    {'011c02': ['.../wsj0/si_tr_s/011/011C0200.DOT']}
    >>> _ = tmp.ensure("wsj0/notes.dot")
    >>> find_dot_files(tmp)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../wsj0/notes.dot: a .dot
    file not named <6 characters>00.dot, as WSJ0 transcript files are
    """
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: WSJ0 folder not found")
    found = {}
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(".dot"):
                continue
            path = os.path.join(root, name)
            match = DOT_NAME.fullmatch(name)
            if match is None:
                raise DataError(
                    f"{path}: a .dot file not named <6 characters>00.dot, "
                    "as WSJ0 transcript files are"
                )
            found.setdefault(match.group(1).lower(), []).append(path)
    return found


def read_dot_file(path):
    """Reads a WSJ0 ``.dot`` file: ``<transcript> (<utterance id>)`` lines.

    Returns
    -------
    dict
        ``{lowercased utterance id: (transcript, "<file>:<line>")}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "011c0200.dot"
    >>> _ = path.write("The dog \\\\. (011c0201)\\nA cat (011C0202)\\n")
    >>> read_dot_file(path)["011c0202"]
    ('A cat ', '...011c0200.dot:2')
    >>> _ = path.write("The dog 011c0201\\n")
    >>> read_dot_file(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...011c0200.dot:1: expected
    '<transcript> (<8-character utterance id>)', got 'The dog 011c0201'
    """
    texts = {}
    for number, line in read_lines(path, "a WSJ0 transcript file"):
        match = DOT_LINE.fullmatch(line)
        if match is None:
            raise DataError(
                f"{where(path, number)}: expected '<transcript> "
                f"(<8-character utterance id>)', got {line!r}"
            )
        utt = match.group(2).lower()
        if utt in texts and texts[utt][0].split() != match.group(1).split():
            raise DataError(
                f"{where(path, number)}: a second transcript of {utt}, "
                f"the first is at {texts[utt][1]}"
            )
        texts[utt] = (match.group(1), where(path, number))
    return texts


def find_transcripts(records, wsj0_folder, noise_word):
    """The normalised transcript of each record's utterance, from the
    ``.dot`` file named after its first 6 characters (Kaldi's
    ``local/find_transcripts.pl``).

    Returns
    -------
    dict
        ``{utterance id: normalised transcript}``.
    """
    dot_files = find_dot_files(wsj0_folder)
    if not dot_files:
        raise DataError(
            f"{wsj0_folder}: no .dot transcript file: Aurora-4 has no "
            "transcripts of its own, pass wsj0_folder (WSJ0, LDC93S6B)"
        )
    raw, read = {}, {}
    for record in records:
        utt = record["utt"]
        if utt in raw:
            continue
        key = utt[:6]
        if key not in dot_files:
            raise DataError(
                f"{record['origin']}: no transcript for {utt}: no "
                f"{key}00.dot under {wsj0_folder}"
            )
        if key not in read:
            read[key] = merge_dot_files(dot_files[key])
        if utt not in read[key]:
            raise DataError(
                f"{record['origin']}: no transcript for {utt} in "
                f"{' or '.join(dot_files[key])}"
            )
        raw[utt] = read[key][utt]
    texts = {}
    for utt, (text, origin) in raw.items():
        texts[utt] = normalize_transcript(text, noise_word)
        if not texts[utt]:
            logger.warning("%s: the transcript of %s is empty", origin, utt)
    logger.info(
        "Read %d transcripts from %d .dot files under %s",
        len(texts),
        sum(len(dot_files[k]) for k in read),
        wsj0_folder,
    )
    return texts


def merge_dot_files(paths):
    """Reads several copies of one ``.dot`` file; they must agree."""
    merged = {}
    for path in paths:
        for utt, (text, origin) in read_dot_file(path).items():
            if utt in merged and merged[utt][0].split() != text.split():
                raise DataError(
                    f"{origin}: the transcript of {utt} differs from the "
                    f"one at {merged[utt][1]}"
                )
            merged.setdefault(utt, (text, origin))
    return merged


def read_audio(path):
    """Reads an Aurora-4 audio file as 16 kHz int16 samples.

    Headerless files are 16-bit signed big-endian PCM (Kaldi reads them
    with ``sox -B -r 16k -e signed -b 16 -c 1 -t raw``); NIST SPHERE
    (uncompressed) and RIFF files are read by their headers.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "440c0201.wv1")
    >>> np.array([1, -2, 300], dtype=">i2").tofile(path)
    >>> read_audio(path)
    array([  1,  -2, 300], dtype=int16)
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"NIST_1A\\n   1024\\nsample_coding -s26 "
    ...                 b"pcm,embedded-shorten-v2.00\\nend_head\\n")
    >>> read_audio(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: .../440c0201.wv1: SPHERE audio
    compressed as 'pcm,embedded-shorten-v2.00', which libsndfile cannot
    read: decompress it first (sph2pipe -f wav, or w_decode)
    """
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        raise DataError(f"{path}: cannot read audio ({e})") from None
    if head.startswith(b"NIST_1A"):
        coding = re.search(rb"\nsample_coding -s\d+ (\S+)", head)
        if coding is not None and coding.group(1) != b"pcm":
            raise DataError(
                f"{path}: SPHERE audio compressed as "
                f"{coding.group(1).decode('latin-1')!r}, which libsndfile "
                "cannot read: decompress it first (sph2pipe -f wav, or "
                "w_decode)"
            )
    if head.startswith((b"NIST_1A", b"RIFF")):
        try:
            data, rate = soundfile.read(path, dtype="int16", always_2d=True)
        except Exception as e:
            raise DataError(f"{path}: cannot read audio ({e})") from None
        if rate != SAMPLE_RATE or data.shape[1] != 1:
            raise DataError(
                f"{path}: {rate} Hz, {data.shape[1]} channels; Aurora-4 "
                f"16 kHz audio is mono at {SAMPLE_RATE} Hz"
            )
        samples = data[:, 0]
    else:
        if os.path.getsize(path) % 2:
            raise DataError(
                f"{path}: odd number of bytes: not headerless 16-bit PCM"
            )
        samples = np.fromfile(path, dtype=">i2").astype(np.int16)
    if samples.size == 0:
        raise DataError(f"{path}: empty audio")
    return samples


def convert_audio(source, target):
    """Writes ``source`` (see :func:`read_audio`) as a 16-bit RIFF wav at
    ``target``, unless ``target`` is already a complete conversion that is
    newer than ``source``.

    Returns
    -------
    tuple
        ``(number of samples, whether target was written)``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> np.arange(8, dtype=">i2").tofile(str(tmp / "a.wv1"))
    >>> convert_audio(tmp / "a.wv1", tmp / "wavs" / "a.wv1.wav")
    (8, True)
    >>> convert_audio(tmp / "a.wv1", tmp / "wavs" / "a.wv1.wav")
    (8, False)
    >>> soundfile.read(tmp / "wavs" / "a.wv1.wav", dtype="int16")[0].tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    source, target = os.fspath(source), os.fspath(target)
    if os.path.isfile(target) and (
        os.path.getmtime(target) >= os.path.getmtime(source)
    ):
        expected = expected_samples(source)
        try:
            info = soundfile.info(target)
        except Exception:
            info = None
        if (
            info is not None
            and info.frames == expected
            and info.samplerate == SAMPLE_RATE
        ):
            return expected, False
    samples = read_audio(source)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = f"{target}.partial"
    soundfile.write(
        partial, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16"
    )
    os.replace(partial, target)
    return samples.size, True


def expected_samples(source):
    """The number of samples of an Aurora-4 audio file, from its size or
    header."""
    with open(source, "rb") as f:
        head = f.read(8)
    if head.startswith((b"NIST_1A", b"RIFF")):
        try:
            return soundfile.info(source).frames
        except Exception:
            return -1
    return os.path.getsize(source) // 2


def convert_all(records, data_folder, wav_folder):
    """Converts every record's audio (once per file) into ``wav_folder``,
    mirroring the corpus tree (``<path>`` becomes ``<path>.wav``).

    Returns
    -------
    dict
        ``{path relative to data_folder: number of samples}``.
    """
    origins = {}
    for record in records:
        origins.setdefault(record["path"], record["origin"])

    def convert(path):
        try:
            return convert_audio(
                os.path.join(data_folder, path),
                os.path.join(wav_folder, path + ".wav"),
            )
        except DataError as e:
            raise DataError(f"{e}, listed at {origins[path]}") from None

    paths = sorted(origins)
    with ThreadPoolExecutor(CONVERT_THREADS) as pool:
        results = list(pool.map(convert, paths))
    logger.info(
        "Audio in %s: %d files converted, %d already there",
        wav_folder,
        sum(written for _, written in results),
        sum(not written for _, written in results),
    )
    return {path: n for path, (n, _) in zip(paths, results)}


def manifest_entry(record, samples, text):
    """The manifest entry of one utterance record."""
    microphone = MICROPHONES[record["mic"]]
    entry = {
        "wav": "{data_root}/" + escape_braces(record["path"]) + ".wav",
        "duration": samples / SAMPLE_RATE,
        "speaker": escape_braces(record["utt"][:3]),
        "text": escape_braces(text),
        "source": escape_braces(record["path"]),
        "microphone": microphone,
    }
    if record["kind"] == "test":
        group, noise, _ = TEST_SETS[record["set"]]
        entry.update(condition=group, test_set=record["set"], noise=noise)
    else:
        entry["condition"] = record["kind"]
        if record["kind"] == "clean":
            entry["noise"] = "clean"
    return entry
