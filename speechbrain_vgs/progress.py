"""Progress bars for the long steps outside SpeechBrain's training loops
(building SynthVGS, fitting k-means, filling caches, scoring thousands of
utterances), with ``tqdm``, and off wherever SpeechBrain's are: a recipe
run with ``--noprogressbar`` switches them off (see
:func:`speechbrain_vgs.recipe.load_recipe`).

Authors
 * speechbrain-vgs developers 2026
"""

from tqdm import tqdm

SHOWN = {"enabled": True}


def show_progress(enabled):
    """Switches the progress bars of this package on or off.

    Arguments
    ---------
    enabled : bool
        ``False`` for ``--noprogressbar``.
    """
    SHOWN["enabled"] = bool(enabled)


def progress(iterable, desc, total=None, min_total=100):
    """``iterable`` with a progress bar on stderr when it is long.

    Arguments
    ---------
    iterable : iterable
        What to go through.
    desc : str
        What is being done ("embedding images").
    total : int, optional
        The number of items (default: ``len(iterable)``).
    min_total : int
        Shorter runs get no bar.

    Returns
    -------
    iterable

    Example
    -------
    >>> show_progress(False)
    >>> sum(progress(range(1000), "adding"))
    499500
    >>> show_progress(True)
    """
    if total is None:
        total = len(iterable)
    disable = not SHOWN["enabled"] or total < min_total
    return tqdm(
        iterable, desc=desc, total=total, disable=disable, dynamic_ncols=True
    )
