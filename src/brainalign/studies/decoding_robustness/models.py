"""The decoding-robustness models: the fMRI decoder, the frozen-backbone image classifier, and
image preprocessing and augmentation as in the original (theairbend3r/decoding-thoughts).

``FmriDecoder``
    The original's three-layer fMRI network: [Linear(n_voxels -> 512) + BatchNorm1d + ReLU +
    Dropout(0.6)] -> [Linear(512 -> 512) + BN + ReLU + Dropout(0.6)] -> ``fc1``
    [Linear(512 -> 100) + BN + ReLU + Dropout(0.6)] -> ``fc2`` Linear(100 -> n_classes).
``HeadClassifier``
    A frozen backbone (``brainalign.networks.backbones``) followed by a trainable head
    ``fc1`` Linear(in_dim -> 100) -> ``fc2`` Linear(100 -> n_classes), without nonlinearity.

Module names follow the original (``feature_extractor``, ``fc1``, ``fc2``), so its state dicts
load by key. The latent embedding of an item is the output of ``fc1`` (100-d).

Images are greyscale uint8 arrays (n, H, W). They become three identical channels normalised
as albumentations' ``Normalize(mean=0.4599, std=0.2172, max_pixel_value=255)``. Training
images may first be augmented as the original's albumentations 1.0.3 pipeline did:
``HorizontalFlip(p=0.1)`` then ``ShiftScaleRotate(0.05, 0.05, 0.05, p=0.1)`` (bilinear,
border reflect-101, result rounded to the uint8 grid), here in torch from a seeded generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainalign.networks.device import deterministic_forward, pick_device

__all__ = [
    "BN_MODES",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "LATENT_DIM",
    "DROPOUT",
    "Augmentation",
    "FmriDecoder",
    "HeadClassifier",
    "uint8_images",
    "image_tensor",
    "normalise_images",
    "preprocess_images",
    "shift_scale_rotate",
    "augment_images",
    "features_tensor",
    "backbone_features",
]

#: Normalisation of the Kay images (albumentations ``Normalize``, max pixel value 255).
IMAGE_MEAN = 0.4599
IMAGE_STD = 0.2172
#: Size of the latent embedding (output of ``fc1``).
LATENT_DIM = 100
#: Dropout probability of every block of the fMRI decoder.
DROPOUT = 0.6
#: Backbone BatchNorm handling while the head trains: ``"corrected"`` keeps the frozen
#: backbone in eval mode; ``"faithful"`` puts it in train mode as the original did (BatchNorm
#: normalises with batch statistics and updates its running statistics; dropout is active).
BN_MODES = ("corrected", "faithful")


def _block(f_in: int, f_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(f_in, f_out), nn.BatchNorm1d(f_out), nn.ReLU(), nn.Dropout(DROPOUT)
    )


class FmriDecoder(nn.Module):
    """The original's fMRI decoder (``FMRIClassifier``).

    Parameters
    ----------
    n_voxels : int
        Input size (voxels).
    n_classes : int
        Output size.

    Notes
    -----
    ``forward``: (n, n_voxels) float -> (n, n_classes) logits. ``embed``: (n, n_voxels) ->
    (n, 100), the output of ``fc1`` (after BatchNorm and ReLU; call in eval mode, where the
    dropout is off and BatchNorm uses its running statistics).
    """

    def __init__(self, n_voxels: int, n_classes: int = 3) -> None:
        super().__init__()
        self.feature_extractor = nn.Sequential(_block(n_voxels, 512), _block(512, 512))
        self.fc1 = _block(512, LATENT_DIM)
        self.fc2 = nn.Linear(LATENT_DIM, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The latent embedding, (n, n_voxels) -> (n, 100)."""
        return self.fc1(self.feature_extractor(x))


