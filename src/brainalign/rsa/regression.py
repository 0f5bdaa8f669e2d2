"""Ordinary least squares of brain RDMs on model RDMs, R², adjusted R², variance partitioning.

Re-implements the regression core of Dwivedi, Bonner, Cichy & Roig (2021), "Unveiling functions
of the visual cortex using task-specific deep neural networks" (``library/comparison_methods.py``
and ``library/ordinary_least_squares.py`` of ``cvai-roig-lab/dnn2brain-function``):

* an RDM is vectorised as its strict upper triangle, row-major (``np.triu_indices(n, 1)``, the same
  order as :func:`scipy.spatial.distance.squareform`);
* a *model* contributes one predictor per layer RDM (the paper: ``block4`` and the encoder output);
* OLS with an intercept; ``R² = SS_reg / SS_tot``;
* adjusted ``R²_adj = 1 - (1 - R²) (n - 1) / (n - p - 1)`` with ``n`` = number of RDM entries and
  ``p`` = number of predictors (columns, not rank, as the original);
* individual-model scores are ``R²_adj`` clipped at zero (``clip_negative``);
* variance partitioning for 2 sets (``vpart2``), 3 sets (``vpart3``) and n sets (``vpart_general``)
  with the original's formulas, all on adjusted R².

Everything is batched over targets: ``Y`` may be one RDM vector ``(n_pairs,)`` or a stack
``(n_targets, n_pairs)`` (e.g. one row per searchlight centre).  Fits are computed through an
orthonormal basis of each centred design, so many targets and many models cost one matrix product:
``R² = ||Q^T y_c||² / ||y_c||²``, which equals the least-squares fit with intercept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "OLSFit",
    "DesignBases",
    "adjusted_r2",
    "clip_negative",
    "condensed_index_pairs",
    "n_conditions_from_pairs",
    "ols_fit",
    "orthonormal_basis",
    "r2_score",
    "rdm_to_vector",
    "stack_predictors",
    "variance_partition",
    "variance_partition_gram",
    "vpart2",
    "vpart3",
    "vpart_general",
    "vector_to_rdm",
]


# --------------------------------------------------------------------------------------------
# RDM vectorisation
# --------------------------------------------------------------------------------------------
def n_conditions_from_pairs(n_pairs: int) -> int:
    """Number of conditions ``n`` such that ``n (n - 1) / 2 == n_pairs``.

    Raises
    ------
    ValueError
        If ``n_pairs`` is not a triangular number (with ``n >= 2``).
    """
    n_pairs = int(n_pairs)
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n < 2 or n * (n - 1) // 2 != n_pairs:
        raise ValueError(f"n_pairs={n_pairs} is not n*(n-1)/2 for any integer n >= 2")
    return n


def condensed_index_pairs(n_conditions: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column indices of the condensed (strict upper triangle, row-major) order."""
    return np.triu_indices(int(n_conditions), 1)


def rdm_to_vector(rdm: ArrayLike) -> NDArray[np.floating]:
    """Strict upper triangle, row-major, of one RDM ``(n, n)`` or a stack ``(..., n, n)``.

    Returns
    -------
    ndarray, shape ``(..., n (n - 1) / 2)``
    """
    a = np.asarray(rdm)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"RDM must have shape (..., n, n); got shape {a.shape}")
    iu = np.triu_indices(a.shape[-1], 1)
    return a[..., iu[0], iu[1]]


def vector_to_rdm(vec: ArrayLike) -> NDArray[np.floating]:
    """Inverse of :func:`rdm_to_vector`: symmetric ``(..., n, n)`` with a zero diagonal."""
    v = np.asarray(vec)
    if v.ndim < 1:
        raise ValueError(f"condensed RDM must have at least one axis; got shape {v.shape}")
    n = n_conditions_from_pairs(v.shape[-1])
    out = np.zeros(v.shape[:-1] + (n, n), dtype=v.dtype if v.dtype.kind == "f" else float)
    iu = np.triu_indices(n, 1)
    out[..., iu[0], iu[1]] = v
    out[..., iu[1], iu[0]] = v
    return out


