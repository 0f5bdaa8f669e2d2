"""Benchmark: whole-brain searchlight RDM regression (issue 5 acceptance).

Setting: the 2 mm MNI152 brain mask bundled with nilearn (235,375 centres), spheres of radius 3
voxels (123 voxels), 92 conditions, 20 model RDMs, float32, 2 threads.  For every centre: the
correlation-distance RDM (4,186 pairs) and the R² of each model, where the 20 RDMs are 10 models
with 2 layers each (the paper's design: each network contributes its block4 and encoder-output
RDMs as two predictors of one regression).

Printed side by side:

* the vectorised searchlight (``brainalign.searchlight.searchlight_r2``): wall time, CPU time,
  peak resident memory (measured in a fresh child process);
* a naive loop (per sphere ``np.corrcoef`` + ``np.linalg.lstsq`` per model, float64) timed on a
  random subset of centres and extrapolated to the whole brain;
* the largest |R² difference| between the float32 fast path and the float64 naive reference on
  those centres.

Usage::

    .venv/bin/python benchmarks/bench_searchlight.py [--n-jobs 2] [--naive-centres 400]

The machine may be shared: the CPU time of the fast path divided by the thread count is printed
as well (it is what the wall time would be on idle cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

N_COND = 92
N_MODELS = 10
N_LAYERS = 2
RADIUS = 3.0


def make_problem(seed: int = 0):
    """Mask, 4-D data with spatially varying structure, and 20 model RDM designs."""
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


def run_fast(n_jobs: int, dtype=np.float32) -> dict:
    from brainalign.searchlight import searchlight_r2

    mask, data, designs = make_problem()
    # compile (cached after the first run) on a small slab
    small = mask.copy()
    small[:, :, 12:] = False
    searchlight_r2(data, small, designs, radius=RADIUS, n_jobs=n_jobs, dtype=dtype)
    t0, c0 = time.perf_counter(), time.process_time()
    r2 = searchlight_r2(
        data, mask, designs, radius=RADIUS, n_jobs=n_jobs, dtype=dtype, chunk_size=8192
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(os.environ["BENCH_OUT"], r2)
    return {"wall_s": wall, "cpu_s": cpu, "n_centres": int(r2.shape[0])}


def run_naive(n_centres: int, seed: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    from brainalign.searchlight import naive_searchlight_r2

    mask, data, designs = make_problem()
    vox = np.argwhere(mask)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(vox.shape[0], size=n_centres, replace=False))
    t0 = time.perf_counter()
    r2 = naive_searchlight_r2(data, mask, designs, radius=RADIUS, centres=vox[pick])
    return (time.perf_counter() - t0) / n_centres, pick, r2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--naive-centres", type=int, default=400)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = run_fast(args.n_jobs)
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return

    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_sl_{os.getpid()}.npy")
    env = dict(os.environ, BENCH_OUT=out, OMP_NUM_THREADS=str(args.n_jobs))
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--n-jobs", str(args.n_jobs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    fast = json.loads(proc.stdout.strip().splitlines()[-1])
    r2_fast = np.load(out)
    os.remove(out)

    per_centre, pick, r2_ref = run_naive(args.naive_centres)
    naive_total = per_centre * fast["n_centres"]
    ok = np.isfinite(r2_ref) & np.isfinite(r2_fast[pick])
    max_diff = float(np.max(np.abs(r2_fast[pick][ok] - r2_ref[ok])))

    rows = [
        ("centres", f"{fast['n_centres']:,}", ""),
        ("conditions / pairs", f"{N_COND} / {N_COND * (N_COND - 1) // 2}", ""),
        ("model RDMs (models x layers)", f"{N_MODELS * N_LAYERS} ({N_MODELS} x {N_LAYERS})", ""),
        ("threads", str(args.n_jobs), ""),
        ("fast: wall time [s]", f"{fast['wall_s']:.2f}", "target <= 6 s"),
        ("fast: CPU time / threads [s]", f"{fast['cpu_s'] / args.n_jobs:.2f}", "idle-core time"),
        ("fast: peak RSS [MB]", f"{fast['peak_rss_mb']:.0f}", "target <= 2048 MB"),
        (
            f"naive: per centre [ms] ({args.naive_centres} centres)",
            f"{per_centre * 1e3:.2f}",
            "",
        ),
        ("naive: extrapolated whole brain [s]", f"{naive_total:.0f}", ""),
        ("speed-up (naive / fast wall)", f"{naive_total / fast['wall_s']:.0f}x", "target >= 40x"),
        ("max |R2 fast32 - naive64|", f"{max_diff:.2e}", "target <= 1e-4"),
    ]
    w = max(len(r[0]) for r in rows)
    for name, val, note in rows:
        print(f"{name:<{w}}  {val:>12}  {note}")


if __name__ == "__main__":
    main()
