"""Searchlight RDMs and regressions from volumes, vectorised and memory-bounded.

Neighbourhoods
    * spheres: every mask voxel is a centre; its neighbourhood is the mask voxels within
      ``radius`` voxels (Euclidean, in voxel units);
    * Brainiak-style blocks (Dwivedi et al. 2021, ``searchlight_utils.get_blocks``): blocks start
      every ``max_blk_edge`` voxels; a block's neighbourhood is its outer cube of
      ``max_blk_edge + 2 * sl_rad`` voxels per side (mask voxels only); a block is kept when its
      inner part touches the mask; results go back to the volume with the original ``blocks2sl``.

Per-centre RDM
    correlation distance ``1 - Pearson r`` between the condition patterns across the
    neighbourhood's voxels, condensed (strict upper triangle, row-major).

Speed
    A centre's RDM needs the Gram matrix of its patterns ``G = Σ_v x_v x_vᵀ`` (with a column of
    ones appended so voxel counts and sums come along).  Neighbouring sphere centres on one z-line
    share most voxels, so the kernel walks each z-line and updates ``G`` only with the voxels that
    enter and leave the sphere (``2 × #columns`` of the stencil instead of all its voxels: 58
    instead of 123 for radius 3), as one BLAS rank-k update per step.  Lines run in parallel
    (numba ``prange``); centres come in chunks whose RDMs are regressed on the model RDMs with one
    matrix product and then dropped, so memory is bounded by ``chunk_size × n_pairs``.  Data are
    standardised per condition over the mask first (this leaves every within-neighbourhood
    correlation unchanged) to keep float32 sums well conditioned.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic
from numpy.typing import ArrayLike

from brainalign.rsa.regression import DesignBases

__all__ = [
    "GroupSearchlight",
    "Neighbourhoods",
    "group_searchlight_rdms",
    "label_neighbourhoods",
    "block_neighbourhoods",
    "blocks_to_volume",
    "centres_to_volume",
    "naive_searchlight_r2",
    "prepare_volume",
    "searchlight_r2",
    "searchlight_rdm_chunks",
    "searchlight_rdms",
    "sphere_neighbourhoods",
    "sphere_offsets",
]

_KB = 8  # data columns are padded to a multiple of this
_FM = {"contract", "nsz"}  # fused multiply-add, no reassociation
_FM_SUM = {"contract", "nsz", "reassoc"}  # vectorised sums (fixed order per build: deterministic)


# --------------------------------------------------------------------------------------------
# Neighbourhoods
# --------------------------------------------------------------------------------------------
def sphere_offsets(radius: float) -> np.ndarray:
    """Integer offsets ``(k, 3)`` with ``dx² + dy² + dz² <= radius²`` (C order)."""
    radius = float(radius)
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite number >= 0; got {radius}")
    r = int(np.floor(radius))
    g = np.arange(-r, r + 1)
    d = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return d[(d**2).sum(axis=1) <= radius**2 + 1e-9]


def _check_mask(mask: ArrayLike) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 3:
        raise ValueError(f"mask must be 3-D; got shape {m.shape}")
    m = m.astype(bool)
    if not m.any():
        raise ValueError("mask is empty")
    return m


@dataclass(frozen=True)
class Neighbourhoods:
    """Searchlight neighbourhoods over the voxels of a mask.

    Attributes
    ----------
    kind : {"sphere", "block"}
    shape : tuple
        Volume shape.
    voxels : ndarray ``(n_voxels, 3)``
        Mask voxels in C order; data rows follow this order.
    centres : ndarray ``(n_centres, 3)``
        Sphere centres, or block corners (lowest voxel of the outer cube) for blocks.
    indptr, indices : ndarrays
        CSR lists of each neighbourhood's rows into ``voxels``.
    radius : float
        Sphere radius / ``sl_rad`` for blocks.
    block_shape : ndarray ``(n_centres, 3)`` or None
        Outer-block size of each block (clipped at the volume edge), as the original.
    max_blk_edge : int or None
    """

    kind: str
    shape: tuple[int, int, int]
    voxels: np.ndarray
    centres: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    radius: float
    block_shape: np.ndarray | None = None
    max_blk_edge: int | None = None
    centre_rows: np.ndarray | None = field(default=None)

    @property
    def n_centres(self) -> int:
        """Number of searchlights."""
        return int(self.centres.shape[0])

    def sizes(self) -> np.ndarray:
        """Number of mask voxels in each neighbourhood."""
        return np.diff(self.indptr)


def _row_grid(mask: np.ndarray, pad: int) -> np.ndarray:
    grid = np.full(tuple(s + 2 * pad for s in mask.shape), -1, dtype=np.int32)
    inner = grid[pad : pad + mask.shape[0], pad : pad + mask.shape[1], pad : pad + mask.shape[2]]
    inner[mask] = np.arange(int(mask.sum()), dtype=np.int32)
    return grid


def sphere_neighbourhoods(
    mask: ArrayLike, radius: float, centres: ArrayLike | None = None
) -> Neighbourhoods:
    """Spheres of ``radius`` voxels around every mask voxel (or the given ``centres``).

    Parameters
    ----------
    mask : bool array ``(X, Y, Z)``
    radius : float
        In voxels.
    centres : int array ``(n, 3)``, optional
        Default: all mask voxels, in C order.
    """
    m = _check_mask(mask)
    voxels = np.argwhere(m)
    offs = sphere_offsets(radius)
    pad = int(np.abs(offs).max()) if offs.size else 0
    grid = _row_grid(m, pad)
    if centres is None:
        c = voxels
        centre_rows = np.arange(voxels.shape[0])
    else:
        c = np.asarray(centres, dtype=np.int64)
        if c.ndim != 2 or c.shape[1] != 3:
            raise ValueError(f"centres must have shape (n, 3); got {c.shape}")
        inside = np.all((c >= 0) & (c < np.array(m.shape)), axis=1)
        if not inside.all():
            raise ValueError(f"centre {c[~inside][0].tolist()} lies outside the volume {m.shape}")
        centre_rows = grid[c[:, 0] + pad, c[:, 1] + pad, c[:, 2] + pad]
    nb = grid[
        c[:, None, 0] + offs[None, :, 0] + pad,
        c[:, None, 1] + offs[None, :, 1] + pad,
        c[:, None, 2] + offs[None, :, 2] + pad,
    ]
    keep = nb >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
    indices = nb[keep].astype(np.int32)
    return Neighbourhoods(
        "sphere", m.shape, voxels, c, indptr, indices, float(radius), centre_rows=centre_rows
    )


def block_neighbourhoods(mask: ArrayLike, sl_rad: int = 1, max_blk_edge: int = 2) -> Neighbourhoods:
    """Brainiak-style blocks of the original (``get_blocks(mask, sl_rad, max_blk_edge)``).

    A block starts every ``max_blk_edge`` voxels along each axis; its outer cube has
    ``max_blk_edge + 2 sl_rad`` voxels per side (clipped at the volume edge); it is kept if
    ``mask[i+sl_rad : i+shape-sl_rad, ...]`` has any voxel.  The neighbourhood is the mask voxels
    of the outer cube (the original used every voxel of the cube; outside-mask voxels carry no
    data here).
    """
    m = _check_mask(mask)
    sl_rad = int(sl_rad)
    max_blk_edge = int(max_blk_edge)
    if sl_rad < 0 or max_blk_edge < 1:
        raise ValueError(f"need sl_rad >= 0 and max_blk_edge >= 1; got {sl_rad}, {max_blk_edge}")
    voxels = np.argwhere(m)
    grid = _row_grid(m, 0)
    outer = max_blk_edge + 2 * sl_rad
    corners, shapes, members = [], [], []
    X, Y, Z = m.shape
    for i in range(0, X, max_blk_edge):
        for j in range(0, Y, max_blk_edge):
            for k in range(0, Z, max_blk_edge):
                sub = grid[i : i + outer, j : j + outer, k : k + outer]
                bs = sub.shape
                inner = m[
                    i + sl_rad : i + bs[0] - sl_rad,
                    j + sl_rad : j + bs[1] - sl_rad,
                    k + sl_rad : k + bs[2] - sl_rad,
                ]
                if inner.any():
                    corners.append((i, j, k))
                    shapes.append(bs)
                    rows = sub[sub >= 0]
                    members.append(rows.astype(np.int32))
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in members])]).astype(np.int64)
    indices = np.concatenate(members).astype(np.int32) if members else np.zeros(0, dtype=np.int32)
    return Neighbourhoods(
        "block",
        m.shape,
        voxels,
        np.asarray(corners, dtype=np.int64).reshape(-1, 3),
        indptr,
        indices,
        float(sl_rad),
        block_shape=np.asarray(shapes, dtype=np.int64).reshape(-1, 3),
        max_blk_edge=max_blk_edge,
    )


def blocks_to_volume(values: ArrayLike, nbh: Neighbourhoods, fill: float = np.nan) -> np.ndarray:
    """Write one value per block back into the volume (the original ``blocks2sl``).

    Block ``b`` with corner ``pt`` and outer shape ``sz`` fills
    ``[pt + sl_rad, pt + sl_rad + sz)`` along each axis, later blocks overwriting earlier ones
    (so each value ends up on the block's inner voxels except at the last block of a row).
    """
    if nbh.kind != "block" or nbh.block_shape is None:
        raise ValueError(f"blocks_to_volume needs block neighbourhoods; got kind {nbh.kind!r}")
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != nbh.n_centres:
        raise ValueError(f"got {v.shape[0]} values for {nbh.n_centres} blocks")
    out = np.full(nbh.shape + v.shape[1:], fill, dtype=np.float64)
    r = int(nbh.radius)
    for b in range(nbh.n_centres):
        pt, sz = nbh.centres[b], nbh.block_shape[b]
        out[
            pt[0] + r : pt[0] + r + sz[0],
            pt[1] + r : pt[1] + r + sz[1],
            pt[2] + r : pt[2] + r + sz[2],
        ] = v[b]
    return out


def centres_to_volume(values: ArrayLike, nbh: Neighbourhoods, fill: float = np.nan) -> np.ndarray:
    """Volume ``nbh.shape (+ trailing axes)`` with each centre's value at its voxel (spheres) or
    written back with :func:`blocks_to_volume` (blocks)."""
    if nbh.kind == "block":
        return blocks_to_volume(values, nbh, fill)
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != nbh.n_centres:
        raise ValueError(f"got {v.shape[0]} values for {nbh.n_centres} centres")
    out = np.full(nbh.shape + v.shape[1:], fill, dtype=np.float64)
    c = nbh.centres
    out[c[:, 0], c[:, 1], c[:, 2]] = v
    return out


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------
def prepare_volume(
    data: ArrayLike, mask: ArrayLike, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Masked, per-condition standardised data ``(n_voxels, n_cond + 1 (+ pad))`` for the kernels.

    The extra column is 1 (voxel counts and sums ride along in the Gram matrix); columns are padded
    with zeros to a multiple of 8.  Standardising each condition over the whole mask leaves every
    within-neighbourhood correlation unchanged.

    Returns
    -------
    rows : ndarray ``(n_voxels, n_cols)``
    mask : bool ndarray
    """
    m = _check_mask(mask)
    d = np.asarray(data)
    if d.ndim != 4 or d.shape[:3] != m.shape:
        raise ValueError(
            f"data must be 4-D (x, y, z, condition) matching mask {m.shape}; got {d.shape}"
        )
    n_cond = d.shape[3]
    if n_cond < 3:
        raise ValueError(f"need at least 3 conditions; got {n_cond}")
    X = d[m]
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(d) & m[..., None])[0]
        raise ValueError(
            f"data contain NaN/inf inside the mask, e.g. at voxel/condition {bad.tolist()}"
        )
    mu = X.mean(axis=0, dtype=np.float64)
    sd = X.std(axis=0, dtype=np.float64)
    sd[sd == 0] = 1.0
    n_cols = int(np.ceil((n_cond + 1) / _KB) * _KB)
    rows = np.zeros((X.shape[0], n_cols), dtype=dtype)
    step = 1 << 16  # centre and scale in float64, a slab of voxels at a time
    for v0 in range(0, X.shape[0], step):
        rows[v0 : v0 + step, :n_cond] = (X[v0 : v0 + step] - mu) / sd
    rows[:, n_cond] = 1.0
    return rows, m


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
def _sphere_lines_kernel(
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
    """
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
# Public RDM / regression drivers
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
    :class:`brainalign.rsa.regression.DesignBases`); ``kwargs`` go to :func:`searchlight_rdm_chunks`.
    Centres with NaN RDMs get NaN.

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
            p2 = proj.astype(np.float64) ** 2
            ss = np.zeros((p2.shape[0], len(db.bases)))
            for k in range(len(db.bases)):
                lo, hi = db._edges[k], db._edges[k + 1]
                if hi > lo:
                    ss[:, k] = p2[:, lo:hi].sum(axis=1)
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
    iu = np.triu_indices(n_cond, 1)
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
# ROIs and groups of subjects
# --------------------------------------------------------------------------------------------
def label_neighbourhoods(
    mask: ArrayLike, labels: ArrayLike, ids: ArrayLike | None = None
) -> Neighbourhoods:
    """One neighbourhood per label id (an ROI atlas): its voxels inside the mask.

    ``centres`` holds each ROI's first voxel (for bookkeeping only).
    """
    m = _check_mask(mask)
    lab = np.asarray(labels)
    if lab.shape != m.shape:
        raise ValueError(f"labels have shape {lab.shape}; mask has {m.shape}")
    lm = lab[m]
    if ids is None:
        ids = np.unique(lm[lm > 0])
    ids = np.asarray(ids)
    members, centres = [], []
    voxels = np.argwhere(m)
    for i in ids:
        rows = np.flatnonzero(lm == i)
        if rows.size == 0:
            raise ValueError(f"ROI id {i} has no voxel inside the mask")
        members.append(rows.astype(np.int32))
        centres.append(voxels[rows[0]])
    indptr = np.concatenate([[0], np.cumsum([r.size for r in members])]).astype(np.int64)
    return Neighbourhoods(
        "roi",
        m.shape,
        voxels,
        np.asarray(centres, dtype=np.int64).reshape(-1, 3),
        indptr,
        np.concatenate(members),
        0.0,
    )


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
