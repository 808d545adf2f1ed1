"""Frozen weights stay out of checkpoints.

A frozen HuBERT (95M-316M parameters) or CLIP (150M-430M) never changes
during training, so saving it in every checkpoint only costs disk and time.
:func:`exclude_from_state_dict` leaves a frozen child module out of its
parent's ``state_dict`` and, when a state dict without it is loaded, keeps
the child's current weights (those loaded from its own source).

Authors
 * speechbrain-vgs developers 2026
"""


def exclude_from_state_dict(module, child):
    """Keeps the child module ``child`` out of ``module``'s state dict.

    Saving: the child's entries are removed from ``module.state_dict()``
    (also when ``module`` is itself inside a larger model). Loading: the
    child's missing entries are filled with its current values, so a strict
    ``load_state_dict`` accepts state dicts without them; entries that are
    present (e.g. from an older full checkpoint) are still loaded.

    Arguments
    ---------
    module : torch.nn.Module
        The parent module.
    child : str
        Attribute name of the frozen child module.

    Example
    -------
    >>> import torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    ... )
    >>> exclude_from_state_dict(model, "0")
    >>> list(model.state_dict())
    ['1.weight', '1.bias']
    >>> model.load_state_dict({"1.weight": torch.ones(1, 2),
    ...                        "1.bias": torch.zeros(1)})
    <All keys matched successfully>
    """

    def drop(parent, state_dict, prefix, local_metadata):
        start = f"{prefix}{child}."
        for key in [key for key in state_dict if key.startswith(start)]:
            del state_dict[key]

    def fill(parent, state_dict, prefix, *args):
        current = getattr(parent, child).state_dict(prefix=f"{prefix}{child}.")
        for key, value in current.items():
            state_dict.setdefault(key, value)

    module.register_state_dict_post_hook(drop)
    module.register_load_state_dict_pre_hook(fill)
