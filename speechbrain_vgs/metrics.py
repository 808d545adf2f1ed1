"""Evaluation metrics: cross-modal retrieval recall@k, keyword hit rate,
keyword spotting (P@10, P@N, EER, AP) and spoken bag-of-words prediction.

Retrieval with several captions per image: speech->image R@k is the share
of utterances whose own image is among the k best-scored images;
image->speech R@k is the share of images with at least one of their
captions among the k best-scored utterances. Each unique image is embedded
once. Ties never count in the model's favour: an item tied with the correct
one is ranked ahead of it. The keyword hit rate is
that of SpeechCLIP's cascaded keywords (Shih et al. 2022). Keyword
spotting and bag-of-words scores follow Kamper et al. (IS 2017, TASLP
2019); there, tied scores count at their expected value under random
tie-breaking.

Authors
 * speechbrain-vgs developers 2026
"""

import torch

from speechbrain_vgs.distributed import (
    first_occurrences,
    gather_object,
    gather_tensors,
    is_distributed,
)
from speechbrain_vgs.progress import progress


def group_recall(
    sim,
    row_groups,
    column_groups,
    ks=(1, 5, 10),
    names=("row", "column"),
    chunk_size=256,
):
    """Recall@k in both directions when rows and columns are grouped (e.g.
    several captions of one image on each side); any item of the own group
    counts as correct.

    - row->column: the rank of a row is the number of columns of *other*
      groups scoring at least as high as its best column of its own group;
      R@k is the share of rows with rank < k.
    - column->row: the same with rows and columns swapped.

    The matrix is read once, in blocks of ``chunk_size`` rows, and never
    copied: the temporary memory is a few ``[chunk_size, N_cols]`` tensors
    whatever the number of rows (see ``benchmarks/evaluation.py``).

    Arguments
    ---------
    sim : torch.Tensor
        Similarities [N_rows, N_cols].
    row_groups : torch.Tensor
        Group id of each row [N_rows] (long, any values).
    column_groups : torch.Tensor
        Group id of each column [N_cols] (long, any values).
    ks : tuple of int
        The cut-offs k.
    names : tuple of str
        What rows and columns are, used in the result keys and errors.
    chunk_size : int
        Rows read at once (small enough for a block to stay in the cache
        between its two comparisons).

    Returns
    -------
    dict
        ``{row}_to_{column}_r{k}`` for each k, then ``{column}_to_{row}_r{k}``
        for each k (with the ``names``), as floats in [0, 1].

    Example
    -------
    >>> sim = torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 2.0]])
    >>> recall = group_recall(
    ...     sim, torch.tensor([7, 9]), torch.tensor([7, 7, 9]), ks=(1,)
    ... )
    >>> recall["row_to_column_r1"]  # row 1 ties with a column of group 7
    0.5
    >>> recall["column_to_row_r1"]  # column 1 ties with row 1 (group 9)
    0.666...
    """
    sim = torch.as_tensor(sim)
    if not sim.is_floating_point():
        sim = sim.double()
    row_groups, column_groups = _check_groups(
        sim.shape, row_groups, column_groups, names, sim.device
    )
    row_members, column_members = _group_members(row_groups, column_groups)
    # each column's best own-group score, read from the matrix itself
    columns = torch.arange(sim.shape[1], device=sim.device)
    own = row_members[column_groups]  # [N_cols, rows of the largest group]
    own_scores = sim[own.clamp(min=0), columns[:, None]]
    own_scores = own_scores.masked_fill(own < 0, float("-inf"))
    best_own = own_scores.amax(dim=1)
    column_rank = -(own_scores >= best_own[:, None]).sum(
        dim=1, dtype=torch.int32
    )
    # then one pass over the matrix (never copied), a block of rows at a
    # time: the rows' ranks, and the rows of other groups at least as high
    # as each column's best own
    row_rank = []
    for start in range(0, sim.shape[0], chunk_size):
        block = sim[start : start + chunk_size]
        low, high = torch.aminmax(block)
        if not (torch.isfinite(low) and torch.isfinite(high)):
            raise ValueError("sim contains NaN or infinite values")
        groups = row_groups[start : start + chunk_size]
        row_rank.append(_block_ranks(block, groups, column_members))
        column_rank += (block >= best_own).sum(dim=0, dtype=torch.int32)
    row_rank = torch.cat(row_rank)
    return _recall_at(row_rank, column_rank, ks, names)


def embedding_group_recall(
    rows,
    columns,
    row_groups,
    column_groups,
    ks=(1, 5, 10),
    names=("row", "column"),
    chunk_size=1024,
):
    """:func:`group_recall` of the dot products ``rows @ columns.T``,
    never held whole: each direction scores blocks of ``chunk_size``
    queries against all the other side, so the memory is a few
    ``[chunk_size, N]`` tensors (e.g. 25,000 spoken against 25,000 text
    captions).

    Arguments
    ---------
    rows : torch.Tensor
        Row embeddings [N_rows, D].
    columns : torch.Tensor
        Column embeddings [N_cols, D].
    row_groups : torch.Tensor
        Group id of each row [N_rows] (long, any values).
    column_groups : torch.Tensor
        Group id of each column [N_cols] (long, any values).
    ks : tuple of int
        The cut-offs k.
    names : tuple of str
        What rows and columns are, used in the result keys and errors.
    chunk_size : int
        Queries scored at once.

    Returns
    -------
    dict
        As :func:`group_recall`.

    Example
    -------
    >>> rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> columns = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> embedding_group_recall(rows, columns, [0, 1, 0], [0, 1], ks=(1,))
    {'row_to_column_r1': 0.666..., 'column_to_row_r1': 1.0}
    """
    rows, columns = torch.as_tensor(rows), torch.as_tensor(columns)
    if (
        rows.dim() != 2
        or columns.dim() != 2
        or rows.shape[1:] != columns.shape[1:]
    ):
        raise ValueError(
            f"rows {tuple(rows.shape)} and columns {tuple(columns.shape)} "
            "must be embeddings [N_rows, D] and [N_cols, D]"
        )
    shape = (rows.shape[0], columns.shape[0])
    row_groups, column_groups = _check_groups(
        shape, row_groups, column_groups, names, rows.device
    )
    for what, embeddings in zip(names, (rows, columns)):
        if not torch.isfinite(embeddings).all():
            raise ValueError(
                f"{what} embeddings contain NaN or infinite values"
            )
    row_members, column_members = _group_members(row_groups, column_groups)

    def ranks(queries, keys, query_groups, key_members):
        return torch.cat(
            [
                _block_ranks(
                    queries[start : start + chunk_size] @ keys.t(),
                    query_groups[start : start + chunk_size],
                    key_members,
                )
                for start in range(0, queries.shape[0], chunk_size)
            ]
        )

    row_rank = ranks(rows, columns, row_groups, column_members)
    column_rank = ranks(columns, rows, column_groups, row_members)
    return _recall_at(row_rank, column_rank, ks, names)


