"""Loading trained network weights from files (never from a hub at run time).

Supported files
---------------
torchvision AlexNet (``alexnet-owt-7be5be79.pth``)
    A bare state dict with keys ``features.{0,3,6,8,10}.*`` and ``classifier.{1,4,6}.*``. Read
    from the configured path or, when that is not given or missing, from the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``, see :func:`hub_cache_path`),
    whose SHA-256 prefix must then match the hash in the file name.
DeepCluster AlexNet (``checkpoint.pth.tar``; Caron et al. 2018)
    ``{"epoch", "arch", "state_dict", "optimizer"}`` with DataParallel keys
    ``features.module.<i>.*``, ``classifier.<i>.*``, ``top_layer.*`` and the fixed Sobel filters
    ``sobel.{0,1}.*``. The Sobel front end is detected from ``sobel.0.weight`` (or from
    ``features.0.weight`` taking 2 input channels); the top-layer size from ``top_layer.bias``.
The Cusack lab's supervised "modified AlexNet" (``modified_alexnet_checkpoint_27.pth.tar``)
    The same architecture with a 1,000-way top layer; keys carry ``module.`` prefixes.

Every file is read with ``torch.load(weights_only=True)``, which cannot execute code (Python 2
pickles are retried with ``encoding="latin1"``). When that fails, the file is examined without
unpickling anything (zip archive and pickle structure, PyTorch's magic number) to tell the two
causes apart:

* a damaged or incomplete file (random bytes, a truncated download, an HTML error page, a bad
  magic number) raises :class:`CorruptCheckpointError`, naming the file, its size and where to
  download it again;
* a complete checkpoint that holds Python objects beyond tensors (e.g. ``argparse.Namespace``)
  needs full unpickling, which can run arbitrary code: it is refused with
  :class:`UnsafeCheckpointError` unless the caller opts in for that file
  (``allow_unsafe_pickle=True``; config ``networks.allow_unsafe_pickle: [<network>]``).

A file the workflow verified against the download registry when it started is re-checked before
it is read (:func:`brainalign.io.hashing.check_listed_file`).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from brainalign.io.hashing import check_listed_file, sha256_file_cached
from brainalign.networks.checkpoints import (
    corrupt_message,
    failure_reason,
    scan_checkpoint,
    unsafe_message,
)
from brainalign.networks.registry import WEIGHTS

__all__ = [
    "TORCHVISION_ALEXNET_FILE",
    "WeightsNotFoundError",
    "UnsafeCheckpointError",
    "CorruptCheckpointError",
    "CheckpointInfo",
    "hub_cache_path",
    "resolve_weights_path",
    "read_checkpoint",
    "strip_prefixes",
    "inspect_state_dict",
    "load_state_dict",
    "load_weights_into",
]

#: File name of torchvision's ImageNet AlexNet weights (IMAGENET1K_V1).
TORCHVISION_ALEXNET_FILE = WEIGHTS["alexnet"].file
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")


class WeightsNotFoundError(FileNotFoundError):
    """A configured weights file does not exist."""


class UnsafeCheckpointError(ValueError):
    """A complete checkpoint needs full unpickling (globals beyond tensors); not opted in."""


class CorruptCheckpointError(ValueError):
    """A weights file is damaged or incomplete (not a readable checkpoint); names the file."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a state dict holds.

    Attributes
    ----------
    family : {"torchvision_alexnet", "deepcluster_alexnet", "unknown"}
        ``deepcluster_alexnet`` covers DeepCluster and the modified AlexNet (same layout).
    sobel : bool
        Whether the network has the fixed greyscale + Sobel front end.
    batchnorm : bool
    num_classes : int or None
        Output size of ``top_layer`` (DeepCluster family) or ``classifier.6`` (torchvision).
    n_keys : int
    """

    family: str
    sobel: bool
    batchnorm: bool
    num_classes: int | None
    n_keys: int


def hub_cache_path(filename: str = TORCHVISION_ALEXNET_FILE) -> Path:
    """Where torch.hub caches ``filename``: ``<torch.hub.get_dir()>/checkpoints/<filename>``.

    ``torch.hub.get_dir()`` honours ``torch.hub.set_dir``, ``$TORCH_HOME`` (then
    ``$XDG_CACHE_HOME/torch``, then ``~/.cache/torch``) followed by ``/hub``.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _sha256_startswith(path: Path, prefix: str) -> bool:
    return sha256_file_cached(path).startswith(prefix)


