"""Tests of the Aurora-4 preparer on a miniature corpus laid out as Kaldi's
aurora4 recipe reads the real one (lists/, headerless big-endian .wv1/.wv2
audio, WSJ0 .dot transcripts)."""

import logging
import os

import numpy as np
import pytest
import soundfile
from miniature_aurora4 import (
    AURORA4_SETS,
    DEV_UTTERANCES,
    RATE,
    set_utterances,
    write_aurora4,
)

from speechbrain_vgs.dataio.aurora4 import prepare_aurora4
from speechbrain_vgs.dataio.manifest import (
    ASR_KEYS,
    DataError,
    load_manifest,
    read_json,
)
from speechbrain_vgs.dataio.pipelines import read_wav, speech_dataset

# written out here, not taken from the preparer
GROUP_SETS = {
    "A": ["01"],
    "B": ["02", "03", "04", "05", "06", "07"],
    "C": ["08"],
    "D": ["09", "10", "11", "12", "13", "14"],
}
# utterances per group: 3 in odd sets, 2 in even sets of the miniature
GROUP_SIZES = {"A": 3, "B": 15, "C": 2, "D": 15}
MANIFESTS = [
    "train_clean",
    "train_multi",
    "valid",
    *(f"test_{s:02d}" for s in range(1, 15)),
    "test_A",
    "test_B",
    "test_C",
    "test_D",
]


