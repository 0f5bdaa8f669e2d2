"""GNet encoding: training throughput with the cached prefilter vs through it every batch.

The frozen AlexNet prefilter (conv1-conv2) maps each image to the same output in every epoch, so
the workflow (``gnet_encoding.training.cache_prefilter: true``) computes it once per image
(:func:`brainalign.networks.gnet.prefilter_outputs`) and trains on the stored outputs; with
``cache_prefilter: false`` every batch goes through the prefilter
(``train_gnet(..., from_images=True, prefilter=...)``), which needs 192 x 27 x 27 floats
(560 kB) less per image at 227 px. Both paths run here on the same random uint8 images and
responses, with the same seed, interleaved over several rounds (min and median), at 227 px (the
paper) and at 64 px (the default simulated study); the cached path's time includes its
``prefilter_outputs`` call. The trained weights of the two paths are compared exactly
(``torch.equal`` on every state-dict entry).

Throughput = trials per second: every trial of every subject (training and holdout) once per
epoch, divided by the wall time of ``train_gnet`` (training, per-epoch holdout scoring, best-epoch
restore). Training runs single-threaded on the CPU (``deterministic_forward``, as in the
workflow); CUDA is timed too when a GPU is present. Readout cost grows with the voxels: the real
study has 3,000-4,600 voxels per subject (V1-hV4, ventral mask), set ``--voxels`` to see it.

The recipe section times the same training (64 px, cached prefilter) as the workflow runs it
against the previous implementation of the same recipe, interleaved: the readout's
f(x) = log(1 + |x|)·tanh(x) through autograd of ``torch.log1p(|x|) * torch.tanh(x)`` (five saved
intermediates; ``log1p`` is not vectorised on the CPU) instead of the written-out derivative of
:func:`~brainalign.networks.gnet.log_tanh`, and each optimiser's pass computing every
parameter's gradient instead of only its own. It prints the speed-up, the largest difference
of the trained weights (``log`` vs ``log1p``: float rounding) and whether the weights are
identical with only the gradient skipping switched (they must be).

    .venv/bin/python benchmarks/bench_gnet_training.py [--quick] [--rounds 3] [--trials 200]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np
import torch

from brainalign.networks import gnet, gnet_training
from brainalign.networks.gnet import AlexNetPrefilter, prefilter_outputs
from brainalign.networks.gnet_training import IndexedRows, train_gnet

SUBJECTS = ("subj01", "subj02")
REPEATS = 3  # showings per image, as in NSD


def _data(size: int, trials: int, voxels: int, seed: int = 0):
    """Per subject: a table of images, the trial -> image index, responses (trials, voxels)."""
    rng = np.random.default_rng(seed)
    n_images = max(1, trials // REPEATS)
    out = {}
    for s in SUBJECTS:
        images = rng.integers(0, 256, (n_images, size, size, 3), dtype=np.uint8)
        index = rng.permutation(np.arange(trials) % n_images)
        out[s] = (images, index, rng.standard_normal((trials, voxels)).astype(np.float32))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _run(data, prefilter, args, device: torch.device, cached: bool):
    _sync(device)
    start = time.perf_counter()
    if cached:
        tables = {s: prefilter_outputs(prefilter, d[0], device=device) for s, d in data.items()}
        inputs = {s: IndexedRows(tables[s], idx) for s, (_, idx, _) in data.items()}
    else:
        inputs = {s: IndexedRows(im, idx) for s, (im, idx, _) in data.items()}
    model, _, _ = train_gnet(
        inputs, {s: y for s, (_, _, y) in data.items()}, seed=7, epochs=args.epochs,
        batch_size=args.batch_size, device=device, trunk_width=args.trunk_width,
        prefilter=prefilter, from_images=not cached,
    )  # fmt: skip
    _sync(device)
    elapsed = time.perf_counter() - start
    return elapsed, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _bench(size: int, device: torch.device, args) -> None:
    data = _data(size, args.trials, args.voxels)
    prefilter = AlexNetPrefilter(seed=1)  # seeded random weights: same cost as the trained ones
    n_trials = len(SUBJECTS) * args.trials * args.epochs
    times: dict[str, list[float]] = {"through prefilter": [], "cached prefilter": []}
    states = {}
    for _ in range(args.rounds):
        for kind in times:  # interleaved
            t, states[kind] = _run(data, prefilter, args, device, kind.startswith("cached"))
            times[kind].append(t)
    a, b = states["cached prefilter"], states["through prefilter"]
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    print(f"{device.type}, {size} px, {len(SUBJECTS)} subjects x {args.trials} trials "
          f"({args.voxels} voxels each), trunk width {args.trunk_width}, {args.epochs} epochs, "
          f"{args.rounds} rounds")  # fmt: skip
    for kind, ts in times.items():
        print(f"  {kind:18s} min {min(ts):7.2f} s  median {statistics.median(ts):7.2f} s"
              f"  = {n_trials / min(ts):8.1f} trials/s (best), "
              f"{n_trials / statistics.median(ts):8.1f} (median)")  # fmt: skip
    by_min = min(times["through prefilter"]) / min(times["cached prefilter"])
    by_med = statistics.median(times["through prefilter"]) / statistics.median(
        times["cached prefilter"]
    )
    print(f"  speed-up (through / cached): {by_min:.2f}x by min, {by_med:.2f}x by median")
    print(f"  trained weights identical (torch.equal, every state-dict entry): {same}")


def _autograd_log_tanh(x: torch.Tensor) -> torch.Tensor:
    """The previous implementation: autograd of the composed expression, with log1p."""
    return torch.log1p(torch.abs(x)) * torch.tanh(x)


@contextlib.contextmanager
def _previous(nonlinearity: bool, gradients: bool):
    """Swap in the previous nonlinearity and/or every-gradient passes for the block."""
    saved = gnet.log_tanh, gnet_training._gradients_only_for
    if nonlinearity:
        gnet.log_tanh = _autograd_log_tanh
    if gradients:
        gnet_training._gradients_only_for = lambda opt, model: contextlib.nullcontext()
    try:
        yield
    finally:
        gnet.log_tanh, gnet_training._gradients_only_for = saved


def _bench_recipe(device: torch.device, args) -> None:
    data = _data(64, args.trials, args.voxels)
    prefilter = AlexNetPrefilter(seed=1)
    n_trials = len(SUBJECTS) * args.trials * args.epochs
    kinds = {
        "previous": (True, True),
        "current": (False, False),
        "previous f, skipping": (True, False),
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    states = {}
    for _ in range(args.rounds):
        for kind, swap in kinds.items():  # interleaved
            with _previous(*swap):
                t, states[kind] = _run(data, prefilter, args, device, True)
            times[kind].append(t)
    print(f"{device.type}, recipe at 64 px, {len(SUBJECTS)} subjects x {args.trials} trials "
          f"({args.voxels} voxels each), trunk width {args.trunk_width}, "
          f"{args.epochs} epochs")  # fmt: skip
    for kind, ts in times.items():
        print(f"  {kind:20s} min {min(ts):7.2f} s  median {statistics.median(ts):7.2f} s"
              f"  = {n_trials / min(ts):8.1f} trials/s (best)")  # fmt: skip
    prev, cur = times["previous"], times["current"]
    print(f"  speed-up (previous / current): {min(prev) / min(cur):.2f}x by min, "
          f"{statistics.median(prev) / statistics.median(cur):.2f}x by median")  # fmt: skip
    a, b, c = states["current"], states["previous"], states["previous f, skipping"]
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    same = all(torch.equal(b[k], c[k]) for k in b)
    print(f"  trained weights, current vs previous: largest difference {diff:.2e} (log vs log1p)")
    print(f"  trained weights identical with only the gradient skipping switched: {same}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, < 1 min on 2 CPUs")
    ap.add_argument("--sizes", type=int, nargs="+", default=[227, 64])
    ap.add_argument("--trials", type=int, default=300, help="trials per subject")
    ap.add_argument("--voxels", type=int, default=500, help="voxels per subject")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--trunk-width", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.epochs, args.voxels = min(args.trials, 60), 1, min(args.voxels, 200)
    devices = [torch.device("cpu")] if args.device in ("all", "cpu") else []
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    elif args.device == "cuda":
        raise SystemExit("--device cuda: no CUDA device here")
    for device in devices:
        for size in args.sizes:
            _bench(size, device, args)
        _bench_recipe(device, args)


if __name__ == "__main__":
    main()
