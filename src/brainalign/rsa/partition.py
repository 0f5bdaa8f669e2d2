"""Variance partitioning of (adjusted) R² among 2, 3 or n sets of model RDMs.

The formulas of Dwivedi et al. (2021) (``library/comparison_methods.py``): two sets (``vpart2``),
three sets (``vpart3``) and n sets by leaving one set out (``vpart_general``), all on adjusted R²
by default.  The fits go through :class:`brainalign.rsa.ols.DesignBases`, so one plan serves many
targets (searchlights) at once; :func:`variance_partition_gram` is the cheap route for many small
problems (bootstrap draws).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.ols import DesignBases, adjusted_r2

__all__ = [
    "PartitionPlan",
    "partition_from_r2",
    "union_designs",
    "unique_r2_draws",
    "variance_partition",
    "variance_partition_gram",
    "vpart2",
    "vpart2_from_r2",
    "vpart3",
    "vpart3_from_r2",
    "vpart_general",
    "vpart_general_from_r2",
]


def _as_sets(sets: Sequence[ArrayLike] | Mapping[str, ArrayLike]) -> list[np.ndarray]:
    items = list(sets.items()) if isinstance(sets, Mapping) else list(enumerate(sets))
    out = []
    for name, s in items:
        a = np.asarray(s, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"predictor set {name!r} must be (n_pairs, p); got {a.shape}")
        out.append(a)
    sizes = {a.shape[0] for a in out}
    if len(sizes) != 1:
        raise ValueError(f"predictor sets have different numbers of rows: {sorted(sizes)}")
    return out


def union_designs(sets: Sequence[np.ndarray]) -> dict[tuple[int, ...], np.ndarray]:
    """Designs of all non-empty unions of predictor sets (keys: sorted index tuples)."""
    out: dict[tuple[int, ...], np.ndarray] = {}
    for k in range(1, len(sets) + 1):
        for combo in combinations(range(len(sets)), k):
            out[combo] = np.concatenate([sets[i] for i in combo], axis=1)
    return out


def vpart2_from_r2(r1: ArrayLike, r2_: ArrayLike, r12: ArrayLike) -> dict[str, np.ndarray]:
    """Two-set partition from (adjusted) R² values: ``y12 = R1 + R2 - R12``, ``yi = Ri - y12``."""
    r1, r2_, r12 = (np.asarray(a, dtype=np.float64) for a in (r1, r2_, r12))
    y12 = r1 + r2_ - r12
    return {
        "unique": np.stack([r1 - y12, r2_ - y12], axis=-1),
        "shared": y12[..., None],
        "shared_labels": np.array(["12"]),
        "total": r12,
    }


def vpart3_from_r2(R: Mapping[tuple[int, ...], ArrayLike]) -> dict[str, np.ndarray]:
    """Three-set partition (original ``vpart3``) from the 7 union R² values keyed by index tuple."""
    g = {k: np.asarray(v, dtype=np.float64) for k, v in R.items()}
    r1, r2_, r3 = g[(0,)], g[(1,)], g[(2,)]
    r12, r13, r23, r123 = g[(0, 1)], g[(0, 2)], g[(1, 2)], g[(0, 1, 2)]
    y123 = r1 + r2_ + r3 - r12 - r13 - r23 + r123
    y12 = r1 + r2_ - r12 - y123
    y13 = r1 + r3 - r13 - y123
    y23 = r2_ + r3 - r23 - y123
    y1 = r1 - y12 - y13 - y123
    y2 = r2_ - y12 - y23 - y123
    y3 = r3 - y13 - y23 - y123
    return {
        "unique": np.stack([y1, y2, y3], axis=-1),
        "shared": np.stack([y12, y13, y23, y123], axis=-1),
        "shared_labels": np.array(["12", "13", "23", "123"]),
        "total": r123,
    }


def vpart_general_from_r2(r_all: ArrayLike, r_without: ArrayLike) -> dict[str, np.ndarray]:
    """n-set partition (original ``vpart_general``): ``unique_i = R_all - R_(all without i)``.

    ``r_without`` has the sets on its last axis.
    """
    r_all = np.asarray(r_all, dtype=np.float64)
    r_without = np.asarray(r_without, dtype=np.float64)
    return {
        "unique": r_all[..., None] - r_without,
        "shared": np.zeros(r_all.shape + (0,)),
        "shared_labels": np.array([], dtype=str),
        "total": r_all,
    }


def _leave_one_out_designs(sets: list[np.ndarray]) -> dict[tuple[int, ...], np.ndarray]:
    """Designs of all sets together and of all sets but one (keys: sorted index tuples)."""
    allidx = tuple(range(len(sets)))
    d = {allidx: np.concatenate(sets, axis=1)}
    for i in allidx:
        rest = tuple(j for j in allidx if j != i)
        d[rest] = np.concatenate([sets[j] for j in rest], axis=1)
    return d


def _vpart_designs(sets: list[np.ndarray]) -> dict[tuple[int, ...], np.ndarray]:
    """The designs the original fits: all unions for 2 or 3 sets, else leave-one-set-out."""
    return union_designs(sets) if len(sets) in (2, 3) else _leave_one_out_designs(sets)


def _general_from_r2(n_sets: int, R: Mapping[tuple[int, ...], ArrayLike]) -> dict[str, np.ndarray]:
    allidx = tuple(range(n_sets))
    without = np.stack(
        [np.asarray(R[tuple(j for j in allidx if j != i)]) for i in range(n_sets)], axis=-1
    )
    return vpart_general_from_r2(R[allidx], without)


def partition_from_r2(n_sets: int, R: Mapping[tuple[int, ...], ArrayLike]) -> dict[str, np.ndarray]:
    """Dispatch as the original: 2 -> ``vpart2``, 3 -> ``vpart3``, otherwise ``vpart_general``."""
    if n_sets == 2:
        return vpart2_from_r2(R[(0,)], R[(1,)], R[(0, 1)])
    if n_sets == 3:
        return vpart3_from_r2(R)
    return _general_from_r2(n_sets, R)


class PartitionPlan:
    """Precomputed bases for variance partitioning of many targets among fixed predictor sets.

    Parameters
    ----------
    sets : sequence or mapping of arrays ``(n_pairs, p_i)``
        The predictor sets (e.g. the layer RDMs of the 2D, 3D and semantic groups).
    adjusted : bool
        Partition adjusted R² (the original) or plain R².
    dtype : numpy dtype
        dtype of the projection (see :class:`DesignBases`).
    weights : array ``(n_pairs,)``, optional
        Entry multiplicities of a bootstrap draw (see :class:`DesignBases`).
    """

    def __init__(
        self,
        sets: Sequence[ArrayLike] | Mapping[str, ArrayLike],
        *,
        adjusted: bool = True,
        dtype: type = np.float64,
        weights: ArrayLike | None = None,
    ) -> None:
        arrs = _as_sets(sets)
        if len(arrs) < 2:
            raise ValueError(f"variance partitioning needs at least 2 sets; got {len(arrs)}")
        self.n_sets = len(arrs)
        self.adjusted = bool(adjusted)
        designs = _vpart_designs(arrs)
        self.keys = list(designs)
        names = {k: "+".join(map(str, k)) for k in self.keys}
        # every design is a union of sets: one projection on all sets' basis serves them all
        self.bases = DesignBases(
            {names[k]: designs[k] for k in self.keys},
            dtype,
            span=names[tuple(range(len(arrs)))],
            weights=weights,
        )

    def from_r2(self, r2: np.ndarray) -> dict[str, np.ndarray]:
        """Partition from the ``(..., n_designs)`` R² array of :attr:`bases`."""
        vals = self.bases.adjust(r2) if self.adjusted else np.asarray(r2, dtype=np.float64)
        R = {k: vals[..., i] for i, k in enumerate(self.keys)}
        return partition_from_r2(self.n_sets, R)

    def __call__(self, y: ArrayLike) -> dict[str, np.ndarray]:
        """Partition of one target ``(n_pairs,)`` or many ``(m, n_pairs)``."""
        return self.from_r2(self.bases.r2(y))


def variance_partition(
    y: ArrayLike,
    sets: Sequence[ArrayLike] | Mapping[str, ArrayLike],
    *,
    adjusted: bool = True,
) -> dict[str, np.ndarray]:
    """Unique and shared (adjusted) R² of 2, 3 or n predictor sets.

    Returns
    -------
    dict
        ``unique`` ``(..., n_sets)``; ``shared`` ``(..., n_shared)`` with ``shared_labels``
        (2 sets: ``12``; 3 sets: ``12 13 23 123``; n sets: none); ``total`` ``(...)`` = R² of
        all sets together.
    """
    return PartitionPlan(sets, adjusted=adjusted)(y)


def vpart2(y: ArrayLike, set1: ArrayLike, set2: ArrayLike, *, adjusted: bool = True) -> dict:
    """Two-set variance partitioning (original ``vpart2``)."""
    return variance_partition(y, [set1, set2], adjusted=adjusted)


def vpart3(
    y: ArrayLike, set1: ArrayLike, set2: ArrayLike, set3: ArrayLike, *, adjusted: bool = True
) -> dict:
    """Three-set variance partitioning (original ``vpart3``)."""
    return variance_partition(y, [set1, set2, set3], adjusted=adjusted)


def vpart_general(y: ArrayLike, sets: Sequence[ArrayLike], *, adjusted: bool = True) -> dict:
    """n-set partitioning by leave-one-set-out (original ``vpart_general``), for any n >= 2."""
    arrs = _as_sets(sets)
    k = len(arrs)
    if k < 2:
        raise ValueError(f"variance partitioning needs at least 2 sets; got {k}")
    designs = _leave_one_out_designs(arrs)
    keys = list(designs)
    db = DesignBases({"+".join(map(str, kk)): designs[kk] for kk in keys})
    r2 = db.r2(y)
    vals = db.adjust(r2) if adjusted else r2
    R = {kk: vals[..., i] for i, kk in enumerate(keys)}
    return _general_from_r2(k, R)


def variance_partition_gram(
    y: ArrayLike,
    sets: Sequence[ArrayLike] | Mapping[str, ArrayLike],
    *,
    adjusted: bool = True,
) -> dict[str, np.ndarray]:
    """:func:`variance_partition` of one target through the normal equations.

    One centred cross-product matrix of all predictors and ``y`` serves every union of sets, so it
    is much cheaper for many small problems (bootstrap draws); the result equals the SVD route up
    to the conditioning of ``XᵀX`` (normal equations).
    """
    arrs = _as_sets(sets)
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim != 1 or Y.shape[0] != arrs[0].shape[0]:
        raise ValueError(f"y must be (n_pairs,) = ({arrs[0].shape[0]},); got {Y.shape}")
    Z = np.concatenate(arrs + [Y[:, None]], axis=1)
    Z = Z - Z.mean(axis=0, keepdims=True)
    G = Z.T @ Z
    iy = Z.shape[1] - 1
    ss_tot = G[iy, iy]
    edges = np.cumsum([0] + [a.shape[1] for a in arrs])
    n = Y.shape[0]
    designs = _vpart_designs(arrs)
    R = {}
    for key in designs:
        cols = np.concatenate([np.arange(edges[i], edges[i + 1]) for i in key])
        beta, *_ = np.linalg.lstsq(G[np.ix_(cols, cols)], G[cols, iy], rcond=None)
        r2 = float(G[cols, iy] @ beta / ss_tot)
        R[key] = adjusted_r2(r2, n, cols.size) if adjusted else np.float64(r2)
    return partition_from_r2(len(arrs), R)


def unique_r2_draws(
    Y: ArrayLike,
    sets: Sequence[ArrayLike] | Mapping[str, ArrayLike],
    weights: ArrayLike,
    *,
    adjusted: bool = True,
    dtype: type = np.float64,
    block_rows: int = 8192,
) -> np.ndarray:
    """Unique (adjusted) R² of each set for many targets on each of several row-weighted draws.

    A bootstrap draw over conditions repeats some condensed entries and drops others; refitting
    the partition on the drawn rows equals a fit on all rows with those multiplicities as weights
    (:func:`orthonormal_basis` with ``weights``).  So no copy of ``Y`` is made per draw: the
    projections of all draws are one matrix product ``Y @ [A_1 | A_2 | ...]``, and each draw's
    total sum of squares ``sum w (y - ȳ_w)²`` is a second one.

    Parameters
    ----------
    Y : array ``(m, n_pairs)``
        Targets (e.g. the searchlight RDMs).
    sets : sequence or mapping of arrays ``(n_pairs, p_i)``
        The predictor sets, as in :class:`PartitionPlan`.
    weights : array ``(B, n_pairs)``
        Non-negative integer multiplicities of the entries in each of ``B`` draws.
    adjusted : bool
        Adjusted R² with ``n = sum(w)`` per draw (the refit's number of entries), or plain R².
    dtype : numpy dtype
        dtype of the two products (float32 for searchlight-scale targets).
    block_rows : int
        Targets per block (bounds the temporary arrays).

    Returns
    -------
    ndarray ``(B, m, n_sets)`` of float64
        Equal to ``PartitionPlan(sets)(Y[:, rows])["unique"]`` for the rows each draw repeats.
    """
    arrs = _as_sets(sets)
    if len(arrs) < 2:
        raise ValueError(f"variance partitioning needs at least 2 sets; got {len(arrs)}")
    Ya = np.asarray(Y)
    W = np.asarray(weights, dtype=np.float64)
    n_pairs = arrs[0].shape[0]
    if Ya.ndim != 2 or Ya.shape[1] != n_pairs:
        raise ValueError(f"Y must be (m, {n_pairs}); got {Ya.shape}")
    if W.ndim != 2 or W.shape[1] != n_pairs:
        raise ValueError(f"weights must be (B, {n_pairs}); got {W.shape}")
    plans = [PartitionPlan(arrs, adjusted=adjusted, dtype=dtype, weights=w) for w in W]
    # every draw's (folded) basis of all sets, side by side: one product for all draws
    Acat = np.concatenate([plan.bases.Q for plan in plans], axis=1)
    edges = np.cumsum([0] + [plan.bases.Q.shape[1] for plan in plans])
    Wd = W.T.astype(dtype)
    n_w = W.sum(axis=1)
    out = np.empty((W.shape[0], Ya.shape[0], len(arrs)))
    for lo in range(0, Ya.shape[0], int(block_rows)):
        blk = Ya[lo : lo + int(block_rows)].astype(np.float64)
        # centring by the plain row mean changes no projection (the folded bases sum to zero)
        # and keeps the weighted total sum of squares free of cancellation
        blk -= blk.mean(axis=1, keepdims=True)
        c = blk.astype(dtype)
        proj = c @ Acat
        s1 = (c @ Wd).astype(np.float64)
        ss_tot = ((c * c) @ Wd).astype(np.float64) - s1 * s1 / n_w
        for b, plan in enumerate(plans):
            ss = plan.bases.ss_from_projection(proj[:, edges[b] : edges[b + 1]])
            with np.errstate(invalid="ignore", divide="ignore"):
                r2 = ss / ss_tot[:, b, None]
            out[b, lo : lo + blk.shape[0]] = plan.from_r2(r2)["unique"]
    return out
