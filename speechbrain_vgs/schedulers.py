"""Learning-rate schedules whose length comes from the train loader.

A schedule typed in updates goes wrong as soon as the data, the batch
sampler, gradient accumulation or the number of processes change:
SpeechBrain's ``LinearWarmupScheduler`` sets the learning rate to 0 after
``num_training_steps``, so a hand-counted length that is too short stops
learning early, silently. :class:`LinearWarmupDecay` is that schedule
without the count: the project's Brains
(:class:`speechbrain_vgs.brains.base.VGSBrain`) set its length when ``fit``
starts, from the train loader (updates per epoch, after gradient
accumulation and, under DDP, per process) and the epoch counter's limit,
so it ends at the last update of the last epoch.

Authors
 * speechbrain-vgs developers 2026
"""

import logging

from speechbrain.nnet.schedulers import LinearWarmupScheduler

logger = logging.getLogger(__name__)


class LinearWarmupDecay(LinearWarmupScheduler):
    """Linear warm-up to ``initial_value``, then linear decay to 0 at the
    last update of training.

    SpeechBrain's ``LinearWarmupScheduler`` (its checkpoint hooks
    included) with its length set by :meth:`set_length` (the Brains call
    it when ``fit`` starts) instead of typed in the hparams. Call it once
    per update, with the optimizer.

    Arguments
    ---------
    initial_value : float
        The learning rate reached at the end of the warm-up.
    num_warmup_steps : int
        Warm-up updates (a choice, not a count of the data).
    warmup_epochs : float
        Warm-up in epochs instead, converted to updates by
        :meth:`set_length`; give one of the two.

    Example
    -------
    >>> scheduler = LinearWarmupDecay(1.0, warmup_epochs=1)
    >>> scheduler.set_length(updates_per_epoch=2, epochs=3)
    >>> scheduler.num_warmup_steps, scheduler.num_training_steps
    (2, 6)
    >>> [scheduler.calculate_lr(step) for step in range(1, 7)]
    [0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def __init__(self, initial_value, num_warmup_steps=0, warmup_epochs=0):
        if num_warmup_steps and warmup_epochs:
            raise ValueError(
                "give num_warmup_steps or warmup_epochs, not both "
                f"(got {num_warmup_steps} and {warmup_epochs})"
            )
        super().__init__(initial_value, num_warmup_steps, None)
        self.warmup_steps = num_warmup_steps
        self.warmup_epochs = warmup_epochs

    def set_length(self, updates_per_epoch, epochs):
        """Sets the schedule's length (and an epoch-based warm-up).

        Arguments
        ---------
        updates_per_epoch : int
            Optimizer updates in one epoch.
        epochs : int
            Number of epochs.
        """
        total = updates_per_epoch * epochs
        warmup = self.warmup_steps
        if self.warmup_epochs:
            warmup = round(self.warmup_epochs * updates_per_epoch)
        if warmup >= total:
            logger.warning(
                "a warm-up of %d updates is longer than training (%d epochs "
                "of %d updates): the learning rate never decays",
                warmup,
                epochs,
                updates_per_epoch,
            )
        self.num_warmup_steps = warmup
        self.num_training_steps = total

    def calculate_lr(self, current_step):
        """The learning rate after ``current_step`` updates.

        Arguments
        ---------
        current_step : int
            Updates done.

        Returns
        -------
        float
        """
        if self.num_training_steps is None:
            raise RuntimeError(
                "LinearWarmupDecay has no length yet: a Brain of "
                "speechbrain_vgs.brains sets it when fit() starts "
                "(or call set_length)"
            )
        return super().calculate_lr(current_step)
