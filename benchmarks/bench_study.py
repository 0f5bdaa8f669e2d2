"""The study's inference end to end: 4 conditions x 7 layers x 15 subjects = 420 Mantel tests.

Each test compares a 92 x 92 network RDM with a subject's 92 x 92 IT RDM by Kendall tau-b and
10,000 permutations, as in Truzzi & Cusack (2020).  The data are synthetic but of the study's
shapes and kinds: network RDMs are float64 correlation distances of random "activations" (the
conv layers' channel counts and the FC layers' 4,096 units), subject RDMs are correlation
distances of noisy copies of a shared latent.

"All in" means: validating every RDM, drawing one seeded permutation set per (condition, layer)
(shared by the 15 subjects, as in the workflow), every statistic and every p-value, and loading
the cached numba kernels.  Building the RDMs from activations is not part of the inference and is
timed separately.

Usage::

    .venv/bin/python benchmarks/bench_study.py                 # 2 threads
    .venv/bin/python benchmarks/bench_study.py --n-jobs 1
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

LAYER_UNITS = (96, 256, 384, 384, 256, 4096, 4096)


def correlation_rdm(features: np.ndarray) -> np.ndarray:
    """1 - Pearson r between rows, float64 (Gram matrix of centred, normalised rows)."""
    f = features - features.mean(axis=1, keepdims=True)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    rdm = 1.0 - f @ f.T
    rdm = (rdm + rdm.T) / 2
    np.fill_diagonal(rdm, 0.0)
    return rdm


def make_study(n_items: int, n_conditions: int, n_subjects: int, seed: int):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_items, 40))
    models = np.empty((n_conditions, len(LAYER_UNITS), n_items, n_items))
    for c in range(n_conditions):
        for layer, units in enumerate(LAYER_UNITS):
            mix = rng.normal(size=(40, units))
            acts = np.maximum(latent @ mix + 4.0 * rng.normal(size=(n_items, units)), 0.0)
            models[c, layer] = correlation_rdm(acts)
    subjects = np.stack(
        [correlation_rdm(latent + 2.5 * rng.normal(size=latent.shape)) for _ in range(n_subjects)]
    )
    return models, subjects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--conditions", type=int, default=4)
    ap.add_argument("--subjects", type=int, default=15)
    ap.add_argument("--items", type=int, default=92)
    ap.add_argument("--perms", type=int, default=10_000)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--method", default="tau_b")
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args()

    t0 = time.perf_counter()
    models, subjects = make_study(args.items, args.conditions, args.subjects, args.seed)
    t_rdms = time.perf_counter() - t0

    t0 = time.perf_counter()
    from brainalign.rsa.mantel import draw_permutations, mantel_many

    mantel_many(models[0, 0], subjects[:1], args.method, permutations=2, n_jobs=args.n_jobs)
    t_load = time.perf_counter() - t0

    n_layers = models.shape[1]
    n_tests = args.conditions * n_layers * args.subjects
    print(
        f"study: {args.conditions} conditions x {n_layers} layers x {args.subjects} subjects = "
        f"{n_tests} Mantel tests ({args.method}, {args.items} items, {args.perms} permutations, "
        f"n_jobs={args.n_jobs}, {os.cpu_count()} CPUs)"
    )

    t0 = time.perf_counter()
    taus = np.empty((args.conditions, n_layers, args.subjects))
    pvals = np.empty_like(taus)
    t_draw = 0.0
    for c in range(args.conditions):
        for layer in range(n_layers):
            td = time.perf_counter()
            rng = np.random.default_rng([args.seed, c, layer])
            perms = draw_permutations(args.items, args.perms, rng)
            t_draw += time.perf_counter() - td
            taus[c, layer], pvals[c, layer] = mantel_many(
                models[c, layer], subjects, args.method, perms, n_jobs=args.n_jobs
            )
        print(f"  condition {c}: mean tau per layer {np.round(taus[c].mean(axis=1), 3)}")
    t_inf = time.perf_counter() - t0
    total = t_load + t_inf

    print(f"\nRDM construction (not inference):        {t_rdms:7.2f} s")
    print(f"kernel load (cached numba):               {t_load:7.2f} s")
    print(f"permutation draws ({args.conditions * n_layers} sets):               {t_draw:7.2f} s")
    print(f"{n_tests}-test inference incl. draws:           {t_inf:7.2f} s")
    print(
        f"TOTAL all in (load + inference):          {total:7.2f} s"
        f"  ({1e3 * t_inf / n_tests:.1f} ms per test; target <= 45 s for 420 tests)"
    )
    print(f"p < 0.05 in {int((pvals < 0.05).sum())} of {n_tests} tests")


if __name__ == "__main__":
    main()