class HeadClassifier(nn.Module):
    """A frozen backbone with a trainable two-layer linear head (``StimulusClassifier``).

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps (n, 3, H, W) preprocessed images to (n, in_dim); its parameters are frozen
        (``requires_grad=False``) in place.
    in_dim : int
        Output size of the backbone.
    n_classes : int
        Output size.
    bn_mode : {"corrected", "faithful"}
        ``"corrected"``: ``train()`` leaves the backbone in eval mode (its BatchNorm running
        statistics stay fixed, its dropout off). ``"faithful"``: ``train()`` reaches the
        backbone too, as in the original, so its frozen BatchNorm layers normalise with batch
        statistics and update their running statistics, and its dropout is active.

    Notes
    -----
    ``forward``: (n, 3, H, W) -> (n, n_classes). ``features``: (n, 3, H, W) -> (n, in_dim).
    ``head``: (n, in_dim) -> (n, n_classes). ``embed``: (n, 3, H, W) -> (n, 100), the output
    of ``fc1``; ``embed_features``: (n, in_dim) -> (n, 100).
    """

    def __init__(
        self, backbone: nn.Module, in_dim: int, n_classes: int = 3, *, bn_mode: str = "corrected"
    ) -> None:
        super().__init__()
        if bn_mode not in BN_MODES:
            raise ValueError(f"bn_mode must be one of {list(BN_MODES)}, got {bn_mode!r}")
        self.bn_mode = bn_mode
        self.feature_extractor = backbone
        for param in self.feature_extractor.parameters():
            param.requires_grad = False
        self.fc1 = nn.Linear(in_dim, LATENT_DIM)
        self.fc2 = nn.Linear(LATENT_DIM, n_classes)

    def train(self, mode: bool = True) -> HeadClassifier:
        super().train(mode)
        if mode and self.bn_mode == "corrected":
            self.feature_extractor.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone output, (n, 3, H, W) -> (n, in_dim)."""
        return self.feature_extractor(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from backbone features, (n, in_dim) -> (n, n_classes)."""
        return self.fc2(self.fc1(features))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        """The latent embedding from backbone features, (n, in_dim) -> (n, 100)."""
        return self.fc1(features)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The latent embedding, (n, 3, H, W) -> (n, 100)."""
        return self.fc1(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def uint8_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Greyscale uint8 images as a tensor (no copy where possible), checked.

    Parameters
    ----------
    images : ndarray or Tensor, shape (n, H, W), uint8

    Returns
    -------
    torch.Tensor, shape (n, H, W), uint8
    """
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 3:
        raise ValueError(
            f"images must be greyscale uint8 of shape (n, H, W), got dtype {x.dtype} and "
            f"shape {tuple(x.shape)}"
        )
    return x


def image_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Greyscale uint8 images (n, H, W) as a float32 tensor (n, 1, H, W) on the 0-255 scale."""
    return uint8_images(images).unsqueeze(1).to(torch.float32)


def normalise_images(x: torch.Tensor) -> torch.Tensor:
    """Normalise 0-255 greyscale images into three identical channels.

    ``(x - 255 * 0.4599) / (255 * 0.2172)``, as albumentations' ``Normalize``.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 1, H, W), float32, values 0-255

    Returns
    -------
    torch.Tensor, shape (n, 3, H, W), float32
    """
    # albumentations' float32 arithmetic: mean and std scaled by 255, then the reciprocal
    mean = np.float32(IMAGE_MEAN) * np.float32(255.0)
    inverse_std = np.reciprocal(np.float32(IMAGE_STD) * np.float32(255.0), dtype=np.float32)
    return ((x - float(mean)) * float(inverse_std)).expand(-1, 3, -1, -1).contiguous()


def preprocess_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Evaluation preprocessing: uint8 (n, H, W) -> normalised float32 (n, 3, H, W)."""
    return normalise_images(image_tensor(images))


@dataclass(frozen=True)
class Augmentation:
    """Training augmentation: a horizontal flip, then a small shift, scale and rotation.

    Attributes
    ----------
    flip_p : float
        Probability of ``HorizontalFlip``.
    affine_p : float
        Probability of ``ShiftScaleRotate``.
    shift_limit : float
        Shift drawn uniformly from +-limit, as a fraction of the image side, per axis.
    scale_limit : float
        Scale drawn uniformly from 1 +- limit.
    rotate_limit : float
        Rotation drawn uniformly from +-limit, in degrees (0.05 in the original: a
        negligible rotation, kept as it was).
    """

    flip_p: float = 0.1
    affine_p: float = 0.1
    shift_limit: float = 0.05
    scale_limit: float = 0.05
    rotate_limit: float = 0.05


