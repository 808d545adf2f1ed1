"""Soft keyword targets of images, from visual taggers, for keyword
spotting (Kamper et al.): a tagger trained on the text captions of some
images, or CLIP zero-shot prompts, gives each image of the speech corpus a
probability per keyword; the speech network learns them from the image's
spoken captions.

Authors
 * speechbrain-vgs developers 2026
"""

import os

import torch
from speechbrain.utils.distributed import if_main_process

from speechbrain_vgs.brains.base import HparamsError
from speechbrain_vgs.checkpoints import save_torch
from speechbrain_vgs.dataio.keywords import bag_of_words
from speechbrain_vgs.lobes.kws import (
    ZeroShotTagger,
    cross_fitted_tags,
    fit_tagger,
)
from speechbrain_vgs.progress import progress

TARGETS = ("visual", "zero_shot")


def embed_images(clip, paths, batch_size=128):
    """Frozen CLIP embeddings of image files, in batches (cached per image
    by :meth:`speechbrain_vgs.lobes.clip.FrozenCLIP.image_embeddings`).

    Returns
    -------
    torch.Tensor
        ``[len(paths), D]`` on CLIP's device.
    """
    starts = range(0, len(paths), batch_size)
    return torch.cat(
        [
            clip.image_embeddings(paths[i : i + batch_size])
            for i in progress(starts, "CLIP: embedding images", min_total=8)
        ]
    )


def visual_tags(clip, images, tagger_captions, keywords, hparams, stop):
    """Tags from a tagger trained on text captions of images (Kamper et
    al.'s visual tagger, here an MLP on the frozen CLIP image encoder).

    An image is never tagged by a tagger that saw its captions: the images
    that are also tagger images are tagged out of fold
    (:func:`speechbrain_vgs.lobes.kws.cross_fitted_tags`, ``tagger_folds``
    parts); the others by a tagger trained on all tagger images.

    Arguments
    ---------
    clip : speechbrain_vgs.lobes.clip.FrozenCLIP
        The frozen image trunk.
    images : dict
        ``{image_id: image path}``, the images to tag.
    tagger_captions : dict
        ``{image_id: (image path, [captions in the query language])}``.
    keywords : list of str
        The vocabulary.
    hparams : dict
        Reads ``tagger_folds``, ``tagger_hidden``, ``tagger_dropout``,
        ``tagger_epochs``, ``tagger_lr`` and ``seed``.
    stop : set of str
        Stop words of the query language.

    Returns
    -------
    dict
        ``{image_id: tensor [W]}`` (CPU) for ``images``.
    """
    ids = list(tagger_captions)
    embeddings = embed_images(clip, [tagger_captions[i][0] for i in ids])
    targets = torch.stack(
        [bag_of_words(tagger_captions[i][1], keywords, stop) for i in ids]
    ).to(embeddings.device)
    options = {
        "hidden": tuple(hparams["tagger_hidden"]),
        "dropout": hparams["tagger_dropout"],
        "epochs": hparams["tagger_epochs"],
        "lr": hparams["tagger_lr"],
        "seed": hparams["seed"],
    }
    tags = {}
    if any(i in tagger_captions for i in images):
        folds = hparams["tagger_folds"]
        held_out = cross_fitted_tags(embeddings, targets, folds, **options)
        tags = {i: t.cpu() for i, t in zip(ids, held_out) if i in images}
    others = [i for i in images if i not in tags]
    if others:
        tagger = fit_tagger(embeddings, targets, **options)
        with torch.no_grad():
            logits = tagger(embed_images(clip, [images[i] for i in others]))
        tags.update(zip(others, torch.sigmoid(logits).cpu()))
    return tags


def zero_shot_tags(clip, images, keywords, hparams):
    """Tags from CLIP prompts, with no training and no caption
    (:class:`speechbrain_vgs.lobes.kws.ZeroShotTagger`, calibrated on the
    images themselves, unlabelled).

    Arguments
    ---------
    clip : speechbrain_vgs.lobes.clip.FrozenCLIP
        The CLIP.
    images : dict
        ``{image_id: image path}``.
    keywords : list of str
        The vocabulary.
    hparams : dict
        Reads ``prompt_templates``, ``zero_shot_offset`` and
        ``zero_shot_temperature``.

    Returns
    -------
    dict
        ``{image_id: tensor [W]}`` (CPU).
    """
    tagger = ZeroShotTagger(
        clip,
        keywords,
        hparams["prompt_templates"],
        hparams["zero_shot_offset"],
        hparams["zero_shot_temperature"],
    ).to(clip.device)
    ids = list(images)
    embeddings = embed_images(clip, [images[i] for i in ids])
    tagger.calibrate(embeddings)
    with torch.no_grad():
        return dict(zip(ids, tagger(embeddings).cpu()))


def image_targets(
    hparams, keywords, images, tagger_captions, stop, device="cpu"
):
    """Soft targets of images by the recipe's ``targets``: ``"visual"``
    (:func:`visual_tags`) or ``"zero_shot"`` (:func:`zero_shot_tags`), with
    the CLIP that the recipe's ``frozen_clip`` builds (a constructor, e.g.
    ``!name:speechbrain_vgs.lobes.clip.FrozenCLIP`` in the yaml, so that
    the CLIP is loaded only here). Cached in ``<output_folder>/tags.pt``
    with the keywords, so that a resumed run trains on the same targets.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.
    keywords : list of str
        The vocabulary.
    images : dict
        ``{image_id: image path}``: the images to tag (training and
        validation images of the speech corpus).
    tagger_captions : dict
        ``{image_id: (image path, [captions])}`` the visual tagger learns
        from (unused by ``zero_shot``).
    stop : set of str
        Stop words of the query language.
    device : str
        Where CLIP embeds the images and the tagger trains.

    Returns
    -------
    dict
        ``{image_id: tensor [W]}``.

    Raises
    ------
    HparamsError
        For an unknown ``targets``.
    """
    kind = hparams["targets"]
    if kind not in TARGETS:
        raise HparamsError(
            f"targets must be one of {', '.join(TARGETS)} here, not {kind!r}"
        )
    cache = os.path.join(hparams["output_folder"], "tags.pt")
    if os.path.isfile(cache):
        saved = torch.load(cache, weights_only=True)
        same = saved["keywords"] == keywords and saved["targets"] == kind
        if same and set(saved["tags"]) == set(images):
            return saved["tags"]
    clip = hparams["frozen_clip"]().to(device)
    if kind == "visual":
        tags = visual_tags(
            clip, images, tagger_captions, keywords, hparams, stop
        )
    else:
        tags = zero_shot_tags(clip, images, keywords, hparams)
    if if_main_process():
        save_torch({"keywords": keywords, "targets": kind, "tags": tags}, cache)
    return tags
