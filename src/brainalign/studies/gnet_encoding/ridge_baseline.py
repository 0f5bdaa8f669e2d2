"""AlexNet-fwRF baseline: ridge regression on AlexNet feature maps pooled by a Gaussian pRF.

Methods §4.3: λ ∈ logspace(3, 6, 9), Gaussian pRF grid ``model_space_pyramid`` with
σ ∈ [0.03, 0.4]. Per voxel, the pRF (x, y, σ) and λ are chosen by the squared error on a
holdout block of the training trials (the last ``holdout`` fraction, not random, as the
original's early-stopping split); the coefficients are then refit on all training trials at the
chosen λ (``himalaya.ridge.solve_ridge_cv_svd`` with one predefined split). Features are the
pooled maps z-scored over the training trials; the intercept is not penalised.

Coordinates: the feature map spans the aperture ``[-aperture/2, aperture/2]`` in both axes,
x to the right (columns), y upwards (row 0 is the top); pRF centres and σ are in the same
units (aperture = 1 is the image width).

Takes precomputed feature maps (a list of arrays (n_images, C, H, W)), so it needs no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from himalaya.ridge import solve_ridge_cv_svd
from numpy.typing import ArrayLike

__all__ = [
    "LAMBDAS",
    "FwrfRidge",
    "fit_fwrf_ridge",
    "gaussian_field",
    "pool_features",
    "predict_fwrf_ridge",
    "prf_grid",
]

LAMBDAS = np.logspace(3, 6, 9)


def prf_grid(
    sigmas: ArrayLike | None = None,
    min_spacing: float = 1.4,
    aperture: float = 1.1,
    sigma_range: tuple[float, float] = (0.03, 0.4),
    n_sigmas: int = 8,
) -> np.ndarray:
    """Gaussian pRF candidates as the fwRF code's ``model_space_pyramid``.

    For each σ a square grid of ``ceil(aperture / (σ · min_spacing))`` centres per axis spans
    ``[-aperture/2, aperture/2]`` (finer grids for smaller pRFs).

    Parameters
    ----------
    sigmas : array_like, optional
        The σ values; default ``n_sigmas`` log-spaced values over ``sigma_range``.
    min_spacing : float
        Grid spacing in units of σ.
    aperture : float
        Extent of the centre grid (1.1 = 10 % beyond the image).
    sigma_range : (float, float)
        Smallest and largest σ when ``sigmas`` is None (§4.3: 0.03, 0.4).
    n_sigmas : int
        Number of σ values when ``sigmas`` is None.

    Returns
    -------
    ndarray (n_models, 3)
        Columns x, y, σ.
    """
    if sigmas is None:
        sigmas = np.geomspace(sigma_range[0], sigma_range[1], n_sigmas)
    rows = []
    for s in np.asarray(sigmas, dtype=np.float64).ravel():
        n = int(np.ceil(aperture / (s * min_spacing)))
        axis = np.linspace(-aperture / 2, aperture / 2, n)
        xx, yy = np.meshgrid(axis, axis)
        rows.append(np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, s)]))
    return np.concatenate(rows)


def gaussian_field(
    x: float, y: float, sigma: float, shape: tuple[int, int], aperture: float = 1.0
) -> np.ndarray:
    """Gaussian pooling field on a feature-map grid, mass ``dx·dy / (2πσ²)`` per pixel.

    Parameters
    ----------
    x, y, sigma : float
        Centre and width in aperture units.
    shape : (H, W)
        Feature-map size.
    aperture : float
        Width of the field of view covered by the map.

    Returns
    -------
    ndarray (H, W)
        Sums to about 1 for a pRF well inside the map.
    """
    h, w = shape
    xs = -aperture / 2 + (np.arange(w) + 0.5) * aperture / w
    ys = aperture / 2 - (np.arange(h) + 0.5) * aperture / h
    xx, yy = np.meshgrid(xs, ys)
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return g * (aperture / w) * (aperture / h) / (2 * np.pi * sigma**2)


def pool_features(fmaps: Sequence[np.ndarray], prf: ArrayLike, aperture: float = 1.0) -> np.ndarray:
    """Pool every channel of every feature map by one Gaussian pRF.

    Parameters
    ----------
    fmaps : sequence of arrays (n_images, C_k, H_k, W_k)
        E.g. AlexNet's conv1-conv5 maps; each is pooled at its own resolution.
    prf : array_like (3,)
        x, y, σ.
    aperture : float
        See :func:`gaussian_field`.

    Returns
    -------
    ndarray (n_images, Σ C_k), float64
    """
    x, y, s = (float(v) for v in np.asarray(prf).ravel())
    out = []
    for fm in fmaps:
        fm = np.asarray(fm)
        if fm.ndim != 4:
            raise ValueError(f"feature maps must be (n, C, H, W), got {fm.shape}")
        g = gaussian_field(x, y, s, fm.shape[2:], aperture)
        flat = fm.reshape(fm.shape[0], fm.shape[1], -1)
        if flat.dtype not in (np.float32, np.float64):
            flat = flat.astype(np.float64)
        # BLAS matrix-vector product per image, in the maps' precision (float32 maps of real
        # data stay float32: tens of GB otherwise), pooled values in float64
        out.append((flat @ g.ravel().astype(flat.dtype)).astype(np.float64))
    return np.concatenate(out, axis=1)


def _contiguous(fmaps: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The maps as contiguous float arrays once, not once per pRF candidate."""
    return [
        np.ascontiguousarray(fm, dtype=fm.dtype if fm.dtype == np.float32 else np.float64)
        for fm in fmaps
    ]