def prepare(corpus, save, **options):
    return prepare_aurora4(
        corpus["data_folder"],
        save,
        wsj0_folder=corpus["wsj0_folder"],
        **options,
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("aurora4")
    corpus = write_aurora4(root)
    save = root / "save"
    paths = prepare(corpus, save)
    return corpus, save, paths


@pytest.fixture
def corpus(tmp_path):
    return write_aurora4(tmp_path)


def wav_path(entry, save):
    return entry["wav"].format(data_root=str(save / "wavs"))


def raw_values(corpus, source):
    return np.fromfile(str(corpus["data_folder"] / source), dtype=">i2")


def test_manifest_names(prepared):
    _, save, paths = prepared
    assert sorted(paths) == sorted(MANIFESTS)
    for name, path in paths.items():
        assert path == os.path.join(save, f"{name}.json")
        load_manifest(path, ASR_KEYS)


@pytest.mark.parametrize("group", sorted(GROUP_SETS))
def test_groups(prepared, group):
    _, _, paths = prepared
    manifest = read_json(paths[f"test_{group}"])
    assert len(manifest) == GROUP_SIZES[group]
    assert set(manifest) == {
        f"{utt}_{test_set}"
        for test_set in GROUP_SETS[group]
        for utt in set_utterances(test_set)
    }
    for utt_id, entry in manifest.items():
        test_set = utt_id.rsplit("_", 1)[1]
        noise, mic = AURORA4_SETS[test_set]
        assert entry["condition"] == group
        assert entry["test_set"] == test_set
        assert entry["noise"] == noise
        assert entry["microphone"] == ("primary" if mic == "1" else "secondary")
        assert entry["source"].endswith(f".wv{mic}")


def test_test_sets(prepared):
    corpus, save, paths = prepared
    groups = {
        test_set: group
        for group, sets in GROUP_SETS.items()
        for test_set in sets
    }
    for test_set, (noise, _) in AURORA4_SETS.items():
        manifest = read_json(paths[f"test_{test_set}"])
        expected = corpus["manifests"][f"test_{test_set}"]
        assert set(manifest) == set(expected)
        assert len(manifest) == len(set_utterances(test_set))
        group = read_json(paths[f"test_{groups[test_set]}"])
        for utt_id, entry in manifest.items():
            assert entry == group[utt_id]
            assert entry["condition"] == groups[test_set]
            assert entry["test_set"] == test_set
            assert entry["noise"] == noise
            assert entry["source"] == expected[utt_id]["source"]
            assert entry["speaker"] == utt_id[:3]
            assert entry["duration"] == pytest.approx(
                expected[utt_id]["samples"] / RATE
            )
            assert os.path.isfile(wav_path(entry, save))


def test_transcripts(prepared):
    corpus, _, paths = prepared
    for name, expected in corpus["manifests"].items():
        manifest = read_json(paths[name])
        for utt_id, info in expected.items():
            assert manifest[utt_id]["text"] == info["text"], (name, utt_id)
    # noise markers, pauses, percent/point, dashes, backslashes, <word>
    clean = read_json(paths["train_clean"])
    assert (
        clean["011c0201_clean"]["text"]
        == "STOCK PRICES ROSE SHARPLY <NOISE> IN HEAVY TRADING"
    )
    assert clean["01ac0203_clean"]["text"] == "I. B. M. SAID AND IT WILL"
    assert clean["408o0302_clean"]["text"] == "BONDS WERE MIXED TODAY"
    test = read_json(paths["test_09"])
    assert (
        test["440c0201_09"]["text"] == "-DASH YIELDS FELL TWO POINT FIVE POINTS"
    )
    assert test["440c0202_09"]["text"] == "ANALYSTS EXPECT MORE GAINS"


@pytest.mark.parametrize("name", ["train_clean", "train_multi"])
def test_training(prepared, name):
    corpus, save, paths = prepared
    manifest = read_json(paths[name])
    expected = corpus["manifests"][name]
    kind = name.split("_")[1]
    assert set(manifest) == set(expected)
    for utt_id, entry in manifest.items():
        info = expected[utt_id]
        assert utt_id.endswith(f"_{kind}")
        assert entry["speaker"] == info["speaker"] == utt_id[:3]
        assert entry["condition"] == kind
        assert entry["microphone"] == info["microphone"]
        assert entry["source"] == info["source"]
        assert entry["duration"] == pytest.approx(info["samples"] / RATE)
        assert "test_set" not in entry
        if kind == "clean":
            assert entry["noise"] == "clean"
        else:
            assert "noise" not in entry
        wav = wav_path(entry, save)
        assert wav == str(save / "wavs" / (info["source"] + ".wav"))
        assert os.path.isfile(wav)
        # the big-endian samples come back as they were written
        values = raw_values(corpus, info["source"])
        assert read_wav(wav).numpy() == pytest.approx(values / 32768)


def test_multi_keeps_the_wv1_copy_of_408o0302(prepared):
    _, _, paths = prepared
    multi = read_json(paths["train_multi"])
    assert multi["408o0302_multi"]["source"].endswith("408o0302.wv1")
    assert not any(
        e["source"].endswith(".wv2") and "408o0302" in e["source"]
        for e in multi.values()
    )
    assert {e["speaker"] for e in multi.values()} == {"011", "01a", "408"}


def test_valid(prepared):
    corpus, save, paths = prepared
    valid = read_json(paths["valid"])
    assert len(valid) == 14 * len(DEV_UTTERANCES)
    assert set(valid) == {
        f"{utt}_{s}" for utt in DEV_UTTERANCES for s in AURORA4_SETS
    }
    for utt_id, entry in valid.items():
        test_set = utt_id.rsplit("_", 1)[1]
        noise, mic = AURORA4_SETS[test_set]
        group = next(g for g, sets in GROUP_SETS.items() if test_set in sets)
        assert entry["condition"] == group
        assert entry["test_set"] == test_set
        assert entry["noise"] == noise
        # found under Kaldi's prefix: devclean_wv1/dev_clean_wv1/...
        assert entry["source"].startswith(
            f"dev{noise}_wv{mic}/dev_{noise}_wv{mic}/"
        )
        assert entry["source"] == corpus["manifests"]["valid"][utt_id]["source"]
        assert os.path.isfile(wav_path(entry, save))


def test_valid_as_listed(tmp_path):
    corpus = write_aurora4(tmp_path, dev_layout="listed")
    paths = prepare(corpus, tmp_path / "save")
    valid = read_json(paths["valid"])
    assert valid["050c0101_03"]["source"] == (
        "dev_babble_wv1/050_16k/050c0101.wv1"
    )
    assert set(valid) == set(corpus["manifests"]["valid"])


def test_speech_dataset_reads_the_manifests(prepared):
    corpus, save, paths = prepared
    dataset = speech_dataset(
        [paths["test_A"], paths["train_clean"]],
        {"data_root": str(save / "wavs")},
    )
    expected = {
        **corpus["manifests"]["test_01"],
        **corpus["manifests"]["train_clean"],
    }
    assert len(dataset) == len(expected)
    for item in dataset:
        assert item["sig"].shape[0] == expected[item["id"]]["samples"]


def test_sphere_audio(tmp_path):
    corpus = write_aurora4(tmp_path, sphere=True)
    source = corpus["manifests"]["test_01"]["440c0201_01"]["source"]
    assert (corpus["data_folder"] / source).read_bytes().startswith(b"NIST")
    values, rate = soundfile.read(
        str(corpus["data_folder"] / source), dtype="int16"
    )
    assert rate == RATE
    save = tmp_path / "save"
    entry = read_json(prepare(corpus, save)["test_01"])["440c0201_01"]
    assert entry["duration"] == pytest.approx(len(values) / RATE)
    assert read_wav(wav_path(entry, save)).numpy() == pytest.approx(
        values / 32768
    )


def remove_line(path, containing):
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if containing not in line]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept))


