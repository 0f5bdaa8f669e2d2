"""Ordinary least squares of brain RDMs on model RDMs: R², adjusted R² and fast design bases.

Re-implements the regression core of Dwivedi, Bonner, Cichy & Roig (2021), "Unveiling functions
of the visual cortex using task-specific deep neural networks" (``library/comparison_methods.py``
and ``library/ordinary_least_squares.py`` of ``cvai-roig-lab/dnn2brain-function``):

* an RDM is vectorised as its strict upper triangle, row-major (:mod:`brainalign.rsa.condensed`);
* a *model* contributes one predictor per layer RDM (the paper: ``block4`` and the encoder output);
* OLS with an intercept; ``R² = SS_reg / SS_tot``;
* adjusted ``R²_adj = 1 - (1 - R²) (n - 1) / (n - p - 1)`` with ``n`` = number of RDM entries and
  ``p`` = number of predictors (columns, not rank, as the original);
* individual-model scores are ``R²_adj`` clipped at zero (``clip_negative``).

Variance partitioning lives in :mod:`brainalign.rsa.partition`.

Everything is batched over targets: ``Y`` may be one RDM vector ``(n_pairs,)`` or a stack
``(n_targets, n_pairs)`` (e.g. one row per searchlight centre).  Fits are computed through an
orthonormal basis of each centred design, so many targets and many models cost one matrix product:
``R² = ||Q^T y_c||² / ||y_c||²``, which equals the least-squares fit with intercept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import as_condensed, is_square_rdm, n_conditions_from_pairs

__all__ = [
    "OLSFit",
    "DesignBases",
    "adjusted_r2",
    "clip_negative",
    "ols_fit",
    "orthonormal_basis",
    "r2_score",
    "stack_predictors",
    "total_ss",
]


def stack_predictors(layers: ArrayLike | Sequence[ArrayLike], name: str = "model") -> np.ndarray:
    """Predictor matrix ``(n_pairs, n_layers)`` of one model from its layer RDMs.

    Parameters
    ----------
    layers
        One RDM ``(n, n)`` / condensed vector ``(n_pairs,)``, a sequence of them, or an array
        ``(n_layers, n_pairs)`` / ``(n_layers, n, n)``.
    name
        Used in error messages.

    Returns
    -------
    ndarray ``(n_pairs, n_layers)`` of float64

    Raises
    ------
    ValueError
        If a layer is not a valid RDM (see :func:`brainalign.rsa.condensed.as_condensed`) or the
        layers differ in size.
    """
    if isinstance(layers, np.ndarray):
        a = layers
        if a.ndim == 1 or (is_square_rdm(a) and a.shape[0] > 1):
            seq = [a]
        elif a.ndim in (2, 3):
            seq = list(a)
        else:
            raise ValueError(f"{name}: cannot interpret layer array of shape {a.shape}")
    else:
        seq = list(layers)  # type: ignore[arg-type]
    if len(seq) == 0:
        raise ValueError(f"{name}: no layer RDMs given")
    cols = [as_condensed(x, f"{name}[{i}]") for i, x in enumerate(seq)]
    n_pairs = {c.shape[0] for c in cols}
    if len(n_pairs) != 1:
        raise ValueError(f"{name}: layer RDMs have different sizes {sorted(n_pairs)}")
    return np.stack(cols, axis=1)


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


def _conditions(n_pairs: int) -> str:
    """``"40 conditions"`` for a condensed RDM of 780 entries."""
    try:
        return f"{n_conditions_from_pairs(n_pairs)} conditions"
    except ValueError:
        return "not n (n - 1) / 2 for any n"


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


def orthonormal_basis(
    X: ArrayLike, *, center: bool = True, weights: ArrayLike | None = None
) -> np.ndarray:
    """Orthonormal basis ``(n, rank)`` of the column space of the (centred) design.

    With ``center=True`` the columns are centred first, so projecting a target onto the basis is
    the least-squares fit *with an intercept*.  Rank is decided like ``numpy.linalg.lstsq``
    (singular values below ``max(n, p) * eps * s_max`` are dropped).

    Parameters
    ----------
    X : array ``(n, p)`` or ``(n,)``
    center : bool
    weights : array ``(n,)`` of non-negative integers, optional
        Row multiplicities ``w`` (a bootstrap draw): the design whose row ``i`` appears ``w[i]``
        times, its basis folded back onto the ``n`` rows.  The result ``A = sqrt(w) * U`` (``U``
        the basis of ``sqrt(w) * (X - weighted mean)``) gives ``y @ A == y_rep @ Q_rep`` for the
        repeated target and design; with ``center=True`` also ``sum(A, axis=0) == 0``, so a
        constant added to ``y`` changes nothing.  ``A`` is orthonormal only when every ``w`` is
        0 or 1.  The rank tolerance uses ``n = sum(w)``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"design must have shape (n, p); got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("design contains NaN or infinite values")
    n_rows = X.shape[0]
    root = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (X.shape[0],) or not np.all(w >= 0) or not np.isfinite(w.sum()):
            raise ValueError(f"weights must be ({X.shape[0]},) non-negative; got shape {w.shape}")
        n_rows = w.sum()
        root = np.sqrt(w)[:, None]
        mean = (w @ X / n_rows)[None, :] if n_rows > 0 else np.zeros((1, X.shape[1]))
        Xc = root * (X - mean) if center else root * X
    else:
        Xc = X - X.mean(axis=0, keepdims=True) if center else X
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((X.shape[0], 0))
    tol = max(n_rows, X.shape[1]) * np.finfo(np.float64).eps * s[0]
    U = U[:, s > tol]
    return U if root is None else root * U


