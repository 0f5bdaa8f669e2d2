"""Layer RDMs (1 - Pearson r, 92 images) by brainalign against ``1 - np.corrcoef``, exact in rank.

The truzzi2020 workflow builds one correlation RDM per recorded layer (``compute_rdm`` in
``workflow/scripts/layer_rdms.py``): 4 networks x 7 layers (conv1-conv5, fc6, fc7) of 92
images. The layer shapes are read off the networks themselves (torchvision AlexNet, DeepCluster
AlexNet, modified AlexNet: a forward pass of one blank image, when torch is installed; else the
same shapes from a table); the 4 networks are the AlexNet, DeepCluster and modified-AlexNet
conditions (AlexNet twice, as trained and untrained). Activations are simulated, float32 as the
workflow stores them: rectified (ReLU zeros, sparsity varying by channel) mixtures of a shared
image structure plus noise, channel-major ``C x H x W`` like torch's flattening. Both settings
of ``networks: conv_pooling``:

* ``mean``: conv features are the channel means over space (64-384 features, fc 4096);
* ``none``: the flattened maps (up to 96 x 55 x 55 = 290,400 features).

For each BLAS thread count in ``--threads`` (threadpoolctl, both methods under the same limit)
and each layer it times, in alternating order within every round (``--rounds``, at least 3),
``brainalign.rsa.rdm.compute_rdm(x)`` and ``1 - np.corrcoef(x)`` (float64 inside, as the issue
measured it); small layers repeat each call so a timing is >= ~2 ms. It checks in the same run
that the condensed entries have exactly the same ranks (``scipy.stats.rankdata``, ties included)
as the float64 reference ``1 - np.corrcoef(x.astype(np.float64))`` and prints the largest
absolute difference. It prints the sum over the 28 layers (min and median over rounds of each
layer), the ratio, the slowest layer relative to ``np.corrcoef``, the load average before and
after, and the target of the performance issue beside the ratio: never slower than
``np.corrcoef`` (ratio >= 1.0 for the totals and for every layer).

Usage::

    .venv/bin/python benchmarks/bench_rdm.py                  # 1 and 2 threads, ~3 minutes
    .venv/bin/python benchmarks/bench_rdm.py --threads 1 --pooling none --per-layer
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

#: Target of the performance issue: time of ``1 - np.corrcoef`` / time of brainalign, at least.
TARGET = 1.0

N_IMAGES = 92
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
#: The 4 networks: (label, architecture in ``brainalign.networks.architectures.NETWORKS``).
NETWORKS = (
    ("alexnet_trained", "alexnet"),
    ("alexnet_untrained", "alexnet"),
    ("deepcluster", "deepcluster"),
    ("modified_alexnet", "modified_alexnet"),
)
#: Output shapes of the recorded ReLUs at 224 x 224 (what ``layer_shapes`` measures).
SHAPES = {
    "alexnet": ((64, 55, 55), (192, 27, 27), (384, 13, 13), (256, 13, 13), (256, 13, 13),
                (4096,), (4096,)),
    "deepcluster": ((96, 55, 55), (256, 27, 27), (384, 13, 13), (384, 13, 13), (256, 13, 13),
                    (4096,), (4096,)),
}  # fmt: skip
SHAPES["modified_alexnet"] = SHAPES["deepcluster"]


@functools.cache
def layer_shapes(arch: str) -> tuple[tuple[tuple[int, ...], ...], str]:
    """Per-layer output shapes of ``arch`` from a forward pass, or the table without torch."""
    try:
        import torch

        from brainalign.networks.architectures import build_network, relu_modules
    except ImportError:
        return SHAPES[arch], "table"
    model = build_network(arch, "untrained", seed=0).eval()
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(_module, _inputs, out):
            shapes[name] = tuple(out.shape[1:])

        return hook

    hooks = [module.register_forward_hook(record(name)) for name, module in relu_modules(model)]
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    return tuple(shapes[name] for name in LAYERS), "forward pass"


def simulate_layer(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """(92, prod(shape)) float32 ReLU activations, channel-major, with image structure."""
    channels = shape[0]
    per_channel = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    p = channels * per_channel
    latent = rng.standard_normal((N_IMAGES, 12), dtype=np.float32)
    x = latent @ rng.standard_normal((12, p), dtype=np.float32)
    x += 1.5 * rng.standard_normal((N_IMAGES, p), dtype=np.float32)
    # channel biases: some channels mostly silent, some mostly active
    bias = np.repeat(rng.normal(-0.5, 2.0, channels).astype(np.float32), per_channel)
    x += bias
    np.maximum(x, 0.0, out=x)
    return x


def simulate(seed: int) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Per network: (layer, features with conv_pooling none, with conv_pooling mean)."""
    rng = np.random.default_rng(seed)
    out = {}
    for label, arch in NETWORKS:
        shapes, _ = layer_shapes(arch)
        layers = []
        for name, shape in zip(LAYERS, shapes, strict=True):
            full = simulate_layer(shape, rng)
            if len(shape) == 3:  # the workflow's spatial mean of a conv map, stored as float32
                pooled = full.reshape(N_IMAGES, shape[0], -1).mean(axis=2, dtype=np.float64)
                pooled = pooled.astype(np.float32)
            else:
                pooled = full
            layers.append((name, full, pooled))
        out[label] = layers
    return out


def reference(x: np.ndarray) -> np.ndarray:
    """What the issue timed: ``1 - np.corrcoef(x)`` (float64 inside for float32 input)."""
    return 1 - np.corrcoef(x)


def condensed(rdm: np.ndarray) -> np.ndarray:
    return rdm[np.triu_indices(rdm.shape[0], 1)]


