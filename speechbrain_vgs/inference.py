"""Inference with trained models, SpeechBrain ``Pretrained`` style:
:class:`SpeechCLIPInference` (SpeechCLIP), :class:`GroundingInference`
(DAVEnet, ResDAVEnet) and :class:`KeywordSpotter` (keyword spotting
recipes); :func:`load_inference` picks the class a recipe's output folder
needs.

A SpeechCLIP recipe's output folder holds the experiment's
``hyperparams.yaml`` (with a ``pretrainer`` that loads the model) and the
best model, ``model.ckpt``; :meth:`SpeechCLIPInference.from_hparams` loads
both::

    from speechbrain_vgs.inference import SpeechCLIPInference
    speechclip = SpeechCLIPInference.from_hparams(
        source="results/SynthVGS/SpeechCLIP/cascaded/1234",
        savedir="pretrained_models/speechclip-cascaded",
    )
    speechclip.keywords("caption.wav", top_n=5)
    speechclip.search_images("caption.wav", ["a.png", "b.png"])
    speechclip.search_speech("a red circle", ["u1.wav", "u2.wav"])

Speech goes in as a file path, a list of paths, a waveform ``[S]`` or a
padded batch ``[B, S]`` (16 kHz) with optional relative lengths.

Security: ``hyperparams.yaml`` is HyperPyYAML, whose ``!new:``/``!apply:``
tags construct and call any Python object: loading a model folder runs
code. Load folders you trained or that come from a source you trust. The
weights themselves are read with ``torch.load(weights_only=True)``
(SpeechBrain's default loader under PyTorch >= 2.6), which runs no code.

Authors
 * speechbrain-vgs developers 2026
"""

import os
import re
import tempfile

import torch
from PIL import Image
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_vgs.dataio.pipelines import (
    SAMPLE_RATE,
    image_transform,
    read_image,
    read_wav,
)
from speechbrain_vgs.lobes.clip import load_image
from speechbrain_vgs.lobes.speechclip import ranked_keywords
from speechbrain_vgs.similarity import matchmap


class SpeechPretrained(Pretrained):
    """SpeechBrain's ``Pretrained`` with speech given as files or tensors
    (the base of this module's inference classes).

    ``from_hparams`` runs the code that the folder's ``hyperparams.yaml``
    names: use it only on folders from a trusted source (see the module
    docstring).
    """

    def speech_batch(self, wavs, wav_lens=None):
        """A padded batch from paths or waveforms.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            A file, files, a waveform ``[S]`` or a batch ``[B, S]``.
        wav_lens : torch.Tensor, optional
            Relative lengths of a padded batch ``[B]``.

        Returns
        -------
        wavs : torch.Tensor
            ``[B, S]`` on the device.
        wav_lens : torch.Tensor
            ``[B]`` on the device.
        """
        if isinstance(wavs, str | os.PathLike):
            wavs = [wavs]
        if isinstance(wavs, list | tuple):
            signals = [
                w if torch.is_tensor(w) else read_wav(w, SAMPLE_RATE)
                for w in wavs
            ]
            wavs, wav_lens = batch_pad_right(signals)
        elif wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        return wavs.float().to(self.device), wav_lens.to(self.device)

    def batched_scores(self, score_batch, wavs, wav_lens, batch_size):
        """``score_batch(wavs, wav_lens) -> [B]`` over a list of utterances
        in batches of ``batch_size`` (a tensor batch goes in at once).

        Returns
        -------
        torch.Tensor
            ``[B]``, on the CPU.
        """
        if isinstance(wavs, list | tuple):
            return torch.cat(
                [
                    score_batch(wavs[start : start + batch_size], None).cpu()
                    for start in range(0, len(wavs), batch_size)
                ]
            )
        return score_batch(wavs, wav_lens).cpu()

    @staticmethod
    def is_single(wavs):
        """Whether ``wavs`` is one utterance (a path or a waveform)."""
        return isinstance(wavs, str | os.PathLike) or (
            torch.is_tensor(wavs) and wavs.dim() == 1
        )


