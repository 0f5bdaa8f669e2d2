"""Compiled searchlight kernels: per-centre Gram matrices by BLAS rank-k updates, RDMs from them.

A centre's RDM needs the Gram matrix of its patterns ``G = Σ_v x_v x_vᵀ`` (with a column of ones
appended so voxel counts and sums come along).  Neighbouring sphere centres on one z-line share
most voxels, so :func:`_sphere_lines_kernel` walks each z-line and updates ``G`` only with the
voxels that enter and leave the sphere (``2 × #columns`` of the stencil instead of all its voxels:
58 instead of 123 for radius 3), as one BLAS rank-k update per step (SciPy's ``?gemm``, called by
address so the compiled kernels stay cacheable).  Lines run in parallel (numba ``prange``);
:func:`_direct_kernel` handles explicit neighbourhoods (blocks, ROIs).  :func:`_sphere_plan` lays
out the z-lines and the stencil columns; :func:`_threads` sets the numba and BLAS thread counts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from brainalign.searchlight.neighbourhoods import _row_grid, sphere_offsets

_FM = {"contract", "nsz"}  # fused multiply-add, no reassociation
_FM_SUM = {"contract", "nsz", "reassoc"}  # vectorised sums (fixed order per build: deterministic)


# --------------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------------
@functools.cache
def _blas_address(name: str) -> int:
    """Address of a BLAS routine of SciPy's ``cython_blas`` (the BLAS numba's ``np.dot`` uses)."""
    import ctypes

    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule)))


def _gemm_address(dtype: type) -> int:
    return _blas_address("sgemm" if np.dtype(dtype) == np.float32 else "dgemm")


@intrinsic
def _call_ptr13(typingctx, fn, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12):
    """Call the C function at address ``fn`` with 13 pointer arguments (given as integers).

    The address is a run-time argument, so the compiled kernels stay cacheable.
    """
    args = (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12)
    if not all(isinstance(t, types.Integer) for t in (fn, *args)):
        return None
    sig = types.void(types.uintp, *([types.uintp] * 13))

    def codegen(context, builder, signature, llargs):
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [ptr] * 13)
        callee = builder.inttoptr(llargs[0], fnty.as_pointer())
        builder.call(callee, [builder.inttoptr(a, ptr) for a in llargs[1:]])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, boundscheck=False)
def _gemm_acc(gemm, G, A, B, K, ipar, fpar, chars):  # pragma: no cover - compiled
    """``G += A[:K]ᵀ B[:K]`` in place (BLAS ``?gemm`` at address ``gemm``, beta = 1).

    Row-major ``G``, ``A``, ``B`` are the column-major ``Gᵀ``, ``Aᵀ``, ``Bᵀ``, so the call is
    ``Gᵀ += Bᵀ (Aᵀ)ᵀ`` with ``transa='N'``, ``transb='T'``.  ``ipar`` (int32[6]), ``fpar``
    (dtype[2]) and ``chars`` (uint8[2] = b'NT') are scratch.
    """
    if K <= 0:
        return
    ipar[0] = G.shape[1]  # m
    ipar[1] = G.shape[0]  # n
    ipar[2] = K
    ipar[3] = B.shape[1]  # lda (of Bᵀ)
    ipar[4] = A.shape[1]  # ldb (of Aᵀ)
    ipar[5] = G.shape[1]  # ldc
    fpar[0] = 1.0
    fpar[1] = 1.0
    pc = chars.ctypes.data
    pi = ipar.ctypes.data
    pf = fpar.ctypes.data
    i = ipar.itemsize
    _call_ptr13(
        gemm, pc, pc + 1, pi, pi + i, pi + 2 * i, pf, B.ctypes.data, pi + 3 * i,
        A.ctypes.data, pi + 4 * i, pf + fpar.itemsize, G.ctypes.data, pi + 5 * i,
    )  # fmt: skip


@njit(cache=True, fastmath=_FM, boundscheck=False)
def _put(A, B, k, rows, r, sign):  # pragma: no cover - compiled
    """Row ``k`` of the update: ``B[k] = rows[r]``, ``A[k] = sign * rows[r]``."""
    src = rows[r]
    a = A[k]
    b = B[k]
    for j in range(src.shape[0]):
        v = src[j]
        b[j] = v
        a[j] = sign * v


@njit(cache=True, fastmath=_FM_SUM, boundscheck=False)
def _emit(G, n_cond, min_vox, out, stats, o, s, dinv):  # pragma: no cover - compiled
    """Condensed correlation-distance RDM of Gram matrix ``G`` into ``out[o]``.

    Column ``n_cond`` of the data is the all-ones column: ``G[a, C]`` is the sum of condition ``a``
    and ``G[C, C]`` the voxel count.  ``stats[o] = (Σ y, Σ y²)`` of the written RDM ``y = 1 - r``
    (float64; accumulated from the correlations ``r`` so no large offset is summed).
    """
    C = n_cond
    n = np.float64(G[C, C])
    ok = n >= min_vox
    if ok:
        rn = 1.0 / np.sqrt(n)
        for a in range(C):
            sa = np.float64(G[a, C])
            va = np.float64(G[a, a]) - sa * sa / n
            if va <= 1e-10 * n:
                ok = False
                break
            s[a] = sa * rn
            dinv[a] = 1.0 / np.sqrt(va)
    if not ok:
        for q in range(out.shape[1]):
            out[o, q] = np.nan
        stats[o, 0] = np.nan
        stats[o, 1] = np.nan
        return
    one = np.float32(1.0)
    k = 0
    orow = out[o]
    tot = 0.0
    tot2 = 0.0
    for a in range(C - 1):
        m = C - a - 1
        sa = s[a]
        da = dinv[a]
        g = G[a, a + 1 : C]
        sb = s[a + 1 : C]
        db = dinv[a + 1 : C]
        dst = orow[k : k + m]
        t1 = np.float32(0.0)
        t2 = np.float32(0.0)
        for b in range(m):
            r = (g[b] - sa * sb[b]) * (da * db[b])
            dst[b] = one - r
            t1 += r
            t2 += r * r
        tot += t1
        tot2 += t2
        k += m
    P = np.float64(k)
    stats[o, 0] = P - tot
    stats[o, 1] = P - 2.0 * tot + tot2


@njit(cache=True, parallel=True, fastmath=_FM, boundscheck=False)
def _sphere_lines_kernel(  # noqa: C901 - one compiled loop nest; splitting it costs speed
    rows,
    grid,
    pad,
    is_centre,
    line_x,
    line_y,
    line_z0,
    line_z1,
    line_out,
    col_dx,
    col_dy,
    col_h,
    n_cond,
    min_vox,
    refresh,
    out,
    stats,
    Q,
    proj,
    project,
    lbufs,
    lsts,
    pbufs,
    gemm,
):  # pragma: no cover - compiled
    """RDMs of all centres on the given z-lines, by sliding the sphere along z.

    At the first centre of a line (and every ``refresh`` steps) the Gram matrix is built from all
    sphere voxels; in between it is updated with the voxels entering (top caps, +) and leaving
    (bottom caps, -) the sphere, as one BLAS rank-k update (``?gemm`` at address ``gemm``,
    accumulating in place).

    With ``project`` the RDMs of a line go to a small per-line buffer (cache resident) and only
    their projections on the model bases ``Q`` (``n_pairs × n_q``) are stored in ``proj``; ``out``
    is then unused.  ``lbufs``, ``lsts``, ``pbufs`` are per-thread scratch buffers (indexed by
    ``numba.get_thread_id()``) of ``max_line`` rows.
    """
    CP = rows.shape[1]
    n_lines = line_x.shape[0]
    n_cols = col_dx.shape[0]
    kmax = 0
    for c in range(n_cols):
        kmax += 2 * col_h[c] + 1
    kmax = max(kmax, 2 * n_cols)
    for li in prange(n_lines):
        G = np.zeros((CP, CP), dtype=rows.dtype)
        A = np.zeros((kmax, CP), dtype=rows.dtype)
        B = np.zeros((kmax, CP), dtype=rows.dtype)
        ipar = np.zeros(6, dtype=np.int32)
        fpar = np.zeros(2, dtype=rows.dtype)
        chars = np.array([78, 84], dtype=np.uint8)  # b"NT"
        s = np.zeros(n_cond, dtype=rows.dtype)
        dinv = np.zeros(n_cond, dtype=rows.dtype)
        if project:
            tid = numba.get_thread_id()
            lbuf = lbufs[tid]
            lst = lsts[tid]
            pbuf = pbufs[tid]
        else:
            lbuf = out
            lst = stats
            pbuf = proj
        x = line_x[li] + pad
        y = line_y[li] + pad
        o0 = line_out[li]
        o = o0 if not project else 0
        steps = refresh
        for z in range(line_z0[li], line_z1[li] + 1):
            zp = z + pad
            nk = 0
            if steps >= refresh:
                G[:, :] = 0.0
                for c in range(n_cols):
                    gx = x + col_dx[c]
                    gy = y + col_dy[c]
                    h = col_h[c]
                    for dz in range(-h, h + 1):
                        r = grid[gx, gy, zp + dz]
                        if r >= 0:
                            _put(A, B, nk, rows, r, 1.0)
                            nk += 1
                steps = 0
            else:
                for c in range(n_cols):
                    gx = x + col_dx[c]
                    gy = y + col_dy[c]
                    h = col_h[c]
                    r = grid[gx, gy, zp + h]
                    if r >= 0:
                        _put(A, B, nk, rows, r, 1.0)
                        nk += 1
                    r = grid[gx, gy, zp - h - 1]
                    if r >= 0:
                        _put(A, B, nk, rows, r, -1.0)
                        nk += 1
            _gemm_acc(gemm, G, A, B, nk, ipar, fpar, chars)
            steps += 1
            if is_centre[x, y, zp]:
                _emit(G, n_cond, min_vox, lbuf, lst, o, s, dinv)
                o += 1
        if project and o > 0:
            np.dot(lbuf[:o], Q, pbuf[:o])
            for i in range(o):
                for q in range(Q.shape[1]):
                    proj[o0 + i, q] = pbuf[i, q]
                stats[o0 + i, 0] = lst[i, 0]
                stats[o0 + i, 1] = lst[i, 1]


@njit(cache=True, parallel=True, fastmath=_FM, boundscheck=False)
def _direct_kernel(
    rows, indptr, indices, c0, c1, n_cond, min_vox, out, stats, gemm
):  # pragma: no cover - compiled
    """RDMs of neighbourhoods c0..c1-1 given as explicit row lists."""
    CP = rows.shape[1]
    kmax = 1
    for c in range(c0, c1):
        kmax = max(kmax, indptr[c + 1] - indptr[c])
    for ci in prange(c1 - c0):
        c = c0 + ci
        G = np.zeros((CP, CP), dtype=rows.dtype)
        A = np.zeros((kmax, CP), dtype=rows.dtype)
        B = np.zeros((kmax, CP), dtype=rows.dtype)
        ipar = np.zeros(6, dtype=np.int32)
        fpar = np.zeros(2, dtype=rows.dtype)
        chars = np.array([78, 84], dtype=np.uint8)  # b"NT"
        s = np.zeros(n_cond, dtype=rows.dtype)
        dinv = np.zeros(n_cond, dtype=rows.dtype)
        nk = 0
        for q in range(indptr[c], indptr[c + 1]):
            _put(A, B, nk, rows, indices[q], 1.0)
            nk += 1
        _gemm_acc(gemm, G, A, B, nk, ipar, fpar, chars)
        _emit(G, n_cond, min_vox, out, stats, ci, s, dinv)


@contextmanager
def _threads(n_jobs: int | None, blas: int | None = None) -> Iterator[int]:
    """Use ``n_jobs`` numba threads (None / <= 0: all) and ``blas`` BLAS threads (default: same).

    The RDM kernels call BLAS from inside numba's parallel loop, so they run with ``blas=1``.
    SciPy's BLAS (the one the kernels call) is loaded first: threadpoolctl only limits libraries
    already loaded, and an unlimited OpenBLAS threading inside the parallel loop made first calls
    in a fresh process seconds (under load, minutes) slower.
    """
    _blas_address("sgemm")  # loads scipy.linalg.cython_blas (and its OpenBLAS) before the limits
    n_max = numba.config.NUMBA_NUM_THREADS
    n = n_max if n_jobs is None or int(n_jobs) <= 0 else min(int(n_jobs), n_max)
    prev = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        # small dynamic chunks: z-lines differ in length
        with (
            threadpool_limits(limits=n if blas is None else int(blas)),
            numba.parallel_chunksize(4),
        ):
            yield n
    except ImportError:  # pragma: no cover
        yield n
    finally:
        numba.set_num_threads(prev)


# --------------------------------------------------------------------------------------------
# Sphere plan: z-lines and stencil columns
# --------------------------------------------------------------------------------------------
def _stencil_columns(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offs = sphere_offsets(radius)
    cols = {}
    for dx, dy, dz in offs:
        cols.setdefault((int(dx), int(dy)), []).append(int(dz))
    dx, dy, h = [], [], []
    for (a, b), dzs in sorted(cols.items()):
        hh = max(dzs)
        if sorted(dzs) != list(range(-hh, hh + 1)):  # pragma: no cover - spheres are convex
            raise ValueError("stencil columns must be symmetric runs")
        dx.append(a)
        dy.append(b)
        h.append(hh)
    return np.array(dx, np.int64), np.array(dy, np.int64), np.array(h, np.int64)


@dataclass
class _SpherePlan:
    grid: np.ndarray
    pad: int
    is_centre: np.ndarray
    line_x: np.ndarray
    line_y: np.ndarray
    line_z0: np.ndarray
    line_z1: np.ndarray
    line_count: np.ndarray
    col_dx: np.ndarray
    col_dy: np.ndarray
    col_h: np.ndarray
    centres: np.ndarray


def _sphere_plan(mask: np.ndarray, radius: float) -> _SpherePlan:
    dx, dy, h = _stencil_columns(radius)
    pad = int(max(np.abs(dx).max(), np.abs(dy).max(), h.max() + 1))
    grid = _row_grid(mask, pad)
    is_centre = np.zeros(grid.shape, dtype=np.bool_)
    is_centre[pad:-pad, pad:-pad, pad:-pad] = mask
    centres = np.argwhere(mask)
    xy = centres[:, 0] * mask.shape[1] + centres[:, 1]
    starts = np.flatnonzero(np.r_[True, xy[1:] != xy[:-1]])
    ends = np.r_[starts[1:], len(xy)]
    return _SpherePlan(
        grid,
        pad,
        is_centre,
        centres[starts, 0].astype(np.int64),
        centres[starts, 1].astype(np.int64),
        centres[starts, 2].astype(np.int64),
        centres[ends - 1, 2].astype(np.int64),
        (ends - starts).astype(np.int64),
        dx,
        dy,
        h,
        centres,
    )
