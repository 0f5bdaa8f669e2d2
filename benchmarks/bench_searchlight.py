"""Benchmark: whole-brain searchlight RDM regression, side by side with fair references.

Setting: the 2 mm MNI152 brain mask bundled with nilearn (235,375 centres), spheres of radius 3
voxels (123 voxels), 92 conditions, 20 model RDMs (10 models x 2 layers, each model one
regression with 2 predictors), one subject.  For every centre: the correlation-distance RDM
(4,186 pairs) and the R² of each model.

Timed, interleaved in the same run (``--rounds``, at least 3; min and median of each):

* **brainalign** ``searchlight_r2`` (float32, ``--n-jobs`` threads), whole brain, warm (kernels
  loaded, the call repeated in this process);
* **brainalign, first call in a fresh process**: a child process that imports brainalign and runs
  one ``searchlight_r2`` on the same data (read from a temporary file before the clock starts):
  import + numba cache load + set-up + the searchlight, i.e. what a workflow job pays per subject;
* **vectorised NumPy reference** (float64, one BLAS thread): spheres in batches
  (gather the sphere data, per-sphere correlation matrices by one batched matrix product, the RDM
  vectors, the R² of every model by one product with the models' orthonormal bases, i.e. a
  vectorised least squares), on a block of ``--ref-centres`` centres (``0``: the whole brain).
  Whole brain = its one-off set-up (masked data, neighbour lists of all centres, bases) + the
  per-centre cost of the block x 235,375 / ``--n-jobs`` (centres split perfectly over the cores:
  more generous than running it: two BLAS threads on these small products were slower here);
* **naive loop** (per sphere ``np.corrcoef`` + ``np.linalg.lstsq`` per model, float64) on
  ``--naive-centres`` random centres, one thread, extrapolated the same way.

Exactness is checked in the same run: the largest |R² difference| between brainalign (float32)
and the float64 NumPy reference on its block, and between the reference and the naive loop.
The load average is printed before and after; the targets of the performance issue beside the
results (first call <= 2 s per subject, |ΔR²| <= 1e-4).

Usage::

    .venv/bin/python benchmarks/bench_searchlight.py                 # ~4 minutes
    .venv/bin/python benchmarks/bench_searchlight.py --ref-centres 0 # reference on the whole brain
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

N_COND = 92
N_MODELS = 10
N_LAYERS = 2
RADIUS = 3.0
TARGET_FIRST_S = 2.0
TARGET_R2 = 1e-4


def make_problem(seed: int = 0):
    """Mask, 4-D data with spatially varying structure, and 10 two-layer model designs."""
    from nilearn.datasets import load_mni152_brain_mask
    from scipy.spatial.distance import pdist

    mask = load_mni152_brain_mask(resolution=2).get_fdata() > 0
    rng = np.random.default_rng(seed)
    feats = [rng.standard_normal((N_COND, 12)) for _ in range(N_MODELS)]
    designs = {}
    for k, f in enumerate(feats):
        layers = [f, np.tanh(f @ rng.standard_normal((12, 12)))]
        designs[f"model{k:02d}"] = np.stack([pdist(x, "correlation") for x in layers], axis=1)
    n_vox = int(mask.sum())
    data = np.zeros(mask.shape + (N_COND,), dtype=np.float32)
    # each voxel mixes the features of a few models (spatially structured) plus noise
    vox = np.argwhere(mask)
    which = (vox[:, 0] // 12 + vox[:, 1] // 12 + vox[:, 2] // 12) % N_MODELS
    sig = np.zeros((n_vox, N_COND), dtype=np.float32)
    for k in range(N_MODELS):
        sel = which == k
        w = rng.standard_normal((12, int(sel.sum())))
        sig[sel] = (feats[k] @ w).T
    data[mask] = sig + 2.0 * rng.standard_normal((n_vox, N_COND), dtype=np.float32)
    return mask, data, designs


# --------------------------------------------------------------------------------------------
# References (float64, independent of brainalign's code)
# --------------------------------------------------------------------------------------------
def reference_setup(mask: np.ndarray, data: np.ndarray, designs: dict, radius: float):
    """One-off set-up of the NumPy reference: masked float64 data (+ a zero row for padding),
    the neighbour lists of every centre (padded with that row), the models' bases."""
    vox = np.argwhere(mask)
    X = np.vstack([data[mask].astype(np.float64), np.zeros((1, data.shape[3]))])
    r = int(radius)
    g = np.arange(-r, r + 1)
    offs = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    offs = offs[(offs**2).sum(1) <= radius**2 + 1e-9]
    rowid = np.full(tuple(s + 2 * r for s in mask.shape), vox.shape[0], dtype=np.int32)
    rowid[r:-r, r:-r, r:-r][mask] = np.arange(vox.shape[0])
    c = vox + r
    nbr = rowid[c[:, None, 0] + offs[:, 0], c[:, None, 1] + offs[:, 1], c[:, None, 2] + offs[:, 2]]
    n_pairs = next(iter(designs.values())).shape[0]
    bases = []
    for v in designs.values():  # orthonormal basis of [1, predictors]: lstsq by projection
        A = np.column_stack([np.ones(n_pairs), np.asarray(v, dtype=np.float64)])
        bases.append(np.linalg.qr(A)[0])
    return X, nbr, np.concatenate(bases, axis=1), [b.shape[1] for b in bases]