class SpeechCLIPInference(SpeechPretrained):
    """Embeds speech into CLIP's space, lists its keywords, and searches
    images and utterances with it.

    Needs the ``model`` module (a
    :class:`speechbrain_vgs.lobes.speechclip.SpeechCLIP`) and the hparams
    ``frozen_clip`` and ``retrieval_branch`` (the embedding used for search).

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> from speechbrain_vgs.lobes.tiny_models import (
    ...     save_tiny_clip, save_tiny_hubert)
    >>> tmp = getfixture("tmpdir")
    >>> checkpoint, config = save_tiny_clip(tmp)
    >>> hparams = load_hyperpyyaml(f'''
    ... frozen_clip: !new:speechbrain_vgs.lobes.clip.FrozenCLIP
    ...     model_name: tiny-clip
    ...     pretrained: null
    ...     checkpoint: {checkpoint}
    ...     config: {config}
    ... upstream: !new:speechbrain_vgs.lobes.ssl.SSLUpstream
    ...     source: {save_tiny_hubert(tmp / "hubert")}
    ... model: !new:speechbrain_vgs.lobes.speechclip.SpeechCLIP
    ...     upstream: !ref <upstream>
    ...     head: !new:speechbrain_vgs.lobes.speechclip.CascadedHead
    ...         input_dim: 32
    ...         token_dim: 32
    ...         num_keywords: 2
    ...     clip: !ref <frozen_clip>
    ... retrieval_branch: cascaded
    ... ''')
    >>> speechclip = SpeechCLIPInference(
    ...     modules={"model": hparams["model"]}, hparams=hparams)
    >>> speechclip.encode_speech(torch.randn(2, 1600)).shape
    torch.Size([2, 32])
    >>> len(speechclip.keywords(torch.randn(1600), top_n=3))  # 2 slots
    2
    """

    HPARAMS_NEEDED = ["frozen_clip", "retrieval_branch"]
    MODULES_NEEDED = ["model"]

    @torch.no_grad()
    def encode_batch(self, wavs, wav_lens=None):
        """Everything SpeechCLIP computes for the speech.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            See :meth:`speech_batch`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        speechbrain_vgs.lobes.speechclip.SpeechCLIPOutput
        """
        wavs, wav_lens = self.speech_batch(wavs, wav_lens)
        with self.inference_ctx:
            return self.mods.model(wavs, wav_lens)

    def encode_speech(self, wavs, wav_lens=None, branch=None):
        """L2-normalised CLIP-space embeddings of the speech ``[B, D]``.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            See :meth:`speech_batch`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        branch : str, optional
            ``"parallel"`` or ``"cascaded"``; default ``retrieval_branch``.

        Returns
        -------
        torch.Tensor
        """
        branch = branch or self.hparams.retrieval_branch
        embeddings = getattr(self.encode_batch(wavs, wav_lens), branch)
        if embeddings is None:
            raise ValueError(f"this SpeechCLIP has no {branch} branch")
        return embeddings.float()

    def keywords(self, wavs, wav_lens=None, top_n=5):
        """The subwords each keyword slot hears, best first.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            One utterance (path or ``[S]``) or several.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        top_n : int
            Subwords per slot.

        Returns
        -------
        list
            For one utterance, ``K`` lists of ``top_n`` strings (``K`` its
            own number of keywords for a CIF head, SpeechCLIP+); for
            several, one such list per utterance.
        """
        single = self.is_single(wavs)
        output = self.encode_batch(wavs, wav_lens)
        if output.scores is None:
            raise ValueError("this SpeechCLIP has no cascaded branch")
        clip = self.hparams.frozen_clip
        ranked = ranked_keywords(output.scores, clip.vocabulary, top_n)
        words = [
            [
                [clip.tokenizer.decode([i]).strip() for i in slot]
                for slot in item[:count]
            ]
            for item, count in zip(
                ranked.tolist(), output.num_keywords.tolist()
            )
        ]
        return words[0] if single else words

    @torch.no_grad()
    def encode_images(self, images):
        """CLIP image embeddings ``[N, D]`` of files or PIL images.

        Arguments
        ---------
        images : list of str or PIL.Image.Image
            Image files (embedded once and cached) or images.

        Returns
        -------
        torch.Tensor
        """
        clip = self.hparams.frozen_clip
        if all(isinstance(i, str | os.PathLike) for i in images):
            return clip.image_embeddings(images).float()
        pixels = torch.stack(
            [
                clip.preprocess(
                    i if isinstance(i, Image.Image) else load_image(i)
                )
                for i in images
            ]
        )
        return clip.encode_image(pixels.to(clip.device)).float()

    @torch.no_grad()
    def encode_text(self, texts):
        """CLIP text embeddings ``[N, D]`` of texts (what zero-shot
        speech-text retrieval compares speech with).

        Arguments
        ---------
        texts : list of str
            E.g. ``["a red circle"]``.

        Returns
        -------
        torch.Tensor
        """
        return self.hparams.frozen_clip.encode_text(list(texts)).float()

    def search_images(self, wav, images):
        """Scores images against one utterance, best first.

        Arguments
        ---------
        wav : str or torch.Tensor
            One utterance (path or ``[S]``).
        images : list of str or PIL.Image.Image
            The images to search.

        Returns
        -------
        scores : torch.Tensor
            Cosine similarity of each image ``[N]`` (input order).
        ranking : torch.Tensor
            Image indices from best to worst ``[N]``.
        """
        speech = self.encode_speech(wav)[0]
        scores = self.encode_images(images) @ speech
        return scores, scores.argsort(descending=True)

    @torch.no_grad()
    def search_speech(self, query, wavs, wav_lens=None, batch_size=16):
        """Scores utterances against a text or an image, best first.

        Arguments
        ---------
        query : str or PIL.Image.Image
            An image (a PIL image, or the path of an existing file) or a
            text (any other string), e.g. ``"a red circle"``.
        wavs : list of str or torch.Tensor
            The utterances to search (see :meth:`speech_batch`).
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        batch_size : int
            Utterances of a list embedded at once.

        Returns
        -------
        scores : torch.Tensor
            Cosine similarity of each utterance ``[B]`` (input order).
        ranking : torch.Tensor
            Utterance indices from best to worst ``[B]``.
        """
        if isinstance(query, Image.Image) or os.path.isfile(query):
            target = self.encode_images([query])[0]
        else:
            target = self.encode_text([query])[0]
        scores = self.batched_scores(
            lambda w, lens: self.encode_speech(w, lens) @ target,
            wavs,
            wav_lens,
            batch_size,
        )
        return scores, scores.argsort(descending=True)


