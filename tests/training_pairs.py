"""The training pairs of the tiny SynthVGS corpus, for checking what models
trained on it (the ``trained_*`` fixtures) retrieve."""

import os

from speechbrain_vgs.dataio.manifest import fill_placeholders, load_manifest


def training_pairs(corpus):
    """``(utterance ids, wavs, images, texts)`` of the English training
    manifest, paths resolved, in manifest order."""
    manifest = os.path.join(corpus, "manifests", "en", "train.json")
    entries = load_manifest(manifest, ("wav", "image", "text"))
    roots = {"data_root": corpus, "image_root": corpus}
    wavs = [fill_placeholders(e["wav"], roots) for e in entries.values()]
    images = [fill_placeholders(e["image"], roots) for e in entries.values()]
    texts = [e["text"] for e in entries.values()]
    return list(entries), wavs, images, texts
