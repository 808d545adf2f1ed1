"""The steps every recipe shares, so that recipes stay thin.

A recipe's ``train.py`` is: :func:`load_recipe` (command line, hparams,
experiment folder), its own data preparation, then :func:`train_and_test`.

Authors
 * speechbrain-vgs developers 2026
"""

import logging
import os

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.brains import (
    CTCBrain,
    GroundingBrain,
    KeywordSpottingBrain,
    SpeechCLIPBrain,
)
from speechbrain_vgs.brains.base import HparamsError, check_hparams
from speechbrain_vgs.checkpoints import save_torch
from speechbrain_vgs.dataio.asr import asr_datasets
from speechbrain_vgs.dataio.captions import read_synthvgs_captions
from speechbrain_vgs.dataio.keywords import (
    Lexicon,
    keyword_dataset,
    keyword_vocabulary,
    stop_words,
)
from speechbrain_vgs.dataio.manifest import (
    VGS_KEYS,
    DataError,
    check_sets,
    load_manifest,
    read_json,
)
from speechbrain_vgs.dataio.pipelines import vgs_datasets
from speechbrain_vgs.dataio.prep_utils import manifest_paths
from speechbrain_vgs.dataio.synthvgs import build_synthvgs
from speechbrain_vgs.lobes.grounded import export_speech_encoder
from speechbrain_vgs.lobes.ssl import SSLUpstream
from speechbrain_vgs.progress import show_progress
from speechbrain_vgs.tagging import TARGETS, image_targets

logger = logging.getLogger(__name__)


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
        SpeechBrain run options for the Brain (``--noprogressbar`` also
        hides this package's progress bars,
        :mod:`speechbrain_vgs.progress`).
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    show_progress(not run_opts.get("noprogressbar", False))
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    check_hparams(brain_class, hparams, hparams.get("modules", {}))
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    # SpeechBrain's log file takes DEBUG records: PIL's would be one per
    # decoded image chunk
    logging.getLogger("PIL").setLevel(logging.INFO)
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


def prepare_on_main(prepare, skip_prep=False, **options):
    """Runs a preparer on the main process and returns its manifests on
    every process.

    Arguments
    ---------
    prepare : callable
        A preparer taking ``skip_prep`` that returns ``{name: manifest
        path}`` (e.g. ``prepare_timit``); called again with
        ``skip_prep=True`` it only names the paths.
    skip_prep : bool
        Skips the preparation (the manifests exist).
    **options
        The preparer's other arguments.

    Returns
    -------
    dict
        ``{manifest name: path}``.
    """
    sb.utils.distributed.run_on_main(
        prepare, kwargs={**options, "skip_prep": skip_prep}
    )
    return prepare(**options, skip_prep=True)


