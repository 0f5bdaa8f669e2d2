"""VisualNet: the two-pathway 3D ResNet of the mouse RSA study, and loading its checkpoints.

The study's networks (``models/rat1-5.ckpt``, ``models/ts1-5.ckpt``: PyTorch-Lightning
``DPCPlusLit``, dense predictive coding + motion head) use the backbone
``VisualNet(num_paths=2, num_res_blocks=6)`` of the ``dpc`` package, which is not public. Its
architecture is rebuilt here from the checkpoints' state-dict shapes (methods §5.2) and from the
public ``VisualNet`` of Bakhtiari et al. (2021, "The functional specialization of visual cortex
emerges from training parallel pathways with self-supervised predictive learning";
``ShahabBakht/ventral-dorsal-model``, ``Models/CPC/backbone/monkeynet.py``), whose shapes
agree with every documented one:

``s1`` (stem, input (B, 3, T, 64, 64) -> (B, 128, T, 16, 16))
    ``conv1``: a *rotation-symmetric* Conv3d whose weight (32, 3, 5, 7, 7) is used four times,
    rotated by 0, 90, 180 and 270 degrees in the image plane and concatenated along the output
    channels (rotation-major), so 32 stored filters give 128 channels; stride (1, 2, 2), padding
    (2, 3, 3), no bias. ``bn1`` BatchNorm3d(128), LeakyReLU(0.1), MaxPool3d((1, 3, 3),
    stride (1, 2, 2), padding (0, 1, 1)).
``path1``, ``path2`` (each (B, 128, T, 16, 16) -> (B, 64, T, 16, 16))
    ``res_blocks.res0 … res5``: SlowFast bottleneck residual blocks (``branch2``: ``a`` Tx1x1,
    ``b`` 1x3x3, ``c`` 1x1x1 convolutions, each with BatchNorm; inner width 16, output 64;
    temporal kernel T = 1 on ``res0, res2, res4`` and 3 on ``res1, res3, res5``; stride 1).
    ``res0`` has the projection ``branch1`` (1x1x1 conv 128 -> 64) + ``branch1_bn``.
``dropout`` (the ``out`` layer)
    Dropout3d(0.1) of the two paths' outputs concatenated along the channels (B, 128, T, 16, 16),
    or summed (B, 64, T, 16, 16) with ``concat=False``.

State-dict keys therefore read ``s1.conv1.weight``, ``s1.bn1.*``,
``path<p>.res_blocks.res<i>.branch1.weight``, ``….branch1_bn.*``, ``….branch2.{a,b,c}.weight``,
``….branch2.{a,b,c}_bn.*``.

What is guessed (not in the checkpoint shapes): the rotation scheme of the stem (the public
code's; it is the one construction known to turn 32 stored filters into 128 BatchNorm
channels), the stem's LeakyReLU slope and max pooling, the alternation starting with T = 1 on
``res0``, the residual ReLU after each block, and the dropout rate. Drop-connect of the original
blocks is a training-only operation and is left out (inference is identical).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.io.hashing import check_listed_file
from brainalign.networks.weights import WeightsNotFoundError, read_checkpoint, strip_prefixes

__all__ = [
    "VISUALNET_PREFIXES",
    "VisualNetCheckpointError",
    "SymmetricConv3d",
    "VisualNet",
    "VISUALNET_SOURCE",
    "resolve_visualnet_checkpoint",
    "load_visualnet_checkpoint",
]

#: Key prefixes removed from a checkpoint's state dict, the first that fits the model wins
#: (``DPCPlusLit`` stores the backbone as ``model.backbone.``).
VISUALNET_PREFIXES = ("model.backbone.", "backbone.", "model.", "net.", "encoder.", "")
#: Where the study's trained checkpoints are.
VISUALNET_SOURCE = (
    "https://github.com/brainhack-school2024/crijnen_project (models/rat1.ckpt … rat5.ckpt, "
    "models/ts1.ckpt … ts5.ckpt)"
)


class VisualNetCheckpointError(ValueError):
    """A checkpoint does not fit the VisualNet it is loaded into (names the first bad key)."""


class SymmetricConv3d(nn.Module):
    """A Conv3d whose filters are used in four image-plane rotations (0, 90, 180, 270 degrees).

    Parameters
    ----------
    in_channels : int
    base_channels : int
        Stored filters; the output has ``4 * base_channels`` channels, rotation-major.
    kernel_size, stride, padding : tuple of 3 ints
        (time, height, width); height and width of the kernel must be equal.

    Notes
    -----
    ``weight`` has shape (base_channels, in_channels, kT, kH, kW); input (B, in_channels, T, H,
    W); no bias. Initialised uniform in ±1/sqrt(fan_in), PyTorch's default for convolutions.
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
    ) -> None:
        super().__init__()
        if kernel_size[1] != kernel_size[2]:
            raise ValueError(f"rotated kernels must be square in space, got {kernel_size}")
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.weight = nn.Parameter(torch.empty(base_channels, in_channels, *kernel_size))
        bound = 1.0 / math.sqrt(in_channels * math.prod(kernel_size))
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.cat([torch.rot90(self.weight, k, [3, 4]) for k in range(4)], dim=0)
        return F.conv3d(x, w, stride=self.stride, padding=self.padding)


