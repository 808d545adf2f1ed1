"""The ``speechbrain-vgs`` command, installed with the package.

Each verb has its ``--help``. MODEL is a recipe's output folder: a
SpeechCLIP recipe (``recipes/*/SpeechCLIP``), a grounding recipe
(``recipes/*/VGS``) or a keyword spotting recipe (``recipes/*/KWS``);
:func:`speechbrain_vgs.inference.load_inference` loads it::

    speechbrain-vgs build-synthvgs --size small --out data/SynthVGS-small
    speechbrain-vgs search-images MODEL caption.wav images/ --top_k 5
    speechbrain-vgs search-speech MODEL "a red circle" wavs/ --top_k 5
    speechbrain-vgs search-speech MODEL photo.png wavs/
    speechbrain-vgs search-speech KWS_MODEL red wavs/
    speechbrain-vgs keywords MODEL caption.wav
    speechbrain-vgs report MODEL
    speechbrain-vgs convert CHECKPOINT OUT_FOLDER [--reduced_vocabulary FILE]

Searches print ``rank score path`` lines, best first. ``convert`` turns a
released checkpoint (SpeechCLIP / SpeechCLIP+ Lightning checkpoint, fairseq
HuBERT, ResDAVEnet-VQ release folder) into a model folder
(:func:`speechbrain_vgs.converters.convert_checkpoint`).

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import os
import sys

VERBS = {
    "build-synthvgs": "generate the SynthVGS corpus",
    "search-images": "rank the images of a folder for a spoken caption",
    "search-speech": "rank the wavs of a folder for a text, an image or a "
    "keyword",
    "keywords": "print the keywords a SpeechCLIP (cascaded or hybrid) hears",
    "report": "print what a recipe's output folder measured",
    "convert": "convert a released checkpoint into a model folder",
}


def parse_args(argv):
    """The command line (see the module docstring)."""
    from speechbrain_vgs.dataio.synthvgs.__main__ import add_build_arguments

    parser = argparse.ArgumentParser(
        prog="speechbrain-vgs",
        description="Visually grounded speech tools for SpeechBrain.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    parsers = {
        verb: verbs.add_parser(verb, help=text, description=text)
        for verb, text in VERBS.items()
    }
    add_build_arguments(parsers["build-synthvgs"])
    for verb in ("search-images", "search-speech", "keywords"):
        parsers[verb].add_argument(
            "model", help="output folder of a SpeechCLIP, VGS or KWS recipe"
        )
    search = parsers["search-images"]
    search.add_argument("wav", help="the spoken query (.wav)")
    search.add_argument("images", help="folder of images (recursive)")
    search = parsers["search-speech"]
    search.add_argument(
        "query",
        help="an image file, a text (SpeechCLIP) or a keyword (KWS)",
    )
    search.add_argument("wavs", help="folder of .wav files (recursive)")
    for verb in ("search-images", "search-speech"):
        parsers[verb].add_argument(
            "--top_k", type=int, default=10, help="how many to print (10)"
        )
    parsers["keywords"].add_argument("wav", help="a .wav file")
    parsers["keywords"].add_argument(
        "--top_n", type=int, default=3, help="subwords per slot (3)"
    )
    for verb in ("search-images", "search-speech", "keywords"):
        parsers[verb].add_argument(
            "--device", default="cpu", help="torch device (cpu, cuda:0 ...)"
        )
    report = parsers["report"]
    report.add_argument("folder", help="a recipe's output folder")
    report.add_argument(
        "--examples", type=int, default=3, help="utterances to show (3)"
    )
    report.add_argument("--example_set", help="test set of the examples")
    convert = parsers["convert"]
    convert.add_argument(
        "checkpoint",
        help="SpeechCLIP(+) .ckpt, fairseq HuBERT .pt or ResDAVEnet-VQ folder",
    )
    convert.add_argument("out_folder", help="the model folder to write")
    convert.add_argument(
        "--reduced_vocabulary",
        help="SpeechCLIP keywords: the authors' text_clip_vocab_usage_byfreq"
        ".npy of the checkpoint's corpus",
    )
    convert.add_argument(
        "--hubert",
        help="SpeechCLIP without HuBERT weights: the fairseq HuBERT .pt",
    )
    convert.add_argument(
        "--hparams_file", help="the recipe hparams the folder is made from"
    )
    convert.add_argument(
        "--data_folder", help="the corpus, for running the recipe"
    )
    convert.add_argument(
        "--image_folder",
        help="the images, for running the recipe (MSCOCO, Places205)",
    )
    convert.add_argument(
        "--overrides",
        help='other hparams, as YAML: "{clip_checkpoint: ViT-B-32.pt}"',
    )
    return parser.parse_args(argv)


def print_ranked(ranked, out):
    """Prints ``rank score path`` lines."""
    for rank, (path, score) in enumerate(ranked, start=1):
        print(f"{rank:3d}  {score:.3f}  {path}", file=out)


def search_images(model, args, out):
    """The ``top_k`` images of a folder for a wav."""
    from speechbrain_vgs.inference import KeywordSpotter, image_files

    if isinstance(model, KeywordSpotter):
        raise ValueError(
            f"{args.model} is a keyword spotter, which has no image side: "
            "give a SpeechCLIP or VGS output folder"
        )
    images = image_files(args.images)
    scores, ranking = model.search_images(args.wav, images)
    ranked = [(images[i], scores[i].item()) for i in ranking[: args.top_k]]
    print_ranked(ranked, out)


def search_speech(model, args, out):
    """The ``top_k`` wavs of a folder for a text, an image or a keyword."""
    from speechbrain_vgs.inference import KeywordSpotter, wav_files

    if isinstance(model, KeywordSpotter):
        ranked = model.search(args.wavs, args.query, args.top_k)
    else:
        wavs = wav_files(args.wavs)
        scores, ranking = model.search_speech(args.query, wavs)
        ranked = [(wavs[i], scores[i].item()) for i in ranking[: args.top_k]]
    print_ranked(ranked, out)


def keywords(model, args, out):
    """One line per keyword slot: its ``top_n`` subwords."""
    from speechbrain_vgs.inference import SpeechCLIPInference

    if not isinstance(model, SpeechCLIPInference):
        raise ValueError(
            f"{args.model} is not a SpeechCLIP: keywords come from a "
            "cascaded or hybrid SpeechCLIP (recipes/*/SpeechCLIP); for a "
            "keyword spotter, use search-speech MODEL KEYWORD FOLDER"
        )
    if not os.path.isfile(args.wav):
        raise FileNotFoundError(f"{args.wav}: no such file")
    try:
        slots = model.keywords(args.wav, top_n=args.top_n)
    except ValueError as error:
        raise ValueError(
            f"{args.model}: {error} (train hparams/cascaded.yaml or "
            "hybrid.yaml for keywords)"
        ) from None
    for k, words in enumerate(slots, start=1):
        print(f"{k:2d}  {' '.join(words)}", file=out)


def convert(args, out):
    """Converts a released checkpoint; prints its family and the folder."""
    import yaml

    from speechbrain_vgs.converters import convert_checkpoint

    options = {
        key: getattr(args, key)
        for key in (
            "reduced_vocabulary",
            "hubert",
            "hparams_file",
            "data_folder",
            "image_folder",
        )
        if getattr(args, key) is not None
    }
    if args.overrides is not None:
        overrides = yaml.safe_load(args.overrides)
        if not isinstance(overrides, dict):
            raise ValueError(
                f"--overrides {args.overrides!r} is not a YAML mapping"
            )
        options["overrides"] = overrides
    family, folder = convert_checkpoint(
        args.checkpoint, args.out_folder, **options
    )
    print(f"{family}: {args.checkpoint} -> {folder}", file=out)


def run(args, out=sys.stdout):
    """Runs one verb; raises ``ValueError`` or ``OSError`` (e.g.
    ``FileNotFoundError``) for what a user can fix."""
    if args.verb == "build-synthvgs":
        from speechbrain_vgs.dataio.synthvgs.__main__ import build

        build(args, out)
        return
    if args.verb == "convert":
        convert(args, out)
        return
    if args.verb == "report":
        from speechbrain_vgs.report import format_report

        results = os.path.join(args.folder, "results.json")
        if not os.path.isfile(results):
            raise FileNotFoundError(
                f"{args.folder}: no results.json: not the output folder of "
                "a finished recipe (recipes write it after testing)"
            )
        print(
            format_report(args.folder, args.examples, args.example_set),
            file=out,
        )
        return
    from speechbrain_vgs.inference import load_inference

    model = load_inference(args.model, device=args.device)
    verb = {
        "search-images": search_images,
        "search-speech": search_speech,
        "keywords": keywords,
    }[args.verb]
    verb(model, args, out)


def main(argv=None):
    """Entry point of the ``speechbrain-vgs`` command."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fixable = (ValueError, OSError)
    if args.verb == "build-synthvgs":
        fixable += (RuntimeError,)  # e.g. a missing speech synthesizer
    try:
        run(args)
    except fixable as error:
        raise SystemExit(f"speechbrain-vgs {args.verb}: {error}") from None


if __name__ == "__main__":
    main()