def prepare_and_train(hparams, run_opts, prepare, options, image_root):
    """A real-corpus grounding recipe after :func:`load_recipe`: the
    manifests (see :func:`prepare_manifests`), then a ``GroundingBrain``
    trained and tested on ``"test"`` and its speech encoder exported
    (:func:`train_grounding`).

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
    return train_grounding(hparams, run_opts, manifests, replacements, ["test"])


def train_grounding(hparams, run_opts, manifests, replacements, test_sets):
    """Trains and tests a :class:`GroundingBrain`, saves the best model to
    ``<output_folder>/model.ckpt`` (for
    :class:`speechbrain_vgs.inference.GroundingInference`) and exports its
    speech encoder (see :func:`export_encoder`). With ``init_from`` the
    model starts from another folder's weights (:func:`init_model`);
    SpeechBrain's ``--test_only`` then tests them without training.

    Arguments
    ---------
    hparams : dict
        Needs what :func:`grounding_datasets`, :func:`train_and_test` and
        :func:`export_encoder` need; optionally ``init_from``.
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
    GroundingBrain
        The trained brain.
    """
    datasets = grounding_datasets(hparams, manifests, replacements)
    if hparams.get("init_from") is not None:
        init_model(hparams["model"], hparams["init_from"])
    brain = train_and_test(
        GroundingBrain, hparams, run_opts, datasets, test_sets
    )
    brain.save_for_inference(
        os.path.join(hparams["output_folder"], "model.ckpt")
    )
    export_encoder(hparams, brain.results)
    return brain


def init_model(model, folder):
    """Loads the ``model.ckpt`` of an output folder into ``model``.

    The folder is a grounding or SpeechCLIP recipe's output folder or a
    converted release (:mod:`speechbrain_vgs.converters`); its model must
    have the architecture of ``model`` (every entry present, with its
    shape), except the weights of an SSL upstream that was frozen there
    (not in its checkpoint): fine-tuned here, it starts from its own
    ``source`` (for a converted SpeechCLIP, ``<folder>/hubert``).
    Checkpoints of the run's own ``save_folder`` are recovered after this,
    so a resumed fine-tuning continues from its last checkpoint.

    Arguments
    ---------
    model : torch.nn.Module
        The recipe's ``model``.
    folder : str
        The folder holding ``model.ckpt``.

    Raises
    ------
    DataError
        Naming the file, if it is absent, unreadable, or does not fit.

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> save_torch(torch.nn.Linear(2, 1).state_dict(), folder / "model.ckpt")
    >>> init_model(torch.nn.Linear(2, 1), folder)
    >>> try:
    ...     init_model(torch.nn.Linear(3, 1), folder)
    ... except DataError as error:
    ...     print(str(error).split(": ")[1])
    does not fit the recipe's model (another architecture than the yaml's?)
    """
    path = os.path.join(os.fspath(folder), "model.ckpt")
    if not os.path.isfile(path):
        raise DataError(
            f"{path}: not found (init_from names the output folder of a "
            "grounding or SpeechCLIP recipe or a converted release)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"{path}: cannot be read: {error}") from None
    # an upstream frozen in the folder's model is not in its checkpoint;
    # fine-tuned here, it keeps the weights loaded from its own source
    sources = tuple(
        f"{name}.ssl." if name else "ssl."
        for name, module in model.named_modules()
        if isinstance(module, SSLUpstream)
    )
    try:
        keys = model.load_state_dict(state, strict=False)
        missing = [k for k in keys.missing_keys if not k.startswith(sources)]
        if missing or keys.unexpected_keys:
            raise RuntimeError(
                f"missing keys {missing[:8]}, unexpected keys "
                f"{keys.unexpected_keys[:8]}"
            )
    except (RuntimeError, TypeError, AttributeError) as error:
        lines = [x.strip() for x in str(error).splitlines() if x.strip()]
        raise DataError(
            f"{path}: does not fit the recipe's model (another architecture "
            f"than the yaml's?): {' '.join(lines)[:600]}"
        ) from None
    if len(keys.missing_keys) > len(missing):
        logger.info(
            "%s: has no upstream weights (frozen there); the upstream keeps "
            "those of its source (hubert_source)",
            path,
        )


def export_encoder(hparams, results):
    """Exports the tested (best) speech encoder of a grounding or
    SpeechCLIP recipe into ``export_folder`` (on the main process), where
    :class:`speechbrain_vgs.lobes.grounded.GroundedFeatures` loads it.

    Arguments
    ---------
    hparams : dict
        Needs ``export_folder``, ``output_folder`` and either ``upstream``
        (SpeechCLIP) or ``audio_encoder`` and ``compute_features``.
    results : dict
        The test results, kept in the export's ``encoder.json``.
    """
    if not if_main_process():
        return
    info = {"recipe_output": hparams["output_folder"], "results": results}
    if "upstream" in hparams:
        export_speech_encoder(
            hparams["export_folder"], hparams["upstream"], info=info
        )
    else:
        export_speech_encoder(
            hparams["export_folder"],
            hparams["audio_encoder"],
            hparams["compute_features"],
            info,
        )


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

    Raises
    ------
    DataError
        Naming a set (e.g. of ``test_sets``) that has no manifest, and the
        manifests there are.
    """
    data_folder = synthvgs_folder(hparams)
    folder = os.path.join(data_folder, "manifests", hparams["lang"])
    sets = ["train", "valid", *hparams["test_sets"]]
    manifests = {name: os.path.join(folder, f"{name}.json") for name in sets}
    check_sets(manifests)
    return manifests, {"data_root": data_folder, "image_root": data_folder}