def _inverse_grid(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid (align_corners=True convention) of cv2-style shift-scale-rotate warps.

    ``params``: (m, 4) float64 rows (angle in degrees, scale, dx, dy). The forward map is
    ``cv2.getRotationMatrix2D((W/2, H/2), angle, scale)`` plus (dx W, dy H); each output
    pixel samples the source at the inverse map of its own coordinates.
    """
    angle, scale, dx, dy = params.unbind(1)
    theta = angle * (math.pi / 180.0)
    a, b = scale * torch.cos(theta), scale * torch.sin(theta)
    cx, cy = width / 2.0, height / 2.0
    tx = (1 - a) * cx - b * cy + dx * width
    ty = b * cx + (1 - a) * cy + dy * height
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    u = xs[None] - tx[:, None, None]
    v = ys[None] - ty[:, None, None]
    det = (scale * scale)[:, None, None]
    sx = (a[:, None, None] * u - b[:, None, None] * v) / det
    sy = (b[:, None, None] * u + a[:, None, None] * v) / det
    gx = 2.0 * sx / (width - 1) - 1.0
    gy = 2.0 * sy / (height - 1) - 1.0
    return torch.stack([gx, gy], dim=-1)


def _draw(n: int, aug: Augmentation, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    u = torch.rand(n, 6, generator=generator, dtype=torch.float64)
    flip = u[:, 0] < aug.flip_p
    warp = u[:, 1] < aug.affine_p
    angle = (2 * u[:, 2] - 1) * aug.rotate_limit
    scale = 1 + (2 * u[:, 3] - 1) * aug.scale_limit
    dx = (2 * u[:, 4] - 1) * aug.shift_limit
    dy = (2 * u[:, 5] - 1) * aug.shift_limit
    return flip, warp, torch.stack([angle, scale, dx, dy], dim=1)


def shift_scale_rotate(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Warp images as albumentations 1.0.3's ``shift_scale_rotate`` (cv2.warpAffine).

    The forward map is ``cv2.getRotationMatrix2D((W/2, H/2), angle, scale)`` plus a shift of
    (dx W, dy H); bilinear interpolation, border reflect-101, result rounded to whole values
    in 0-255 as cv2 does for uint8 images (cv2's fixed-point interpolation may differ by a
    grey level).

    Parameters
    ----------
    x : torch.Tensor, shape (m, C, H, W), float, values 0-255; H, W >= 2
    params : torch.Tensor, shape (m, 4)
        Rows (angle in degrees, counter-clockwise; scale; dx; dy).

    Returns
    -------
    torch.Tensor, shape (m, C, H, W), dtype of ``x``
    """
    grid = _inverse_grid(params.double(), x.shape[-2], x.shape[-1]).to(x.device, x.dtype)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    return torch.round(warped).clamp_(0.0, 255.0)


def augment_images(
    x: torch.Tensor, generator: torch.Generator, aug: Augmentation | None = None
) -> torch.Tensor:
    """Randomly flip, then shift, scale and rotate training images (before normalisation).

    Six uniforms are drawn per image from ``generator`` (CPU) whatever the outcome, so the
    draws of one batch never depend on the previous batch's outcomes.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 1, H, W), float32, values 0-255
        From :func:`image_tensor`; H, W >= 2.
    generator : torch.Generator
        A seeded CPU generator.
    aug : Augmentation, optional
        Default: the original's settings.

    Returns
    -------
    torch.Tensor, shape (n, 1, H, W), float32
        A new tensor (see :func:`shift_scale_rotate` for the warp).
    """
    aug = aug or Augmentation()
    flip, warp, params = _draw(x.shape[0], aug, generator)
    flip, warp = flip.to(x.device), warp.to(x.device)
    out = x.clone()
    if flip.any():
        out[flip] = torch.flip(out[flip], dims=[-1])
    if warp.any():
        out[warp] = shift_scale_rotate(out[warp], params[warp.cpu()])
    return out


def features_tensor(
    backbone: nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Backbone outputs of greyscale images, in eval mode, without gradients.

    Parameters
    ----------
    backbone : torch.nn.Module
        On ``device``; put in eval mode.
    images : array, shape (n, H, W), uint8
    batch_size : int
        Images per forward pass (under ``deterministic_forward``); results agree across
        batch sizes to float rounding.
    device : torch.device or str

    Returns
    -------
    torch.Tensor, shape (n, out_dim), on ``device``
    """
    raw = uint8_images(images)
    backbone.eval()
    out = []
    with torch.no_grad(), deterministic_forward():
        for start in range(0, raw.shape[0], batch_size):
            x = preprocess_images(raw[start : start + batch_size])
            out.append(backbone(x.to(device)))
    return torch.cat(out)


def backbone_features(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Frozen-backbone features of images, to evaluate a head on (blurred copies, say).

    Parameters
    ----------
    model : HeadClassifier or torch.nn.Module
        A classifier (its ``feature_extractor`` is used) or a bare backbone; moved to
        ``device`` and left in eval mode.
    images : array, shape (n_items, H, W), uint8
    batch_size : int
    device : str

    Returns
    -------
    ndarray, shape (n_items, out_dim), float32
        For ``predict(..., from_features=True)`` in ``training``.
    """
    backbone = model.feature_extractor if isinstance(model, HeadClassifier) else model
    dev = pick_device(device)
    backbone.to(dev)
    return features_tensor(backbone, images, batch_size=batch_size, device=dev).cpu().numpy()
