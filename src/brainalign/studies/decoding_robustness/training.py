"""Training and evaluating the decoding-robustness models, seeded and reproducible.

Both trainers follow the original (``src/ml/train.py``): Adam, cross-entropy, mini-batches
drawn by a class-balanced ``WeightedRandomSampler`` (weights 1 / class count, with
replacement, one epoch = as many draws as items). Every random draw derives from the ``seed``
argument (``pipeline.seeds.derive_seed``): the initialisation, the sampler's generator, the
augmentation's generator and dropout, whose global-RNG draws run inside a forked RNG, so the
caller's torch RNG state is left as it was. Training and feature passes run under
:func:`brainalign.networks.device.deterministic_forward` (one CPU thread, deterministic cuDNN):
the same seed gives bit-identical weights on a CPU.

A final batch of a single item is skipped (BatchNorm cannot train on one item; the original
would stop with an error there).

Feature caching: with augmentation off and ``bn_mode="corrected"``, the frozen backbone maps
an image to the same features in every epoch, so they are computed once (eval mode, batched)
and the head trains on them, with the same sampler draws and head initialisation as the
end-to-end path. The trained heads agree exactly where the backbone's output does not depend
on the batch it is computed in (e.g. ``alexnet``, ``vgg11_bn``), else to float rounding.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from brainalign.networks.device import deterministic_forward, pick_device
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.decoding_robustness.models import (
    BN_MODES,
    FmriDecoder,
    HeadClassifier,
    augment_images,
    features_tensor,
    image_tensor,
    normalise_images,
    preprocess_images,
    uint8_images,
)
from brainalign.studies.decoding_robustness.tables import confusion_matrix

__all__ = [
    "balanced_sampler",
    "train_decoder",
    "train_classifier",
    "predict",
    "embed_items",
    "accuracy",
    "confusion_matrix",
]

Model = FmriDecoder | HeadClassifier
_HISTORY_COLUMNS = ["epoch", "loss", "accuracy"]


@contextlib.contextmanager
def _seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Global torch RNG (CPU, and the used GPU) seeded inside, restored afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


def _labels(y: np.ndarray | torch.Tensor, n: int) -> torch.Tensor:
    labels = torch.as_tensor(np.asarray(y)).long()
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    if n < 2 or int(labels.min()) < 0:
        raise ValueError("need at least 2 items and labels 0, 1, ..., n_classes - 1")
    return labels


def balanced_sampler(
    y: np.ndarray | torch.Tensor, generator: torch.Generator
) -> WeightedRandomSampler:
    """The original's class-balanced sampler.

    Parameters
    ----------
    y : array, shape (n,), int
        Class labels 0 … k-1.
    generator : torch.Generator
        Drives the draws (each iteration is one epoch's draws).

    Returns
    -------
    torch.utils.data.WeightedRandomSampler
        Item weights 1 / (count of the item's class), ``num_samples=n``, with replacement:
        every class is drawn equally often in expectation.
    """
    labels = np.asarray(y, dtype=np.int64)
    counts = np.bincount(labels)
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
    return WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)


def _epoch_batches(sampler: WeightedRandomSampler, batch_size: int) -> list[torch.Tensor]:
    order = torch.as_tensor(list(iter(sampler)), dtype=torch.long)
    batches = list(torch.split(order, batch_size))
    if len(batches[-1]) == 1 and len(batches) > 1:
        batches.pop()
    return batches


def _fit(
    model: nn.Module,
    batch_logits: Callable[[torch.Tensor], torch.Tensor],
    labels: torch.Tensor,
    *,
    sampler: WeightedRandomSampler,
    epochs: int,
    batch_size: int,
    lr: float,
) -> pd.DataFrame:
    """Train ``model``'s trainable parameters; one history row per epoch.

    ``loss`` is the mean of the batch losses (as the original), ``accuracy`` the fraction of
    the epoch's drawn items classified correctly in their training batch.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    criterion = nn.CrossEntropyLoss()
    device = params[0].device
    rows = []
    for epoch in range(1, epochs + 1):
        model.train()
        losses, correct, seen = [], 0, 0
        for idx in _epoch_batches(sampler, batch_size):
            target = labels[idx].to(device)
            optimizer.zero_grad()
            logits = batch_logits(idx)
            loss = criterion(logits, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            correct += int((logits.detach().argmax(dim=1) == target).sum())
            seen += len(idx)
        rows.append((epoch, float(np.mean(losses)), correct / seen))
    model.eval()
    return pd.DataFrame(rows, columns=_HISTORY_COLUMNS)


def _check_run(epochs: int, batch_size: int) -> None:
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs} and {batch_size}")


def train_decoder(
    X: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    seed: int,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 0.01,
    device: str = "cpu",
) -> tuple[FmriDecoder, pd.DataFrame]:
    """Train the fMRI decoder as the original did.

    Parameters
    ----------
    X : array, shape (n_items, n_voxels), float
        Voxel responses (the original's z-scored BOLD amplitudes).
    y : array, shape (n_items,), int
        Class labels 0 … n_classes-1 (n_classes = max label + 1, at least 3).
    seed : int
        Every random draw derives from it.
    epochs, batch_size, lr : int, int, float
        The original's 10, 128 and 0.01 by default.
    device : str
        ``"cpu"``, ``"cuda"``, ``"auto"`` (see :func:`brainalign.networks.device.pick_device`).

    Returns
    -------
    model : FmriDecoder
        Trained, in eval mode, on ``device``.
    history : pandas.DataFrame
        Columns ``epoch``, ``loss`` (mean batch loss), ``accuracy`` (training items).
    """
    _check_run(epochs, batch_size)
    dev = pick_device(device)
    inputs = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if inputs.ndim != 2:
        raise ValueError(f"X must have shape (n_items, n_voxels), got {tuple(inputs.shape)}")
    labels = _labels(y, inputs.shape[0])
    n_classes = max(3, int(labels.max()) + 1)
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(derive_seed(seed, "decoder", "init"))
        model = FmriDecoder(inputs.shape[1], n_classes)
    model = model.to(dev)
    inputs = inputs.to(dev)
    sampler = balanced_sampler(labels, _generator(seed, "decoder", "sampler"))
    with _seeded_rng(derive_seed(seed, "decoder", "dropout"), dev), deterministic_forward():
        history = _fit(
            model,
            lambda idx: model(inputs[idx.to(dev)]),
            labels,
            sampler=sampler,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
        )
    return model, history


def _generator(seed: int, *keys: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, *keys))


def _use_cache(cache_features: bool | str, augment: bool, bn_mode: str) -> bool:
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {list(BN_MODES)}, got {bn_mode!r}")
    valid = not augment and bn_mode == "corrected"
    if cache_features == "auto":
        return valid
    if cache_features is True and not valid:
        raise ValueError(
            "cache_features=True needs augment=False and bn_mode='corrected': with "
            f"augment={augment} and bn_mode={bn_mode!r} the backbone's output changes from "
            "epoch to epoch, so it cannot be computed once; use cache_features='auto' or False"
        )
    if cache_features not in (True, False):
        raise ValueError(f"cache_features must be True, False or 'auto', got {cache_features!r}")
    return bool(cache_features)


def _end_to_end(
    model: HeadClassifier,
    raw: torch.Tensor,
    augment: bool,
    generator: torch.Generator,
    device: torch.device,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Logits of a batch of item indices through the backbone (augmented if asked)."""

    def batch_logits(idx: torch.Tensor) -> torch.Tensor:
        x = image_tensor(raw[idx])
        if augment:
            x = augment_images(x, generator)
        return model(normalise_images(x).to(device))

    return batch_logits


def _on_cached(
    model: HeadClassifier, raw: torch.Tensor, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Logits of a batch of item indices from backbone features computed once."""
    feats = features_tensor(model.feature_extractor, raw, batch_size=64, device=device)

    def batch_logits(idx: torch.Tensor) -> torch.Tensor:
        return model.head(feats[idx.to(device)])

    return batch_logits


def train_classifier(
    images: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    backbone: nn.Module,
    out_dim: int,
    seed: int,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 1e-3,
    augment: bool = True,
    bn_mode: str = "corrected",
    cache_features: bool | str = "auto",
    device: str = "cpu",
) -> tuple[HeadClassifier, pd.DataFrame]:
    """Train a head on a frozen backbone as the original did.

    Parameters
    ----------
    images : array, shape (n_items, H, W), uint8
        Greyscale training images.
    y : array, shape (n_items,), int
        Class labels 0 … n_classes-1 (n_classes = max label + 1, at least 3).
    backbone : torch.nn.Module
        From :func:`brainalign.networks.backbones.build_backbone`. It is frozen in place; with
        ``bn_mode="faithful"`` a copy trains, and ``backbone`` keeps its BatchNorm statistics.
    out_dim : int
        The backbone's output size.
    seed : int
        Every random draw derives from it.
    epochs, batch_size, lr : int, int, float
        The original's 30, 128 and 0.001 by default.
    augment : bool
        Random flips and shift-scale-rotations of the training images
        (:func:`~brainalign.studies.decoding_robustness.models.augment_images`).
    bn_mode : {"corrected", "faithful"}
        See :class:`~brainalign.studies.decoding_robustness.models.HeadClassifier`.
    cache_features : bool or "auto"
        Train the head on backbone features computed once per image. ``"auto"``: whenever
        that is valid (augment off, ``bn_mode="corrected"``); ``True`` where it is not raises
        ValueError.
    device : str
        ``"cpu"``, ``"cuda"``, ``"auto"``.

    Returns
    -------
    model : HeadClassifier
        Trained, in eval mode, on ``device``.
    history : pandas.DataFrame
        Columns ``epoch``, ``loss`` (mean batch loss), ``accuracy`` (training items).
    """
    _check_run(epochs, batch_size)
    cached = _use_cache(cache_features, augment, bn_mode)
    dev = pick_device(device)
    raw = uint8_images(images)
    labels = _labels(y, raw.shape[0])
    if bn_mode == "faithful":
        backbone = copy.deepcopy(backbone)
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(derive_seed(seed, "classifier", "init"))
        model = HeadClassifier(backbone, out_dim, max(3, int(labels.max()) + 1), bn_mode=bn_mode)
    model = model.to(dev)
    if cached:
        batch_logits = _on_cached(model, raw, dev)
    else:
        generator = _generator(seed, "classifier", "augment")
        batch_logits = _end_to_end(model, raw, augment, generator, dev)
    sampler = balanced_sampler(labels, _generator(seed, "classifier", "sampler"))
    with _seeded_rng(derive_seed(seed, "classifier", "dropout"), dev), deterministic_forward():
        history = _fit(
            model,
            batch_logits,
            labels,
            sampler=sampler,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
        )
    return model, history


def _eval_fns(model: Model, from_features: bool) -> tuple[Callable, Callable, Callable]:
    """(input conversion, logits function, embedding function) for ``model``'s inputs."""
    if isinstance(model, FmriDecoder):
        if from_features:
            raise ValueError("from_features=True is for HeadClassifier models only")
        return (
            lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32)),
            model.forward,
            model.embed,
        )
    if not isinstance(model, HeadClassifier):
        raise TypeError(f"expected FmriDecoder or HeadClassifier, got {type(model).__name__}")
    if from_features:
        return (
            lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32)),
            model.head,
            model.embed_features,
        )
    return preprocess_images, model.forward, model.embed


