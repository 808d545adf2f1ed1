"""A frozen open_clip CLIP for SpeechCLIP: cached image embeddings, text,
token embeddings and keyword encoding.

:class:`FrozenCLIP` loads any open_clip model with CLIP's causal text
transformer (``ViT-B-32``, ``ViT-L-14``, ...) from a pretrained tag, or from
a local checkpoint (plus an open_clip model config JSON for a custom
architecture, see :func:`speechbrain_vgs.lobes.tiny_models.save_tiny_clip`).
Nothing of it ever trains: its parameters have no gradient and it stays in
eval mode.

* ``image_embeddings(paths)``: L2-normalised embeddings of image files,
  each computed once (in float32, autocast off) and kept in memory and,
  with ``cache_dir``, on disk under a folder named after the model
  (name, tag, checkpoint content and image transform), through an
  :class:`ImageEmbeddingCache`. An image is keyed by its absolute path, size
  and modification time, so a rewritten file is embedded again.
* ``encode_keywords(keywords)``: SpeechCLIP's cascaded path. ``K`` keyword
  vectors in the token-embedding space are read by CLIP's text encoder as
  the sequence ``[start, k1 .. kK, end]``: token embeddings of the start and
  end tokens around the keywords, CLIP's positional embeddings, the text
  transformer with CLIP's causal mask, the final LayerNorm, the output at
  the end token, the text projection, then L2 normalisation. This is
  open_clip's own ``encode_text`` path (which pools at the end token), so
  the embeddings of a caption's own tokens give that caption's text
  embedding. The causal mask makes positions after the end token
  irrelevant, so the sequence stops there. Gradients flow to the keywords.
* ``vocabulary``: the token ids a keyword may take (SpeechCLIP's cosine /
  argmax over the token table); never the start, end or padding tokens.
  ``subword_vocabulary(captions)`` restricts it to the subwords of the
  *training* captions.

The ``state_dict`` holds only the vocabulary (loading one sets it, whatever
its size): the frozen weights come from the model's own source and stay out
of checkpoints.

Note: OpenAI's CLIP weights use QuickGELU, which open_clip 3.x no longer
switches on by itself for ``ViT-B-32`` + ``openai`` (it only warns); the
activation is taken from the pretrained tag's settings here.

Authors
 * speechbrain-vgs developers 2026
"""

import hashlib
import os
import re
import tempfile

import open_clip
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from speechbrain_vgs.dataio.manifest import DataError
from speechbrain_vgs.lobes.frozen import exclude_from_state_dict
from speechbrain_vgs.lobes.masking import length_mask
from speechbrain_vgs.progress import progress

PAD_ID = 0  # open_clip's SimpleTokenizer pads with token 0


