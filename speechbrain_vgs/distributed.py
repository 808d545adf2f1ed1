"""Gathering tensors across DDP processes for a global contrastive batch.

Contrastive losses see every item of the batch as a negative for every
other, so under DDP each process gathers the embeddings of all processes and
computes the loss on the global batch (so 4 GPUs x 64 behave like
1 x 256). :func:`gather_with_grad` makes the gradient of that global
loss flow back into each process's own slice: its backward sums the incoming
gradients over processes. Every process computes the same global loss, so
its slice receives ``world_size`` times the gradient of that loss, and DDP's
averaging of parameter gradients then yields exactly the gradient of a single
process running the whole batch.

Batch sizes may differ between processes (dynamic batching); the functions
pad internally and return only the real rows. Without an initialised process
group, or with a single process, every function returns its input.
Tensors must live where the backend communicates (CUDA for NCCL, CPU for
gloo), ids and lengths included.

Evaluation is split instead: each process evaluates a contiguous block of
the batches one process would make (:func:`contiguous_shard`), then the
statistics are gathered before they are summarised
(:func:`gather_object`, :func:`gather_tensors`, any device), in rank
order, which is the order of one process; :func:`first_occurrences` keeps
each item once when the processes evaluated the same items.

Authors
 * speechbrain-vgs developers 2026
"""

import torch
import torch.distributed as dist


def is_distributed():
    """Whether a process group with more than one process is running.

    Example
    -------
    >>> is_distributed()
    False
    """
    return (
        dist.is_available()
        and dist.is_initialized()
        and dist.get_world_size() > 1
    )


def _gather_rows(x):
    """All-gathers ``x`` along dim 0 when the row counts differ per process.

    Returns the list of per-process tensors (no gradient).
    """
    world_size = dist.get_world_size()
    size = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    padding = x.new_zeros((max(sizes) - x.shape[0], *x.shape[1:]))
    padded = torch.cat([x.detach(), padding]).contiguous()
    buffers = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(buffers, padded)
    return [buffer[:size] for buffer, size in zip(buffers, sizes)]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums gradients over processes
    and returns this process's slice."""

    @staticmethod
    def forward(ctx, x):
        parts = _gather_rows(x)
        rank = dist.get_rank()
        ctx.start = sum(part.shape[0] for part in parts[:rank])
        ctx.stop = ctx.start + x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad[ctx.start : ctx.stop]


