"""Compile every cached numba kernel of the package once, so first calls only load the cache.

numba writes compiled kernels (``cache=True``) to ``__pycache__`` next to their source, keyed by
the source file's modification time and size, the argument types and the CPU.  A fresh clone has
no cache: the first searchlight call of a process would compile the parallel kernels (tens of
seconds on two cores).  ``make`` runs this module once at install
(``python -m brainalign.pipeline.warmup``; the searchlight and Mantel kernels compile in two
processes side by side); afterwards a fresh process loads the kernels from
the cache in a fraction of a second.  Run it again after editing a kernel's source file (the cache
of that file is then stale and the next call would recompile it).

The calls are tiny and cover the argument types the library passes: float32 and float64
accumulation, float32 / float64 / integer input volumes, spheres (projected and plain RDMs) and
explicit neighbourhoods; the Mantel kernels through the public tests (Kendall tau-b / tau-a,
Pearson, Spearman, partial; small and large N take different paths).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import numpy as np

#: Modules whose ``cache=True`` kernels are warmed here (checked after the warm-up).
KERNEL_MODULES = (
    "brainalign.searchlight.kernels",
    "brainalign.searchlight._standardise",
    "brainalign.rsa._kernels",
    "brainalign.rsa._dot_kernels",
)


def warm_searchlight() -> None:
    """Run every searchlight kernel on a tiny volume for each argument type the drivers pass."""
    from brainalign.searchlight.drivers import searchlight_r2, searchlight_rdms
    from brainalign.searchlight.neighbourhoods import block_neighbourhoods

    rng = np.random.default_rng(0)
    g = np.indices((9, 9, 9)).reshape(3, -1).T - 4
    mask = ((g**2).sum(axis=1) <= 12).reshape(9, 9, 9)
    n_cond = 6
    iu = np.triu_indices(n_cond, 1)
    designs = {"m": rng.random((iu[0].size, 2))}
    base = rng.standard_normal((9, 9, 9, n_cond))
    for data in (base, base.astype(np.float32), np.round(10 * base).astype(np.int16)):
        for dtype in (np.float32, np.float64):
            searchlight_r2(data, mask, designs, radius=2.0, dtype=dtype, n_jobs=1)
            searchlight_rdms(data, mask, radius=2.0, dtype=dtype, n_jobs=1)
            searchlight_r2(
                data, mask, designs, neighbourhoods=block_neighbourhoods(mask), dtype=dtype
            )


def warm_mantel() -> None:
    """Run the Mantel tests once per method, at N with 3, 4 and 5 levels of the Kendall
    kernel's rank structure (each depth is its own compiled variant)."""
    from brainalign.rsa.mantel import PARTIAL_METHODS, mantel_test, partial_mantel_test

    rng = np.random.default_rng(0)
    for n in (12, 200, 750):
        x, y, z = (_rdm(rng, n) for _ in range(3))
        for method in ("tau_b", "tau_a", "spearman", "pearson"):
            mantel_test(x, y, method, permutations=5, seed=0)
        for method in PARTIAL_METHODS:
            partial_mantel_test(x, y, z, method, permutations=5, seed=0)


def _rdm(rng: np.random.Generator, n: int) -> np.ndarray:
    f = rng.standard_normal((n, 4))
    d = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    return d


def cache_report() -> dict[str, tuple[int, int]]:
    """``{module.kernel: (signatures loaded from the cache, signatures compiled)}`` of every
    ``cache=True`` dispatcher of :data:`KERNEL_MODULES` called from Python in this process.

    Helpers called only from other kernels (``_emit``, ``_put``, ...) are compiled into their
    callers' cache entries and are not listed.
    """
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    out = {}
    for name in KERNEL_MODULES:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if not isinstance(obj, CPUDispatcher) or isinstance(obj._cache, NullCache):
                continue
            hits = sum(obj.stats.cache_hits.values())
            misses = sum(obj.stats.cache_misses.values())
            if obj.__module__ == name and hits + misses:
                out[f"{name}.{attr}"] = (hits, misses)
    return out


def warm_parallel() -> None:
    """Both warm-ups side by side: the searchlight kernels in a child process while this one
    compiles the Mantel kernels (about 20 s and 55 s alone on one core), then the searchlight
    calls again here, which load what the child cached (and compile anything it did not, so
    :func:`cache_report` covers every kernel).

    The two sets share no dispatcher (separate modules), so the processes never write the same
    cache index: numba's index update is not safe across processes for one dispatcher.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    child = ctx.Process(target=warm_searchlight, name="warm_searchlight")
    child.start()
    try:
        warm_mantel()
    finally:
        child.join()
    warm_searchlight()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    warm_parallel()
    report = cache_report()
    if not args.quiet:
        loaded = sum(h for h, _ in report.values())
        compiled = sum(m for _, m in report.values())
        print(
            f"numba warm-up: {len(report)} cached kernels, {compiled} signatures compiled now, "
            f"{loaded} loaded from the cache, {time.perf_counter() - t0:.1f} s"
        )
        for k, (h, m) in sorted(report.items()):
            print(f"  {k}: {m} compiled, {h} loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
