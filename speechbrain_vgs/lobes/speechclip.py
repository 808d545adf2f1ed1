"""SpeechCLIP heads: from weighted HuBERT frames to CLIP's spaces.

* :class:`ParallelHead` (SpeechCLIP parallel): a learnable CLS before the
  frames, one post-LN transformer encoder layer (GELU), a final LayerNorm;
  the CLS output goes through a Linear to CLIP's embedding width and is
  L2-normalised.
* :class:`CascadedHead` (SpeechCLIP cascaded): ``K`` learnable CLS tokens,
  one attention layer (residual + LayerNorm, no FFN), then a
  :class:`KeywordSelector`: Linear to CLIP's token width, BatchNorm1d over
  the flattened ``K * token_dim`` vector (initialised from CLIP's token
  table), cosine to the vocabulary embeddings and ``softmax(cos / tau)``
  with a straight-through one-hot in training, argmax at evaluation. The
  selected keyword embeddings then go through
  :meth:`speechbrain_vgs.lobes.clip.FrozenCLIP.encode_keywords`.
* :class:`HybridHead` (SpeechCLIP+ Hybrid): one shared attention layer over
  ``[parallel CLS, K keyword CLS, frames]``; the parallel CLS gives the
  parallel embedding (Linear, L2 norm), the keyword CLS the cascaded path.
* :class:`CascadedPlusHead` (SpeechCLIP+ Cascaded+): one attention layer
  over the frames (no CLS), then :class:`~speechbrain_vgs.lobes.cif.CIF`
  fires a variable number of keyword vectors per utterance, which a
  :class:`VariableKeywordSelector` quantises (one BatchNorm1d over the
  token width, valid keywords only; the same cosine and straight-through
  one-hot); CLIP's end token follows each utterance's own keywords.
* :class:`HybridPlusHead` (SpeechCLIP+ Hybrid+): one attention layer over
  ``[parallel CLS, frames]``; the CLS gives the parallel embedding, the
  frames the Cascaded+ path.

The head contract: a head declares its ``branches`` (``("parallel",)``,
``("cascaded",)`` or both), is called as ``head(frames, lengths,
vocabulary_embeddings, vocabulary)`` (the vocabulary only matters to a
cascaded branch) and returns a :class:`HeadOutput`, whose fields of a
branch it lacks are ``None``. A head with a variable number of keywords
(``variable_keywords = True``) also takes ``keyword_targets`` (target
counts ``[B]``) and fills ``num_keywords`` and the CIF fields.

Padded frames (beyond ``round(length * T)``) are masked out of attention,
so they never change the outputs. The vocabulary is given at ``forward``
as its embeddings ``[V, token_dim]`` and its token ids ``[V]``
(``FrozenCLIP.vocabulary_embeddings`` and ``FrozenCLIP.vocabulary``, which
never hold the start, end or padding tokens); the heads return CLIP token
ids.

Authors
 * speechbrain-vgs developers 2026
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_vgs.lobes.masking import length_mask


def prepend_tokens(tokens, features, lengths=None):
    """Puts learnable tokens before the frames and masks the padding.

    Arguments
    ---------
    tokens : torch.Tensor
        Tokens ``[N, D]``, the same for every item.
    features : torch.Tensor
        Frames ``[B, T, D]``.
    lengths : torch.Tensor, optional
        Relative lengths ``[B]``; ``None`` means all frames are valid.

    Returns
    -------
    sequence : torch.Tensor
        ``[B, N + T, D]``: the tokens, then the frames.
    key_padding_mask : torch.Tensor
        Boolean ``[B, N + T]``, True on padded frames (PyTorch's attention
        convention: True is ignored).

    Example
    -------
    >>> sequence, padding = prepend_tokens(
    ...     torch.zeros(1, 2), torch.ones(2, 3, 2), torch.tensor([1.0, 0.34])
    ... )
    >>> sequence.shape
    torch.Size([2, 4, 2])
    >>> padding
    tensor([[False, False, False, False],
            [False, False,  True,  True]])
    """
    batch, frames, _ = features.shape
    if lengths is None:
        valid = torch.ones(
            batch, frames, dtype=torch.bool, device=features.device
        )
    else:
        valid = length_mask(lengths.to(features.device), frames)
    sequence = torch.cat(
        [tokens.to(features.dtype).expand(batch, -1, -1), features], dim=1
    )
    token_valid = valid.new_ones(batch, tokens.shape[0])
    return sequence, ~torch.cat([token_valid, valid], dim=1)


def select_keywords(vectors, vocabulary_embeddings, tau, straight_through):
    """Picks the vocabulary entry closest (cosine) to each keyword vector.

    The forward value is always exactly the chosen vocabulary embedding.
    With ``straight_through`` the gradient is that of
    ``softmax(cos / tau) @ vocabulary_embeddings`` (the straight-through
    estimator of ``hard + soft - soft.detach()``).

    Arguments
    ---------
    vectors : torch.Tensor
        Keyword vectors ``[B, K, W]``.
    vocabulary_embeddings : torch.Tensor
        ``[V, W]``.
    tau : float
        Softmax temperature of the cosine similarities.
    straight_through : bool
        Whether gradients flow (training) or not (evaluation: argmax only).

    Returns
    -------
    keywords : torch.Tensor
        The selected embeddings ``[B, K, W]``.
    indices : torch.Tensor
        Their rows in the vocabulary ``[B, K]`` (long).
    cosine : torch.Tensor
        Cosine similarity of each keyword vector to each vocabulary entry
        ``[B, K, V]`` (detached): the ranking behind ``indices``.

    Example
    -------
    >>> table = torch.eye(3)
    >>> vectors = torch.tensor([[[0.1, 2.0, 0.0], [0.0, 0.0, -1.0]]])
    >>> keywords, indices, cosine = select_keywords(vectors, table, 0.1, False)
    >>> indices
    tensor([[1, 0]])
    >>> keywords
    tensor([[[0., 1., 0.],
             [1., 0., 0.]]])
    """
    cosine = F.normalize(vectors, dim=-1) @ F.normalize(
        vocabulary_embeddings, dim=-1
    ).to(vectors.dtype).transpose(0, 1)
    indices = cosine.argmax(dim=-1)
    keywords = vocabulary_embeddings[indices]
    if straight_through:
        soft = torch.softmax(cosine / tau, dim=-1)
        mixed = soft @ vocabulary_embeddings.to(soft.dtype)
        keywords = keywords + (mixed - mixed.detach())
    return keywords, indices, cosine.detach()


def projection(input_dim, output_dim, hidden_dims=(), dropout=0.1):
    """A Linear, or an MLP through ``hidden_dims`` widths (ReLU and dropout
    after each of its layers but the last), as SpeechCLIP+'s Large models
    project keywords and parallel embeddings.

    Arguments
    ---------
    input_dim : int
        Input width.
    output_dim : int
        Output width.
    hidden_dims : sequence of int
        Widths of the hidden layers (none: a single Linear).
    dropout : float
        Dropout after each hidden layer.

    Returns
    -------
    torch.nn.Module
        ``nn.Linear``, or ``nn.Sequential`` of ``Linear, ReLU, Dropout``
        groups ending with a ``Linear`` (its Linears at indices 0, 3, ...).

    Example
    -------
    >>> projection(8, 4)
    Linear(in_features=8, out_features=4, bias=True)
    >>> [type(m).__name__ for m in projection(8, 4, hidden_dims=(6,))]
    ['Linear', 'ReLU', 'Dropout', 'Linear']
    """
    if not hidden_dims:
        return nn.Linear(input_dim, output_dim)
    widths = [input_dim, *hidden_dims, output_dim]
    layers = []
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [
            nn.Linear(width_in, width_out),
            nn.ReLU(),
            nn.Dropout(dropout),
        ]
    return nn.Sequential(*layers[:-2])


class AttentionAndNorm(nn.Module):
    """Self-attention with a residual connection and LayerNorm (no FFN).

    Arguments
    ---------
    dim : int
        Feature dimension.
    num_heads : int
        Attention heads.
    dropout : float
        Dropout of the attention weights.

    Example
    -------
    >>> layer = AttentionAndNorm(4)
    >>> padding = torch.tensor([[False, False, True]])
    >>> out, weights = layer(torch.randn(1, 3, 4), padding)
    >>> out.shape, weights.shape
    (torch.Size([1, 3, 4]), torch.Size([1, 3, 3]))
    >>> weights[0, :, 2].abs().max().item()
    0.0
    """

    def __init__(self, dim, num_heads=1, dropout=0.1):
        super().__init__()
        self.attention = nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, key_padding_mask):
        """Attends over the sequence, padded positions ignored as keys.

        Arguments
        ---------
        x : torch.Tensor
            ``[B, L, D]``.
        key_padding_mask : torch.Tensor
            Boolean ``[B, L]``, True on padding.

        Returns
        -------
        out : torch.Tensor
            ``[B, L, D]``.
        weights : torch.Tensor
            Attention weights ``[B, L, L]`` (averaged over heads).
        """
        out, weights = self.attention(
            x, x, x, key_padding_mask=key_padding_mask, need_weights=True
        )
        return self.norm(x + out), weights


class EncoderLayerAndNorm(nn.Module):
    """One post-LN transformer encoder layer (GELU) and a final LayerNorm,
    with the layer's attention weights: :class:`AttentionAndNorm` with a
    feed-forward block (SpeechCLIP+'s Large SpokenCOCO hybrid).

    Arguments
    ---------
    dim : int
        Feature dimension.
    num_heads : int
        Attention heads.
    ffn_dim : int
        Feed-forward width.
    dropout : float
        Dropout of the layer.

    Example
    -------
    >>> layer = EncoderLayerAndNorm(4, ffn_dim=8).eval()
    >>> padding = torch.tensor([[False, False, True]])
    >>> out, weights = layer(torch.randn(1, 3, 4), padding)
    >>> out.shape, weights.shape
    (torch.Size([1, 3, 4]), torch.Size([1, 3, 3]))
    """

    def __init__(self, dim, num_heads=1, ffn_dim=3072, dropout=0.1):
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(
            dim,
            num_heads,
            dim_feedforward=ffn_dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=False,
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, key_padding_mask):
        """Runs the layer, padded positions ignored as keys.

        Arguments
        ---------
        x : torch.Tensor
            ``[B, L, D]``.
        key_padding_mask : torch.Tensor
            Boolean ``[B, L]``, True on padding.

        Returns
        -------
        out : torch.Tensor
            ``[B, L, D]``.
        weights : torch.Tensor
            The layer's attention weights ``[B, L, L]`` (averaged over
            heads).
        """
        _, weights = self.encoder.self_attn(
            x, x, x, key_padding_mask=key_padding_mask, need_weights=True
        )
        out = self.encoder(x, src_key_padding_mask=key_padding_mask)
        return self.norm(out), weights


class KeywordSelector(nn.Module):
    """SpeechCLIP's keyword quantiser: Linear, BatchNorm, cosine, one-hot.

    The ``K`` keyword outputs are projected to CLIP's token width (a
    Linear, or an MLP, see :func:`projection`), flattened to one
    ``K * token_dim`` vector per item for ``BatchNorm1d`` (index
    ``k * token_dim + w``), compared by cosine with the vocabulary
    embeddings, and replaced by the closest one (see
    :func:`select_keywords`; straight-through in training).

    Arguments
    ---------
    input_dim : int
        Dimension of the keyword outputs.
    token_dim : int
        CLIP's token-embedding width.
    num_keywords : int
        Number of keywords ``K``.
    tau : float
        Softmax temperature of the cosine similarities.
    hidden_dims : sequence of int
        Hidden widths of the projection (none: a Linear).
    dropout : float
        Dropout between the projection's layers.

    Example
    -------
    >>> selector = KeywordSelector(6, 4, num_keywords=2).eval()
    >>> table = torch.randn(10, 4)
    >>> vocabulary = torch.arange(10, 20)
    >>> selector.init_batchnorm(table)
    >>> keywords, token_ids, scores = selector(
    ...     torch.randn(3, 2, 6), table, vocabulary
    ... )
    >>> scores.shape
    torch.Size([3, 2, 10])
    >>> keywords.shape, token_ids.shape
    (torch.Size([3, 2, 4]), torch.Size([3, 2]))
    >>> bool(((token_ids >= 10) & (token_ids < 20)).all())
    True
    """

    def __init__(
        self,
        input_dim,
        token_dim,
        num_keywords=8,
        tau=0.1,
        hidden_dims=(),
        dropout=0.1,
    ):
        super().__init__()
        self.num_keywords = num_keywords
        self.tau = tau
        self.projection = projection(input_dim, token_dim, hidden_dims, dropout)
        self.batchnorm = nn.BatchNorm1d(num_keywords * token_dim)

    @torch.no_grad()
    def init_batchnorm(self, token_embedding_weight):
        """Sets BatchNorm's gamma/beta to the table's per-dimension std/mean.

        Both are taken over the rows of the table (unbiased std), then
        tiled ``K`` times to match the flattened keyword vector.

        Arguments
        ---------
        token_embedding_weight : torch.Tensor
            Token-embedding table ``[V, token_dim]``, e.g.
            ``FrozenCLIP.vocabulary_embeddings`` (the allowed keywords).

        Example
        -------
        >>> selector = KeywordSelector(6, 2, num_keywords=3)
        >>> selector.init_batchnorm(torch.tensor([[0.0, 1.0], [2.0, 5.0]]))
        >>> selector.batchnorm.bias
        Parameter containing:
        tensor([1., 3., 1., 3., 1., 3.], requires_grad=True)
        """
        table = token_embedding_weight.detach().float()
        expected = self.batchnorm.num_features // self.num_keywords
        if table.dim() != 2 or table.shape[1] != expected:
            raise ValueError(
                f"the token table must be [V, {expected}], got "
                f"{list(table.shape)}"
            )
        self.batchnorm.weight.copy_(table.std(dim=0).repeat(self.num_keywords))
        self.batchnorm.bias.copy_(table.mean(dim=0).repeat(self.num_keywords))

    def forward(self, keyword_outputs, vocabulary_embeddings, vocabulary):
        """Selects one vocabulary token per keyword output.

        Arguments
        ---------
        keyword_outputs : torch.Tensor
            ``[B, K, input_dim]``.
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``.
        vocabulary : torch.Tensor
            Their token ids ``[V]`` (long).

        Returns
        -------
        keywords : torch.Tensor
            The selected token embeddings ``[B, K, token_dim]``
            (straight-through gradients in training).
        token_ids : torch.Tensor
            Their token ids ``[B, K]``.
        scores : torch.Tensor
            Cosine of each keyword to each vocabulary entry ``[B, K, V]``
            (detached; rank them for the top-n keywords).
        """
        batch, num_keywords, _ = keyword_outputs.shape
        if num_keywords != self.num_keywords:
            raise ValueError(
                f"expected {self.num_keywords} keyword outputs, got "
                f"{num_keywords}"
            )
        if vocabulary_embeddings.shape[0] != vocabulary.shape[0]:
            raise ValueError(
                f"{vocabulary_embeddings.shape[0]} vocabulary embeddings for "
                f"{vocabulary.shape[0]} vocabulary token ids"
            )
        vectors = self.projection(keyword_outputs).flatten(1)
        vectors = self.batchnorm(vectors).view(batch, num_keywords, -1)
        keywords, indices, scores = select_keywords(
            vectors, vocabulary_embeddings, self.tau, self.training
        )
        return keywords, vocabulary.to(indices.device)[indices], scores


class HeadOutput(NamedTuple):
    """What a SpeechCLIP head computes for a batch of utterances.

    A head declares the embeddings it gives in its ``branches`` attribute
    (``("parallel",)``, ``("cascaded",)`` or both); the fields of the other
    branch are ``None``.

    ``parallel``: L2-normalised CLIP-space embeddings ``[B, output_dim]``;
    ``keywords``: the selected token embeddings ``[B, K, token_dim]`` (for
    ``FrozenCLIP.encode_keywords``), with their CLIP ``token_ids``
    ``[B, K]``, the cosine ``scores`` of each keyword to each vocabulary
    entry ``[B, K, V]`` and the ``attention`` of each keyword CLS over the
    frames ``[B, K, T]``.

    A head with a variable number of keywords (CIF) pads the keyword
    dimension to the batch's largest count ``K`` and also gives
    ``num_keywords`` ``[B]`` (long; item ``b``'s keywords are its first
    ``num_keywords[b]``; padded slots hold zero ``keywords``, ``token_ids``
    -1 and zero ``scores``), ``attention`` being the weight of each frame
    in each keyword; ``frame_weights``, the CIF weight of each frame
    ``[B, T]``; ``weight_sum``, the sum of the predicted (unscaled) CIF
    weights ``[B]``; and ``keyword_targets``, the target counts of the
    quantity loss ``[B]``. Fixed-slot heads leave these ``None``.
    """

    parallel: torch.Tensor | None = None
    keywords: torch.Tensor | None = None
    token_ids: torch.Tensor | None = None
    scores: torch.Tensor | None = None
    attention: torch.Tensor | None = None
    num_keywords: torch.Tensor | None = None
    frame_weights: torch.Tensor | None = None
    weight_sum: torch.Tensor | None = None
    keyword_targets: torch.Tensor | None = None


class ParallelHead(nn.Module):
    """SpeechCLIP's parallel head: CLS + transformer layer -> CLIP space.

    Arguments
    ---------
    input_dim : int
        Dimension of the frames (HuBERT width).
    output_dim : int
        CLIP's embedding width.
    num_heads : int
        Attention heads.
    ffn_dim : int
        Feed-forward width (3072 Base, 4096 Large).
    dropout : float
        Dropout of the transformer layer.

    Example
    -------
    >>> head = ParallelHead(8, 4, num_heads=2, ffn_dim=16).eval()
    >>> out = head(torch.randn(3, 5, 8), torch.tensor([1.0, 0.6, 0.2]))
    >>> out.parallel.shape, out.keywords
    (torch.Size([3, 4]), None)
    >>> torch.allclose(out.parallel.norm(dim=-1), torch.ones(3))
    True
    """

    branches = ("parallel",)

    def __init__(
        self, input_dim, output_dim, num_heads=8, ffn_dim=3072, dropout=0.1
    ):
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, input_dim))
        self.encoder = nn.TransformerEncoderLayer(
            input_dim,
            num_heads,
            dim_feedforward=ffn_dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=False,
        )
        self.norm = nn.LayerNorm(input_dim)
        self.projection = nn.Linear(input_dim, output_dim)

    def forward(
        self,
        features,
        lengths=None,
        vocabulary_embeddings=None,
        vocabulary=None,
    ):
        """L2-normalised embeddings of the utterances.

        Arguments
        ---------
        features : torch.Tensor
            Frames ``[B, T, input_dim]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``.
        vocabulary_embeddings : torch.Tensor, optional
            Unused (the head has no keywords).
        vocabulary : torch.Tensor, optional
            Unused.

        Returns
        -------
        HeadOutput
            With ``parallel`` ``[B, output_dim]``.
        """
        x, padding = prepend_tokens(self.cls, features, lengths)
        x = self.norm(self.encoder(x, src_key_padding_mask=padding))
        return HeadOutput(F.normalize(self.projection(x[:, 0]), dim=-1))


class CascadedHead(nn.Module):
    """SpeechCLIP's cascaded head: K CLS + attention -> K CLIP tokens.

    Call :meth:`init_batchnorm` with CLIP's token table (or the vocabulary
    embeddings) before training.

    Arguments
    ---------
    input_dim : int
        Dimension of the frames (HuBERT width).
    token_dim : int
        CLIP's token-embedding width.
    num_keywords : int
        Number of keywords ``K``.
    tau : float
        Softmax temperature of the cosine similarities.
    num_heads : int
        Attention heads (1 in SpeechCLIP).
    dropout : float
        Dropout of the attention weights (and of an MLP projection).
    keyword_hidden_dims : sequence of int
        Hidden widths of the keyword projection (none: a Linear, as in
        SpeechCLIP; see :func:`projection`).

    Example
    -------
    >>> head = CascadedHead(8, 4, num_keywords=2).eval()
    >>> table = torch.randn(10, 4)
    >>> head.init_batchnorm(table)
    >>> out = head(torch.randn(3, 5, 8), torch.tensor([1.0, 0.6, 0.2]),
    ...            table, torch.arange(10))
    >>> out.keywords.shape, out.token_ids.shape, out.attention.shape
    (torch.Size([3, 2, 4]), torch.Size([3, 2]), torch.Size([3, 2, 5]))
    >>> torch.equal(out.keywords, table[out.token_ids]), out.parallel
    (True, None)
    """

    branches = ("cascaded",)

    def __init__(
        self,
        input_dim,
        token_dim,
        num_keywords=8,
        tau=0.1,
        num_heads=1,
        dropout=0.1,
        keyword_hidden_dims=(),
    ):
        super().__init__()
        self.cls = nn.Parameter(torch.randn(num_keywords, input_dim))
        self.attention = AttentionAndNorm(input_dim, num_heads, dropout)
        self.selector = KeywordSelector(
            input_dim,
            token_dim,
            num_keywords,
            tau,
            keyword_hidden_dims,
            dropout,
        )

    def init_batchnorm(self, token_embedding_weight):
        """See :meth:`KeywordSelector.init_batchnorm`.

        Arguments
        ---------
        token_embedding_weight : torch.Tensor
            Token-embedding table ``[V, token_dim]``.
        """
        self.selector.init_batchnorm(token_embedding_weight)

    def forward(self, features, lengths, vocabulary_embeddings, vocabulary):
        """Selects ``K`` keyword tokens per utterance.

        Arguments
        ---------
        features : torch.Tensor
            Frames ``[B, T, input_dim]``.
        lengths : torch.Tensor or None
            Relative lengths ``[B]``.
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``
            (``FrozenCLIP.vocabulary_embeddings``).
        vocabulary : torch.Tensor
            Their token ids ``[V]`` (``FrozenCLIP.vocabulary``).

        Returns
        -------
        HeadOutput
            With ``keywords``, ``token_ids``, ``scores`` and ``attention``
            (zero on padding; the rest of each row went to the CLS tokens).
        """
        num_keywords = self.cls.shape[0]
        x, padding = prepend_tokens(self.cls, features, lengths)
        x, weights = self.attention(x, padding)
        keywords, token_ids, scores = self.selector(
            x[:, :num_keywords], vocabulary_embeddings, vocabulary
        )
        attention = weights[:, :num_keywords, num_keywords:]
        return HeadOutput(None, keywords, token_ids, scores, attention)


class HybridHead(CascadedHead):
    """SpeechCLIP+'s hybrid head: parallel and cascaded on one attention.

    One attention layer (residual + LayerNorm; with ``ffn_dim``, a
    transformer encoder layer and a LayerNorm, :class:`EncoderLayerAndNorm`)
    runs over ``[parallel CLS, K keyword CLS, frames]``; the parallel CLS
    output goes through a Linear (or an MLP, see :func:`projection`) to
    CLIP's embedding width and is L2-normalised, the keyword outputs go
    through a :class:`KeywordSelector`.

    Arguments
    ---------
    input_dim : int
        Dimension of the frames (HuBERT width).
    token_dim : int
        CLIP's token-embedding width.
    output_dim : int
        CLIP's embedding width.
    num_keywords : int
        Number of keywords ``K``.
    tau : float
        Softmax temperature of the cosine similarities.
    num_heads : int
        Attention heads of the shared layer.
    dropout : float
        Dropout of the shared layer (and of MLP projections).
    keyword_hidden_dims : sequence of int
        Hidden widths of the keyword projection (none: a Linear).
    parallel_hidden_dims : sequence of int
        Hidden widths of the parallel projection (none: a Linear).
    ffn_dim : int, optional
        With it, the shared layer is a transformer encoder layer of that
        feed-forward width and a LayerNorm (SpeechCLIP+'s Large SpokenCOCO
        hybrid) instead of attention and LayerNorm.

    Example
    -------
    >>> head = HybridHead(8, 4, 6, num_keywords=2).eval()
    >>> table = torch.randn(10, 4)
    >>> head.init_batchnorm(table)
    >>> out = head(torch.randn(3, 5, 8), None, table, torch.arange(10))
    >>> out.parallel.shape, out.keywords.shape
    (torch.Size([3, 6]), torch.Size([3, 2, 4]))
    >>> out.token_ids.shape, out.attention.shape
    (torch.Size([3, 2]), torch.Size([3, 2, 5]))
    """

    branches = ("parallel", "cascaded")

    def __init__(
        self,
        input_dim,
        token_dim,
        output_dim,
        num_keywords=8,
        tau=0.1,
        num_heads=1,
        dropout=0.1,
        keyword_hidden_dims=(),
        parallel_hidden_dims=(),
        ffn_dim=None,
    ):
        super().__init__(
            input_dim,
            token_dim,
            num_keywords,
            tau,
            num_heads,
            dropout,
            keyword_hidden_dims,
        )
        # One more CLS in front of the K keyword CLS: the parallel summary.
        self.cls = nn.Parameter(torch.randn(1 + num_keywords, input_dim))
        if ffn_dim is not None:
            self.attention = EncoderLayerAndNorm(
                input_dim, num_heads, ffn_dim, dropout
            )
        self.projection = projection(
            input_dim, output_dim, parallel_hidden_dims, dropout
        )

    def forward(self, features, lengths, vocabulary_embeddings, vocabulary):
        """Parallel embedding and ``K`` keyword tokens per utterance.

        Arguments
        ---------
        features : torch.Tensor
            Frames ``[B, T, input_dim]``.
        lengths : torch.Tensor or None
            Relative lengths ``[B]``.
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``.
        vocabulary : torch.Tensor
            Their token ids ``[V]``.

        Returns
        -------
        HeadOutput
            All fields: the parallel embedding and the keywords.
        """
        num_tokens = self.cls.shape[0]
        x, padding = prepend_tokens(self.cls, features, lengths)
        x, weights = self.attention(x, padding)
        embeddings = F.normalize(self.projection(x[:, 0]), dim=-1)
        keywords, token_ids, scores = self.selector(
            x[:, 1:num_tokens], vocabulary_embeddings, vocabulary
        )
        attention = weights[:, 1:num_tokens, num_tokens:]
        return HeadOutput(embeddings, keywords, token_ids, scores, attention)


class VariableKeywordSelector(nn.Module):
    """SpeechCLIP+'s keyword quantiser for a variable number of keywords:
    Linear (or MLP, see :func:`projection`) to CLIP's token width, one
    ``BatchNorm1d(token_dim)`` shared by
    all keywords (its statistics over the batch's valid keywords only),
    then the cosine and one-hot of :func:`select_keywords`.

    Arguments
    ---------
    input_dim : int
        Dimension of the keyword vectors.
    token_dim : int
        CLIP's token-embedding width.
    tau : float
        Softmax temperature of the cosine similarities.
    hidden_dims : sequence of int
        Hidden widths of the projection (none: a Linear).
    dropout : float
        Dropout between the projection's layers.

    Example
    -------
    >>> selector = VariableKeywordSelector(6, 4).eval()
    >>> table = torch.randn(10, 4)
    >>> selector.init_batchnorm(table)
    >>> keywords, token_ids, scores = selector(
    ...     torch.randn(2, 3, 6), torch.tensor([3, 1]), table,
    ...     torch.arange(10, 20))
    >>> keywords.shape, scores.shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 10]))
    >>> token_ids[1, 1:]  # padded slots
    tensor([-1, -1])
    """

    def __init__(
        self, input_dim, token_dim, tau=0.1, hidden_dims=(), dropout=0.1
    ):
        super().__init__()
        self.tau = tau
        self.projection = projection(input_dim, token_dim, hidden_dims, dropout)
        self.batchnorm = nn.BatchNorm1d(token_dim)

    @torch.no_grad()
    def init_batchnorm(self, token_embedding_weight):
        """Sets BatchNorm's gamma/beta to the table's per-dimension
        std/mean (over its rows, unbiased std).

        Arguments
        ---------
        token_embedding_weight : torch.Tensor
            Token-embedding table ``[V, token_dim]``.
        """
        table = token_embedding_weight.detach().float()
        expected = self.batchnorm.num_features
        if table.dim() != 2 or table.shape[1] != expected:
            raise ValueError(
                f"the token table must be [V, {expected}], got "
                f"{list(table.shape)}"
            )
        self.batchnorm.weight.copy_(table.std(dim=0))
        self.batchnorm.bias.copy_(table.mean(dim=0))

    def forward(
        self, keyword_vectors, num_keywords, vocabulary_embeddings, vocabulary
    ):
        """Selects one vocabulary token per valid keyword vector.

        Arguments
        ---------
        keyword_vectors : torch.Tensor
            ``[B, K, input_dim]``, padded beyond each item's count.
        num_keywords : torch.Tensor
            Valid keywords per item ``[B]`` (long).
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``.
        vocabulary : torch.Tensor
            Their token ids ``[V]`` (long).

        Returns
        -------
        keywords : torch.Tensor
            The selected token embeddings ``[B, K, token_dim]`` (zero on
            padded slots; straight-through gradients in training).
        token_ids : torch.Tensor
            Their token ids ``[B, K]`` (-1 on padded slots).
        scores : torch.Tensor
            Cosine of each keyword to each vocabulary entry ``[B, K, V]``
            (detached; zero on padded slots).
        """
        if vocabulary_embeddings.shape[0] != vocabulary.shape[0]:
            raise ValueError(
                f"{vocabulary_embeddings.shape[0]} vocabulary embeddings for "
                f"{vocabulary.shape[0]} vocabulary token ids"
            )
        batch, size, _ = keyword_vectors.shape
        slots = torch.arange(size, device=keyword_vectors.device)
        valid = slots[None, :] < num_keywords.to(slots.device)[:, None]
        vectors = self.batchnorm(self.projection(keyword_vectors[valid]))
        chosen, indices, cosine = select_keywords(
            vectors[None], vocabulary_embeddings, self.tau, self.training
        )
        keywords = chosen.new_zeros(batch, size, chosen.shape[-1])
        keywords[valid] = chosen[0]
        token_ids = torch.full_like(slots, -1).expand(batch, -1).clone()
        token_ids[valid] = vocabulary.to(indices.device)[indices[0]]
        scores = cosine.new_zeros(batch, size, cosine.shape[-1])
        scores[valid] = cosine[0]
        return keywords, token_ids, scores


class CascadedPlusHead(nn.Module):
    """SpeechCLIP+'s Cascaded+ head: attention over the frames, then one
    keyword per vector that CIF fires.

    One attention layer (residual + LayerNorm, no FFN, no CLS) runs over
    the frames; :class:`~speechbrain_vgs.lobes.cif.CIF` integrates its
    outputs into a variable number of vectors, scaled to ``keyword_targets``
    while the CIF scales (by default ``round(valid frames /
    frames_per_keyword)``: 20 HuBERT frames of 20 ms, 2.5 keywords a
    second, as in SpeechCLIP+); a :class:`VariableKeywordSelector` turns
    each into a CLIP token. Call :meth:`init_batchnorm` with CLIP's token
    table (or the vocabulary embeddings) before training.

    Arguments
    ---------
    input_dim : int
        Dimension of the frames (HuBERT width).
    token_dim : int
        CLIP's token-embedding width.
    cif : speechbrain_vgs.lobes.cif.CIF
        The integrate-and-fire module (``input_dim`` wide).
    tau : float
        Softmax temperature of the cosine similarities.
    num_heads : int
        Attention heads (8 in SpeechCLIP+, 1 in its Cascaded+ Base).
    dropout : float
        Dropout of the attention weights.
    frames_per_keyword : float
        Frames per keyword of the default targets.
    keyword_hidden_dims : sequence of int
        Hidden widths of the keyword projection (none: a Linear; SpeechCLIP+
        Large: ``[1024]``, see :func:`projection`).

    Example
    -------
    >>> from speechbrain_vgs.lobes.cif import CIF
    >>> head = CascadedPlusHead(8, 4, CIF(8), num_heads=2).eval()
    >>> table = torch.randn(10, 4)
    >>> head.init_batchnorm(table)
    >>> out = head(torch.randn(3, 60, 8), torch.tensor([1.0, 0.6, 0.2]),
    ...            table, torch.arange(10))
    >>> K = int(out.num_keywords.max())
    >>> out.keywords.shape == (3, K, 4), out.attention.shape == (3, K, 60)
    (True, True)
    >>> out.keyword_targets  # round(valid frames / 20)
    tensor([3., 2., 1.])
    """

    branches = ("cascaded",)
    variable_keywords = True

    def __init__(
        self,
        input_dim,
        token_dim,
        cif,
        tau=0.1,
        num_heads=8,
        dropout=0.1,
        frames_per_keyword=20,
        keyword_hidden_dims=(),
    ):
        super().__init__()
        self.frames_per_keyword = frames_per_keyword
        self.attention = AttentionAndNorm(input_dim, num_heads, dropout)
        self.cif = cif
        self.selector = VariableKeywordSelector(
            input_dim, token_dim, tau, keyword_hidden_dims, dropout
        )

    def init_batchnorm(self, token_embedding_weight):
        """See :meth:`VariableKeywordSelector.init_batchnorm`.

        Arguments
        ---------
        token_embedding_weight : torch.Tensor
            Token-embedding table ``[V, token_dim]``.
        """
        self.selector.init_batchnorm(token_embedding_weight)

    def forward(
        self,
        features,
        lengths,
        vocabulary_embeddings,
        vocabulary,
        keyword_targets=None,
    ):
        """Selects a variable number of keyword tokens per utterance.

        Arguments
        ---------
        features : torch.Tensor
            Frames ``[B, T, input_dim]``.
        lengths : torch.Tensor or None
            Relative lengths ``[B]``.
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``.
        vocabulary : torch.Tensor
            Their token ids ``[V]``.
        keyword_targets : torch.Tensor, optional
            Target keyword counts ``[B]`` (e.g. the captions' subword
            counts); default ``round(valid frames / frames_per_keyword)``.

        Returns
        -------
        HeadOutput
            The keyword fields, ``num_keywords`` and the CIF fields.
        """
        no_tokens = features.new_zeros(0, features.shape[-1])
        x, padding = prepend_tokens(no_tokens, features, lengths)
        x, _ = self.attention(x, padding)
        return self.keywords_of_frames(
            x,
            lengths,
            (~padding).sum(dim=1),
            vocabulary_embeddings,
            vocabulary,
            keyword_targets,
        )

    def keywords_of_frames(
        self,
        frames,
        lengths,
        valid_frames,
        vocabulary_embeddings,
        vocabulary,
        keyword_targets,
    ):
        """CIF, then one keyword per fired vector (see :meth:`forward`)."""
        if keyword_targets is None:
            keyword_targets = torch.round(
                valid_frames.float() / self.frames_per_keyword
            )
        cif = self.cif(frames, lengths, keyword_targets)
        keywords, token_ids, scores = self.selector(
            cif.vectors, cif.num_fired, vocabulary_embeddings, vocabulary
        )
        return HeadOutput(
            None,
            keywords,
            token_ids,
            scores,
            cif.weights,
            cif.num_fired,
            cif.alpha,
            cif.weight_sum,
            keyword_targets,
        )


class HybridPlusHead(CascadedPlusHead):
    """SpeechCLIP+'s Hybrid+ head: a parallel CLS and the Cascaded+ path
    on one attention layer.

    The attention layer (residual + LayerNorm) runs over ``[parallel CLS,
    frames]``; the CLS output goes through a Linear to CLIP's embedding
    width and is L2-normalised, the frame outputs take the Cascaded+ path
    (:class:`CascadedPlusHead`).

    Arguments
    ---------
    input_dim : int
        Dimension of the frames (HuBERT width).
    token_dim : int
        CLIP's token-embedding width.
    output_dim : int
        CLIP's embedding width.
    cif : speechbrain_vgs.lobes.cif.CIF
        The integrate-and-fire module (``input_dim`` wide).
    tau : float
        Softmax temperature of the cosine similarities.
    num_heads : int
        Attention heads (8 in SpeechCLIP+).
    dropout : float
        Dropout of the attention weights.
    frames_per_keyword : float
        Frames per keyword of the default targets.
    keyword_hidden_dims : sequence of int
        Hidden widths of the keyword projection (none: a Linear).

    Example
    -------
    >>> from speechbrain_vgs.lobes.cif import CIF
    >>> head = HybridPlusHead(8, 4, 6, CIF(8), num_heads=2).eval()
    >>> table = torch.randn(10, 4)
    >>> head.init_batchnorm(table)
    >>> out = head(torch.randn(3, 60, 8), None, table, torch.arange(10))
    >>> out.parallel.shape, out.num_keywords.shape
    (torch.Size([3, 6]), torch.Size([3]))
    """

    branches = ("parallel", "cascaded")

    def __init__(
        self,
        input_dim,
        token_dim,
        output_dim,
        cif,
        tau=0.1,
        num_heads=8,
        dropout=0.1,
        frames_per_keyword=20,
        keyword_hidden_dims=(),
    ):
        super().__init__(
            input_dim,
            token_dim,
            cif,
            tau,
            num_heads,
            dropout,
            frames_per_keyword,
            keyword_hidden_dims,
        )
        self.cls = nn.Parameter(torch.randn(1, input_dim))
        self.projection = nn.Linear(input_dim, output_dim)

    def forward(
        self,
        features,
        lengths,
        vocabulary_embeddings,
        vocabulary,
        keyword_targets=None,
    ):
        """Parallel embedding and a variable number of keyword tokens per
        utterance (arguments as :meth:`CascadedPlusHead.forward`).

        Arguments
        ---------
        features : torch.Tensor
            Frames ``[B, T, input_dim]``.
        lengths : torch.Tensor or None
            Relative lengths ``[B]``.
        vocabulary_embeddings : torch.Tensor
            Embeddings of the allowed tokens ``[V, token_dim]``.
        vocabulary : torch.Tensor
            Their token ids ``[V]``.
        keyword_targets : torch.Tensor, optional
            Target keyword counts ``[B]``.

        Returns
        -------
        HeadOutput
            All fields.
        """
        x, padding = prepend_tokens(self.cls, features, lengths)
        x, _ = self.attention(x, padding)
        embeddings = F.normalize(self.projection(x[:, 0]), dim=-1)
        out = self.keywords_of_frames(
            x[:, 1:],
            lengths,
            (~padding[:, 1:]).sum(dim=1),
            vocabulary_embeddings,
            vocabulary,
            keyword_targets,
        )
        return out._replace(parallel=embeddings)


class SpeechCLIPOutput(NamedTuple):
    """What :class:`SpeechCLIP` computes for a batch of utterances.

    ``parallel`` and ``cascaded`` are L2-normalised CLIP-space embeddings
    ``[B, embedding_dim]`` (``None`` when the head has no such branch);
    ``token_ids`` ``[B, K]``, ``scores`` ``[B, K, V]`` and ``attention``
    ``[B, K, T]`` describe the cascaded keywords (``None`` for a parallel
    head); ``lengths`` are the relative frame lengths of ``attention``;
    ``num_keywords`` ``[B]`` counts each item's keywords (``K`` for a
    fixed-slot head; a CIF head pads the slots beyond it, see
    :class:`HeadOutput`). ``frame_weights``, ``weight_sum`` and
    ``keyword_targets`` are a CIF head's (see :class:`HeadOutput`),
    ``None`` otherwise.
    """

    parallel: torch.Tensor | None
    cascaded: torch.Tensor | None
    token_ids: torch.Tensor | None
    scores: torch.Tensor | None
    attention: torch.Tensor | None
    lengths: torch.Tensor
    num_keywords: torch.Tensor | None = None
    frame_weights: torch.Tensor | None = None
    weight_sum: torch.Tensor | None = None
    keyword_targets: torch.Tensor | None = None


class SpeechCLIP(nn.Module):
    """SpeechCLIP: self-supervised speech upstream + head + frozen CLIP.

    The upstream (e.g. :class:`speechbrain_vgs.lobes.ssl.SSLUpstream`)
    turns waveforms into layer-weighted frames; the head
    (:class:`ParallelHead`, :class:`CascadedHead` or :class:`HybridHead`)
    maps them into CLIP's spaces; the cascaded keywords go through
    ``clip.encode_keywords``. CLIP's vocabulary (the tokens a keyword may
    take) is part of the state dict, CLIP's and a frozen upstream's weights
    are not.

    Arguments
    ---------
    upstream : torch.nn.Module
        ``upstream(wavs, lengths) -> (frames [B, T, D], frame lengths)``.
    head : torch.nn.Module
        A SpeechCLIP head (the contract in the module docstring).
    clip : speechbrain_vgs.lobes.clip.FrozenCLIP
        The frozen CLIP.

    Example
    -------
    >>> from speechbrain_vgs.lobes.clip import FrozenCLIP
    >>> from speechbrain_vgs.lobes.ssl import SSLUpstream
    >>> from speechbrain_vgs.lobes.tiny_models import (
    ...     save_tiny_clip, save_tiny_hubert)
    >>> tmp = getfixture("tmpdir")
    >>> clip = FrozenCLIP("tiny-clip", None, *save_tiny_clip(tmp / "clip"))
    >>> upstream = SSLUpstream(save_tiny_hubert(tmp / "hubert"))
    >>> head = HybridHead(upstream.dim, clip.token_dim, clip.embedding_dim, 4)
    >>> model = SpeechCLIP(upstream, head, clip).eval()
    >>> model.set_vocabulary(clip.subword_vocabulary(["a red circle"]))
    >>> out = model(torch.randn(2, 1600), torch.tensor([1.0, 0.5]))
    >>> out.parallel.shape, out.cascaded.shape, out.token_ids.shape
    (torch.Size([2, 32]), torch.Size([2, 32]), torch.Size([2, 4]))
    >>> bool(torch.isin(out.token_ids, clip.vocabulary).all())
    True
    """

    def __init__(self, upstream, head, clip):
        super().__init__()
        self.upstream = upstream
        self.head = head
        self.clip = clip

    @property
    def branches(self):
        """The embeddings the head gives: ``parallel`` and/or ``cascaded``."""
        return self.head.branches

    def set_vocabulary(self, token_ids):
        """Sets the keyword vocabulary and initialises the keyword BatchNorm
        from its token embeddings (call before training).

        Arguments
        ---------
        token_ids : sequence of int or torch.Tensor
            CLIP token ids, e.g. ``clip.subword_vocabulary(train_captions)``.
        """
        self.clip.set_vocabulary(token_ids)
        if "cascaded" in self.branches:
            self.head.init_batchnorm(self.clip.vocabulary_embeddings)

    def forward(self, wavs, lengths=None, keyword_targets=None):
        """Embeds a padded batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (16 kHz).
        lengths : torch.Tensor, optional
            Relative lengths ``[B]``.
        keyword_targets : torch.Tensor, optional
            Target keyword counts ``[B]`` of a head with a variable number
            of keywords (default: the head's own, from the frames).

        Returns
        -------
        SpeechCLIPOutput
        """
        frames, lengths = self.upstream(wavs, lengths)
        vocabulary = (None, None)
        if "cascaded" in self.branches:
            vocabulary = (self.clip.vocabulary_embeddings, self.clip.vocabulary)
        targets = {}
        if keyword_targets is not None:
            if not getattr(self.head, "variable_keywords", False):
                raise ValueError(
                    f"keyword_targets given, but {type(self.head).__name__} "
                    "has a fixed number of keywords"
                )
            targets = {"keyword_targets": keyword_targets}
        out = self.head(frames, lengths, *vocabulary, **targets)
        cascaded, num_keywords = None, out.num_keywords
        if out.keywords is not None:
            size = out.keywords.shape[1]
            if num_keywords is None:
                num_keywords = torch.full(
                    (len(frames),), size, device=frames.device
                )
                cascaded = self.clip.encode_keywords(out.keywords)
            else:  # the end token after each item's own keywords
                cascaded = self.clip.encode_keywords(
                    out.keywords, num_keywords / size
                )
        return SpeechCLIPOutput(
            out.parallel,
            cascaded,
            out.token_ids,
            out.scores,
            out.attention,
            lengths,
            num_keywords,
            out.frame_weights,
            out.weight_sum,
            out.keyword_targets,
        )


def ranked_keywords(scores, vocabulary, top_n):
    """The ``top_n`` best token ids of each keyword slot, best first.

    Arguments
    ---------
    scores : torch.Tensor
        ``[B, K, V]`` scores over the vocabulary (``SpeechCLIPOutput.scores``).
    vocabulary : torch.Tensor
        The vocabulary's token ids ``[V]``.
    top_n : int
        How many per slot.

    Returns
    -------
    token_ids : torch.Tensor
        ``[B, K, top_n]`` (long).

    Example
    -------
    >>> scores = torch.tensor([[[0.1, 0.9, 0.5]]])
    >>> ranked_keywords(scores, torch.tensor([10, 11, 12]), 2)
    tensor([[[11, 12]]])
    """
    top_n = min(top_n, scores.shape[-1])
    indices = scores.topk(top_n, dim=-1).indices
    return vocabulary.to(indices.device)[indices]
