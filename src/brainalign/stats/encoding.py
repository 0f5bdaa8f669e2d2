"""Voxel-wise accuracy of encoding models: Pearson r and r² per voxel, fraction of explainable
variance, ROI summaries (median, mean, r²-weighted mean, voxels above a threshold) and the
voxel-wise comparison of two models (difference vs mean, share of voxels favouring each).

General: any encoding study can call it (GNet on NSD, methods §4.3-4.4, is the first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["compare_models", "explainable_fraction", "roi_summary", "voxel_accuracy"]


def voxel_accuracy(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r between prediction and data per voxel, and its square.

    Parameters
    ----------
    pred, target : array_like (n_samples, n_voxels)
        A 1-D pair is taken as one voxel.

    Returns
    -------
    r : ndarray (n_voxels,), float64
        NaN where either column is constant.
    r2 : ndarray (n_voxels,), float64
        ``r**2`` (fraction of variance explained by the best linear rescaling).
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.ndim == 1:
        p, t = p[:, None], t.reshape(-1, 1)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"pred {p.shape} and target {t.shape} must both be (n, v)")
    p = p - p.mean(axis=0)
    t = t - t.mean(axis=0)
    den = np.sqrt((p**2).sum(axis=0) * (t**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(axis=0) / den
    r = np.where(den > 0, r, np.nan)
    return r, r**2


def explainable_fraction(r2: ArrayLike, ceiling_percent: ArrayLike) -> np.ndarray:
    """Percent of the explainable variance that a model explains: ``100 · (100 · r²) / NC``.

    Parameters
    ----------
    r2 : array_like
        Variance explained as a fraction in [0, 1] (e.g. from :func:`voxel_accuracy`).
    ceiling_percent : array_like, broadcastable to ``r2``
        Noise ceiling in percent of variance, e.g. ``rsa.noise_ceiling.ncsnr_noise_ceiling``
        (``n_trials=1`` for single-trial validation, as GNet's).

    Returns
    -------
    ndarray, float64
        Percent; NaN where the ceiling is not positive. Not clipped (noise can exceed 100).
    """
    r2 = np.asarray(r2, dtype=np.float64)
    nc = np.asarray(ceiling_percent, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 100.0 * (100.0 * r2) / nc
    return np.where(nc > 0, out, np.nan)


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    total = w.sum()
    return float((w * x).sum() / total) if total > 0 else float("nan")


def roi_summary(
    values: ArrayLike,
    rois: ArrayLike,
    weights: ArrayLike | None = None,
    threshold: float | None = None,
    threshold_on: ArrayLike | None = None,
) -> pd.DataFrame:
    """Per-ROI median, mean and weighted mean of a voxel-wise quantity.

    Parameters
    ----------
    values : array_like (n_voxels,)
        E.g. validation r, or a % variance per voxel. NaN voxels are dropped.
    rois : array_like (n_voxels,)
        ROI label of each voxel; ROIs appear in order of first occurrence.
    weights : array_like (n_voxels,), optional
        Weights of the weighted mean; default ``values**2`` (the r²-weighted mean of r).
        Pass ``r**2`` explicitly when ``values`` are not r (methods §4.3).
    threshold : float, optional
        Keep only voxels with ``threshold_on > threshold`` for the statistics (GNet: r > 0.055).
    threshold_on : array_like (n_voxels,), optional
        The quantity thresholded; default ``values``.

    Returns
    -------
    DataFrame
        One row per ROI: ``roi``, ``n_voxels`` (all), ``n_used`` (above threshold, non-NaN),
        ``fraction_used``, ``median``, ``mean``, ``weighted_mean``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    labels = np.asarray(rois).ravel()
    w = v**2 if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (v.shape == labels.shape == w.shape):
        raise ValueError(f"values {v.shape}, rois {labels.shape}, weights {w.shape} differ")
    keep = np.isfinite(v) & np.isfinite(w)
    if threshold is not None:
        on = v if threshold_on is None else np.asarray(threshold_on, dtype=np.float64).ravel()
        keep &= on > threshold
    rows = []
    for roi in pd.unique(labels):
        in_roi = labels == roi
        sel = in_roi & keep
        x = v[sel]
        rows.append(
            {
                "roi": roi,
                "n_voxels": int(in_roi.sum()),
                "n_used": int(sel.sum()),
                "fraction_used": float(sel.sum() / in_roi.sum()),
                "median": float(np.median(x)) if x.size else float("nan"),
                "mean": float(x.mean()) if x.size else float("nan"),
                "weighted_mean": _weighted_mean(x, w[sel]),
            }
        )
    return pd.DataFrame(rows)


def compare_models(r_a: ArrayLike, r_b: ArrayLike) -> dict:
    """Voxel-wise comparison of two models' accuracies (difference against mean).

    Parameters
    ----------
    r_a, r_b : array_like (n_voxels,)
        Accuracy per voxel of model A and B (voxels NaN in either are left out).

    Returns
    -------
    dict
        ``difference`` (a − b) and ``mean`` ((a + b) / 2), arrays over the voxels kept;
        ``n`` (voxels kept), ``percent_a`` / ``percent_b`` (% of voxels with a > b / b > a;
        ties count for neither), ``median_difference``, ``mean_difference``.
    """
    a = np.asarray(r_a, dtype=np.float64).ravel()
    b = np.asarray(r_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"r_a {a.shape} and r_b {b.shape} differ")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    diff = a - b
    n = int(diff.size)
    nan = float("nan")
    return {
        "difference": diff,
        "mean": (a + b) / 2.0,
        "n": n,
        "percent_a": 100.0 * float((diff > 0).sum()) / n if n else nan,
        "percent_b": 100.0 * float((diff < 0).sum()) / n if n else nan,
        "median_difference": float(np.median(diff)) if n else nan,
        "mean_difference": float(diff.mean()) if n else nan,
    }
