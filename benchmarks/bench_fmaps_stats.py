"""Functional maps: the grouped searchlight map's permutation test and bootstrap, against a refit.

The dwivedi2021 grouped map (``fmaps_searchlight_grouped``) tests every kept searchlight's unique
adjusted R² of 3 model groups (variance partitioning over the 7 unions) with label permutations,
and the winner's pairwise differences with a bootstrap over conditions (the partition refitted
on each draw).  Timed, on simulated RDMs of the default run's size (6,189 kept searchlights, 40
conditions) and of a real one (20,000 searchlights, 92 conditions):

* bootstrap: ``bootstrap_difference_p_many`` with ``unique_r2_draws`` (each draw a weighted fit
  on all entries, 32 draws per product) vs the straightforward refit (the drawn entries copied,
  every union's basis recomputed on them, each design projected on its own basis; what the
  workflow did before);
* permutations: ``permutation_test_bases`` on a ``PartitionPlan`` (one projection on the
  union's basis serves the 7 designs) vs the same test projecting on all 7 bases.

Both sides run in this process with one BLAS thread, in float32 as the workflow, interleaved,
over several rounds (min and median); the load average is printed before and after.  Exactness
is checked in the same run in float64: the bootstrap p-values and permutation p-values of the
two routes, and the unique R² of every draw (largest difference).

    .venv/bin/python benchmarks/bench_fmaps_stats.py [--rounds 3] [--draws 64]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from brainalign.rsa.ols import DesignBases, total_ss  # noqa: E402
from brainalign.rsa.partition import (  # noqa: E402
    PartitionPlan,
    partition_from_r2,
    union_designs,
    unique_r2_draws,
)
from brainalign.stats.bootstrap import (  # noqa: E402
    bootstrap_difference_p,
    bootstrap_difference_p_many,
    iter_bootstrap_indices,
)
from brainalign.stats.permutation import permutation_test_bases  # noqa: E402


def _simulate(n: int, m: int, rng) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from scipy.spatial.distance import pdist

    def rdm():
        return pdist(rng.standard_normal((n, 10)), "correlation")

    sets = {
        g: np.stack([rdm() for _ in range(k)], 1) for g, k in (("2D", 2), ("3D", 3), ("sem", 2))
    }
    mix = rng.random((m, 3)) * (rng.random((m, 1)) < 0.5)
    signal = mix @ np.stack([s[:, 0] for s in sets.values()])
    return (signal + rng.standard_normal((m, signal.shape[1]))).astype(np.float32), sets


def _refit_bootstrap(Y, sets, n_draws, seed, dtype):
    """Each draw: the drawn entries copied, every union refitted on its own basis."""
    arrs = list(sets.values())
    n = int((1 + np.sqrt(1 + 8 * Y.shape[1])) / 2)
    draws = []
    for ci in iter_bootstrap_indices(n, n_draws, seed=seed, replace=True):
        designs = union_designs([a[ci] for a in arrs])
        db = DesignBases({"+".join(map(str, k)): X for k, X in designs.items()}, dtype)
        Ys = Y[:, ci]
        r2 = db.ss_reg(Ys) / total_ss(Ys)[:, None]
        adj = db.adjust(r2)
        R = {k: adj[:, i] for i, k in enumerate(designs)}
        draws.append(partition_from_r2(len(arrs), R)["unique"])
    return np.stack(draws)


def _ours_bootstrap(Y, sets, n_draws, seed, dtype):
    return bootstrap_difference_p_many(
        Y, sets, lambda Ya, S, W: unique_r2_draws(Ya, S, W, dtype=dtype), n_bootstrap=n_draws,
        seed=seed,
    )  # fmt: skip


def _perm(Y, sets, n_perm, dtype, span: bool):
    plan = PartitionPlan(sets, dtype=dtype)
    bases = plan.bases
    if not span:
        designs = union_designs(list(sets.values()))
        bases = DesignBases({"+".join(map(str, k)): X for k, X in designs.items()}, dtype)
    return permutation_test_bases(
        Y, bases, lambda r2: plan.from_r2(r2)["unique"], n_permutations=n_perm, seed=3
    ).p


def _bench(n: int, m: int, draws: int, perms: int, rounds: int, rng) -> None:
    Y, sets = _simulate(n, m, rng)
    f32 = np.float32
    runs = {
        "bootstrap, weighted draws": lambda: _ours_bootstrap(Y, sets, draws, 1, f32),
        "bootstrap, refit on copies": lambda: bootstrap_difference_p(
            _refit_bootstrap(Y, sets, draws, 1, f32)
        ),
        "permutations, union basis": lambda: _perm(Y, sets, perms, f32, True),
        "permutations, 7 bases": lambda: _perm(Y, sets, perms, f32, False),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, fn in runs.items():  # interleaved
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    print(f"{m} searchlights, {n} conditions ({Y.shape[1]} pairs), 3 groups (2+3+2 RDMs), "
          f"{draws} draws / {perms} permutations, {rounds} rounds, 1 thread, float32")  # fmt: skip
    for k, ts in times.items():
        print(f"  {k:28s} min {min(ts):8.3f} s  median {statistics.median(ts):8.3f} s")
    for a, b in (("bootstrap, refit on copies", "bootstrap, weighted draws"),
                 ("permutations, 7 bases", "permutations, union basis")):  # fmt: skip
        print(f"  {b}: {min(times[a]) / min(times[b]):.1f}x faster (min)")
    # exactness in float64, on a slice of the searchlights
    Ys = Y[:500].astype(np.float64)
    u = unique_r2_draws(Ys, sets, _weights(n, 8, 1), dtype=np.float64)
    r = _refit_bootstrap(Ys, sets, 8, 1, np.float64)
    pb = _ours_bootstrap(Ys, sets, draws, 1, np.float64)
    rb = bootstrap_difference_p(_refit_bootstrap(Ys, sets, draws, 1, np.float64))
    pp = _perm(Ys, sets, perms, np.float64, True)
    rp = _perm(Ys, sets, perms, np.float64, False)
    print(f"  float64 on 500 searchlights: unique R² of 8 draws, largest difference "
          f"{np.abs(u - r).max():.2g}; bootstrap p-values equal: {np.array_equal(pb, rb)}; "
          f"permutation p-values equal: {np.array_equal(pp, rp)}")  # fmt: skip


def _weights(n: int, n_draws: int, seed: int) -> np.ndarray:
    n_pairs = n * (n - 1) // 2
    draws = iter_bootstrap_indices(n, n_draws, seed=seed, replace=True)
    return np.stack([np.bincount(ci, minlength=n_pairs) for ci in draws])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--draws", type=int, default=64)
    ap.add_argument("--perms", type=int, default=64)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    _bench(40, 6189, args.draws, args.perms, args.rounds, rng)
    _bench(92, 20000, max(8, args.draws // 4), max(8, args.perms // 4), args.rounds, rng)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
