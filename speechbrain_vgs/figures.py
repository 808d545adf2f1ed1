"""Figures of SpeechCLIP analyses (Shih et al. 2022): the attention of each
cascaded keyword over the utterance (paper Fig. 3), the learnt weights
of the upstream layers (paper Fig. 4), and SpeechCLIP+'s CIF weights with
the keywords they fire.

The figures are drawn with matplotlib's Agg canvas and written as PNG
files; no window is ever opened and pyplot's global state is not used.

Authors
 * speechbrain-vgs developers 2026
"""

from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def plot_keyword_attention(attention, keywords, frame_shift, path, title=None):
    """Heat map of the attention of each keyword slot over the frames of
    one utterance (SpeechCLIP paper, Fig. 3).

    Arguments
    ---------
    attention : torch.Tensor or numpy.ndarray
        Attention weights [K, T] over the valid frames only.
    keywords : list of list of str
        Each slot's top subwords (best first), shown as the row label,
        e.g. ``kw0: red / blue / circle``.
    frame_shift : float
        Seconds per frame; the x axis is in seconds.
    path : str or pathlib.Path
        The PNG file to write (parent folders are created).
    title : str, optional
        The figure title.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> path = plot_keyword_attention(
    ...     torch.softmax(torch.randn(2, 50), dim=1),
    ...     [["red", "blue"], ["circle"]],
    ...     frame_shift=0.02,
    ...     path=getfixture("tmpdir") / "figures" / "attention.png",
    ... )
    >>> path.name, path.exists()
    ('attention.png', True)
    """
    attention = torch.as_tensor(attention).detach().cpu().float()
    if attention.dim() != 2:
        raise ValueError(
            f"attention must be [K, T], got shape {tuple(attention.shape)}"
        )
    num_keywords, num_frames = attention.shape
    if len(keywords) != num_keywords:
        raise ValueError(
            f"{len(keywords)} keyword lists for {num_keywords} attention rows"
        )
    if any(isinstance(words, str) for words in keywords):
        raise ValueError("keywords must hold one list of strings per slot")
    if frame_shift <= 0:
        raise ValueError(f"frame_shift must be positive, got {frame_shift}")

    figure = Figure(figsize=(8, 1.5 + 0.5 * num_keywords), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(
        attention.numpy(),
        aspect="auto",
        interpolation="nearest",
        extent=(0, num_frames * frame_shift, num_keywords - 0.5, -0.5),
    )
    labels = [
        f"kw{k}: " + " / ".join(words) for k, words in enumerate(keywords)
    ]
    axes.set_yticks(range(num_keywords), labels=labels)
    axes.set_xlabel("time (s)")
    figure.colorbar(image, ax=axes, label="attention")
    if title is not None:
        axes.set_title(title)
    return _save(figure, path)


def plot_cif_weights(
    frame_weights, weights, keywords, frame_shift, path, title=None
):
    """The CIF weight of each frame of one utterance, where each keyword
    fires, and the weight of each frame in each keyword (SpeechCLIP+).

    The upper panel draws the per-frame weights ``alpha`` over time with a
    dashed line at the end of each keyword's frames (where it fires),
    labelled with its best subword; the lower one is the heat map of each
    keyword's frame weights, like :func:`plot_keyword_attention`.

    Arguments
    ---------
    frame_weights : torch.Tensor or numpy.ndarray
        The CIF weight of each valid frame [T].
    weights : torch.Tensor or numpy.ndarray
        The weight of each valid frame in each keyword [K, T] (the
        utterance's own keywords only).
    keywords : list of list of str
        Each keyword's top subwords (best first).
    frame_shift : float
        Seconds per frame; the x axis is in seconds.
    path : str or pathlib.Path
        The PNG file to write (parent folders are created).
    title : str, optional
        The figure title.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> alpha = torch.tensor([0.5, 0.75, 0.25, 0.5, 0.5])
    >>> weights = torch.tensor([[0.5, 0.5, 0.0, 0.0, 0.0],
    ...                         [0.0, 0.25, 0.25, 0.5, 0.0]])
    >>> path = plot_cif_weights(
    ...     alpha, weights, [["red"], ["circle", "ring"]], 0.02,
    ...     getfixture("tmpdir") / "cif.png", title="a red circle")
    >>> path.exists()
    True
    """
    frame_weights = torch.as_tensor(frame_weights).detach().cpu().float()
    weights = torch.as_tensor(weights).detach().cpu().float()
    if frame_weights.dim() != 1 or weights.dim() != 2:
        raise ValueError(
            f"frame_weights must be [T] and weights [K, T], got shapes "
            f"{tuple(frame_weights.shape)} and {tuple(weights.shape)}"
        )
    num_keywords, num_frames = weights.shape
    if len(frame_weights) != num_frames:
        raise ValueError(
            f"{len(frame_weights)} frame weights for {num_frames} frames"
        )
    if len(keywords) != num_keywords:
        raise ValueError(
            f"{len(keywords)} keyword lists for {num_keywords} keywords"
        )
    if any(isinstance(words, str) for words in keywords):
        raise ValueError("keywords must hold one list of strings per keyword")
    if frame_shift <= 0:
        raise ValueError(f"frame_shift must be positive, got {frame_shift}")

    figure = Figure(
        figsize=(8, 3.5 + 0.35 * num_keywords), layout="constrained"
    )
    upper, lower = figure.subplots(
        2,
        1,
        sharex=True,
        height_ratios=[1, max(1.0, 0.35 * num_keywords)],
    )
    times = torch.arange(num_frames) * frame_shift
    upper.bar(
        times.numpy(),
        frame_weights.numpy(),
        width=frame_shift,
        align="edge",
        color="tab:blue",
    )
    upper.set_ylabel("CIF weight")
    top = max(1.0, float(frame_weights.max()) if num_frames else 1.0)
    for k, words in enumerate(keywords):
        frames = torch.nonzero(weights[k] > 0).flatten()
        if len(frames) == 0:
            continue
        fire = (int(frames[-1]) + 1) * frame_shift
        upper.axvline(fire, color="tab:red", linestyle="--", linewidth=1)
        label = words[0] if words else ""
        upper.text(fire, top, label, rotation=90, va="top", ha="right")
    upper.set_ylim(0, top * 1.05)
    if title is not None:
        upper.set_title(title)
    image = lower.imshow(
        weights.numpy(),
        aspect="auto",
        interpolation="nearest",
        extent=(0, num_frames * frame_shift, num_keywords - 0.5, -0.5),
    )
    labels = [
        f"kw{k}: " + " / ".join(words) for k, words in enumerate(keywords)
    ]
    lower.set_yticks(range(num_keywords), labels=labels)
    lower.set_xlabel("time (s)")
    figure.colorbar(image, ax=lower, label="weight in the keyword")
    return _save(figure, path)


def plot_layer_weights(weights, path, title=None, labels=None):
    """Bar chart of the softmax-normalised weights of the upstream layers
    (SpeechCLIP paper, Fig. 4).

    Arguments
    ---------
    weights : torch.Tensor or numpy.ndarray
        One weight per hidden state [L + 1]: index 0 is the transformer
        input (CNN features), then layers 1..L (e.g. the output of
        ``SSLUpstream.layer_weights``).
    path : str or pathlib.Path
        The PNG file to write (parent folders are created).
    title : str, optional
        The figure title.
    labels : list of str, optional
        One x tick label per weight; by default ``0 .. L``.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> path = plot_layer_weights(
    ...     torch.softmax(torch.randn(13), dim=0),
    ...     getfixture("tmpdir") / "layer_weights.png",
    ...     title="HuBERT base",
    ... )
    >>> path.exists()
    True
    """
    weights = torch.as_tensor(weights).detach().cpu().float()
    if weights.dim() != 1:
        raise ValueError(
            f"weights must be [L + 1], got shape {tuple(weights.shape)}"
        )
    if labels is None:
        labels = [str(layer) for layer in range(len(weights))]
    if len(labels) != len(weights):
        raise ValueError(f"{len(labels)} labels for {len(weights)} weights")

    figure = Figure(figsize=(6.5, 3.5), layout="constrained")
    axes = figure.add_subplot()
    axes.bar(range(len(weights)), weights.numpy())
    axes.set_xticks(range(len(weights)), labels=labels)
    axes.set_xlabel("layer (0: transformer input)")
    axes.set_ylabel("weight")
    if title is not None:
        axes.set_title(title)
    return _save(figure, path)


def _save(figure, path):
    """Writes ``figure`` as a PNG file with the Agg canvas."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=DPI)
    return path