class FrozenCLIP(nn.Module):
    """A frozen open_clip CLIP model.

    Arguments
    ---------
    model_name : str
        open_clip architecture name (``"ViT-B-32"``, ``"ViT-L-14"``...); with
        ``config``, the config file's stem.
    pretrained : str, optional
        open_clip pretrained tag (``"openai"``): the weights to download when
        no ``checkpoint`` is given, and in any case the source of the tag's
        settings (activation, image normalisation).
    checkpoint : str, optional
        Local weights file (a state dict, or OpenAI's released ``.pt``).
    config : str, optional
        open_clip model config JSON (``embed_dim``, ``vision_cfg``,
        ``text_cfg``) for an architecture open_clip does not ship.
    cache_dir : str, optional
        Folder of the on-disk image-embedding cache.
    cache_in_memory : bool
        Whether image embeddings are also kept in memory.
    download_dir : str, optional
        open_clip's download cache for pretrained tags.
    vocabulary : sequence of int, optional
        Token ids allowed as keywords (see :meth:`set_vocabulary`); by
        default all but the special tokens.

    Example
    -------
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
    >>> clip = FrozenCLIP("tiny-clip", pretrained=None, checkpoint=checkpoint,
    ...             config=config)
    >>> clip.encode_text(["a red circle", "two blue squares"]).shape
    torch.Size([2, 32])
    >>> keywords = clip.token_embedding.weight[[320, 736]].unsqueeze(0)
    >>> clip.encode_keywords(keywords).shape
    torch.Size([1, 32])
    """

    def __init__(
        self,
        model_name="ViT-B-32",
        pretrained="openai",
        checkpoint=None,
        config=None,
        cache_dir=None,
        cache_in_memory=True,
        download_dir=None,
        vocabulary=None,
    ):
        super().__init__()
        model, self.preprocess, self.tokenizer = load_open_clip(
            model_name, pretrained, checkpoint, config, download_dir
        )
        check_text_tower(model_name, model, self.tokenizer)
        model.requires_grad_(False)
        model.eval()
        self.model = model
        exclude_from_state_dict(self, "model")
        self.register_load_state_dict_pre_hook(_resize_vocabulary)
        self.start_id = self.tokenizer.sot_token_id
        self.end_id = self.tokenizer.eot_token_id
        self.pad_id = PAD_ID
        self.special_ids = (self.pad_id, self.start_id, self.end_id)
        self.token_dim = model.token_embedding.embedding_dim
        self.embedding_dim = _text_embedding_dim(model)
        self.register_buffer("vocabulary", torch.zeros(0, dtype=torch.long))
        if vocabulary is None:
            vocabulary = range(model.vocab_size)
            vocabulary = [i for i in vocabulary if i not in self.special_ids]
        self.set_vocabulary(vocabulary)
        cache_folder = None
        if cache_dir is not None:
            identity = model_identity(
                model_name, pretrained, checkpoint, self.preprocess
            )
            cache_folder = os.path.join(os.fspath(cache_dir), identity)
        self.image_cache = ImageEmbeddingCache(cache_folder, cache_in_memory)

    def train(self, mode=True):
        """Keeps CLIP in eval mode whatever ``mode`` is asked.

        Arguments
        ---------
        mode : bool
            Ignored (CLIP is frozen).

        Returns
        -------
        self : FrozenCLIP

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> clip.train().model.training
        False
        """
        super().train(mode)
        self.model.eval()
        return self

    @property
    def device(self):
        """The device CLIP is on."""
        return self.model.token_embedding.weight.device

    @property
    def token_embedding(self):
        """CLIP's (frozen) token-embedding table, an ``nn.Embedding``."""
        return self.model.token_embedding

    @property
    def vocabulary_embeddings(self):
        """Token embeddings of the vocabulary, ``[V, token_dim]``."""
        return self.model.token_embedding.weight[self.vocabulary]

    def set_vocabulary(self, token_ids):
        """Sets the token ids a keyword may take.

        Arguments
        ---------
        token_ids : sequence of int or torch.Tensor
            Token ids, none of them special (start, end, padding).

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> clip.set_vocabulary([736, 320, 320])
        >>> clip.vocabulary
        tensor([320, 736])
        """
        ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
        if len(ids) == 0:
            raise ValueError("the vocabulary is empty")
        if ids.min() < 0 or ids.max() >= self.model.vocab_size:
            raise ValueError(
                f"token ids must lie in [0, {self.model.vocab_size})"
            )
        special = [i for i in self.special_ids if (ids == i).any()]
        if special:
            raise ValueError(
                f"special tokens {special} cannot be in the vocabulary"
            )
        self.vocabulary = torch.unique(ids).to(self.device)

    def subword_vocabulary(self, captions):
        """The sorted token ids of the subwords of ``captions``.

        Special tokens are left out. Give it the *training* captions only.

        Arguments
        ---------
        captions : iterable of str
            Caption texts.

        Returns
        -------
        token_ids : torch.Tensor
            Sorted, unique ``[V]`` (long).

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> ids = clip.subword_vocabulary(["a dog", "a cat!"])
        >>> [clip.tokenizer.decode([i]) for i in ids.tolist()]
        ['! ', 'a ', 'dog ', 'cat ']
        """
        ids = set()
        for caption in captions:
            ids.update(self.tokenizer.encode(caption))
        ids.difference_update(self.special_ids)
        return torch.tensor(sorted(ids), dtype=torch.long)

    @torch.no_grad()
    def encode_image(self, images):
        """L2-normalised image embeddings.

        Arguments
        ---------
        images : torch.Tensor
            Preprocessed images ``[B, 3, H, W]`` (see ``preprocess``).

        Returns
        -------
        embeddings : torch.Tensor
            ``[B, embedding_dim]``.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> clip.encode_image(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 32])
        """
        return self.model.encode_image(images, normalize=True)

    @torch.no_grad()
    def encode_text(self, texts):
        """L2-normalised text embeddings, tokenised with CLIP's tokenizer.

        Arguments
        ---------
        texts : list of str
            Texts (truncated to the context length).

        Returns
        -------
        embeddings : torch.Tensor
            ``[B, embedding_dim]``.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> clip.encode_text(["a photo of a dog"]).shape
        torch.Size([1, 32])
        """
        tokens = self.tokenizer(texts).to(self.device)
        return self.model.encode_text(tokens, normalize=True)

    def encode_keywords(self, keywords, lengths=None):
        """Text embeddings of keyword sequences ``[start, k1 .. kK, end]``.

        Arguments
        ---------
        keywords : torch.Tensor
            Keyword vectors in the token-embedding space ``[B, K, token_dim]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``: item ``b`` uses its first
            ``round(lengths[b] * K)`` keywords (at least one), and the end
            token follows them. ``None`` uses all ``K``.

        Returns
        -------
        embeddings : torch.Tensor
            L2-normalised ``[B, embedding_dim]``, differentiable with respect
            to ``keywords``.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config)
        >>> keywords = torch.randn(2, 8, clip.token_dim, requires_grad=True)
        >>> clip.encode_keywords(keywords).sum().backward()
        >>> keywords.grad.shape
        torch.Size([2, 8, 32])
        """
        model = self.model
        batch, num_keywords, _ = keywords.shape
        seq_len = num_keywords + 2
        if seq_len > model.context_length:
            raise ValueError(
                f"{num_keywords} keywords and the start and end tokens exceed "
                f"CLIP's context length {model.context_length}"
            )
        if lengths is None:
            used = torch.full((batch,), num_keywords, device=keywords.device)
        else:
            lengths = lengths.to(keywords.device)
            used = length_mask(lengths, num_keywords).sum(1)
        cast_dtype = model.transformer.get_cast_dtype()
        table = model.token_embedding.weight
        start = table[self.start_id].expand(batch, 1, -1)
        end = table[self.end_id].expand(batch, 1, -1)
        x = torch.cat([start, keywords.to(table.dtype), end], dim=1)
        positions = torch.arange(seq_len, device=keywords.device)
        end_mask = positions == (used + 1)[:, None]
        x = torch.where(end_mask.unsqueeze(-1), end, x).to(cast_dtype)
        x = x + model.positional_embedding[:seq_len].to(cast_dtype)
        x = model.transformer(x, attn_mask=model.attn_mask[:seq_len, :seq_len])
        x = model.ln_final(x)
        x = x[torch.arange(batch, device=x.device), used + 1]
        if isinstance(model.text_projection, nn.Linear):
            x = model.text_projection(x)
        elif model.text_projection is not None:
            x = x @ model.text_projection
        return F.normalize(x, dim=-1)

    def image_embeddings(self, paths):
        """L2-normalised embeddings of image files, computed once per image.

        Arguments
        ---------
        paths : list of str
            Image files (any format PIL reads; converted to RGB).

        Returns
        -------
        embeddings : torch.Tensor
            ``[len(paths), embedding_dim]`` (float32), on CLIP's device.

        Example
        -------
        >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
        >>> tmp = getfixture("tmpdir")
        >>> checkpoint, config = save_tiny_clip(tmp)
        >>> clip = FrozenCLIP("tiny-clip", None, checkpoint, config,
        ...             cache_dir=tmp / "cache")
        >>> Image.new("RGB", (40, 30), "red").save(tmp / "red.png")
        >>> first = clip.image_embeddings([tmp / "red.png"])
        >>> torch.equal(clip.image_embeddings([tmp / "red.png"]), first)
        True
        """
        keys = [image_key(path) for path in paths]
        found = {}
        for key in keys:
            if key not in found:
                embedding = self.image_cache.get(key)
                if embedding is not None:
                    found[key] = embedding
        missing = {
            key: path for key, path in zip(keys, paths) if key not in found
        }
        device = self.device
        images = progress(missing.items(), "CLIP: images", min_total=1000)
        for key, path in images:
            # one image at a time: an embedding does not depend on which
            # other images were missing (batched matmuls round differently),
            # so a resumed run reads what the uninterrupted run computed
            image = self.preprocess(load_image(path)).unsqueeze(0).to(device)
            with torch.autocast(device.type, enabled=False):
                found[key] = self.encode_image(image).float().cpu()[0]
            self.image_cache.put(key, found[key])
        embeddings = torch.stack([found[key] for key in keys])
        return embeddings.to(self.device)


