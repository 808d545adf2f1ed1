"""What the project's Brains share.

:class:`VGSBrain` is SpeechBrain's ``Brain`` with

* **a declared hparams contract**: each subclass lists the hparams it
  needs (``HPARAMS_NEEDED``), those it may read with their defaults
  (``HPARAMS_OPTIONAL``) and its modules (``MODULES_NEEDED``); building
  the Brain checks them (:func:`check_hparams`), so a missing or misspelt
  key fails at once with its name, not after an epoch; optional keys that
  are absent get their defaults, so the Brain reads ``self.hparams.<key>``;
* **the train/valid/test outline, written once** in
  :meth:`VGSBrain.on_stage_end`: training keeps its loss; validation logs
  (with the learning rate) and keeps the best checkpoint by
  ``best_checkpoint``; testing logs and writes ``results_file``, one key
  per named test set (:meth:`VGSBrain.evaluate_sets`; after each set,
  :meth:`VGSBrain.on_test_set_end` gets the set). Subclasses supply
  their statistics (:meth:`VGSBrain.evaluation_stats`) only;
* **a computed learning-rate schedule**: an ``lr_scheduler`` is called
  before every update; a :class:`speechbrain_vgs.schedulers.
  LinearWarmupDecay` gets its length from the train loader when ``fit``
  starts, and a schedule of fixed length that disagrees with the loader
  is an error (:meth:`VGSBrain.on_fit_start`). ``lr_annealing`` (called
  with the epoch) anneals once per epoch instead;
* a train batch sampler that is reshuffled every epoch;
* **exact, kill-proof resumption**: incomplete checkpoints (a job killed
  while writing one) are set aside before every recovery
  (:func:`speechbrain_vgs.checkpoints.drop_incomplete_checkpoints`); every
  training step's random draws, and those of the train set's pipeline,
  depend on the position only (:mod:`speechbrain_vgs.randomness`, seeded
  by the optional ``seed``), so a run killed at any moment and run again
  ends with the same numbers as the run that was never stopped; a
  checkpoint of another model fails with :class:`CheckpointError`;
* **non-finite losses skipped**: a batch whose loss is NaN or infinite
  makes no update and is logged with its utterance ids; more than
  SpeechBrain's ``--nonfinite_patience`` (default 3) in one epoch stop the
  run with a message saying what to check.

:class:`RetrievalBrain` adds image/speech (or image/text) retrieval recall
out of training, with the best checkpoint kept by mean R@10, and writes
an examples page of each test (``examples.html`` beside ``results_file``,
see :mod:`speechbrain_vgs.examples_page`).

Authors
 * speechbrain-vgs developers 2026
"""

import contextlib
import difflib
import logging
import os

import speechbrain as sb
import torch
from speechbrain.dataio.dataloader import LoopedLoader
from speechbrain.utils.distributed import if_main_process, run_on_main
from speechbrain.utils.run_opts import RunOptions
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, IterableDataset

from speechbrain_vgs.checkpoints import drop_incomplete_checkpoints, save_torch
from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.distributed import (
    contiguous_shard,
    gather_object,
    is_distributed,
)
from speechbrain_vgs.examples_page import (
    PAGE_NAME,
    retrieval_examples,
    set_section,
    write_page,
)
from speechbrain_vgs.metrics import RetrievalStats, mean_r10
from speechbrain_vgs.randomness import seed_step
from speechbrain_vgs.schedulers import LinearWarmupDecay
from speechbrain_vgs.similarity import pooled_similarity

BEST_KEY = "mean_r10"
logger = logging.getLogger(__name__)


class HparamsError(ValueError):
    """Hparams that a Brain cannot run with (missing or misspelt keys)."""


class CheckpointError(RuntimeError):
    """A checkpoint that does not fit the model of the hparams."""


class NonFiniteLossError(ValueError):
    """Too many batches with a NaN or infinite loss in one epoch."""


