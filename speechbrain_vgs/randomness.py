"""Random draws that depend only on where training is, so that a resumed
run draws exactly what the uninterrupted run drew.

A run killed in the middle of an epoch resumes from its last checkpoint,
which holds the epoch and the step (SpeechBrain's epoch counter and the
Brain's step) but not the state of the random-number generators. Instead
of saving those states, the project's Brains make every draw a function of
the position:

* each training step starts by seeding torch (every device), numpy and
  Python's ``random`` from ``(seed, epoch, step, rank)``
  (:func:`seed_step`): dropout, masking, sampled impostors and batch
  augmentation draw the same numbers whether or not the run was resumed;
* the data pipeline's random crops draw from a generator seeded by
  ``(seed, epoch, utterance id)`` (:class:`ItemRandomness`), the same in
  the main process and in any data-loader worker, and for an utterance
  whether or not earlier batches were skipped by a resume;
* the order of the batches comes from SpeechBrain's epoch-seeded samplers
  and the position in it from the checkpointed data loader.

Authors
 * speechbrain-vgs developers 2026
"""

import contextlib
import hashlib
import random

import numpy as np
import torch


def position_seed(*parts):
    """A 63-bit seed from the parts of a position (stable across runs,
    processes and Python versions, unlike ``hash``).

    Example
    -------
    >>> position_seed(1234, 2, "utt1") == position_seed(1234, 2, "utt1")
    True
    >>> position_seed(1234, 2, "utt1") == position_seed(1234, 3, "utt1")
    False
    """
    text = "/".join(str(part) for part in parts).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_step(seed, epoch, step, rank=0):
    """Seeds torch, numpy and Python's ``random`` for one training step.

    Arguments
    ---------
    seed : int
        The run's seed (the recipes' ``seed``).
    epoch : int
        The epoch (1-based, as SpeechBrain's epoch counter).
    step : int
        The step within the epoch (SpeechBrain's ``Brain.step``).
    rank : int
        The process's rank under DDP (each process draws its own numbers).

    Example
    -------
    >>> seed_step(1234, 1, 5); a = torch.rand(2)
    >>> seed_step(1234, 1, 5); torch.equal(a, torch.rand(2))
    True
    """
    value = position_seed(seed, epoch, step, rank)
    torch.manual_seed(value)
    np.random.seed(value % 2**32)
    random.seed(value)


class ItemRandomness:
    """The random draws of a training data pipeline, per utterance.

    A dataset whose items draw random numbers (crops) carries one as its
    ``randomness`` attribute; the Brain's ``fit`` sets its ``seed`` and
    gives it the epoch counter, so that an item's draws depend on
    ``(seed, epoch, key)`` only. It travels to data-loader workers with the
    dataset (pickled when the epoch's iterator starts them).

    Example
    -------
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> randomness = ItemRandomness()
    >>> randomness.seed, randomness.clock = 7, EpochCounter(3)
    >>> a = torch.rand(1, generator=randomness.generator("u1"))
    >>> torch.equal(a, torch.rand(1, generator=randomness.generator("u1")))
    True
    >>> _ = next(randomness.clock)  # the next epoch draws other numbers
    >>> torch.equal(a, torch.rand(1, generator=randomness.generator("u1")))
    False
    """

    def __init__(self):
        self.seed = 0
        self.clock = None

    @property
    def epoch(self):
        """The current epoch (0 before training)."""
        return 0 if self.clock is None else self.clock.current

    def generator(self, key):
        """A CPU generator seeded by ``(seed, epoch, key)``."""
        return torch.Generator().manual_seed(
            position_seed(self.seed, self.epoch, key)
        )

    @contextlib.contextmanager
    def seeded(self, key):
        """Seeds torch's global CPU generator by ``(seed, epoch, key)`` for
        the block, then restores it (for transforms that draw from it,
        e.g. torchvision's random crops).

        Example
        -------
        >>> randomness = ItemRandomness()
        >>> with randomness.seeded("u1"):
        ...     a = torch.rand(1)
        >>> with randomness.seeded("u1"):
        ...     torch.equal(a, torch.rand(1))
        True
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(position_seed(self.seed, self.epoch, key))
            yield