def _directory_message(network: str, path: Path) -> str:
    info = WEIGHTS[network]
    inside = path.resolve() / info.file
    there = (
        f"{inside} exists: set networks.weights.{network} to that path"
        if inside.is_file()
        else f"Get {info.file!r} from {info.source} and place it at {inside}, then set "
        f"networks.weights.{network} to that path"
    )
    return (
        f"trained weights for network {network!r}: {path.resolve()} is a directory, not a "
        f"weights file; networks.weights.{network} must name the file itself. {there}."
    )


def _missing_message(network: str, tried: list[Path], configured: str | None) -> str:
    info = WEIGHTS[network]
    place = configured or f"resources/weights/{info.file}"
    where = ", ".join(str(p) for p in tried) if tried else "(no path configured)"
    return (
        f"trained weights for network {network!r} not found (looked at {where}). Expected "
        f"the file {info.file!r}; get it from {info.source} and place it at "
        f"{Path(place).resolve()}, or set networks.weights.{network} in the config to its "
        f"path. Files listed in resources/registry.yaml can be fetched and verified with "
        f"`python -m brainalign.pipeline.download fetch <name>`."
    )


def resolve_weights_path(network: str, path: str | os.PathLike | None = None) -> Path:
    """The weights file to read for ``network``.

    Parameters
    ----------
    network : str
        A key of :data:`brainalign.networks.registry.WEIGHTS` (a registered network).
    path : path-like, optional
        The configured file. Used when it exists.

    Returns
    -------
    pathlib.Path
        ``path`` if it is a file. For the torchvision AlexNet, otherwise the torch hub cache
        copy (:func:`hub_cache_path`) when ``path`` is unset or has the same file name, and its
        SHA-256 starts with the hash in the file name.

    Raises
    ------
    WeightsNotFoundError
        Naming every location tried, the expected file and where to get it; or, for a
        ``path`` that is a directory, saying so and where the file belongs.
    ValueError
        A hub-cache copy whose hash does not match its name.
    """
    if network not in WEIGHTS:
        raise ValueError(f"unknown network {network!r}; known networks: {sorted(WEIGHTS)}")
    tried: list[Path] = []
    if path:
        p = Path(path)
        if p.is_file():
            return p
        if p.is_dir():
            raise WeightsNotFoundError(_directory_message(network, p))
        tried.append(p)
    info = WEIGHTS[network]
    if network == "alexnet" and (not path or Path(path).name == info.file):
        cached = hub_cache_path(info.file)
        if cached.is_file():
            m = _HASH_IN_NAME.search(cached.name)
            if m and not _sha256_startswith(cached, m.group(1)):
                raise ValueError(
                    f"{cached}: the torch hub cache copy is corrupt (its sha256 does not "
                    f"start with {m.group(1)}; {cached.stat().st_size} bytes); delete it and "
                    f"download {info.source} again"
                )
            return cached
        tried.append(cached)
    raise WeightsNotFoundError(_missing_message(network, tried, str(path) if path else None))


def _existing_file(path: Path, network: str | None) -> Path:
    if path.is_dir():
        name = WEIGHTS[network].file if network in WEIGHTS else "<weights file>"
        raise IsADirectoryError(
            f"{path.resolve()} is a directory, not a weights file; point to the file itself "
            f"(e.g. {path.resolve() / name})"
        )
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path


