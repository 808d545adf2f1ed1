"""The examples page of a retrieval test: ``examples.html``, a plain HTML
page to look at what a model retrieves, written beside ``results_file``.

Each test set has a section with

* captions spread over the set (spoken: an audio player; the transcript
  where the manifest has one; the cascaded keywords of a SpeechCLIP model)
  and the top-5 images each retrieves, the caption's own image marked;
* images spread over the set and the top-5 captions each retrieves, the
  image's own captions marked;
* the figures drawn for the set (e.g. SpeechCLIP's layer weights and
  keyword attention).

The page needs no script and nothing online: audio, images and figures are
linked by paths relative to the page's folder, so the page reads offline
as long as the corpus and the output folder keep their places (or move
together). A file that is missing when the page is written shows as a
note naming it. :func:`retrieval_examples` picks the examples from a
test's :class:`speechbrain_vgs.metrics.RetrievalStats`,
:func:`set_section` draws a set's section and :func:`write_page` writes
the page atomically.

Authors
 * speechbrain-vgs developers 2026
"""

import html
import os
from urllib.parse import quote

from speechbrain_vgs.dataio.manifest import write_text

PAGE_NAME = "examples.html"
TOP_K = 5
STYLE = """
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
h2 { border-bottom: 2px solid #888; }
article { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 1em;
          margin: 1em 0; }
h4 { margin: 0.3em 0; font-family: monospace; }
.transcript { font-style: italic; }
.keywords ol { margin: 0.2em 0; }
.subword { display: inline-block; margin: 0 0.3em 0.2em 0;
           padding: 0 0.3em; background: #eef; border-radius: 3px;
           font-family: monospace; }
ol.ranked { display: flex; flex-wrap: wrap; gap: 0.8em; list-style: none;
            padding: 0; }
ol.ranked > li { border: 4px solid transparent; padding: 0.3em;
                 width: 11em; }
ol.ranked > li.correct { border-color: #2a2; background: #efe; }
.mark { color: #2a2; font-weight: bold; }
img { max-width: 10em; max-height: 10em; display: block; }
audio { display: block; width: 100%; max-width: 24em; }
img.figure { max-width: 40em; max-height: none; }
.missing { color: #a22; font-family: monospace; }
"""


