"""Inference with trained models, SpeechBrain ``Pretrained`` style:
:class:`SpeechCLIPInference` (SpeechCLIP) and :class:`KeywordSpotter`
(keyword spotting recipes).

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

import torch
from PIL import Image
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import batch_pad_right

from speechbrain_vgs.dataio.pipelines import SAMPLE_RATE, read_wav
from speechbrain_vgs.lobes.clip import load_image
from speechbrain_vgs.lobes.speechclip import ranked_keywords


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
            For one utterance, ``K`` lists of ``top_n`` strings; for
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
                for slot in item
            ]
            for item in ranked.tolist()
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
    def search_speech(self, query, wavs, wav_lens=None):
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
            target = self.hparams.frozen_clip.encode_text([query])[0].float()
        scores = self.encode_speech(wavs, wav_lens) @ target
        return scores, scores.argsort(descending=True)


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


def wav_files(wavs_or_folder):
    """The wav files of a folder (recursively, sorted) or a list of files.

    Raises
    ------
    ValueError
        If there is none; FileNotFoundError for a missing path.
    """
    if isinstance(wavs_or_folder, str | os.PathLike):
        folder = os.fspath(wavs_or_folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        paths = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(folder)
            for name in names
            if name.lower().endswith(".wav")
        )
        where = f"in {folder}"
    else:
        paths = [os.fspath(p) for p in wavs_or_folder]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such file")
        where = "given"
    if not paths:
        raise ValueError(f"no .wav file {where}")
    return paths