def _load_unsafe(path: Path, network: str | None, source: str | None) -> Any:
    last: Exception | None = None
    for encoding in ("utf-8", "latin1"):
        try:
            return torch.load(path, map_location="cpu", weights_only=False, encoding=encoding)
        except UnicodeDecodeError as exc:
            last = exc
        except (RuntimeError, EOFError, pickle.UnpicklingError, OSError) as exc:
            raise CorruptCheckpointError(
                corrupt_message(path, failure_reason(exc), network, source)
            ) from exc
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"{path}: full unpickling needs code that is not available here ({exc})"
            ) from exc
    raise CorruptCheckpointError(corrupt_message(path, failure_reason(last), network, source))


def read_checkpoint(
    path: str | os.PathLike,
    *,
    allow_unsafe_pickle: bool = False,
    network: str | None = None,
    source: str | None = None,
) -> Any:
    """``torch.load`` a weights file safely (CPU tensors).

    Tries ``weights_only=True`` with UTF-8, then with ``encoding="latin1"`` (Python 2 pickles).
    If both fail, the file is examined without unpickling: a damaged or incomplete file raises
    :class:`CorruptCheckpointError`; a complete one that needs full unpickling is read that way
    only if ``allow_unsafe_pickle`` is True.

    Parameters
    ----------
    path : path-like
    allow_unsafe_pickle : bool
    network : str, optional
        The network the file is for (named in messages).
    source : str, optional
        Where to download the file again (default: the network's source, or that of the
        registered file with this name).

    Raises
    ------
    FileNotFoundError
        No such file (``IsADirectoryError`` for a directory).
    CorruptCheckpointError
        Naming the file, its size, what is wrong, and where to download it again.
    UnsafeCheckpointError
        The file needs full unpickling and was not opted in (names the file, the objects it
        holds and the config key).
    """
    path = _existing_file(Path(path), network)
    failure: BaseException | None = None
    for encoding in ("utf-8", "latin1"):
        try:
            with warnings.catch_warnings():
                # torch warns that pickle_load_args are for weights_only=False, but its
                # weights-only unpickler does honour `encoding`.
                warnings.filterwarnings("ignore", message="pickle_load_args only works")
                return torch.load(path, map_location="cpu", weights_only=True, encoding=encoding)
        except UnicodeDecodeError as exc:
            failure = exc
        except Exception as exc:  # weights_only runs no code; every failure is diagnosed below
            failure = exc
            break
    problem, found = scan_checkpoint(path)
    if problem is None and not isinstance(failure, pickle.UnpicklingError):
        # a complete structure, yet unreadable (e.g. legacy storage data cut short)
        problem = failure_reason(failure)
    if problem is not None:
        # not chained: torch's own advice (weights_only=False) would be wrong here
        raise CorruptCheckpointError(corrupt_message(path, problem, network, source)) from None
    if not allow_unsafe_pickle:
        raise UnsafeCheckpointError(unsafe_message(path, found, failure, network)) from None
    return _load_unsafe(path, network, source)


def strip_prefixes(state: Mapping[str, Any]) -> dict[str, Any]:
    """Remove DataParallel wrappers: ``"module."`` at the start and ``".module"`` inside keys.

    ``features.module.0.weight`` → ``features.0.weight``;
    ``module.features.0.weight`` → ``features.0.weight``.
    """
    return {k.replace(".module", "").removeprefix("module."): v for k, v in state.items()}


def inspect_state_dict(state: Mapping[str, Any]) -> CheckpointInfo:
    """Recognise the layout of a (prefix-stripped) AlexNet-family state dict.

    Parameters
    ----------
    state : mapping of str to Tensor

    Returns
    -------
    CheckpointInfo
    """
    keys = set(state)
    if "top_layer.bias" in keys or "features.1.running_mean" in keys or "sobel.0.weight" in keys:
        first = state.get("features.0.weight")
        sobel = "sobel.0.weight" in keys or (first is not None and first.shape[1] == 2)
        top = state.get("top_layer.bias")
        return CheckpointInfo(
            "deepcluster_alexnet",
            bool(sobel),
            "features.1.running_mean" in keys,
            int(top.shape[0]) if top is not None else None,
            len(keys),
        )
    if {"features.0.weight", "features.3.weight", "classifier.6.bias"} <= keys:
        return CheckpointInfo(
            "torchvision_alexnet", False, False, int(state["classifier.6.bias"].shape[0]), len(keys)
        )
    return CheckpointInfo("unknown", "sobel.0.weight" in keys, False, None, len(keys))