def check_hparams(brain_class, hparams, modules):
    """Checks hparams and modules against a Brain's declared contract.

    Keys are collected over the class hierarchy (``HPARAMS_NEEDED``,
    ``HPARAMS_OPTIONAL``, ``MODULES_NEEDED``). A provided key that is not
    a key the Brain (or SpeechBrain's run options) reads but looks like
    one that is absent is reported as a likely typo.

    Arguments
    ---------
    brain_class : type
        A :class:`VGSBrain` subclass.
    hparams : dict
        The hparams given to the Brain.
    modules : dict
        The modules given to the Brain.

    Raises
    ------
    HparamsError
        Listing every missing key and every likely typo.

    Example
    -------
    >>> class Toy(VGSBrain):
    ...     HPARAMS_NEEDED = ("similarity",)
    >>> check_hparams(Toy, {"train_logger": None, "results_file": "r.json",
    ...                     "similarity": None}, {})
    >>> try:
    ...     check_hparams(Toy, {"train_logger": None, "results_file": "r",
    ...                         "similarty": None}, {})
    ... except HparamsError as error:
    ...     print(error)
    Toy: missing hparams key 'similarity' (did you mean 'similarty'?)
    """
    needed, optional, needed_modules = declared_keys(brain_class)
    known = {*needed, *optional, *RunOptions().as_dict()}
    unknown = [key for key in hparams if key not in known]
    problems = []
    for key in needed:
        if key not in hparams:
            problems.append(f"missing hparams key {key!r}{_typo(key, unknown)}")
    for key in optional:
        close = difflib.get_close_matches(key, unknown, n=1, cutoff=0.85)
        if key not in hparams and close:
            problems.append(
                f"hparams key {close[0]!r} is not read by "
                f"{brain_class.__name__}: did you mean {key!r}?"
            )
    for key in needed_modules:
        if key not in modules:
            problems.append(
                f"missing module {key!r} in modules{_typo(key, list(modules))}"
            )
    if problems:
        raise HparamsError(f"{brain_class.__name__}: " + "; ".join(problems))


def declared_keys(brain_class):
    """A Brain's needed hparams, optional hparams (with defaults) and
    needed modules, collected over its class hierarchy.

    Arguments
    ---------
    brain_class : type
        A :class:`VGSBrain` subclass.

    Returns
    -------
    needed : list of str
    optional : dict
        ``{key: default}``.
    modules : list of str

    Example
    -------
    >>> needed, optional, modules = declared_keys(VGSBrain)
    >>> needed, sorted(optional)
    (['train_logger', 'results_file'], ['lr_annealing', 'lr_scheduler', 'seed'])
    """
    needed, optional, modules = [], {}, []
    for cls in reversed(brain_class.__mro__):
        needed.extend(k for k in vars(cls).get("HPARAMS_NEEDED", ()))
        optional.update(vars(cls).get("HPARAMS_OPTIONAL", {}))
        modules.extend(k for k in vars(cls).get("MODULES_NEEDED", ()))
    return list(dict.fromkeys(needed)), optional, list(dict.fromkeys(modules))


