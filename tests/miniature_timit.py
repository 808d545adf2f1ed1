"""A miniature TIMIT (LDC93S1) laid out exactly like the real one, for the
preparer tests and debug runs.

``<root>/TRAIN|TEST/DR<n>/<speaker>/<utt>.WAV|.PHN|.WRD|.TXT`` with real
speaker ids in their real dialect regions: four training speakers in DR1
and DR2, and under TEST three development-set speakers, four core-test
speakers and one TEST speaker that is in neither list (FCMR0). Every
speaker has SA1, SA2, one SI and one or two SX sentences. The phone
transcriptions use labels that fold (closures, h#, pau, epi, q, ix, ax-h,
zh, nx, ...), each with its 39-phone folding written by hand.
"""

import re

import numpy as np
import soundfile

RATE = 16000

# (split folder, dialect region, speaker, role); the roles are those of
# the published lists, written here by hand: "dev" = development set,
# "core" = core test set, None = neither (in no manifest).
SPEAKERS = [
    ("TRAIN", "DR1", "FCJF0", "train"),
    ("TRAIN", "DR1", "MCPM0", "train"),
    ("TRAIN", "DR2", "FAEM0", "train"),
    ("TRAIN", "DR2", "MARC0", "train"),
    ("TEST", "DR1", "FAKS0", "dev"),
    ("TEST", "DR1", "MJSW0", "dev"),
    ("TEST", "DR2", "MGWT0", "dev"),
    ("TEST", "DR1", "FELC0", "core"),
    ("TEST", "DR1", "MDAB0", "core"),
    ("TEST", "DR2", "FPAS0", "core"),
    ("TEST", "DR2", "MTAS1", "core"),
    ("TEST", "DR2", "FCMR0", None),
]
UNLISTED_SPEAKER = "FCMR0"
ROLE_TO_MANIFEST = {"train": "train", "dev": "valid", "core": "test"}

# (sentence, 61-label transcription, its 39-phone folding by hand)
SENTENCES = [
    (
        "She had your dark suit.",
        "h# sh iy hv ae dcl d y axr dcl d aa r kcl k s ux tcl t h#",
        "sil sh iy hh ae sil d y er sil d aa r sil k s uw sil t sil",
    ),
    (
        "Don't ask me to carry an oily rag.",
        "h# d ow n q ae s kcl k m iy pau t ix kcl k eh r iy ax-h n oy l "
        "iy r ae gcl g h#",
        "sil d ow n ae s sil k m iy sil t ih sil k eh r iy ah n oy l iy r "
        "ae sil g sil",
    ),
    (
        "Help the woman get back.",
        "h# hh eh l pcl p dh ax w uh m ix n gcl g eh tcl b ae kcl k epi h#",
        "sil hh eh l sil p dh ah w uh m ih n sil g eh sil b ae sil k sil sil",
    ),
    (
        "Measure the bottle.",
        "h# m eh zh er dh ax bcl b aa dx el h#",
        "sil m eh sh er dh ah sil b aa dx l sil",
    ),
    (
        "Even then, an engine.",
        "h# iy v ix n dh eh nx en eng jh ix n pau h#",
        "sil iy v ih n dh eh n n ng jh ih n sil sil",
    ),
    (
        "Who'd think of rhythm?",
        "h# hv ux th ih ng kcl k ah v r ih dh em q h#",
        "sil hh uw th ih ng sil k ah v r ih dh m sil",
    ),
    (
        "Oh, a few chairs thaw away {now}.",
        "h# ow ax f y uw ch eh r z th ao ax w ey n aw h#",
        "sil ow ah f y uw ch eh r z th aa ah w ey n aw sil",
    ),
]
SA_SENTENCES = {
    "SA1": (
        "She had your dark suit in greasy wash water all year.",
        "h# sh ix hv eh dcl jh ih dcl d ah kcl k s uh q en gcl g r ix s ix "
        "w ao sh epi w ao dx axr q ao l y ih axr h#",
    ),
    "SA2": (
        "Don't ask me to carry an oily rag like that.",
        "h# d ow n ae s kcl k m iy dx ix kcl k ae r iy ix n oy l iy r ae "
        "gcl g l ay kcl k dh ae tcl h#",
    ),
}


def utterance_names(i):
    """The SI and SX utterances of the i-th speaker (besides SA1, SA2)."""
    names = [f"SI{1000 + 7 * i}", f"SX{10 + 5 * i}"]
    if i % 2 == 0:
        names.append(f"SX{11 + 5 * i}")
    return names