def gather_with_grad(x):
    """Concatenates ``x`` [B, ...] of all processes along dim 0, with gradient.

    The rows of process 0 come first, then those of process 1, and so on.
    Gradients reach each process's own rows (summed over the processes, see
    the module docstring). All dimensions but the first must agree across
    processes (see :func:`gather_padded` otherwise).

    Arguments
    ---------
    x : torch.Tensor
        This process's part of the batch [B, ...]; B may differ per process.

    Returns
    -------
    torch.Tensor
        The global batch [sum of B, ...]; ``x`` itself when not distributed.

    Example
    -------
    >>> x = torch.randn(2, 3, requires_grad=True)
    >>> gather_with_grad(x) is x
    True
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)


def gather_no_grad(x):
    """Concatenates ``x`` [B, ...] of all processes along dim 0, no gradient.

    Meant for ids, labels and lengths.

    Arguments
    ---------
    x : torch.Tensor
        This process's part [B, ...]; B may differ per process.

    Returns
    -------
    torch.Tensor
        The global batch [sum of B, ...]; ``x`` itself when not distributed.

    Example
    -------
    >>> gather_no_grad(torch.tensor([3, 1]))
    tensor([3, 1])
    """
    if not is_distributed():
        return x
    return torch.cat(_gather_rows(x), dim=0)


def gather_padded(x, dim=1):
    """Zero-pads ``x`` along ``dim`` to the largest size over all processes,
    then gathers it with :func:`gather_with_grad`.

    Arguments
    ---------
    x : torch.Tensor
        This process's part of the batch [B, ...], e.g. frames [B, T, D].
    dim : int
        The dimension whose size differs between processes (not 0).

    Returns
    -------
    torch.Tensor
        The global batch, padded along ``dim``; ``x`` when not distributed.

    Example
    -------
    >>> gather_padded(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 3])
    """
    if not is_distributed():
        return x
    size = torch.tensor([x.shape[dim]], device=x.device)
    dist.all_reduce(size, op=dist.ReduceOp.MAX)
    padding_shape = list(x.shape)
    padding_shape[dim] = int(size) - x.shape[dim]
    x = torch.cat([x, x.new_zeros(padding_shape)], dim=dim)
    return gather_with_grad(x)


def gather_frames(frames, lengths):
    """Gathers frames [B, T, D] and their relative lengths from all processes.

    Relative lengths are fractions of each process's own T; after padding
    to the global largest T they are rescaled so that ``lengths * T`` still
    counts the valid frames of every utterance.

    Arguments
    ---------
    frames : torch.Tensor
        Frame sequences [B, T, D] of this process (gradient flows back).
    lengths : torch.Tensor
        Relative lengths [B] with respect to this process's T.

    Returns
    -------
    frames_all : torch.Tensor
        [sum of B, max T, D].
    lengths_all : torch.Tensor
        [sum of B], relative to max T.

    Example
    -------
    >>> frames, lengths = gather_frames(torch.zeros(2, 4, 3), torch.ones(2))
    >>> frames.shape, lengths
    (torch.Size([2, 4, 3]), tensor([1., 1.]))
    """
    if not is_distributed():
        return frames, lengths
    frames_all = gather_padded(frames, dim=1)
    rescaled = lengths * (frames.shape[1] / frames_all.shape[1])
    return frames_all, gather_no_grad(rescaled)


def contiguous_shard(items, rank, world_size):
    """The contiguous block of ``items`` that process ``rank`` evaluates.

    The blocks of processes 0, 1, ... follow each other, so concatenating
    what the processes produce in rank order gives the order of ``items``;
    no item is repeated or dropped (no padding). The first
    ``len(items) % world_size`` processes get one item more; with fewer
    items than processes, the last processes get none.

    Arguments
    ---------
    items : sequence
        E.g. the batches of an evaluation set, in order.
    rank : int
        This process's rank.
    world_size : int
        Number of processes.

    Returns
    -------
    list
        This process's block.

    Example
    -------
    >>> [contiguous_shard(range(5), rank, 2) for rank in range(2)]
    [[0, 1, 2], [3, 4]]
    >>> [contiguous_shard(["b0"], rank, 2) for rank in range(2)]
    [['b0'], []]
    """
    items = list(items)
    size, extra = divmod(len(items), world_size)
    start = rank * size + min(rank, extra)
    stop = start + size + (rank < extra)
    return items[start:stop]


def gather_object(obj):
    """The picklable ``obj`` of every process, in rank order (for ids,
    texts and small records; see :func:`gather_tensors` for tensors).

    Arguments
    ---------
    obj : object
        This process's object.

    Returns
    -------
    list
        One object per process; ``[obj]`` when not distributed.

    Example
    -------
    >>> gather_object(["u1", "u2"])
    [['u1', 'u2']]
    """
    if not is_distributed():
        return [obj]
    objects = [None] * dist.get_world_size()
    dist.all_gather_object(objects, obj)
    return objects


def gather_tensors(tensors):
    """Concatenates the lists of tensors of all processes, in rank order,
    without gradient, on the CPU.

    The tensors may differ in shape (e.g. utterances of different lengths
    [T, D]) but share one dtype; a process may have none. They travel as
    one flat tensor per process through the backend's device (the current
    GPU for NCCL, the CPU otherwise).

    Arguments
    ---------
    tensors : list of torch.Tensor
        This process's tensors (any device).

    Returns
    -------
    list of torch.Tensor
        Those of process 0, then those of process 1, and so on; this
        process's own (on the CPU) when not distributed.

    Example
    -------
    >>> gather_tensors([torch.ones(2, 3), torch.zeros(1, 3)])[1]
    tensor([[0., 0., 0.]])
    """
    tensors = [t.detach().cpu() for t in tensors]
    if not is_distributed():
        return tensors
    meta = [
        m
        for part in gather_object([(t.shape, t.dtype) for t in tensors])
        for m in part
    ]
    if not meta:
        return []
    dtype = meta[0][1]
    if any(m[1] != dtype for m in meta):
        raise ValueError(
            f"tensors of several dtypes: {sorted({str(m[1]) for m in meta})}"
        )
    flat = torch.cat(
        [t.reshape(-1) for t in tensors] or [torch.empty(0, dtype=dtype)]
    )
    device = "cpu"
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    parts = _gather_rows(flat.to(device))
    values = torch.cat(parts).cpu().split([shape.numel() for shape, _ in meta])
    return [value.view(shape) for value, (shape, _) in zip(values, meta)]


def first_occurrences(ids):
    """Positions of the first occurrence of each id, in order: the rows to
    keep of gathered statistics when processes evaluated the same items
    (a set that was not split between them).

    Arguments
    ---------
    ids : list
        Gathered ids (hashable).

    Returns
    -------
    list of int

    Example
    -------
    >>> first_occurrences(["a", "b", "a", "c", "b"])
    [0, 1, 3]
    """
    first = {}
    for position, item in enumerate(ids):
        first.setdefault(item, position)
    return list(first.values())