def append_line(path, line):
    path.write_text(path.read_text() + line + "\n")


def test_missing_test_audio(corpus, tmp_path):
    source = corpus["manifests"]["test_05"]["440c0202_05"]["source"]
    os.remove(corpus["data_folder"] / source)
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    message = str(error.value)
    assert source in message and "missing audio file" in message
    assert "test05_0330_16k.list:2" in message


def test_missing_training_audio(corpus, tmp_path):
    source = corpus["manifests"]["train_multi"]["011c0202_multi"]["source"]
    os.remove(corpus["data_folder"] / source)
    with pytest.raises(DataError, match="training_multicondition_16k.list:2"):
        prepare(corpus, tmp_path / "save")


def test_missing_dev_audio(corpus, tmp_path):
    source = corpus["manifests"]["valid"]["051c0102_12"]["source"]
    os.remove(corpus["data_folder"] / source)
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    message = str(error.value)
    assert "devtest12_0330_16k.list:2" in message
    # both places looked at: under Kaldi's prefix and as listed
    assert source in message
    assert "aurora4/dev_street_wv2/051_16k/051c0102.wv2" in message


def test_utterance_without_transcript(corpus, tmp_path):
    dot = corpus["dots"]["440c0202"]
    remove_line(dot, "(440c0202)")
    copy = corpus["wsj0_folder"] / "11-14.1/wsj0/si_et_05/440/440c0200.dot"
    remove_line(copy, "(440c0202)")
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    message = str(error.value)
    assert "no transcript for 440c0202" in message
    assert "test01_0330_16k.list:2" in message
    assert str(dot) in message


def test_speaker_without_dot_file(corpus, tmp_path):
    os.remove(corpus["dots"]["051c0102"])
    with pytest.raises(
        DataError,
        match=r"devtest01_0330_16k.list:2: no "
        r"transcript for 051c0102: no 051c0100.dot",
    ):
        prepare(corpus, tmp_path / "save")


def test_disagreeing_dot_copies(corpus, tmp_path):
    copy = corpus["wsj0_folder"] / "11-14.1/wsj0/si_et_05/440/440c0200.dot"
    copy.write_text(copy.read_text().replace("more gains", "fewer gains"))
    with pytest.raises(DataError, match="transcript of 440c0202 differs"):
        prepare(corpus, tmp_path / "save")