def _check_groups(shape, row_groups, column_groups, names, device):
    """Group ids checked against the score shape and each other (every
    group must have items on both sides), renumbered 0, 1, ... (the same
    id on both sides stays the same)."""
    row_groups = torch.as_tensor(row_groups, device=device).long()
    column_groups = torch.as_tensor(column_groups, device=device).long()
    if len(shape) != 2 or (
        tuple(row_groups.shape),
        tuple(column_groups.shape),
    ) != ((shape[0],), (shape[1],)):
        raise ValueError(
            f"sim {tuple(shape)}, row_groups {tuple(row_groups.shape)} "
            f"and column_groups {tuple(column_groups.shape)} must be "
            "[N_rows, N_cols], [N_rows] and [N_cols]"
        )
    row, column = names
    for groups, others, what, other in [
        (row_groups, column_groups, row, column),
        (column_groups, row_groups, column, row),
    ]:
        missing = groups[~torch.isin(groups, others)].unique().tolist()
        if missing:
            raise ValueError(f"{what} groups with no {other}: {missing}")
    _, dense = torch.unique(
        torch.cat([row_groups, column_groups]), return_inverse=True
    )
    return dense[: len(row_groups)], dense[len(row_groups) :]


def _group_members(row_groups, column_groups):
    """Per group, the positions of its rows and of its columns, as
    ``[number of groups, largest group]`` tables padded with -1 (group ids
    dense from 0, as :func:`_check_groups` returns them)."""
    tables = []
    for groups in (row_groups, column_groups):
        size = int(groups.max()) + 1 if groups.numel() else 0
        counts = torch.bincount(groups, minlength=size)
        order = torch.argsort(groups, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(groups), device=groups.device)
        slot = slot - starts[groups[order]]
        table = torch.full(
            (size, int(counts.max()) if size else 0), -1, device=groups.device
        )
        table[groups[order], slot] = order
        tables.append(table)
    return tables


def _block_ranks(scores, row_groups, column_members):
    """Per row of a block of scores ``[rows, N_cols]``, the number of
    columns of other groups scoring at least as high as the row's best
    column of its own group."""
    own = column_members[row_groups]
    own_scores = scores.gather(1, own.clamp(min=0))
    own_scores = own_scores.masked_fill(own < 0, float("-inf"))
    best_own = own_scores.amax(dim=1, keepdim=True)
    # (int32 sums of booleans are twice as fast as the default int64)
    ahead = (scores >= best_own).sum(dim=1, dtype=torch.int32)
    return ahead - (own_scores >= best_own).sum(dim=1)


def _recall_at(row_rank, column_rank, ks, names):
    """R@k of both directions from the ranks."""
    row, column = names
    recall = {}
    for k in ks:
        recall[f"{row}_to_{column}_r{k}"] = (
            (row_rank < k).double().mean().item()
        )
    for k in ks:
        hits = (column_rank < k).double().mean().item()
        recall[f"{column}_to_{row}_r{k}"] = hits
    return recall


def mean_r10(stats):
    """The checkpoint-selection score of retrieval: the mean of both
    directions' R@10.

    Arguments
    ---------
    stats : dict
        With ``speech_to_image_r10`` and ``image_to_speech_r10`` (the keys
        of :func:`retrieval_recall`).

    Returns
    -------
    float

    Example
    -------
    >>> mean_r10({"speech_to_image_r10": 0.2, "image_to_speech_r10": 0.4})
    0.30000000000000004
    """
    return (stats["speech_to_image_r10"] + stats["image_to_speech_r10"]) / 2


def retrieval_recall(sim, image_index, ks=(1, 5, 10)):
    """Speech->image and image->speech recall@k with several captions per
    image (:func:`group_recall` with one column per image).

    - speech->image: the rank of an utterance is the number of *other*
      images scoring at least as high as its own image; R@k is the share of
      utterances with rank < k.
    - image->speech: the rank of an image is the number of utterances of
      *other* images scoring at least as high as the best of its own
      captions; R@k is the share of images with rank < k.

    Arguments
    ---------
    sim : torch.Tensor
        Similarities [N_utt, N_img] (each unique image once).
    image_index : torch.Tensor
        Column of each utterance's image [N_utt] (long).
    ks : tuple of int
        The cut-offs k.

    Returns
    -------
    dict
        ``speech_to_image_r{k}`` and ``image_to_speech_r{k}`` for each k,
        as floats in [0, 1].

    Example
    -------
    >>> sim = torch.tensor([[3.0, 1.0], [1.0, 1.0], [0.0, 2.0]])
    >>> recall = retrieval_recall(sim, torch.tensor([0, 0, 1]), ks=(1,))
    >>> recall["speech_to_image_r1"]  # utterance 1 ties with image 1
    0.666...
    >>> recall["image_to_speech_r1"]
    1.0
    """
    sim = torch.as_tensor(sim)
    image_index = torch.as_tensor(image_index, device=sim.device).long()
    n_img = sim.shape[-1]
    if image_index.numel() and (
        image_index.min() < 0 or image_index.max() >= n_img
    ):
        raise ValueError(f"image_index must lie in [0, {n_img})")
    columns = torch.arange(n_img, device=sim.device)
    return group_recall(
        sim, image_index, columns, ks, names=("speech", "image")
    )