def _typo(key, candidates):
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing."""
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""


class VGSBrain(sb.Brain):
    """The base of the project's Brains (see the module docstring).

    Hparams it reads: ``train_logger`` (a SpeechBrain train logger),
    ``results_file`` (where the test metrics go), and optionally ``seed``
    (of the position-seeded random draws, see :mod:`speechbrain_vgs.
    randomness`; the recipes' ``seed``),
    ``lr_scheduler`` (called with the optimizer before every update; a
    parameter group with an ``lr_scale`` gets that share of its learning
    rate) and ``lr_annealing`` (called with the epoch after each
    validation, returns the old and new learning rates, e.g. SpeechBrain's
    ``StepScheduler``).

    Subclasses declare ``HPARAMS_NEEDED``, ``HPARAMS_OPTIONAL`` and
    ``MODULES_NEEDED``, define :meth:`evaluation_stats`, and may set
    ``best_checkpoint`` (``{"max_key": name}`` or ``{"min_key": name}``: the
    statistic that selects the checkpoint kept and tested) and
    ``LOG_ONLY`` (statistics logged but not written to ``results_file``).
    """

    HPARAMS_NEEDED = ("train_logger", "results_file")
    HPARAMS_OPTIONAL = {"lr_scheduler": None, "lr_annealing": None, "seed": 0}
    MODULES_NEEDED = ()
    best_checkpoint = {"min_key": "loss"}
    LOG_ONLY = ()
    # Brains whose evaluation statistics gather over the DDP processes set
    # it to True: each process then evaluates its share of the validation
    # and test sets. Otherwise every process evaluates them whole.
    SHARDED_EVALUATION = False

    def __init__(self, modules=None, opt_class=None, hparams=None, **kwargs):
        hparams = dict(hparams or {})
        check_hparams(type(self), hparams, dict(modules or {}))
        _, optional, _ = declared_keys(type(self))
        for key, default in optional.items():
            hparams.setdefault(key, default)
        super().__init__(modules, opt_class, hparams, **kwargs)
        self.results = {}
        self.test_name = "test"
        self.updates_per_epoch = None
        self.epoch_limit = None
        self.epoch_counter = None
        self.batch_ids = None
        self.buffers_before = []
        self.skip_update = False
        self.restore_buffers = False

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """Also lets the Brain reshuffle a train batch sampler each epoch
        and, for a Brain whose statistics gather over the DDP processes
        (``SHARDED_EVALUATION``), splits a validation or test set between
        them (:meth:`evaluation_shard`)."""
        if stage != sb.Stage.TRAIN and self.SHARDED_EVALUATION:
            loader_kwargs = self.evaluation_shard(dataset, loader_kwargs)
        loader = super().make_dataloader(
            dataset, stage, ckpt_prefix, **loader_kwargs
        )
        batch_sampler = loader_kwargs.get("batch_sampler")
        if stage == sb.Stage.TRAIN and not self.distributed_launch:
            if hasattr(batch_sampler, "set_epoch"):
                self.train_sampler = batch_sampler
        return loader

    def evaluation_shard(self, dataset, loader_kwargs):
        """Under DDP, loader options under which this process evaluates
        its contiguous block of the batches one process would make
        (:func:`speechbrain_vgs.distributed.contiguous_shard`): every
        utterance once, in the same batches as with one process, and the
        processes' parts in rank order give the set's order (sorted by
        duration), so the gathered statistics are those of one process.

        Arguments
        ---------
        dataset : torch.utils.data.Dataset
            The validation or test set.
        loader_kwargs : dict
            Its loader options: ``batch_size`` (default 1), ``drop_last``
            and ``sampler``, or a ``batch_sampler`` (e.g. SpeechBrain's
            ``DynamicBatchSampler``, without shuffling).

        Returns
        -------
        dict
            The options with this process's batches of indices as
            ``batch_sampler``; ``loader_kwargs`` itself when not
            distributed or for an iterable dataset (then evaluated whole by
            every process).
        """
        if not is_distributed() or isinstance(dataset, IterableDataset):
            return loader_kwargs
        options = dict(loader_kwargs)
        batches = options.pop("batch_sampler", None)
        if batches is None:
            sampler = options.pop("sampler", None)
            batches = BatchSampler(
                range(len(dataset)) if sampler is None else sampler,
                options.pop("batch_size", 1),
                options.pop("drop_last", False),
            )
        rank = torch.distributed.get_rank()
        world_size = torch.distributed.get_world_size()
        options["batch_sampler"] = contiguous_shard(batches, rank, world_size)
        return options

    def evaluate_batch(self, batch, stage):
        """SpeechBrain's evaluation step; also keeps the stage's batch
        losses for :meth:`global_stage_loss`."""
        loss = super().evaluate_batch(batch, stage)
        if self.step == 1:  # the first batch of the stage
            self.evaluation_losses = []
        self.evaluation_losses.append(float(loss))
        return loss

    def global_stage_loss(self, stage, stage_loss):
        """The loss of a validation or test stage over all DDP processes:
        the mean of the finite losses of all their batches (with
        :meth:`evaluation_shard`, those one process evaluates), instead of
        SpeechBrain's mean over this process's batches. Every process must
        call it at the end of each such stage.

        Arguments
        ---------
        stage : speechbrain.Stage
            The stage that ends.
        stage_loss : float
            SpeechBrain's mean loss of this process's batches.

        Returns
        -------
        float
            The global mean; ``stage_loss`` itself in training or when not
            distributed.
        """
        if stage == sb.Stage.TRAIN or not is_distributed():
            return stage_loss
        # a process may have evaluated no batch, in this stage or at all
        parts = gather_object(getattr(self, "evaluation_losses", []))
        self.evaluation_losses = []
        losses = torch.tensor(
            [x for part in parts for x in part], dtype=torch.float64
        )
        finite = losses[torch.isfinite(losses)]
        return (finite.sum() / len(finite)).item()

    def _wrap_distributed(self):
        """SpeechBrain's DDP wrapping, except on the CPU (gloo): there
        SpeechBrain's conversion of BatchNorm to SyncBatchNorm fails (it
        runs on GPUs only), so the trainable modules are wrapped as they
        are and each process normalises with the statistics of its own
        part of the batch. On GPUs, SpeechBrain's SyncBatchNorm normalises
        with the statistics of the whole batch."""
        if not self.distributed_launch or self.device_type != "cpu":
            super()._wrap_distributed()
            return
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(
                    module, find_unused_parameters=self.find_unused_parameters
                )

    def fit(
        self,
        epoch_counter,
        train_set,
        valid_set=None,
        progressbar=None,
        train_loader_kwargs=None,
        valid_loader_kwargs=None,
    ):
        """SpeechBrain's ``fit``, which also counts the updates of an
        epoch (for the schedule) from the train loader and the epochs from
        ``epoch_counter.limit``, and ties the train set's random draws
        (its ``randomness``, see :class:`speechbrain_vgs.randomness.
        ItemRandomness`) to the seed and the epoch."""
        self.epoch_counter = epoch_counter
        randomness = getattr(train_set, "randomness", None)
        if randomness is not None:
            randomness.seed = self.hparams.seed
            randomness.clock = epoch_counter
        if not self.test_only and not isinstance(
            train_set, DataLoader | LoopedLoader
        ):
            train_set = self.make_dataloader(
                train_set, stage=sb.Stage.TRAIN, **(train_loader_kwargs or {})
            )
        if not self.test_only:
            self.updates_per_epoch = (
                len(train_set) // self.grad_accumulation_factor
            )
            self.epoch_limit = getattr(epoch_counter, "limit", None)
        super().fit(
            epoch_counter,
            train_set,
            valid_set,
            progressbar,
            valid_loader_kwargs=valid_loader_kwargs or {},
        )

    def on_fit_start(self):
        """SpeechBrain's set-up and resumption from the latest complete
        checkpoint (see :meth:`recovery`), then the schedule's length from
        the train loader (see :meth:`set_schedule_length`)."""
        with self.recovery():
            super().on_fit_start()
        self.set_schedule_length()

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Loads the best complete checkpoint (see :meth:`recovery`)."""
        with self.recovery(max_key=max_key, min_key=min_key):
            super().on_evaluate_start(max_key=max_key, min_key=min_key)

    @contextlib.contextmanager
    def recovery(self, **selection):
        """Around SpeechBrain's recovery: sets incomplete checkpoints aside
        first, and turns a checkpoint that does not fit the modules into a
        :class:`CheckpointError` naming it.

        Arguments
        ---------
        **selection
            ``max_key``/``min_key`` of the checkpoint recovered.
        """
        if self.checkpointer is None:
            yield
            return
        run_on_main(drop_incomplete_checkpoints, args=[self.checkpointer])
        try:
            yield
        except RuntimeError as error:
            if not ("state_dict" in str(error) or "load path" in str(error)):
                raise
            chosen = self.checkpointer.find_checkpoint(**selection)
            where = chosen.path if chosen else self.checkpointer.checkpoints_dir
            lines = [x.strip() for x in str(error).splitlines() if x.strip()]
            first_line = " ".join(lines[:2])[:400]
            raise CheckpointError(
                f"{where}: this checkpoint does not fit the model of the "
                f"hparams ({first_line}): it was written by another model or "
                "another configuration; train in a new output_folder, or "
                f"delete {self.checkpointer.checkpoints_dir} to start over"
            ) from error

    def set_schedule_length(self):
        """Sets a :class:`~speechbrain_vgs.schedulers.LinearWarmupDecay`'s
        length to the updates of the run (epochs x updates per epoch);
        checks a scheduler of fixed length (``num_training_steps``)
        against them.

        Raises
        ------
        HparamsError
            If a fixed-length schedule does not end at the last update.
        """
        scheduler = self.hparams.lr_scheduler
        if scheduler is None or self.updates_per_epoch is None:
            return
        if self.epoch_limit is None:
            raise HparamsError(
                "the epoch counter has no limit: the length of "
                "lr_scheduler cannot be derived"
            )
        total = self.updates_per_epoch * self.epoch_limit
        if isinstance(scheduler, LinearWarmupDecay):
            scheduler.set_length(self.updates_per_epoch, self.epoch_limit)
            return
        fixed = getattr(scheduler, "num_training_steps", None)
        if fixed is not None and fixed != total:
            raise HparamsError(
                f"lr_scheduler ends after {fixed} updates, but training "
                f"makes {total} ({self.epoch_limit} epochs of "
                f"{self.updates_per_epoch} updates): use "
                "speechbrain_vgs.schedulers.LinearWarmupDecay, whose "
                "length comes from the train loader"
            )

    def on_fit_batch_start(self, batch, should_step):
        """Seeds this step's random draws by its position (see
        :func:`speechbrain_vgs.randomness.seed_step`) and sets the learning
        rate of this update (``lr_scheduler``); a parameter group with an
        ``lr_scale`` gets that share of it."""
        epoch = getattr(self.epoch_counter, "current", 0)
        rank = torch.distributed.get_rank() if is_distributed() else 0
        seed_step(self.hparams.seed, epoch, self.step, rank)
        self.batch_ids = getattr(batch, "id", None)
        self.buffers_before = [b.clone() for b in self.modules.buffers()]
        scheduler = self.hparams.lr_scheduler
        if scheduler is not None and should_step:
            scheduler(self.optimizer)
            for group in self.optimizer.param_groups:
                group["lr"] *= group.get("lr_scale", 1.0)

    def check_loss_isfinite(self, loss):
        """Marks a batch with a NaN or infinite loss to make no update
        (and restores the buffers its forward pass changed, e.g.
        BatchNorm statistics), logs it with its utterance ids, and stops
        the run with :class:`NonFiniteLossError` when more than
        ``nonfinite_patience`` such batches occur in one epoch."""
        if torch.isfinite(loss):
            return
        self.nonfinite_count += 1
        self.skip_update = True
        self.restore_buffers = True
        ids = ", ".join(map(str, self.batch_ids or [])) or "unknown"
        logger.warning(
            "Epoch %s, step %d: the loss is %s; this batch makes no update "
            "(%d such batches this epoch, at most %d allowed). Utterances: %s",
            getattr(self.epoch_counter, "current", "?"),
            self.step,
            float(loss.detach()),
            self.nonfinite_count,
            self.nonfinite_patience,
            ids,
        )
        if self.nonfinite_count > self.nonfinite_patience:
            raise NonFiniteLossError(
                f"{self.nonfinite_count} batches of this epoch had a NaN or "
                f"infinite loss (more than --nonfinite_patience="
                f"{self.nonfinite_patience}); the last one held {ids}. Check "
                "those files (silence, clipping, extreme values), lower the "
                "learning rate, or use fp32 instead of fp16"
            )

    def fit_batch(self, batch):
        """SpeechBrain's training step; after a non-finite loss, the
        buffers are restored to their values before the batch."""
        loss = super().fit_batch(batch)
        if self.restore_buffers:
            with torch.no_grad():
                for buffer, before in zip(
                    self.modules.buffers(), self.buffers_before
                ):
                    buffer.copy_(before)
            self.restore_buffers = False
        return loss

    def optimizers_step(self):
        """SpeechBrain's update (unscale, clip to ``max_grad_norm``, step),
        with two changes: if a batch since the last update had a non-finite
        loss, its gradients are dropped instead; and the gradient norm is
        clipped over all of an optimizer's parameter groups together
        (SpeechBrain 1.1 clips only the first group, which would leave a
        second one, e.g. a fine-tuned upstream with its own learning rate,
        unclipped)."""
        if self.skip_update:
            self.zero_grad(set_to_none=True)
            self.skip_update = False
            return
        if self.optimizers_dict is not None:
            optimizers = self.freeze_optimizers(self.optimizers_dict)
        elif self.opt_class is not None:
            optimizers = {"optimizer": self.optimizer}
        else:
            return
        for optimizer in optimizers.values():
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]],
                self.max_grad_norm,
            )
        if not self.scaler.is_enabled() and self.skip_nonfinite_grads:
            self.check_gradients()
        for optimizer in optimizers.values():
            self.scaler.step(optimizer)
        self.scaler.update()
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        self.optimizer_step += 1

    def evaluation_stats(self):
        """The statistics of a validation or test stage (besides its
        loss); subclasses define it.

        Returns
        -------
        dict
            ``{name: value}``; it holds the key of ``best_checkpoint``
            unless that key is ``"loss"``.
        """
        return {}

    def valid_log_meta(self):
        """Extra ``stats_meta`` of the validation log line (none here)."""
        return {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Keeps the training loss; at validation, anneals, logs and
        checkpoints by ``best_checkpoint``; at test, logs and records the
        results of the current test set. Under DDP the logged loss of a
        validation or test stage is that of all processes
        (:meth:`global_stage_loss`)."""
        stats = {"loss": self.global_stage_loss(stage, stage_loss)}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats.update(self.evaluation_stats())
        if stage == sb.Stage.VALID:
            if self.hparams.lr_annealing is not None:
                _, lr = self.hparams.lr_annealing(epoch)
                sb.nnet.schedulers.update_learning_rate(self.optimizer, lr)
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "epoch": epoch,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    **self.valid_log_meta(),
                },
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            ((direction, key),) = self.best_checkpoint.items()
            keep = {"max_key": "max_keys", "min_key": "min_keys"}[direction]
            self.checkpointer.save_and_keep_only(
                meta={key: stats[key]}, **{keep: [key]}
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"test set": self.test_name}, test_stats=stats
            )
            self.save_results(self.test_name, stats)

    def save_results(self, name, stats):
        """Records one test set's metrics and rewrites ``results_file``
        (all but the loss, the checkpoint key and ``LOG_ONLY``)."""
        (key,) = self.best_checkpoint.values()
        excluded = {"loss", key, *self.LOG_ONLY}
        self.results[name] = {
            k: float(v) for k, v in stats.items() if k not in excluded
        }
        if if_main_process():
            write_json(self.hparams.results_file, self.results)

    def evaluate_sets(self, test_sets, loader_options=None):
        """Evaluates the best checkpoint on each named test set.

        Arguments
        ---------
        test_sets : dict
            ``{name: dataset}``; each name becomes a key of ``results.json``.
        loader_options : dict, optional
            Test dataloader options.
        """
        self.results = {}
        for name, dataset in test_sets.items():
            self.test_name = name
            self.evaluate(
                dataset,
                **self.best_checkpoint,
                test_loader_kwargs=dict(loader_options or {}),
            )
            self.on_test_set_end(dataset)

    def on_test_set_end(self, dataset):
        """Called by :meth:`evaluate_sets` on every process after each
        test set, once its results are recorded; nothing here (a
        :class:`RetrievalBrain` writes its examples page).

        Arguments
        ---------
        dataset : torch.utils.data.Dataset
            The test set (``test_name`` names it).
        """

    def save_for_inference(self, path):
        """Saves the state dict of the hparams' ``model`` (the best
        checkpoint after :meth:`evaluate_sets`) where the recipe's
        ``pretrainer`` finds it for ``Pretrained.from_hparams``.

        Arguments
        ---------
        path : str
            Usually ``<output_folder>/model.ckpt``, next to the experiment's
            ``hyperparams.yaml`` (see :mod:`speechbrain_vgs.inference`).
        """
        if if_main_process():
            save_torch(self.hparams.model.state_dict(), path)


class RetrievalBrain(VGSBrain):
    """A Brain evaluated by retrieval recall between two embeddings.

    Out of training, batches append to ``self.retrieval_stats`` (a
    :class:`speechbrain_vgs.metrics.RetrievalStats` scoring with
    :meth:`retrieval_similarity`); the stage's statistics are its recall@k
    (``recall_ks``, optional, default ``(1, 5, 10)``) and ``mean_r10``, by
    which the best checkpoint is kept.

    After each test set of :meth:`evaluate_sets`, the main process
    rewrites ``examples.html`` beside ``results_file`` with a section per
    set of ``results_file`` (:mod:`speechbrain_vgs.examples_page`): the
    set's ``num_examples`` captions (optional, default 5) with their
    top-5 images, and ``num_example_images`` images (default 3) with
    their top-5 captions, spread over the set. The set's entries come from its
    ``data`` (a ``DynamicItemDataset``'s manifest entries).
    """

    HPARAMS_OPTIONAL = {
        "recall_ks": (1, 5, 10),
        "num_examples": 5,
        "num_example_images": 3,
    }
    best_checkpoint = {"max_key": BEST_KEY}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.example_sections = {}

    def retrieval_similarity(self, audio, audio_lens, image):
        """Scores of pooled embeddings (their dot products); subclasses
        with other similarities override it."""
        return pooled_similarity(audio, audio_lens, image)

    def on_stage_start(self, stage, epoch=None):
        """Starts a fresh retrieval accumulator out of training."""
        if stage != sb.Stage.TRAIN:
            self.retrieval_stats = RetrievalStats(
                self.retrieval_similarity, ks=self.hparams.recall_ks
            )

    def evaluation_stats(self):
        """Recall@k both ways and ``mean_r10``."""
        stats = dict(self.retrieval_stats.summarize())
        stats[BEST_KEY] = mean_r10(stats)
        return stats

    def on_test_set_end(self, dataset):
        """Writes the examples page (:meth:`write_examples`)."""
        self.write_examples(dataset)

    def write_examples(self, dataset, keywords=None, figures=()):
        """On the main process, draws this test set's section of the
        examples page from its (gathered) retrieval statistics and rewrites
        ``examples.html`` beside ``results_file``.

        Arguments
        ---------
        dataset : DynamicItemDataset
            The test set; its ``data`` holds the manifest entries.
        keywords : dict, optional
            ``{utterance id: keyword slots}`` shown with the captions.
        figures : list of str
            Figure files shown in the section.
        """
        if not if_main_process():
            return
        folder = os.path.dirname(os.path.abspath(self.hparams.results_file))
        captions, images = retrieval_examples(
            self.retrieval_stats,
            dataset.data,
            self.hparams.num_examples,
            self.hparams.num_example_images,
            keywords,
        )
        self.example_sections[self.test_name] = set_section(
            self.test_name, captions, images, figures, folder
        )
        # the sets of results_file, which evaluate_sets starts afresh
        sections = [self.example_sections[name] for name in self.results]
        write_page(os.path.join(folder, PAGE_NAME), sections)