def reference_r2(X, nbr, Q, widths, centres: np.ndarray, batch: int = 32) -> np.ndarray:
    """R² of every model at ``centres`` (rows of ``nbr``), spheres in batches, float64."""
    n_cond = X.shape[1]
    iu = np.triu_indices(n_cond, 1)
    edges = np.cumsum([0, *widths])
    out = np.empty((centres.size, len(widths)))
    pad_row = X.shape[0] - 1
    for b0 in range(0, centres.size, batch):
        idx = nbr[centres[b0 : b0 + batch]]  # (B, k)
        w = (idx != pad_row)[:, :, None]
        n = w.sum(axis=1)  # (B, 1)
        P = X[idx]  # (B, k, C), padded rows are 0
        P = (P - P.sum(axis=1, keepdims=True) / n[:, None]) * w
        cov = np.matmul(P.transpose(0, 2, 1), P)  # (B, C, C)
        d = 1.0 / np.sqrt(np.einsum("bii->bi", cov))
        y = 1.0 - (cov * d[:, :, None] * d[:, None, :])[:, iu[0], iu[1]]  # (B, n_pairs)
        yc = y - y.mean(axis=1, keepdims=True)
        sst = np.einsum("bp,bp->b", yc, yc)
        proj = (y @ Q) ** 2
        ss_y = np.einsum("bp,bp->b", y, y)
        for k in range(len(widths)):
            ss_res = ss_y - proj[:, edges[k] : edges[k + 1]].sum(axis=1)
            out[b0 : b0 + batch, k] = 1.0 - ss_res / sst
    return out


def naive_setup(mask, data, designs, radius, centres_xyz):
    from brainalign.searchlight import sphere_neighbourhoods

    X = data[mask].astype(np.float64)
    nbh = sphere_neighbourhoods(mask, radius, centres_xyz)
    iu = np.triu_indices(data.shape[3], 1)
    mats = [np.column_stack([np.ones(iu[0].size), np.asarray(v)]) for v in designs.values()]
    return X, nbh, iu, mats


def naive_r2(X, nbh, iu, mats) -> np.ndarray:
    """Per sphere ``np.corrcoef`` and ``np.linalg.lstsq`` per model (float64)."""
    out = np.full((nbh.n_centres, len(mats)), np.nan)
    for c in range(nbh.n_centres):
        idx = nbh.indices[nbh.indptr[c] : nbh.indptr[c + 1]]
        y = 1.0 - np.corrcoef(X[idx].T)[iu]
        yc = y - y.mean()
        sst = yc @ yc
        for k, A in enumerate(mats):
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            res = y - A @ coef
            out[c, k] = 1.0 - (res @ res) / sst
    return out


def clock() -> np.ndarray:
    """(wall, CPU) seconds."""
    return np.array([time.perf_counter(), time.process_time()])


def reference_round(mask, data, designs, block, pick):
    """(wall, CPU) of the set-up and of the block, R² on the block and (not timed) on ``pick``."""
    t0 = clock()
    X, nbr, Q, widths = reference_setup(mask, data, designs, RADIUS)
    t1 = clock()
    ref = reference_r2(X, nbr, Q, widths, block)
    t2 = clock()
    return t1 - t0, t2 - t1, ref, reference_r2(X, nbr, Q, widths, pick)


def naive_round(mask, data, designs, pick):
    """(wall, CPU) of the set-up and of the loop, R² of the naive loop at centres ``pick``."""
    t0 = clock()
    nv = naive_setup(mask, data, designs, RADIUS, np.argwhere(mask)[pick])
    t1 = clock()
    out = naive_r2(*nv)
    return t1 - t0, clock() - t1, out


