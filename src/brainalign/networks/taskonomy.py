"""Taskonomy ResNet-50 encoders (as packaged by ``visualpriors``) and their layer RDMs.

Architecture (``data-formats.md`` §5; module names match the released state dicts, so
``{task}_encoder-<sha256>.pth`` files load strictly):

* input ``(B, 3, 256, 256)`` in ``[-1, 1]``, explicitly zero-padded by 3 pixels;
* ``conv1`` 7×7 stride 2 (no padding) + ``bn1`` + ReLU, max-pool 3/2 with ``ceil_mode``;
* bottleneck stages ``layer1..layer4`` with ``[3, 4, 6, 3]`` blocks; the stride-2 downsampling sits
  in the **last** block of ``layer1`` and ``layer2`` (a 1×1 max-pool shortcut); ``layer3`` and
  ``layer4`` keep stride 1;
* ``compress1`` conv 3×3 (2048 -> 8) + ``compress_bn`` + ReLU, then ``GroupNorm(8, 8)`` without
  affine parameters: the representation ``(B, 8, 16, 16)``.

Layers used by Dwivedi et al. (2021): ``block4`` (output of ``layer4``, ``(B, 2048, 16, 16)``) and
``encoder_output``.  Model RDM = ``1 - Pearson r`` between flattened activations (the paper's RDMs
came precomputed; this metric is the documented default, see ``methods.md`` §2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

from brainalign.io.hashing import sha256_file

__all__ = [
    "LAYERS",
    "TASK_GROUPS",
    "TASK_LIST",
    "VISUALPRIORS_NAMES",
    "TaskonomyEncoder",
    "encoder_file_for_task",
    "extract_features",
    "feature_rdms",
    "load_encoder",
    "parse_encoder_filename",
    "preprocess",
    "task_group",
]

LAYERS = ("block4", "encoder_output")

#: the 19 "tasks" of the original code (``task_list_nogeometry``)
TASK_LIST: tuple[str, ...] = (
    "autoencoder", "class_1000", "class_places", "colorization", "curvature", "denoise", "edge2d",
    "edge3d", "inpainting_whole", "keypoint2d", "keypoint3d", "reshade", "rgb2depth", "rgb2mist",
    "rgb2sfnorm", "segment25d", "segment2d", "segmentsemantic", "random",
)  # fmt: skip

#: grouping of the paper (Fig. 3); ``random`` belongs to no group
TASK_GROUPS: dict[str, tuple[str, ...]] = {
    "2D": ("autoencoder", "colorization", "denoise", "edge2d", "inpainting_whole", "keypoint2d",
           "segment2d"),
    "3D": ("curvature", "edge3d", "reshade", "rgb2depth", "rgb2mist", "rgb2sfnorm", "segment25d",
           "keypoint3d"),
    "semantic": ("class_1000", "class_places", "segmentsemantic"),
}  # fmt: skip

#: original task name -> ``visualpriors`` weight-file task name
VISUALPRIORS_NAMES: dict[str, str] = {
    "autoencoder": "autoencoding", "class_1000": "class_object", "class_places": "class_scene",
    "colorization": "colorization", "curvature": "curvature", "denoise": "denoising",
    "edge2d": "edge_texture", "edge3d": "edge_occlusion", "inpainting_whole": "inpainting",
    "keypoint2d": "keypoints2d", "keypoint3d": "keypoints3d", "reshade": "reshading",
    "rgb2depth": "depth_zbuffer", "rgb2mist": "depth_euclidean", "rgb2sfnorm": "normal",
    "segment25d": "segment_unsup25d", "segment2d": "segment_unsup2d",
    "segmentsemantic": "segment_semantic",
}  # fmt: skip


def task_group(task: str, groups: Mapping[str, Sequence[str]] | None = None) -> str | None:
    """Group of a task (``None`` for ``random``); raises ValueError for an unknown task."""
    groups = TASK_GROUPS if groups is None else groups
    for g, tasks in groups.items():
        if task in tasks:
            return g
    if task == "random" or task in TASK_LIST:
        return None
    raise ValueError(f"unknown task {task!r}")


class Bottleneck(nn.Module):
    """ResNet bottleneck with the stride on the 3×3 convolution."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class TaskonomyEncoder(nn.Module):
    """Taskonomy ResNet-50 encoder; ``forward`` returns the ``(B, 8, 16, 16)`` representation."""

    def __init__(self, normalize_outputs: bool = True) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self.layer1 = self._make_layer(64, 3, stride=2)
        self.layer2 = self._make_layer(128, 4, stride=2)
        self.layer3 = self._make_layer(256, 6)
        self.layer4 = self._make_layer(512, 3)
        self.compress1 = nn.Conv2d(2048, 8, kernel_size=3, stride=1, padding=1, bias=False)
        self.compress_bn = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU(inplace=True)
        self.groupnorm = nn.GroupNorm(8, 8, affine=False)
        self.normalize_outputs = normalize_outputs
        self.eval()
        for p in self.parameters():
            p.requires_grad = False

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=1, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        layers = [Bottleneck(self.inplanes, planes, downsample=downsample)]
        self.inplanes = planes * 4
        for _ in range(1, blocks - 1):
            layers.append(Bottleneck(self.inplanes, planes))
        last_ds = nn.Sequential(nn.MaxPool2d(kernel_size=1, stride=stride)) if stride != 1 else None
        layers.append(Bottleneck(self.inplanes, planes, stride, last_ds))
        return nn.Sequential(*layers)

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"block4": (B, 2048, 16, 16), "encoder_output": (B, 8, 16, 16)}``."""
        x = F.pad(x, pad=(3, 3, 3, 3), mode="constant", value=0.0)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        block4 = self.layer4(x)
        out = self.relu1(self.compress_bn(self.compress1(block4)))
        if self.normalize_outputs:
            out = self.groupnorm(out)
        return {"block4": block4, "encoder_output": out}

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.forward_layers(x)["encoder_output"]


_FILE_RE = re.compile(r"^(?P<task>[A-Za-z0-9_]+?)_encoder-(?P<sha>[0-9a-f]{8,64})\.pth$")


def parse_encoder_filename(name: str) -> tuple[str, str]:
    """``'{task}_encoder-<sha256>.pth'`` -> ``(task, sha)``; ValueError if it does not match."""
    m = _FILE_RE.match(Path(name).name)
    if m is None:
        raise ValueError(f"not a Taskonomy encoder file name: {name!r}")
    return m.group("task"), m.group("sha")


def encoder_file_for_task(weights_dir: str | Path, task: str) -> Path:
    """The ``{visualpriors_task}_encoder-*.pth`` file of an original task name."""
    vp = VISUALPRIORS_NAMES.get(task, task)
    hits = []
    for p in sorted(Path(weights_dir).glob("*_encoder-*.pth")):
        t, _ = parse_encoder_filename(p.name)
        if t in (vp, task):
            hits.append(p)
    if len(hits) != 1:
        raise ValueError(
            f"task {task!r}: expected one '{vp}_encoder-<sha256>.pth' in {weights_dir}, "
            f"found {len(hits)}"
        )
    return hits[0]


def load_encoder(path: str | Path, *, verify_hash: bool = True) -> TaskonomyEncoder:
    """Encoder with the weights of ``{task}_encoder-<sha256>.pth`` (strict load, CPU, eval mode).

    The checkpoint is a dict with key ``state_dict`` (or the state dict itself).  With
    ``verify_hash`` the file's SHA-256 must start with the digest in its name (torch-hub rule).
    """
    p = Path(path)
    _, sha = parse_encoder_filename(p.name)
    if verify_hash:
        digest = sha256_file(p)
        if not digest.startswith(sha):
            raise ValueError(f"{p.name}: SHA-256 {digest[:16]}... does not match the file name")
    ckpt = torch.load(p, map_location="cpu", weights_only=True)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, Mapping):
        raise ValueError(f"{p.name}: no state dict inside")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = TaskonomyEncoder()
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def preprocess(images: Iterable[ArrayLike], size: int = 256) -> torch.Tensor:
    """uint8 RGB images ``(H, W, 3)`` -> ``(N, 3, size, size)`` float tensor in ``[-1, 1]``
    (bilinear resize)."""
    out = []
    for k, im in enumerate(images):
        a = np.asarray(im)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(f"image {k} must be (H, W, 3); got {a.shape}")
        t = torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1).float()
        if a.dtype == np.uint8:
            t = t / 255.0
        t = F.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        out.append(t * 2.0 - 1.0)
    if not out:
        raise ValueError("no images given")
    return torch.stack(out)


@torch.no_grad()
def extract_features(
    model: TaskonomyEncoder,
    x: torch.Tensor,
    layers: Sequence[str] = LAYERS,
    batch_size: int = 16,
) -> dict[str, np.ndarray]:
    """Flattened activations ``{layer: (N, D)}`` for inputs ``(N, 3, 256, 256)`` in [-1, 1]."""
    for layer in layers:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; use {LAYERS}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be (N, 3, H, W); got {tuple(x.shape)}")
    model.eval()
    chunks: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    for i in range(0, x.shape[0], int(batch_size)):
        outs = model.forward_layers(x[i : i + int(batch_size)])
        for layer in layers:
            chunks[layer].append(outs[layer].flatten(1).numpy().astype(np.float64))
    return {layer: np.concatenate(v) for layer, v in chunks.items()}


def feature_rdms(features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Condensed correlation-distance RDM of each layer's ``(N, D)`` features."""
    from scipy.spatial.distance import pdist

    out = {}
    for layer, f in features.items():
        f = np.asarray(f, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] < 3:
            raise ValueError(f"layer {layer!r}: features must be (N >= 3, D); got {f.shape}")
        out[layer] = pdist(f, "correlation")
    return out
