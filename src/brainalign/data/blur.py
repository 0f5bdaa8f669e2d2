"""Image blur of stimulus sets: the decoding-thoughts robustness test, faithful and corrected.

The original study (theairbend3r/decoding-thoughts, ``src/ml/noise.py``) calls its blur a
"Gaussian blur", but applies ``albumentations.Blur(blur_limit=b, p=1)`` (albumentations 1.0.3):
a **box (mean) filter**, ``cv2.blur(img, (k, k))``, with a kernel size ``k`` drawn at random
for every image from the odd sizes allowed by ``b`` (:func:`albumentations_ksize_support`).

Faithful
    :func:`faithful_blur`: per image a drawn kernel size (numpy Generator from ``seed``; the
    set of possible sizes per level equals albumentations', the random stream does not equal
    Python's ``random``), then :func:`box_blur`, equal to ``cv2.blur`` including its rounding to
    uint8.
Corrected
    :func:`gaussian_blur`: a deterministic Gaussian filter whose width
    (:func:`matching_sigma`) matches the average box kernel of the level.

Images are ``(n_images, height, width)`` uint8 grey-scale arrays (the original's RGB images
have three identical channels, each blurred alike). Borders are ``BORDER_REFLECT_101``
(``cv2.BORDER_DEFAULT``; numpy's ``np.pad(mode="reflect")``; scipy.ndimage's ``mode="mirror"``):
``... c b | a b c ... | b a ...``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

__all__ = [
    "BLUR_MODES",
    "albumentations_blur_ksizes",
    "albumentations_ksize_support",
    "blur_levels",
    "box_blur",
    "box_kernel_sd",
    "faithful_blur",
    "gaussian_blur",
    "matching_sigma",
]

#: Modes of :func:`blur_levels`.
BLUR_MODES: tuple[str, ...] = ("faithful", "gaussian")

Seed = int | np.random.Generator


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def _check_images(images: ArrayLike) -> NDArray[np.uint8]:
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8 (0-255 grey levels), got dtype {a.dtype}; "
            "convert with np.clip(np.rint(x), 0, 255).astype(np.uint8)"
        )
    if a.ndim != 3:
        raise ValueError(
            f"images must be a stack (n_images, height, width), got ndim {a.ndim} (shape {a.shape})"
        )
    if min(a.shape[1:], default=0) < 1:
        raise ValueError(f"images must have a height and width >= 1, got shape {a.shape}")
    return a


def _check_ksize(ksize: int) -> int:
    if isinstance(ksize, bool) or not isinstance(ksize, int | np.integer):
        raise ValueError(f"ksize must be an odd positive int, got {ksize!r}")
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"ksize must be an odd positive int (1, 3, 5, ...), got {ksize}")
    return int(ksize)


def _check_sigma(sigma: float) -> float:
    try:
        s = float(sigma)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sigma must be a non-negative number, got {sigma!r}") from exc
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"sigma must be a finite non-negative number, got {sigma!r}")
    return s


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------------------------
# Box blur (cv2.blur)
# --------------------------------------------------------------------------------------------
def box_blur(images: ArrayLike, ksize: int) -> NDArray[np.uint8]:
    """Mean filter of a ``ksize`` x ``ksize`` window, equal to ``cv2.blur(img, (k, k))``.

    The window sums are exact integers (a summed-area table of the reflect-101 padded images);
    the mean is rounded to the nearest integer as OpenCV does (``(2 s + k²) // (2 k²)``; with
    an odd ``k`` the mean is never exactly halfway between two integers, so the tie rule
    does not matter).

    Parameters
    ----------
    images : ndarray, shape (n_images, height, width), uint8
    ksize : int
        Odd kernel size; 1 is the identity.  Windows larger than the image are reflected
        repeatedly, as OpenCV does.

    Returns
    -------
    ndarray, shape (n_images, height, width), uint8

    Raises
    ------
    ValueError
        For non-uint8 images, a wrong ndim, or an even / non-positive ``ksize``.
    """
    img = _check_images(images)
    k = _check_ksize(ksize)
    if k == 1:
        return img.copy()
    r = (k - 1) // 2
    padded = np.pad(img.astype(np.int64), ((0, 0), (r, r), (r, r)), mode="reflect")
    n, h, w = img.shape
    sat = np.zeros((n, h + 2 * r + 1, w + 2 * r + 1), dtype=np.int64)
    np.cumsum(np.cumsum(padded, axis=1), axis=2, out=sat[:, 1:, 1:])
    sums = sat[:, k : k + h, k : k + w] - sat[:, :h, k : k + w]
    sums -= sat[:, k : k + h, :w] - sat[:, :h, :w]
    return ((2 * sums + k * k) // (2 * k * k)).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# albumentations 1.0.3 kernel sizes
# --------------------------------------------------------------------------------------------
def albumentations_ksize_support(blur_limit: int) -> tuple[int, ...]:
    """The kernel sizes ``A.Blur(blur_limit=b)`` can draw (albumentations 1.0.3).

    ``Blur.__init__`` sets ``self.blur_limit = to_tuple(blur_limit, 3)``, i.e. ``(3, b)`` if
    ``3 < b`` else ``(b, 3)``; ``Blur.get_params`` draws
    ``random.choice(np.arange(lo, hi + 1, 2))``.  Hence ``b = 1`` gives {1, 3}, ``b = 3`` and
    ``b = 4`` give {3}, ``b = 8`` gives {3, 5, 7}, ``b = 16`` gives {3, 5, ..., 15}.

    Parameters
    ----------
    blur_limit : int
        ``b``; 1 or at least 3 (``b = 2`` or ``b <= 0`` make albumentations draw even or
        non-positive sizes, which ``cv2.blur`` does not treat as a centred mean filter).

    Returns
    -------
    tuple of int
        The possible sizes, ascending.

    Raises
    ------
    ValueError
        Naming ``blur_limit`` if it is not an int, or draws even or non-positive sizes.
    """
    if isinstance(blur_limit, bool) or not isinstance(blur_limit, int | np.integer):
        raise ValueError(f"blur_limit must be an int (1 or >= 3), got {blur_limit!r}")
    b = int(blur_limit)
    lo, hi = (3, b) if 3 < b else (b, 3)
    sizes = tuple(int(k) for k in np.arange(lo, hi + 1, 2))
    if any(k < 1 or k % 2 == 0 for k in sizes):
        raise ValueError(
            f"blur_limit={blur_limit} makes albumentations draw kernel sizes {list(sizes)}, "
            "not all odd and positive; use 1 or a value >= 3"
        )
    return sizes


def albumentations_blur_ksizes(blur_limit: int, n: int, seed: Seed = 0) -> NDArray[np.int64]:
    """Kernel sizes for ``n`` images, drawn uniformly from :func:`albumentations_ksize_support`.

    Parameters
    ----------
    blur_limit : int
        The level ``b``.
    n : int
        Number of images (>= 0).
    seed : int or numpy.random.Generator
        ``np.random.default_rng(seed)``; a Generator is advanced in place.

    Returns
    -------
    ndarray, shape (n,), int64
    """
    sizes = np.asarray(albumentations_ksize_support(blur_limit), dtype=np.int64)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return _rng(seed).choice(sizes, size=int(n))


def faithful_blur(images: ArrayLike, blur_limit: int, seed: Seed = 0) -> NDArray[np.uint8]:
    """The original's ``A.Blur(blur_limit=b, p=1)``: per image a random box-kernel size.

    Parameters
    ----------
    images : ndarray, shape (n_images, height, width), uint8
    blur_limit : int
        The level ``b`` (1 or >= 3).
    seed : int or numpy.random.Generator
        Seed of the kernel-size draws (:func:`albumentations_blur_ksizes`).

    Returns
    -------
    ndarray, shape (n_images, height, width), uint8
        Image ``i`` is ``box_blur(images[i:i+1], ksizes[i])``.
    """
    img = _check_images(images)
    ksizes = albumentations_blur_ksizes(blur_limit, img.shape[0], seed)
    out = np.empty_like(img)
    for k in np.unique(ksizes):
        sel = ksizes == k
        out[sel] = box_blur(img[sel], int(k))
    return out


# --------------------------------------------------------------------------------------------
# Gaussian blur (corrected)
# --------------------------------------------------------------------------------------------
def box_kernel_sd(ksize: int) -> float:
    """Standard deviation per axis of a ``ksize`` box kernel: ``sqrt((k² - 1) / 12)``."""
    k = _check_ksize(ksize)
    return math.sqrt((k * k - 1) / 12.0)


def matching_sigma(blur_limit: int) -> float:
    """Gaussian width matching the faithful level ``blur_limit``.

    A box of ``k`` pixels is the discrete uniform distribution on ``k`` consecutive integers,
    with standard deviation ``sqrt((k² - 1) / 12)`` per axis.  The faithful level draws each
    of its possible sizes (:func:`albumentations_ksize_support`) with equal probability, so the
    matching Gaussian takes the **mean of those standard deviations** (the expected kernel
    width of the level): ``b = 1`` -> 0.408 (sizes 1 and 3), ``b = 4`` -> 0.816 (size 3),
    ``b = 16`` -> mean over 3, 5, ..., 15 = 2.58.

    Parameters
    ----------
    blur_limit : int
        The level ``b`` (1 or >= 3).

    Returns
    -------
    float
        ``sigma`` in pixels for :func:`gaussian_blur`.
    """
    sizes = albumentations_ksize_support(blur_limit)
    return float(np.mean([box_kernel_sd(k) for k in sizes]))


def gaussian_blur(images: ArrayLike, sigma: float) -> NDArray[np.uint8]:
    """Deterministic Gaussian blur (the corrected variant of the original's random box blur).

    ``scipy.ndimage.gaussian_filter`` in float64 over the two image axes (``mode="mirror"``,
    i.e. reflect-101 borders as ``cv2.blur``; kernel truncated at 4 sigma), rounded to the
    nearest integer and clipped to 0-255.

    Parameters
    ----------
    images : ndarray, shape (n_images, height, width), uint8
    sigma : float
        Standard deviation in pixels, >= 0; 0 is the identity.

    Returns
    -------
    ndarray, shape (n_images, height, width), uint8

    Raises
    ------
    ValueError
        For non-uint8 images, a wrong ndim, or a negative or non-finite ``sigma``.
    """
    img = _check_images(images)
    s = _check_sigma(sigma)
    if s == 0.0:
        return img.copy()
    out = ndimage.gaussian_filter(img.astype(np.float64), sigma=(0.0, s, s), mode="mirror")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def blur_levels(
    images: ArrayLike, levels: Iterable[int], mode: str = "faithful", seed: int = 0
) -> dict[int, NDArray[np.uint8]]:
    """Blur a stimulus set at every level.

    Parameters
    ----------
    images : ndarray, shape (n_images, height, width), uint8
    levels : iterable of int
        ``blur_limit`` values ``b`` (the original: 1, 4, 8, 12, 16).
    mode : {"faithful", "gaussian"}
        ``"faithful"``: :func:`faithful_blur`, its kernel sizes drawn from
        ``np.random.default_rng([seed, b])`` (one independent stream per level, so a level's
        images do not depend on which other levels are computed); ``"gaussian"``:
        :func:`gaussian_blur` with ``sigma = matching_sigma(b)`` (``seed`` unused).
    seed : int
        Non-negative.

    Returns
    -------
    dict
        ``{b: blurred images (n_images, height, width) uint8}`` in the order of ``levels``.
    """
    if mode not in BLUR_MODES:
        raise ValueError(f"unknown blur mode {mode!r}; expected one of {list(BLUR_MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    img = _check_images(images)
    out: dict[int, NDArray[np.uint8]] = {}
    for b in levels:
        albumentations_ksize_support(b)  # validates the level
        if mode == "faithful":
            out[int(b)] = faithful_blur(img, b, np.random.default_rng([int(seed), int(b)]))
        else:
            out[int(b)] = gaussian_blur(img, matching_sigma(b))
    return out
