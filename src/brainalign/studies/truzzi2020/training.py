"""Trained conditions from images: each network's trainer, checkpoint layout and file name.

``truzzi2020.training.networks`` lists the networks the workflow trains; their
``<network>_trained`` conditions then read the checkpoint written here (through the same weight
loaders as downloaded weights) instead of ``networks.weights``:

=================  ===========  ============================================================
network            training     checkpoint layout (``training/<network>/checkpoint.pth.tar``)
=================  ===========  ============================================================
alexnet            supervised   torchvision (``alexnet-owt-*.pth``)
modified_alexnet   supervised   DataParallel (``modified_alexnet_checkpoint_27.pth.tar``)
deepcluster        DeepCluster  DeepCluster (``checkpoint.pth.tar``)
=================  ===========  ============================================================

Each file is ``{"epoch", "arch", "state_dict", "history"}`` (the optimizer state stays in the
per-epoch checkpoints, removed when the training has finished).

The supervised networks keep their 1000-way classifier (so the files load into the standard
architectures); a set with fewer classes uses its first outputs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "TRAINABLE",
    "images_digest",
    "settings_digest",
    "reset_stale_state",
    "clear_state",
    "kaiming_start",
    "train_network",
    "history_long",
]

#: network -> (training, checkpoint layout)
TRAINABLE: dict[str, tuple[str, str]] = {
    "alexnet": ("supervised", "torchvision"),
    "modified_alexnet": ("supervised", "modified_alexnet"),
    "deepcluster": ("deepcluster", "deepcluster"),
}

_STATE_SETTINGS = "settings.json"
#: Image folders up to this size are hashed by content, larger ones (ImageNet) by listing.
_CONTENT_HASH_BYTES = 1 << 30


def images_digest(root: str | os.PathLike) -> str:
    """SHA-256 of a training-image folder: of every file's content up to 1 GiB in total
    (:func:`~brainalign.pipeline.provenance.hash_files`), else of the listing (relative paths
    and sizes), so ImageNet is not read just to be named."""
    import hashlib

    from brainalign.pipeline.provenance import hash_files

    base = Path(root)
    files = sorted(f for f in base.rglob("*") if f.is_file())
    sizes = [f.stat().st_size for f in files]
    if sum(sizes) <= _CONTENT_HASH_BYTES:
        return hash_files(sorted(base.iterdir()))[0]  # names relative to the folder
    listing = "\n".join(
        f"{f.relative_to(base).as_posix()}:{n}" for f, n in zip(files, sizes, strict=True)
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def settings_digest(settings: dict[str, Any]) -> str:
    """Canonical JSON of the settings a training run depends on."""
    return json.dumps(settings, sort_keys=True, default=str)


def reset_stale_state(state_dir: str | os.PathLike, settings: dict[str, Any]) -> bool:
    """Keep ``state_dir``'s epoch checkpoints only if they come from the same settings.

    A killed run resumes from its last epoch; a run with other settings (recipe, images, seed,
    code) starts afresh. Writes the settings file; returns True when old state was removed.
    """
    d = Path(state_dir)
    stamp = d / _STATE_SETTINGS
    want = settings_digest(settings)
    stale = d.exists() and (not stamp.is_file() or stamp.read_text() != want)
    if stale:
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    stamp.write_text(want)
    return stale


def clear_state(state_dir: str | os.PathLike) -> None:
    """Remove a finished run's per-epoch checkpoints (the output checkpoint holds the weights)."""
    shutil.rmtree(state_dir, ignore_errors=True)


def kaiming_start(model, seed: int) -> None:
    """Re-initialise ``model`` in place for training from scratch: He normal (fan-in, ReLU)
    for convolutions and hidden linear layers, N(0, 0.01) for the last linear layer, zero
    biases (fixed filters such as the Sobel front end are kept); seeded, torch's global RNG
    left as it was."""
    import torch
    from torch import nn

    layers = [
        m
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad  # not Sobel's
    ]
    last = [m for m in layers if isinstance(m, nn.Linear)][-1]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in layers:
            if m is last:
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.01)
            else:
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.zero_()


def train_network(
    network: str,
    images: str | os.PathLike,
    training: dict[str, Any],
    *,
    seed: int,
    state_dir: str | os.PathLike,
    on_epoch=None,
):
    """Train ``network`` on an ImageNet-layout folder, resuming from ``state_dir``.

    Parameters
    ----------
    network : {"alexnet", "modified_alexnet", "deepcluster"}
    images : path-like
        ``train/<class>/*`` and ``val/<class>/*``.
    training : dict
        The ``truzzi2020.training`` block (image_size, crop_scale, device, workers,
        supervised, deepcluster).
    seed : int
        Initialisation and every draw of the run.
    state_dir : path-like
        Per-epoch checkpoints (resumed from).
    on_epoch : callable, optional
        Called with the epoch after each checkpoint.

    Returns
    -------
    model : torch.nn.Module
        The trained network (eval mode).
    payload : dict
        The last epoch's checkpoint (``epoch``, ``arch``, ``state_dict`` in the network's
        layout, ``history``).
    history : pandas.DataFrame
        One row per epoch (see :func:`~brainalign.networks.image_training.train_supervised`
        and :func:`~brainalign.networks.image_training.train_deepcluster`).
    """
    import torch

    from brainalign.data.training_set import image_folder_splits
    from brainalign.networks.architectures import build_network
    from brainalign.networks.image_training import (
        SGDRecipe,
        latest_checkpoint,
        train_deepcluster,
        train_supervised,
    )

    if network not in TRAINABLE:
        raise ValueError(f"network {network!r} cannot be trained; trainable: {list(TRAINABLE)}")
    kind, layout = TRAINABLE[network]
    train, val, plain = image_folder_splits(
        images, size=training["image_size"], crop_scale=training["crop_scale"]
    )
    model = build_network(network, "untrained", seed=seed)
    sup = dict(training["supervised"])
    if sup.pop("init", {}).get(network, "network") == "kaiming":
        kaiming_start(model, seed)
    common = dict(
        seed=seed,
        state_dir=state_dir,
        device=training["device"],
        workers=training["workers"],
        checkpoint_every=training["checkpoint_every"],
        on_epoch=on_epoch,
    )
    if kind == "supervised":
        recipe = SGDRecipe(**sup)
        history = train_supervised(
            model, train, val, recipe=recipe, arch=network, layout=layout, **common
        )
    else:
        dc = dict(training["deepcluster"])
        k, n_components, kmeans_iter = dc.pop("k"), dc.pop("n_components"), dc.pop("kmeans_iter")
        recipe = SGDRecipe(schedule="constant", **dc)
        history = train_deepcluster(
            model,
            train,
            plain,
            recipe=recipe,
            k=k,
            n_components=n_components,
            kmeans_iter=kmeans_iter,
            true_labels=plain.targets,
            arch="alexnet",
            **common,
        )
    last = torch.load(latest_checkpoint(state_dir), map_location="cpu", weights_only=True)
    payload = {key: last[key] for key in ("epoch", "arch", "state_dict", "history")}
    return model, payload, history


def history_long(history: pd.DataFrame, network: str) -> pd.DataFrame:
    """One network's per-epoch history as long rows (network, epoch, statistic, value)."""
    long = history.melt(id_vars="epoch", var_name="statistic", value_name="value")
    long.insert(0, "network", network)
    return long.sort_values(["statistic", "epoch"], kind="stable").reset_index(drop=True)
