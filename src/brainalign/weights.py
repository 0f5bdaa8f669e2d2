"""Loading trained network weights from files (never from a hub at run time)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["WeightsNotFoundError", "load_state_dict", "load_weights_into"]


class WeightsNotFoundError(FileNotFoundError):
    """A configured weights file does not exist."""


def _missing_message(network: str, path: str | os.PathLike | None) -> str:
    from brainalign.networks import NETWORKS

    spec = NETWORKS[network]
    where = f"at {path!s}" if path else "(no path configured under weights." + network + ")"
    return (f"trained weights for network {network!r} not found {where}. Expected the file "
            f"{spec.weights_file!r}; get it from {spec.weights_source} and place it at "
            f"{path or 'resources/weights/' + spec.weights_file}, or set weights.{network} in "
            f"the config to its path.")


def load_state_dict(path: str | os.PathLike, *, allow_unsafe_pickle: bool = False
                    ) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.pth``/``.pth.tar`` file.

    Parameters
    ----------
    path : path-like
        A bare state dict, or a checkpoint dict holding one under ``"state_dict"``.
    allow_unsafe_pickle : bool
        Files are read with ``torch.load(weights_only=True)``, which executes no code. A file
        that needs full unpickling is refused unless this is True (opt in per file).

    Returns
    -------
    dict of str to Tensor
        With DataParallel prefixes removed (``"module."`` and ``".module"``).
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with guidance
        if not allow_unsafe_pickle:
            raise ValueError(
                f"{path}: cannot be read safely with torch.load(weights_only=True) ({exc}). "
                f"If you trust this file, allow full unpickling for it in the config "
                f"(weights_allow_unsafe_pickle)."
            ) from exc
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(obj).__name__}")
    return {k.replace(".module", "").removeprefix("module."): v for k, v in obj.items()}


def load_weights_into(model: nn.Module, network: str, path: str | os.PathLike | None, *,
                      allow_unsafe_pickle: bool = False) -> nn.Module:
    """Load trained weights for ``network`` into ``model`` (strict key match).

    Raises
    ------
    WeightsNotFoundError
        If ``path`` is None or missing, naming the expected file and where to get it.
    ValueError
        If the keys or shapes do not match the architecture.
    """
    if not path or not Path(path).is_file():
        raise WeightsNotFoundError(_missing_message(network, path))
    state = load_state_dict(path, allow_unsafe_pickle=allow_unsafe_pickle)
    # The Sobel filters are fixed; accept checkpoints that include or omit them.
    own = model.state_dict()
    for key in [k for k in own if k.startswith("sobel.") and k not in state]:
        state[key] = own[key]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit network {network!r}: {exc}") from exc
    return model
