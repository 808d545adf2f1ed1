"""Tests of the TIMIT preparer on miniature trees laid out exactly like the
LDC distribution (upper case, NIST SPHERE), the common lower-case RIFF
copy, and Kaggle's copy with RIFF ``X.WAV.wav`` next to each ``X.WAV``."""

import os

import numpy as np
import pytest
import soundfile
from miniature_timit import RATE, SPEAKERS, UNLISTED_SPEAKER, write_timit
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.manifest import ASR_KEYS, DataError, read_json
from speechbrain_vgs.dataio.timit import (
    CORE_TEST_SPEAKERS,
    DEV_SPEAKERS,
    FOLD_61_TO_39,
    PHONES_61,
    fold_phones,
    prepare_timit,
    read_phn,
)

MANIFESTS = (
    "train",
    "valid",
    "test",
    "train_male",
    "valid_male",
    "test_male",
    "test_female",
)


def timit(tmp_path, name="timit", **kwargs):
    data = tmp_path / name
    data.mkdir()
    return data, write_timit(data, **kwargs)


def manifests(save):
    return {name: read_json(save / f"{name}.json") for name in MANIFESTS}


def check_manifests(data, save, expected, phone_set=39):
    found = manifests(save)
    for name in MANIFESTS:
        assert set(found[name]) == set(expected[name]), name
        for utt_id, entry in found[name].items():
            info = expected[name][utt_id]
            assert set(ASR_KEYS) <= set(entry)
            assert entry["wav"] == "{data_root}/" + info["wav"]
            assert os.path.isfile(data / info["wav"])
            assert entry["duration"] == pytest.approx(info["samples"] / RATE)
            assert entry["speaker"] == info["speaker"]
            assert entry["sex"] == info["sex"]
            assert entry["dialect"] == info["dialect"]
            assert entry["phones"] == info[f"phones{phone_set}"]
            escaped = info["text"].replace("{", "{{").replace("}", "}}")
            assert entry["text"] == escaped
    return found


def without_wav(found):
    return {
        name: {
            utt_id: {k: v for k, v in entry.items() if k != "wav"}
            for utt_id, entry in manifest.items()
        }
        for name, manifest in found.items()
    }


def test_ldc_tree(tmp_path, caplog):
    caplog.set_level("INFO")
    data, expected = timit(tmp_path)
    save = tmp_path / "save"
    paths = prepare_timit(data, save)
    assert paths == {name: str(save / f"{name}.json") for name in MANIFESTS}
    found = check_manifests(data, save, expected)
    assert [len(found[n]) for n in ("train", "valid", "test")] == [10, 8, 10]
    # SA1/SA2 of the 11 speakers in a manifest (the unlisted one is not read)
    assert "Left out 22 SA1/SA2 dialect sentences" in caplog.text
    assert "1 speaker folders of TEST are neither" in caplog.text
    for manifest in found.values():
        assert not any(u.endswith(("_SA1", "_SA2")) for u in manifest)
        assert UNLISTED_SPEAKER not in {e["speaker"] for e in manifest.values()}
    wav = found["test"]["MDAB0_SI1056"]["wav"]
    assert wav == "{data_root}/TEST/DR1/MDAB0/SI1056.WAV"
    assert soundfile.info(str(data / wav[12:])).format == "NIST"
    # SpeechBrain fills {data_root} and gives the braces back
    dataset = DynamicItemDataset.from_json(
        save / "train.json", {"data_root": str(data)}
    )
    for utt_id, entry in dataset.data.items():
        assert os.path.isfile(entry["wav"])
        assert entry["text"] == expected["train"][utt_id]["text"]
    assert any("{now}" in e["text"] for e in dataset.data.values())


def test_dev_and_core_test_speakers(tmp_path):
    data, _ = timit(tmp_path)
    prepare_timit(data, tmp_path / "save")
    found = manifests(tmp_path / "save")
    tree = {speaker for _, _, speaker, _ in SPEAKERS}
    valid = {e["speaker"] for e in found["valid"].values()}
    test = {e["speaker"] for e in found["test"].values()}
    assert valid == tree & DEV_SPEAKERS == {"FAKS0", "MJSW0", "MGWT0"}
    assert test == tree & CORE_TEST_SPEAKERS
    assert test == {"FELC0", "MDAB0", "FPAS0", "MTAS1"}
    train = {e["speaker"] for e in found["train"].values()}
    assert train == {"FCJF0", "MCPM0", "FAEM0", "MARC0"}
    # the published lists: 50 and 24 speakers, disjoint; the core test
    # set has 2 male and 1 female speaker of each of the 8 regions
    assert len(DEV_SPEAKERS) == 50 and len(CORE_TEST_SPEAKERS) == 24
    assert not DEV_SPEAKERS & CORE_TEST_SPEAKERS
    assert sum(s[0] == "M" for s in CORE_TEST_SPEAKERS) == 16
    assert sum(s[0] == "M" for s in DEV_SPEAKERS) == 32


