"""Tests for brainalign.data.blur against OpenCV, scipy.ndimage and albumentations 1.0.3."""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
import pytest
from scipy import ndimage

from brainalign.data.blur import (
    BLUR_MODES,
    albumentations_blur_ksizes,
    albumentations_ksize_support,
    blur_levels,
    box_blur,
    box_kernel_sd,
    faithful_blur,
    gaussian_blur,
    matching_sigma,
)

#: the original's levels (notebook 04) and more
LEVELS = (1, 3, 4, 5, 8, 12, 16)

#: The sizes ``A.Blur(blur_limit=b)`` draws, derived from albumentations 1.0.3:
#: ``albumentations/augmentations/transforms.py`` lines 1794-1802 (``Blur.__init__``:
#: ``self.blur_limit = to_tuple(blur_limit, 3)``; ``Blur.get_params``:
#: ``random.choice(np.arange(self.blur_limit[0], self.blur_limit[1] + 1, 2))``) and
#: ``albumentations/core/transforms_interface.py`` lines 32-36 (``to_tuple(param, low)`` for a
#: scalar: ``(low, param) if low < param else (param, low)``).
EXPECTED_SUPPORT = {
    1: (1, 3),
    3: (3,),
    4: (3,),
    5: (3, 5),
    8: (3, 5, 7),
    12: (3, 5, 7, 9, 11),
    16: (3, 5, 7, 9, 11, 13, 15),
}

SHAPES = [(128, 128), (20, 17), (9, 31), (5, 9), (3, 3), (1, 6), (7, 1)]
KSIZES = [1, 3, 5, 7, 9, 11, 13, 15, 17]


def _images(shape: tuple[int, int], n: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, *shape)).astype(np.uint8)
    imgs[0] = 255  # saturated
    if n > 1:
        imgs[1] = np.where(imgs[1] > 127, 255, 0)  # hard edges
    return imgs


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{h}x{w}" for h, w in SHAPES])
def test_box_blur_equals_cv2_blur(shape):
    imgs = _images(shape)
    for k in KSIZES:
        ours = box_blur(imgs, k)
        assert ours.dtype == np.uint8 and ours.shape == imgs.shape
        ref = np.stack([cv2.blur(im, (k, k)) for im in imgs])
        np.testing.assert_array_equal(ours, ref, err_msg=f"ksize={k}, shape={shape}")


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{h}x{w}" for h, w in SHAPES])
def test_box_blur_equals_uniform_filter_mirror(shape):
    imgs = _images(shape, seed=1)
    for k in KSIZES:
        mean = np.stack(
            [ndimage.uniform_filter(im.astype(np.float64), k, mode="mirror") for im in imgs]
        )
        ref = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(box_blur(imgs, k), ref, err_msg=f"ksize={k}")


def test_box_blur_k1_is_identity_and_copies():
    imgs = _images((10, 12))
    out = box_blur(imgs, 1)
    np.testing.assert_array_equal(out, imgs)
    assert out is not imgs


def test_box_blur_preserves_constant_images():
    imgs = np.full((2, 9, 11), 77, dtype=np.uint8)
    np.testing.assert_array_equal(box_blur(imgs, 7), imgs)


# --------------------------------------------------------------------------------------------
# albumentations kernel sizes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("b", LEVELS)
def test_ksize_support_derived_from_source(b):
    assert albumentations_ksize_support(b) == EXPECTED_SUPPORT[b]


@pytest.mark.parametrize("b", LEVELS)
def test_drawn_ksizes_cover_exactly_the_support(b):
    ks = albumentations_blur_ksizes(b, 4000, seed=3)
    assert ks.dtype == np.int64 and ks.shape == (4000,)
    assert tuple(np.unique(ks)) == EXPECTED_SUPPORT[b]
    # uniform over the support
    counts = np.bincount(ks)[list(EXPECTED_SUPPORT[b])]
    expected = 4000 / len(counts)
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))


@pytest.mark.parametrize("b", LEVELS)
def test_ksize_support_equals_albumentations_draws(b):
    A = pytest.importorskip("albumentations")
    if A.__version__ != "1.0.3":
        pytest.skip(f"oracle is albumentations 1.0.3, installed {A.__version__}")
    random.seed(b)
    t = A.Blur(blur_limit=b, p=1)
    drawn = {t.get_params()["ksize"] for _ in range(2000)}
    assert tuple(sorted(drawn)) == albumentations_ksize_support(b)


def test_box_blur_equals_albumentations_blur_apply():
    A = pytest.importorskip("albumentations")
    imgs = _images((24, 19), n=3, seed=5)
    for k in (1, 3, 5, 7, 15):
        ours = box_blur(imgs, k)
        for i, im in enumerate(imgs):
            rgb = np.repeat(im[:, :, None], 3, axis=2)  # the original's PIL RGB images
            ref = A.Blur(blur_limit=16, p=1).apply(rgb, ksize=k)
            for c in range(3):
                np.testing.assert_array_equal(ours[i], ref[:, :, c], err_msg=f"ksize={k}")


def test_faithful_blur_uses_the_drawn_sizes_per_image():
    imgs = _images((16, 13), n=12, seed=2)
    out = faithful_blur(imgs, 16, seed=11)
    ks = albumentations_blur_ksizes(16, 12, seed=11)
    for i, k in enumerate(ks):
        np.testing.assert_array_equal(out[i], cv2.blur(imgs[i], (int(k), int(k))))


