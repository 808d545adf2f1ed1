"""A miniature Aurora-4 corpus (16 kHz) and the WSJ0 transcripts it needs,
laid out as Kaldi's ``egs/aurora4/s5/local/aurora4_data_prep.sh`` reads
them, for the preparer tests.

- ``aurora4/lists/``: ``training_clean_sennh_16k.list``,
  ``training_multicondition_16k.list``, ``test<NN>_0330_16k.list`` and
  ``devtest<NN>_0330_16k.list`` (NN = 01..14), one path relative to the
  corpus root per line (``;`` lines are comments).
- The audio: headerless 16-bit signed big-endian PCM at 16 kHz, named
  ``<utterance id>.wv1`` (primary microphone) or ``.wv2`` (secondary), in
  ``train_clean/``, ``train_multi/``, ``test_<noise>_wv<n>/`` and (under
  Kaldi's dev prefix) ``dev<noise>_wv<n>/dev_<noise>_wv<n>/``, each with
  ``<speaker>_16k/`` folders. These folder names are an assumption (the
  preparer goes by the lists, not by folder names); the list names, the
  file names, the audio format and the dev prefix are Kaldi's.
- ``wsj0/``: WSJ0 ``.dot`` transcript files ``<6 characters>00.dot`` with
  ``<transcript> (<utterance id>)`` lines, in WSJ0-like folders (one of
  them twice, as identical copies).

The miniature has the same utterances in every test set (as the real one,
where each set holds the same 330 sentences), 3 in the odd sets and 2 in
the even ones.
"""

import numpy as np
import soundfile

RATE = 16000
# set -> (noise, microphone number), written here independently of the
# preparer: 01 clean, 02-07 six noises, primary microphone; 08 clean,
# 09-14 the same noises, secondary microphone
NOISE_ORDER = ("car", "babble", "restaurant", "street", "airport", "train")
AURORA4_SETS = {
    "01": ("clean", "1"),
    "02": ("car", "1"),
    "03": ("babble", "1"),
    "04": ("restaurant", "1"),
    "05": ("street", "1"),
    "06": ("airport", "1"),
    "07": ("train", "1"),
    "08": ("clean", "2"),
    "09": ("car", "2"),
    "10": ("babble", "2"),
    "11": ("restaurant", "2"),
    "12": ("street", "2"),
    "13": ("airport", "2"),
    "14": ("train", "2"),
}

# utterance -> (transcript as in the .dot file, normalised as Kaldi does)
TRANSCRIPTS = {
    # SI-84 training
    "011c0201": (
        "Stock prices rose sharply [loud_breath] in heavy trading .",
        "STOCK PRICES ROSE SHARPLY <NOISE> IN HEAVY TRADING",
    ),
    "011c0202": (
        "The company's profit fell ten %percent",
        "THE COMPANY'S PROFIT FELL TEN PERCENT",
    ),
    "01ac0203": (
        "I\\. B\\. M\\. said <and> it will ~",
        "I. B. M. SAID AND IT WILL",
    ),
    "408o0302": (
        "Bonds were mixed [<door_slam] today",
        "BONDS WERE MIXED TODAY",
    ),
    # eval92
    "440c0201": (
        "--dash yields fell [phone_ring/] two .point five points [/phone_ring]",
        "-DASH YIELDS FELL TWO POINT FIVE POINTS",
    ),
    "440c0202": (
        "Analysts expect [door_slam>] more gains",
        "ANALYSTS EXPECT MORE GAINS",
    ),
    "441c0203": (
        "The Market is calm [tongue_click] said one trader",
        "THE MARKET IS CALM <NOISE> SAID ONE TRADER",
    ),
    # dev (si_dt_05)
    "050c0101": ("Gold prices edged higher", "GOLD PRICES EDGED HIGHER"),
    "051c0102": (
        "Trading was light \\. [lip_smack]",
        "TRADING WAS LIGHT <NOISE>",
    ),
}
# in a .dot file but in no list
UNLISTED_TRANSCRIPT = ("011c0203", "Nothing lists this one")

TRAIN_CLEAN = ["011c0201", "011c0202", "01ac0203", "408o0302"]
# (utterance, microphone); 408o0302 is listed twice, as in the real list
# that Kaldi fixes by dropping 408o0302.wv2
TRAIN_MULTI = [
    ("011c0201", "2"),
    ("011c0202", "1"),
    ("01ac0203", "1"),
    ("408o0302", "1"),
    ("408o0302", "2"),
]
TEST_UTTERANCES = ["440c0201", "440c0202", "441c0203"]
DEV_UTTERANCES = ["050c0101", "051c0102"]
DOT_FOLDERS = {
    "011": "11-4.1/wsj0/transcrp/dots/si_tr_s/011",
    "01a": "11-4.1/wsj0/transcrp/dots/si_tr_s/01a",
    "408": "11-4.1/wsj0/transcrp/dots/si_tr_s/408",
    "440": "11-4.1/wsj0/transcrp/dots/si_et_05/440",
    "441": "11-4.1/wsj0/transcrp/dots/si_et_05/441",
    "050": "11-4.1/wsj0/transcrp/dots/si_dt_05/050",
    "051": "11-4.1/wsj0/transcrp/dots/si_dt_05/051",
}
DOT_COPY = "11-14.1/wsj0/si_et_05/440"  # a second copy of 440c0200.dot


