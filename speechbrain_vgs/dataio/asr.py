"""Speech recognition datasets: audio and phone or character targets.

ASR manifests (TIMIT, Aurora-4, SynthVGS; format in
:mod:`speechbrain_vgs.dataio.manifest`) hold ``wav``, ``duration``,
``speaker`` and the transcripts: ``phones`` (space-separated phones) and
``text`` (words). The target tokens are the phones, or the characters of
the text with single spaces between words (``units``).

Authors
 * speechbrain-vgs developers 2026
"""

import os

import speechbrain as sb
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_vgs.dataio.manifest import (
    ASR_KEYS,
    DataError,
    check_sets,
    load_manifest,
    resolve_paths,
)
from speechbrain_vgs.dataio.pipelines import audio_item, sort_by_duration

UNIT_KEYS = {"phones": "phones", "chars": "text"}
LABEL_FILE = "label_encoder.txt"


def target_tokens(transcript, units):
    """The target tokens of a transcript.

    Example
    -------
    >>> target_tokens("sil  dh ah sil", "phones")
    ['sil', 'dh', 'ah', 'sil']
    >>> target_tokens(" THE  CAT ", "chars")
    ['T', 'H', 'E', ' ', 'C', 'A', 'T']
    """
    if units == "phones":
        return transcript.split()
    if units == "chars":
        return list(" ".join(transcript.split()))
    raise ValueError(f"units must be one of {sorted(UNIT_KEYS)}, got {units!r}")


def asr_dataset(manifest, replacements, units, label_encoder):
    """One manifest as a dataset of audio and target tokens.

    Arguments
    ---------
    manifest : str
        An ASR manifest.
    replacements : dict
        Values of the ``{data_root}`` placeholder.
    units : str
        ``"phones"`` or ``"chars"``.
    label_encoder : speechbrain.dataio.encoder.CTCTextEncoder
        Encodes the tokens (read when an item is fetched, so it may be
        filled after the dataset is made).

    Returns
    -------
    DynamicItemDataset
        Output keys ``id``, ``sig``, ``tokens_list`` and ``tokens``.

    Raises
    ------
    DataError
        Naming the manifest and the entry without its transcript or wav
        (see :func:`~speechbrain_vgs.dataio.manifest.resolve_paths`).
    """
    key = UNIT_KEYS[units]
    manifest = os.fspath(manifest)
    data = resolve_paths(
        load_manifest(manifest, (*ASR_KEYS, key)),
        manifest,
        replacements,
        ("wav",),
    )
    for utt_id, entry in data.items():
        if not target_tokens(entry[key], units):
            raise DataError(f"{manifest}: entry {utt_id!r} has an empty {key}")

    @sb.utils.data_pipeline.takes(key)
    @sb.utils.data_pipeline.provides("tokens_list", "tokens")
    def token_pipeline(transcript):
        tokens = target_tokens(transcript, units)
        yield tokens
        yield label_encoder.encode_sequence_torch(tokens)

    return DynamicItemDataset(
        data,
        dynamic_items=[audio_item(), token_pipeline],
        output_keys=["id", "sig", "tokens_list", "tokens"],
    )


def asr_datasets(manifests, replacements, units, label_encoder, save_folder):
    """Datasets of every manifest and the label encoder of the training
    tokens.

    The encoder is made from ``train`` (plus the CTC blank at index 0 and
    an ``<unk>`` for tokens never seen in training) on the main process,
    saved as ``save_folder/label_encoder.txt`` and loaded from there when
    the recipe runs again.

    Arguments
    ---------
    manifests : dict
        ``{set name: manifest path}`` with ``train``.
    replacements : dict
        Values of the ``{data_root}`` placeholder.
    units : str
        ``"phones"`` or ``"chars"``.
    label_encoder : speechbrain.dataio.encoder.CTCTextEncoder
        An empty encoder, filled here.
    save_folder : str
        Where the encoder is saved.

    Returns
    -------
    dict
        ``{set name: DynamicItemDataset}``; train is sorted by ascending
        duration, the others too.

    Raises
    ------
    DataError
        Naming a set whose manifest is missing (see
        :func:`~speechbrain_vgs.dataio.manifest.check_sets`), or as
        :func:`asr_dataset`.

    Example
    -------
    >>> import numpy as np, soundfile
    >>> from speechbrain.dataio.encoder import CTCTextEncoder
    >>> from speechbrain_vgs.dataio.manifest import write_json
    >>> tmp = getfixture("tmpdir")
    >>> soundfile.write(str(tmp / "u.wav"), np.zeros(3200), 16000)
    >>> entry = {"wav": "{data_root}/u.wav", "duration": 0.2,
    ...          "speaker": "s1", "phones": "sil k ae t sil"}
    >>> write_json(tmp / "train.json", {"u": entry})
    >>> encoder = CTCTextEncoder()
    >>> sets = asr_datasets({"train": tmp / "train.json"},
    ...     {"data_root": str(tmp)}, "phones", encoder, tmp)
    >>> item = sets["train"][0]
    >>> encoder.decode_ndim(item["tokens"].tolist()), len(encoder)
    (['sil', 'k', 'ae', 't', 'sil'], 6)
    >>> encoder.get_blank_index(), encoder.ind2lab[encoder.encode_label("th")]
    (0, '<unk>')
    """
    check_sets(manifests)
    datasets = {
        name: asr_dataset(path, replacements, units, label_encoder)
        for name, path in manifests.items()
    }
    os.makedirs(save_folder, exist_ok=True)
    path = os.path.join(os.fspath(save_folder), LABEL_FILE)
    sb.utils.distributed.run_on_main(
        label_encoder.load_or_create,
        kwargs={
            "path": path,
            "from_didatasets": [datasets["train"]],
            "output_key": "tokens_list",
            "sequence_input": True,
            "special_labels": {"blank_label": 0, "unk_label": "<unk>"},
        },
    )
    if len(label_encoder) == 0:
        label_encoder.load(path)
    label_encoder.expect_len(len(label_encoder))
    return {
        name: sort_by_duration(dataset, "ascending")
        for name, dataset in datasets.items()
    }
