"""Inference with a trained SpeechCLIP, SpeechBrain ``Pretrained`` style.

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


class SpeechCLIPInference(Pretrained):
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
        single = isinstance(wavs, str | os.PathLike) or (
            torch.is_tensor(wavs) and wavs.dim() == 1
        )
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
