"""The ``speechbrain-vgs`` command, installed with the package.

``speechbrain-vgs search-keyword MODEL KEYWORD FOLDER`` ranks the wav
files of ``FOLDER`` by the probability that they say ``KEYWORD``, with the
keyword spotter trained in ``MODEL`` (a keyword spotting recipe's output
folder, see :class:`speechbrain_vgs.inference.KeywordSpotter`)::

    speechbrain-vgs search-keyword results/SynthVGS/KWS/crosslingual_sw/1234 \\
        red data/SynthVGS-small/wavs/sw/test_A --top_k 5

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import os
import sys
import tempfile


def parse_args(argv):
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="speechbrain-vgs",
        description="Visually grounded speech tools for SpeechBrain.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser(
        "search-keyword",
        help="rank the wav files of a folder for a written keyword",
    )
    search.add_argument(
        "model", help="output folder of a keyword spotting recipe"
    )
    search.add_argument("keyword", help="a keyword of the model")
    search.add_argument("folder", help="folder of .wav files (recursive)")
    search.add_argument(
        "--top_k", type=int, default=10, help="how many to print (10)"
    )
    search.add_argument(
        "--device", default="cpu", help="torch device (cpu, cuda:0 ...)"
    )
    search.add_argument(
        "--savedir",
        default=None,
        help="where the model's files are gathered (a temporary folder)",
    )
    return parser.parse_args(argv)


def search_keyword(args, out=sys.stdout):
    """Prints ``rank score path`` lines for the best ``top_k`` files."""
    from speechbrain_vgs.inference import KeywordSpotter

    if not os.path.isfile(os.path.join(args.model, "speech_net.ckpt")):
        raise SystemExit(
            f"{args.model}: not a trained keyword spotter (no "
            "speech_net.ckpt; run a recipes/*/KWS recipe first)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        spotter = KeywordSpotter.from_hparams(
            source=os.path.abspath(args.model),
            savedir=args.savedir or tmp,
            run_opts={"device": args.device},
        )
        try:
            ranked = spotter.search(args.folder, args.keyword, args.top_k)
        except (ValueError, FileNotFoundError) as error:
            raise SystemExit(f"speechbrain-vgs: {error}") from None
    for rank, (path, score) in enumerate(ranked, start=1):
        print(f"{rank:3d}  {score:.3f}  {path}", file=out)


def main(argv=None):
    """Entry point of the ``speechbrain-vgs`` command."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "search-keyword":
        search_keyword(args)


if __name__ == "__main__":
    main()
