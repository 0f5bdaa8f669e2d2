"""Decoding robustness: training a head on cached backbone features vs end to end.

With augmentation off and the backbone frozen in eval mode, the backbone maps each image to the
same features in every epoch, so ``train_classifier(cache_features="auto")`` computes them once
and trains the head on them. The reference is the same training with ``cache_features=False``:
every epoch runs each batch through the frozen backbone (the original code's path, minus the
augmentation). Both run in this process, interleaved, with the same seed; the trained heads are
compared (exact for backbones whose output does not depend on the batch, else to rounding).

    .venv/bin/python benchmarks/bench_decoding_features.py [--network resnet50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from brainalign.networks.backbones import build_backbone
from brainalign.studies.decoding_robustness.training import train_classifier


def _data(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), rng.integers(0, 3, n)


def _run(images, labels, network: str, epochs: int, cache: bool):
    backbone, out_dim = build_backbone(network, trained=False, seed=1)
    start = time.perf_counter()
    model, _ = train_classifier(
        images, labels, backbone=backbone, out_dim=out_dim, seed=7, epochs=epochs,
        augment=False, cache_features="auto" if cache else False,
    )  # fmt: skip
    return time.perf_counter() - start, model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--n-images", type=int, default=160)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    images, labels = _data(args.n_images, args.size)
    times: dict[str, list[float]] = {"cached": [], "end_to_end": []}
    models = {}
    for _ in range(args.rounds):
        for kind in ("end_to_end", "cached"):  # interleaved
            t, models[kind] = _run(images, labels, args.network, args.epochs, kind == "cached")
            times[kind].append(t)
    diff = max(
        float((a - b).abs().max())
        for a, b in zip(models["cached"].state_dict().values(),
                        models["end_to_end"].state_dict().values(), strict=True)
        if torch.is_floating_point(a)
    )  # fmt: skip
    print(f"{args.network}, {args.n_images} images {args.size}x{args.size}, {args.epochs} epochs, "
          f"{args.rounds} rounds (training single-threaded, as in the workflow)")  # fmt: skip
    for kind, ts in times.items():
        print(f"  {kind:11s} min {min(ts):7.2f} s  median {statistics.median(ts):7.2f} s")
    speed = min(times["end_to_end"]) / min(times["cached"])
    med = statistics.median(times["end_to_end"]) / statistics.median(times["cached"])
    print(f"  speed-up (end to end / cached): {speed:.1f}x by min, {med:.1f}x by median")
    print(f"  largest difference of the trained weights: {diff:.3g}")


if __name__ == "__main__":
    main()