def zero_shot_recall(speech, texts, speech_groups, text_groups, ks=(1, 5, 10)):
    """Zero-shot speech<->text retrieval recall@k (SpeechCLIP) of speech
    and text embeddings scored by dot product: a text caption of the same
    image counts as correct in both directions
    (:func:`embedding_group_recall` grouped by image, in bounded memory).

    Arguments
    ---------
    speech : torch.Tensor
        Spoken-caption embeddings [N_speech, D].
    texts : torch.Tensor
        Text-caption embeddings [N_text, D].
    speech_groups : torch.Tensor
        Image (group id) of each spoken caption [N_speech] (long).
    text_groups : torch.Tensor
        Image (group id) of each text caption [N_text] (long).
    ks : tuple of int
        The cut-offs k.

    Returns
    -------
    dict
        ``speech_to_text_r{k}`` and ``text_to_speech_r{k}`` for each k, as
        floats in [0, 1].

    Example
    -------
    >>> speech = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> texts = torch.tensor([[0.9, 0.1], [0.2, 0.7], [0.8, 0.3]])
    >>> groups = torch.tensor([0, 1]), torch.tensor([0, 1, 0])
    >>> zero_shot_recall(speech, texts, *groups, ks=(1,))
    {'speech_to_text_r1': 1.0, 'text_to_speech_r1': 1.0}
    """
    return embedding_group_recall(
        speech, texts, speech_groups, text_groups, ks, names=("speech", "text")
    )


class RetrievalStats:
    """Accumulates utterance and image embeddings over an evaluation and
    computes :func:`retrieval_recall` (like SpeechBrain's ``MetricStats``).

    Utterances are stored cut to their valid frames, detached, in float32
    on the CPU;
    each image is kept once per image id (the first time it is seen). At
    :meth:`summarize`, utterances are re-padded chunk by chunk and scored
    against all images with ``similarity``.

    Under DDP each process appends its part of the set; :meth:`summarize`
    first gathers the parts of all processes (:meth:`gather`), so every
    process scores the whole set.

    Arguments
    ---------
    similarity : callable
        ``similarity(audio, audio_lens, image) -> [Na, Ni]`` for audio
        [Na, D] or [Na, T, D] with relative lengths [Na], and image
        [Ni, D] or [Ni, H, W, D].
    ks : tuple of int
        The recall cut-offs.
    chunk_size : int
        Utterances scored per call to ``similarity``.
    device : str or torch.device
        Where ``similarity`` runs.

    Example
    -------
    >>> stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
    >>> stats.append(
    ...     ids=["u1", "u2", "u3"],
    ...     audio=torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]),
    ...     audio_lens=None,
    ...     image=torch.eye(2)[[0, 0, 1]],
    ...     image_ids=["cat", "cat", "dog"],
    ... )
    >>> stats.summarize("speech_to_image_r1")
    1.0
    """

    def __init__(self, similarity, ks=(1, 5, 10), chunk_size=256, device="cpu"):
        self.similarity = similarity
        self.ks = ks
        self.chunk_size = chunk_size
        self.device = device
        self.clear()

    def clear(self):
        """Removes everything stored."""
        self.ids = []
        self.id_set = set()
        self.audio = []
        self.utterance_images = []
        self.images = {}
        self.summary = {}
        self.gathered = False

    def append(self, ids, audio, audio_lens, image, image_ids):
        """Stores one batch.

        Arguments
        ---------
        ids : list of str
            Utterance ids [B] (each must be new).
        audio : torch.Tensor
            Pooled embeddings [B, D] or frames [B, T, D].
        audio_lens : torch.Tensor or None
            Relative lengths [B] of frames (ignored for pooled embeddings).
        image : torch.Tensor
            Image embeddings [B, D] or feature maps [B, H, W, D].
        image_ids : list
            Image id of each utterance [B] (strings or a tensor).
        """
        if torch.is_tensor(image_ids):
            image_ids = image_ids.tolist()
        if not len(ids) == len(audio) == len(image) == len(image_ids):
            raise ValueError("ids, audio, image and image_ids differ in size")
        if self.audio and audio.dim() != self.audio[0].dim() + 1:
            raise ValueError("audio switched between pooled and frames")
        _check_new_ids(ids, self.id_set)
        audio = audio.detach().float().cpu()
        if audio.dim() == 3:
            if audio_lens is None:
                raise ValueError("audio_lens is required for frames [B, T, D]")
            frames = torch.round(audio_lens.cpu() * audio.shape[1]).long()
            for utterance, n in zip(audio, frames.tolist()):
                self.audio.append(utterance[:n].clone())  # frees the padding
        else:
            self.audio.extend(audio)
        self.ids.extend(ids)
        self.id_set.update(ids)
        self.utterance_images.extend(image_ids)
        for image_id, features in zip(image_ids, image.detach().float().cpu()):
            if image_id not in self.images:
                self.images[image_id] = features.clone()

    def summarize(self, field=None):
        """Scores all utterances against all images and computes recall.

        Arguments
        ---------
        field : str
            If given, only this entry of the result is returned.

        Returns
        -------
        dict or float
            The output of :func:`retrieval_recall`, or one of its values.
        """
        self.gather()
        if not self.audio:
            raise ValueError("RetrievalStats.summarize called with no data")
        columns = {image_id: c for c, image_id in enumerate(self.images)}
        image_index = torch.tensor([columns[i] for i in self.utterance_images])
        sim = self.scores(range(len(self.audio)), list(self.images))
        self.summary = retrieval_recall(sim, image_index, self.ks)
        if field is not None:
            return self.summary[field]
        return self.summary

    def scores(self, rows, image_ids):
        """Scores some stored utterances against some stored images with
        ``similarity``, ``chunk_size`` utterances at a time.

        Arguments
        ---------
        rows : sequence of int
            Positions of the utterances in ``ids`` (at least one).
        image_ids : list
            Keys of ``images`` (at least one).

        Returns
        -------
        torch.Tensor
            Similarities ``[len(rows), len(image_ids)]`` (float32, CPU).
        """
        images = torch.stack([self.images[i] for i in image_ids])
        images = images.to(self.device)
        utterances = [self.audio[r] for r in rows]
        sims = []
        starts = range(0, len(utterances), self.chunk_size)
        for start in progress(starts, "scoring utterances", min_total=8):
            chunk = utterances[start : start + self.chunk_size]
            if chunk[0].dim() == 2:
                frames = torch.tensor([len(a) for a in chunk])
                audio = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)
                lens = frames / audio.shape[1]
            else:
                audio = torch.stack(chunk)
                lens = torch.ones(len(chunk))
            with torch.no_grad():
                sim = self.similarity(
                    audio.to(self.device), lens.to(self.device), images
                )
            sims.append(sim.float().cpu())
        return torch.cat(sims)

    def top_images(self, utterance_ids, k=5):
        """The ``k`` best-scored images of some stored utterances, scoring
        those utterances only (not the whole similarity matrix). Under
        DDP, call it after :meth:`gather` (e.g. after :meth:`summarize`)
        for the whole set.

        Arguments
        ---------
        utterance_ids : list of str
            Stored utterance ids (at least one).
        k : int
            Images per utterance (at most all of them).

        Returns
        -------
        list of list
            Per utterance, image ids best first (equal scores in the order
            the images were stored).

        Example
        -------
        >>> stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
        >>> stats.append(["u1", "u2"], torch.tensor([[1.0, 0.0], [0.2, 0.8]]),
        ...              None, torch.eye(2), ["cat", "dog"])
        >>> stats.top_images(["u2"], k=2)
        [['dog', 'cat']]
        """
        row = {utt_id: r for r, utt_id in enumerate(self.ids)}
        image_ids = list(self.images)
        sim = self.scores([row[i] for i in utterance_ids], image_ids)
        best = sim.argsort(dim=1, descending=True, stable=True)[:, :k]
        return [[image_ids[c] for c in columns] for columns in best.tolist()]

    def top_utterances(self, image_ids, k=5):
        """The ``k`` best-scored stored utterances of some stored images,
        scoring those images only (see :meth:`top_images`).

        Arguments
        ---------
        image_ids : list
            Keys of ``images`` (at least one).
        k : int
            Utterances per image (at most all of them).

        Returns
        -------
        list of list of str
            Per image, utterance ids best first (equal scores in the order
            the utterances were stored).

        Example
        -------
        >>> stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
        >>> stats.append(["u1", "u2"], torch.tensor([[1.0, 0.0], [0.2, 0.8]]),
        ...              None, torch.eye(2), ["cat", "dog"])
        >>> stats.top_utterances(["cat"], k=2)
        [['u1', 'u2']]
        """
        sim = self.scores(range(len(self.ids)), image_ids)
        best = sim.t().argsort(dim=1, descending=True, stable=True)[:, :k]
        return [[self.ids[r] for r in rows] for rows in best.tolist()]

    def gather(self):
        """Under DDP, replaces what this process stored by what all
        processes stored, in rank order (the order of one process
        evaluating their parts one after the other); an utterance stored by
        several processes (a set every process evaluated whole) is kept
        once. Does nothing when not distributed or already gathered. Every
        process must call it (:meth:`summarize` does).

        Example
        -------
        >>> stats = RetrievalStats(lambda audio, lens, image: audio @ image.t())
        >>> stats.append(["u1"], torch.ones(1, 2), None, torch.ones(1, 2), [7])
        >>> stats.gather()  # one process: nothing changes
        >>> stats.ids, stats.utterance_images, list(stats.images)
        (['u1'], [7], [7])
        """
        if not is_distributed() or self.gathered:
            return
        parts = gather_object(
            (self.ids, self.utterance_images, list(self.images))
        )
        ids = [i for part in parts for i in part[0]]
        utterance_images = [i for part in parts for i in part[1]]
        image_ids = [i for part in parts for i in part[2]]
        audio = gather_tensors(self.audio)
        images = gather_tensors(list(self.images.values()))
        self.clear()
        for row in first_occurrences(ids):
            self.ids.append(ids[row])
            self.audio.append(audio[row])
            self.utterance_images.append(utterance_images[row])
        self.id_set.update(self.ids)
        for image_id, features in zip(image_ids, images):
            self.images.setdefault(image_id, features)
        self.gathered = True


