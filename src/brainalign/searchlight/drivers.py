"""Searchlight RDMs and regressions from volumes, vectorised and memory-bounded.

Per-centre RDM
    correlation distance ``1 - Pearson r`` between the condition patterns across the
    neighbourhood's voxels, condensed (strict upper triangle, row-major).

Drivers
    Centres come in chunks (:func:`searchlight_rdm_chunks`) whose RDMs are regressed on the model
    RDMs with one matrix product and then dropped, so memory is bounded by
    ``chunk_size × n_pairs``; for spheres :func:`searchlight_r2` projects each z-line's RDMs on the
    model bases inside the kernel (:mod:`brainalign.searchlight.kernels`).
    :func:`group_searchlight_rdms` averages subjects and adds noise ceilings;
    :func:`naive_searchlight_r2` is the float64 reference.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs
from brainalign.rsa.ols import DesignBases
from brainalign.searchlight.kernels import (
    _direct_kernel,
    _gemm_address,
    _sphere_lines_kernel,
    _sphere_plan,
    _threads,
)
from brainalign.searchlight.neighbourhoods import (
    Neighbourhoods,
    _check_mask,
    prepare_volume,
    sphere_neighbourhoods,
)

__all__ = [
    "GroupSearchlight",
    "default_n_jobs",
    "group_searchlight_rdms",
    "naive_searchlight_r2",
    "searchlight_r2",
    "searchlight_rdm_chunks",
    "searchlight_rdms",
]


# --------------------------------------------------------------------------------------------
# Public RDM / regression drivers
# --------------------------------------------------------------------------------------------
def searchlight_rdm_chunks(
    data: ArrayLike,
    mask: ArrayLike,
    *,
    radius: float | None = 3.0,
    neighbourhoods: Neighbourhoods | None = None,
    chunk_size: int = 8192,
    n_jobs: int | None = 1,
    dtype: type = np.float32,
    min_voxels: int = 3,
    refresh: int = 32,
    reuse_buffer: bool = False,
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Yield ``(centre_slice, rdms, sums)`` chunk by chunk.

    ``rdms`` has shape ``(n_in_chunk, n_pairs)``; ``sums[:, 0]`` and ``sums[:, 1]`` are the sum and
    the sum of squares (float64) of each RDM vector, for its total sum of squares.

    Parameters
    ----------
    data : array ``(X, Y, Z, n_conditions)``
        Condition responses of one subject.
    mask : bool array ``(X, Y, Z)``
    radius : float
        Sphere radius in voxels; centres are all mask voxels in C order (fast sliding kernel).
    neighbourhoods : Neighbourhoods, optional
        Explicit neighbourhoods (e.g. :func:`block_neighbourhoods`) instead of ``radius``.
    chunk_size : int
        Upper bound on the centres per chunk (memory ``chunk_size × n_pairs × itemsize``).
    n_jobs : int or None
        Threads (numba and BLAS); ``None``/``<= 0``: all.
    dtype : float32 or float64
        Accumulation precision.
    min_voxels : int
        Neighbourhoods with fewer mask voxels give NaN RDMs.
    refresh : int
        Sliding kernel: recompute a sphere from scratch every ``refresh`` steps along a line
        (bounds round-off drift).
    reuse_buffer : bool
        Write every chunk into the same buffer (saves allocating and page-faulting
        ``chunk_size × n_pairs`` values per chunk); a yielded chunk is then only valid until the
        next one is requested.

    Notes
    -----
    RDMs of neighbourhoods with a constant condition pattern are NaN.
    """
    rows, m = prepare_volume(data, mask, dtype=dtype)
    buf: list[np.ndarray] = []

    def buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
        if not reuse_buffer:
            return np.empty((n, n_pairs), dtype=dtype), np.empty((n, 2), dtype=np.float64)
        if not buf or buf[0].shape[0] < n:
            size = max(int(chunk_size), n)
            buf[:] = [np.empty((size, n_pairs), dtype=dtype), np.empty((size, 2), dtype=np.float64)]
        return buf[0][:n], buf[1][:n]

    n_cond = np.asarray(data).shape[3]
    n_pairs = n_cond * (n_cond - 1) // 2
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    with _threads(n_jobs, blas=1):
        if neighbourhoods is None:
            if radius is None:
                raise ValueError("give a radius or neighbourhoods")
            plan = _sphere_plan(m, radius)
            n_lines = plan.line_x.shape[0]
            out_off = np.concatenate([[0], np.cumsum(plan.line_count)])
            li = 0
            while li < n_lines:
                lj = li
                while lj < n_lines and out_off[lj + 1] - out_off[li] <= chunk_size:
                    lj += 1
                lj = max(lj, li + 1)
                c0, c1 = int(out_off[li]), int(out_off[lj])
                out, sums = buffers(c1 - c0)
                dummy = np.zeros((1, 1), dtype=dtype)
                _sphere_lines_kernel(
                    rows, plan.grid, plan.pad, plan.is_centre,
                    plan.line_x[li:lj], plan.line_y[li:lj],
                    plan.line_z0[li:lj], plan.line_z1[li:lj],
                    (out_off[li:lj] - c0).astype(np.int64),
                    plan.col_dx, plan.col_dy, plan.col_h,
                    n_cond, float(min_voxels), int(max(1, refresh)), out, sums,
                    dummy, dummy, False, dummy[None], dummy.astype(np.float64)[None], dummy[None],
                    _gemm_address(dtype),
                )  # fmt: skip
                yield slice(c0, c1), out, sums
                li = lj
        else:
            nbh = neighbourhoods
            if nbh.shape != m.shape or nbh.voxels.shape[0] != rows.shape[0]:
                raise ValueError("neighbourhoods were built from a different mask")
            for c0 in range(0, nbh.n_centres, int(chunk_size)):
                c1 = min(nbh.n_centres, c0 + int(chunk_size))
                out, sums = buffers(c1 - c0)
                _direct_kernel(
                    rows, nbh.indptr, nbh.indices, c0, c1, n_cond, float(min_voxels), out, sums,
                    _gemm_address(dtype),
                )  # fmt: skip
                yield slice(c0, c1), out, sums