def test_sex_split(tmp_path):
    data, _ = timit(tmp_path)
    prepare_timit(data, tmp_path / "save")
    found = manifests(tmp_path / "save")
    for name, sex in [
        ("train_male", "m"),
        ("valid_male", "m"),
        ("test_male", "m"),
        ("test_female", "f"),
    ]:
        assert found[name]
        speakers = {e["speaker"] for e in found[name].values()}
        assert {e["sex"] for e in found[name].values()} == {sex}
        assert all(s[0].lower() == sex for s in speakers)
    assert set(found["test_male"]) | set(found["test_female"]) == set(
        found["test"]
    )
    for split in ("train", "valid"):
        male = {u for u, e in found[split].items() if e["sex"] == "m"}
        assert set(found[f"{split}_male"]) == male
        assert male != set(found[split])  # the split has women too


def test_lowercase_riff_copy_gives_the_same_manifests(tmp_path):
    upper, expected_upper = timit(tmp_path, "upper")
    lower, expected_lower = timit(tmp_path, "lower", lowercase=True, riff=True)
    prepare_timit(upper, tmp_path / "save_upper")
    prepare_timit(lower, tmp_path / "save_lower")
    found_upper = check_manifests(
        upper, tmp_path / "save_upper", expected_upper
    )
    found_lower = check_manifests(
        lower, tmp_path / "save_lower", expected_lower
    )
    assert without_wav(found_upper) == without_wav(found_lower)
    wav = found_lower["valid"]["MGWT0_SI1042"]["wav"]
    assert wav == "{data_root}/test/dr2/mgwt0/si1042.wav"
    assert soundfile.info(str(lower / wav[12:])).format == "WAV"


def test_riff_copies_are_no_extra_utterances(tmp_path):
    data, expected = timit(tmp_path, riff_copies=True)
    assert (data / "TRAIN/DR1/FCJF0/SI1000.WAV.wav").is_file()
    save = tmp_path / "save"
    prepare_timit(data, save)
    found = check_manifests(data, save, expected)  # the SPHERE X.WAV
    assert all(
        e["wav"].endswith(".WAV") for m in found.values() for e in m.values()
    )
    # a RIFF copy alone stands for its utterance
    os.remove(data / "TRAIN/DR1/FCJF0/SI1000.WAV")
    prepare_timit(data, tmp_path / "save2")
    entry = read_json(tmp_path / "save2" / "train.json")["FCJF0_SI1000"]
    assert entry["wav"] == "{data_root}/TRAIN/DR1/FCJF0/SI1000.WAV.wav"
    assert entry["duration"] == pytest.approx(
        expected["train"]["FCJF0_SI1000"]["samples"] / RATE
    )
    assert len(read_json(tmp_path / "save2" / "train.json")) == 10


def test_hand_written_phn_folding(tmp_path):
    data, _ = timit(tmp_path)
    phn = data / "TEST/DR2/FPAS0/SX55.PHN"
    phn.write_text(
        "0 1200 h#\n1200 1500 q\n1500 1900 ix\n1900 2100 tcl\n2100 2300 t\n"
        "2300 2500 ax-h\n2500 2600 pau\n2600 2700 pcl\n2700 2800 p\n"
        "2800 3000 zh\n3000 3100 hv\n3100 3200 nx\n3200 3300 eng\n"
        "3300 3400 axr\n3400 3500 ux\n3500 3600 em\n3600 3700 ao\n"
        "3700 3800 el\n3800 3900 epi\n3900 4000 h#\n"
    )
    prepare_timit(data, tmp_path / "save")
    entry = read_json(tmp_path / "save" / "test.json")["FPAS0_SX55"]
    assert entry["phones"] == (
        "sil ih sil t ah sil sil p sh hh n ng er uw m aa l sil sil"
    )
    prepare_timit(data, tmp_path / "save61", phone_set=61)
    entry = read_json(tmp_path / "save61" / "test_female.json")["FPAS0_SX55"]
    assert entry["phones"] == " ".join(
        line.split()[2] for line in phn.read_text().splitlines()
    )
    assert read_phn(phn)[:3] == ["h#", "q", "ix"]


def test_phone_inventories():
    assert len(set(PHONES_61)) == len(PHONES_61) == 61
    assert set(FOLD_61_TO_39) == set(PHONES_61)
    folded = {p for p in FOLD_61_TO_39.values() if p is not None}
    assert len(folded) == 39 and "sil" in folded
    assert folded <= set(PHONES_61) | {"sil"}
    assert FOLD_61_TO_39["q"] is None
    closures = ["bcl", "dcl", "gcl", "pcl", "tcl", "kcl", "h#", "pau", "epi"]
    assert set(fold_phones(closures)) == {"sil"}
    assert fold_phones(["q"]) == []
    assert fold_phones(["pcl", "h#"]) == ["sil", "sil"]  # not merged


def test_phone_set_61(tmp_path):
    data, expected = timit(tmp_path)
    prepare_timit(data, tmp_path / "save", phone_set=61)
    found = check_manifests(data, tmp_path / "save", expected, phone_set=61)
    phones = {
        p
        for m in found.values()
        for e in m.values()
        for p in e["phones"].split()
    }
    assert {"q", "ix", "h#", "tcl"} <= phones and "sil" not in phones
    with pytest.raises(ValueError, match="phone_set must be 39 or 61"):
        prepare_timit(data, tmp_path / "save", phone_set=48)


