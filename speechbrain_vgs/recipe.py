"""The steps every recipe shares, so that recipes stay thin.

A recipe's ``train.py`` is: :func:`load_recipe` (command line, hparams,
experiment folder), its own data preparation, then :func:`train_and_test`.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.sampler import DynamicBatchSampler

from speechbrain_vgs.brains import GroundingBrain, SpeechCLIPBrain
from speechbrain_vgs.brains.base import check_hparams
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.dataio.prep_utils import manifest_paths
from speechbrain_vgs.dataio.synthvgs import build_synthvgs


def load_recipe(argv, brain_class):
    """Parses the command line, loads the hparams, checks them against the
    recipe's Brain, sets up the experiment.

    Arguments
    ---------
    argv : list of str
        ``sys.argv[1:]``: the yaml file, SpeechBrain run options
        (``--device``, ``--debug``, ``--precision`` ...) and overrides
        of yaml keys (``--lr 0.1``).
    brain_class : type
        The Brain the recipe trains: its declared hparams are checked at
        once (:func:`speechbrain_vgs.brains.base.check_hparams`), so a
        missing or misspelt key fails before any data preparation.

    Returns
    -------
    hparams : dict
        The loaded hyperparameters.
    run_opts : RunOptions
        SpeechBrain run options for the Brain.
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    check_hparams(brain_class, hparams, hparams.get("modules", {}))
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return hparams, run_opts


def train_loader_options(dataset, hparams):
    """Train loader options, with a length-bucketed sampler if asked.

    With ``dynamic_batching: True`` in the hparams, batches are built by
    SpeechBrain's ``DynamicBatchSampler`` from ``dynamic_batch_sampler``
    (``max_batch_length`` in seconds of padded audio, ``bucket_boundaries``
    in seconds, ``max_batch_ex``, ...); otherwise ``train_dataloader_opts``
    is used. Durations count up to ``max_audio_seconds`` when the hparams
    crop training audio to it.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> ds = DynamicItemDataset({str(i): {"duration": 1.0 + i}
    ...                          for i in range(8)})
    >>> opts = train_loader_options(ds, {"dynamic_batching": True,
    ...     "max_audio_seconds": 4.0,
    ...     "dynamic_batch_sampler": {"max_batch_length": 8,
    ...                               "bucket_boundaries": [2.0, 4.0]}})
    >>> sorted(len(b) for b in opts["batch_sampler"])  # 5-8 s count as 4 s
    [2, 2, 2, 2]
    """
    options = dict(hparams.get("train_dataloader_opts", {}))
    if hparams.get("dynamic_batching", False):
        for option in ("batch_size", "shuffle", "drop_last"):
            options.pop(option, None)
        max_seconds = hparams.get("max_audio_seconds") or float("inf")
        options["batch_sampler"] = DynamicBatchSampler(
            dataset,
            length_func=lambda entry: min(entry["duration"], max_seconds),
            **hparams["dynamic_batch_sampler"],
        )
    return options


def grounding_datasets(hparams, manifests, replacements):
    """Image/spoken-caption datasets configured by a recipe's hparams.

    Reads ``image_size`` and ``sorting``, and optionally ``eval_resize``,
    ``train_crop``, ``crop_scale`` and ``max_audio_seconds`` (see
    :func:`speechbrain_vgs.dataio.pipelines.vgs_datasets`).

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.
    manifests : dict
        ``{set name: manifest path}`` including ``"train"``.
    replacements : dict
        Values of the ``{data_root}``/``{image_root}`` placeholders.

    Returns
    -------
    dict
        ``{set name: DynamicItemDataset}``.
    """
    return vgs_datasets(
        manifests,
        replacements,
        image_size=hparams["image_size"],
        sorting=hparams["sorting"],
        eval_resize=hparams.get("eval_resize"),
        train_crop=hparams.get("train_crop", False),
        crop_scale=hparams.get("crop_scale"),
        max_audio_seconds=hparams.get("max_audio_seconds"),
    )


def train_and_test(brain_class, hparams, run_opts, datasets, test_sets):
    """Trains on ``datasets["train"]``, validates on ``datasets["valid"]``,
    then tests the best checkpoint on each of ``test_sets``.

    Arguments
    ---------
    brain_class : type
        A Brain with ``evaluate_sets`` (e.g. ``GroundingBrain``).
    hparams : dict
        Needs ``modules``, ``opt_class``, ``checkpointer``,
        ``epoch_counter`` and the ``*_dataloader_opts``.
    run_opts : RunOptions
        From :func:`load_recipe`.
    datasets : dict
        ``{name: dataset}`` with ``train``, ``valid`` and the test sets.
    test_sets : list of str
        Names of the test sets; they become the keys of ``results.json``.

    Returns
    -------
    Brain
        The trained brain (its ``results`` hold the test metrics).
    """
    brain = brain_class(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=train_loader_options(datasets["train"], hparams),
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    brain.evaluate_sets(
        {name: datasets[name] for name in test_sets},
        hparams["test_dataloader_opts"],
    )
    return brain


def prepare_manifests(hparams, prepare, options, image_root):
    """Writes a real corpus's manifests (on the main process only).

    Calls ``prepare(data_folder, save_folder=manifest_folder, skip_prep,
    **options)``.

    Arguments
    ---------
    hparams : dict
        Needs ``data_folder``, ``manifest_folder`` and ``skip_prep``.
    prepare : callable
        The corpus preparer (e.g. ``prepare_flickr8k``).
    options : dict
        Its corpus-specific arguments.
    image_root : str
        Folder the manifests' ``{image_root}`` stands for.

    Returns
    -------
    manifests : dict
        ``{"train", "valid", "test": manifest path}``.
    replacements : dict
        The ``{data_root}``/``{image_root}`` placeholders' values.
    """
    sb.utils.distributed.run_on_main(
        prepare,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            "skip_prep": hparams["skip_prep"],
            **options,
        },
    )
    replacements = {
        "data_root": hparams["data_folder"],
        "image_root": image_root,
    }
    return manifest_paths(hparams["manifest_folder"]), replacements