class _Stem(nn.Module):
    """``s1``: symmetric conv, BatchNorm, LeakyReLU(0.1), max pooling (space /4 in all)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"the stem needs a multiple of 4 channels, got {channels}")
        self.conv1 = SymmetricConv3d(3, channels // 4, (5, 7, 7), (1, 2, 2), (2, 3, 3))
        self.bn1 = nn.BatchNorm3d(channels)
        self.relu = nn.LeakyReLU(negative_slope=0.1)
        self.pool_layer = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_layer(self.relu(self.bn1(self.conv1(x))))


class _Bottleneck(nn.Module):
    """``branch2``: Tx1x1 -> 1x3x3 -> 1x1x1 convolutions, each with BatchNorm (ReLU between)."""

    def __init__(self, dim_in: int, dim_out: int, temporal: int, dim_inner: int) -> None:
        super().__init__()
        self.a = nn.Conv3d(
            dim_in, dim_inner, (temporal, 1, 1), padding=(temporal // 2, 0, 0), bias=False
        )
        self.a_bn = nn.BatchNorm3d(dim_inner)
        self.b = nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(dim_inner)
        self.c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class _ResBlock(nn.Module):
    """Bottleneck residual block; a 1x1x1 projection (``branch1``) when the width changes."""

    def __init__(self, dim_in: int, dim_out: int, temporal: int, dim_inner: int) -> None:
        super().__init__()
        if dim_in != dim_out:
            self.branch1 = nn.Conv3d(dim_in, dim_out, 1, bias=False)
            self.branch1_bn = nn.BatchNorm3d(dim_out)
        self.branch2 = _Bottleneck(dim_in, dim_out, temporal, dim_inner)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return self.relu(shortcut + self.branch2(x))


class _Path(nn.Module):
    """One pathway: ``res_blocks.res0 … res<n-1>``, temporal kernel 1 and 3 alternating."""

    def __init__(self, num_res_blocks: int, dim_in: int) -> None:
        super().__init__()
        dim_out, dim_inner = dim_in // 2, dim_in // 8
        self.res_blocks = nn.ModuleDict(
            {
                f"res{i}": _ResBlock(
                    dim_in if i == 0 else dim_out, dim_out, 1 + 2 * (i % 2), dim_inner
                )
                for i in range(num_res_blocks)
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks.values():
            x = block(x)
        return x


class VisualNet(nn.Module):
    """The two-pathway 3D ResNet backbone (see the module docstring for what is guessed).

    Parameters
    ----------
    num_paths : {1, 2}
        Parallel pathways after the shared stem; the stem has ``256 // num_paths`` channels.
    num_res_blocks : int
        Residual blocks per pathway.
    concat : bool
        Concatenate the pathways' outputs (True) or sum them (False); one pathway passes through.
    dropout : float
        Rate of the final Dropout3d (inactive in eval mode).

    Notes
    -----
    Input (B, 3, T, H, W) normalised clips (64 x 64 in the study); output (B, C, T, H/4, W/4)
    with C = 128 (``num_paths=2``, concatenated) or 64 (summed).
    """

    def __init__(
        self,
        num_paths: int = 2,
        num_res_blocks: int = 6,
        *,
        concat: bool = True,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if num_paths not in (1, 2) or num_res_blocks < 1:
            raise ValueError(
                f"VisualNet needs num_paths 1 or 2 and num_res_blocks >= 1, got {num_paths}, "
                f"{num_res_blocks}"
            )
        self.num_paths, self.num_res_blocks, self.concat = num_paths, num_res_blocks, concat
        channels = 256 // num_paths
        self.s1 = _Stem(channels)
        self.path1 = _Path(num_res_blocks, channels)
        if num_paths == 2:
            self.path2 = _Path(num_res_blocks, channels)
        self.dropout = nn.Dropout3d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.s1(x)
        outs = [self.path1(x0)] + ([self.path2(x0)] if self.num_paths == 2 else [])
        x = torch.cat(outs, dim=1) if self.concat else torch.stack(outs).sum(dim=0)
        return self.dropout(x)

    def recorded_modules(self) -> list[tuple[str, nn.Module]]:
        """The recorded layers: ``s1``, ``p<p>_res_block<i>`` (i from 1), ``out`` (dropout)."""
        layers: list[tuple[str, nn.Module]] = [("s1", self.s1)]
        for p in range(1, self.num_paths + 1):
            path = getattr(self, f"path{p}")
            layers += [
                (f"p{p}_res_block{i + 1}", b) for i, b in enumerate(path.res_blocks.values())
            ]
        return layers + [("out", self.dropout)]

    def __repr__(self) -> str:  # the full module tree is long; the constructor says it all
        return (
            f"VisualNet(num_paths={self.num_paths}, num_res_blocks={self.num_res_blocks}, "
            f"concat={self.concat})"
        )


def _shape(t: torch.Tensor | None) -> str:
    return "missing" if t is None else str(tuple(t.shape))


def _backbone_state(state: Mapping[str, Any], own: Mapping[str, Any]) -> tuple[str, dict]:
    """The prefix of :data:`VISUALNET_PREFIXES` that fits ``own`` best, and its stripped keys."""

    def stripped(prefix: str) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

    best = max(VISUALNET_PREFIXES, key=lambda p: len(stripped(p).keys() & own.keys()))
    if not stripped(best).keys() & own.keys():
        best = ""
    return best, stripped(best)


def _mismatches(ckpt: Mapping[str, Any], own: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys missing, of another shape, or extra (under ``s1.``/``path<p>.``), in model order."""
    bad = [k for k, v in own.items() if k not in ckpt or tuple(ckpt[k].shape) != tuple(v.shape)]
    parts = tuple({k.split(".", 1)[0] for k in own}) + ("path",)
    return bad + [k for k in ckpt if k not in own and k.startswith(parts)]


