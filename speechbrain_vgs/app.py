"""A web demo of a trained model: search images by speech, and speech by
text or by image.

Start it on a recipe's output folder (a SpeechCLIP recipe,
``recipes/*/SpeechCLIP``, or a grounding recipe, ``recipes/*/VGS``), a
folder of images and a folder of wavs, then open http://127.0.0.1:7860::

    pip install -e .[app]
    python -m speechbrain_vgs.app MODEL_FOLDER --images IMAGE_FOLDER \\
        --speech WAV_FOLDER [--host 127.0.0.1] [--port 7860] [--device cpu]

- Speech to images: record or upload a spoken caption; the page shows the
  ``top_k`` images of IMAGE_FOLDER with their scores and, for a SpeechCLIP
  with cascaded keywords (cascaded or hybrid), the subwords each keyword
  slot hears.
- Search speech: type a keyword or any text (SpeechCLIP), or upload an
  image (any model); the page lists the ``top_k`` wavs of WAV_FOLDER with
  their scores and players.

Both folders are searched recursively and embedded once, at start.

Security: loading a model folder runs the code its ``hyperparams.yaml``
names (see :mod:`speechbrain_vgs.inference`): load folders you trust. The
page serves the files of both folders to whoever reaches it; the default
host, 127.0.0.1, keeps it on this machine.

Authors
 * speechbrain-vgs developers 2026
"""

import argparse
import os
import sys

import numpy as np
import torch
import torchaudio

from speechbrain_vgs.dataio.pipelines import SAMPLE_RATE
from speechbrain_vgs.inference import (
    GroundingInference,
    SpeechCLIPInference,
    image_files,
    load_inference,
    wav_files,
)


def speech_from_gradio(audio, sample_rate=SAMPLE_RATE):
    """A mono float waveform from Gradio's ``(rate, samples)`` audio.

    Arguments
    ---------
    audio : tuple
        ``(sample_rate, samples)``: integer (e.g. int16) or float samples
        ``[S]`` or ``[S, channels]``, as ``gr.Audio(type="numpy")`` gives
        recordings and uploads.
    sample_rate : int
        The rate the model wants.

    Returns
    -------
    torch.Tensor
        ``[S']`` float32 in [-1, 1], channels averaged, resampled.

    Raises
    ------
    ValueError
        For audio without samples.

    Example
    -------
    >>> stereo = np.full((8000, 2), 16384, dtype=np.int16)
    >>> wav = speech_from_gradio((8000, stereo))
    >>> wav.shape, round(wav[8000].item(), 3)
    (torch.Size([16000]), 0.5)
    """
    rate, samples = audio
    samples = np.asarray(samples)
    if samples.size == 0:
        raise ValueError("the audio has no samples")
    wav = torch.from_numpy(samples.astype(np.float32))
    if np.issubdtype(samples.dtype, np.integer):
        wav = wav / 2 ** (8 * samples.dtype.itemsize - 1)
    if wav.dim() == 2:
        wav = wav.mean(dim=1)
    if rate != sample_rate:
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    return wav