class GroundingInference(SpeechPretrained):
    """Embeds speech and images with a trained grounding model (DAVEnet,
    ResDAVEnet(-VQ): a recipe of ``recipes/*/VGS``), searches images by
    speech and speech by image, and draws the matchmap of a pair.

    A grounding recipe's output folder holds the experiment's
    ``hyperparams.yaml`` (with a ``pretrainer`` loading ``model``, the
    speech and image encoders) and the best model, ``model.ckpt``::

        from speechbrain_vgs.inference import GroundingInference
        grounding = GroundingInference.from_hparams(
            source="results/SynthVGS/VGS/resdavenet/1234",
            savedir="pretrained_models/resdavenet",
        )
        grounding.search_images("caption.wav", ["a.png", "b.png"])
        grounding.search_speech("a.png", ["u1.wav", "u2.wav"])
        grounding.matchmap("caption.wav", "a.png")  # [H, W, T]

    Scores are the model's own ``similarity`` (the one it was trained and
    evaluated with: pooled dot product, cosine, MISA ...).

    Needs the modules ``compute_features``, ``audio_encoder`` and
    ``image_encoder`` and the hparams ``similarity`` and ``image_size``
    (and ``eval_resize`` when the recipe has it): images are prepared as
    at evaluation.

    Example
    -------
    >>> from PIL import Image
    >>> from speechbrain_vgs.lobes.audio import ResDAVEnet
    >>> from speechbrain_vgs.lobes.features import LogMel
    >>> from speechbrain_vgs.lobes.image import SmallImageEncoder
    >>> from speechbrain_vgs.similarity import Similarity
    >>> grounding = GroundingInference(
    ...     modules={
    ...         "compute_features": LogMel(n_mels=40),
    ...         "audio_encoder": ResDAVEnet(40, widths=(8, 8, 8, 8, 16),
    ...                                     blocks=(1, 1, 1, 1)),
    ...         "image_encoder": SmallImageEncoder(16, channels=(4, 8, 8, 16)),
    ...     },
    ...     hparams={"similarity": Similarity("MISA"), "image_size": 32})
    >>> images = [Image.new("RGB", (40, 40), c) for c in ("red", "blue")]
    >>> scores, ranking = grounding.search_images(torch.randn(16000), images)
    >>> scores.shape, sorted(ranking.tolist())
    (torch.Size([2]), [0, 1])
    >>> grounding.matchmap(torch.randn(16000), images[0]).shape[:2]
    torch.Size([2, 2])
    """

    HPARAMS_NEEDED = ["similarity", "image_size"]
    MODULES_NEEDED = ["compute_features", "audio_encoder", "image_encoder"]

    @torch.no_grad()
    def encode_speech(self, wavs, wav_lens=None):
        """The speech encoder's output.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            See :meth:`speech_batch`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        audio : torch.Tensor
            Frames ``[B, T, D]`` (or pooled ``[B, D]``, as the encoder
            gives them).
        lengths : torch.Tensor
            Relative lengths ``[B]`` of the frames.
        """
        wavs, wav_lens = self.speech_batch(wavs, wav_lens)
        feats = self.mods.compute_features(wavs, wav_lens)
        return self.mods.audio_encoder(feats, wav_lens).float(), wav_lens

    @torch.no_grad()
    def encode_images(self, images, batch_size=64):
        """The image encoder's output: maps ``[N, H, W, D]`` (or pooled
        ``[N, D]``, as the encoder gives them).

        Arguments
        ---------
        images : list of str or PIL.Image.Image
            Image files or images, prepared as at evaluation.
        batch_size : int
            Images encoded at once.

        Returns
        -------
        torch.Tensor
        """
        transform = image_transform(
            self.hparams.image_size, getattr(self.hparams, "eval_resize", None)
        )
        outputs = []
        for start in range(0, len(images), batch_size):
            pixels = torch.stack(
                [
                    transform(i)
                    if isinstance(i, Image.Image)
                    else read_image(i, transform)
                    for i in images[start : start + batch_size]
                ]
            )
            outputs.append(self.mods.image_encoder(pixels.to(self.device)))
        return torch.cat(outputs).float()

    @torch.no_grad()
    def search_images(self, wav, images):
        """Scores images against one utterance, best first.

        Arguments
        ---------
        wav : str or torch.Tensor
            One utterance (path or ``[S]``).
        images : list of str or PIL.Image.Image
            The images to search.

        Returns
        -------
        scores : torch.Tensor
            The model's similarity with each image ``[N]`` (input order).
        ranking : torch.Tensor
            Image indices from best to worst ``[N]``.
        """
        audio, lengths = self.encode_speech(wav)
        scores = self.hparams.similarity(
            audio, lengths, self.encode_images(images)
        )[0].cpu()
        return scores, scores.argsort(descending=True)

    @torch.no_grad()
    def search_speech(self, image, wavs, wav_lens=None, batch_size=16):
        """Scores utterances against an image, best first.

        Arguments
        ---------
        image : str or PIL.Image.Image
            The query image (a file or an image).
        wavs : list of str or torch.Tensor
            The utterances to search (see :meth:`speech_batch`).
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        batch_size : int
            Utterances of a list encoded at once.

        Returns
        -------
        scores : torch.Tensor
            The model's similarity with each utterance ``[B]`` (input
            order).
        ranking : torch.Tensor
            Utterance indices from best to worst ``[B]``.
        """
        if isinstance(image, str) and not os.path.isfile(image):
            raise ValueError(
                f"{image!r} is not an image file: a grounding model "
                "searches speech with an image (it has no text side)"
            )
        maps = self.encode_images([image])

        def score_batch(wavs, wav_lens):
            audio, lengths = self.encode_speech(wavs, wav_lens)
            return self.hparams.similarity(audio, lengths, maps)[:, 0]

        scores = self.batched_scores(score_batch, wavs, wav_lens, batch_size)
        return scores, scores.argsort(descending=True)

    @torch.no_grad()
    def matchmap(self, wav, image):
        """Dot products of every image region with every valid speech frame
        (Harwath et al. 2018): where in the image each moment of speech
        looks.

        Arguments
        ---------
        wav : str or torch.Tensor
            One utterance (path or ``[S]``).
        image : str or PIL.Image.Image
            One image.

        Returns
        -------
        torch.Tensor
            ``[H, W, T]`` (T valid frames of the speech encoder's output).
        """
        audio, lengths = self.encode_speech(wav)
        maps = self.encode_images([image])
        if audio.dim() != 3 or maps.dim() != 4:
            raise ValueError(
                "this model pools its embeddings: it has no matchmap"
            )
        frames = int(round(lengths[0].item() * audio.shape[1]))
        return matchmap(audio[0, :frames], maps[0]).cpu()


