"""Phone recognition protocols on SynthVGS (English), speaker-disjoint.

The synthesiser's phone transcripts make SynthVGS a phone recognition
corpus in two domain-shift protocols, after Hsu, Harwath & Glass (2019):

- ``clean`` (the Aurora-4 protocol): train on the clean training speech
  (46 speakers), validate on the valid speech, test on the speaker-disjoint
  test speech in conditions ``test_A`` (clean), ``test_B`` (noise),
  ``test_C`` (channel) and ``test_D`` (both);
- ``male_female`` (the TIMIT protocol of the paper): train and validate on
  the male voices only (22 training and 4 validation speakers), test on the
  clean test speech of the unseen male voices (``test_male``, 2 speakers)
  and of the unseen female voices (``test_female``, 6 speakers). Voices of
  unknown sex (:data:`~speechbrain_vgs.dataio.synthvgs.speech.VOICE_SEX`)
  are left out of this protocol, and counted in the log.

The manifests written (``<save_folder>/<set>.json``) keep the SynthVGS
entries (``wav``, ``duration``, ``speaker``, ``phones``, ``text`` ...) and
add ``sex``.

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os

from speechbrain_vgs.dataio.manifest import (
    DataError,
    load_manifest,
    outputs_ready,
    read_json,
    write_json,
)

logger = logging.getLogger(__name__)

LANG = "en"
PROTOCOLS = {
    # set name: (SynthVGS split, sex kept or None for all)
    "clean": {
        "train": ("train", None),
        "valid": ("valid", None),
        "test_A": ("test_A", None),
        "test_B": ("test_B", None),
        "test_C": ("test_C", None),
        "test_D": ("test_D", None),
    },
    "male_female": {
        "train": ("train", "m"),
        "valid": ("valid", "m"),
        "test_male": ("test_A", "m"),
        "test_female": ("test_A", "f"),
    },
}
# the set each test set's relative degradation is measured from
MATCHED_SET = {"clean": "test_A", "male_female": "test_male"}


def protocol_test_sets(protocol):
    """The test sets of a protocol.

    Example
    -------
    >>> protocol_test_sets("male_female")
    ['test_male', 'test_female']
    """
    return [name for name in PROTOCOLS[protocol] if name.startswith("test")]


def prepare_synthvgs_asr(data_folder, save_folder, protocol, skip_prep=False):
    """Writes the manifests of one protocol.

    Arguments
    ---------
    data_folder : str
        A built SynthVGS (English speech).
    save_folder : str
        Where the manifests go.
    protocol : str
        ``"clean"`` or ``"male_female"``.
    skip_prep : bool
        If True, only name the manifests.

    Returns
    -------
    dict
        ``{set name: manifest path}``.

    Raises
    ------
    DataError
        If ``speakers.json`` lacks a speaker's sex (a SynthVGS built
        before the field existed: rebuild it) or a manifest names an
        unknown speaker.

    Example
    -------
    >>> from speechbrain_vgs.dataio.synthvgs.speech import make_speakers
    >>> tmp = getfixture("tmpdir")
    >>> speakers = {s["id"]: s for split in ("train", "valid", "test")
    ...             for s in make_speakers("en", split, 0)}
    >>> write_json(tmp / "speakers.json", speakers)
    >>> ids = {"train": "en_espeak_en-gb_m1_r170_p48",
    ...        "valid": "en_espeak_en-029_f3_r168_p30",
    ...        "test_A": "en_flite_slt_x0.92"}
    >>> for split, speaker in ids.items():
    ...     write_json(tmp / "manifests" / "en" / f"{split}.json",
    ...                {split: {"wav": "{data_root}/a.wav", "duration": 1.0,
    ...                         "speaker": speaker, "phones": "a"}})
    >>> paths = prepare_synthvgs_asr(tmp, tmp / "asr", "male_female")
    >>> [len(read_json(paths[name])) for name in paths]
    [1, 0, 0, 1]
    """
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}"
        )
    sets = PROTOCOLS[protocol]
    paths = {name: os.path.join(save_folder, f"{name}.json") for name in sets}
    options = {
        "data_folder": os.path.abspath(data_folder),
        "protocol": protocol,
    }
    options_file = os.path.join(save_folder, "asr_options.json")
    if skip_prep or outputs_ready(list(paths.values()), options, options_file):
        return paths
    speakers_file = os.path.join(data_folder, "speakers.json")
    speakers = read_json(speakers_file)
    for name, (split, sex) in sets.items():
        manifest_file = os.path.join(
            data_folder, "manifests", LANG, f"{split}.json"
        )
        manifest = load_manifest(manifest_file, ("wav", "duration", "speaker"))
        kept, left_out = {}, 0
        for utt_id, entry in manifest.items():
            speaker = speakers.get(entry["speaker"])
            if speaker is None:
                raise DataError(
                    f"{manifest_file}: {utt_id!r} has speaker "
                    f"{entry['speaker']!r}, who is not in {speakers_file}"
                )
            if "sex" not in speaker:
                raise DataError(
                    f"{speakers_file}: speaker {entry['speaker']!r} has no "
                    "'sex' (built by an older version): rebuild SynthVGS"
                )
            if sex is None or speaker["sex"] == sex:
                kept[utt_id] = {**entry, "sex": speaker["sex"]}
            else:
                left_out += 1
        if sex is not None:
            logger.info(
                "%s: %d utterances of %d %s speakers kept from %s, %d of "
                "other or unknown sex left out",
                name,
                len(kept),
                len({e["speaker"] for e in kept.values()}),
                sex,
                split,
                left_out,
            )
        write_json(paths[name], kept)
    write_json(options_file, options)
    return paths