class ImageEmbeddingCache:
    """Image embeddings by image key, in memory and optionally on disk.

    On disk, the embedding of ``key`` is ``<folder>/<key>.pt``, written
    atomically (a temporary file in ``folder``, then renamed).

    Arguments
    ---------
    folder : str, optional
        Folder of the on-disk cache (created if missing); ``None`` keeps
        nothing on disk.
    in_memory : bool
        Whether embeddings are also kept in memory.

    Example
    -------
    >>> folder = getfixture("tmpdir") / "cache"
    >>> ImageEmbeddingCache(folder).put("key", torch.ones(3))
    >>> ImageEmbeddingCache(folder, in_memory=False).get("key")
    tensor([1., 1., 1.])
    >>> ImageEmbeddingCache(folder).get("other") is None
    True
    """

    def __init__(self, folder=None, in_memory=True):
        self.folder = None if folder is None else os.fspath(folder)
        self.in_memory = in_memory
        self.memory = {}
        if self.folder is not None:
            os.makedirs(self.folder, exist_ok=True)

    def get(self, key):
        """The cached embedding of an image key.

        Arguments
        ---------
        key : str
            Image key (see :func:`image_key`).

        Returns
        -------
        embedding : torch.Tensor or None
            The embedding (on the CPU when read from disk), or ``None`` when
            it is not cached.

        Example
        -------
        >>> cache = ImageEmbeddingCache()
        >>> cache.put("key", torch.zeros(2))
        >>> cache.get("key")
        tensor([0., 0.])
        """
        if key in self.memory:
            return self.memory[key]
        if self.folder is None:
            return None
        path = os.path.join(self.folder, f"{key}.pt")
        if not os.path.isfile(path):
            return None
        embedding = torch.load(path, map_location="cpu", weights_only=True)
        if self.in_memory:
            self.memory[key] = embedding
        return embedding

    def put(self, key, embedding):
        """Caches the embedding of an image key.

        Arguments
        ---------
        key : str
            Image key (see :func:`image_key`).
        embedding : torch.Tensor
            Its embedding.

        Example
        -------
        >>> import os
        >>> folder = getfixture("tmpdir") / "cache"
        >>> cache = ImageEmbeddingCache(folder, in_memory=False)
        >>> cache.put("key", torch.ones(2))
        >>> os.listdir(folder)
        ['key.pt']
        """
        if self.in_memory:
            self.memory[key] = embedding
        if self.folder is not None:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                torch.save(embedding, f)
            os.replace(tmp, os.path.join(self.folder, f"{key}.pt"))