class Index:
    """A model with the embeddings of an image folder and a wav folder,
    computed once; searches them with spoken, written or image queries.

    Scores are the model's: cosine similarity for a SpeechCLIP (as
    :meth:`SpeechCLIPInference.search_speech`), the trained similarity
    for a grounding model (as :meth:`GroundingInference.search_speech`).

    Arguments
    ---------
    model : SpeechCLIPInference or GroundingInference
        The model (:func:`speechbrain_vgs.inference.load_inference`).
    images : str
        A folder of images (searched recursively).
    speech : str
        A folder of wavs (searched recursively).
    batch_size : int
        Utterances embedded at once.

    Raises
    ------
    FileNotFoundError
        For a missing folder.
    ValueError
        For a folder without images or wavs, or a model that is neither a
        SpeechCLIP nor a grounding model.
    """

    def __init__(self, model, images, speech, batch_size=16):
        if not isinstance(model, SpeechCLIPInference | GroundingInference):
            raise ValueError(
                f"the demo needs a SpeechCLIP or grounding model, not a "
                f"{type(model).__name__} (for a keyword spotter, use "
                "speechbrain-vgs search-speech MODEL KEYWORD FOLDER)"
            )
        self.model = model
        self.image_folder, self.speech_folder = images, speech
        self.image_paths = image_files(images)
        self.wav_paths = wav_files(speech)
        self.images = model.encode_images(self.image_paths)
        # a grounding model's speech is (frames, lengths): kept per batch
        self.speech = [
            model.encode_speech(self.wav_paths[start : start + batch_size])
            for start in range(0, len(self.wav_paths), batch_size)
        ]
        self.has_text = isinstance(model, SpeechCLIPInference)
        self.has_keywords = False
        if self.has_text:
            try:
                model.keywords(self.wav_paths[0], top_n=1)
                self.has_keywords = True
            except ValueError:  # no cascaded branch
                pass

    def similarity(self, speech, targets):
        """Scores ``[B, N]`` of encoded speech against encoded images (or
        texts) ``[N, ...]``."""
        if isinstance(speech, tuple):  # grounding: frames and lengths
            return self.model.hparams.similarity(*speech, targets)
        return speech @ targets.T

    def search_images(self, wav, top_k=5):
        """The ``top_k`` images for one utterance ``[S]`` (16 kHz).

        Returns
        -------
        list of (str, float)
            ``(path, score)``, best first.
        """
        speech = self.model.encode_speech(wav)
        scores = self.similarity(speech, self.images)[0]
        return top(self.image_paths, scores, top_k)

    def search_speech(self, query, top_k=5):
        """The ``top_k`` wavs for a text (SpeechCLIP) or a PIL image.

        Returns
        -------
        list of (str, float)
            ``(path, score)``, best first.
        """
        if isinstance(query, str):
            target = self.model.encode_text([query])
        else:
            target = self.model.encode_images([query])
        scores = torch.cat(
            [self.similarity(speech, target)[:, 0] for speech in self.speech]
        )
        return top(self.wav_paths, scores, top_k)

    def keywords(self, wav, top_n=5):
        """One line per keyword slot: the ``top_n`` subwords it hears in
        one utterance ``[S]``, best first."""
        slots = self.model.keywords(wav, top_n=top_n)
        return "\n".join(
            f"slot {k}: {' '.join(words)}"
            for k, words in enumerate(slots, start=1)
        )


def top(paths, scores, top_k):
    """The ``top_k`` ``(path, score)`` pairs, best score first.

    Example
    -------
    >>> top(["a", "b", "c"], torch.tensor([0.25, 0.75, 0.5]), 2)
    [('b', 0.75), ('c', 0.5)]
    """
    scores = scores.float().cpu()
    ranking = scores.argsort(descending=True, stable=True)[:top_k]
    return [(paths[i], scores[i].item()) for i in ranking.tolist()]