class KeywordSpotter(SpeechPretrained):
    """Spots written keywords in speech with a trained keyword spotting
    recipe (e.g. ``recipes/SynthVGS/KWS``): keyword probabilities of
    utterances, and the utterances of a folder ranked for a keyword.

    The recipe's output folder holds the experiment's ``hyperparams.yaml``
    (with a ``pretrainer`` loading ``speech_net`` and ``keywords``),
    ``speech_net.ckpt`` and ``keywords.ckpt``::

        from speechbrain_vgs.inference import KeywordSpotter
        spotter = KeywordSpotter.from_hparams(
            source="results/SynthVGS/KWS/crosslingual_sw/1234",
            savedir="pretrained_models/kws-sw",
        )
        spotter.tag("utterance.wav")        # {keyword: probability}
        spotter.search("wavs/", "red", top_k=10)

    Needs the ``speech_net`` module (waveforms, lengths -> keyword logits)
    and the ``keywords`` hparam (a SpeechBrain ``CategoricalEncoder`` of
    the vocabulary, in output order).

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from speechbrain_vgs.lobes.kws import BoWCNN, MFCCDeltas
    >>> keywords = CategoricalEncoder()
    >>> keywords.update_from_iterable(["red", "circle"])
    >>> net = BoWCNN(2, MFCCDeltas(), channels=(4, 4, 8), hidden=8)
    >>> spotter = KeywordSpotter(modules={"speech_net": net},
    ...                          hparams={"keywords": keywords})
    >>> sorted(spotter.tag(torch.randn(3200)))
    ['circle', 'red']
    >>> import numpy as np, soundfile
    >>> tmp = getfixture("tmpdir")
    >>> for name in ("a", "b"):
    ...     soundfile.write(str(tmp / f"{name}.wav"), np.zeros(1600), 16000)
    >>> [os.path.basename(p) for p, _ in spotter.search(tmp, "red")]
    ['a.wav', 'b.wav']
    """

    HPARAMS_NEEDED = ["keywords"]
    MODULES_NEEDED = ["speech_net"]

    @property
    def vocabulary(self):
        """The keywords, in output order."""
        encoder = self.hparams.keywords
        return [encoder.ind2lab[i] for i in range(len(encoder))]

    @torch.no_grad()
    def keyword_probabilities(self, wavs, wav_lens=None):
        """Keyword probabilities ``[B, W]`` (see :meth:`speech_batch` for
        ``wavs``)."""
        wavs, wav_lens = self.speech_batch(wavs, wav_lens)
        with self.inference_ctx:
            return torch.sigmoid(self.mods.speech_net(wavs, wav_lens).float())

    def tag(self, wavs, wav_lens=None):
        """The probability of every keyword in each utterance.

        Arguments
        ---------
        wavs : str, list of str, or torch.Tensor
            One utterance (path or ``[S]``) or several.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        dict or list of dict
            ``{keyword: probability}``, most probable first; one per
            utterance for several.
        """
        single = self.is_single(wavs)
        probabilities = self.keyword_probabilities(wavs, wav_lens).cpu()
        vocabulary = self.vocabulary
        tags = []
        for row in probabilities:
            order = row.argsort(descending=True).tolist()
            tags.append({vocabulary[i]: float(row[i]) for i in order})
        return tags[0] if single else tags

    def search(self, wavs_or_folder, keyword, top_k=10, batch_size=16):
        """Ranks utterances by the probability that they say ``keyword``.

        Arguments
        ---------
        wavs_or_folder : str or list of str
            A folder (its ``.wav`` files, searched recursively) or files.
        keyword : str
            A keyword of the vocabulary (:attr:`vocabulary`).
        top_k : int or None
            How many to return (``None``: all).
        batch_size : int
            Utterances scored at once.

        Returns
        -------
        list of (str, float)
            ``(path, probability)``, most probable first (ties by path).

        Raises
        ------
        ValueError
            If the keyword is not in the vocabulary, or there is no wav.
        """
        vocabulary = self.vocabulary
        if keyword not in vocabulary:
            raise ValueError(
                f"{keyword!r} is not a keyword of this model; its "
                f"{len(vocabulary)} keywords are: {', '.join(vocabulary)}"
            )
        paths = wav_files(wavs_or_folder)
        column = vocabulary.index(keyword)
        scores = []
        for start in range(0, len(paths), batch_size):
            probabilities = self.keyword_probabilities(
                paths[start : start + batch_size]
            )
            scores.extend(probabilities[:, column].tolist())
        ranked = sorted(zip(paths, scores), key=lambda x: (-x[1], x[0]))
        return ranked if top_k is None else ranked[:top_k]


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
MODEL_CLASSES = {
    "SpeechCLIP": "SpeechCLIPInference",
    "grounding": "GroundingInference",
    "keyword spotter": "KeywordSpotter",
}