def load_open_clip(
    model_name, pretrained=None, checkpoint=None, config=None, download_dir=None
):
    """Loads an open_clip model with its image transform and tokenizer.

    The pretrained tag's settings (activation, image normalisation) apply
    whether the weights come from the tag or from ``checkpoint``.

    Arguments
    ---------
    model_name : str
        open_clip architecture name; with ``config``, the config file's stem.
    pretrained : str, optional
        open_clip pretrained tag: the weights when no ``checkpoint`` is
        given, and the source of the tag's settings.
    checkpoint : str, optional
        Local weights file.
    config : str, optional
        open_clip model config JSON, registered with open_clip first.
    download_dir : str, optional
        open_clip's download cache for pretrained tags.

    Returns
    -------
    model : open_clip.CLIP
        The model, as open_clip builds it.
    preprocess : callable
        Its image transform (evaluation).
    tokenizer : callable
        Its tokenizer.

    Example
    -------
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
    >>> model, preprocess, tokenizer = load_open_clip(
    ...     "tiny-clip", checkpoint=checkpoint, config=config)
    >>> tokenizer(["a dog"]).shape
    torch.Size([1, 77])
    """
    if config is not None:
        _register_config(model_name, config)
    tag = _pretrained_settings(model_name, pretrained) if pretrained else {}
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"{checkpoint}: checkpoint not found")
    elif not pretrained:
        raise ValueError(f"{model_name}: give a pretrained tag or a checkpoint")
    model, _, preprocess = open_clip.create_model_and_transforms(
        model_name,
        pretrained=checkpoint or pretrained,
        force_quick_gelu=tag.get("quick_gelu", False),
        image_mean=tag.get("mean"),
        image_std=tag.get("std"),
        image_interpolation=tag.get("interpolation"),
        image_resize_mode=tag.get("resize_mode"),
        cache_dir=download_dir,
    )
    return model, preprocess, open_clip.get_tokenizer(model_name)


