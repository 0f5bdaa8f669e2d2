"""Cross-ROI transfer matrix of frozen GNet8r encoders and its asymmetry index α (methods §4.3).

Entry (i, j) = mean over ROI-j voxels of [val r of the frozen encoder of the GNet8r trained on
ROI i with a fresh readout − val r of the native GNet8r_j]; rows = source model, columns =
target ROI, in the order V1, V2, V3, hV4.

α, the literal reading of §4.3: ``a_up`` is the slope of ``y = a·x`` (no intercept, fitted with
``scipy.optimize.curve_fit``) through the entries below the diagonal (source index i > target
index j: a higher-area encoder on lower-area voxels) against ``D = i − j``; ``a_dn`` the same
through the entries above the diagonal (i < j) against ``D = j − i``. Then
``α = (a_up − a_dn) / (|a_up| + |a_dn|)`` and its error is first-order (delta-method)
propagation of the two fits' standard errors (``sqrt(pcov)``, curve_fit's default
``absolute_sigma=False``: residual variance / (n − 1) / Σ D²), the two fits taken as
independent. The diagonal enters neither fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

__all__ = ["ROI_ORDER", "asymmetry_index", "slope_through_origin", "transfer_matrix"]

ROI_ORDER = ("V1", "V2", "V3", "hV4")


def transfer_matrix(
    r_native: Mapping[str, ArrayLike],
    r_transfer: Mapping[tuple[str, str], ArrayLike],
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean accuracy change of transferred encoders relative to the native model.

    Parameters
    ----------
    r_native : mapping roi -> array (n_voxels_roi,)
        Validation r of the native GNet8r of each ROI on its own voxels.
    r_transfer : mapping (source_roi, target_roi) -> array (n_voxels_target,)
        Validation r on the target ROI's voxels of the frozen source encoder with a fresh
        readout, voxel-aligned with ``r_native[target_roi]``.
    order : sequence of str, optional
        ROI order of rows and columns; default :data:`ROI_ORDER` restricted to the ROIs in
        ``r_native``, then any other ROIs in their order there.

    Returns
    -------
    DataFrame (n_roi, n_roi)
        Index ``source`` (model), columns ``target`` (ROI); entry = nanmean of the voxel-wise
        difference. A missing diagonal pair is 0 (the native model is its own transfer); a
        missing off-diagonal pair is NaN.
    """
    if order is None:
        order = [r for r in ROI_ORDER if r in r_native]
        order += [r for r in r_native if r not in order]
    order = list(order)
    out = np.full((len(order), len(order)), np.nan)
    for i, src in enumerate(order):
        for j, tgt in enumerate(order):
            native = np.asarray(r_native[tgt], dtype=np.float64)
            if (src, tgt) not in r_transfer:
                out[i, j] = 0.0 if i == j else np.nan
                continue
            moved = np.asarray(r_transfer[(src, tgt)], dtype=np.float64)
            if moved.shape != native.shape:
                raise ValueError(f"transfer {src}->{tgt} has {moved.shape}, native {native.shape}")
            out[i, j] = np.nanmean(moved - native)
    return pd.DataFrame(
        out,
        index=pd.Index(order, name="source"),
        columns=pd.Index(order, name="target"),
    )


def _line(x: np.ndarray, a: float) -> np.ndarray:
    return a * x


def slope_through_origin(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Least-squares slope of ``y = a·x`` and its SE, by ``curve_fit`` (as the original code).

    Parameters
    ----------
    x, y : array_like (n,)
        NaN pairs are dropped; at least 2 points remain.

    Returns
    -------
    (a, se) : float, float
        ``se = sqrt(pcov[0, 0])`` = sqrt(RSS / (n − 1) / Σx²).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        raise ValueError(f"a slope with an SE needs >= 2 points, got {x.size}")
    popt, pcov = curve_fit(_line, x, y, p0=[0.0])
    return float(popt[0]), float(np.sqrt(pcov[0, 0]))


def _off_diagonal(m: np.ndarray, upper_source: bool) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.indices(m.shape)
    sel = i > j if upper_source else i < j
    return np.abs(i - j)[sel].astype(np.float64), m[sel]


def asymmetry_index(matrix: pd.DataFrame | ArrayLike) -> tuple[float, float]:
    """Hierarchy/asymmetry index α of a transfer matrix with its propagated error (§4.3).

    Parameters
    ----------
    matrix : DataFrame or array (n, n), n >= 3
        Rows = source model, columns = target ROI, both in hierarchy order.

    Returns
    -------
    (alpha, alpha_se) : float, float
        ``α = (a_up − a_dn) / (|a_up| + |a_dn|)``; NaN when both slopes are 0.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square, got {m.shape}")
    a_up, s_up = slope_through_origin(*_off_diagonal(m, upper_source=True))
    a_dn, s_dn = slope_through_origin(*_off_diagonal(m, upper_source=False))
    total = abs(a_up) + abs(a_dn)
    if total == 0:
        return float("nan"), float("nan")
    alpha = (a_up - a_dn) / total
    d_up = 1.0 / total - (a_up - a_dn) * np.sign(a_up) / total**2
    d_dn = -1.0 / total - (a_up - a_dn) * np.sign(a_dn) / total**2
    se = float(np.sqrt((d_up * s_up) ** 2 + (d_dn * s_dn) ** 2))
    return float(alpha), se
