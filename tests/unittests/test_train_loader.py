"""Length-bucketed training batches (``train_loader_options``)."""

import random

from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.recipe import train_loader_options

BOUNDARIES = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.4]


def bucketed(durations, max_audio_seconds=None, epoch=0):
    dataset = DynamicItemDataset(
        {f"u{i}": {"duration": d} for i, d in enumerate(durations)}
    )
    hparams = {
        "dynamic_batching": True,
        "train_dataloader_opts": {
            "batch_size": 8,
            "shuffle": True,
            "drop_last": True,
            "num_workers": 0,
        },
        "dynamic_batch_sampler": {
            "max_batch_length": 48,
            "bucket_boundaries": BOUNDARIES,
            "max_batch_ex": 32,
            "shuffle": True,
            "batch_ordering": "random",
        },
    }
    if max_audio_seconds is not None:
        hparams["max_audio_seconds"] = max_audio_seconds
    options = train_loader_options(dataset, hparams)
    sampler = options["batch_sampler"]
    sampler.set_epoch(epoch)
    return options, [list(batch) for batch in sampler]


def test_every_utterance_once_within_the_limits():
    rng = random.Random(0)
    durations = [rng.uniform(0.5, 6.0) for _ in range(500)]
    options, batches = bucketed(durations)
    # the sampler replaces the fixed-size batching options
    assert set(options) == {"num_workers", "batch_sampler"}
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(len(durations)))
    for batch in batches:
        assert len(batch) <= 32
        longest = max(durations[i] for i in batch)
        upper = min(b for b in BOUNDARIES if longest <= b)
        assert len(batch) * upper <= 48


def test_batches_change_between_epochs():
    durations = [1.0 + (i % 40) / 10 for i in range(200)]
    _, first = bucketed(durations, epoch=0)
    _, second = bucketed(durations, epoch=1)
    assert first != second


def test_cropped_audio_counts_at_its_crop_length():
    # 10 s utterances cropped to 4 s share 4 s buckets (48 // 4 = 12 per
    # batch); uncropped they overflow the last boundary: one per batch
    durations = [10.0] * 24
    _, cropped = bucketed(durations, max_audio_seconds=4.0)
    assert sorted(len(b) for b in cropped) == [12, 12]
    _, uncropped = bucketed(durations)
    assert len(uncropped) == 24
