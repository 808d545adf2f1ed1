"""Manifests for TIMIT (LDC93S1) phone recognition.

Expected layout of ``data_folder`` (the LDC distribution)::

    TRAIN/DR1..DR8/<speaker>/<utt>.WAV|.PHN|.WRD|.TXT    462 speakers
    TEST/DR1..DR8/<speaker>/<utt>.WAV|.PHN|.WRD|.TXT     168 speakers

e.g. ``TRAIN/DR1/FCJF0/SI1027.WAV``. A speaker folder is the sex letter
(``M`` or ``F``), three initials and a digit; the speaker id is the whole
folder name upper-cased (``FCJF0``), the sex its first letter. Utterances
are ``SA1`` and ``SA2`` (the two dialect sentences every speaker read),
``SI<n>`` and ``SX<n>``. ``.WAV`` is NIST SPHERE (16 kHz, 16-bit PCM);
``.PHN`` has ``<start sample> <end sample> <phone>`` lines in the 61 TIMIT
labels, ``.TXT`` one ``<start> <end> <sentence>`` line (``.WRD`` is not
read). The case is read from the disk, level by level, so the common
lower-case copy (``train/dr1/fcjf0/si1027.wav`` with RIFF wavs) works as
well and gives the same utterance ids. Some copies (e.g. Kaggle's) have a
RIFF ``X.WAV.wav`` next to each SPHERE ``X.WAV``: the manifest then points
to the SPHERE ``X.WAV`` (the LDC original) and ``X.WAV.wav`` is used only
when it is alone. Other files in the speaker folders are left out with a
warning.

Manifests written to ``save_folder`` (speaker and utterance counts on the
real corpus):

- ``train.json``: the SI and SX sentences of the 462 TRAIN speakers
  (326 male, 136 female), 3696 utterances;
- ``valid.json``: the 50-speaker development set (:data:`DEV_SPEAKERS`,
  32 male, 18 female, from TEST), 400 utterances;
- ``test.json``: the 24-speaker core test set (:data:`CORE_TEST_SPEAKERS`,
  2 male and 1 female of each dialect region, from TEST), 192 utterances;
- the male-train / female-test protocol (after Hsu, Harwath & Glass 2019):
  ``train_male.json`` (the 326 male speakers of ``train.json``, 2608
  utterances), ``valid_male.json`` (the 32 male speakers of the
  development set, 256 utterances), ``test_male.json`` (the 16 male
  core-test speakers, 128 utterances) and ``test_female.json`` (the 8
  female core-test speakers, 64 utterances).

The other 94 TEST speakers are in no manifest (that is how the core test
set and development set are used in the literature), and the SA sentences
are left out of every manifest (their number is logged), as in every TIMIT
phone recognition setup. The two speaker lists are those of Halberstadt
(1998), as in the Kaldi (``egs/timit/s5/conf/dev_spk.list``,
``test_spk.list``) and SpeechBrain (``recipes/TIMIT``) recipes.

Phones: with ``phone_set=39`` the 61 labels are folded to the 39 classes
of Lee & Hon (1989) by :data:`FOLD_61_TO_39` (the ``39`` column of Kaldi's
``conf/phones.60-48-39.map``): the glottal stop ``q`` is deleted, the
closures and ``h#``, ``pau``, ``epi`` become ``sil``, and allophones are
merged (``ix`` -> ``ih``, ``ax-h`` -> ``ah``, ...). As in Kaldi and
SpeechBrain, folding maps label by label and does not merge repeated
``sil`` (``pau pcl p`` gives ``sil sil p``). ``phone_set=61`` keeps the
labels of the ``.PHN`` files unchanged, ``q`` included.

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor

import soundfile

from speechbrain_vgs.dataio.manifest import (
    DataError,
    outputs_ready,
    text_lines,
    where,
    write_json,
)
from speechbrain_vgs.dataio.prep_utils import DURATION_THREADS, escape_braces

logger = logging.getLogger(__name__)

# Halberstadt (1998) core test set: 24 TEST speakers, per dialect region
# two male and one female.
CORE_TEST_SPEAKERS = frozenset(
    [
        *("MDAB0", "MWBT0", "FELC0"),  # DR1
        *("MTAS1", "MWEW0", "FPAS0"),  # DR2
        *("MJMP0", "MLNT0", "FPKT0"),  # DR3
        *("MLLL0", "MTLS0", "FJLM0"),  # DR4
        *("MBPM0", "MKLT0", "FNLP0"),  # DR5
        *("MCMJ0", "MJDH0", "FMGD0"),  # DR6
        *("MGRT0", "MNJM0", "FDHC0"),  # DR7
        *("MJLN0", "MPAM0", "FMLD0"),  # DR8
    ]
)
# Halberstadt (1998) development set: 50 other TEST speakers.
DEV_SPEAKERS = frozenset(
    [
        *("FAKS0", "FDAC1", "FJEM0", "MJSW0", "MREB0"),  # DR1
        *("MGWT0", "MJAR0", "MMDB1", "MMDM2", "MPDF0"),  # DR2
        *("FCMH0", "FKMS0", "MBDG0", "MBWM0", "MCSH0"),  # DR3
        *("MGJF0", "MGLB0", "MMJR0", "MMWH0", "MRTK0"),  # DR3
        *("MTAA0", "MTDT0", "MTHC0", "MWJG0"),  # DR3
        *("FADG0", "FDMS0", "FEDW0", "FGJD0", "FJMG0", "FNMR0"),  # DR4
        *("FREW0", "FSEM0", "MBNS0", "MDLS0", "MROA0", "MTEB0"),  # DR4
        *("FCAL1", "FMAH0", "MRWS1"),  # DR5
        *("FDRW0", "MJFC0", "MRJR0"),  # DR6
        *("FMML0", "MDLF0", "MDVC0", "MERS0", "MRCS0", "MRJM4"),  # DR7
        *("FJSJ0", "MAJC0"),  # DR8
    ]
)

# The 61 labels of the .PHN files: 20 vowels, stops and their closures
# (bcl dcl gcl pcl tcl kcl), the glottal stop q, fricatives, affricates,
# nasals, semivowels, and the non-speech h# (start/end), pau, epi.
PHONES_61 = (
    *("iy", "ih", "eh", "ey", "ae", "aa", "aw", "ay", "ah", "ao"),
    *("oy", "ow", "uh", "uw", "ux", "er", "ax", "ix", "axr", "ax-h"),
    *("b", "d", "g", "p", "t", "k", "dx", "q"),
    *("bcl", "dcl", "gcl", "pcl", "tcl", "kcl"),
    *("jh", "ch", "s", "sh", "z", "zh", "f", "th", "v", "dh"),
    *("m", "n", "ng", "em", "en", "eng", "nx"),
    *("l", "r", "w", "y", "hh", "hv", "el"),
    *("h#", "pau", "epi"),
)
# Lee & Hon (1989) 61 -> 39 folding, written as the labels each class
# absorbs; every other label is its own class, and q (None) is deleted.
FOLDED_INTO = {
    "aa": ("ao",),
    "ah": ("ax", "ax-h"),
    "er": ("axr",),
    "hh": ("hv",),
    "ih": ("ix",),
    "l": ("el",),
    "m": ("em",),
    "n": ("en", "nx"),
    "ng": ("eng",),
    "sh": ("zh",),
    "uw": ("ux",),
    "sil": ("h#", "pau", "epi", "bcl", "dcl", "gcl", "pcl", "tcl", "kcl"),
}
FOLD_61_TO_39 = {
    **{phone: phone for phone in PHONES_61},
    **{old: new for new, olds in FOLDED_INTO.items() for old in olds},
    "q": None,
}
PHONE_SETS = (39, 61)

SPLIT_FOLDERS = ("train", "test")
DIALECT = re.compile(r"dr[1-8]", re.IGNORECASE)
SPEAKER = re.compile(r"[mf][a-z]{3}[0-9]", re.IGNORECASE)
UTTERANCE = re.compile(r"s[aix][0-9]+", re.IGNORECASE)
EXCLUDED_UTTERANCES = ("SA1", "SA2")
# utterance file kinds: the lower-cased ending of the file name
# (".wav.wav" first: a RIFF copy X.WAV.wav is not the utterance X.WAV)
FILE_KINDS = {
    ".wav.wav": "riff_copy",
    ".wav": "wav",
    ".phn": "phn",
    ".wrd": "wrd",
    ".txt": "txt",
}
SEX_MANIFESTS = {
    "train_male": ("train", "m"),
    "valid_male": ("valid", "m"),
    "test_male": ("test", "m"),
    "test_female": ("test", "f"),
}
MANIFESTS = ("train", "valid", "test", *SEX_MANIFESTS)
MANIFEST_VERSION = 1


def prepare_timit(data_folder, save_folder, skip_prep=False, phone_set=39):
    """Writes the TIMIT manifests: ``train``, ``valid``, ``test``,
    ``train_male``, ``valid_male``, ``test_male`` and ``test_female``
    (``.json``; the module docstring says what each holds).

    One entry per SI/SX utterance, keyed ``<speaker>_<utterance>``
    upper-cased (``MCPM0_SX114``)::

        {"wav": "{data_root}/<path relative to data_folder, as on disk>",
         "duration": seconds, "speaker": "MCPM0", "sex": "m" or "f",
         "dialect": "DR1", "phones": "<space-separated phones>",
         "text": "<the .TXT sentence>"}

    ``{data_root}`` stands for ``data_folder``; braces in the text are
    doubled for SpeechBrain's placeholder replacement. Nothing is done
    when the manifests exist and were made with the same options.

    Arguments
    ---------
    data_folder : str
        The TIMIT root, holding ``TRAIN`` and ``TEST`` (or ``train`` and
        ``test``).
    save_folder : str
        Where the manifests (and ``timit_options.json``) go.
    skip_prep : bool
        If True, only return the manifest paths.
    phone_set : int
        39 to fold the phones to Lee & Hon's 39 classes, 61 to keep the
        TIMIT labels.

    Returns
    -------
    dict
        ``{manifest name: path}``, e.g. ``{"train": ".../train.json"}``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> paths = prepare_timit(tmp, tmp / "manifests", skip_prep=True)
    >>> sorted(paths)  # doctest: +NORMALIZE_WHITESPACE
    ['test', 'test_female', 'test_male', 'train', 'train_male', 'valid',
     'valid_male']
    >>> prepare_timit(tmp, tmp / "manifests")
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...: not a TIMIT folder:
    expected the folders TRAIN and TEST (or train and test), found no
    TRAIN/train
    """
    if phone_set not in PHONE_SETS:
        raise ValueError(f"phone_set must be 39 or 61, got {phone_set!r}")
    paths = manifest_paths(save_folder)
    if skip_prep:
        return paths
    options = {
        "data_folder": os.path.abspath(data_folder),
        "phone_set": phone_set,
        "manifest_version": MANIFEST_VERSION,
    }
    options_file = os.path.join(save_folder, "timit_options.json")
    if outputs_ready(paths.values(), options, options_file):
        logger.info("TIMIT manifests in %s are up to date", save_folder)
        return paths

    train_folder, test_folder = (
        find_split_folder(data_folder, name) for name in SPLIT_FOLDERS
    )
    train_speakers = list_speakers(data_folder, train_folder)
    test_speakers = list_speakers(data_folder, test_folder)
    check_unique_speakers(train_speakers + test_speakers)
    valid_speakers = select_speakers(
        test_speakers, DEV_SPEAKERS, "development-set", test_folder
    )
    core_speakers = select_speakers(
        test_speakers, CORE_TEST_SPEAKERS, "core-test", test_folder
    )
    unused = len(test_speakers) - len(valid_speakers) - len(core_speakers)
    logger.info(
        "%d speaker folders of %s are neither development-set nor "
        "core-test speakers and are in no manifest",
        unused,
        test_folder,
    )
    speakers = {
        "train": train_speakers,
        "valid": valid_speakers,
        "test": core_speakers,
    }
    records = {}
    excluded = 0
    ignored = []
    for split, split_speakers in speakers.items():
        records[split] = []
        for speaker in split_speakers:
            utterances, n_excluded, stray = read_speaker(
                data_folder, speaker, phone_set
            )
            records[split].extend(utterances)
            excluded += n_excluded
            ignored.extend(stray)
        if not records[split]:
            raise DataError(
                f"{os.path.join(data_folder, speakers[split][0]['folder'])}"
                f": no SI or SX utterance in the {split} speakers' folders"
            )
    logger.info(
        "Left out %d SA1/SA2 dialect sentences of the manifests' speakers",
        excluded,
    )
    if ignored:
        logger.warning(
            "Left out %d files that are no TIMIT utterance file, e.g. %s",
            len(ignored),
            ignored[0],
        )

    all_records = [r for split in records.values() for r in split]
    durations = read_durations(all_records, data_folder)
    manifests = {
        split: {r["utt_id"]: manifest_entry(r, durations) for r in recs}
        for split, recs in records.items()
    }
    for name, (split, sex) in SEX_MANIFESTS.items():
        manifests[name] = {
            utt_id: entry
            for utt_id, entry in manifests[split].items()
            if entry["sex"] == sex
        }
    for name, manifest in manifests.items():
        write_json(paths[name], manifest)
        logger.info(
            "Wrote %s: %d utterances of %d speakers",
            paths[name],
            len(manifest),
            len({entry["speaker"] for entry in manifest.values()}),
        )
    write_json(options_file, options)
    return paths


def manifest_paths(save_folder):
    """The path of each TIMIT manifest.

    Example
    -------
    >>> manifest_paths("out")["test_female"]
    'out/test_female.json'
    """
    return {
        name: os.path.join(save_folder, f"{name}.json") for name in MANIFESTS
    }


def fold_phones(phones, phone_set=39):
    """Maps TIMIT phone labels to the chosen phone set.

    Arguments
    ---------
    phones : list of str
        Labels among :data:`PHONES_61`.
    phone_set : int
        39 folds with :data:`FOLD_61_TO_39` (``q`` is deleted, repeated
        ``sil`` are kept); 61 returns the labels unchanged.

    Returns
    -------
    list of str

    Example
    -------
    >>> fold_phones(["h#", "q", "ix", "tcl", "t", "ax-h", "pau", "zh", "h#"])
    ['sil', 'ih', 'sil', 't', 'ah', 'sil', 'sh', 'sil']
    >>> fold_phones(["h#", "q", "ix", "h#"], phone_set=61)
    ['h#', 'q', 'ix', 'h#']
    """
    if phone_set == 61:
        return list(phones)
    folded = (FOLD_61_TO_39[phone] for phone in phones)
    return [phone for phone in folded if phone is not None]


def find_split_folder(data_folder, name):
    """The on-disk name of the ``TRAIN``/``TEST`` folder (either case).

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "train").mkdir()
    >>> find_split_folder(tmp, "train")
    'train'
    """
    if not os.path.isdir(data_folder):
        raise DataError(f"{data_folder}: TIMIT folder not found")
    found = [
        entry
        for entry in sorted(os.listdir(data_folder))
        if entry.lower() == name
        and os.path.isdir(os.path.join(data_folder, entry))
    ]
    if len(found) > 1:
        raise DataError(
            f"{data_folder}: both {' and '.join(found)}: keep one TIMIT copy"
        )
    if not found:
        hint = ""
        inside = [
            entry
            for entry in sorted(os.listdir(data_folder))
            if os.path.isdir(os.path.join(data_folder, entry, name))
            or os.path.isdir(os.path.join(data_folder, entry, name.upper()))
        ]
        if inside:
            hint = f" (is {os.path.join(data_folder, inside[0])} the root?)"
        raise DataError(
            f"{data_folder}: not a TIMIT folder: expected the folders TRAIN "
            f"and TEST (or train and test), found no "
            f"{name.upper()}/{name}{hint}"
        )
    return found[0]


def list_speakers(data_folder, split_folder):
    """The speaker folders under ``TRAIN`` or ``TEST``.

    Arguments
    ---------
    data_folder : str
        The TIMIT root.
    split_folder : str
        ``TRAIN``, ``TEST`` (or lower case), as on disk.

    Returns
    -------
    list of dict
        ``{"folder": "<split>/<DRn>/<speaker>" (as on disk), "speaker":
        "FCJF0", "sex": "f", "dialect": "DR1"}``, sorted by folder.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> os.makedirs(tmp / "test" / "dr2" / "fpas0")
    >>> list_speakers(tmp, "test")  # doctest: +NORMALIZE_WHITESPACE
    [{'folder': 'test/dr2/fpas0', 'speaker': 'FPAS0', 'sex': 'f',
      'dialect': 'DR2'}]
    """
    speakers = []
    split_path = os.path.join(data_folder, split_folder)
    for dialect in sorted(os.listdir(split_path)):
        dialect_path = os.path.join(split_path, dialect)
        if dialect.startswith(".") or not os.path.isdir(dialect_path):
            continue
        if not DIALECT.fullmatch(dialect):
            raise DataError(
                f"{dialect_path}: expected dialect-region folders DR1..DR8 "
                f"in {split_path}"
            )
        for speaker in sorted(os.listdir(dialect_path)):
            speaker_path = os.path.join(dialect_path, speaker)
            if speaker.startswith(".") or not os.path.isdir(speaker_path):
                continue
            if not SPEAKER.fullmatch(speaker):
                raise DataError(
                    f"{speaker_path}: expected speaker folders named "
                    f"<M|F><3 initials><digit> (e.g. FCJF0)"
                )
            speakers.append(
                {
                    "folder": f"{split_folder}/{dialect}/{speaker}",
                    "speaker": speaker.upper(),
                    "sex": speaker[0].lower(),
                    "dialect": dialect.upper(),
                }
            )
    if not speakers:
        raise DataError(f"{split_path}: no DR<n>/<speaker> folder")
    return speakers


def check_unique_speakers(speakers):
    """Raises :class:`DataError` when a speaker has two folders."""
    seen = {}
    for speaker in speakers:
        if speaker["speaker"] in seen:
            raise DataError(
                f"{speaker['folder']}: speaker {speaker['speaker']} also has "
                f"the folder {seen[speaker['speaker']]}"
            )
        seen[speaker["speaker"]] = speaker["folder"]


def select_speakers(speakers, listed, name, test_folder):
    """The speakers of a published list, warning about absent ones."""
    selected = [s for s in speakers if s["speaker"] in listed]
    missing = sorted(listed - {s["speaker"] for s in selected})
    if missing:
        logger.warning(
            "%d of the %d %s speakers are not in %s (e.g. %s)",
            len(missing),
            len(listed),
            name,
            test_folder,
            missing[0],
        )
    if not selected:
        raise DataError(f"{test_folder}: none of the {name} speakers found")
    return selected


def utterance_files(speaker_path):
    """Groups the files of a speaker folder by utterance.

    Returns
    -------
    files : dict
        ``{utterance (upper case): {kind: file name}}`` with kinds
        ``wav``, ``riff_copy`` (``X.WAV.wav``), ``phn``, ``wrd``, ``txt``.
    ignored : list of str
        The other (non-hidden) file names.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> for name in ["SX1.WAV", "SX1.WAV.wav", "SX1.PHN", "notes.txt"]:
    ...     _ = (tmp / name).write("")
    >>> utterance_files(tmp)  # doctest: +NORMALIZE_WHITESPACE
    ({'SX1': {'phn': 'SX1.PHN', 'wav': 'SX1.WAV',
              'riff_copy': 'SX1.WAV.wav'}}, ['notes.txt'])
    """
    files, ignored = {}, []
    for name in sorted(os.listdir(speaker_path)):
        if name.startswith(".") or os.path.isdir(
            os.path.join(speaker_path, name)
        ):
            continue
        match = [
            (kind, name[: -len(end)])
            for end, kind in FILE_KINDS.items()
            if name.lower().endswith(end)
        ]
        if not match or not UTTERANCE.fullmatch(match[0][1]):
            ignored.append(name)
            continue
        kind, utterance = match[0][0], match[0][1].upper()
        if kind in files.setdefault(utterance, {}):
            raise DataError(
                f"{os.path.join(speaker_path, name)}: two copies of one "
                f"file, with {files[utterance][kind]}"
            )
        files[utterance][kind] = name
    return files, ignored


def read_speaker(data_folder, speaker, phone_set):
    """Reads the SI and SX utterances of one speaker folder.

    Returns
    -------
    records : list of dict
        ``{"utt_id", "wav" (relative to data_folder), "speaker", "sex",
        "dialect", "phones", "text"}``, by utterance name.
    excluded : int
        The number of SA utterances left out.
    ignored : list of str
        Paths of files that are no utterance file.
    """
    folder = speaker["folder"]
    speaker_path = os.path.join(data_folder, folder)
    files, ignored = utterance_files(speaker_path)
    records, excluded = [], 0
    for utterance, kinds in files.items():
        if utterance in EXCLUDED_UTTERANCES:
            excluded += 1
            continue
        wav = kinds.get("wav", kinds.get("riff_copy"))
        if wav is None:
            other = next(iter(kinds.values()))
            raise DataError(
                f"{os.path.join(speaker_path, other)}: no audio file "
                f"{utterance}.WAV next to it"
            )
        for kind in ("phn", "txt"):
            if kind not in kinds:
                raise DataError(
                    f"{os.path.join(speaker_path, wav)}: no "
                    f".{kind.upper()} file next to it"
                )
        phones = read_phn(os.path.join(speaker_path, kinds["phn"]))
        records.append(
            {
                "utt_id": f"{speaker['speaker']}_{utterance}",
                "wav": f"{folder}/{wav}",
                "speaker": speaker["speaker"],
                "sex": speaker["sex"],
                "dialect": speaker["dialect"],
                "phones": " ".join(fold_phones(phones, phone_set)),
                "text": read_txt(os.path.join(speaker_path, kinds["txt"])),
            }
        )
    if not records:
        logger.warning("%s: no SI or SX utterance", speaker_path)
    return records, excluded, [os.path.join(folder, n) for n in ignored]


def read_lines(path):
    """Yields ``(line number, fields)`` for the non-blank lines of a UTF-8
    text file (see :func:`~speechbrain_vgs.dataio.manifest.text_lines`)."""
    for number, line in enumerate(text_lines(path), start=1):
        if line.strip():
            yield number, line.split()


def read_phn(path):
    """Reads a ``.PHN`` file: ``<start sample> <end sample> <phone>``
    lines.

    Returns
    -------
    list of str
        The phone labels (lower-cased), in file order.

    Example
    -------
    >>> path = getfixture("tmpdir") / "SX1.PHN"
    >>> _ = path.write("0 2400 h#\\n2400 3200 q\\n3200 4000 ix\\n")
    >>> read_phn(path)
    ['h#', 'q', 'ix']
    >>> _ = path.write("0 2400 h#\\n2400 3200\\n")
    >>> read_phn(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...SX1.PHN:2: expected
    '<start> <end> <phone>', got '2400 3200'
    >>> _ = path.write("0 2400 h#\\n2400 3200 xx\\n")
    >>> read_phn(path)
    Traceback (most recent call last):
     ...
    speechbrain_vgs.dataio.manifest.DataError: ...SX1.PHN:2: unknown phone
    'xx' (not one of the 61 TIMIT labels)
    """
    phones = []
    for number, fields in read_lines(path):
        if (
            len(fields) != 3
            or not fields[0].isdigit()
            or not fields[1].isdigit()
            or int(fields[0]) > int(fields[1])
        ):
            raise DataError(
                f"{where(path, number)}: expected '<start> <end> <phone>', "
                f"got {' '.join(fields)!r}"
            )
        phone = fields[2].lower()
        if phone not in FOLD_61_TO_39:
            raise DataError(
                f"{where(path, number)}: unknown phone {fields[2]!r} (not "
                f"one of the 61 TIMIT labels)"
            )
        phones.append(phone)
    if not phones:
        raise DataError(f"{path}: no phone")
    return phones


def read_txt(path):
    """Reads a ``.TXT`` file: one ``<start> <end> <sentence>`` line.

    Example
    -------
    >>> path = getfixture("tmpdir") / "SX1.TXT"
    >>> _ = path.write("0 46797 She had your dark suit.\\n")
    >>> read_txt(path)
    'She had your dark suit.'
    """
    lines = list(read_lines(path))
    if not lines:
        raise DataError(f"{path}: empty transcription")
    number, fields = lines[0]
    if len(lines) > 1:
        raise DataError(
            f"{where(path, lines[1][0])}: expected one line "
            f"'<start> <end> <sentence>'"
        )
    if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
        raise DataError(
            f"{where(path, number)}: expected '<start> <end> <sentence>', "
            f"got {' '.join(fields)!r}"
        )
    return " ".join(fields[2:])


def read_durations(records, data_folder):
    """``{utt_id: seconds}`` from the wav headers, read by a thread pool."""

    def duration(record):
        path = os.path.join(data_folder, record["wav"])
        try:
            seconds = soundfile.info(path).duration
        except Exception as e:
            raise DataError(f"{path}: cannot read audio ({e})") from None
        if not seconds > 0:
            raise DataError(f"{path}: empty audio")
        return seconds

    with ThreadPoolExecutor(DURATION_THREADS) as pool:
        seconds = list(pool.map(duration, records))
    return {r["utt_id"]: s for r, s in zip(records, seconds)}


def manifest_entry(record, durations):
    """The manifest entry of one utterance record."""
    return {
        "wav": "{data_root}/" + escape_braces(record["wav"]),
        "duration": durations[record["utt_id"]],
        "speaker": record["speaker"],
        "sex": record["sex"],
        "dialect": record["dialect"],
        "phones": record["phones"],
        "text": escape_braces(record["text"]),
    }


# The sets of each recognition protocol: {set name: manifest name}; the set
# names become the keys of results.json.
PROTOCOLS = {
    "standard": {"train": "train", "valid": "valid", "test": "test"},
    "male_female": {
        "train": "train_male",
        "valid": "valid_male",
        "test_male": "test_male",
        "test_female": "test_female",
    },
}


def protocol_manifests(paths, protocol):
    """The manifests of a protocol: ``standard`` (train, the development
    set, the core test set) or ``male_female`` (male speakers only for
    training and validation; the core test set's male and female speakers
    as ``test_male`` and ``test_female``).

    Arguments
    ---------
    paths : dict
        From :func:`prepare_timit`.
    protocol : str
        ``"standard"`` or ``"male_female"``.

    Returns
    -------
    dict
        ``{set name: manifest path}``.

    Example
    -------
    >>> paths = manifest_paths("out")
    >>> protocol_manifests(paths, "male_female")["train"]
    'out/train_male.json'
    """
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}"
        )
    return {name: paths[source] for name, source in PROTOCOLS[protocol].items()}