class KeywordHitStats:
    """Keyword hit rate of SpeechCLIP's cascaded keywords (top-1 as in the
    paper, top-5 as in the authors' code, per slot and averaged),
    accumulated like SpeechBrain's ``MetricStats``.

    For keyword slot k and cut-off n, the hit rate is the share of
    utterances whose top-n token ids for slot k include a token id of the
    utterance's caption. Special tokens (start, end, padding) are excluded
    on both sides: a special prediction never hits. The baseline for slot k
    and cut-off n predicts, for every utterance, the n non-special token
    ids that occur most often in the model's top-n lists for slot k (ties
    broken by the smaller id), scored in the same way. Under DDP each
    process appends its part of the set; :meth:`summarize` first gathers
    the parts of all processes (:meth:`gather`).

    The baseline is a strong constant: where the model often says a word
    of nearly every caption ("a"), predicting it always scores near 1.
    Chance is the other reference: the hit rate of the model's own
    keywords scored against the captions of random utterances of the set
    (every caption, each keyword: ``chance_keyword_hit_top{n}``, over all
    keywords), what keywords that ignore the speech would score. Keywords
    that hear the speech hit their own caption more often than chance.

    With a variable number of keywords per utterance (SpeechCLIP+'s CIF:
    ``num_keywords`` given to :meth:`append`), the slots beyond an
    utterance's count are padding and never count. Its slots are positions
    in time, not learnt roles, so the hit rate is the share of all
    (utterance, keyword) pairs that hit, the baseline predicts for every
    keyword the n non-special token ids most frequent in all the top-n
    lists, and there are no per-slot rates. (With a fixed number of slots,
    the mean over the slots is that same share.)

    Arguments
    ---------
    ks : tuple of int
        The cut-offs n.
    special_ids : iterable of int
        Token ids that never count as a hit.

    Example
    -------
    >>> stats = KeywordHitStats(ks=(1, 2), special_ids=[0])
    >>> stats.append(
    ...     ids=["u1", "u2"],
    ...     ranked_token_ids=torch.tensor([[[5, 0]], [[0, 7]]]),  # K=1, N=2
    ...     caption_token_ids=[[0, 5, 9], [0, 7]],
    ... )
    >>> stats.summarize("keyword_hit_top1")  # u2's top-1 is special
    0.5
    >>> stats.summarize("keyword_hit_top2_slot0")
    1.0
    >>> stats.summarize("baseline_keyword_hit_top1")  # predicts 5 always
    0.5
    >>> stats.summarize("chance_keyword_hit_top1")  # 5 meets 1 caption of 2
    0.25

    A variable number of keywords (u2's second slot is padding); 5 and 7
    hit, 9 does not, the baseline says 5:

    >>> stats = KeywordHitStats(ks=(1,))
    >>> stats.append(
    ...     ["u1", "u2"],
    ...     torch.tensor([[[5], [9]], [[7], [5]]]),  # K=2, N=1
    ...     [[5, 8, 8], [7, 8]],
    ...     num_keywords=[2, 1],
    ... )
    >>> stats.summarize()  # doctest: +NORMALIZE_WHITESPACE
    {'keyword_hit_top1': 0.666..., 'baseline_keyword_hit_top1': 0.666...,
     'chance_keyword_hit_top1': 0.333...}
    >>> stats.count_summary()
    {'keywords_per_utterance': 1.5, 'caption_subwords_per_utterance': 2.5}
    """

    def __init__(self, ks=(1, 5), special_ids=()):
        self.ks = tuple(ks)
        self.special_ids = torch.tensor(
            [int(t) for t in special_ids], dtype=torch.long
        )
        self.clear()

    def clear(self):
        """Removes everything stored."""
        self.ids = []
        self.id_set = set()
        self.ranked = []  # per utterance: its valid slots [K_u, max(ks)]
        self.captions = []
        self.caption_lengths = []
        self.variable = None
        self.summary = {}
        self.gathered = False

    def append(
        self, ids, ranked_token_ids, caption_token_ids, num_keywords=None
    ):
        """Stores one batch.

        Arguments
        ---------
        ids : list of str
            Utterance ids [B] (each must be new).
        ranked_token_ids : torch.Tensor
            Token ids of each keyword slot ranked best first [B, K, N]
            (long, N >= max(ks)).
        caption_token_ids : list
            The caption's token ids for each utterance [B] (iterables of
            int, e.g. CLIP token ids, padding included or not).
        num_keywords : sequence of int or torch.Tensor, optional
            Valid slots of each utterance [B] (its first ones) for a
            variable number of keywords; give it for every batch or none.
        """
        ranked = torch.as_tensor(ranked_token_ids).detach().cpu()
        if ranked.dim() != 3 or ranked.is_floating_point():
            raise ValueError(
                "ranked_token_ids must be an integer tensor [B, K, N], got "
                f"{ranked.dtype} {tuple(ranked.shape)}"
            )
        if ranked.shape[2] < max(self.ks):
            raise ValueError(
                f"ranked_token_ids has N={ranked.shape[2]} ranked tokens, "
                f"fewer than max(ks)={max(self.ks)}"
            )
        variable = num_keywords is not None
        if self.variable is not None and variable != self.variable:
            raise ValueError(
                "num_keywords must be given for every batch or for none"
            )
        if not variable and self.ranked:
            if ranked.shape[1] != self.ranked[0].shape[0]:
                raise ValueError(
                    f"ranked_token_ids has {ranked.shape[1]} keyword slots, "
                    f"earlier batches had {self.ranked[0].shape[0]}"
                )
        if not len(ids) == len(ranked) == len(caption_token_ids):
            raise ValueError(
                "ids, ranked_token_ids and caption_token_ids differ in size"
            )
        counts = torch.full((len(ranked),), ranked.shape[1])
        if variable:
            counts = torch.as_tensor(num_keywords).detach().cpu().long()
            size = ranked.shape[1]
            in_range = ((counts >= 0) & (counts <= size)).all()
            if counts.shape != (len(ranked),) or not in_range:
                raise ValueError(
                    f"num_keywords must be [B] counts in [0, K={size}], got "
                    f"{counts.tolist()}"
                )
        _check_new_ids(ids, self.id_set)
        self.variable = variable
        self.ids.extend(ids)
        self.id_set.update(ids)
        for row, count in zip(ranked, counts.tolist()):
            self.ranked.append(row[:count, : max(self.ks)].long())
        for caption in caption_token_ids:
            tokens = torch.tensor([int(t) for t in caption], dtype=torch.long)
            tokens = tokens[~torch.isin(tokens, self.special_ids)]
            self.caption_lengths.append(len(tokens))
            self.captions.append(tokens.unique())

    def summarize(self, field=None):
        """Computes the hit rates of the model and of the baseline.

        Arguments
        ---------
        field : str
            If given, only this entry of the result is returned.

        Returns
        -------
        dict or float
            For each n in ``ks``: ``keyword_hit_top{n}`` (mean over slots),
            ``keyword_hit_top{n}_slot{k}`` for each slot k (from 0), then
            ``baseline_keyword_hit_top{n}`` and
            ``baseline_keyword_hit_top{n}_slot{k}``, and
            ``chance_keyword_hit_top{n}``; floats in [0, 1].
            With a variable number of keywords, the shares over all
            keywords, without the per-slot entries.
        """
        self.gather()
        if not self.ids:
            raise ValueError("KeywordHitStats.summarize called with no data")
        # -1 pads the captions and matches no token id
        captions = torch.nn.utils.rnn.pad_sequence(
            self.captions, batch_first=True, padding_value=-1
        )
        self.summary = {}
        if self.variable:
            self.summarize_keywords(captions)
        else:
            self.summarize_slots(captions)
        self.summarize_chance()
        if field is not None:
            return self.summary[field]
        return self.summary

    def summarize_chance(self):
        """``chance_keyword_hit_top{n}``: the hit rate of the keywords
        against all the captions of the set (of random utterances) instead
        of their own."""
        ranked = torch.cat(self.ranked)
        if len(ranked) == 0:
            return
        for n in self.ks:
            predictions = ranked[:, :n].clone()
            predictions[torch.isin(predictions, self.special_ids)] = -1
            self.summary[f"chance_keyword_hit_top{n}"] = _chance_hit_rate(
                predictions, self.captions
            )

    def summarize_slots(self, captions):
        """The rates of each of the fixed slots, and their means."""
        ranked = torch.stack(self.ranked)
        num_utterances, num_slots = ranked.shape[:2]
        for n in self.ks:
            model, baseline = [], []
            for k in range(num_slots):
                predictions = ranked[:, k, :n]
                model.append(_hit_rate(predictions, captions))
                constant, _ = _most_frequent(predictions, n, self.special_ids)
                constant = constant.expand(num_utterances, -1)
                baseline.append(_hit_rate(constant, captions))
            for prefix, rates in [("", model), ("baseline_", baseline)]:
                key = f"{prefix}keyword_hit_top{n}"
                self.summary[key] = sum(rates) / num_slots
                for k, rate in enumerate(rates):
                    self.summary[f"{key}_slot{k}"] = rate

    def summarize_keywords(self, captions):
        """The rates over all the keywords of a variable number."""
        counts = torch.tensor([len(r) for r in self.ranked])
        if counts.sum() == 0:
            raise ValueError("KeywordHitStats: no utterance has a keyword")
        owner = torch.repeat_interleave(torch.arange(len(counts)), counts)
        captions = captions[owner]
        ranked = torch.cat(self.ranked)
        for n in self.ks:
            predictions = ranked[:, :n]
            constant, _ = _most_frequent(predictions, n, self.special_ids)
            constant = constant.expand(len(ranked), -1)
            self.summary[f"keyword_hit_top{n}"] = _hit_rate(
                predictions, captions
            )
            self.summary[f"baseline_keyword_hit_top{n}"] = _hit_rate(
                constant, captions
            )

    def count_summary(self):
        """The mean number of keywords per utterance and the mean number
        of (non-special) subwords of its caption.

        Returns
        -------
        dict
            ``keywords_per_utterance`` and
            ``caption_subwords_per_utterance``.
        """
        self.gather()
        if not self.ids:
            raise ValueError(
                "KeywordHitStats.count_summary called with no data"
            )
        keywords = sum(len(r) for r in self.ranked) / len(self.ranked)
        subwords = sum(self.caption_lengths) / len(self.caption_lengths)
        return {
            "keywords_per_utterance": keywords,
            "caption_subwords_per_utterance": subwords,
        }

    def top1_counts(self, limit=10):
        """The most frequent top-1 token ids of each slot (special tokens
        included), for reports; with a variable number of keywords, one
        list over all the keywords.

        Arguments
        ---------
        limit : int
            How many token ids to list per slot.

        Returns
        -------
        list
            Per slot, a list of ``(token_id, count)``, most frequent first
            (ties broken by the smaller id).

        Example
        -------
        >>> stats = KeywordHitStats(ks=(1,))
        >>> ranked = torch.tensor([[[4]], [[2]], [[4]]])  # K=1, N=1
        >>> stats.append(["a", "b", "c"], ranked, [[1], [1], [1]])
        >>> stats.top1_counts()
        [[(4, 2), (2, 1)]]
        """
        self.gather()
        if not self.ids:
            raise ValueError("KeywordHitStats.top1_counts called with no data")
        if self.variable:
            columns = [torch.cat(self.ranked)[:, 0]]
        else:
            ranked = torch.stack(self.ranked)
            columns = [ranked[:, k, 0] for k in range(ranked.shape[1])]
        no_exclusion = torch.tensor([], dtype=torch.long)
        counts = []
        for column in columns:
            ids, occurrences = _most_frequent(column, limit, no_exclusion)
            counts.append(list(zip(ids.tolist(), occurrences.tolist())))
        return counts

    def gather(self):
        """Under DDP, replaces what this process stored by what all
        processes stored, in rank order, each utterance once (see
        :meth:`RetrievalStats.gather`). Every process must call it
        (:meth:`summarize` and :meth:`top1_counts` do).

        Example
        -------
        >>> stats = KeywordHitStats(ks=(1,))
        >>> stats.append(["u1"], torch.tensor([[[4]]]), [[4, 5]])
        >>> stats.gather()  # one process: nothing changes
        >>> stats.ids, stats.captions
        (['u1'], [tensor([4, 5])])
        """
        if not is_distributed() or self.gathered:
            return
        parts = gather_object((self.ids, self.caption_lengths, self.variable))
        ids = [i for part in parts for i in part[0]]
        lengths = [n for part in parts for n in part[1]]
        variable = next((p[2] for p in parts if p[2] is not None), None)
        ranked = gather_tensors(self.ranked)
        captions = gather_tensors(self.captions)
        self.clear()
        rows = first_occurrences(ids)
        self.ids = [ids[row] for row in rows]
        self.id_set.update(self.ids)
        self.ranked = [ranked[row] for row in rows]
        self.captions = [captions[row] for row in rows]
        self.caption_lengths = [lengths[row] for row in rows]
        self.variable = variable
        self.gathered = True


