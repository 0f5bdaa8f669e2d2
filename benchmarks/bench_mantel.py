"""Per-test speed of brainalign's Mantel test against scikit-bio, side by side and exact.

One Mantel test of the study: two N x N RDMs, Kendall tau-b, 10,000 permutations. For each N in
``--sizes`` it times, in alternating rounds (``--rounds``, at least 3),

* ``brainalign.rsa.mantel.mantel_test`` in this process (1 thread and ``--n-jobs`` threads),
* ``skbio.stats.distance.mantel(method='kendalltau')`` -- what the original study ran -- in its
  fastest honest setting: its own process with one OpenMP/numba thread (``OMP_NUM_THREADS=1``;
  on a loaded 2-vCPU machine its OpenMP loop stalls with more), warmed up before the timed call,

on the same RDMs and the same permutations; checks in the same run that the statistics agree to
1e-12 and the p-values exactly; and prints min and median of each, the ratios, the machine load
before and after, and the targets of the performance issue beside them (>= 250x scikit-bio at
N = 92, >= 50x at N = 300 and 1000). ``--loops`` adds a ``scipy.stats.kendalltau`` loop and an
rsatoolbox tau-a loop (``--baseline-perms`` permutations, scaled linearly to the full test).

Usage::

    .venv/bin/python benchmarks/bench_mantel.py                       # N = 92, ~1 minute
    .venv/bin/python benchmarks/bench_mantel.py --sizes 92 300        # ~6 minutes
    .venv/bin/python benchmarks/bench_mantel.py --sizes 1000 --skbio-perms 500   # ~10 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

#: Targets of the performance issue: speed-up over scikit-bio per test, by N.
TARGETS = {92: 250.0, 300: 50.0, 1000: 50.0}


def make_rdms(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A model and a subject RDM (1 - Pearson r) that share some structure."""
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 50))
    model = squareform(pdist(latent + 1.5 * rng.normal(size=latent.shape), "correlation"))
    subject = squareform(pdist(latent + 3.0 * rng.normal(size=latent.shape), "correlation"))
    return model, subject