def media_files(files_or_folder, extensions, kind):
    """The files of a folder with one of ``extensions`` (recursively,
    sorted), or a list of files checked to exist.

    Arguments
    ---------
    files_or_folder : str or list of str
        A folder or files.
    extensions : tuple of str
        Lower-case endings (``(".wav",)``).
    kind : str
        What the files are, for messages.

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError
        For a missing folder or file.
    ValueError
        If there is none.
    """
    if isinstance(files_or_folder, str | os.PathLike):
        folder = os.fspath(files_or_folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        paths = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(folder)
            for name in names
            if name.lower().endswith(extensions)
        )
        where = f"in {folder}"
    else:
        paths = [os.fspath(p) for p in files_or_folder]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such file")
        where = "given"
    if not paths:
        raise ValueError(f"no {kind} file ({', '.join(extensions)}) {where}")
    return paths


def wav_files(wavs_or_folder):
    """The wav files of a folder (recursively, sorted) or a list of files
    (see :func:`media_files`)."""
    return media_files(wavs_or_folder, (".wav",), "audio")


def image_files(images_or_folder):
    """The image files of a folder (recursively, sorted) or a list of
    files (see :func:`media_files`)."""
    return media_files(images_or_folder, IMAGE_EXTENSIONS, "image")


def model_kind(folder):
    """What a recipe's output folder holds: ``"SpeechCLIP"``,
    ``"grounding"`` or ``"keyword spotter"`` (read from the names of its
    ``hyperparams.yaml``'s top-level keys, without running it).

    Arguments
    ---------
    folder : str
        A recipe's output folder.

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        Saying what to do, when ``folder`` is not a trained model's folder.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "hyperparams.yaml").write("frozen_clip: 1\\nmodel: 2\\n")
    >>> _ = (tmp / "model.ckpt").write("")
    >>> model_kind(tmp)
    'SpeechCLIP'
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{folder}: no such folder (give the output folder of a "
            "SpeechCLIP, grounding (VGS) or keyword spotting recipe)"
        )
    hparams_file = os.path.join(folder, "hyperparams.yaml")
    if not os.path.isfile(hparams_file):
        raise FileNotFoundError(
            f"{folder}: no hyperparams.yaml: not a recipe's output folder "
            "(give the folder a recipe wrote, e.g. "
            "results/SynthVGS/SpeechCLIP/parallel/1234)"
        )
    with open(hparams_file, encoding="utf-8") as f:
        keys = set(re.findall(r"^(\w+):", f.read(), flags=re.MULTILINE))
    if "speech_net" in keys:  # before frozen_clip: visual taggers use CLIP
        kind, weights = "keyword spotter", "speech_net.ckpt"
    elif "frozen_clip" in keys:
        kind, weights = "SpeechCLIP", "model.ckpt"
    elif {"audio_encoder", "image_encoder"} <= keys:
        kind, weights = "grounding", "model.ckpt"
    else:
        raise FileNotFoundError(
            f"{hparams_file}: not the hparams of a SpeechCLIP, grounding or "
            "keyword spotting recipe (no frozen_clip, speech_net or "
            "audio_encoder/image_encoder)"
        )
    if not os.path.isfile(os.path.join(folder, weights)):
        raise FileNotFoundError(
            f"{folder}: no {weights}: the {kind} recipe has not finished "
            "(it writes the best model there after testing); run it to "
            "the end"
        )
    return kind


def load_inference(folder, savedir=None, device="cpu"):
    """Loads a recipe's output folder with the inference class it needs
    (:func:`model_kind`).

    ``hyperparams.yaml`` runs code: load folders from a trusted source.

    Arguments
    ---------
    folder : str
        A SpeechCLIP, grounding or keyword spotting recipe's output
        folder.
    savedir : str, optional
        Where SpeechBrain gathers the model's files (links to them); a
        temporary folder, removed after loading, by default.
    device : str
        Torch device.

    Returns
    -------
    SpeechCLIPInference, GroundingInference or KeywordSpotter
    """
    cls = globals()[MODEL_CLASSES[model_kind(folder)]]
    source = os.path.abspath(folder)
    if savedir is not None:
        return cls.from_hparams(
            source=source, savedir=savedir, run_opts={"device": device}
        )
    with tempfile.TemporaryDirectory() as tmp:
        return cls.from_hparams(
            source=source, savedir=tmp, run_opts={"device": device}
        )
