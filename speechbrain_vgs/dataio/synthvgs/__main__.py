"""Command line: ``python -m speechbrain_vgs.dataio.synthvgs`` (also
``speechbrain-vgs build-synthvgs``).

Example: ``python -m speechbrain_vgs.dataio.synthvgs --size small
--out data/SynthVGS-small --seed 1234 --langs en,de,sw --jobs 2``

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import sys

from speechbrain_vgs.dataio.synthvgs import LANGS, SIZES, build_synthvgs
from speechbrain_vgs.progress import show_progress


def add_build_arguments(parser):
    """Adds the build's options to an ``argparse`` parser."""
    parser.add_argument(
        "--size", default="tiny", help=f"one of {', '.join(SIZES)}"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--langs",
        default=",".join(LANGS),
        help=f"comma-separated languages among {','.join(LANGS)}",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="processes (default: all cores)"
    )
    parser.add_argument(
        "--noprogressbar", action="store_true", help="no progress bars"
    )


def build(args, out=sys.stdout):
    """Builds the corpus the parsed options describe and prints its
    summary."""
    show_progress(not args.noprogressbar)
    summary = build_synthvgs(
        args.out, args.size, args.seed, args.langs, args.jobs
    )
    json.dump(summary, out, indent=2)
    out.write("\n")


def main(argv=None):
    """Parses the arguments and builds the corpus."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_vgs.dataio.synthvgs",
        description="Generate the SynthVGS corpus (images, captions in "
        "several languages, synthetic speech, test conditions A-D).",
    )
    add_build_arguments(parser)
    try:
        build(parser.parse_args(argv))
    except (ValueError, OSError, RuntimeError) as e:
        parser.exit(2, f"error: {e}\n")


if __name__ == "__main__":
    main()
