"""The layer-by-layer transfer study's table and plot (Hsu, Harwath &
Glass 2019): one recogniser per feature layer, each tested in a matched
condition and in shifted ones.

The results are ``{features: {protocol: {test set: {"per": PER %}}}}``
(each innermost dict is a run's ``results.json`` entry; ``"wer"`` works
too); ``protocols`` says which test set of each protocol is the matched
one: ``{protocol: (matched set, [shifted sets])}``. The relative
degradation of a shifted set is ``(PER - matched PER) / matched PER``.

Authors
 * speechbrain-vgs developers 2026
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def relative_degradation(error, matched):
    """``(error - matched) / matched`` in %.

    Example
    -------
    >>> relative_degradation(30.0, 20.0)
    50.0
    """
    return 100.0 * (error - matched) / matched


def study_rows(results, protocols, metric="per"):
    """One row per features: the error rate of every test set and the
    relative degradation of every shifted one.

    Arguments
    ---------
    results : dict
        ``{features: {protocol: {test set: {metric: value}}}}``.
    protocols : dict
        ``{protocol: (matched set, [shifted sets])}``.
    metric : str
        The results key (``"per"`` or ``"wer"``).

    Returns
    -------
    list of dict
        ``{"features", "<set>": error, "<set>_degradation": %}`` (sets of
        a protocol a features has no results for are missing).

    Example
    -------
    >>> results = {"fbank": {"clean": {"test_A": {"per": 20.0},
    ...                                "test_B": {"per": 30.0}}}}
    >>> (row,) = study_rows(results, {"clean": ("test_A", ["test_B"])})
    >>> row["test_A"], row["test_B"], row["test_B_degradation"]
    (20.0, 30.0, 50.0)
    """
    rows = []
    for features, runs in results.items():
        row = {"features": features}
        for protocol, (matched, shifted) in protocols.items():
            if protocol not in runs:
                continue
            sets = runs[protocol]
            row[matched] = sets[matched][metric]
            for name in shifted:
                row[name] = sets[name][metric]
                row[f"{name}_degradation"] = relative_degradation(
                    sets[name][metric], sets[matched][metric]
                )
        rows.append(row)
    return rows


def study_markdown(rows, protocols, labels=None, metric="PER"):
    """The study table in Markdown: the error rate of each set, and after
    each shifted one its relative degradation from the matched set.

    Arguments
    ---------
    rows : list of dict
        From :func:`study_rows`.
    protocols : dict
        ``{protocol: (matched set, [shifted sets])}``.
    labels : dict, optional
        Column titles of the sets (default: their names).
    metric : str
        Name of the error rate in the titles.

    Returns
    -------
    str

    Example
    -------
    >>> rows = [{"features": "fbank", "test_A": 20.0, "test_B": 30.0,
    ...          "test_B_degradation": 50.0}]
    >>> print(study_markdown(rows, {"clean": ("test_A", ["test_B"])}))
    | features | test_A PER | test_B PER | test_B rel. |
    |---|---|---|---|
    | fbank | 20.0 | 30.0 | +50% |
    """
    labels = labels or {}
    header, keys = ["features"], []
    for matched, shifted in protocols.values():
        header.append(f"{labels.get(matched, matched)} {metric}")
        keys.append((matched, "{:.1f}"))
        for name in shifted:
            header.append(f"{labels.get(name, name)} {metric}")
            header.append(f"{labels.get(name, name)} rel.")
            keys.append((name, "{:.1f}"))
            keys.append((f"{name}_degradation", "{:+.0f}%"))
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [row["features"]]
        cells += [
            form.format(row[key]) if key in row else "-" for key, form in keys
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_study(rows, protocols, path, labels=None, metric="PER"):
    """Plots the error rates (left) and relative degradations (right) of
    every set against the features (in row order), one line (and one
    colour, in both panels) per set.

    Arguments
    ---------
    rows : list of dict
        From :func:`study_rows`.
    protocols : dict
        ``{protocol: (matched set, [shifted sets])}``.
    path : str or pathlib.Path
        The PNG file to write (parent folders are created).
    labels : dict, optional
        Legend names of the sets.
    metric : str
        Name of the error rate.

    Returns
    -------
    pathlib.Path

    Example
    -------
    >>> rows = [{"features": "fbank", "test_A": 20.0, "test_B": 30.0,
    ...          "test_B_degradation": 50.0},
    ...         {"features": "res1", "test_A": 25.0, "test_B": 30.0,
    ...          "test_B_degradation": 20.0}]
    >>> path = plot_study(rows, {"clean": ("test_A", ["test_B"])},
    ...                   getfixture("tmpdir") / "study.png")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    labels = labels or {}
    figure = Figure(figsize=(11, 4.5))
    errors, shifts = figure.subplots(1, 2)
    x = range(len(rows))
    names = [row["features"] for row in rows]
    sets = [name for m, shifted in protocols.values() for name in (m, *shifted)]
    colours = {name: f"C{i}" for i, name in enumerate(sets)}  # one per set
    for matched, shifted in protocols.values():
        for axes, keys in (
            (errors, [(name, name) for name in (matched, *shifted)]),
            (shifts, [(name, f"{name}_degradation") for name in shifted]),
        ):
            for name, key in keys:
                points = [(i, r[key]) for i, r in zip(x, rows) if key in r]
                axes.plot(
                    *zip(*points),
                    marker="o",
                    color=colours[name],
                    label=labels.get(name, name),
                )
    for axes, title in (
        (errors, f"{metric} (%)"),
        (shifts, f"relative {metric} degradation from matched (%)"),
    ):
        axes.set_xticks(list(x))
        axes.set_xticklabels(names, rotation=45, ha="right")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path
