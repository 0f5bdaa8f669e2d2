"""Backbones: whole networks used as frozen feature extractors, untrained or trained.

A backbone maps preprocessed images ``(n, 3, H, W)`` to one output vector per image (the
ImageNet logits of a classifier, the top layer of an AlexNet-family network). Valid names
(:data:`~brainalign.networks.registry.BACKBONE_NAMES`):

* the torchvision ImageNet classifiers of :data:`BACKBONES` (``vgg11_bn``,
  ``resnext50_32x4d``, ``resnet50``, ``densenet121``, ``mobilenet_v3_large``), built with
  their torchvision constructors (``weights=None``); trained weights are torchvision's
  IMAGENET1K_V1 files (:data:`~brainalign.networks.registry.BACKBONE_WEIGHTS`), read from a
  configured path or from the torch hub cache, never downloaded here;
* the networks of :data:`~brainalign.networks.registry.KNOWN_NETWORKS` (``alexnet``,
  ``deepcluster``, ``modified_alexnet``), built by
  :func:`brainalign.networks.architectures.build_network`. The DeepCluster family has a fixed
  224 x 224 input; its backbone resizes other inputs to that size (bilinear) first.

Untrained backbones are initialised under a seeded torch RNG without touching the global one:
the same seed gives identical parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.io.hashing import check_listed_file, sha256_file_cached
from brainalign.networks.architectures import NETWORKS, build_network
from brainalign.networks.registry import (
    BACKBONE_NAMES,
    BACKBONE_WEIGHTS,
    BACKBONES,
    WeightsInfo,
)
from brainalign.networks.weights import (
    WeightsNotFoundError,
    hub_cache_path,
    read_checkpoint,
    strip_prefixes,
)

__all__ = [
    "BACKBONES",
    "BACKBONE_NAMES",
    "FixedInputSize",
    "build_backbone",
    "resolve_backbone_weights",
    "resolve_torchvision_weights",
    "load_backbone_weights",
    "output_dim",
]

#: Input side of the DeepCluster-family networks (their classifier has a fixed input size).
_FIXED_INPUT = {"deepcluster": 224, "modified_alexnet": 224}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
# Old torchvision DenseNet checkpoints name ``denselayer<i>.norm.1`` what is now ``norm1``.
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class FixedInputSize(nn.Module):
    """Resize inputs to the fixed side a network needs, then run it.

    Parameters
    ----------
    net : torch.nn.Module
        The wrapped network (``self.net``).
    size : int
        Input side the network needs; other inputs are resized (bilinear, no antialiasing).

    Notes
    -----
    Input (n, 3, H, W); output that of ``net`` on (n, 3, size, size).
    """

    def __init__(self, net: nn.Module, size: int) -> None:
        super().__init__()
        self.net = net
        self.size = int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


def output_dim(model: nn.Module) -> int:
    """Output size of a backbone: ``out_features`` of its last ``nn.Linear`` module.

    Every supported backbone ends with a linear layer (ImageNet classifiers: 1000; DeepCluster:
    its top layer).

    Raises
    ------
    ValueError
        If the model has no linear layer.
    """
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            last = module
    if last is None:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; output size unknown")
    return int(last.out_features)


def _torchvision_model(name: str) -> nn.Module:
    import torchvision.models as tvm

    return getattr(tvm, name)(weights=None)


def _missing_message(
    name: str, info: WeightsInfo, kind: str, tried: list[Path], configured: str | None
) -> str:
    place = configured or f"resources/weights/{info.file}"
    where = ", ".join(str(p) for p in tried) if tried else "(no path configured)"
    return (
        f"trained weights for {kind} {name!r} not found (looked at {where}). Expected the "
        f"file {info.file!r}; get it from {info.source} and place it at "
        f"{Path(place).resolve()}, or pass its path. It is listed in resources/registry.yaml "
        f"as torchvision_{name}: `python -m brainalign.pipeline.download fetch "
        f"torchvision_{name}` fetches and verifies it."
    )


def _directory_message(name: str, info: WeightsInfo, kind: str, path: Path) -> str:
    inside = path.resolve() / info.file
    there = (
        f"{inside} exists: pass that path"
        if inside.is_file()
        else f"get {info.file!r} from {info.source} and place it at {inside}, then pass that path"
    )
    return (
        f"trained weights for {kind} {name!r}: {path.resolve()} is a directory, not a "
        f"weights file; {there}."
    )


def _hub_copy(info: WeightsInfo) -> Path | None:
    cached = hub_cache_path(info.file)
    if not cached.is_file():
        return None
    m = _HASH_IN_NAME.search(cached.name)
    if m and not sha256_file_cached(cached).startswith(m.group(1)):
        raise ValueError(
            f"{cached}: the torch hub cache copy is corrupt (its sha256 does not start with "
            f"{m.group(1)}; {cached.stat().st_size} bytes); delete it and download "
            f"{info.source} again"
        )
    return cached


def resolve_torchvision_weights(
    name: str,
    path: str | os.PathLike | None,
    table: Mapping[str, WeightsInfo],
    kind: str = "backbone",
) -> Path:
    """The trained-weights file of a torchvision network listed in ``table``.

    Parameters
    ----------
    name : str
        A key of ``table`` (e.g. :data:`~brainalign.networks.registry.BACKBONE_WEIGHTS` or
        :data:`~brainalign.networks.registry.VIDEO_WEIGHTS`).
    path : path-like, optional
        The configured file; used when it exists.
    table : mapping name -> WeightsInfo
    kind : str
        What the network is, for messages.

    Returns
    -------
    pathlib.Path
        ``path`` if it is a file; else, when ``path`` is unset or has the expected file name,
        the torch hub cache copy (:func:`~brainalign.networks.weights.hub_cache_path`) whose
        SHA-256 starts with the hash in its name.

    Raises
    ------
    WeightsNotFoundError
        Naming every location tried, the expected file, its URL and where to place it; or,
        for a ``path`` that is a directory, saying so.
    ValueError
        An unknown name, or a hub-cache copy whose hash does not match its name.
    """
    if name not in table:
        raise ValueError(f"{name!r} has no torchvision weights file; known: {list(table)}")
    info = table[name]
    tried: list[Path] = []
    if path:
        p = Path(path)
        if p.is_file():
            return p
        if p.is_dir():
            raise WeightsNotFoundError(_directory_message(name, info, kind, p))
        tried.append(p)
    if not path or Path(path).name == info.file:
        cached = _hub_copy(info)
        if cached is not None:
            return cached
        tried.append(hub_cache_path(info.file))
    raise WeightsNotFoundError(
        _missing_message(name, info, kind, tried, str(path) if path else None)
    )


def resolve_backbone_weights(name: str, path: str | os.PathLike | None = None) -> Path:
    """The trained-weights file to read for a torchvision backbone (one of :data:`BACKBONES`);
    see :func:`resolve_torchvision_weights`."""
    return resolve_torchvision_weights(name, path, BACKBONE_WEIGHTS, "backbone")


def _state_dict_of(obj: Any, file: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{file}: expected a state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ValueError(f"{file}: not a state dict of tensors (entry {bad[0]!r})")
    return strip_prefixes(obj)


def _renamed_densenet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        m = _DENSENET_OLD_KEY.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def load_backbone_weights(
    model: nn.Module,
    name: str,
    path: str | os.PathLike | None,
    *,
    allow_unsafe_pickle: bool = False,
) -> nn.Module:
    """Load torchvision's trained weights into a freshly built backbone (strict key match).

    Parameters
    ----------
    model : torch.nn.Module
        The torchvision model of ``name``.
    name : str
        One of :data:`BACKBONES`.
    path : path-like or None
        The configured weights file; see :func:`resolve_backbone_weights` for the fallback.
    allow_unsafe_pickle : bool
        See :func:`brainalign.networks.weights.read_checkpoint`.

    Returns
    -------
    torch.nn.Module
        ``model``, with the weights loaded.

    Raises
    ------
    WeightsNotFoundError
        No file found (names the URL and where to place the file).
    brainalign.networks.weights.CorruptCheckpointError
        A damaged or incomplete file.
    ValueError
        Keys or shapes that do not fit the architecture.
    """
    file = resolve_backbone_weights(name, path)
    check_listed_file(file)
    source = BACKBONE_WEIGHTS[name].source
    obj = read_checkpoint(
        file, allow_unsafe_pickle=allow_unsafe_pickle, network=name, source=source
    )
    state = _state_dict_of(obj, file)
    if name == "densenet121":
        state = _renamed_densenet_keys(state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{file}: weights do not fit backbone {name!r}: {exc}") from exc
    return model


def build_backbone(
    name: str,
    *,
    trained: bool,
    seed: int,
    weights_path: str | os.PathLike | None = None,
    allow_unsafe_pickle: bool = False,
) -> tuple[nn.Module, int]:
    """Build a backbone in eval mode, and its output size.

    Parameters
    ----------
    name : str
        One of :data:`~brainalign.networks.registry.BACKBONE_NAMES`.
    trained : bool
        False: freshly initialised from ``seed`` (torch's global RNG state is left as it
        was). True: the same architecture with trained weights from ``weights_path`` (or, for
        the torchvision classifiers, the torch hub cache).
    seed : int
        Seed of the initialisation.
    weights_path : path-like, optional
        The trained-weights file.
    allow_unsafe_pickle : bool
        See :func:`brainalign.networks.weights.read_checkpoint`.

    Returns
    -------
    model : torch.nn.Module
        Maps (n, 3, H, W) preprocessed images to (n, out_dim).
    out_dim : int
        1000 for the ImageNet classifiers and ``alexnet``/``modified_alexnet``; the top-layer
        size for ``deepcluster`` (10,000, or that of the loaded checkpoint).

    Raises
    ------
    ValueError
        An unknown name.
    WeightsNotFoundError
        ``trained`` without a weights file (names the URL and where to place the file).
    """
    if name not in BACKBONE_NAMES:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {list(BACKBONE_NAMES)}")
    if name in NETWORKS:
        training = "trained" if trained else "untrained"
        model = build_network(
            name,
            training,
            seed=seed,
            weights=None if weights_path is None else str(weights_path),
            allow_unsafe_pickle=allow_unsafe_pickle,
        )
        if name in _FIXED_INPUT:
            model = FixedInputSize(model, _FIXED_INPUT[name])
    else:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            model = _torchvision_model(name)
        if trained:
            load_backbone_weights(
                model, name, weights_path, allow_unsafe_pickle=allow_unsafe_pickle
            )
    return model.eval(), output_dim(model)