def _check_new_ids(ids, seen):
    """Raises if ``ids`` repeat each other or an id in ``seen``."""
    repeated = set(ids) & seen
    if len(set(ids)) != len(ids) or repeated:
        raise ValueError(f"utterance ids appended twice: {repeated}")


def _hit_rate(predictions, captions):
    """Share of rows [U] whose predicted ids [U, n] meet their caption ids
    [U, L] (-1 padded)."""
    hits = (predictions[:, :, None] == captions[:, None, :]).any(dim=(1, 2))
    return hits.double().mean().item()


def _chance_hit_rate(predictions, captions):
    """Hit rate of the predicted ids [M, n] against every caption rather
    than their own: the mean over the rows and the captions (lists of
    unique ids) of whether they meet. The captions containing each id are
    a bitset (a Python int), so a row costs n ORs of N-bit integers."""
    containing = {}
    for index, caption in enumerate(captions):
        for token in caption.tolist():
            containing[token] = containing.get(token, 0) | (1 << index)
    rows, counts = predictions.unique(dim=0, return_counts=True)
    total = 0
    for row, count in zip(rows.tolist(), counts.tolist()):
        met = 0
        for token in row:
            met |= containing.get(token, 0)
        total += met.bit_count() * count
    return total / (len(predictions) * len(captions))