def load_state_dict(
    path: str | os.PathLike, *, allow_unsafe_pickle: bool = False, network: str | None = None
) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.pth``/``.pth.tar`` file.

    Parameters
    ----------
    path : path-like
        A bare state dict, or a checkpoint dict holding one under ``"state_dict"``.
    allow_unsafe_pickle : bool
        Files are read with ``torch.load(weights_only=True)``, which executes no code. A file
        that needs full unpickling is refused unless this is True (opt in per file).
    network : str, optional
        The network the file is for (named in messages; see :func:`read_checkpoint`).

    Returns
    -------
    dict of str to Tensor
        With DataParallel prefixes removed (``"module."`` and ``".module"``).
    """
    path = Path(path)
    obj = read_checkpoint(path, allow_unsafe_pickle=allow_unsafe_pickle, network=network)
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ValueError(f"{path}: not a state dict of tensors (entry {bad[0]!r})")
    return strip_prefixes(obj)


def load_weights_into(
    model: nn.Module,
    network: str,
    path: str | os.PathLike | None,
    *,
    allow_unsafe_pickle: bool = False,
) -> nn.Module:
    """Load trained weights for ``network`` into ``model`` (strict key match).

    For DeepCluster-family models the fixed Sobel filters are taken from the model when the
    checkpoint omits them, and ``top_layer`` is resized to the checkpoint's size (read from
    ``top_layer.bias``; it does not affect the recorded layers). A checkpoint without a top
    layer keeps the model's own.

    Parameters
    ----------
    model : torch.nn.Module
        A freshly built network of the right architecture.
    network : str
    path : path-like or None
        The configured weights file; see :func:`resolve_weights_path` for the fallbacks.
    allow_unsafe_pickle : bool

    Raises
    ------
    WeightsNotFoundError
        If no file is found, naming the expected file and where to get it.
    CorruptCheckpointError
        If the file is damaged or incomplete.
    UnsafeCheckpointError
        If the file needs full unpickling and was not opted in.
    brainalign.io.hashing.FileCheckError
        If the workflow verified the file against the download registry when it started and
        it no longer matches.
    ValueError
        If the file is for another architecture, or keys or shapes do not match.
    """
    file = resolve_weights_path(network, path)
    check_listed_file(file)
    state = load_state_dict(file, allow_unsafe_pickle=allow_unsafe_pickle, network=network)
    info = inspect_state_dict(state)
    expected = WEIGHTS[network].family
    if info.family != expected:
        raise ValueError(
            f"{file}: looks like a {info.family.replace('_', ' ')} checkpoint, but "
            f"network {network!r} needs a {expected.replace('_', ' ')} one"
        )
    own = model.state_dict()
    if info.family == "deepcluster_alexnet":
        model_sobel = any(k.startswith("sobel.") for k in own)
        if model_sobel != info.sobel:
            raise ValueError(
                f"{file}: the checkpoint is for a network {'with' if info.sobel else 'without'} "
                f"the Sobel front end, but network {network!r} is built "
                f"{'with' if model_sobel else 'without'} it"
            )
        if info.batchnorm != any(k.endswith("running_mean") for k in own):
            raise ValueError(
                f"{file}: BatchNorm layers present in only one of the checkpoint "
                f"and network {network!r}"
            )
        top = getattr(model, "top_layer", None)
        if (
            info.num_classes is not None
            and isinstance(top, nn.Linear)
            and top.out_features != info.num_classes
        ):
            model.top_layer = nn.Linear(top.in_features, info.num_classes)
            own = model.state_dict()
        for key in [k for k in own if k.startswith(("sobel.", "top_layer.")) and k not in state]:
            state[key] = own[key]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{file}: weights do not fit network {network!r}: {exc}") from exc
    return model
