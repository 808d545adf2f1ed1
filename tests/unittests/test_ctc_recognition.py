"""The CTC recogniser and CTCBrain: padding-exact, error rates equal to
an independent edit distance, characters spell words, fine-tuned features
get their own learning rate, and a recogniser really learns."""

import numpy as np
import pytest
import soundfile
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.encoder import CTCTextEncoder
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.train_logger import FileTrainLogger

from speechbrain_vgs.brains import CTCBrain, HparamsError
from speechbrain_vgs.dataio.asr import asr_datasets
from speechbrain_vgs.dataio.manifest import DataError, write_json
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.ctc import CTCRecognizer
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.grounded import (
    Filterbank,
    GroundedFeatures,
    export_speech_encoder,
)


def levenshtein(a, b):
    """Edit distance, written out (the peer of ErrorRateStats)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (x != y)),
            )
    return row[-1]


def test_recognizer_is_padding_exact():
    torch.manual_seed(0)
    model = CTCRecognizer(6, 5, stack=3, hidden_size=8).eval()
    long, short = torch.randn(1, 30, 6), torch.randn(1, 17, 6)
    batch = torch.cat([long, torch.nn.functional.pad(short, (0, 0, 0, 13))])
    batch[1, 17:] = 100.0  # whatever the padding holds
    log_probs, lens = model(batch, torch.tensor([1.0, 17 / 30]))
    alone, _ = model(short, torch.ones(1))
    frames = round(float(lens[1]) * log_probs.shape[1])
    assert frames == alone.shape[1] == 6
    torch.testing.assert_close(log_probs[1, :frames], alone[0])


def make_encoder(tokens):
    encoder = CTCTextEncoder()
    encoder.update_from_iterable([tokens], sequence_input=True)
    encoder.insert_blank(index=0)
    return encoder


def make_brain(tmp_path, encoder, units, features=None, **hparams):
    return CTCBrain(
        modules={
            "features": features or Filterbank(),
            "normalize": InputNormalization(),
            "recognizer": CTCRecognizer(40, 8, hidden_size=8),
        },
        opt_class=lambda params: torch.optim.Adam(params, lr=0.01),
        hparams={
            "train_logger": FileTrainLogger(tmp_path / "log.txt"),
            "results_file": tmp_path / "results.json",
            "label_encoder": encoder,
            "blank_index": 0,
            "units": units,
            **hparams,
        },
        run_opts={"device": "cpu"},
    )


def forced_predictions(encoder, sequences, frames=12):
    """Log-probabilities whose greedy decoding is ``sequences``."""
    log_probs = torch.full((len(sequences), frames, 8), -10.0)
    log_probs[:, :, 0] = 0.0  # blank everywhere ...
    for b, tokens in enumerate(sequences):
        for t, token in enumerate(tokens):  # ... but one token per 2 frames
            log_probs[b, 2 * t, 0] = -10.0
            log_probs[b, 2 * t, encoder.encode_label(token)] = 0.0
    return log_probs.log_softmax(-1), torch.ones(len(sequences))


def batch_of(encoder, targets):
    return PaddedBatch(
        [
            {
                "id": f"u{i}",
                "sig": torch.zeros(1600),
                "tokens_list": tokens,
                "tokens": encoder.encode_sequence_torch(tokens),
            }
            for i, tokens in enumerate(targets)
        ]
    )


def test_per_equals_edit_distance(tmp_path):
    encoder = make_encoder(["a", "b", "c", "d"])
    brain = make_brain(tmp_path, encoder, "phones")
    targets = [["a", "b", "c", "d"], ["b", "b", "a"], ["c"]]
    hypotheses = [["a", "c", "d"], ["b", "a", "b", "a"], ["d", "c"]]
    brain.on_stage_start(sb.Stage.TEST)
    predictions = forced_predictions(encoder, hypotheses)
    brain.compute_objectives(
        predictions, batch_of(encoder, targets), sb.Stage.TEST
    )
    stats = brain.evaluation_stats()
    errors = sum(levenshtein(h, t) for h, t in zip(hypotheses, targets))
    expected = 100.0 * errors / sum(len(t) for t in targets)
    assert stats["per"] == pytest.approx(expected)
    assert stats["error_rate"] == stats["per"]


def test_chars_give_cer_and_wer(tmp_path):
    encoder = make_encoder(list("abc "))
    brain = make_brain(tmp_path, encoder, "chars")
    targets = [list("ab c"), list("cab")]
    hypotheses = [list("ab a"), list("ca b")]
    brain.on_stage_start(sb.Stage.VALID)
    brain.compute_objectives(
        forced_predictions(encoder, hypotheses),
        batch_of(encoder, targets),
        sb.Stage.VALID,
    )
    stats = brain.evaluation_stats()
    char_errors = sum(levenshtein(h, t) for h, t in zip(hypotheses, targets))
    assert stats["cer"] == pytest.approx(100.0 * char_errors / 7)
    # words: "ab c" vs "ab a" (1 of 2), "cab" vs "ca b" (2 of 1)
    assert stats["wer"] == pytest.approx(100.0 * 3 / 3)


def test_too_few_outputs_and_bad_units_are_errors(tmp_path):
    with pytest.raises(HparamsError, match="raise num_tokens"):
        make_brain(tmp_path, make_encoder(list("abcdefghij")), "phones")
    with pytest.raises(ValueError, match="units"):
        make_brain(tmp_path, make_encoder(["a"]), "words")


def test_fine_tuned_features_have_their_own_learning_rate(tmp_path):
    encoder = ResDAVEnet(widths=(40, 8, 8, 8, 8), blocks=(1, 1, 1, 1))
    export_speech_encoder(tmp_path / "export", encoder.eval(), LogMel())
    features = GroundedFeatures(
        tmp_path / "export", layer="conv1", freeze=False
    )
    brain = make_brain(
        tmp_path, make_encoder(["a"]), "phones", features, features_lr=1e-5
    )
    brain.init_optimizers()
    groups = brain.optimizer.param_groups
    assert [g["lr"] for g in groups] == [0.01, 1e-5]
    feature_params = {id(p) for p in features.parameters()}
    assert {id(p) for p in groups[1]["params"]} == feature_params
    assert not feature_params & {id(p) for p in groups[0]["params"]}


def test_recognizer_learns_a_small_corpus(tmp_path):
    """Four utterances of tones, each tone a phone: after training, the
    phones are recognised (a broken loss, decoder or pipeline fails)."""
    rng = np.random.default_rng(0)
    tones = {"a": 300.0, "b": 900.0, "c": 2000.0}
    sequences = ["a b c", "c a", "b a c b", "c b"]
    manifest = {}
    for i, phones in enumerate(sequences):
        t = np.arange(2400) / 16000
        wav = np.concatenate(
            [np.sin(2 * np.pi * tones[p] * t) for p in phones.split()]
        )
        wav = 0.5 * wav + 0.01 * rng.standard_normal(len(wav))
        soundfile.write(tmp_path / f"u{i}.wav", wav, 16000)
        manifest[f"u{i}"] = {
            "wav": "{data_root}/" + f"u{i}.wav",
            "duration": len(wav) / 16000,
            "speaker": "s",
            "phones": phones,
        }
    write_json(tmp_path / "train.json", manifest)
    encoder = CTCTextEncoder()
    datasets = asr_datasets(
        {"train": tmp_path / "train.json"},
        {"data_root": str(tmp_path)},
        "phones",
        encoder,
        tmp_path,
    )
    torch.manual_seed(0)
    brain = make_brain(tmp_path, encoder, "phones")
    loader = sb.dataio.dataloader.make_dataloader(
        datasets["train"], batch_size=4
    )
    brain.on_fit_start()
    for _ in range(10):  # rounds of 20 updates, until it has learnt
        brain.modules.train()
        for _ in range(20):
            for batch in loader:
                brain.fit_batch(batch)
        brain.modules.eval()
        brain.on_stage_start(sb.Stage.TEST)
        with torch.no_grad():
            for batch in loader:
                predictions = brain.compute_forward(batch, sb.Stage.TEST)
                brain.compute_objectives(predictions, batch, sb.Stage.TEST)
        if brain.evaluation_stats()["per"] < 20.0:
            break
    assert brain.evaluation_stats()["per"] < 20.0


def test_empty_transcript_is_an_error(tmp_path):
    soundfile.write(tmp_path / "u.wav", np.zeros(1600), 16000)
    entry = {"wav": "{data_root}/u.wav", "duration": 0.1, "speaker": "s"}
    write_json(tmp_path / "train.json", {"u": {**entry, "phones": " "}})
    with pytest.raises(DataError, match="train.json: entry 'u' has an empty"):
        asr_datasets(
            {"train": tmp_path / "train.json"},
            {"data_root": str(tmp_path)},
            "phones",
            CTCTextEncoder(),
            tmp_path,
        )
