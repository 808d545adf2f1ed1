"""Prints what a SpeechCLIP (or grounding) recipe measured.

Reads ``results.json`` of an output folder (and ``keywords_<set>.json``
when the model has cascaded keywords) and prints, per test set,
speech<->image recall, zero-shot speech<->text recall and keyword hit
rates next to their baseline, then the keywords heard in a few test
utterances::

    python -m speechbrain_vgs.report results/SynthVGS/SpeechCLIP/cascaded/1234

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import os

from speechbrain_vgs.dataio.manifest import read_json
from speechbrain_vgs.examples_page import evenly_spaced

ROWS = [
    ("speech -> image", "speech_to_image"),
    ("image -> speech", "image_to_speech"),
    ("speech -> text (zero-shot)", "speech_to_text"),
    ("text -> speech (zero-shot)", "text_to_speech"),
]
# what a keyword hit rate is compared with (see KeywordHitStats)
REFERENCES = [("most frequent subword", "baseline_"), ("chance", "chance_")]


def format_report(output_folder, examples=3, example_set=None):
    """The report of one recipe output folder, as text.

    Arguments
    ---------
    output_folder : str
        Holds ``results.json`` (and ``keywords_<set>.json``).
    examples : int
        How many utterances' keywords to show (spread evenly over the
        set's utterances, sorted by id).
    example_set : str, optional
        The test set the examples come from (default: the first one).

    Returns
    -------
    str

    Example
    -------
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> write_json(tmp / "results.json", {"test": {
    ...     "speech_to_image_r1": 0.1, "speech_to_image_r10": 0.5,
    ...     "keyword_hit_top1": 0.4, "baseline_keyword_hit_top1": 0.3,
    ...     "chance_keyword_hit_top1": 0.1}})
    >>> write_json(tmp / "keywords_test.json", {"u1": {
    ...     "text": "a red circle", "keywords": [["red", "blue"], ["circle"]]}})
    >>> print(format_report(tmp))  # doctest: +NORMALIZE_WHITESPACE
    test
      speech -> image             R@1  10.0  R@10  50.0
      keyword hit top-1           40.0  (most frequent subword: 30.0;
                                         chance: 10.0)
      u1: "a red circle" -> red circle
    """
    results = read_json(os.path.join(output_folder, "results.json"))
    lines = []
    for name, metrics in results.items():
        lines.append(name)
        for label, prefix in ROWS:
            recalls = [
                f"R@{k} {100 * metrics[f'{prefix}_r{k}']:5.1f}"
                for k in (1, 5, 10)
                if f"{prefix}_r{k}" in metrics
            ]
            if recalls:
                lines.append(f"  {label:<27} " + "  ".join(recalls))
        for n in (1, 5):
            key = f"keyword_hit_top{n}"
            if key in metrics:
                references = [
                    f"{label}: {100 * metrics[prefix + key]:.1f}"
                    for label, prefix in REFERENCES
                    if prefix + key in metrics
                ]
                lines.append(
                    f"  {f'keyword hit top-{n}':<27} "
                    f"{100 * metrics[key]:.1f}  ({'; '.join(references)})"
                )
    example_set = example_set or next(iter(results), None)
    path = os.path.join(output_folder, f"keywords_{example_set}.json")
    if examples and os.path.isfile(path):
        keywords = read_json(path)
        for utt_id in evenly_spaced(sorted(keywords), examples):
            entry = keywords[utt_id]
            heard = " ".join(slot[0] for slot in entry["keywords"])
            lines.append(f'  {utt_id}: "{entry["text"]}" -> {heard}')
    return "\n".join(lines)


def main(argv=None):
    """Command line: ``python -m speechbrain_vgs.report FOLDER``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output_folder", help="a recipe's output folder")
    parser.add_argument(
        "--examples", type=int, default=3, help="utterances to show"
    )
    parser.add_argument("--example_set", help="test set of the examples")
    args = parser.parse_args(argv)
    print(format_report(args.output_folder, args.examples, args.example_set))


if __name__ == "__main__":
    main()
