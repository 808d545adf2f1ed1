#!/usr/bin/env python3
"""A plain SpeechBrain CTC phone recipe in the shape of SpeechBrain's own
``recipes/TIMIT/ASR/CTC`` (its own ``sb.Brain``, SpeechBrain's lobes,
losses and metrics; nothing of speechbrain_vgs but the features and the
TIMIT manifests), used by the tests to show that a grounding model's layer
drops into such a recipe from its yaml: ``compute_features`` is
``GroundedFeatures`` (or the filterbank), and the one line that differs
from SpeechBrain's recipe reads ``feats, wav_lens =
self.hparams.compute_features(wavs, wav_lens)``.

    python train.py hparams.yaml --data_folder /path/to/TIMIT

Authors
 * speechbrain-vgs developers 2026
"""

import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from speechbrain_vgs.dataio.timit import FOLD_61_TO_39, prepare_timit

PHONES_39 = sorted({p for p in FOLD_61_TO_39.values() if p is not None})


class PhoneBrain(sb.Brain):
    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        feats, wav_lens = self.hparams.compute_features(wavs, wav_lens)
        feats = self.modules.normalize(feats, wav_lens)
        out = self.modules.output(self.modules.model(feats)[0])
        return self.hparams.log_softmax(out), wav_lens

    def compute_objectives(self, predictions, batch, stage):
        pout, pout_lens = predictions
        phns, phn_lens = batch.phn_encoded
        loss = self.hparams.compute_cost(pout, phns, pout_lens, phn_lens)
        if stage != sb.Stage.TRAIN:
            sequence = sb.decoders.ctc_greedy_decode(
                pout, pout_lens, blank_id=self.hparams.blank_index
            )
            self.per_metrics.append(
                ids=batch.id,
                predict=sequence,
                target=phns,
                target_len=phn_lens,
                ind2lab=self.label_encoder.decode_ndim,
            )
        return loss

    def on_stage_start(self, stage, epoch):
        if stage != sb.Stage.TRAIN:
            self.per_metrics = self.hparams.per_stats()

    def on_stage_end(self, stage, stage_loss, epoch):
        if stage == sb.Stage.TRAIN:
            return
        per = self.per_metrics.summarize("error_rate")
        if stage == sb.Stage.VALID:
            self.checkpointer.save_and_keep_only(
                meta={"PER": per}, min_keys=["PER"]
            )
        else:
            with open(self.hparams.per_file, "w") as f:
                f.write(f"{per}\n")


def dataio_prep(hparams, manifests):
    datasets = {
        name: sb.dataio.dataset.DynamicItemDataset.from_json(
            json_path=manifests[name],
            replacements={"data_root": hparams["data_folder"]},
        ).filtered_sorted(sort_key="duration")
        for name in ("train", "valid", "test")
    }
    label_encoder = sb.dataio.encoder.CTCTextEncoder()

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return sb.dataio.dataio.read_audio(wav)

    @sb.utils.data_pipeline.takes("phones")
    @sb.utils.data_pipeline.provides("phn_list", "phn_encoded")
    def text_pipeline(phones):
        phn_list = phones.split()
        yield phn_list
        yield label_encoder.encode_sequence_torch(phn_list)

    sets = list(datasets.values())
    sb.dataio.dataset.add_dynamic_item(sets, audio_pipeline)
    sb.dataio.dataset.add_dynamic_item(sets, text_pipeline)
    label_encoder.load_or_create(
        path=os.path.join(hparams["save_folder"], "label_encoder.txt"),
        from_iterables=[PHONES_39],
        special_labels={"blank_label": hparams["blank_index"]},
    )
    sb.dataio.dataset.set_output_keys(sets, ["id", "sig", "phn_encoded"])
    return datasets, label_encoder


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    run_on_main(
        prepare_timit,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
        },
    )
    manifests = prepare_timit(
        hparams["data_folder"], hparams["save_folder"], skip_prep=True
    )
    datasets, label_encoder = dataio_prep(hparams, manifests)
    brain = PhoneBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.label_encoder = label_encoder
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["dataloader_opts"],
        valid_loader_kwargs=hparams["dataloader_opts"],
    )
    brain.evaluate(
        datasets["test"],
        min_key="PER",
        test_loader_kwargs=hparams["dataloader_opts"],
    )