def prepare_and_train(hparams, run_opts, prepare, options, image_root):
    """A real-corpus grounding recipe after :func:`load_recipe`: the
    manifests (see :func:`prepare_manifests`), then a ``GroundingBrain``
    trained and tested on ``"test"``.

    Arguments
    ---------
    hparams : dict
        Needs what :func:`prepare_manifests` and :func:`train_and_test`
        need.
    run_opts : RunOptions
        From :func:`load_recipe`.
    prepare : callable
        The corpus preparer (e.g. ``prepare_flickr8k``).
    options : dict
        Its corpus-specific arguments.
    image_root : str
        Folder the manifests' ``{image_root}`` stands for.

    Returns
    -------
    GroundingBrain
        The trained brain.
    """
    manifests, replacements = prepare_manifests(
        hparams, prepare, options, image_root
    )
    datasets = grounding_datasets(hparams, manifests, replacements)
    return train_and_test(GroundingBrain, hparams, run_opts, datasets, ["test"])


def synthvgs_folder(hparams):
    """Builds SynthVGS if absent (on the main process) and returns its
    folder.

    Reads ``data_folder``, ``synthvgs_size`` and ``synthvgs_seed``.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    str
        ``data_folder``.
    """
    sb.utils.distributed.run_on_main(
        build_synthvgs,
        kwargs={
            "out": hparams["data_folder"],
            "size": hparams["synthvgs_size"],
            "seed": hparams["synthvgs_seed"],
        },
    )
    return hparams["data_folder"]


def synthvgs_manifests(hparams):
    """Builds SynthVGS if absent and names the manifests a recipe uses.

    Reads what :func:`synthvgs_folder` reads, ``lang`` and ``test_sets``.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    manifests : dict
        ``{set name: manifest path}`` for train, valid and the test sets.
    replacements : dict
        The ``{data_root}``/``{image_root}`` placeholders' values.
    """
    data_folder = synthvgs_folder(hparams)
    folder = os.path.join(data_folder, "manifests", hparams["lang"])
    sets = ["train", "valid", *hparams["test_sets"]]
    manifests = {name: os.path.join(folder, f"{name}.json") for name in sets}
    return manifests, {"data_root": data_folder, "image_root": data_folder}


def train_speechclip(hparams, run_opts, manifests, replacements, test_sets):
    """Trains and tests SpeechCLIP, then saves it for inference.

    The datasets carry image paths (the frozen CLIP embeds and caches the
    images) and caption texts; training audio is randomly cropped to
    ``max_audio_seconds``. With ``train_caption_vocabulary: True`` the
    keywords may only be subwords of the *training* captions. The best
    model goes to ``<output_folder>/model.ckpt``, which, with the
    experiment's ``hyperparams.yaml``, loads through
    :class:`speechbrain_vgs.inference.SpeechCLIPInference`.

    Arguments
    ---------
    hparams : dict
        Needs ``model``, ``frozen_clip``, ``sorting``, ``output_folder``
        and what :func:`train_and_test` needs.
    run_opts : RunOptions
        From :func:`load_recipe`.
    manifests : dict
        ``{set name: manifest path}`` with train, valid and the test sets.
    replacements : dict
        Values of the manifests' placeholders.
    test_sets : list of str
        Names of the test sets (keys of ``results.json``).

    Returns
    -------
    SpeechCLIPBrain
        The trained brain.
    """
    datasets = vgs_datasets(
        manifests,
        replacements,
        image_size=None,
        sorting=hparams["sorting"],
        max_audio_seconds=hparams.get("max_audio_seconds"),
        text=True,
    )
    model, clip = hparams["model"], hparams["frozen_clip"]
    vocabulary = clip.vocabulary
    if hparams.get("train_caption_vocabulary", False):
        texts = [entry["text"] for entry in datasets["train"].data.values()]
        vocabulary = clip.subword_vocabulary(texts)
    model.set_vocabulary(vocabulary)
    brain = train_and_test(
        SpeechCLIPBrain, hparams, run_opts, datasets, test_sets
    )
    brain.save_for_inference(
        os.path.join(hparams["output_folder"], "model.ckpt")
    )
    return brain
