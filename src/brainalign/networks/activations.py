"""Activation extraction: preprocessing and recording the ReLU outputs of a network."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from brainalign.networks.architectures import relu_modules
from brainalign.networks.device import deterministic_forward, pick_device

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "preprocess", "extract_activations"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(
    images: Sequence[np.ndarray] | np.ndarray, resize: int = 256, crop: int = 224
) -> torch.Tensor:
    """Resize, centre-crop, scale to [0, 1] and ImageNet-normalise, as the original study.

    Parameters
    ----------
    images : ndarray, shape (n_images, height, width, 3), uint8, or a sequence of such images
    resize : int
        Length of the shorter side after resizing (bilinear, antialiased).
    crop : int
        Side of the centre crop.

    Returns
    -------
    torch.Tensor, shape (n_images, 3, crop, crop), float32
    """
    from torchvision import transforms

    tf = transforms.Compose(
        [
            transforms.Resize(resize),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    out = []
    for k, img in enumerate(images):
        arr = np.asarray(img)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(
                f"image {k}: expected an (H, W, 3) uint8 RGB array, got "
                f"shape {arr.shape} dtype {arr.dtype}"
            )
        out.append(tf(Image.fromarray(arr, mode="RGB")))
    return torch.stack(out)


def extract_activations(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    conv_pooling: str = "mean",
    batch_size: int = 16,
    device: str | torch.device = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Record the outputs of every ReLU in ``model.features`` and ``model.classifier``.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode (dropout off, BatchNorm uses running statistics).
    inputs : torch.Tensor, shape (n_images, 3, H, W)
        Preprocessed images (see :func:`preprocess`).
    conv_pooling : {"mean", "none"}
        ``"mean"`` averages conv maps over space, one value per channel, as the original code
        did before building RDMs; ``"none"`` keeps the flattened (C·H·W) maps.
    batch_size : int
        Images per forward pass. Results do not depend on it beyond float rounding.
        For a given batch size they are bit-identical between runs, processes and machine
        loads (one intra-op thread, deterministic kernels: :func:`deterministic_forward`).
    device : str or torch.device
        ``"auto"`` uses a GPU when one is there.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.

    Returns
    -------
    dict of str to ndarray
        Layer name → array of shape (n_images, n_features), float32, in network order.
    """
    if conv_pooling not in ("mean", "none"):
        raise ValueError(f"conv_pooling must be 'mean' or 'none', got {conv_pooling!r}")
    dev = pick_device(device) if isinstance(device, str) else device
    model = model.to(dev).eval()
    layers = relu_modules(model)
    store: dict[str, list[np.ndarray]] = {name: [] for name, _ in layers}
    handles = []

    def make_hook(name: str):
        def hook(_module, _inp, out):
            out = out.detach()
            if out.ndim == 4 and conv_pooling == "mean":
                out = out.mean(dim=(2, 3))
            store[name].append(out.reshape(out.shape[0], -1).float().cpu().numpy().copy())

        return hook

    for name, module in layers:
        handles.append(module.register_forward_hook(make_hook(name)))
    try:
        n = inputs.shape[0]
        with torch.no_grad(), deterministic_forward():
            for start in range(0, n, batch_size):
                model(inputs[start : start + batch_size].to(dev))
                if progress is not None:
                    progress(min(start + batch_size, n), n)
    finally:
        for h in handles:
            h.remove()
    return {name: np.concatenate(chunks, axis=0) for name, chunks in store.items()}
