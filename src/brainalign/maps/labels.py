"""Best-model / best-group labels per searchlight, and the images that hold them.

Label maps follow the original figures:

* individual models (``Fig1_individualdnns_searchlight.py``): colour = the model with the largest
  adjusted R² if the searchlight's lower noise ceiling passes the threshold and that model's
  corrected p (BH within the searchlight, then across searchlights) is ``<= alpha``; grey
  otherwise.
* grouped models (``Fig3a_groupeddnns_searchlight.py``): colour = the group with the largest unique
  variance if the ceiling passes, its corrected p(unique > 0) ``<= alpha`` and the corrected
  largest p of its pairwise differences with the other groups ``<= alpha``.

Label images use the codes ``0`` = no data (outside the mask), ``1`` = not significant / below the
noise ceiling, ``2 + k`` = label ``k``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from brainalign.searchlight.neighbourhoods import (
    Neighbourhoods,
    blocks_to_volume,
    centres_to_volume,
)

__all__ = [
    "best_group_labels",
    "best_model_labels",
    "label_image",
    "max_pairwise_p",
    "values_image",
]


# --------------------------------------------------------------------------------------------
# Label logic
# --------------------------------------------------------------------------------------------
def best_model_labels(
    stat: ArrayLike, p_corrected: ArrayLike, keep: ArrayLike, alpha: float = 0.05
) -> np.ndarray:
    """Index of the best model per searchlight, ``-1`` where not significant / not kept.

    Parameters
    ----------
    stat : ``(n, K)`` clipped adjusted R²
    p_corrected : ``(n, K)`` p after both FDR steps (NaN where not tested)
    keep : ``(n,)`` noise-ceiling mask
    """
    S = np.asarray(stat, dtype=np.float64)
    P = np.asarray(p_corrected, dtype=np.float64)
    k = np.asarray(keep, dtype=bool)
    if S.shape != P.shape or S.ndim != 2 or k.shape != S.shape[:1]:
        raise ValueError(f"shapes disagree: stat {S.shape}, p {P.shape}, keep {k.shape}")
    finite = np.all(np.isfinite(S), axis=1)
    best = np.argmax(np.where(np.isfinite(S), S, -np.inf), axis=1)
    pb = P[np.arange(S.shape[0]), best]
    ok = k & finite & np.isfinite(pb) & (pb <= alpha)
    return np.where(ok, best, -1)


def max_pairwise_p(p_diff: ArrayLike, best: ArrayLike) -> np.ndarray:
    """``max_{j != best} p_diff[s, best, j]`` per searchlight (original
    ``apply_fdr_correction_searchlight_diff``; the diagonal is skipped)."""
    D = np.asarray(p_diff, dtype=np.float64)
    b = np.asarray(best, dtype=np.int64)
    n, K, _ = D.shape
    rows = D[np.arange(n), b]  # (n, K)
    rows = np.where(np.arange(K)[None, :] == b[:, None], -np.inf, rows)
    return rows.max(axis=1)


def best_group_labels(
    unique: ArrayLike,
    p_unique_corrected: ArrayLike,
    p_diff_max_corrected: ArrayLike,
    keep: ArrayLike,
    alpha: float = 0.05,
) -> np.ndarray:
    """Index of the group with the largest unique variance, ``-1`` where not significant."""
    U = np.asarray(unique, dtype=np.float64)
    P = np.asarray(p_unique_corrected, dtype=np.float64)
    Dm = np.asarray(p_diff_max_corrected, dtype=np.float64)
    k = np.asarray(keep, dtype=bool)
    if U.shape != P.shape or Dm.shape != U.shape[:1] or k.shape != U.shape[:1]:
        raise ValueError(
            f"shapes disagree: unique {U.shape}, p {P.shape}, p_diff {Dm.shape}, keep {k.shape}"
        )
    finite = np.all(np.isfinite(U), axis=1)
    best = np.argmax(np.where(np.isfinite(U), U, -np.inf), axis=1)
    pb = P[np.arange(U.shape[0]), best]
    ok = k & finite & np.isfinite(pb) & (pb <= alpha) & np.isfinite(Dm) & (Dm <= alpha)
    return np.where(ok, best, -1)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def values_image(values: ArrayLike, nbh: Neighbourhoods, ref_img, fill: float = np.nan):
    """NIfTI image (float32) of one value (or a trailing axis of values) per searchlight."""
    import nibabel as nib

    vol = (
        blocks_to_volume(values, nbh, fill)
        if nbh.kind == "block"
        else centres_to_volume(values, nbh, fill)
    )
    return nib.Nifti1Image(vol.astype(np.float32), ref_img.affine)


def label_image(labels: ArrayLike, nbh: Neighbourhoods, ref_img, mask: ArrayLike | None = None):
    """Integer label image: 0 no data, 1 not significant, ``2 + k`` label ``k``.

    ``labels`` holds one label per searchlight (``-1`` = not significant).  With ``mask`` the
    no-data code is restricted to voxels outside it.
    """
    import nibabel as nib

    lab = np.asarray(labels, dtype=np.float64) + 2.0
    vol = blocks_to_volume(lab, nbh, 0.0) if nbh.kind == "block" else centres_to_volume(lab, nbh, 0)
    vol = np.nan_to_num(vol, nan=0.0)
    if mask is not None:
        vol = np.where(np.asarray(mask, dtype=bool), vol, 0.0)
    return nib.Nifti1Image(vol.astype(np.int16), ref_img.affine)
