"""An embedded labelled training set in ImageNet's folder layout, for training networks offline.

The network-vs-IT study's trained conditions need networks trained on labelled images; without
ImageNet (no download here) the default run trains on this set instead: the six categories of
the simulated study (human/animal bodies and faces, natural and artificial objects), drawn by
the same makers from images bundled in scikit-image and procedural shapes, but with another
seed, so no picture is one of the study's 92 test images (checked: any training image whose
pixels correlate above ``max_r`` with a test image is dropped and redrawn).

Layout (what ``torchvision.datasets.ImageFolder`` and a real ImageNet copy share)::

    <root>/train/<category>/<nnnn>.png
    <root>/val/<category>/<nnnn>.png

with categories as folder names (spaces replaced by underscores).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from brainalign.data.synthetic_stimuli import make_category_images
from brainalign.io.files import atomic_path

__all__ = [
    "category_folder",
    "write_training_set",
    "max_test_correlation",
    "image_folder_splits",
]


def category_folder(category: str) -> str:
    """Folder name of a category (``"human body"`` → ``"human_body"``)."""
    return category.replace(" ", "_")


def max_test_correlation(images: np.ndarray, test_images: np.ndarray) -> np.ndarray:
    """Largest pixel correlation of each image with any test image.

    Parameters
    ----------
    images : (N, H, W, 3) uint8
    test_images : (T, H, W, 3) uint8

    Returns
    -------
    (N,) float64
    """

    def unit(a: np.ndarray) -> np.ndarray:
        flat = a.reshape(len(a), -1).astype(np.float64)
        flat -= flat.mean(axis=1, keepdims=True)
        return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)

    return (unit(images) @ unit(test_images).T).max(axis=1)


def write_training_set(
    root: str | os.PathLike,
    *,
    train_per_category: int,
    val_per_category: int,
    seed: int,
    test_images: np.ndarray | None = None,
    max_r: float = 0.99,
) -> dict[str, int]:
    """Write the labelled set (PNG, ImageNet layout) and return the image count per split.

    Parameters
    ----------
    root : path-like
    train_per_category, val_per_category : int
    seed : int
    test_images : (T, 175, 175, 3) uint8, optional
        The study's test images: training images too close to one are redrawn.
    max_r : float
        Largest allowed pixel correlation with a test image.

    Raises
    ------
    ValueError
        On non-positive counts, or when no distinct image can be drawn.
    """
    if train_per_category < 1 or val_per_category < 1:
        raise ValueError(
            f"train_per_category ({train_per_category}) and val_per_category "
            f"({val_per_category}) must be >= 1"
        )
    per = train_per_category + val_per_category
    images, cats = make_category_images(per, seed)
    if test_images is not None:
        for attempt in range(1, 11):
            close = np.flatnonzero(max_test_correlation(images, test_images) > max_r)
            if close.size == 0:
                break
            extra, _ = make_category_images(per, seed + attempt, start=per * attempt)
            images[close] = extra[close]  # same category: extra is in the same block order
        else:
            raise ValueError(
                f"{close.size} training images stay within r > {max_r} of a test image"
            )
    out = Path(root)
    counts = {"train": 0, "val": 0}
    for i, (img, cat) in enumerate(zip(images, cats, strict=True)):
        split = "train" if i % per < train_per_category else "val"
        folder = out / split / category_folder(cat)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / f"{i:04d}.png") as tmp:
            Image.fromarray(img).save(tmp, format="PNG")
        counts[split] += 1
    return counts


def image_folder_splits(root: str | os.PathLike, size: int = 224, crop_scale: float = 0.08):
    """The ``train`` and ``val`` splits of an ImageNet-layout folder, as torchvision datasets.

    Parameters
    ----------
    root : path-like
        Holds ``train/<class>/*`` and ``val/<class>/*`` (the same class folders).
    size : int
        Side of the network input.
    crop_scale : float
        Smallest area fraction of the random-resized training crops.

    Returns
    -------
    train : ImageFolder
        Random-resized crops to ``size`` and horizontal flips (torch's global RNG), normalised.
    val : ImageFolder
        Resize to ``size * 256 / 224``, centre crop ``size``, normalised.
    plain : ImageFolder
        The training images with ``val``'s transform (DeepCluster's clustering input).

    Raises
    ------
    FileNotFoundError
        A split folder is missing or holds no images.
    ValueError
        The two splits have different classes.
    """
    from torchvision import datasets, transforms

    from brainalign.networks.activations import IMAGENET_MEAN, IMAGENET_STD

    base = Path(root)
    norm = [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    augment = transforms.Compose(
        [
            transforms.RandomResizedCrop(size, scale=(crop_scale, 1.0)),
            transforms.RandomHorizontalFlip(),
            *norm,
        ]
    )
    centre = transforms.Compose(
        [transforms.Resize(size * 256 // 224), transforms.CenterCrop(size), *norm]
    )
    for split in ("train", "val"):
        if not (base / split).is_dir():
            raise FileNotFoundError(
                f"training images: {(base / split).resolve()} is missing; expected the "
                "ImageNet layout <root>/train/<class>/*.JPEG and <root>/val/<class>/*.JPEG"
            )
    try:
        train = datasets.ImageFolder(str(base / "train"), augment)
        val = datasets.ImageFolder(str(base / "val"), centre)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"training images under {base.resolve()}: {exc}") from None
    if train.classes != val.classes:
        only = sorted(set(train.classes) ^ set(val.classes))
        raise ValueError(
            f"training images under {base.resolve()}: train/ and val/ hold different class "
            f"folders (in one only: {only[:5]}{' …' if len(only) > 5 else ''})"
        )
    plain = datasets.ImageFolder(str(base / "train"), centre)
    return train, val, plain
