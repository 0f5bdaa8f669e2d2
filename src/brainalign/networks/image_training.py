"""Training the AlexNet family from images: supervised and DeepCluster, seeded and resumable.

The trained conditions of the network-vs-IT study need weights that the original did not fully
document (the "modified AlexNet" recipe is unpublished). These trainers regenerate them from an
image collection and write checkpoints in exactly the layouts the weight loaders read
(:mod:`brainalign.networks.weights`):

``"torchvision"``
    ``state_dict`` keys as torchvision's AlexNet (``features.0.weight`` …).
``"modified_alexnet"``
    DataParallel keys ``module.features.0.weight`` … (``modified_alexnet_checkpoint_27.pth.tar``).
``"deepcluster"``
    ``features.module.<i>.*`` (DeepCluster wraps ``features`` in DataParallel), ``classifier``,
    ``top_layer``, ``sobel`` (``checkpoint.pth.tar``).

Every checkpoint is ``{"epoch", "arch", "state_dict", "optimizer", "history", …}``, readable
with ``torch.load(weights_only=True)``, written atomically after every epoch as
``<state_dir>/epoch_<NNN>.pth`` (the previous one is removed afterwards). A run finds the
latest one and resumes after it: every epoch's random draws (shuffling, augmentation, dropout,
k-means start, cluster sampling, top-layer initialisation) derive from ``(seed, epoch)``, and the
learning rate is a function of the epoch, so a resumed run gives the same bytes as an
uninterrupted one. Training runs under :func:`~brainalign.networks.device.deterministic_forward`
(one CPU thread): the same seed gives identical checkpoints on a CPU.

Supervised recipe (torchvision's ImageNet reference): SGD with momentum and weight decay, step
or cosine schedule, random-resized crops and flips (the dataset's transform), cross-entropy;
top-1/top-5 validation accuracy per epoch. DeepCluster (Caron et al. 2018, ``main.py``): per
epoch, features of the whole set (classifier output before its last ReLU, eval mode) →
:func:`~brainalign.networks.deepcluster.cluster_features` → pseudo-labels; a fresh top layer
(N(0, 0.01), bias 0) with its own SGD; batches drawn uniformly over clusters; NMI between
consecutive assignments (and with the true labels where given) logged.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from brainalign.io.files import atomic_path
from brainalign.networks.deepcluster import (
    chance_nmi,
    cluster_features,
    nmi,
    uniform_label_sample,
)
from brainalign.networks.device import deterministic_forward, pick_device, sub_seed
from brainalign.networks.weights import strip_prefixes

__all__ = [
    "LAYOUTS",
    "SGDRecipe",
    "layout_state_dict",
    "save_checkpoint",
    "latest_checkpoint",
    "train_supervised",
    "deepcluster_features",
    "train_deepcluster",
]

LAYOUTS = ("torchvision", "modified_alexnet", "deepcluster")
_CKPT = re.compile(r"^epoch_(\d{3,})\.pth$")

#: A dataset: ``len(data)`` and ``data[i] -> (image tensor (3, H, W), int label)``.
Dataset = Any


@dataclass(frozen=True)
class SGDRecipe:
    """SGD with momentum, weight decay and a per-epoch learning-rate schedule.

    ``schedule``: ``"step"`` (``lr * gamma ** (epoch // step_size)``), ``"cosine"``
    (``lr/2 * (1 + cos(pi * epoch / epochs))``) or ``"constant"``. With ``warmup_epochs``
    (torchvision's ``--lr-warmup-epochs``, linear method) the first epochs run at
    ``lr * (warmup_decay + (1 - warmup_decay) * epoch / warmup_epochs)`` and the schedule then
    starts, counting its epochs from the end of the warm-up.
    """

    epochs: int
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    schedule: str = "step"
    step_size: int = 30
    gamma: float = 0.1
    warmup_epochs: int = 0
    warmup_decay: float = 0.01

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs ({self.epochs}) >= 1 and batch_size ({self.batch_size}) >= 2")
        if self.schedule not in ("step", "cosine", "constant"):
            raise ValueError(f"schedule {self.schedule!r} not in ('step', 'cosine', 'constant')")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be >= 0 and below epochs "
                f"({self.epochs})"
            )

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (0-based)."""
        if epoch < self.warmup_epochs:
            frac = epoch / self.warmup_epochs
            return self.lr * (self.warmup_decay + (1.0 - self.warmup_decay) * frac)
        epoch -= self.warmup_epochs
        if self.schedule == "step":
            return self.lr * self.gamma ** (epoch // self.step_size)
        if self.schedule == "cosine":
            span = self.epochs - self.warmup_epochs
            return 0.5 * self.lr * (1.0 + math.cos(math.pi * epoch / span))
        return self.lr


def layout_state_dict(model: nn.Module, layout: str) -> dict[str, torch.Tensor]:
    """The model's state dict with the key layout of ``layout`` (see the module docstring)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if layout == "torchvision":
        return state
    if layout == "modified_alexnet":
        return {f"module.{k}": v for k, v in state.items()}
    if layout == "deepcluster":
        return {re.sub(r"^features\.", "features.module.", k): v for k, v in state.items()}
    raise ValueError(f"layout {layout!r} not in {LAYOUTS}")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """``torch.save`` ``payload`` atomically (a kill leaves the previous file intact).

    Serialised in memory first: torch names the archive's root folder after the file it
    writes, so saving to the temporary name directly would put that random name in the bytes.
    """
    buf = io.BytesIO()
    torch.save(payload, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def latest_checkpoint(state_dir: str | os.PathLike) -> Path | None:
    """The ``epoch_<NNN>.pth`` with the highest epoch in ``state_dir`` (None if none)."""
    d = Path(state_dir)
    found = [(int(m.group(1)), p) for p in d.glob("epoch_*.pth") if (m := _CKPT.match(p.name))]
    return max(found)[1] if found else None


def _resume(state_dir: Path | None) -> dict[str, Any] | None:
    last = latest_checkpoint(state_dir) if state_dir is not None else None
    return torch.load(last, map_location="cpu", weights_only=True) if last else None


def _checkpoint_due(epoch: int, epochs: int, every: int) -> bool:
    """Whether the checkpoint of 0-based ``epoch`` is written."""
    if every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {every}")
    return (epoch + 1) % every == 0 or epoch + 1 == epochs


def _write_epoch(state_dir: Path | None, epoch: int, payload: dict[str, Any]) -> None:
    if state_dir is None:
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    before = latest_checkpoint(state_dir)
    save_checkpoint(state_dir / f"epoch_{epoch:03d}.pth", payload)
    if before is not None and before.name != f"epoch_{epoch:03d}.pth":
        before.unlink()


class _Ordered(torch.utils.data.Dataset):
    """``data`` read in ``order``, with ``labels`` (pseudo-labels) replacing its own if given."""

    def __init__(self, data: Dataset, order: Sequence[int], labels: Sequence[int] | None) -> None:
        self.data, self.order, self.labels = data, [int(i) for i in order], labels

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, j: int):
        i = self.order[j]
        x, y = self.data[i]
        return torch.as_tensor(x), int(y if self.labels is None else self.labels[i])


def _batches(
    data: Dataset,
    order: Sequence[int],
    labels: Sequence[int] | None,
    batch_size: int,
    workers: int = 0,
    seed: int = 0,
):
    """(images, labels) batches of ``data`` in ``order``.

    ``workers == 0`` decodes in this process (augmentation draws from torch's global RNG,
    seeded per epoch by the caller); otherwise a :class:`~torch.utils.data.DataLoader` with
    that many worker processes, each seeded by torch from ``seed`` and its worker id (the same
    ``workers`` gives the same batches).
    """
    ordered = _Ordered(data, order, labels)
    if workers == 0:
        for start in range(0, len(ordered), batch_size):
            items = [ordered[j] for j in range(start, min(len(ordered), start + batch_size))]
            yield (
                torch.stack([it[0] for it in items]),
                torch.as_tensor([it[1] for it in items], dtype=torch.long),
            )
        return
    loader = torch.utils.data.DataLoader(
        ordered,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
    )
    yield from loader


def _sgd(params, recipe: SGDRecipe, lr: float, momentum: float | None = None):
    mom = recipe.momentum if momentum is None else momentum
    return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=recipe.weight_decay)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def _fit_epoch(model, opt_steps, batches, dev) -> float:
    """One pass over ``batches`` (a last batch of one item is skipped: BatchNorm)."""
    model.train()
    losses = []
    for x, y in batches:
        if len(y) < 2:
            break
        loss = nn.functional.cross_entropy(model(x.to(dev)), y.to(dev))
        for opt in opt_steps:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in opt_steps:
            opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def _topk(model: nn.Module, data: Dataset, batch_size: int, dev, workers: int = 0):
    model.eval()
    hits1 = hits5 = 0
    for x, y in _batches(data, range(len(data)), None, batch_size, workers):
        logits = model(x.to(dev))
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices.cpu()
        hits1 += int((top[:, 0] == y).sum())
        hits5 += int((top == y[:, None]).any(dim=1).sum())
    return hits1 / len(data), hits5 / len(data)


def train_supervised(
    model: nn.Module,
    train: Dataset,
    val: Dataset,
    *,
    recipe: SGDRecipe,
    seed: int,
    arch: str,
    layout: str,
    state_dir: str | os.PathLike | None = None,
    device: str = "auto",
    workers: int = 0,
    checkpoint_every: int = 1,
    on_epoch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Train ``model`` supervised, resuming from the latest checkpoint in ``state_dir``.

    Parameters
    ----------
    model : torch.nn.Module
        Freshly built (its initialisation is the caller's, seeded).
    train, val : datasets
        ``data[i] -> (image (3, H, W) float tensor, label)``; ``train``'s transform draws its
        augmentation from torch's global RNG (seeded per epoch here).
    recipe : SGDRecipe
    seed : int
    arch : str
        Stored in the checkpoints (``"arch"``).
    layout : {"torchvision", "modified_alexnet", "deepcluster"}
    state_dir : path-like, optional
        Where ``epoch_<NNN>.pth`` checkpoints go (and are resumed from).
    device : str
    workers : int
        Image-decoding worker processes (0 = this process); results depend on it.
    checkpoint_every : int
        Write the epoch checkpoint every this many epochs (and after the last); a resumed run
        restarts after the last one written. Results do not depend on it.
    on_epoch : callable, optional
        Called with the epoch number after each checkpoint (tests use it to stop a run).

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch`` (1-based), ``lr``, ``loss``, ``top1``, ``top5``.
    """
    layout_state_dict(model, layout)  # validates the layout
    dev = pick_device(device)
    model.to(dev)
    opt = _sgd([p for p in model.parameters() if p.requires_grad], recipe, recipe.lr)
    sdir = Path(state_dir) if state_dir is not None else None
    start, history = 0, []
    ckpt = _resume(sdir)
    if ckpt is not None:
        model.load_state_dict(strip_prefixes(ckpt["state_dict"]))
        opt.load_state_dict(ckpt["optimizer"])
        start, history = int(ckpt["epoch"]), list(ckpt["history"])
    with deterministic_forward(), torch.random.fork_rng(devices=[]):
        for epoch in range(start, recipe.epochs):
            torch.manual_seed(sub_seed(seed, 1, epoch))
            gen = torch.Generator().manual_seed(sub_seed(seed, 2, epoch))
            order = torch.randperm(len(train), generator=gen).tolist()
            lr = recipe.lr_at(epoch)
            _set_lr(opt, lr)
            batches = _batches(
                train, order, None, recipe.batch_size, workers, sub_seed(seed, 6, epoch)
            )
            loss = _fit_epoch(model, [opt], batches, dev)
            top1, top5 = _topk(model, val, recipe.batch_size, dev, workers)
            history.append([epoch + 1, lr, loss, top1, top5])
            if not _checkpoint_due(epoch, recipe.epochs, checkpoint_every):
                continue
            payload = {
                "epoch": epoch + 1,
                "arch": arch,
                "state_dict": layout_state_dict(model, layout),
                "optimizer": opt.state_dict(),
                "history": history,
            }
            _write_epoch(sdir, epoch + 1, payload)
            if on_epoch is not None:
                on_epoch(epoch + 1)
    model.eval()
    return pd.DataFrame(history, columns=["epoch", "lr", "loss", "top1", "top5"])


@torch.no_grad()
def deepcluster_features(
    model: nn.Module, data: Dataset, batch_size: int = 256, device: str = "cpu", workers: int = 0
) -> np.ndarray:
    """DeepCluster's clustering input: the classifier output before its last ReLU.

    Parameters
    ----------
    model : DeepClusterAlexNet
    data : dataset (un-augmented view)

    Returns
    -------
    (N, fc) float32
    """
    dev = pick_device(device)
    model.eval()
    head = nn.Sequential(*list(model.classifier.children())[:-1])
    out = []
    for x, _ in _batches(data, range(len(data)), None, batch_size, workers):
        out.append(head(model.flat_features(x.to(dev))).cpu())
    return torch.cat(out).numpy().astype(np.float32)


def _fresh_top(model: nn.Module, k: int, seed: int, dev) -> nn.Linear:
    fd = model.top_layer.in_features
    top = nn.Linear(fd, k)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        top.weight.copy_(torch.randn(k, fd, generator=gen) * 0.01)
        top.bias.zero_()
    return top.to(dev)


def train_deepcluster(
    model: nn.Module,
    train: Dataset,
    plain: Dataset,
    *,
    recipe: SGDRecipe,
    k: int,
    seed: int,
    n_components: int = 256,
    kmeans_iter: int = 20,
    true_labels: Sequence[int] | None = None,
    arch: str = "alexnet",
    state_dir: str | os.PathLike | None = None,
    device: str = "auto",
    workers: int = 0,
    checkpoint_every: int = 1,
    on_epoch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """DeepCluster training of a :class:`~brainalign.networks.architectures.DeepClusterAlexNet`.

    Parameters
    ----------
    model : DeepClusterAlexNet
    train, plain : datasets
        The same images with augmentation (training) and without (features for clustering);
        their labels are not used for training.
    recipe : SGDRecipe
        The paper's: lr 0.05, momentum 0.9, weight decay 1e-5, batch 256, constant schedule.
    k : int
        Clusters (10,000 in the paper).
    seed : int
    n_components, kmeans_iter : int
        PCA dimensions (256) and Lloyd iterations (20).
    true_labels : sequence of int, optional
        Categories of ``plain``'s images: NMI against them is logged (never used to train).
    arch, state_dir, device, workers, checkpoint_every, on_epoch
        As :func:`train_supervised`; checkpoints use the ``"deepcluster"`` layout.

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch``, ``lr``, ``loss``, ``clusters`` (non-empty),
        ``nmi_previous`` (NaN in the first epoch), ``nmi_true`` and ``nmi_chance`` (its
        level for unrelated labelings, :func:`~brainalign.networks.deepcluster.chance_nmi`;
        NaN without labels).
    """
    dev = pick_device(device)
    model.to(dev)
    model.top_layer = _fresh_top(model, k, sub_seed(seed, 0), dev)
    body = [p for n, p in model.named_parameters() if p.requires_grad and "top_layer" not in n]
    opt = _sgd(body, recipe, recipe.lr)
    sdir = Path(state_dir) if state_dir is not None else None
    start, history, previous = 0, [], None
    ckpt = _resume(sdir)
    if ckpt is not None:
        model.load_state_dict(strip_prefixes(ckpt["state_dict"]))
        opt.load_state_dict(ckpt["optimizer"])
        start, history = int(ckpt["epoch"]), list(ckpt["history"])
        previous = ckpt["assignments"].numpy()
    with deterministic_forward(), torch.random.fork_rng(devices=[]):
        for epoch in range(start, recipe.epochs):
            feats = deepcluster_features(model, plain, recipe.batch_size, str(dev), workers)
            d = min(n_components, *feats.shape)
            labels = cluster_features(
                feats,
                k,
                n_components=d,
                n_iter=kmeans_iter,
                seed=sub_seed(seed, 3, epoch),
                device=dev,
            )
            nmi_prev = nmi(previous, labels) if previous is not None else float("nan")
            if true_labels is not None:
                nmi_true = nmi(true_labels, labels)
                nmi_chance = chance_nmi(true_labels, labels, seed=sub_seed(seed, 7, epoch))
            else:
                nmi_true = nmi_chance = float("nan")
            order = uniform_label_sample(labels, len(train), seed=sub_seed(seed, 4, epoch))
            model.top_layer = _fresh_top(model, k, sub_seed(seed, 5, epoch), dev)
            top_opt = torch.optim.SGD(
                model.top_layer.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
            )
            lr = recipe.lr_at(epoch)
            _set_lr(opt, lr)
            _set_lr(top_opt, lr)
            torch.manual_seed(sub_seed(seed, 1, epoch))
            batches = _batches(
                train, order, labels, recipe.batch_size, workers, sub_seed(seed, 6, epoch)
            )
            loss = _fit_epoch(model, [opt, top_opt], batches, dev)
            clusters = int(np.unique(labels).size)
            history.append([epoch + 1, lr, loss, clusters, nmi_prev, nmi_true, nmi_chance])
            previous = labels
            if not _checkpoint_due(epoch, recipe.epochs, checkpoint_every):
                continue
            payload = {
                "epoch": epoch + 1,
                "arch": arch,
                "state_dict": layout_state_dict(model, "deepcluster"),
                "optimizer": opt.state_dict(),
                "history": history,
                "assignments": torch.from_numpy(labels),
            }
            _write_epoch(sdir, epoch + 1, payload)
            if on_epoch is not None:
                on_epoch(epoch + 1)
    model.eval()
    cols = ["epoch", "lr", "loss", "clusters", "nmi_previous", "nmi_true", "nmi_chance"]
    return pd.DataFrame(history, columns=cols)
