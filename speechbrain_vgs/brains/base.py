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
  per named test set (:meth:`VGSBrain.evaluate_sets`). Subclasses supply
  their statistics (:meth:`VGSBrain.evaluation_stats`) only;
* **a computed learning-rate schedule**: an ``lr_scheduler`` is called
  before every update; a :class:`speechbrain_vgs.schedulers.
  LinearWarmupDecay` gets its length from the train loader when ``fit``
  starts, and a schedule of fixed length that disagrees with the loader
  is an error (:meth:`VGSBrain.on_fit_start`). ``lr_annealing`` (called
  with the epoch) anneals once per epoch instead;
* a train batch sampler that is reshuffled every epoch.

:class:`RetrievalBrain` adds image/speech (or image/text) retrieval recall
out of training, with the best checkpoint kept by mean R@10.

Authors
 * speechbrain-vgs developers 2026
"""

import difflib

import speechbrain as sb
from speechbrain.dataio.dataloader import LoopedLoader
from speechbrain.utils.distributed import if_main_process
from speechbrain.utils.run_opts import RunOptions
from torch.utils.data import DataLoader

from speechbrain_vgs.dataio.manifest import write_json
from speechbrain_vgs.metrics import RetrievalStats, mean_r10
from speechbrain_vgs.schedulers import LinearWarmupDecay
from speechbrain_vgs.similarity import pooled_similarity

BEST_KEY = "mean_r10"


class HparamsError(ValueError):
    """Hparams that a Brain cannot run with (missing or misspelt keys)."""


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
    (['train_logger', 'results_file'], ['lr_annealing', 'lr_scheduler'])
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
    ``results_file`` (where the test metrics go), and optionally
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
    HPARAMS_OPTIONAL = {"lr_scheduler": None, "lr_annealing": None}
    MODULES_NEEDED = ()
    best_checkpoint = {"min_key": "loss"}
    LOG_ONLY = ()

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

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """Also lets the Brain reshuffle a train batch sampler each epoch."""
        loader = super().make_dataloader(
            dataset, stage, ckpt_prefix, **loader_kwargs
        )
        batch_sampler = loader_kwargs.get("batch_sampler")
        if stage == sb.Stage.TRAIN and not self.distributed_launch:
            if hasattr(batch_sampler, "set_epoch"):
                self.train_sampler = batch_sampler
        return loader

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
        ``epoch_counter.limit``."""
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
        """SpeechBrain's set-up and resumption, then the schedule's length
        from the train loader (see :meth:`set_schedule_length`)."""
        super().on_fit_start()
        self.set_schedule_length()

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
        """Sets the learning rate of this update (``lr_scheduler``); a
        parameter group with an ``lr_scale`` gets that share of it."""
        scheduler = self.hparams.lr_scheduler
        if scheduler is not None and should_step:
            scheduler(self.optimizer)
            for group in self.optimizer.param_groups:
                group["lr"] *= group.get("lr_scale", 1.0)

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
        results of the current test set."""
        stats = {"loss": stage_loss}
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


class RetrievalBrain(VGSBrain):
    """A Brain evaluated by retrieval recall between two embeddings.

    Out of training, batches append to ``self.retrieval_stats`` (a
    :class:`speechbrain_vgs.metrics.RetrievalStats` scoring with
    :meth:`retrieval_similarity`); the stage's statistics are its recall@k
    (``recall_ks``, optional, default ``(1, 5, 10)``) and ``mean_r10``, by
    which the best checkpoint is kept.
    """

    HPARAMS_OPTIONAL = {"recall_ks": (1, 5, 10)}
    best_checkpoint = {"max_key": BEST_KEY}

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
