"""HuBERT pre-training parts: k-means against scikit-learn's, MFCC and
hidden-state cluster targets independent of padding, and masked prediction
that learns on real SynthVGS speech."""

import glob
import os

import pytest
import torch
from sklearn.cluster import KMeans

from speechbrain_vgs.dataio.pipelines import read_wav
from speechbrain_vgs.lobes.hubert import (
    ClusterPredictor,
    HiddenStateClusters,
    MFCCClusters,
    kmeans,
)
from speechbrain_vgs.lobes.masking import span_mask
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.lobes.tiny_models import save_tiny_hubert


def inertia(points, centroids):
    return (torch.cdist(points, centroids).min(1).values ** 2).sum().item()


def test_kmeans_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(8, 5, generator=generator) * 4
    points = centres.repeat_interleave(200, 0) + torch.randn(
        1600, 5, generator=generator
    )
    ours = kmeans(points, 8, iterations=30, seed=0)
    theirs = KMeans(8, n_init=10, random_state=0).fit(points.numpy())
    reference = torch.from_numpy(theirs.cluster_centers_).float()
    assert inertia(points, ours) <= 1.01 * inertia(points, reference)
    # the same centres, in some order
    distance = torch.cdist(ours, reference)
    assert distance.min(1).values.max() < 0.2
    assert len(set(distance.argmin(1).tolist())) == 8


def test_kmeans_rejects_more_clusters_than_points():
    with pytest.raises(ValueError, match="num_clusters"):
        kmeans(torch.randn(3, 2), 4)


@pytest.fixture(scope="module")
def synthvgs_wavs(synthvgs_tiny):
    paths = sorted(
        glob.glob(os.path.join(synthvgs_tiny, "wavs", "en", "*", "*.wav"))
    )
    return [read_wav(path) for path in paths[:12]]


def test_targets_do_not_depend_on_padding(synthvgs_wavs):
    targets = MFCCClusters(num_clusters=16)
    targets.fit(synthvgs_wavs)
    short, long = sorted(synthvgs_wavs[:2], key=len)
    frames = (len(short) - 400) // 320  # fewer than the model's frames
    alone = targets(short.unsqueeze(0), frames)[0]
    batch = torch.stack([short.new_zeros(len(long)), long])
    batch[0, : len(short)] = short
    padded = targets(batch, frames)[0]
    # deltas look two frames ahead: all but the last two frames agree
    assert torch.equal(alone[:-2], padded[:-2])
    # the labels spread over the clusters
    assert len(set(alone.tolist())) > 4


def test_targets_need_fitting_and_enough_audio():
    targets = MFCCClusters(num_clusters=2)
    with pytest.raises(RuntimeError, match="fit"):
        targets(torch.randn(1, 3200), 9)
    targets.fit([torch.randn(3200)])
    with pytest.raises(ValueError, match="too few"):
        targets(torch.randn(1, 3200), 11)


@pytest.fixture(scope="module")
def first_iteration(tmp_path_factory):
    """A tiny HuBERT at 50 frames a second (the previous iteration)."""
    return save_tiny_hubert(
        tmp_path_factory.mktemp("first_iteration"),
        conv_kernel=(400, 2),
        conv_stride=(160, 2),
        dropout=0.0,
    )


def test_hidden_state_targets_see_no_padding(synthvgs_wavs, first_iteration):
    targets = HiddenStateClusters(first_iteration, layer=1, num_clusters=16)
    targets.fit(synthvgs_wavs)
    upstream = targets.upstream
    short, long = sorted(synthvgs_wavs[:2], key=len)
    frames, _ = upstream.frame_counts(short.unsqueeze(0))
    alone = targets(short.unsqueeze(0), int(frames))[0]
    batch = torch.stack([short.new_zeros(len(long)), long])
    batch[0, : len(short)] = short
    lengths = torch.tensor([len(short) / len(long), 1.0])
    _, max_frames = upstream.frame_counts(batch, lengths)
    padded = targets(batch, max_frames, lengths)[0, : int(frames)]
    assert torch.equal(alone, padded)
    assert len(set(alone.tolist())) > 4
    # one label per model frame, no more
    with pytest.raises(ValueError, match="too few"):
        targets(short.unsqueeze(0), int(frames) + 1)
    # the clustered state is the previous model's, frozen
    assert not any(p.requires_grad for p in targets.parameters())


def test_hidden_state_targets_check_the_layer(first_iteration):
    with pytest.raises(ValueError, match="layer 3 out of range"):
        HiddenStateClusters(first_iteration, layer=3)


@pytest.mark.parametrize("iteration", [1, 2])
def test_masked_prediction_learns_on_synthvgs_speech(
    synthvgs_wavs, first_iteration, tmp_path, iteration
):
    torch.manual_seed(0)
    if iteration == 1:
        targets = MFCCClusters(num_clusters=16)
    else:
        targets = HiddenStateClusters(first_iteration, 1, num_clusters=16)
    targets.fit(synthvgs_wavs)
    folder = save_tiny_hubert(
        tmp_path, conv_kernel=(400, 2), conv_stride=(160, 2), dropout=0.0
    )
    upstream = SSLUpstream(folder, freeze=False)
    head = ClusterPredictor(upstream.dim, 16, proj_dim=16)
    wavs = torch.nn.utils.rnn.pad_sequence(synthvgs_wavs[:4], batch_first=True)
    lengths = torch.tensor([len(w) for w in synthvgs_wavs[:4]]) / wavs.shape[1]
    params = [*upstream.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)

    def loss_and_accuracy(generator):
        states, frames = upstream.hidden_states(wavs, lengths)
        labels = targets(wavs, states[0].shape[1], lengths)
        mask = span_mask(frames, states[0].shape[1], generator=generator)
        states, _ = upstream.hidden_states(wavs, lengths, mask=mask)
        logits = head(states[-1])[mask]
        loss = torch.nn.functional.cross_entropy(logits, labels[mask])
        accuracy = (logits.argmax(-1) == labels[mask]).float().mean()
        return loss, accuracy.item()

    with torch.no_grad():
        before, accuracy_before = loss_and_accuracy(
            torch.Generator().manual_seed(1)
        )
    for _ in range(40):
        loss, _ = loss_and_accuracy(None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after, accuracy_after = loss_and_accuracy(
            torch.Generator().manual_seed(1)
        )
    assert after < 0.8 * before
    assert accuracy_after > accuracy_before + 0.1