def evenly_spaced(items, n):
    """``n`` items spread evenly over ``items`` (all of them if fewer): the
    examples of a set, spread over its images rather than its first ones.

    Example
    -------
    >>> evenly_spaced(list(range(10)), 3)
    [0, 3, 6]
    >>> evenly_spaced(["a", "b"], 5)
    ['a', 'b']
    """
    step = max(1, len(items) // max(n, 1))
    return list(items)[::step][:n]


def retrieval_examples(
    stats, entries, num_captions=5, num_images=3, keywords=None
):
    """The examples of one test set: ``num_captions`` captions with their
    top-5 images and ``num_images`` images with their top-5 captions, each
    evenly spaced over the sorted ids (:func:`evenly_spaced`), scored as
    the test scored them
    (:meth:`speechbrain_vgs.metrics.RetrievalStats.top_images`).

    Arguments
    ---------
    stats : speechbrain_vgs.metrics.RetrievalStats
        The test's statistics (gathered under DDP: call it after
        ``summarize``); its image ids may be any ids (e.g. ``image_idx``).
    entries : dict
        ``{utterance id: manifest entry}`` with resolved paths, e.g. the
        test set's ``DynamicItemDataset.data``: ``image`` and ``image_id``,
        optionally ``wav`` and ``text``.
    num_captions : int
        Captions shown with their images.
    num_images : int
        Images shown with their captions.
    keywords : dict, optional
        ``{utterance id: keyword slots}``, each slot a list of subwords
        (SpeechCLIP's cascaded keywords).

    Returns
    -------
    captions : list of dict
        ``id``, ``wav``, ``text`` (``None`` where the entry has none),
        ``keywords`` (``None`` without) and ``images``, the top-5 as dicts
        of ``id`` (the manifest ``image_id``), ``path`` and ``correct``.
    images : list of dict
        ``id``, ``path`` and ``captions``, the top-5 as dicts of ``id``,
        ``wav``, ``text`` and ``correct``.

    Example
    -------
    >>> import torch
    >>> from speechbrain_vgs.metrics import RetrievalStats
    >>> stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
    >>> stats.append(["u1", "u2"], torch.tensor([[1.0, 0.0], [1.0, 0.5]]),
    ...              None, torch.eye(2), [0, 1])
    >>> entries = {
    ...     "u1": {"wav": "/c/u1.wav", "image": "/c/a.png", "image_id": "a"},
    ...     "u2": {"wav": "/c/u2.wav", "image": "/c/b.png", "image_id": "b"}}
    >>> captions, images = retrieval_examples(stats, entries, 2, 1)
    >>> [(i["id"], i["correct"]) for i in captions[1]["images"]]
    [('a', False), ('b', True)]
    >>> [(c["id"], c["correct"]) for c in images[0]["captions"]]
    [('u1', True), ('u2', False)]
    """
    keywords = keywords or {}
    image_entries = {}
    for utt_id, image_id in zip(stats.ids, stats.utterance_images):
        image_entries.setdefault(image_id, entries[utt_id])
    own_image = dict(zip(stats.ids, stats.utterance_images))

    def image(image_id):
        entry = image_entries[image_id]
        return {"id": entry["image_id"], "path": entry["image"]}

    def caption(utt_id):
        entry = entries[utt_id]
        return {
            "id": utt_id,
            "wav": entry.get("wav"),
            "text": entry.get("text"),
        }

    caption_ids = evenly_spaced(sorted(stats.ids), num_captions)
    captions = [
        {
            **caption(utt_id),
            "keywords": keywords.get(utt_id),
            "images": [
                {**image(i), "correct": i == own_image[utt_id]} for i in ranked
            ],
        }
        for utt_id, ranked in zip(
            caption_ids, stats.top_images(caption_ids, TOP_K)
        )
    ]
    image_ids = evenly_spaced(
        sorted(stats.images, key=lambda i: str(image(i)["id"])), num_images
    )
    images = [
        {
            **image(image_id),
            "captions": [
                {**caption(u), "correct": own_image[u] == image_id}
                for u in ranked
            ],
        }
        for image_id, ranked in zip(
            image_ids, stats.top_utterances(image_ids, TOP_K)
        )
    ]
    return captions, images


def set_section(name, captions, images, figures, folder):
    """The HTML section of one test set.

    Arguments
    ---------
    name : str
        The test set.
    captions : list of dict
        Caption examples (see :func:`retrieval_examples`).
    images : list of dict
        Image examples (see :func:`retrieval_examples`).
    figures : list of str
        Figure files shown at the end of the section.
    folder : str
        The page's folder: files are linked relative to it.

    Returns
    -------
    str

    Example
    -------
    >>> captions = [{
    ...     "id": "u1", "wav": "/c/u1.wav", "text": "a <b>",
    ...     "keywords": [["re"]],
    ...     "images": [{"id": "a", "path": "/c/a.png", "correct": True}]}]
    >>> section = set_section("test", captions, [], [], "/c/out")
    >>> print(section[section.index("<article"):section.index("</article")])
    <article class="caption" data-id="u1">
    <h4>u1</h4>
    <span class="missing">missing file: ../u1.wav</span>
    <p class="transcript">a &lt;b&gt;</p>
    <div class="keywords">Keywords:
    <ol>
    <li><span class="subword">re</span></li>
    </ol>
    </div>
    <ol class="ranked">
    <li class="correct" data-id="a">
    <span class="rank">1. a</span> <span class="mark">&#10003; own image</span>
    <span class="missing">missing file: ../a.png</span>
    </li>
    </ol>
    """
    parts = [
        f'<section class="test-set" data-set="{_escape(name)}">',
        f"<h2>Test set {_escape(name)}</h2>",
        '<section class="captions">',
        f"<h3>Captions and their top-{TOP_K} images</h3>",
        *(_caption_article(example, folder) for example in captions),
        "</section>",
        '<section class="images">',
        f"<h3>Images and their top-{TOP_K} captions</h3>",
        *(_image_article(example, folder) for example in images),
        "</section>",
    ]
    if figures:
        parts.append('<section class="figures">\n<h3>Figures</h3>')
        for path in figures:
            name = os.path.basename(path)
            image = _image(path, folder, f"figure {name}", "figure")
            parts.append(
                f"<figure>{image}<figcaption>{_escape(name)}</figcaption>"
                "</figure>"
            )
        parts.append("</section>")
    parts.append("</section>")
    return "\n".join(parts)


def write_page(path, sections, title="Retrieval examples"):
    """Writes the page of some test sets' sections, atomically (see
    :func:`speechbrain_vgs.dataio.manifest.write_text`).

    Arguments
    ---------
    path : str
        The page, usually ``examples.html`` (``PAGE_NAME``) beside
        ``results_file``.
    sections : list of str
        Sections of :func:`set_section`, linked relative to the page's
        folder.
    title : str
        The page's title.

    Example
    -------
    >>> path = getfixture("tmpdir") / "examples.html"
    >>> write_page(path, [set_section("test", [], [], [], str(path.dirname))])
    >>> path.read_text("utf-8").count("<h2>Test set test</h2>")
    1
    """
    title = _escape(title)
    legend = (
        f"Each test set: captions with the {TOP_K} images they retrieve, "
        f"best first, and images with the {TOP_K} captions they retrieve; "
        "a green border and &#10003; mark the right ones."
    )
    page = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{title}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        f"<p>{legend}</p>",
        *sections,
        "</body>",
        "</html>",
    ]
    write_text(path, "\n".join(page) + "\n")