def r2_score(y: ArrayLike, X: ArrayLike) -> np.ndarray:
    """R² of the OLS fit (with intercept) of each target on ``X``; shape ``()`` or ``(m,)``."""
    Q = orthonormal_basis(X)
    Y, single = _check_targets(y, Q.shape[0])
    r2 = _r2_from_basis(Y, [Q])[:, 0]
    return r2[0] if single else r2


def total_ss(Y: np.ndarray, weights: ArrayLike | None = None) -> np.ndarray:
    """Total (centred) sum of squares of each row, computed in float64.

    Parameters
    ----------
    Y : ndarray ``(n_targets, n_pairs)``
    weights : array ``(n_pairs,)``, optional
        Entry multiplicities (see :func:`orthonormal_basis`): ``sum w (y - ȳ_w)²``.

    Returns
    -------
    ndarray ``(n_targets,)`` of float64
    """
    Y64 = Y.astype(np.float64, copy=False)
    if weights is None:
        d = Y64 - Y64.mean(axis=-1, keepdims=True)
        return np.einsum("...j,...j->...", d, d)
    w = np.asarray(weights, dtype=np.float64)
    d = Y64 - (Y64 @ w / w.sum())[..., None]
    return (d * d) @ w


def _r2_from_basis(Y: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    if len(bases) == 0:
        return np.zeros((Y.shape[0], 0))
    Qall = np.concatenate(bases, axis=1)
    Y64 = Y.astype(np.float64, copy=False)
    proj = Y64 @ Qall
    proj *= proj
    ss_tot = total_ss(Y64)
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
    weights : array ``(n_pairs,)`` of non-negative integers, optional
        Entry multiplicities (a bootstrap draw, :func:`orthonormal_basis`): every fit is the fit
        on the repeated entries, and the adjustment uses ``n = sum(weights)``.
    span : str, optional
        Name of a design whose column space holds every other design (the union of all predictor
        sets in variance partitioning).  Targets are then projected on that one basis
        (:attr:`Q`, ``rank`` columns instead of the sum of all ranks) and each design's
        projection follows from it through :attr:`T` (``Q_kᵀ y = Q_kᵀ Q Qᵀ y``), which shrinks
        the large product by the number of designs that share columns (4x for three sets).
        Ignored (with the same results) if a design is not inside that span to 1e-9.

    Notes
    -----
    ``r2(Y)`` returns ``(n_targets, n_designs)``; ``adjusted_r2(Y)`` applies the
    ``n = n_pairs, p = n_columns`` correction of the original.  Regression sums of squares of
    projections on :attr:`Q` come from :meth:`ss_from_projection`.
    """

    def __init__(
        self,
        designs: Mapping[str, ArrayLike],
        dtype: type = np.float64,
        span: str | None = None,
        weights: ArrayLike | None = None,
    ) -> None:
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
            self.bases.append(orthonormal_basis(Xa, weights=weights))
            self.n_predictors.append(Xa.shape[1])
        self.n_pairs = int(n_pairs)  # type: ignore[arg-type]
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        #: number of fitted entries (``sum(weights)`` with weights)
        self.n_obs = self.n_pairs if weights is None else int(round(self.weights.sum()))
        self.dtype = np.dtype(dtype)
        Qcat = np.concatenate(self.bases, axis=1)
        #: ``(rank of span, n basis columns)``: projections on every design's basis from those on
        #: the span's basis (None without ``span``)
        self.T: np.ndarray | None = None
        if span is not None:
            if span not in self.names:
                raise ValueError(f"span {span!r} is not one of the designs {self.names}")
            Qs = self.bases[self.names.index(span)]
            # folded bases are orthonormal in the inner product weighted by 1 / w
            g = 1.0 if weights is None else np.divide(1.0, self.weights, out=np.zeros(n_pairs),
                                                      where=self.weights > 0)[:, None]  # fmt: skip
            T = (Qs * g).T @ Qcat
            if Qs.shape[1] and np.max(np.abs(Qcat - Qs @ T), initial=0.0) < 1e-9:
                self.T = T
                Qcat = Qs
        self.Q = Qcat.astype(self.dtype)
        self._edges = np.cumsum([0] + [b.shape[1] for b in self.bases])

    def check_size(self, n_entries: int, what: str = "the brain RDMs") -> None:
        """Targets of ``n_entries`` entries must match the designs' ``n_pairs``.

        Raises
        ------
        ValueError
            In conditions, naming the designs: ``the brain RDMs have 780 entries (40 conditions)
            but the model RDMs of 'a', 'b' have 1225 (50 conditions) ...``.
        """
        if int(n_entries) == self.n_pairs:
            return
        names = ", ".join(repr(n) for n in self.names[:5])
        names += ", ..." if len(self.names) > 5 else ""
        raise ValueError(
            f"{what} have {n_entries} entries ({_conditions(n_entries)}) but the model RDMs of "
            f"{names} have {self.n_pairs} ({_conditions(self.n_pairs)}); models and brain RDMs "
            "must be RDMs of the same conditions, in the same order"
        )

    def ss_reg(self, Y: np.ndarray, Q: np.ndarray | None = None) -> np.ndarray:
        """Regression sums of squares ``(n_targets, n_designs)``; ``Q`` overrides the basis
        (a row-permuted basis gives the fit of the label-permuted target)."""
        self.check_size(Y.shape[-1])
        Qm = self.Q if Q is None else Q
        return self.ss_from_projection(Y.astype(self.dtype, copy=False) @ Qm)

    def ss_from_projection(self, proj: np.ndarray) -> np.ndarray:
        """Regression sums of squares ``(n_targets, n_designs)`` from the projections
        ``(n_targets, Q.shape[1])`` of the targets on :attr:`Q` (or on its row-permuted copy)."""
        proj = proj.astype(np.float64)
        if self.T is not None:
            proj = proj @ self.T
        proj *= proj
        return self.ss_from_squared(proj)

    def ss_from_squared(self, proj2: np.ndarray) -> np.ndarray:
        """Regression sums of squares ``(n_targets, n_designs)`` from the squared projections
        ``(n_targets, n_basis_columns)`` on every design's own basis (summed per design)."""
        out = np.zeros((proj2.shape[0], len(self.bases)))
        for k in range(len(self.bases)):
            a, b = self._edges[k], self._edges[k + 1]
            if b > a:
                out[:, k] = proj2[:, a:b].sum(axis=1)
        return out

    def r2(self, y: ArrayLike) -> np.ndarray:
        """R² of every design for every target: ``(n_targets, n_designs)`` (or ``(n_designs,)``)."""
        Y, single = _check_targets(y)
        self.check_size(Y.shape[1])
        ss = self.ss_reg(Y)
        ss_tot = total_ss(Y, self.weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = ss / ss_tot[:, None]
        return r2[0] if single else r2

    def adjust(self, r2: ArrayLike) -> np.ndarray:
        """Adjusted R² of an ``(..., n_designs)`` array of R² values."""
        r2 = np.asarray(r2, dtype=np.float64)
        out = np.empty_like(r2)
        for k, p in enumerate(self.n_predictors):
            out[..., k] = adjusted_r2(r2[..., k], self.n_obs, p)
        return out

    def adjusted_r2(self, y: ArrayLike) -> np.ndarray:
        """Adjusted R² of every design for every target."""
        return self.adjust(self.r2(y))
