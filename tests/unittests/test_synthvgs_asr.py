"""SynthVGS phone recognition protocols: voice sex in speakers.json, the
male-train / female-test sets hold what they say, the clean protocol
keeps every utterance."""

import json
import os
import re
import subprocess

import pytest

from speechbrain_vgs.dataio.manifest import DataError, read_json, write_json
from speechbrain_vgs.dataio.synthvgs.asr import (
    PROTOCOLS,
    prepare_synthvgs_asr,
    protocol_test_sets,
)
from speechbrain_vgs.dataio.synthvgs.speech import (
    ESPEAK_TIMBRES,
    FLITE_VOICES,
    VOICE_SEX,
    make_speakers,
)


def espeak_voice_sex(variant):
    """The sex an espeak-ng variant file declares ("gender" line), read
    from the installed espeak-ng data; None if it declares none."""
    version = subprocess.run(
        ["espeak-ng", "--version"], capture_output=True, text=True
    ).stdout
    data = re.search(r"Data at: (\S+)", version).group(1)
    with open(os.path.join(data, "voices", "!v", variant)) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "gender":
                return {"male": "m", "female": "f"}[fields[1].lower()]
    return None


def test_speakers_json_has_the_voice_sex(synthvgs_tiny):
    speakers = read_json(os.path.join(synthvgs_tiny, "speakers.json"))
    for speaker in speakers.values():
        timbre = speaker["variant"] or speaker["voice"]
        assert speaker["sex"] == VOICE_SEX.get(timbre)


@pytest.mark.parametrize(
    "timbre", sorted({t for ts in ESPEAK_TIMBRES.values() for t in ts})
)
def test_espeak_sex_is_the_variant_files_gender(timbre):
    """The table agrees with espeak-ng's own variant files."""
    assert VOICE_SEX.get(timbre) == espeak_voice_sex(timbre)


def test_every_split_has_both_sexes():
    for split in ("train", "valid", "test"):
        sexes = [s["sex"] for s in make_speakers("en", split, 0)]
        assert "m" in sexes and "f" in sexes
    assert all(VOICE_SEX[v] for vs in FLITE_VOICES.values() for v in vs)


def test_male_female_protocol(synthvgs_tiny, tmp_path):
    paths = prepare_synthvgs_asr(synthvgs_tiny, tmp_path, "male_female")
    assert list(paths) == list(PROTOCOLS["male_female"])
    speakers = read_json(os.path.join(synthvgs_tiny, "speakers.json"))
    wanted = {"train": "m", "valid": "m", "test_male": "m", "test_female": "f"}
    for name, sex in wanted.items():
        manifest = read_json(paths[name])
        assert manifest, name
        assert {speakers[e["speaker"]]["sex"] for e in manifest.values()} == {
            sex
        }
        assert all(e["phones"] and e["sex"] == sex for e in manifest.values())
    test_a = read_json(
        os.path.join(synthvgs_tiny, "manifests", "en", "test_A.json")
    )
    known = {u for u, e in test_a.items() if speakers[e["speaker"]]["sex"]}
    tested = set(read_json(paths["test_male"])) | set(
        read_json(paths["test_female"])
    )
    assert tested == known


def test_clean_protocol_keeps_every_utterance(synthvgs_tiny, tmp_path):
    paths = prepare_synthvgs_asr(synthvgs_tiny, tmp_path, "clean")
    assert protocol_test_sets("clean") == [
        "test_A",
        "test_B",
        "test_C",
        "test_D",
    ]
    for name in paths:
        source = os.path.join(synthvgs_tiny, "manifests", "en", f"{name}.json")
        assert set(read_json(paths[name])) == set(read_json(source))


def test_a_corpus_without_sex_is_an_error(synthvgs_tiny, tmp_path):
    corpus = tmp_path / "corpus"
    os.makedirs(corpus / "manifests" / "en")
    for split in ("train", "valid", "test_A"):
        source = os.path.join(synthvgs_tiny, "manifests", "en", f"{split}.json")
        write_json(
            corpus / "manifests" / "en" / f"{split}.json", read_json(source)
        )
    speakers = read_json(os.path.join(synthvgs_tiny, "speakers.json"))
    for speaker in speakers.values():
        del speaker["sex"]
    with open(corpus / "speakers.json", "w") as f:
        json.dump(speakers, f)
    with pytest.raises(DataError, match="has no 'sex'.*rebuild SynthVGS"):
        prepare_synthvgs_asr(corpus, tmp_path / "out", "male_female")