def test_idempotent(tmp_path):
    data, _ = timit(tmp_path)
    save = tmp_path / "save"
    prepare_timit(data, save)
    paths = [save / f"{name}.json" for name in MANIFESTS]
    for path in paths:
        os.utime(path, (0, 0))
    prepare_timit(data, save)
    assert all(path.stat().st_mtime == 0 for path in paths)
    prepare_timit(data, save, phone_set=61)
    assert all(path.stat().st_mtime > 0 for path in paths)
    assert read_json(save / "timit_options.json")["phone_set"] == 61


def test_skip_prep(tmp_path):
    paths = prepare_timit(tmp_path, tmp_path / "save", skip_prep=True)
    assert paths["test_female"] == str(tmp_path / "save" / "test_female.json")
    assert not (tmp_path / "save").exists()


def replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "number, line, message",
    [
        (3, "1200 2400", "expected '<start> <end> <phone>', got '1200 2400'"),
        (2, "1200 2400 iy extra", "expected '<start> <end> <phone>'"),
        (4, "a 2400 iy", "expected '<start> <end> <phone>'"),
        (2, "2400 1200 iy", "expected '<start> <end> <phone>'"),
        (5, "1200 2400 xx", "unknown phone 'xx'"),
    ],
)
def test_malformed_phn(tmp_path, number, line, message):
    data, _ = timit(tmp_path)
    phn = data / "TRAIN/DR2/MARC0/SX25.PHN"
    replace_line(phn, number, line)
    with pytest.raises(DataError) as error:
        prepare_timit(data, tmp_path / "save")
    assert f"{phn}:{number}: {message}" in str(error.value)
    assert not (tmp_path / "save" / "timit_options.json").exists()


def test_malformed_txt(tmp_path):
    data, _ = timit(tmp_path)
    txt = data / "TEST/DR1/FAKS0/SI1028.TXT"
    txt.write_text("0 sentence without its end sample\n")
    with pytest.raises(DataError, match=f"{txt}:1: expected '<start> <end>"):
        prepare_timit(data, tmp_path / "save")


def test_missing_train_folder(tmp_path):
    data, _ = timit(tmp_path)
    (data / "TRAIN").rename(data / "TRAINING")
    with pytest.raises(
        DataError,
        match=f"{data}: not a TIMIT folder: expected the folders TRAIN and "
        "TEST .* found no TRAIN/train",
    ):
        prepare_timit(data, tmp_path / "save")


def test_parent_folder_hint(tmp_path):
    data, _ = timit(tmp_path)
    with pytest.raises(DataError, match=f"is {data} the root"):
        prepare_timit(tmp_path, tmp_path / "save")


def test_wav_without_phn(tmp_path):
    data, _ = timit(tmp_path)
    os.remove(data / "TEST/DR2/MTAS1/SX60.PHN")
    wav = data / "TEST/DR2/MTAS1/SX60.WAV"
    with pytest.raises(DataError, match=f"{wav}: no .PHN file next to it"):
        prepare_timit(data, tmp_path / "save")


def test_phn_without_wav(tmp_path):
    data, _ = timit(tmp_path)
    os.remove(data / "TRAIN/DR1/MCPM0/SI1007.WAV")
    with pytest.raises(DataError, match="MCPM0/SI1007.PHN: no audio file"):
        prepare_timit(data, tmp_path / "save")


def test_unreadable_wav(tmp_path):
    data, _ = timit(tmp_path)
    wav = data / "TEST/DR1/FELC0/SX45.WAV"
    wav.write_bytes(b"NIST_1A\n   1024\nnot a header")
    with pytest.raises(DataError, match=f"{wav}: cannot read audio"):
        prepare_timit(data, tmp_path / "save")


def test_two_copies_of_a_file(tmp_path):
    data, _ = timit(tmp_path)
    folder = data / "TRAIN/DR1/FCJF0"
    (folder / "si1000.wav").write_bytes((folder / "SI1000.WAV").read_bytes())
    with pytest.raises(DataError, match="two copies of one file"):
        prepare_timit(data, tmp_path / "save")


def test_bad_speaker_folder(tmp_path):
    data, _ = timit(tmp_path)
    (data / "TRAIN/DR1/XCJF0").mkdir()
    with pytest.raises(DataError, match="XCJF0: expected speaker folders"):
        prepare_timit(data, tmp_path / "save")


def test_stray_files_are_reported(tmp_path, caplog):
    data, expected = timit(tmp_path)
    (data / "TRAIN/DR1/FCJF0/notes.txt").write_text("x")
    soundfile.write(
        str(data / "TRAIN/DR1/FCJF0/SI1000_copy.wav"), np.zeros(160), RATE
    )
    prepare_timit(data, tmp_path / "save")
    check_manifests(data, tmp_path / "save", expected)
    assert "Left out 2 files that are no TIMIT utterance file" in caplog.text