def set_utterances(test_set):
    """The utterances of a miniature test set: 3 in odd sets, 2 in even."""
    return TEST_UTTERANCES[: 3 if int(test_set) % 2 else 2]


def write_aurora4(root, dev_layout="kaldi", sphere=False):
    """Writes a miniature Aurora-4 corpus and WSJ0 transcripts under
    ``root`` (see the module docstring).

    Arguments
    ---------
    root : pathlib.Path
        An existing folder; gets ``aurora4/`` and ``wsj0/``.
    dev_layout : str
        ``"kaldi"``: dev files under Kaldi's prefix folder
        (``devclean_wv1/dev_clean_wv1/...`` for the listed
        ``dev_clean_wv1/...``); ``"listed"``: where the dev lists say.
    sphere : bool
        Whether set 01's ``440c0201.wv1`` is a NIST SPHERE (PCM) file
        instead of headerless big-endian PCM.

    Returns
    -------
    dict
        ``data_folder``, ``wsj0_folder`` (paths), ``lists`` (``{list
        name: path}``), ``dots`` (``{utterance: .dot path}``) and
        ``manifests``: ``{manifest name: {utterance id: info}}`` for
        ``train_clean``, ``train_multi``, ``valid`` and ``test_01`` ...
        ``test_14``, info being ``{"source": path relative to the corpus
        root, "samples", "speaker", "text", "microphone", "noise"
        (test/dev sets and clean training), "test_set" (test/dev sets)}``.
    """
    data = root / "aurora4"
    wsj0 = root / "wsj0"
    (data / "lists").mkdir(parents=True)
    counter = iter(range(1000))
    manifests, lists = {}, {}

    def audio(path, speaker, utt, info, as_sphere=False):
        number = next(counter)
        samples = 3200 + 64 * number  # 0.2 to 0.5 s, all different
        values = np.random.default_rng(number).integers(
            -3000, 3000, samples, dtype=np.int16
        )
        target = data / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if as_sphere:
            soundfile.write(
                str(target), values, RATE, format="NIST", subtype="PCM_16"
            )
        else:
            values.astype(">i2").tofile(str(target))
        return {
            "source": path,
            "samples": samples,
            "speaker": speaker,
            "text": TRANSCRIPTS[utt][1],
            **info,
        }

    def write_list(name, lines, comment=None):
        path = data / "lists" / name
        header = [comment] if comment else []
        path.write_text("\n".join(header + lines) + "\n")
        lists[name] = path

    clean, lines = {}, []
    for utt in TRAIN_CLEAN:
        path = f"train_clean/{utt[:3]}_16k/{utt}.wv1"
        clean[f"{utt}_clean"] = audio(
            path, utt[:3], utt, {"microphone": "primary", "noise": "clean"}
        )
        lines.append(path)
    write_list(
        "training_clean_sennh_16k.list",
        lines,
        ";; SI-84 clean training, Sennheiser microphone",
    )
    manifests["train_clean"] = clean

    multi, lines = {}, []
    for utt, mic in TRAIN_MULTI:
        path = f"train_multi/{utt[:3]}_16k/{utt}.wv{mic}"
        info = audio(
            path,
            utt[:3],
            utt,
            {"microphone": "primary" if mic == "1" else "secondary"},
        )
        if not (utt == "408o0302" and mic == "2"):
            multi[f"{utt}_multi"] = info
        lines.append(path)
    write_list("training_multicondition_16k.list", lines)
    manifests["train_multi"] = multi

    manifests["valid"] = {}
    for test_set, (noise, mic) in AURORA4_SETS.items():
        condition = f"{noise}_wv{mic}"
        info = {
            "microphone": "primary" if mic == "1" else "secondary",
            "noise": noise,
            "test_set": test_set,
        }
        test, lines = {}, []
        for utt in set_utterances(test_set):
            path = f"test_{condition}/{utt[:3]}_16k/{utt}.wv{mic}"
            as_sphere = sphere and test_set == "01" and utt == "440c0201"
            test[f"{utt}_{test_set}"] = audio(
                path, utt[:3], utt, info, as_sphere
            )
            lines.append(path)
        write_list(f"test{test_set}_0330_16k.list", lines)
        manifests[f"test_{test_set}"] = test
        lines = []
        for utt in DEV_UTTERANCES:
            listed = f"dev_{condition}/{utt[:3]}_16k/{utt}.wv{mic}"
            path = listed
            if dev_layout == "kaldi":
                path = f"dev{noise}_wv{mic}/{listed}"
            manifests["valid"][f"{utt}_{test_set}"] = audio(
                path, utt[:3], utt, info
            )
            lines.append(listed)
        write_list(f"devtest{test_set}_0330_16k.list", lines)

    dots = {}
    by_file = {}
    for utt, (text, _) in TRANSCRIPTS.items():
        by_file.setdefault(utt[:6], []).append((utt, text))
    by_file["011c02"].append(UNLISTED_TRANSCRIPT)
    for key, lines in by_file.items():
        folder = wsj0 / DOT_FOLDERS[key[:3]]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}00.dot"
        path.write_text("".join(f"{text} ({utt})\n" for utt, text in lines))
        for utt, _ in lines:
            dots[utt] = path
    copy = wsj0 / DOT_COPY
    copy.mkdir(parents=True)
    (copy / "440c0200.dot").write_text(dots["440c0201"].read_text())
    return {
        "data_folder": data,
        "wsj0_folder": wsj0,
        "lists": lists,
        "dots": dots,
        "manifests": manifests,
    }
