"""Command line: ``python -m speechbrain_vgs.dataio.synthvgs``.

Example: ``python -m speechbrain_vgs.dataio.synthvgs --size small
--out data/SynthVGS-small --seed 1234 --langs en,de,sw --jobs 2``

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import json
import sys

from speechbrain_vgs.dataio.synthvgs import LANGS, SIZES, build_synthvgs


def main(argv=None):
    """Parses the arguments, builds the corpus and prints its summary."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_vgs.dataio.synthvgs",
        description="Generate the SynthVGS corpus (images, captions in "
        "several languages, synthetic speech, test conditions A-D).",
    )
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
    args = parser.parse_args(argv)
    try:
        summary = build_synthvgs(
            args.out, args.size, args.seed, args.langs, args.jobs
        )
    except (ValueError, OSError, RuntimeError) as e:
        parser.exit(2, f"error: {e}\n")
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
