"""Evaluation metrics: cross-modal retrieval recall@k.

Retrieval follows DESIGN section 5: each unique image is embedded once and
may have several captions. Ties never count in the model's favour: an item
tied with the correct one is ranked ahead of it.

Authors
 * speechbrain-vgs developers 2026
"""

import torch


def retrieval_recall(sim, image_index, ks=(1, 5, 10)):
    """Speech->image and image->speech recall@k with several captions per
    image.

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
    if not sim.is_floating_point():
        sim = sim.double()
    image_index = torch.as_tensor(image_index, device=sim.device).long()
    if sim.dim() != 2 or image_index.shape != (sim.shape[0],):
        raise ValueError(
            f"sim {tuple(sim.shape)} and image_index "
            f"{tuple(image_index.shape)} must be [N_utt, N_img] and [N_utt]"
        )
    n_utt, n_img = sim.shape
    if image_index.min() < 0 or image_index.max() >= n_img:
        raise ValueError(f"image_index must lie in [0, {n_img})")
    if not torch.isfinite(sim).all():
        raise ValueError("sim contains NaN or infinite values")
    captions = torch.bincount(image_index, minlength=n_img)
    if (captions == 0).any():
        missing = (captions == 0).nonzero().flatten().tolist()
        raise ValueError(f"images without any caption: columns {missing}")

    # speech -> image: other images at least as similar as the own image
    own_score = sim.gather(1, image_index[:, None]).squeeze(1)
    speech_rank = (sim >= own_score[:, None]).sum(dim=1) - 1

    # image -> speech: other images' captions at least as similar as the
    # best own caption
    best_own = sim.new_full((n_img,), float("-inf")).scatter_reduce(
        0, image_index, own_score, reduce="amax"
    )
    at_least_best = (sim >= best_own[None, :]).sum(dim=0)
    own_at_best = torch.bincount(
        image_index[own_score >= best_own[image_index]], minlength=n_img
    )
    image_rank = at_least_best - own_at_best

    recall = {}
    for k in ks:
        hits = (speech_rank < k).double().mean()
        recall[f"speech_to_image_r{k}"] = hits.item()
    for k in ks:
        hits = (image_rank < k).double().mean()
        recall[f"image_to_speech_r{k}"] = hits.item()
    return recall


class RetrievalStats:
    """Accumulates utterance and image embeddings over an evaluation and
    computes :func:`retrieval_recall` (like SpeechBrain's ``MetricStats``).

    Utterances are stored cut to their valid frames, detached, on the CPU;
    each image is kept once per image id (the first time it is seen). At
    :meth:`summarize`, utterances are re-padded chunk by chunk and scored
    against all images with ``similarity``.

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
        repeated = set(ids) & self.id_set
        if len(set(ids)) != len(ids) or repeated:
            raise ValueError(f"utterance ids appended twice: {repeated}")
        audio = audio.detach().cpu()
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
        for image_id, features in zip(image_ids, image.detach().cpu()):
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
        if not self.audio:
            raise ValueError("RetrievalStats.summarize called with no data")
        columns = {image_id: c for c, image_id in enumerate(self.images)}
        image_index = torch.tensor([columns[i] for i in self.utterance_images])
        images = torch.stack(list(self.images.values())).to(self.device)
        rows = []
        for start in range(0, len(self.audio), self.chunk_size):
            chunk = self.audio[start : start + self.chunk_size]
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
            rows.append(sim.float().cpu())
        self.summary = retrieval_recall(torch.cat(rows), image_index, self.ks)
        if field is not None:
            return self.summary[field]
        return self.summary
