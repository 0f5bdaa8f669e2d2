"""Compiled data preparation for the searchlight kernels (see ``neighbourhoods.prepare_volume``).

Reads the masked voxels in place from the 4-D volume (no masked copy) and gives the same bits as
the NumPy code it replaces (``X = d[mask]``; ``X.mean(0, float64)``, ``X.std(0, float64)``,
``(X - mu) / sd``): NumPy reduces over axis 0 of a C-ordered array row after row, so the sums here
run over the voxels in mask order too (sequential, float64, no fused multiply-add); only the final
write is parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, boundscheck=False)
def _column_sums(flat, idx, mu):  # pragma: no cover - compiled
    """``Σ_v flat[idx[v]]`` (``mu`` None) or ``Σ_v (flat[idx[v]] - mu)²`` per column, float64,
    in voxel order."""
    C = flat.shape[1]
    tot = np.zeros(C, dtype=np.float64)
    for v in range(idx.shape[0]):
        x = flat[idx[v]]
        if mu is None:
            for j in range(C):
                tot[j] += np.float64(x[j])
        else:
            for j in range(C):
                d = np.float64(x[j]) - mu[j]
                tot[j] += d * d
    return tot


@njit(cache=True, parallel=True, boundscheck=False)
def _write_rows(flat, idx, mu, sd, out):  # pragma: no cover - compiled
    """``out[v, :C] = (flat[idx[v]] - mu) / sd``, ``out[v, C] = 1``, zeros after."""
    C = flat.shape[1]
    for v in prange(idx.shape[0]):
        x = flat[idx[v]]
        o = out[v]
        for j in range(C):
            o[j] = (np.float64(x[j]) - mu[j]) / sd[j]
        o[C] = 1.0
        for j in range(C + 1, o.shape[0]):
            o[j] = 0.0


def standardise(flat: np.ndarray, idx: np.ndarray, out: np.ndarray) -> bool:
    """Standardise ``flat[idx]`` per column into ``out[:, :n_cond]``; ``out[:, n_cond] = 1``.

    ``flat`` is the volume as ``(n_grid_voxels, n_cond)`` (float32 or float64), ``idx`` the mask's
    flat indices and ``out`` ``(n_voxels, n_cols)`` with ``n_cols > n_cond``.  Returns ``False``
    (``out`` then undefined) if a sum is not finite (a NaN / inf value, or an overflow).
    """
    n = idx.shape[0]
    mu = _column_sums(flat, idx, None) / n
    if not np.all(np.isfinite(mu)):
        return False
    ss = _column_sums(flat, idx, mu)
    if not np.all(np.isfinite(ss)):
        return False
    sd = np.sqrt(ss / n)
    sd[sd == 0] = 1.0
    _write_rows(flat, idx, mu, sd, out)
    return True