def train_speechclip(hparams, run_opts, manifests, replacements, test_sets):
    """Trains and tests SpeechCLIP, then saves it for inference and
    exports its upstream (:func:`export_encoder`).

    The datasets carry image paths (the frozen CLIP embeds and caches the
    images) and caption texts; training audio is randomly cropped to
    ``max_audio_seconds``. With ``train_caption_vocabulary: True`` the
    keywords may only be subwords of the *training* captions. The best
    model goes to ``<output_folder>/model.ckpt``, which, with the
    experiment's ``hyperparams.yaml``, loads through
    :class:`speechbrain_vgs.inference.SpeechCLIPInference`. With
    ``init_from`` the model (keyword vocabulary included) starts from
    another folder's weights (:func:`init_model`, e.g. a converted
    SpeechCLIP release); SpeechBrain's ``--test_only`` then tests them
    without training.

    Arguments
    ---------
    hparams : dict
        Needs ``model``, ``frozen_clip``, ``sorting``, ``output_folder``
        and what :func:`train_and_test` needs; optionally ``init_from``.
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
    if hparams.get("init_from") is not None:
        init_model(model, hparams["init_from"])
    brain = train_and_test(
        SpeechCLIPBrain, hparams, run_opts, datasets, test_sets
    )
    brain.save_for_inference(
        os.path.join(hparams["output_folder"], "model.ckpt")
    )
    export_encoder(hparams, brain.results)
    return brain


def train_recognizer(hparams, run_opts, manifests, replacements):
    """Trains and tests a CTC recogniser (:class:`CTCBrain`) on ASR
    manifests.

    Arguments
    ---------
    hparams : dict
        Needs ``units``, ``label_encoder``, ``save_folder`` and what
        :func:`train_and_test` needs.
    run_opts : RunOptions
        From :func:`load_recipe`.
    manifests : dict
        ``{set name: manifest path}``: ``train``, ``valid`` and the test
        sets (every other name; they become the keys of ``results.json``).
    replacements : dict
        Values of the manifests' ``{data_root}`` placeholder.

    Returns
    -------
    CTCBrain
        The trained brain.
    """
    datasets = asr_datasets(
        manifests,
        replacements,
        hparams["units"],
        hparams["label_encoder"],
        hparams["save_folder"],
    )
    test_sets = [name for name in manifests if name not in ("train", "valid")]
    return train_and_test(CTCBrain, hparams, run_opts, datasets, test_sets)


def train_keyword_spotter(
    hparams, run_opts, datasets, keywords, prior, evaluated
):
    """Trains and tests a keyword spotter, then saves it for inference.

    A speech net that scores with the keywords' words (e.g.
    :class:`speechbrain_vgs.lobes.kws.SpeechCLIPKeywordScorer`) has a
    ``set_keywords`` method; it is given them, and is tested without
    training.

    Arguments
    ---------
    hparams : dict
        Needs ``speech_net``, ``output_folder``, ``test_sets``, what
        :func:`train_and_test` needs and, for a trained net, ``keywords``
        (an empty ``CategoricalEncoder``, filled and saved as
        ``keywords.ckpt`` next to ``speech_net.ckpt``: the files the
        yaml's ``pretrainer`` loads for
        :class:`speechbrain_vgs.inference.KeywordSpotter`).
    run_opts : RunOptions
        From :func:`load_recipe`.
    datasets : dict
        ``{name: dataset}`` (see
        :func:`speechbrain_vgs.dataio.keywords.keyword_dataset`).
    keywords : list of str
        The vocabulary, in output order.
    prior : torch.Tensor
        ``[W]``, each keyword's mean training target (the prior baseline).
    evaluated : list of int
        Indices of the keywords with relevance judgements.

    Returns
    -------
    KeywordSpottingBrain
        The trained brain.
    """
    hparams["keyword_prior"] = prior
    hparams["evaluated_keywords"] = evaluated
    speech_net = hparams["speech_net"]
    if hasattr(speech_net, "set_keywords"):
        speech_net.set_keywords(keywords)
        brain = KeywordSpottingBrain(
            modules=hparams["modules"],
            hparams=hparams,
            run_opts=run_opts,
        )
        brain.evaluate_sets(
            {name: datasets[name] for name in hparams["test_sets"]},
            hparams["test_dataloader_opts"],
        )
        return brain
    brain = train_and_test(
        KeywordSpottingBrain, hparams, run_opts, datasets, hparams["test_sets"]
    )
    if if_main_process():
        encoder = hparams["keywords"]
        for keyword in keywords:
            encoder.add_label(keyword)
        path = os.path.join(hparams["output_folder"], "keywords.ckpt")
        encoder.save(path + ".tmp")
        os.replace(path + ".tmp", path)
        save_torch(
            speech_net.state_dict(),
            os.path.join(hparams["output_folder"], "speech_net.ckpt"),
        )
    return brain


def synthvgs_keyword_datasets(hparams, device="cpu"):
    """The keyword spotting data of a SynthVGS recipe.

    Keywords: the ``num_keywords`` most common content words of the
    training images' text captions in ``query_lang`` (never test captions).
    Targets (``targets``): ``visual`` or ``zero_shot`` image tags (see
    :func:`speechbrain_vgs.tagging.image_targets`; the visual tagger learns
    from the English captions of the training images, each tagged out of
    fold), ``transcript`` (the topline: the keywords whose
    concept each training utterance says, from its transcript), or
    ``none`` (a scorer that is not trained). Relevance of the test
    utterances: ``spoken`` (the utterance says the keyword's concept) and
    ``visible`` (the concept is in its scene), from ``lexicon.json`` and
    ``scenes.json``; keywords the lexicon does not know (e.g. "picture")
    are not evaluated.

    Arguments
    ---------
    hparams : dict
        Reads ``data_folder``, ``lang`` (speech), ``query_lang``,
        ``num_keywords``, ``targets``, ``sorting``, ``test_sets`` and what
        :func:`synthvgs_manifests` and
        :func:`speechbrain_vgs.tagging.image_targets` read.
    device : str
        Where CLIP embeds the images (the run's ``--device``).

    Returns
    -------
    datasets : dict
        ``{name: dataset}`` for train, valid and the test sets.
    keywords : list of str
        The vocabulary.
    prior : torch.Tensor or None
        ``[W]`` mean training target (``None`` without targets).
    evaluated : list of int
        Indices of the keywords with relevance judgements.
    """
    kind = hparams["targets"]
    if kind not in (*TARGETS, "transcript", "none"):
        raise HparamsError(
            f"targets must be one of {', '.join(TARGETS)}, transcript or "
            f"none, not {kind!r}"
        )
    manifests, replacements = synthvgs_manifests(hparams)
    folder = hparams["data_folder"]
    query = hparams["query_lang"]
    stop = stop_words(query)
    captions = read_synthvgs_captions(folder, query, splits=("train",))
    train_captions = {}
    for entry in captions["train"].values():
        path, texts = train_captions.setdefault(
            entry["image_id"], (entry["image"], [])
        )
        texts.append(entry["text"])
    keywords = keyword_vocabulary(
        [t for _, texts in train_captions.values() for t in texts],
        hparams["num_keywords"],
        stop,
    )
    lexicon = Lexicon.from_file(os.path.join(folder, "lexicon.json"))
    scenes = read_json(os.path.join(folder, "scenes.json"))
    entries = {
        name: load_manifest(path, (*VGS_KEYS, "text", "lang"))
        for name, path in manifests.items()
    }
    if kind == "transcript":
        tags = {}
        for name in ("train", "valid"):
            said = lexicon.spoken_relevance(entries[name], keywords, query)
            tags.update(
                {
                    u: torch.tensor([float(k in s) for k in keywords])
                    for u, s in said.items()
                }
            )
    elif kind == "none":
        tags = None
    else:
        images = {
            e["image_id"]: e["image"].format(**replacements)
            for name in ("train", "valid")
            for e in entries[name].values()
        }
        tags = image_targets(
            hparams, keywords, images, train_captions, stop, device
        )
    datasets = {}
    for name in ("train", "valid") if tags is not None else ():
        datasets[name] = keyword_dataset(
            entries[name],
            replacements,
            keywords,
            tags,
            {},
            hparams["sorting"] if name == "train" else "ascending",
            source=manifests[name],
        )
    for name in hparams["test_sets"]:
        relevance = {
            "spoken": lexicon.spoken_relevance(entries[name], keywords, query),
            "visible": lexicon.visible_relevance(
                entries[name], scenes, keywords, query
            ),
        }
        datasets[name] = keyword_dataset(
            entries[name],
            replacements,
            keywords,
            None,
            relevance,
            source=manifests[name],
        )
    prior = None
    if tags is not None:
        prior = torch.stack(
            [
                tags[u if u in tags else e["image_id"]]
                for u, e in entries["train"].items()
            ]
        ).mean(0)
    concepts = lexicon.keyword_concepts(keywords, query)
    evaluated = [i for i, c in enumerate(concepts) if c is not None]
    return datasets, keywords, prior, evaluated
