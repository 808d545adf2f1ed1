"""A tiny GroundingBrain (ResDAVEnet + small image CNN, InfoNCE) on a few
SynthVGS utterances, for the reliability tests that need a real Brain."""

import os

import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter
from speechbrain.utils.train_logger import FileTrainLogger

from speechbrain_vgs.brains import GroundingBrain
from speechbrain_vgs.dataio.manifest import read_json, write_json
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.lobes.audio import ResDAVEnet
from speechbrain_vgs.lobes.features import LogMel
from speechbrain_vgs.lobes.image import SmallImageEncoder
from speechbrain_vgs.losses import InfoNCE
from speechbrain_vgs.similarity import Similarity


def make_brain(folder, widths=(8, 8, 8, 8, 16), epochs=1, **run_opts):
    """A GroundingBrain whose checkpoints go to ``folder/save``."""
    torch.manual_seed(0)
    audio = ResDAVEnet(widths=widths, blocks=(1, 1, 1, 1))
    image = SmallImageEncoder(embedding_dim=widths[-1], channels=(8, 8, 16, 16))
    model = torch.nn.ModuleList([audio, image])
    counter = EpochCounter(epochs)
    checkpointer = Checkpointer(
        os.path.join(folder, "save"), {"model": model, "counter": counter}
    )
    return GroundingBrain(
        modules={
            "compute_features": LogMel(),
            "audio_encoder": audio,
            "image_encoder": image,
        },
        opt_class=lambda params: torch.optim.Adam(params, 1e-3),
        hparams={
            "similarity": Similarity("pooled"),
            "loss": InfoNCE(temperature=0.1),
            "train_logger": FileTrainLogger(os.path.join(folder, "log.txt")),
            "results_file": os.path.join(folder, "results.json"),
            "epoch_counter": counter,
        },
        run_opts={"device": "cpu", "noprogressbar": True, **run_opts},
        checkpointer=checkpointer,
    )


def small_manifest(corpus, path, count=8):
    """Writes the first ``count`` training utterances of a SynthVGS corpus
    as a manifest with absolute paths at ``path``; returns it."""
    manifest = read_json(os.path.join(corpus, "manifests", "en", "train.json"))
    entries = {}
    for utt_id in sorted(manifest)[:count]:
        entry = dict(manifest[utt_id])
        for key in ("wav", "image"):
            entry[key] = entry[key].format(data_root=corpus, image_root=corpus)
        entries[utt_id] = entry
    write_json(path, entries)
    return path


def train_set(manifest):
    """The dataset of a manifest, in its order (ascending duration)."""
    return vgs_datasets({"valid": manifest}, {}, image_size=32)["valid"]


def fit(brain, train, valid, batch_size=4):
    """Fits ``brain`` on the dataset ``train``, validating on ``valid``."""
    brain.fit(
        brain.hparams.epoch_counter,
        train,
        valid,
        train_loader_kwargs={"batch_size": batch_size},
        valid_loader_kwargs={"batch_size": batch_size},
    )