def boundaries(samples, n):
    """n + 1 sample offsets splitting [0, samples] evenly."""
    return [round(k * samples / n) for k in range(n + 1)]


def write_utterance(folder, stem, text, phones, samples, seed, opts):
    """Writes ``stem`` + .WAV, .PHN, .WRD, .TXT (names cased by opts)."""
    ext = (lambda e: e.lower()) if opts["lowercase"] else (lambda e: e)
    audio = np.random.default_rng(seed).uniform(-0.1, 0.1, samples)
    wav = folder / f"{stem}{ext('.WAV')}"
    if opts["riff"]:
        soundfile.write(str(wav), audio, RATE, subtype="PCM_16")
    else:
        soundfile.write(str(wav), audio, RATE, format="NIST", subtype="PCM_16")
    if opts["riff_copies"]:
        soundfile.write(f"{wav}.wav", audio, RATE, subtype="PCM_16")
    phones = phones.split()
    cuts = boundaries(samples, len(phones))
    (folder / f"{stem}{ext('.PHN')}").write_text(
        "".join(
            f"{cuts[k]} {cuts[k + 1]} {phone}\n"
            for k, phone in enumerate(phones)
        )
    )
    words = re.sub(r"[^a-z' ]", "", text.lower()).split()
    # the words share the speech between the leading and trailing h#
    cuts = boundaries(cuts[-2] - cuts[1], len(words))
    start = round(samples / len(phones))
    (folder / f"{stem}{ext('.WRD')}").write_text(
        "".join(
            f"{start + cuts[k]} {start + cuts[k + 1]} {word}\n"
            for k, word in enumerate(words)
        )
    )
    (folder / f"{stem}{ext('.TXT')}").write_text(f"0 {samples} {text}\n")
    return wav.name


def write_timit(root, lowercase=False, riff=False, riff_copies=False):
    """Writes a miniature TIMIT under ``root``.

    Arguments
    ---------
    root : pathlib.Path
        An existing folder; it becomes the TIMIT root.
    lowercase : bool
        Whether every folder and file name is lower case (the common
        ``train/dr1/fcjf0/sa1.wav`` copy).
    riff : bool
        Whether the wavs are RIFF WAV instead of NIST SPHERE.
    riff_copies : bool
        Whether a RIFF ``X.WAV.wav`` goes next to each ``X.WAV`` (as in
        Kaggle's copy).

    Returns
    -------
    dict
        ``{manifest name: {utt_id: info}}`` for ``train``, ``valid``,
        ``test``, ``train_male``, ``valid_male``, ``test_male`` and
        ``test_female``, with ``info``: ``wav`` (path relative to
        ``root`` as written), ``samples``, ``speaker``, ``sex``,
        ``dialect``, ``text``, ``phones61`` and ``phones39``.
    """
    opts = {"lowercase": lowercase, "riff": riff, "riff_copies": riff_copies}
    case = str.lower if lowercase else str
    doc = root / case("DOC")
    doc.mkdir()
    (doc / case("SPKRINFO.TXT")).write_text("; speaker table\n")
    (root / case("README.DOC")).write_text("TIMIT\n")
    expected = {name: {} for name in ROLE_TO_MANIFEST.values()}
    for i, (split, dialect, speaker, role) in enumerate(SPEAKERS):
        relative = f"{case(split)}/{case(dialect)}/{case(speaker)}"
        folder = root / relative
        folder.mkdir(parents=True)
        for j, (name, (text, phones)) in enumerate(SA_SENTENCES.items()):
            write_utterance(
                folder, case(name), text, phones, 4000, 100 * i + j, opts
            )
        for j, name in enumerate(utterance_names(i)):
            text, phones61, phones39 = SENTENCES[(2 * i + j) % len(SENTENCES)]
            samples = 3200 + 400 * ((3 * i + j) % 12)
            wav = write_utterance(
                folder, case(name), text, phones61, samples, 100 * i + j, opts
            )
            if role is None:
                continue
            expected[ROLE_TO_MANIFEST[role]][f"{speaker}_{name}"] = {
                "wav": f"{relative}/{wav}",
                "samples": samples,
                "speaker": speaker,
                "sex": speaker[0].lower(),
                "dialect": dialect,
                "text": text,
                "phones61": phones61,
                "phones39": phones39,
            }
    for name, split, sex in [
        ("train_male", "train", "m"),
        ("valid_male", "valid", "m"),
        ("test_male", "test", "m"),
        ("test_female", "test", "f"),
    ]:
        expected[name] = {
            utt_id: info
            for utt_id, info in expected[split].items()
            if info["sex"] == sex
        }
    return expected