def build_app(model, images, speech, top_k=5):
    """The demo's page, with the embeddings of both folders computed.

    Launch it with both folders allowed, so that the page may show their
    files: ``app.launch(allowed_paths=[images, speech])``.

    Arguments
    ---------
    model : SpeechCLIPInference or GroundingInference
        The model (:func:`speechbrain_vgs.inference.load_inference`).
    images : str
        A folder of images (searched recursively).
    speech : str
        A folder of wavs (searched recursively).
    top_k : int
        Images and utterances shown per query.

    Returns
    -------
    gradio.Blocks

    Raises
    ------
    FileNotFoundError, ValueError
        See :class:`Index`.
    """
    import gradio as gr

    index = Index(model, images, speech)

    def on_speech(audio):
        if audio is None:
            raise gr.Error("Record or upload speech first.")
        try:
            wav = speech_from_gradio(audio)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        found = index.search_images(wav, top_k)
        gallery = [
            (path, f"{os.path.relpath(path, images)} (score {score:.3f})")
            for path, score in found
        ]
        heard = index.keywords(wav) if index.has_keywords else ""
        return gallery, heard

    def results(found):
        players = [
            gr.Audio(
                value=path,
                label=f"{rank}. {os.path.relpath(path, speech)} "
                f"(score {score:.3f})",
                visible=True,
            )
            for rank, (path, score) in enumerate(found, start=1)
        ]
        hidden = [
            gr.Audio(value=None, visible=False)
            for _ in range(top_k - len(found))
        ]
        return players + hidden

    def on_text(text):
        if not text.strip():
            raise gr.Error("Type a keyword or a text first.")
        return results(index.search_speech(text.strip(), top_k))

    def on_image(image):
        if image is None:
            raise gr.Error("Upload an image first.")
        return results(index.search_speech(image, top_k))

    name = type(model).__name__.removesuffix("Inference")
    with gr.Blocks(title="speechbrain-vgs demo") as app:
        gr.Markdown(
            f"# Visually grounded speech ({name})\n"
            f"{len(index.image_paths)} images in `{images}`, "
            f"{len(index.wav_paths)} utterances in `{speech}`."
        )
        with gr.Tab("Speech to images"):
            audio = gr.Audio(
                sources=["microphone", "upload"],
                type="numpy",
                label="Spoken caption",
                elem_id="speech-query",
            )
            search_images = gr.Button("Search images", variant="primary")
            gallery = gr.Gallery(
                label=f"Top {top_k} images",
                columns=top_k,
                elem_id="images-found",
            )
            heard = gr.Textbox(
                label="Keywords heard (per slot, best subwords first)",
                lines=2,
                interactive=False,
                visible=index.has_keywords,
                elem_id="keywords-heard",
            )
        with gr.Tab("Search speech"):
            with gr.Row():
                with gr.Column(visible=index.has_text):
                    text = gr.Textbox(
                        label="Keyword or text",
                        placeholder="a red circle",
                        elem_id="text-query",
                    )
                    search_text = gr.Button("Search by text", variant="primary")
                with gr.Column():
                    image = gr.Image(
                        type="pil",
                        sources=["upload", "clipboard"],
                        label="Image",
                        elem_id="image-query",
                    )
                    search_image = gr.Button(
                        "Search by image", variant="primary"
                    )
            players = [
                gr.Audio(
                    interactive=False,
                    visible=False,
                    elem_id=f"utterance-{rank}",
                )
                for rank in range(1, top_k + 1)
            ]
        search_images.click(on_speech, audio, [gallery, heard])
        search_text.click(on_text, text, players)
        text.submit(on_text, text, players)
        search_image.click(on_image, image, players)
    return app


def main(argv=None):
    """Starts the demo (see the module docstring; ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_vgs.app",
        description="Web demo of a trained SpeechCLIP or grounding model: "
        "search the images of a folder by speech, and the wavs of a "
        "folder by text or image.",
    )
    parser.add_argument(
        "model",
        metavar="MODEL_FOLDER",
        help="output folder of a SpeechCLIP or VGS (grounding) recipe",
    )
    parser.add_argument(
        "--images",
        required=True,
        metavar="IMAGE_FOLDER",
        help="images to search by speech (recursive)",
    )
    parser.add_argument(
        "--speech",
        required=True,
        metavar="WAV_FOLDER",
        help="wavs to search by text or image (recursive)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0: the network; default: this "
        "machine only)",
    )
    parser.add_argument("--port", type=int, default=7860, help="default: 7860")
    parser.add_argument(
        "--device", default="cpu", help="torch device (default: cpu)"
    )
    parser.add_argument(
        "--top_k", type=int, default=5, help="results per query (default: 5)"
    )
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error("--top_k must be at least 1")
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.exit("the demo needs gradio: pip install -e .[app]")
    for option, files in (("images", image_files), ("speech", wav_files)):
        try:  # before loading the model: fail fast
            files(getattr(args, option))
        except (FileNotFoundError, ValueError) as error:
            parser.error(f"--{option}: {error}")
    try:
        model = load_inference(args.model, device=args.device)
        app = build_app(model, args.images, args.speech, args.top_k)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    app.launch(
        server_name=args.host,
        server_port=args.port,
        allowed_paths=[args.images, args.speech],
    )


if __name__ == "__main__":
    main()