def _caption_article(example, folder):
    """A caption with its keywords and ranked images."""
    parts = [
        f'<article class="caption" data-id="{_escape(example["id"])}">',
        f"<h4>{_escape(example['id'])}</h4>",
        *_caption_body(example, folder),
    ]
    if example["keywords"] is not None:
        parts.append('<div class="keywords">Keywords:\n<ol>')
        for slot in example["keywords"]:
            subwords = "".join(
                f'<span class="subword">{_escape(w)}</span>' for w in slot
            )
            parts.append(f"<li>{subwords}</li>")
        parts.append("</ol>\n</div>")
    parts.append('<ol class="ranked">')
    for rank, image in enumerate(example["images"], 1):
        alt = f"image {image['id']}"
        if image["correct"]:
            alt += ", the caption's own image"
        parts.append(_ranked_item(image, rank, "own image"))
        parts.append(_image(image["path"], folder, alt))
        parts.append("</li>")
    parts.append("</ol>")
    parts.append("</article>")
    return "\n".join(parts)


def _image_article(example, folder):
    """An image with its ranked captions."""
    parts = [
        f'<article class="image" data-id="{_escape(example["id"])}">',
        f"<h4>{_escape(example['id'])}</h4>",
        _image(example["path"], folder, f"image {example['id']}", "query"),
        '<ol class="ranked">',
    ]
    for rank, caption in enumerate(example["captions"], 1):
        parts.append(_ranked_item(caption, rank, "a caption of this image"))
        parts.extend(_caption_body(caption, folder))
        parts.append("</li>")
    parts.append("</ol>")
    parts.append("</article>")
    return "\n".join(parts)


def _ranked_item(item, rank, mark):
    """The opening of a ranked item: its rank, id and, if right, a mark."""
    css_class = "correct" if item["correct"] else "other"
    opening = (
        f'<li class="{css_class}" data-id="{_escape(item["id"])}">\n'
        f'<span class="rank">{rank}. {_escape(item["id"])}</span>'
    )
    if item["correct"]:
        opening += f' <span class="mark">&#10003; {mark}</span>'
    return opening


def _caption_body(caption, folder):
    """The audio player (spoken captions) and the transcript, if any."""
    parts = []
    if caption["wav"] is not None:
        controls = ' controls preload="metadata"'
        parts.append(_media(caption["wav"], folder, "audio", controls))
    if caption["text"] is not None:
        parts.append(f'<p class="transcript">{_escape(caption["text"])}</p>')
    return parts


def _image(path, folder, alt, css_class=None):
    """An ``<img>`` of a file, with its alt text."""
    attributes = f' alt="{_escape(alt)}"'
    if css_class is not None:
        attributes += f' class="{css_class}"'
    return _media(path, folder, "img", attributes)


def _media(path, folder, tag, attributes):
    """An ``<img>`` or ``<audio>`` element of a file, linked relative to
    ``folder``, or a note naming the file if it is missing."""
    relative = os.path.relpath(path, folder).replace(os.sep, "/")
    if not os.path.isfile(path):
        return f'<span class="missing">missing file: {_escape(relative)}</span>'
    element = f'<{tag} src="{_escape(quote(relative))}"{attributes}>'
    return element + "</audio>" if tag == "audio" else element


def _escape(text):
    """``text`` as HTML text or attribute value."""
    return html.escape(str(text), quote=True)