def test_faithful_blur_is_seeded():
    imgs = _images((16, 13), n=30, seed=2)
    a = faithful_blur(imgs, 12, seed=4)
    np.testing.assert_array_equal(a, faithful_blur(imgs, 12, seed=4))
    np.testing.assert_array_equal(a, faithful_blur(imgs, 12, seed=np.random.default_rng(4)))
    assert not np.array_equal(a, faithful_blur(imgs, 12, seed=5))


# --------------------------------------------------------------------------------------------
# Gaussian (corrected)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(128, 128), (20, 17), (5, 9)])
@pytest.mark.parametrize("sigma", [0.3, 0.816, 1.5, 2.58, 6.0])
def test_gaussian_blur_equals_scipy_gaussian_filter_mirror(shape, sigma):
    imgs = _images(shape, seed=7)
    ref = np.stack(
        [ndimage.gaussian_filter(im.astype(np.float64), sigma, mode="mirror") for im in imgs]
    )
    ref = np.clip(np.rint(ref), 0, 255).astype(np.uint8)
    out = gaussian_blur(imgs, sigma)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, ref)


def test_gaussian_sigma_zero_is_identity():
    imgs = _images((10, 12))
    np.testing.assert_array_equal(gaussian_blur(imgs, 0.0), imgs)


def test_matching_sigma_is_mean_box_sd():
    sd3 = math.sqrt(8 / 12)
    assert box_kernel_sd(1) == 0.0
    assert box_kernel_sd(3) == pytest.approx(sd3)
    assert matching_sigma(1) == pytest.approx(sd3 / 2)  # sizes 1 and 3
    assert matching_sigma(4) == pytest.approx(sd3)  # size 3 only
    expected16 = np.mean([math.sqrt((k * k - 1) / 12) for k in range(3, 16, 2)])
    assert matching_sigma(16) == pytest.approx(expected16)
    sig = [matching_sigma(b) for b in (1, 4, 8, 12, 16)]
    assert all(x < y for x, y in zip(sig, sig[1:], strict=False))


def test_gaussian_sd_matches_box_sd_on_an_impulse():
    # the blurred impulse's spatial SD equals the box kernel's (k=7) for the matching width
    img = np.zeros((1, 61, 61), dtype=np.float64)
    img[0, 30, 30] = 1.0
    box = ndimage.uniform_filter(img[0], 7, mode="mirror")
    gauss = ndimage.gaussian_filter(img[0], box_kernel_sd(7), mode="mirror")
    x = np.arange(61) - 30
    for field in (box, gauss):
        marg = field.sum(axis=0)
        assert math.sqrt((marg * x**2).sum() / marg.sum()) == pytest.approx(
            box_kernel_sd(7), rel=1e-3
        )


# --------------------------------------------------------------------------------------------
# blur_levels
# --------------------------------------------------------------------------------------------
def test_blur_levels_modes():
    imgs = _images((20, 17), n=6, seed=9)
    levels = [1, 4, 8, 12, 16]
    faithful = blur_levels(imgs, levels, "faithful", seed=3)
    assert list(faithful) == levels
    # a level's images do not depend on the other levels requested
    np.testing.assert_array_equal(blur_levels(imgs, [8], "faithful", seed=3)[8], faithful[8])
    np.testing.assert_array_equal(
        faithful[8], faithful_blur(imgs, 8, np.random.default_rng([3, 8]))
    )
    np.testing.assert_array_equal(faithful[4], box_blur(imgs, 3))  # b=4 draws only k=3
    gauss = blur_levels(imgs, levels, "gaussian", seed=3)
    for b in levels:
        np.testing.assert_array_equal(gauss[b], gaussian_blur(imgs, matching_sigma(b)))
    assert set(BLUR_MODES) == {"faithful", "gaussian"}


# --------------------------------------------------------------------------------------------
# Bad input: one clear ValueError naming the value
# --------------------------------------------------------------------------------------------
def test_bad_input_raises_value_error_naming_the_value():
    imgs = _images((8, 8))
    with pytest.raises(ValueError, match="float64"):
        box_blur(imgs.astype(np.float64), 3)
    with pytest.raises(ValueError, match="float32"):
        gaussian_blur(imgs.astype(np.float32), 1.0)
    with pytest.raises(ValueError, match="got 4"):
        box_blur(imgs, 4)
    with pytest.raises(ValueError, match="got 0"):
        box_blur(imgs, 0)
    with pytest.raises(ValueError, match="-1.5"):
        gaussian_blur(imgs, -1.5)
    with pytest.raises(ValueError, match="nan"):
        gaussian_blur(imgs, float("nan"))
    with pytest.raises(ValueError, match="ndim 2"):
        box_blur(imgs[0], 3)
    with pytest.raises(ValueError, match="ndim 4"):
        faithful_blur(imgs[..., None], 8)
    with pytest.raises(ValueError, match="blur_limit=2"):
        albumentations_ksize_support(2)
    with pytest.raises(ValueError, match="blur_limit=0"):
        faithful_blur(imgs, 0)
    with pytest.raises(ValueError, match="'box'"):
        blur_levels(imgs, [1], "box")
    with pytest.raises(ValueError, match="-3"):
        blur_levels(imgs, [1], "faithful", seed=-3)
    with pytest.raises(ValueError, match="-1"):
        albumentations_blur_ksizes(4, -1)
