"""Mouse RSA: tau-a of model layers against 100 half-trial brain RDMs, and the RDMs themselves.

On the real sizes (118 natural scenes and 60 movie bins, 100 bootstrap RDMs, 14 layers):

* tau-a: ``brainalign.rsa.compare.compare_rdms_many`` (the core's exact integer Kendall kernel,
  one thread, every RDM ranked once; what ``mouse_rsa.analysis.compare_layers`` calls) vs
  ``rsatoolbox.rdm.compare(brain, models, method='tau-a')`` (one call for all pairs, its fastest
  use);
* RDMs: ``brainalign.rsa.trials.half_mean_rdms`` (vectorised) vs a loop of ``np.corrcoef`` over
  the draws (the original's way).

Both sides run in this process with one BLAS/OpenMP thread, interleaved, over several rounds
(min and median); the values are checked equal alongside.

    .venv/bin/python benchmarks/bench_mouse_rsa.py [--rounds 5] [--cells 400]
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

from brainalign.rsa.compare import compare_rdms_many  # noqa: E402
from brainalign.rsa.trials import half_mean_rdms, half_selections  # noqa: E402


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _loop_rdms(x, rows):
    iu = np.triu_indices(x.shape[1], 1)
    return np.stack([1 - np.corrcoef(x[r].mean(axis=0))[iu] for r in rows])


def _bench(n: int, trials: int, cells: int, n_layers: int, rounds: int, rng) -> None:
    from rsatoolbox.rdm import RDMs, compare

    x = rng.standard_normal((n, cells)) + rng.standard_normal((trials, n, cells))
    boot = half_mean_rdms(x, 100, seed=1)
    layers = rng.random((n_layers, boot.shape[1])) + 0.2 * boot.mean(axis=0)
    rows = half_selections(trials, 100, 1)[:, : trials // 2]
    compare_rdms_many(layers[:1], boot[:1], "tau_a")  # load the compiled kernel once
    runs = {
        "brainalign tau-a": lambda: compare_rdms_many(layers, boot, "tau_a"),
        "rsatoolbox tau-a": lambda: compare(RDMs(layers), RDMs(boot), method="tau-a"),
        "brainalign RDMs": lambda: half_mean_rdms(x, 100, seed=1),
        "corrcoef loop RDMs": lambda: _loop_rdms(x, rows),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    out = {}
    for _ in range(rounds):
        for name, fn in runs.items():  # interleaved
            t, out[name] = _timed(fn)
            times[name].append(t)
    print(f"{n} conditions, {trials} trials, {cells} cells, 100 RDMs, {n_layers} layers, "
          f"{rounds} rounds")  # fmt: skip
    for k, ts in times.items():
        print(f"  {k:20s} min {min(ts) * 1e3:9.1f} ms  "
              f"median {statistics.median(ts) * 1e3:9.1f} ms")  # fmt: skip
    ratio = min(times["rsatoolbox tau-a"]) / min(times["brainalign tau-a"])
    diff = np.abs(out["brainalign tau-a"] - out["rsatoolbox tau-a"]).max()
    print(f"  tau-a: {ratio:.1f}x faster than rsatoolbox (min), largest difference {diff:.2g}")
    ratio = min(times["corrcoef loop RDMs"]) / min(times["brainalign RDMs"])
    diff = np.abs(out["brainalign RDMs"] - out["corrcoef loop RDMs"]).max()
    print(f"  RDMs: {ratio:.1f}x faster than the loop (min), largest difference {diff:.2g}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cells", type=int, default=400)
    ap.add_argument("--layers", type=int, default=14)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    for n, trials in ((118, 50), (60, 10)):
        _bench(n, trials, args.cells, args.layers, args.rounds, rng)


if __name__ == "__main__":
    main()