# --------------------------------------------------------------------------------------------
# Fresh-process first call
# --------------------------------------------------------------------------------------------
def first_call_child(path: str, n_jobs: int) -> None:
    """Child: read the problem (not timed), then import brainalign and run one searchlight."""
    with open(path, "rb") as fh:
        mask, data, designs = pickle.load(fh)
    t0, c0 = time.perf_counter(), time.process_time()
    from brainalign.searchlight import searchlight_r2
    from brainalign.searchlight.drivers import searchlight_r2 as _  # noqa: F401  (the module)

    t1 = time.perf_counter()
    searchlight_r2(data, mask, designs, radius=RADIUS, n_jobs=n_jobs)
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"import": t1 - t0, "first": t2 - t1, "total": t2 - t0, "cpu": c2 - c0}))


def run_first_call(path: str, n_jobs: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(n_jobs)}
    cmd = [sys.executable, __file__, "--first-call-child", path, "--n-jobs", str(n_jobs)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
def timed(fn):
    t0 = clock()
    out = fn()
    return clock() - t0, out


def stats(xs: list[float]) -> str:
    return f"{min(xs):8.2f} {statistics.median(xs):8.2f}"


def main() -> None:  # noqa: C901 - one linear benchmark script
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3)")
    ap.add_argument("--ref-centres", type=int, default=20_000, help="0: the whole brain")
    ap.add_argument("--naive-centres", type=int, default=200)
    ap.add_argument("--first-call-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first_call_child:
        first_call_child(args.first_call_child, args.n_jobs)
        return
    if args.rounds < 3:
        ap.error("--rounds must be >= 3")
    from threadpoolctl import threadpool_limits

    from brainalign.searchlight import searchlight_r2

    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    mask, data, designs = make_problem()
    n_centres = int(mask.sum())
    fd, path = tempfile.mkstemp(suffix=".pkl")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump((mask, data, designs), fh, protocol=pickle.HIGHEST_PROTOCOL)
    rng = np.random.default_rng(1)
    n_ref = n_centres if args.ref_centres <= 0 else min(args.ref_centres, n_centres)
    c0 = int(rng.integers(0, n_centres - n_ref + 1))
    ref_block = np.arange(c0, c0 + n_ref)  # a contiguous block (C order) of centres
    naive_pick = np.sort(rng.choice(n_centres, size=args.naive_centres, replace=False))
    print(f"{n_centres:,} centres, radius {RADIUS:g}, {N_COND} conditions, "
          f"{N_MODELS * N_LAYERS} model RDMs ({N_MODELS} models x {N_LAYERS} layers), "
          f"{args.n_jobs} threads; reference block {n_ref:,} centres, naive "
          f"{args.naive_centres} centres")  # fmt: skip

    searchlight_r2(data, mask, designs, radius=RADIUS, n_jobs=args.n_jobs)  # warm up
    T = {k: [] for k in ("fresh", "fresh_import", "warm", "ref_setup", "ref_pc", "naive_setup",
                         "naive_pc", "fresh_cpu", "warm_cpu", "ref_setup_cpu", "ref_pc_cpu",
                         "naive_setup_cpu", "naive_pc_cpu")}  # fmt: skip
    nj = args.n_jobs
    dr2 = dnaive = 0.0
    try:
        for r in range(args.rounds):
            fc = run_first_call(path, args.n_jobs)
            T["fresh"].append(fc["total"])
            T["fresh_import"].append(fc["import"])
            T["fresh_cpu"].append(fc["cpu"] / nj)
            (t_w, c_w), r2 = timed(lambda: searchlight_r2(data, mask, designs, radius=RADIUS,
                                                           n_jobs=nj))  # fmt: skip
            T["warm"].append(t_w)
            T["warm_cpu"].append(c_w / nj)
            with threadpool_limits(1):  # one BLAS thread: faster than 2 on stacked small products
                ts, tb, ref, ref_n = reference_round(mask, data, designs, ref_block, naive_pick)
                tns, tn, naive = naive_round(mask, data, designs, naive_pick)
            (t_s, t_b), (t_ns, t_n) = (ts[0], tb[0]), (tns[0], tn[0])
            parts = {"ref": (ts, tb, n_ref), "naive": (tns, tn, args.naive_centres)}
            for key, (setup, run, n) in parts.items():
                T[f"{key}_setup"].append(setup[0])
                T[f"{key}_pc"].append(run[0] / n)
                T[f"{key}_setup_cpu"].append(setup[1])
                T[f"{key}_pc_cpu"].append(run[1] / n)
            dr2 = max(dr2, float(np.nanmax(np.abs(r2[ref_block] - ref))))
            dnaive = max(dnaive, float(np.nanmax(np.abs(naive - ref_n))))
            print(f"round {r + 1}: first call (fresh process) {fc['total']:.2f} s, warm "
                  f"{t_w:.2f} s; reference {t_s:.2f} s set-up + {1e6 * t_b / n_ref:.0f} us/centre;"
                  f" naive {t_ns:.2f} s set-up + {1e3 * t_n / args.naive_centres:.1f} "
                  "ms/centre")  # fmt: skip
    finally:
        os.remove(path)

    # centres are independent: the references' per-centre cost split perfectly over n_jobs cores
    def whole(key: str, cpu: str = "") -> list[float]:
        pairs = zip(T[f"{key}_setup{cpu}"], T[f"{key}_pc{cpu}"], strict=True)
        return [s + pc * n_centres / nj for s, pc in pairs]

    ref_total, naive_total = whole("ref"), whole("naive")
    print(f"\nWhole brain, one subject.  References: 1 thread, per-centre cost x "
          f"{n_centres:,} / {nj} (split perfectly over {nj} cores) + one-off set-up")  # fmt: skip
    print(f"{'':<58}{'min s':>9}{'median s':>9}")
    print(f"{'brainalign, first call in a fresh process (all in)':<58}{stats(T['fresh'])}"
          f"   target <= {TARGET_FIRST_S:g} s")  # fmt: skip
    print(f"{'  of which import of brainalign.searchlight':<58}{stats(T['fresh_import'])}")
    print(f"{'brainalign, warm (kernels loaded)':<58}{stats(T['warm'])}")
    print(f"{'NumPy vectorised reference, float64':<58}{stats(ref_total)}")
    print(f"{'  of which set-up (once)':<58}{stats(T['ref_setup'])}")
    print(f"{'  per centre [us], one thread':<58}"
          f"{stats([1e6 * x for x in T['ref_pc']])}")  # fmt: skip
    print(f"{'naive loop (np.corrcoef + lstsq), float64':<58}{stats(naive_total)}")
    print(f"{'  per centre [ms], one thread':<58}"
          f"{stats([1e3 * x for x in T['naive_pc']])}")  # fmt: skip
    for name, ref in (("NumPy reference", ref_total), ("naive loop", naive_total)):
        print(f"speed-up over the {name}: first call {min(ref) / min(T['fresh']):.0f}x by min "
              f"({statistics.median(ref) / statistics.median(T['fresh']):.0f}x by median); warm "
              f"{min(ref) / min(T['warm']):.0f}x by min")  # fmt: skip
    print(f"\nCPU time / {nj} (what the wall times would be on {nj} idle cores; the references "
          "one thread each, as above):")  # fmt: skip
    ref_cpu, naive_cpu = whole("ref", "_cpu"), whole("naive", "_cpu")
    print(f"{'brainalign, first call in a fresh process (all in)':<58}{stats(T['fresh_cpu'])}")
    print(f"{'brainalign, warm':<58}{stats(T['warm_cpu'])}")
    print(f"{'NumPy vectorised reference, float64':<58}{stats(ref_cpu)}")
    print(f"{'naive loop, float64':<58}{stats(naive_cpu)}")
    fc_cpu = min(T["fresh_cpu"])
    print(f"speed-up by CPU time (min): over the NumPy reference {min(ref_cpu) / fc_cpu:.0f}x "
          f"first call, {min(ref_cpu) / min(T['warm_cpu']):.0f}x warm; over the naive loop "
          f"{min(naive_cpu) / fc_cpu:.0f}x first call, "
          f"{min(naive_cpu) / min(T['warm_cpu']):.0f}x warm")  # fmt: skip
    met = min(T["fresh"]) <= TARGET_FIRST_S
    print(f"first-call target {'met' if met else 'NOT met'} on this machine (by min)")
    print(f"max |R2 brainalign float32 - reference float64| over {n_ref:,} centres: {dr2:.2e}"
          f"   target <= {TARGET_R2:g}")  # fmt: skip
    print(f"max |R2 naive - reference| over {args.naive_centres} centres: {dnaive:.2e}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