def resolve_visualnet_checkpoint(path: str | os.PathLike | None) -> Path:
    """The trained VisualNet checkpoint to read: ``path``, when it is a file.

    Raises
    ------
    WeightsNotFoundError
        No path, or not a file: names :data:`VISUALNET_SOURCE` and where to place the file.
    """
    if path and Path(path).is_file():
        return Path(path)
    place = Path(path or "resources/weights/visualnet/rat1.ckpt").resolve()
    looked = f"looked at {place}" if path else "no path given"
    raise WeightsNotFoundError(
        f"trained weights for video network 'visualnet' not found ({looked}). The study's "
        f"PyTorch-Lightning checkpoints are at {VISUALNET_SOURCE}; place the one you need at "
        f"{place} (a file, not a directory) and pass its path."
    )


def load_visualnet_checkpoint(
    model: VisualNet, path: str | os.PathLike, *, allow_unsafe_pickle: bool = False
) -> VisualNet:
    """Load a (PyTorch-Lightning) checkpoint's backbone weights into ``model``.

    Parameters
    ----------
    model : VisualNet
        Built with the checkpoint's ``num_paths`` and ``num_res_blocks``.
    path : path-like
        A ``.ckpt``/``.pth`` file: a dict with ``"state_dict"`` (Lightning) or a bare state
        dict. The backbone keys may carry a prefix of :data:`VISUALNET_PREFIXES` (and
        DataParallel ``module.``); keys outside the backbone (heads, ConvGRU) are ignored.
    allow_unsafe_pickle : bool
        See :func:`brainalign.networks.weights.read_checkpoint` (Lightning checkpoints holding
        Python objects in ``hyper_parameters`` need it).

    Returns
    -------
    VisualNet
        ``model`` with the weights loaded, in eval mode.

    Raises
    ------
    VisualNetCheckpointError
        Naming the first key that is missing, has another shape, or is extra, with both shapes,
        and how many keys differ.
    FileNotFoundError, brainalign.networks.weights.CorruptCheckpointError,
    brainalign.networks.weights.UnsafeCheckpointError
        From reading the file.
    """
    file = Path(path)
    check_listed_file(file)
    obj = read_checkpoint(file, allow_unsafe_pickle=allow_unsafe_pickle, network="visualnet")
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise VisualNetCheckpointError(f"{file}: expected a state dict of tensors")
    own = model.state_dict()
    prefix, ckpt = _backbone_state(strip_prefixes(obj), own)
    for key in own:  # checkpoints written before BatchNorm counted its batches
        if key.endswith("num_batches_tracked") and key not in ckpt:
            ckpt[key] = own[key]
    bad = _mismatches(ckpt, own)
    if bad:
        key = bad[0]
        hint = (
            ""
            if ckpt.keys() & own.keys()
            else f" No key fits under any prefix of {VISUALNET_PREFIXES}; the checkpoint's "
            f"first key is {next(iter(obj), None)!r}."
        )
        raise VisualNetCheckpointError(
            f"{file}: the checkpoint does not fit {model!r}: first mismatching key {key!r} "
            f"(after removing the prefix {prefix!r}): checkpoint {_shape(ckpt.get(key))}, "
            f"model {_shape(own.get(key))}; {len(bad)} keys differ. Build the VisualNet the "
            f"checkpoint was trained with.{hint}"
        )
    model.load_state_dict({k: ckpt[k] for k in own}, strict=True)
    return model.eval()
