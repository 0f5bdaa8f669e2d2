"""Device handling: where networks run."""

from __future__ import annotations

import torch

__all__ = ["pick_device"]


def pick_device(device: str = "auto") -> torch.device:
    """The torch device to run on.

    Parameters
    ----------
    device : str
        ``"auto"`` gives CUDA when available, else CPU; anything else is passed to
        ``torch.device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, …).

    Returns
    -------
    torch.device
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