def check_exact(x: np.ndarray, rdm: np.ndarray) -> float:
    """Same ranks as the float64 reference (ties included); returns the largest difference."""
    from scipy.stats import rankdata

    ref = condensed(1 - np.corrcoef(x.astype(np.float64)))
    got = condensed(rdm)
    assert np.array_equal(rankdata(got), rankdata(ref)), "ranks differ from the float64 reference"
    assert np.array_equal(rdm, rdm.T) and not np.any(np.diag(rdm))
    return float(np.max(np.abs(got - ref)))


def timed(fn, x: np.ndarray, reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn(x)
    return (time.perf_counter() - t0) / reps


def peak_bytes(fn, x: np.ndarray) -> int:
    """Peak memory numpy allocates during one call (tracemalloc; numpy reports its buffers)."""
    tracemalloc.start()
    fn(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def bench_pooling(data, pooling: str, threads: int, args, compute_rdm) -> None:
    from threadpoolctl import threadpool_limits

    idx = 0 if pooling == "none" else 1
    layers = [(net, name, arrays[idx]) for net, ls in data.items() for name, *arrays in ls]
    p_max = max(x.shape[1] for _, _, x in layers)
    print(f"\n== conv_pooling: {pooling}, {threads} BLAS thread(s): {len(layers)} layers, "
          f"{N_IMAGES} images, {layers[0][2].shape[1]}-{p_max} features ==")  # fmt: skip
    ours: dict[int, list[float]] = {k: [] for k in range(len(layers))}
    refs: dict[int, list[float]] = {k: [] for k in range(len(layers))}
    worst_diff = 0.0
    with threadpool_limits(limits=threads, user_api="blas"):
        reps = []
        for _, _, x in layers:  # warm-up, exactness, repetitions for short calls
            worst_diff = max(worst_diff, check_exact(x, compute_rdm(x)))
            t = min(timed(compute_rdm, x, 1), timed(reference, x, 1))
            reps.append(max(1, min(200, int(0.002 / max(t, 1e-7)))))
        for r in range(args.rounds):
            for k, (_, _, x) in enumerate(layers):
                pair = [("ours", compute_rdm), ("ref", reference)]
                for which, fn in pair if (r + k) % 2 == 0 else pair[::-1]:
                    (ours if which == "ours" else refs)[k].append(timed(fn, x, reps[k]))
            o = sum(min(v) for v in ours.values())
            c = sum(min(v) for v in refs.values())
            print(f"round {r + 1}: brainalign {o * 1e3:.1f} ms, np.corrcoef {c * 1e3:.1f} ms "
                  "(sums of per-layer minima so far)")  # fmt: skip
    o_min = sum(min(v) for v in ours.values())
    o_med = sum(statistics.median(v) for v in ours.values())
    c_min = sum(min(v) for v in refs.values())
    c_med = sum(statistics.median(v) for v in refs.values())
    ratios = [(min(refs[k]) / min(ours[k]), k) for k in range(len(layers))]
    print(f"{'method (sum over layers)':<40}{'min ms':>10}{'median ms':>11}")
    print(f"{'brainalign compute_rdm':<40}{o_min * 1e3:>10.1f}{o_med * 1e3:>11.1f}")
    print(f"{'1 - np.corrcoef':<40}{c_min * 1e3:>10.1f}{c_med * 1e3:>11.1f}")
    print(f"np.corrcoef / brainalign: {c_min / o_min:.2f}x by min, {c_med / o_med:.2f}x by "
          f"median (target >= {TARGET:g}x: never slower)")  # fmt: skip
    low, k = min(ratios)
    net, name, x = layers[k]
    print(f"slowest layer relative to np.corrcoef: {net} {name} ({x.shape[1]} features) "
          f"{low:.2f}x by min")  # fmt: skip
    met = c_min / o_min >= TARGET and low >= TARGET
    print(f"target {'met' if met else 'NOT met'} on this machine (totals and every layer, by min)")
    if args.per_layer:
        for (net, name, x), (ratio, k) in zip(layers, ratios, strict=True):
            print(f"  {net:<20}{name:<7}{x.shape[1]:>8}  brainalign {min(ours[k]) * 1e3:8.2f} ms"
                  f"  np.corrcoef {min(refs[k]) * 1e3:8.2f} ms  {ratio:5.2f}x")  # fmt: skip
    print(f"exact: ranks of every layer's condensed RDM identical to 1 - np.corrcoef in float64 "
          f"(ties included); largest difference {worst_diff:.1e}")  # fmt: skip
    if pooling == "none":
        _, _, x = max(layers, key=lambda t: t[2].shape[1])
        mb = 1 << 20
        print(f"peak memory allocated, {x.shape[1]} features ({x.nbytes / mb:.0f} MB float32): "
              f"brainalign {peak_bytes(compute_rdm, x) / mb:.0f} MB, "
              f"np.corrcoef {peak_bytes(reference, x) / mb:.0f} MB")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (>= 3)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="BLAS threads")
    ap.add_argument("--pooling", nargs="+", default=["mean", "none"], choices=["mean", "none"])
    ap.add_argument("--per-layer", action="store_true", help="print every layer's timings")
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args()
    if args.rounds < 3:
        ap.error("--rounds must be >= 3 (min and median of alternating rounds)")
    from brainalign.rsa.rdm import compute_rdm

    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    data = simulate(args.seed)
    for label, arch in NETWORKS:
        shapes, source = layer_shapes(arch)
        print(f"{label}: {arch} layer shapes ({source}): "
              + ", ".join("x".join(map(str, s)) for s in shapes))  # fmt: skip
    for threads in args.threads:
        for pooling in args.pooling:
            bench_pooling(data, pooling, threads, args, compute_rdm)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