def _pooled_rows(fmaps, prf, aperture: float, rows: np.ndarray | None) -> np.ndarray:
    pooled = pool_features(fmaps, prf, aperture)
    return pooled if rows is None else pooled[rows]


def _zscore(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = feats.mean(axis=0)
    std = feats.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (feats - mean) / std, mean, std


@dataclass(frozen=True)
class FwrfRidge:
    """A fitted fwRF ridge model, one pRF and λ per voxel.

    Attributes
    ----------
    prfs : ndarray (n_models, 3)
        The candidate grid (x, y, σ).
    prf_index : ndarray (v,)
        Chosen row of ``prfs`` per voxel.
    lambdas : ndarray (v,)
        Chosen λ per voxel.
    holdout_score : ndarray (v,)
        Negative mean squared holdout error at the chosen pRF and λ.
    coefs : ndarray (n_features, v)
        Weights on the z-scored pooled features, refit on all training trials.
    intercept : ndarray (v,)
    feature_mean, feature_std : ndarray (n_features, v)
        The z-scoring of each voxel's pooled features (training trials).
    aperture : float
    """

    prfs: np.ndarray
    prf_index: np.ndarray
    lambdas: np.ndarray
    holdout_score: np.ndarray
    coefs: np.ndarray
    intercept: np.ndarray
    feature_mean: np.ndarray
    feature_std: np.ndarray
    aperture: float


def _holdout_split(n: int, holdout: float | ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    if np.isscalar(holdout):
        n_hold = int(round(float(holdout) * n))
        if not 0 < n_hold < n:
            raise ValueError(f"holdout {holdout} leaves no training or no holdout trials")
        mask = np.zeros(n, dtype=bool)
        mask[n - n_hold :] = True
    else:
        mask = np.zeros(n, dtype=bool)
        mask[np.asarray(holdout)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def fit_fwrf_ridge(
    fmaps: Sequence[np.ndarray],
    data: ArrayLike,
    lambdas: ArrayLike = LAMBDAS,
    prfs: ArrayLike | None = None,
    holdout: float | ArrayLike = 0.1,
    aperture: float = 1.0,
    rows: ArrayLike | None = None,
) -> FwrfRidge:
    """Fit the ridge fwRF: per voxel the best pRF and λ on a holdout, weights refit on all.

    Parameters
    ----------
    fmaps : sequence of arrays (n_images, C_k, H_k, W_k)
        Precomputed feature maps (float32 maps are pooled in float32).
    data : array_like (n_samples, n_voxels)
        Responses, row-aligned with ``fmaps``, or with ``fmaps[k][rows]``.
    lambdas : array_like
        Ridge penalties (§4.3: logspace(3, 6, 9)).
    prfs : array_like (n_models, 3), optional
        pRF candidates; default :func:`prf_grid`.
    holdout : float or index array
        Fraction of trials held out at the end, or the indices of the holdout trials.
    aperture : float
        See :func:`gaussian_field`.
    rows : array_like (n_samples,), optional
        Row of the maps for each sample (trials showing an image more than once): the maps are
        pooled once per image, then indexed.

    Returns
    -------
    FwrfRidge
    """
    y = np.asarray(data, dtype=np.float64)
    fmaps = _contiguous(fmaps)
    rows = None if rows is None else np.asarray(rows)
    grid = prf_grid() if prfs is None else np.atleast_2d(np.asarray(prfs, dtype=np.float64))
    lam = np.asarray(lambdas, dtype=np.float64).ravel()
    train, hold = _holdout_split(y.shape[0], holdout)
    n_vox = y.shape[1]
    best = np.full(n_vox, -np.inf)
    index = np.zeros(n_vox, dtype=np.int64)
    chosen = np.zeros(n_vox)
    coefs = intercept = f_mean = f_std = None
    for m, prf in enumerate(grid):
        z, mean, std = _zscore(_pooled_rows(fmaps, prf, aperture, rows))
        alphas, w, score, b = solve_ridge_cv_svd(
            z, y, alphas=lam, fit_intercept=True, cv=[(train, hold)], warn=False
        )
        score = np.asarray(score, dtype=np.float64).reshape(-1)
        if coefs is None:
            coefs = np.zeros((z.shape[1], n_vox))
            intercept = np.zeros(n_vox)
            f_mean = np.zeros((z.shape[1], n_vox))
            f_std = np.ones((z.shape[1], n_vox))
        better = score > best
        best[better] = score[better]
        index[better] = m
        chosen[better] = np.asarray(alphas)[better]
        coefs[:, better] = np.asarray(w)[:, better]
        intercept[better] = np.asarray(b)[better]
        f_mean[:, better] = mean[:, None]
        f_std[:, better] = std[:, None]
    return FwrfRidge(grid, index, chosen, best, coefs, intercept, f_mean, f_std, aperture)


def predict_fwrf_ridge(
    model: FwrfRidge, fmaps: Sequence[np.ndarray], rows: ArrayLike | None = None
) -> np.ndarray:
    """Predict responses to new images' feature maps.

    Parameters
    ----------
    model : FwrfRidge
    fmaps : sequence of arrays (n_images, C_k, H_k, W_k)
    rows : array_like (n_samples,), optional
        Row of the maps for each sample, as in :func:`fit_fwrf_ridge`.

    Returns
    -------
    ndarray (n_samples, n_voxels)
    """
    fmaps = _contiguous(fmaps)
    rows = None if rows is None else np.asarray(rows)
    n = fmaps[0].shape[0] if rows is None else rows.size
    out = np.zeros((n, model.prf_index.size))
    for m in np.unique(model.prf_index):
        vox = np.flatnonzero(model.prf_index == m)
        feats = _pooled_rows(fmaps, model.prfs[m], model.aperture, rows)
        mean, std = model.feature_mean[:, vox], model.feature_std[:, vox]
        z = (feats[:, :, None] - mean[None]) / std[None]
        out[:, vox] = np.einsum("npv,pv->nv", z, model.coefs[:, vox]) + model.intercept[vox]
    return out