def _most_frequent(token_ids, limit, excluded):
    """The (at most) ``limit`` most frequent ids in ``token_ids`` outside
    ``excluded``, most frequent first, ties broken by the smaller id, and
    their counts."""
    token_ids = token_ids.flatten()
    token_ids = token_ids[~torch.isin(token_ids, excluded)]
    ids, counts = token_ids.unique(return_counts=True)  # ascending ids
    order = counts.argsort(descending=True, stable=True)[:limit]
    return ids[order], counts[order]


def keyword_spotting_metrics(scores, relevant):
    """Keyword spotting scores of a keyword detector (Kamper et al., TASLP
    2019): P@10, P@N, EER and AP, each computed per keyword (column) and
    averaged over the keywords with at least one relevant and at least one
    irrelevant utterance.

    - P@10: the share of relevant utterances among the 10 best-scored
      (among all of them if there are fewer than 10).
    - P@N: the same among the N best-scored, where N is the keyword's
      number of relevant utterances.
    - EER: the equal error rate, where the ROC curve (false positive rate
      on x, true positive rate on y, linear between the points of
      ``sklearn.metrics.roc_curve``) crosses TPR = 1 - FPR, as found with
      ``brentq`` in Kamper's code.
    - AP: average precision, the mean over the relevant utterances of the
      precision at their rank. This is the per-keyword mean (mAP); Kamper
      et al. report a micro-averaged AP over all (utterance, keyword)
      pairs instead.

    Tied scores count at their expected value when ties are broken
    uniformly at random, for every metric (a constant column gets an EER
    of 0.5 and a P@10 equal to its share of relevant utterances); this is
    computed exactly, in O(utterances) per keyword after sorting.

    Arguments
    ---------
    scores : torch.Tensor
        Detection scores [utterances, keywords], higher meaning more
        likely relevant (no NaN).
    relevant : torch.Tensor
        Whether each keyword is relevant to each utterance (bool, same
        shape).

    Returns
    -------
    dict
        ``p_at_10``, ``p_at_n``, ``eer`` and ``ap`` as floats in [0, 1],
        and ``keywords``, the number of keywords averaged (int).

    Example
    -------
    >>> scores = torch.tensor(
    ...     [[0.9, 0.5, 0.1], [0.8, 0.5, 0.2], [0.3, 0.5, 0.3], [0.1, 0.5, 0.4]]
    ... )
    >>> relevant = torch.tensor(
    ...     [[True, True, False], [False, False, False], [True, False, False],
    ...      [False, True, False]]
    ... )
    >>> kws = keyword_spotting_metrics(scores, relevant)
    >>> kws["keywords"]  # the last keyword has no relevant utterance
    2
    >>> kws["eer"]  # (0.5 + 0.5) / 2: a constant column has EER 0.5
    0.5
    >>> kws["p_at_n"]  # (1/2 + 1/2) / 2
    0.5
    >>> round(kws["ap"], 4)  # (5/6 + 49/72) / 2, ties at their expectation
    0.7569
    """
    scores, relevant = _check_detection_inputs(scores, relevant)
    num_utterances = scores.shape[0]
    num_relevant = relevant.sum(dim=0)
    keep = (num_relevant > 0) & (num_relevant < num_utterances)
    keywords = int(keep.sum())
    if keywords == 0:
        raise ValueError(
            "no keyword has both a relevant and an irrelevant utterance"
        )
    scores = scores.t()[keep]  # [keywords, utterances]
    relevant = relevant.t()[keep]
    totals = torch.zeros(4, dtype=torch.float64)
    chunk = max(1, 2**19 // num_utterances)  # bounds the temporary memory
    for start in range(0, keywords, chunk):
        totals += _ranking_metrics(
            scores[start : start + chunk], relevant[start : start + chunk]
        ).sum(dim=0)
    names = ("p_at_10", "p_at_n", "eer", "ap")
    metrics = dict(zip(names, (totals / keywords).tolist()))
    metrics["keywords"] = keywords
    return metrics


def bow_metrics(scores, relevant, threshold=0.5):
    """Spoken bag-of-words prediction scores (Kamper et al., IS 2017): a
    keyword is predicted for an utterance when its score is at least
    ``threshold``; true positives, predictions and relevant pairs are
    counted over all utterances and keywords (micro-averaged).

    Arguments
    ---------
    scores : torch.Tensor
        Keyword scores [utterances, keywords] (e.g. sigmoid outputs, no
        NaN).
    relevant : torch.Tensor
        Whether each keyword is in each utterance (bool, same shape).
    threshold : float
        The smallest score that predicts a keyword.

    Returns
    -------
    dict
        ``bow_precision`` (true positives / predictions), ``bow_recall``
        (true positives / relevant pairs) and ``bow_f1`` (their harmonic
        mean), floats in [0, 1]; each is 0.0 where its denominator is 0.

    Example
    -------
    >>> scores = torch.tensor([[0.9, 0.5], [0.2, 0.7]])
    >>> relevant = torch.tensor([[True, False], [True, True]])
    >>> bow_metrics(scores, relevant)  # 2 hits, 3 predicted, 3 relevant
    {'bow_precision': 0.666..., 'bow_recall': 0.666..., 'bow_f1': 0.666...}
    """
    scores, relevant = _check_detection_inputs(scores, relevant)
    predicted = scores >= threshold
    hits = int((predicted & relevant).sum())
    num_predicted = int(predicted.sum())
    num_relevant = int(relevant.sum())
    precision = hits / num_predicted if num_predicted else 0.0
    recall = hits / num_relevant if num_relevant else 0.0
    both = precision + recall
    f1 = 2 * precision * recall / both if both else 0.0
    return {"bow_precision": precision, "bow_recall": recall, "bow_f1": f1}


def _check_detection_inputs(scores, relevant):
    """Checks scores and relevance [utterances, keywords]; returns them on
    the CPU as float64 and bool."""
    scores = torch.as_tensor(scores)
    relevant = torch.as_tensor(relevant)
    if scores.dim() != 2 or relevant.shape != scores.shape:
        raise ValueError(
            f"scores {tuple(scores.shape)} and relevant "
            f"{tuple(relevant.shape)} must both be [utterances, keywords]"
        )
    if scores.is_complex() or scores.dtype == torch.bool:
        raise ValueError(f"scores must be real numbers, got {scores.dtype}")
    if relevant.dtype != torch.bool:
        raise ValueError(
            f"relevant must be a bool tensor, got {relevant.dtype}"
        )
    scores = scores.detach().cpu().double()
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return scores, relevant.detach().cpu()


def _ranking_metrics(scores, relevant):
    """P@10, P@N, EER and AP [K, 4] of K keywords, from their scores and
    relevance [K, U] (each keyword with relevant and irrelevant
    utterances), ties at their expected value under random tie-breaking.

    After sorting, each utterance knows its tie group: the group's first
    position ``start``, size ``size``, relevant items ``hits`` and the
    relevant items ranked before it ``hits_before``.
    """
    num_keywords, num_utterances = scores.shape
    scores, order = scores.sort(dim=1, descending=True)
    relevant = relevant.gather(1, order).long()
    position = torch.arange(num_utterances).expand(num_keywords, -1)
    first = torch.ones_like(relevant, dtype=torch.bool)
    first[:, 1:] = scores[:, 1:] != scores[:, :-1]
    start = torch.where(first, position, 0).cummax(dim=1).values
    group = first.flatten().cumsum(0) - 1
    size = torch.bincount(group)[group].view(num_keywords, num_utterances)
    end = start + size - 1
    seen = relevant.cumsum(dim=1)  # relevant up to each position
    hits_before = (seen - relevant).gather(1, start)
    hits = seen.gather(1, end) - hits_before
    num_pos = seen[:, -1]
    num_neg = num_utterances - num_pos

    def precision_at(k):
        """Expected share of relevant items among the k [K] best: all of
        the k-th item's group ahead of it, and a random part of it."""
        kth = (k - 1)[:, None]
        tied_hits = hits.gather(1, kth).double()
        tied = size.gather(1, kth)
        taken = k[:, None] - start.gather(1, kth)
        expected = hits_before.gather(1, kth) + taken * tied_hits / tied
        return expected[:, 0] / k.double()

    p_at_10 = precision_at(torch.full_like(num_pos, min(10, num_utterances)))
    p_at_n = precision_at(num_pos)

    # AP: a relevant item of a group of n items with r relevant, preceded
    # by a items of which b relevant, lands at in-group position p
    # uniformly, with (p - 1)(r - 1)/(n - 1) other relevant items ahead of
    # it on average; its precision is linear in that count, so its
    # expected precision is the mean over p of
    # (b + 1 + (p - 1)(r - 1)/(n - 1)) / (a + p). Summed per position.
    size, hits = size.double(), hits.double()
    others = (hits - 1) / (size - 1).clamp(min=1)
    ahead = hits_before + 1 + (position - start) * others
    ap = (hits / size * ahead / (position + 1)).sum(dim=1) / num_pos

    # EER: the tie group whose box holds the crossing of the ROC staircase
    # with FPR + TPR = 1 is the first whose end corner is on or above it
    tp_end = seen.gather(1, end)
    fp_end = end + 1 - tp_end
    area = (num_neg * num_pos)[:, None]
    above = fp_end * num_pos[:, None] + tp_end * num_neg[:, None] >= area
    crossing = above.long().argmax(dim=1, keepdim=True)  # first True
    tp0 = hits_before.gather(1, crossing)[:, 0]
    fp0 = start.gather(1, crossing)[:, 0] - tp0
    group_pos = hits.gather(1, crossing)[:, 0].long()
    group_neg = size.gather(1, crossing)[:, 0].long() - group_pos
    eer = _expected_eer(fp0, tp0, group_neg, group_pos, num_neg, num_pos)
    return torch.stack([p_at_10, p_at_n, eer, ap], dim=1)


def _expected_eer(fp0, tp0, a, b, num_neg, num_pos):
    """Expected EER [K] under random tie-breaking, given for each keyword
    the tie group holding the crossing: ``a`` negatives and ``b``
    positives, after ``fp0`` negatives and ``tp0`` positives (all [K]).

    Each strict order gives a ROC staircase, which crosses
    FPR + TPR = 1 once: on a horizontal step at TPR y (EER 1 - y) or a
    vertical step at FPR x (EER x). Within the group, all orders are
    equally likely, so the path through its (i, j) lattice (i negatives,
    j positives so far) is uniformly random. For each column i, the last
    state below the line may step up across it, and for each row j the
    last state below may step right across it; a step across is taken by
    C(i+j, i) C(a+b-i-j-1, .) of the C(a+b, a) paths.
    """
    area = num_neg * num_pos
    log_paths = _log_binomial(a + b, a)
    numerator = torch.zeros(len(a), dtype=torch.float64)
    denominator = torch.zeros(len(a), dtype=torch.float64)
    for up in (True, False):
        # up steps (i, j) -> (i, j + 1), one per column i: EER = FPR;
        # right steps (i, j) -> (i + 1, j), one per row j: EER = 1 - TPR
        steps, others = (a, b) if up else (b, a)
        row = torch.repeat_interleave(torch.arange(len(a)), steps + 1)
        offsets = (steps + 1).cumsum(0) - (steps + 1)
        step = torch.arange(len(row)) - offsets[row]  # i (up) or j (right)
        if up:
            slack = area[row] - (fp0[row] + step) * num_pos[row]
            slack = slack - tp0[row] * num_neg[row]
            unit = num_neg[row]
        else:
            slack = area[row] - (tp0[row] + step) * num_neg[row]
            slack = slack - fp0[row] * num_pos[row]
            unit = num_pos[row]
        # the largest count of the other kind still below the line
        other = torch.div(slack - 1, unit, rounding_mode="floor")
        kept = (slack > 0) & (other < others[row])
        row, step, other = row[kept], step[kept], other[kept]
        i, j = (step, other) if up else (other, step)
        rest = (b[row] - j - 1) if up else (a[row] - i - 1)
        weight = (
            _log_binomial(i + j, i)
            + _log_binomial(a[row] + b[row] - i - j - 1, rest)
            - log_paths[row]
        ).exp()
        if up:
            rate = (fp0[row] + i).double() / num_neg[row]
        else:
            rate = 1 - (tp0[row] + j).double() / num_pos[row]
        numerator.index_add_(0, row, weight * rate)
        denominator.index_add_(0, row, weight)
    # the weights sum to 1 (each path crosses once); dividing by their sum
    # only removes rounding
    return numerator / denominator


def _log_binomial(n, k):
    """log C(n, k) for integer tensors n >= k >= 0."""
    n, k = n.double(), k.double()
    return torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