def _evaluate(
    model: Model,
    inputs: np.ndarray | torch.Tensor,
    convert: Callable,
    fn: Callable,
    batch_size: int,
    device: str,
) -> np.ndarray:
    """``fn`` of batches of ``convert``-ed inputs, in eval mode: (n, …) float64."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    dev = pick_device(device)
    model.to(dev).eval()
    out = []
    with torch.no_grad(), deterministic_forward():
        for start in range(0, len(inputs), batch_size):
            x = convert(inputs[start : start + batch_size]).to(dev)
            out.append(fn(x).double().cpu())
    return torch.cat(out).numpy()


def predict(
    model: Model,
    inputs: np.ndarray | torch.Tensor,
    *,
    from_features: bool = False,
    batch_size: int = 1,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and logits, in eval mode.

    Parameters
    ----------
    model : FmriDecoder or HeadClassifier
    inputs : array
        FmriDecoder: (n_items, n_voxels) float. HeadClassifier: (n_items, H, W) uint8 images,
        or with ``from_features`` (n_items, in_dim) backbone features
        (:func:`~brainalign.studies.decoding_robustness.models.backbone_features`).
    from_features : bool
    batch_size : int
        Items per forward pass. 1 (the default, as the original's test loop) makes every
        item's result independent of the others bit for bit; larger batches are faster and
        agree to float rounding.
    device : str

    Returns
    -------
    labels : ndarray, shape (n_items,), int64
        Arg-max of the logits.
    logits : ndarray, shape (n_items, n_classes), float64
    """
    convert, forward, _ = _eval_fns(model, from_features)
    logits = _evaluate(model, inputs, convert, forward, batch_size, device)
    return logits.argmax(axis=1).astype(np.int64), logits


def embed_items(
    model: Model,
    inputs: np.ndarray | torch.Tensor,
    *,
    from_features: bool = False,
    batch_size: int = 1,
    device: str = "cpu",
) -> np.ndarray:
    """Latent embeddings (output of ``fc1``), in eval mode.

    Parameters
    ----------
    model, inputs, from_features, batch_size, device
        As :func:`predict`.

    Returns
    -------
    ndarray, shape (n_items, 100), float64
    """
    convert, _, embed = _eval_fns(model, from_features)
    return _evaluate(model, inputs, convert, embed, batch_size, device)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of items classified correctly (sklearn's ``accuracy_score``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"labels of shapes {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true == y_pred))