def skbio_child(n: int, seed: int, perms: int) -> None:
    """Run in the child process: one warmed-up scikit-bio Mantel test, JSON on stdout."""
    from skbio.stats.distance import mantel

    x, y = make_rdms(n, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mantel(x, y, method="kendalltau", permutations=2, seed=0)  # numba JIT, imports
        t0 = time.perf_counter()
        stat, p, _ = mantel(
            x, y, method="kendalltau", permutations=perms, seed=np.random.default_rng(seed)
        )
        elapsed = time.perf_counter() - t0
    print(json.dumps({"time": elapsed, "statistic": float(stat), "p": float(p)}))


def run_skbio(n: int, seed: int, perms: int) -> dict:
    """One scikit-bio test in its own one-thread process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
    cmd = [sys.executable, __file__, "--skbio-child", str(n), str(seed), str(perms)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def summary(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def loops(x, y, perms, n_base: int) -> list[tuple[str, float]]:
    """scipy and rsatoolbox loops on ``n_base`` permutations, scaled to all (exactness checked)."""
    from rsatoolbox.rdm.compare import compare_kendall_tau_a
    from scipy.stats import kendalltau

    from brainalign.rsa.mantel import permutation_statistics

    n = x.shape[0]
    iu = np.triu_indices(n, 1)
    vy = y[iu]
    scale = len(perms) / n_base
    _, null = permutation_statistics(x, y, "tau_b", perms[:n_base])
    t_sc, sc = timed(
        lambda: np.array([kendalltau(x[np.ix_(p, p)][iu], vy).statistic for p in perms[:n_base]])
    )
    assert np.max(np.abs(sc - null)) <= 1e-12
    _, null_a = permutation_statistics(x, y, "tau_a", perms[:n_base])

    def rsa_loop():
        xs = np.stack([x[np.ix_(p, p)][iu] for p in perms[:n_base]])
        return compare_kendall_tau_a(xs, vy[None, :])[:, 0]

    t_ra, ra = timed(rsa_loop)
    assert np.max(np.abs(ra - null_a)) <= 1e-12
    return [("scipy.stats.kendalltau loop", t_sc * scale), ("rsatoolbox tau-a loop", t_ra * scale)]


def bench_size(n: int, args) -> None:
    from brainalign.rsa.mantel import draw_permutations, mantel_test

    x, y = make_rdms(n, args.seed)
    perms = draw_permutations(n, args.perms, args.seed)  # == the permutations skbio draws
    mantel_test(x, y, permutations=3)  # load the cached numba kernels
    mantel_test(x, y, permutations=3, n_jobs=args.n_jobs)
    m = n * (n - 1) // 2
    k_sk = min(args.perms, args.skbio_perms or args.perms)
    print(f"\n== N = {n} ({m} pairs), Kendall tau-b, {args.perms} permutations ==")
    if k_sk < args.perms:
        print(f"scikit-bio runs the first {k_sk} of the same permutations; its time is scaled by "
              f"{args.perms / k_sk:g} (its cost is linear in the permutations); exactness is "
              f"checked on those {k_sk}")  # fmt: skip
    one, many, sk = [], [], []
    ref = None
    for r in range(args.rounds):
        t1, res1 = timed(lambda: mantel_test(x, y, "tau_b", perms, n_jobs=1))
        tj, resj = timed(lambda: mantel_test(x, y, "tau_b", perms, n_jobs=args.n_jobs))
        s = run_skbio(n, args.seed, k_sk)
        assert res1 == resj, "thread count changed the result"
        same = res1 if k_sk == args.perms else mantel_test(x, y, "tau_b", perms[:k_sk])
        assert abs(s["statistic"] - same.statistic) <= 1e-12, (s["statistic"], same.statistic)
        assert s["p"] == same.pvalue, (s["p"], same.pvalue)
        ref = res1
        one.append(t1)
        many.append(tj)
        sk.append(s["time"] * args.perms / k_sk)
        print(f"round {r + 1}: brainalign {t1:.3f} s (1 thr), {tj:.3f} s ({args.n_jobs} thr); "
              f"scikit-bio {s['time']:.2f} s")  # fmt: skip
    (o_min, o_med), (j_min, j_med), (s_min, s_med) = summary(one), summary(many), summary(sk)
    print(f"{'method':<44}{'min s':>9}{'median s':>10}")
    print(f"{'brainalign mantel_test, 1 thread':<44}{o_min:>9.3f}{o_med:>10.3f}")
    print(f"{f'brainalign mantel_test, {args.n_jobs} threads':<44}{j_min:>9.3f}{j_med:>10.3f}")
    scaled = " (scaled)" if k_sk < args.perms else ""
    print(f"{'scikit-bio mantel, own process, 1 thread':<44}{s_min:>9.2f}{s_med:>10.2f}{scaled}")
    target = TARGETS.get(n)
    want = f" (target >= {target:g}x)" if target else ""
    print(f"speed-up over scikit-bio, 1 thread: {s_min / o_min:.0f}x by min, "
          f"{s_med / o_med:.0f}x by median{want}")  # fmt: skip
    print(f"speed-up over scikit-bio, {args.n_jobs} threads: {s_min / j_min:.0f}x by min, "
          f"{s_med / j_med:.0f}x by median")  # fmt: skip
    if target:
        met = s_min / o_min >= target
        print(f"target {'met' if met else 'NOT met'} on this machine (1 thread, by min)")
    print(f"exact: statistic {ref.statistic:.12f} (p = {ref.pvalue:.6f}); statistic and p "
          "identical to scikit-bio's in every round (same permutations)")  # fmt: skip
    if args.loops:
        n_base = min(args.baseline_perms, args.perms)
        for name, t in loops(x, y, perms, n_base):
            print(f"{name:<44}{t:>9.2f}  ({n_base} perms scaled; {t / o_min:.0f}x brainalign)")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--skbio-child":
        skbio_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[92], help="conditions N")
    ap.add_argument("--perms", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (>= 3)")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--loops", action="store_true", help="add the scipy and rsatoolbox loops")
    ap.add_argument("--baseline-perms", type=int, default=1_000)
    ap.add_argument(
        "--skbio-perms",
        type=int,
        default=None,
        help="run scikit-bio on the first K permutations only and scale its time linearly "
        "(for N = 1000, where one full scikit-bio test takes ~25 min); default: all",
    )
    args = ap.parse_args()
    if args.rounds < 3:
        ap.error("--rounds must be >= 3 (min and median of alternating rounds)")
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    for n in args.sizes:
        bench_size(n, args)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
