"""Tests for speechbrain_vgs.distributed: 2 CPU processes (gloo) against one
process holding the whole batch."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from speechbrain_vgs.distributed import (
    gather_frames,
    gather_no_grad,
    gather_padded,
    gather_with_grad,
)
from speechbrain_vgs.losses import InfoNCE

WORLD_SIZE = 2
BATCH_SIZES = (3, 5)  # differ per rank, as with dynamic batching
FRAME_COUNTS = (4, 7)  # padded T differs per rank
IMAGE_IDS = torch.tensor([0, 1, 1, 2, 3, 0, 4, 5])  # shared across ranks


class TwoTower(torch.nn.Module):
    """Audio and image projections into a shared embedding space."""

    def __init__(self):
        super().__init__()
        self.audio = torch.nn.Linear(6, 4)
        self.image = torch.nn.Linear(5, 4)

    def forward(self, audio, image):
        return (
            F.normalize(self.audio(audio), dim=-1),
            F.normalize(self.image(image), dim=-1),
        )


def global_batch():
    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(sum(BATCH_SIZES), 6, generator=generator)
    image = torch.randn(sum(BATCH_SIZES), 5, generator=generator)
    return audio, image


def rank_slice(rank):
    start = sum(BATCH_SIZES[:rank])
    return slice(start, start + BATCH_SIZES[rank])


def rank_frames(rank):
    """Frames [B, T, 3] of one rank: utterance u has u + 2 valid frames
    (capped at T), valued u + 1 + 0.01 * frame, padding zero."""
    utterances = range(sum(BATCH_SIZES))[rank_slice(rank)]
    total = FRAME_COUNTS[rank]
    frames = torch.zeros(len(utterances), total, 3)
    valid = torch.tensor([min(u + 2, total) for u in utterances])
    for row, u in enumerate(utterances):
        values = u + 1 + 0.01 * torch.arange(int(valid[row]))
        frames[row, : valid[row]] = values[:, None]
    return frames, valid / total


def worker(rank, init_file, out_folder):
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=WORLD_SIZE,
    )
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(TwoTower())
    audio, image = global_batch()
    part = rank_slice(rank)
    audio_emb, image_emb = model(audio[part], image[part])
    audio_all = gather_with_grad(audio_emb)
    image_all = gather_with_grad(image_emb)
    image_ids = gather_no_grad(IMAGE_IDS[part])
    loss = InfoNCE(temperature=0.1)(audio_all @ image_all.t(), image_ids)
    loss.backward()  # DDP averages the parameter gradients

    frames, lengths = rank_frames(rank)
    frames.requires_grad_()
    frames_all, lengths_all = gather_frames(frames, lengths)
    weights = torch.arange(frames_all.numel()).view_as(frames_all).float()
    (frames_all * weights).sum().backward()
    padded = gather_padded(torch.ones(1, FRAME_COUNTS[rank]), dim=1)

    torch.save(
        {
            "loss": loss.detach(),
            "grads": {n: p.grad for n, p in model.module.named_parameters()},
            "image_ids": image_ids,
            "frames_all": frames_all.detach(),
            "lengths_all": lengths_all,
            "frames_grad": frames.grad,
            "weights": weights,
            "padded": padded,
        },
        out_folder / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


def run_ranks(tmp_path):
    mp.spawn(
        worker, args=(tmp_path / "init", tmp_path), nprocs=WORLD_SIZE, join=True
    )
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD_SIZE)]


def single_process_reference():
    torch.manual_seed(0)
    model = TwoTower()
    audio, image = global_batch()
    audio_emb, image_emb = model(audio, image)
    loss = InfoNCE(temperature=0.1)(audio_emb @ image_emb.t(), IMAGE_IDS)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters()}


def test_ddp_matches_single_process(tmp_path):
    results = run_ranks(tmp_path)
    loss, grads = single_process_reference()
    for result in results:
        torch.testing.assert_close(result["loss"], loss, atol=1e-6, rtol=0)
        for name, grad in grads.items():
            torch.testing.assert_close(
                result["grads"][name], grad, atol=1e-6, rtol=0
            )
        assert torch.equal(result["image_ids"], IMAGE_IDS)

    # gather_frames: every utterance keeps its valid frames and lengths
    total = max(FRAME_COUNTS)
    expected = torch.cat(
        [
            F.pad(rank_frames(r)[0], (0, 0, 0, total - FRAME_COUNTS[r]))
            for r in range(WORLD_SIZE)
        ]
    )
    valid = torch.cat(
        [torch.round(rank_frames(r)[1] * FRAME_COUNTS[r]) for r in range(2)]
    )
    for result in results:
        torch.testing.assert_close(result["frames_all"], expected)
        recovered = torch.round(result["lengths_all"] * total)
        torch.testing.assert_close(recovered, valid)
        padded = torch.tensor([[1.0] * 4 + [0.0] * 3, [1.0] * 7])
        assert torch.equal(result["padded"], padded)
    # both ranks computed the same sum: each slice gets world_size x weights
    for rank, result in enumerate(results):
        rows = rank_slice(rank)
        weights = result["weights"][rows, : FRAME_COUNTS[rank]]
        torch.testing.assert_close(result["frames_grad"], WORLD_SIZE * weights)


def test_single_process_is_identity():
    x = torch.randn(2, 3, 4, requires_grad=True)
    assert gather_with_grad(x) is x
    assert gather_padded(x) is x
    lengths = torch.tensor([1.0, 0.5])
    frames, lengths_all = gather_frames(x, lengths)
    assert frames is x and lengths_all is lengths