def test_no_transcripts_at_all(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .dot transcript file"):
        prepare_aurora4(
            corpus["data_folder"], tmp_path / "save", tmp_path / "empty"
        )


@pytest.mark.parametrize(
    "line, message",
    [
        ("test_car_wv1/440_16k/440c0201.wav", "expected '<folders>/"),
        ("test_car_wv1/440_16k/440c201.wv1", "8-character utterance id"),
        ("../test_car_wv1/440_16k/441c0203.wv1", "expected '<folders>/"),
    ],
)
def test_malformed_list_line(corpus, tmp_path, line, message):
    append_line(corpus["lists"]["test02_0330_16k.list"], line)
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    assert "test02_0330_16k.list:3" in str(error.value)
    assert message in str(error.value)
    assert line in str(error.value)


def test_malformed_dot_line(corpus, tmp_path):
    dot = corpus["dots"]["050c0101"]
    append_line(dot, "A line without its utterance id")
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    assert f"{dot}:2" in str(error.value)
    assert "A line without its utterance id" in str(error.value)


def test_utterance_listed_twice(corpus, tmp_path):
    append_line(
        corpus["lists"]["test07_0330_16k.list"],
        "test_train_wv1/extra/440c0201.wv1",
    )
    with pytest.raises(
        DataError,
        match=r"test07_0330_16k.list:4: utterance "
        r"440c0201 is already listed at .*list:1",
    ):
        prepare(corpus, tmp_path / "save")


def test_folder_of_another_condition(corpus, tmp_path):
    path = corpus["lists"]["test03_0330_16k.list"]
    path.write_text(path.read_text().replace("babble", "street"))
    with pytest.raises(
        DataError,
        match=r"test03_0330_16k.list:1: the folder "
        r"'test_street_wv1' is condition street_wv1, but set "
        r"03 is babble_wv1",
    ):
        prepare(corpus, tmp_path / "save")


def test_secondary_microphone_in_a_primary_set(corpus, tmp_path):
    path = corpus["lists"]["test04_0330_16k.list"]
    append_line(path, "test_clean_wv2/441_16k/441c0203.wv2")
    with pytest.raises(
        DataError,
        match=r"test04_0330_16k.list:3: .* is a "
        r"\.wv2 file, but set 04 is primary-microphone",
    ):
        prepare(corpus, tmp_path / "save")


def test_missing_list(corpus, tmp_path):
    os.remove(corpus["lists"]["test14_0330_16k.list"])
    with pytest.raises(DataError, match=r"test14_0330_16k.list: file not"):
        prepare(corpus, tmp_path / "save")


def test_compressed_sphere(corpus, tmp_path):
    source = corpus["manifests"]["test_11"]["441c0203_11"]["source"]
    (corpus["data_folder"] / source).write_bytes(
        b"NIST_1A\n   1024\nsample_coding -s26 pcm,embedded-shorten-v2.00\n"
        b"end_head\n".ljust(1024, b" ")
        + b"\x01\x02" * 100
    )
    with pytest.raises(DataError) as error:
        prepare(corpus, tmp_path / "save")
    message = str(error.value)
    assert source in message and "sph2pipe" in message
    assert "test11_0330_16k.list:3" in message


def test_exclusion_is_logged(corpus, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="speechbrain_vgs"):
        prepare(corpus, tmp_path / "save")
    warnings = [r.getMessage() for r in caplog.records]
    assert any(
        "training_multicondition_16k.list:5" in m and "408o0302.wv2" in m
        for m in warnings
    )
    # without the exclusion the two copies of 408o0302 clash
    with pytest.raises(DataError, match="408o0302 is already listed"):
        prepare(corpus, tmp_path / "save2", excluded_files=())


def test_idempotent(corpus, tmp_path):
    save = tmp_path / "save"
    paths = prepare(corpus, save)
    outputs = [*paths.values(), save / "aurora4_options.json"]
    for path in outputs:
        os.utime(path, (1_000_000, 1_000_000))
    wav = wav_path(read_json(paths["test_A"])["440c0201_01"], save)
    wav_mtime = os.stat(wav).st_mtime_ns

    assert prepare(corpus, save) == paths
    assert all(os.stat(p).st_mtime == 1_000_000 for p in outputs)

    prepare(corpus, save, noise_word="<SPN>")
    assert all(os.stat(p).st_mtime != 1_000_000 for p in outputs)
    clean = read_json(paths["train_clean"])
    assert (
        clean["011c0201_clean"]["text"]
        == "STOCK PRICES ROSE SHARPLY <SPN> IN HEAVY TRADING"
    )
    assert os.stat(wav).st_mtime_ns == wav_mtime  # audio not converted again


def test_skip_prep(tmp_path):
    paths = prepare_aurora4(
        tmp_path / "none", tmp_path / "save", skip_prep=True
    )
    assert sorted(paths) == sorted(MANIFESTS)
    assert not (tmp_path / "save").exists()