def _as_condensed(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """A layer RDM given as a square matrix or a condensed vector -> condensed float64 vector."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        a = rdm_to_vector(a)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected an RDM (n, n) or a condensed vector; got {a.shape}")
    n_conditions_from_pairs(a.shape[0])
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: RDM contains NaN or infinite values")
    return a


def stack_predictors(layers: ArrayLike | Sequence[ArrayLike], name: str = "model") -> np.ndarray:
    """Predictor matrix ``(n_pairs, n_layers)`` of one model from its layer RDMs.

    Parameters
    ----------
    layers
        One RDM ``(n, n)`` / condensed vector ``(n_pairs,)``, a sequence of them, or an array
        ``(n_layers, n_pairs)`` / ``(n_layers, n, n)``.
    name
        Used in error messages.
    """
    if isinstance(layers, np.ndarray):
        a = layers
        if a.ndim == 1 or (
            a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1 and _is_square_rdm(a)
        ):
            seq = [a]
        elif a.ndim in (2, 3):
            seq = list(a)
        else:
            raise ValueError(f"{name}: cannot interpret layer array of shape {a.shape}")
    else:
        seq = list(layers)  # type: ignore[arg-type]
    if len(seq) == 0:
        raise ValueError(f"{name}: no layer RDMs given")
    cols = [_as_condensed(x, f"{name}[{i}]") for i, x in enumerate(seq)]
    n_pairs = {c.shape[0] for c in cols}
    if len(n_pairs) != 1:
        raise ValueError(f"{name}: layer RDMs have different sizes {sorted(n_pairs)}")
    return np.stack(cols, axis=1)


def _is_square_rdm(a: np.ndarray) -> bool:
    """True when ``a`` looks like a full RDM: square, symmetric, zero diagonal."""
    return bool(np.allclose(a, a.T) and np.allclose(np.diag(a), 0.0))


# --------------------------------------------------------------------------------------------
# OLS
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OLSFit:
    """Result of :func:`ols_fit`.

    Attributes
    ----------
    coef : ndarray, shape ``(..., p + 1)``
        Intercept first, then one coefficient per predictor column.
    r2, r2_adj : ndarray, shape ``(...)``
        Coefficient of determination and adjusted R².
    n_obs, n_predictors : int
        ``n`` and ``p`` of the adjusted-R² formula.
    """

    coef: np.ndarray
    r2: np.ndarray
    r2_adj: np.ndarray
    n_obs: int
    n_predictors: int


def adjusted_r2(r2: ArrayLike, n_obs: int, n_predictors: int) -> np.ndarray:
    """``1 - (1 - R²) (n - 1) / (n - p - 1)`` (Dwivedi et al.; original ``get_adjusted_rsquare``).

    Raises
    ------
    ValueError
        If ``n - p - 1 <= 0`` (the original printed a warning and divided by zero).
    """
    dof = int(n_obs) - int(n_predictors) - 1
    if dof <= 0:
        raise ValueError(
            f"adjusted R² undefined: n_obs={n_obs}, n_predictors={n_predictors} (n - p - 1 <= 0)"
        )
    r2 = np.asarray(r2, dtype=np.float64)
    return 1.0 - (1.0 - r2) * (int(n_obs) - 1) / dof


def clip_negative(x: ArrayLike) -> np.ndarray:
    """Negative values set to 0 (the original's ``correlations[correlations < 0] = 0``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, 0.0, x)


def _check_targets(y: ArrayLike, n_pairs: int | None = None) -> tuple[np.ndarray, bool]:
    a = np.asarray(y)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"targets must be numeric; got dtype {a.dtype}")
    single = a.ndim == 1
    if a.ndim not in (1, 2):
        raise ValueError(
            f"targets must have shape (n_pairs,) or (n_targets, n_pairs); got {a.shape}"
        )
    a2 = a[None, :] if single else a
    if n_pairs is not None and a2.shape[1] != n_pairs:
        raise ValueError(f"targets have {a2.shape[1]} entries per RDM; the design has {n_pairs}")
    return a2, single


def ols_fit(y: ArrayLike, X: ArrayLike) -> OLSFit:
    """Least-squares fit of ``y`` on ``X`` with an intercept (``numpy.linalg.lstsq``).

    Parameters
    ----------
    y : array, shape ``(n,)`` or ``(m, n)``
        Target(s), e.g. brain RDM vectors.
    X : array, shape ``(n, p)`` or ``(n,)``
        Predictors (no intercept column; it is added).

    Returns
    -------
    OLSFit
        With ``coef`` of shape ``(p + 1,)`` or ``(m, p + 1)``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, p); got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    Y, single = _check_targets(y, X.shape[0])
    Y = Y.astype(np.float64)
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values")
    n, p = X.shape
    A = np.column_stack([np.ones(n), X])
    coef, *_ = np.linalg.lstsq(A, Y.T, rcond=None)
    resid = Y.T - A @ coef
    yc = Y - Y.mean(axis=1, keepdims=True)
    ss_tot = np.einsum("ij,ij->i", yc, yc)
    ss_res = np.einsum("ij,ij->j", resid, resid)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    r2a = adjusted_r2(r2, n, p)
    coef = coef.T
    if single:
        return OLSFit(coef[0], r2[0], r2a[0], n, p)
    return OLSFit(coef, r2, r2a, n, p)


def orthonormal_basis(X: ArrayLike, *, center: bool = True) -> np.ndarray:
    """Orthonormal basis ``(n, rank)`` of the column space of the (centred) design.

    With ``center=True`` the columns are centred first, so projecting a target onto the basis is
    the least-squares fit *with an intercept*.  Rank is decided like ``numpy.linalg.lstsq``
    (singular values below ``max(n, p) * eps * s_max`` are dropped).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"design must have shape (n, p); got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("design contains NaN or infinite values")
    Xc = X - X.mean(axis=0, keepdims=True) if center else X
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((X.shape[0], 0))
    tol = max(X.shape) * np.finfo(np.float64).eps * s[0]
    return U[:, s > tol]


def r2_score(y: ArrayLike, X: ArrayLike) -> np.ndarray:
    """R² of the OLS fit (with intercept) of each target on ``X``; shape ``()`` or ``(m,)``."""
    Q = orthonormal_basis(X)
    Y, single = _check_targets(y, Q.shape[0])
    r2 = _r2_from_basis(Y, [Q])[:, 0]
    return r2[0] if single else r2


def _centered_ss(Y: np.ndarray) -> np.ndarray:
    """Total sum of squares of each row, computed in float64."""
    Y64 = Y.astype(np.float64, copy=False)
    mu = Y64.mean(axis=1, keepdims=True)
    d = Y64 - mu
    return np.einsum("ij,ij->i", d, d)


def _r2_from_basis(Y: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    if len(bases) == 0:
        return np.zeros((Y.shape[0], 0))
    Qall = np.concatenate(bases, axis=1)
    Y64 = Y.astype(np.float64, copy=False)
    proj = Y64 @ Qall
    proj *= proj
    ss_tot = _centered_ss(Y64)
    edges = np.cumsum([0] + [b.shape[1] for b in bases])
    ss_reg = np.add.reduceat(proj, edges[:-1], axis=1) if Qall.shape[1] else proj
    for k, b in enumerate(bases):  # empty bases explain nothing
        if b.shape[1] == 0:
            ss_reg[:, k] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return ss_reg / ss_tot[:, None]


# --------------------------------------------------------------------------------------------
# Many models / unions at once
# --------------------------------------------------------------------------------------------
class DesignBases:
    """Orthonormal bases of several designs, for fast R² of many targets at once.

    Parameters
    ----------
    designs : mapping name -> array ``(n_pairs, p)``
        One design per model or per union of model sets.
    dtype : numpy dtype
        dtype of the stacked basis used in the projection (float64 for exactness; float32 halves the
        cost of searchlight-scale products).

    Notes
    -----
    ``r2(Y)`` returns ``(n_targets, n_designs)``; ``adjusted_r2(Y)`` applies the
    ``n = n_pairs, p = n_columns`` correction of the original.
    """

    def __init__(self, designs: Mapping[str, ArrayLike], dtype: type = np.float64) -> None:
        if len(designs) == 0:
            raise ValueError("no designs given")
        self.names: list[str] = list(designs)
        self.bases: list[np.ndarray] = []
        self.n_predictors: list[int] = []
        n_pairs = None
        for name, X in designs.items():
            Xa = np.asarray(X, dtype=np.float64)
            if Xa.ndim == 1:
                Xa = Xa[:, None]
            if Xa.ndim != 2:
                raise ValueError(f"design {name!r} must be (n_pairs, p); got {Xa.shape}")
            if n_pairs is None:
                n_pairs = Xa.shape[0]
            elif Xa.shape[0] != n_pairs:
                raise ValueError(
                    f"design {name!r} has {Xa.shape[0]} rows; the others have {n_pairs}"
                )
            self.bases.append(orthonormal_basis(Xa))
            self.n_predictors.append(Xa.shape[1])
        self.n_pairs = int(n_pairs)  # type: ignore[arg-type]
        self.dtype = np.dtype(dtype)
        self.Q = np.concatenate(self.bases, axis=1).astype(self.dtype)
        self._edges = np.cumsum([0] + [b.shape[1] for b in self.bases])

    def ss_reg(self, Y: np.ndarray, Q: np.ndarray | None = None) -> np.ndarray:
        """Regression sums of squares ``(n_targets, n_designs)``; ``Q`` overrides the basis
        (a row-permuted basis gives the fit of the label-permuted target)."""
        Qm = self.Q if Q is None else Q
        proj = Y.astype(self.dtype, copy=False) @ Qm
        proj = proj.astype(np.float64, copy=False)
        proj *= proj
        out = np.zeros((Y.shape[0], len(self.bases)))
        for k in range(len(self.bases)):
            a, b = self._edges[k], self._edges[k + 1]
            if b > a:
                out[:, k] = proj[:, a:b].sum(axis=1)
        return out

    def r2(self, y: ArrayLike) -> np.ndarray:
        """R² of every design for every target: ``(n_targets, n_designs)`` (or ``(n_designs,)``)."""
        Y, single = _check_targets(y, self.n_pairs)
        ss = self.ss_reg(Y)
        ss_tot = _centered_ss(Y)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = ss / ss_tot[:, None]
        return r2[0] if single else r2

    def adjust(self, r2: ArrayLike) -> np.ndarray:
        """Adjusted R² of an ``(..., n_designs)`` array of R² values."""
        r2 = np.asarray(r2, dtype=np.float64)
        out = np.empty_like(r2)
        for k, p in enumerate(self.n_predictors):
            out[..., k] = adjusted_r2(r2[..., k], self.n_pairs, p)
        return out

    def adjusted_r2(self, y: ArrayLike) -> np.ndarray:
        """Adjusted R² of every design for every target."""
        return self.adjust(self.r2(y))


# --------------------------------------------------------------------------------------------
# Variance partitioning
# --------------------------------------------------------------------------------------------
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


def _vpart_designs(sets: list[np.ndarray]) -> dict[tuple[int, ...], np.ndarray]:
    k = len(sets)
    if k in (2, 3):
        return union_designs(sets)
    allidx = tuple(range(k))
    d = {allidx: np.concatenate(sets, axis=1)}
    for i in range(k):
        rest = tuple(j for j in allidx if j != i)
        d[rest] = np.concatenate([sets[j] for j in rest], axis=1)
    return d


def partition_from_r2(n_sets: int, R: Mapping[tuple[int, ...], ArrayLike]) -> dict[str, np.ndarray]:
    """Dispatch as the original: 2 -> ``vpart2``, 3 -> ``vpart3``, otherwise ``vpart_general``."""
    if n_sets == 2:
        return vpart2_from_r2(R[(0,)], R[(1,)], R[(0, 1)])
    if n_sets == 3:
        return vpart3_from_r2(R)
    allidx = tuple(range(n_sets))
    without = np.stack(
        [np.asarray(R[tuple(j for j in allidx if j != i)]) for i in range(n_sets)], axis=-1
    )
    return vpart_general_from_r2(R[allidx], without)


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
    """

    def __init__(
        self,
        sets: Sequence[ArrayLike] | Mapping[str, ArrayLike],
        *,
        adjusted: bool = True,
        dtype: type = np.float64,
    ) -> None:
        arrs = _as_sets(sets)
        if len(arrs) < 2:
            raise ValueError(f"variance partitioning needs at least 2 sets; got {len(arrs)}")
        self.n_sets = len(arrs)
        self.adjusted = bool(adjusted)
        designs = _vpart_designs(arrs)
        self.keys = list(designs)
        self.bases = DesignBases({"+".join(map(str, k)): designs[k] for k in self.keys}, dtype)

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
    allidx = tuple(range(k))
    designs = {allidx: np.concatenate(arrs, axis=1)}
    for i in range(k):
        rest = tuple(j for j in allidx if j != i)
        designs[rest] = np.concatenate([arrs[j] for j in rest], axis=1)
    keys = list(designs)
    db = DesignBases({"+".join(map(str, kk)): designs[kk] for kk in keys})
    r2 = db.r2(y)
    vals = db.adjust(r2) if adjusted else r2
    R = {kk: vals[..., i] for i, kk in enumerate(keys)}
    without = np.stack([R[tuple(j for j in allidx if j != i)] for i in range(k)], axis=-1)
    return vpart_general_from_r2(R[allidx], without)


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