def _sphere_projection_chunks(
    data: ArrayLike,
    mask: ArrayLike,
    Q: np.ndarray,
    *,
    radius: float,
    chunk_size: int,
    n_jobs: int | None,
    dtype: type,
    min_voxels: int,
    refresh: int,
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Like :func:`searchlight_rdm_chunks` for spheres, but yields the projections
    ``RDM @ Q`` ``(n_in_chunk, n_q)`` instead of the RDMs (which never leave the cache)."""
    rows, m = prepare_volume(data, mask, dtype=dtype)
    n_cond = np.asarray(data).shape[3]
    Qd = np.ascontiguousarray(Q, dtype=dtype)
    if Qd.shape[0] != n_cond * (n_cond - 1) // 2:
        raise ValueError(f"Q has {Qd.shape[0]} rows; the data give {n_cond} conditions")
    with _threads(n_jobs, blas=1):
        plan = _sphere_plan(m, radius)
        n_lines = plan.line_x.shape[0]
        out_off = np.concatenate([[0], np.cumsum(plan.line_count)])
        max_line = int(plan.line_count.max())
        n_thr = numba.config.NUMBA_NUM_THREADS  # get_thread_id() < this
        lbufs = np.empty((n_thr, max_line, Qd.shape[0]), dtype=dtype)
        lsts = np.empty((n_thr, max_line, 2), dtype=np.float64)
        pbufs = np.empty((n_thr, max_line, Qd.shape[1]), dtype=dtype)
        dummy = np.zeros((1, 1), dtype=dtype)
        li = 0
        while li < n_lines:
            lj = li
            while lj < n_lines and out_off[lj + 1] - out_off[li] <= chunk_size:
                lj += 1
            lj = max(lj, li + 1)
            c0, c1 = int(out_off[li]), int(out_off[lj])
            proj = np.empty((c1 - c0, Qd.shape[1]), dtype=dtype)
            sums = np.empty((c1 - c0, 2), dtype=np.float64)
            _sphere_lines_kernel(
                rows, plan.grid, plan.pad, plan.is_centre,
                plan.line_x[li:lj], plan.line_y[li:lj],
                plan.line_z0[li:lj], plan.line_z1[li:lj],
                (out_off[li:lj] - c0).astype(np.int64),
                plan.col_dx, plan.col_dy, plan.col_h,
                n_cond, float(min_voxels), int(max(1, refresh)), dummy, sums,
                Qd, proj, True, lbufs, lsts, pbufs, _gemm_address(dtype),
            )  # fmt: skip
            yield slice(c0, c1), proj, sums
            li = lj


def searchlight_rdms(data: ArrayLike, mask: ArrayLike, **kwargs) -> np.ndarray:
    """All searchlight RDMs ``(n_centres, n_pairs)`` at once (small problems only)."""
    parts = [r for _, r, _ in searchlight_rdm_chunks(data, mask, **kwargs)]
    return np.concatenate(parts, axis=0)


def searchlight_r2(
    data: ArrayLike,
    mask: ArrayLike,
    designs: Mapping[str, ArrayLike] | DesignBases,
    *,
    adjusted: bool = False,
    **kwargs,
) -> np.ndarray:
    """R² (or adjusted R²) of every design at every centre, ``(n_centres, n_designs)``.

    ``designs`` maps names to predictor matrices ``(n_pairs, p)`` (see
    :class:`brainalign.rsa.ols.DesignBases`); ``kwargs`` go to
    :func:`searchlight_rdm_chunks`.  Centres with NaN RDMs get NaN.

    For spheres (no ``neighbourhoods``) the RDMs of each z-line are projected on the orthonormal
    model bases inside the kernel while they are still in cache, so whole-brain RDMs are never
    materialised; ``R² = ||Qᵀ y||² / SS_tot`` per design.
    """
    dtype = kwargs.get("dtype", np.float32)
    db = designs if isinstance(designs, DesignBases) else DesignBases(designs, dtype=dtype)
    n_jobs = kwargs.get("n_jobs", 1)
    n_pairs = db.n_pairs
    results = []
    if kwargs.get("neighbourhoods") is None:
        # fused path: project each z-line's RDMs on the bases while they are in cache
        chunks = _sphere_projection_chunks(
            data, mask, db.Q,
            radius=kwargs.get("radius", 3.0), chunk_size=kwargs.get("chunk_size", 8192),
            n_jobs=n_jobs, dtype=dtype, min_voxels=kwargs.get("min_voxels", 3),
            refresh=kwargs.get("refresh", 32),
        )  # fmt: skip
        for _, proj, sums in chunks:
            ss = db.ss_from_projection(proj)
            results.append(_r2_from_sums(ss, sums, n_pairs, db, adjusted))
        return np.concatenate(results, axis=0)
    kwargs.setdefault("reuse_buffer", True)
    for _, Y, sums in searchlight_rdm_chunks(data, mask, **kwargs):
        bad = ~np.isfinite(sums[:, 0])
        if bad.any():
            Y[bad] = 0.0
        with _threads(n_jobs):
            ss = db.ss_reg(Y)
        results.append(_r2_from_sums(ss, sums, n_pairs, db, adjusted))
    return np.concatenate(results, axis=0)


def _r2_from_sums(ss, sums, n_pairs, db, adjusted):
    bad = ~np.isfinite(sums[:, 0]) | ~np.all(np.isfinite(ss), axis=1)
    ss_tot = sums[:, 1] - sums[:, 0] ** 2 / n_pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = ss / ss_tot[:, None]
    r2[bad] = np.nan
    return db.adjust(r2) if adjusted else r2


def naive_searchlight_r2(
    data: ArrayLike,
    mask: ArrayLike,
    designs: Mapping[str, ArrayLike],
    *,
    radius: float = 3.0,
    centres: ArrayLike | None = None,
    min_voxels: int = 3,
) -> np.ndarray:
    """Reference: per sphere ``np.corrcoef`` and ``np.linalg.lstsq`` per design (float64).

    Returns ``(n_centres, n_designs)`` R² values.
    """
    m = _check_mask(mask)
    d = np.asarray(data, dtype=np.float64)
    nbh = sphere_neighbourhoods(m, radius, centres)
    X = d[m]
    n_cond = d.shape[3]
    iu = condensed_index_pairs(n_cond)
    mats = {k: np.column_stack([np.ones(len(iu[0])), np.asarray(v).reshape(len(iu[0]), -1)])
            for k, v in designs.items()}  # fmt: skip
    out = np.full((nbh.n_centres, len(mats)), np.nan)
    for c in range(nbh.n_centres):
        idx = nbh.indices[nbh.indptr[c] : nbh.indptr[c + 1]]
        if idx.size < min_voxels:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            y = 1.0 - np.corrcoef(X[idx].T)[iu]
        if not np.all(np.isfinite(y)):
            continue
        yc = y - y.mean()
        sst = yc @ yc
        for k, A in enumerate(mats.values()):
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            res = y - A @ coef
            out[c, k] = 1.0 - (res @ res) / sst
    return out


def default_n_jobs() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


# --------------------------------------------------------------------------------------------
# Groups of subjects
# --------------------------------------------------------------------------------------------
@dataclass
class GroupSearchlight:
    """Subject-averaged searchlight RDMs and noise ceilings.

    Attributes
    ----------
    mean_rdms : ndarray ``(n_centres, n_pairs)``
        Mean over subjects of the condensed RDMs (NaN rows: neighbourhood too small / constant).
    lower, upper : ndarray ``(n_centres,)``
        Noise ceilings (see :mod:`brainalign.rsa.noise_ceiling`).
    centres : ndarray ``(n_centres, 3)``
        Sphere centres (voxel indices) or block corners.
    n_subjects : int
    """

    mean_rdms: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    centres: np.ndarray
    n_subjects: int


def group_searchlight_rdms(
    subjects: Sequence[ArrayLike],
    mask: ArrayLike,
    *,
    radius: float | None = 3.0,
    neighbourhoods: Neighbourhoods | None = None,
    ceiling_statistic: str = "spearman",
    chunk_size: int = 4096,
    n_jobs: int | None = 1,
    dtype: type = np.float32,
    min_voxels: int = 3,
) -> GroupSearchlight:
    """Searchlight RDMs of every subject, averaged, with lower/upper noise ceilings per centre.

    Subjects are processed chunk by chunk in lockstep, so memory holds
    ``n_subjects × chunk_size × n_pairs`` RDM values at a time (plus the mean).

    Parameters
    ----------
    subjects : sequence of arrays ``(X, Y, Z, n_conditions)``
        One 4-D volume per subject (same grid as ``mask``).
    """
    from brainalign.rsa.noise_ceiling import noise_ceiling_condensed as noise_ceiling

    if len(subjects) < 2:
        raise ValueError(f"need at least 2 subjects; got {len(subjects)}")
    shapes = {np.asarray(s).shape for s in subjects}
    if len(shapes) != 1:
        raise ValueError(f"subject volumes differ in shape: {sorted(shapes)}")
    gens = [
        searchlight_rdm_chunks(
            s, mask, radius=radius, neighbourhoods=neighbourhoods, chunk_size=chunk_size,
            n_jobs=n_jobs, dtype=dtype, min_voxels=min_voxels, reuse_buffer=True,
        )
        for s in subjects
    ]  # fmt: skip
    means, los, ups = [], [], []
    for parts in zip(*gens, strict=True):
        R = np.stack([p[1] for p in parts])  # (S, n, P)
        bad = ~np.all(np.isfinite(R[:, :, 0]), axis=0) | ~np.all(
            np.isfinite(np.stack([p[2][:, 0] for p in parts])), axis=0
        )
        R[:, bad] = 0.0
        mean = R.mean(axis=0, dtype=np.float64).astype(dtype)
        lo, up = noise_ceiling(R, statistic=ceiling_statistic, n_jobs=n_jobs or 1)
        mean[bad] = np.nan
        lo[bad] = np.nan
        up[bad] = np.nan
        means.append(mean)
        los.append(lo)
        ups.append(up)
    if neighbourhoods is None:
        centres = np.argwhere(_check_mask(mask))
    else:
        centres = neighbourhoods.centres
    return GroupSearchlight(
        np.concatenate(means), np.concatenate(los), np.concatenate(ups), centres, len(subjects)
    )