def _register_config(model_name, config):
    """Registers an open_clip model config JSON named ``model_name``."""
    config = os.fspath(config)
    stem = os.path.splitext(os.path.basename(config))[0]
    if stem != model_name:
        raise ValueError(
            f"{config}: open_clip names this architecture {stem!r} "
            f"(the file stem), but model_name is {model_name!r}"
        )
    if not os.path.isfile(config):
        raise FileNotFoundError(f"{config}: model config not found")
    open_clip.add_model_config(config)


def _pretrained_settings(model_name, pretrained):
    """open_clip's settings of a pretrained tag (a dict)."""
    tag = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not tag:
        known = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"{pretrained!r} is not a pretrained tag of {model_name!r} "
            f"(known: {known}); give local weights as checkpoint"
        )
    return tag


def check_text_tower(model_name, model, tokenizer):
    """Checks that a model has CLIP's text tower, as keywords need it.

    That is token embeddings, a causal mask, the output at the end token
    and CLIP's BPE tokenizer.

    Arguments
    ---------
    model_name : str
        Architecture name, for the error message.
    model : torch.nn.Module
        open_clip model.
    tokenizer : callable
        Its tokenizer.

    Raises
    ------
    ValueError
        When the model or tokenizer is not CLIP's.

    Example
    -------
    >>> from speechbrain_vgs.lobes.tiny_models import save_tiny_clip
    >>> checkpoint, config = save_tiny_clip(getfixture("tmpdir"))
    >>> model, _, tokenizer = load_open_clip(
    ...     "tiny-clip", checkpoint=checkpoint, config=config)
    >>> check_text_tower("tiny-clip", model, tokenizer)
    >>> check_text_tower("tiny-clip", model, str.split)
    Traceback (most recent call last):
    ...
    ValueError: tiny-clip: needs CLIP's text tower ...
    """
    if not (
        isinstance(model, open_clip.CLIP)
        and model.attn_mask is not None
        and model.text_pool_type in ("argmax", "eos")
        and isinstance(tokenizer, open_clip.SimpleTokenizer)
    ):
        raise ValueError(
            f"{model_name}: needs CLIP's text tower (token embeddings, "
            "causal mask, output at the end token, CLIP's BPE tokenizer)"
        )


def _text_embedding_dim(model):
    """Size of a CLIP model's text embeddings (after the projection)."""
    projection = model.text_projection
    if projection is None:
        return model.token_embedding.embedding_dim
    if isinstance(projection, nn.Linear):
        return projection.out_features
    return projection.shape[-1]


def _resize_vocabulary(clip, state_dict, prefix, *args):
    """Load pre-hook: takes a saved vocabulary of any size."""
    saved = state_dict.get(f"{prefix}vocabulary")
    if saved is not None:
        clip.set_vocabulary(saved)


def load_image(path):
    """Reads an image file as RGB.

    Arguments
    ---------
    path : str
        Image file.

    Returns
    -------
    image : PIL.Image.Image
        RGB image.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> Image.new("L", (4, 3)).save(tmp / "gray.png")
    >>> load_image(tmp / "gray.png").mode
    'RGB'
    """
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read image: {e}") from None


def image_key(path):
    """Cache key of an image file: its absolute path, size and mtime.

    Arguments
    ---------
    path : str
        Image file.

    Returns
    -------
    key : str
        A hex digest.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> Image.new("RGB", (4, 3)).save(tmp / "a.png")
    >>> image_key(tmp / "a.png") == image_key(str(tmp / "a.png"))
    True
    """
    path = os.path.abspath(os.fspath(path))
    try:
        stat = os.stat(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read image: {e}") from None
    text = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def model_identity(model_name, pretrained, checkpoint, preprocess):
    """Names a model's image-embedding cache folder.

    Built from the model name, the pretrained tag, the SHA-256 of the
    checkpoint file's content and the image transform.

    Arguments
    ---------
    model_name : str
        open_clip architecture name.
    pretrained : str or None
        Pretrained tag.
    checkpoint : str or None
        Weights file.
    preprocess : callable
        Image transform (its ``repr`` counts).

    Returns
    -------
    identity : str
        ``<model name>-<16 hex digits>``.

    Example
    -------
    >>> model_identity("ViT-B-32", "openai", None, "transform")
    'ViT-B-32-...'
    """
    digest = hashlib.sha256()
    digest.update(f"{model_name}\0{pretrained}\0{preprocess!r}\0".encode())
    if checkpoint is not None:
        with open(checkpoint, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", model_name)
    return f"{name}-{digest.hexdigest()[:16]}"
