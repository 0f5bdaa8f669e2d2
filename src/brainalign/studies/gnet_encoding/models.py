"""GNet8j / GNet8r / transfer fits on prepared subjects, checkpoints and per-voxel accuracy.

Prepared subjects are the dicts of :func:`~brainalign.studies.gnet_encoding.data.prepare_subject`
(keyed by ``subjAA``). The frozen prefilter runs once per distinct image; trials index into its
output (:class:`~brainalign.networks.gnet_training.IndexedRows`), or, with ``cache=False``, the
images go through the prefilter batch by batch (identical results, less memory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from brainalign.data.nsd import ROI_NAMES
from brainalign.networks import gnet_training
from brainalign.networks.gnet import AlexNetPrefilter, prefilter_outputs
from brainalign.networks.gnet_training import (
    IndexedRows,
    build_gnet,
    fit_readouts,
    predict,
    train_gnet,
)
from brainalign.stats.encoding import voxel_accuracy
from brainalign.studies.gnet_encoding.data import TRAIN, VALIDATION

__all__ = [
    "Inputs",
    "gnet_meta",
    "masked_predictor",
    "load_gnet",
    "model_inputs",
    "prepared_inputs",
    "ridge_accuracy",
    "roi_voxels",
    "save_gnet",
    "train_model",
    "transfer_readouts",
    "tuning_voxels",
    "validation_accuracy",
]

Prepared = Mapping[str, Mapping[str, np.ndarray]]


class Inputs:
    """Training and validation inputs of every subject for one prefilter.

    Attributes
    ----------
    train, validation : dict subject -> IndexedRows
        Trial-ordered views of the prefilter outputs (or of the images with ``from_images``).
    y_train, y_validation : dict subject -> ndarray (n_trials, n_voxels) float32
    from_images : bool
    prefilter : AlexNetPrefilter
    """

    def __init__(self, prepared: Prepared, prefilter: AlexNetPrefilter, cache: bool, device):
        self.prefilter, self.from_images, self.device = prefilter, not cache, device
        self.train, self.validation, self.y_train, self.y_validation = {}, {}, {}, {}
        for s, d in prepared.items():
            table = (
                prefilter_outputs(prefilter, d["images"], device=device) if cache else d["images"]
            )
            for code, x, y in (
                (TRAIN, self.train, self.y_train),
                (VALIDATION, self.validation, self.y_validation),
            ):
                rows = np.flatnonzero(d["split"] == code)
                x[s] = IndexedRows(table, d["trial_image"][rows])
                y[s] = d["responses"][rows]

    def validation_inputs(self, subject: str) -> torch.Tensor:
        """Validation prefilter outputs of a subject for :func:`predict` (each image once)."""
        view = self.validation[subject]
        if not self.from_images:
            return torch.as_tensor(view.rows())
        return self.prefiltered(view)

    def prefiltered(self, view: IndexedRows) -> torch.Tensor:
        """Prefilter outputs of a view of images, each distinct image through it once."""
        unique, inverse = np.unique(view.index, return_inverse=True)
        out = prefilter_outputs(self.prefilter, view.table[unique], device=self.device)
        return out[torch.as_tensor(inverse.ravel())]


def model_inputs(
    prepared: Prepared,
    *,
    weights: str | os.PathLike | None,
    seed: int,
    cache: bool = True,
    device: str | torch.device = "cpu",
) -> Inputs:
    """The frozen AlexNet prefilter (weights file, or seeded random) and every subject's inputs."""
    prefilter = AlexNetPrefilter(weights_path=weights, seed=seed)
    return Inputs(prepared, prefilter, cache, device)


def prepared_inputs(
    paths, *, weights, seed: int, cache: bool = True, device: str | torch.device = "cpu"
) -> tuple[dict[str, dict[str, np.ndarray]], Inputs]:
    """Read prepared subjects (``.../<subjAA>.npz``) and build their :class:`Inputs`."""
    from pathlib import Path

    from brainalign.io import read_npz

    prepared = {Path(f).stem: read_npz(f) for f in paths}
    return prepared, model_inputs(prepared, weights=weights, seed=seed, cache=cache, device=device)


def roi_voxels(prepared: Prepared, roi: str | None) -> dict[str, np.ndarray] | None:
    """Column indices of one ROI's voxels per subject; None (all voxels) for ``roi=None``."""
    if roi is None:
        return None
    code = ROI_NAMES.index(roi) + 1
    return {s: np.flatnonzero(d["roi"] == code) for s, d in prepared.items()}


def train_model(
    inputs: Inputs,
    voxels: Mapping[str, np.ndarray] | None,
    training: Mapping[str, Any],
    *,
    seed: int,
    device: str | torch.device = "cpu",
):
    """Train one GNet (GNet8j: ``voxels=None``; GNet8r: one ROI's columns) by §4.3.

    Returns ``(model, history, best_epoch)`` of
    :func:`~brainalign.networks.gnet_training.train_gnet`.
    """
    return train_gnet(
        inputs.train,
        inputs.y_train,
        seed=seed,
        epochs=training["epochs"],
        batch_size=training["batch_size"],
        lr=training["lr"],
        holdout=training["holdout"],
        device=device,
        voxels=voxels,
        trunk_width=training["trunk_width"],
        l1=training["l1"],
        prefilter=inputs.prefilter,
        from_images=inputs.from_images,
    )


def transfer_readouts(
    encoder,
    inputs: Inputs,
    training: Mapping[str, Any],
    epochs: int,
    *,
    seed: int,
    device: str | torch.device = "cpu",
):
    """Fresh readouts for all voxels on a frozen encoder (the transfer matrix, §4.3)."""
    train = inputs.train
    if inputs.from_images:  # the frozen encoder's input, computed once per image
        train = {
            s: IndexedRows(
                prefilter_outputs(inputs.prefilter, x.table, device=inputs.device), x.index
            )
            for s, x in train.items()
        }
    return fit_readouts(
        encoder,
        train,
        inputs.y_train,
        seed=seed,
        epochs=epochs,
        batch_size=training["batch_size"],
        lr=training["lr"],
        holdout=training["holdout"],
        device=device,
        l1=training["l1"],
    )


def validation_accuracy(
    model,
    inputs: Inputs,
    prepared: Prepared,
    voxels: Mapping[str, np.ndarray] | None,
    model_name: str,
    batch_size: int = 100,
) -> pd.DataFrame:
    """Per-voxel validation r and r² (single trials) of a model.

    Returns
    -------
    DataFrame
        subject, roi, voxel (column of the subject's prepared responses), model, r, r2.
    """
    frames = []
    for s, d in prepared.items():
        cols = np.arange(d["roi"].size) if voxels is None else np.asarray(voxels[s])
        pred = predict(model, inputs.validation_inputs(s), s, batch_size)
        r, r2 = voxel_accuracy(pred, inputs.y_validation[s][:, cols])
        frames.append(
            pd.DataFrame(
                {
                    "subject": s,
                    "roi": [ROI_NAMES[g - 1] for g in d["roi"][cols]],
                    "voxel": cols,
                    "model": model_name,
                    "r": r,
                    "r2": r2,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def save_gnet(path: str | os.PathLike, model, meta: Mapping[str, Any]) -> None:
    """Write a trained GNet (state dict without the prefilter, plus what rebuilds it).

    Through :func:`~brainalign.networks.image_training.save_checkpoint`: the same model gives
    the same bytes (``torch.save`` to the temporary file would put its random name in them).
    """
    from brainalign.networks.image_training import save_checkpoint

    state = {k: v for k, v in model.state_dict().items() if not k.startswith("prefilter.")}
    save_checkpoint(path, {"state_dict": state, "meta": dict(meta)})


def load_gnet(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """Read a GNet written by :func:`save_gnet`; returns ``(model, meta)`` in eval mode."""
    blob = torch.load(path, map_location=device, weights_only=True)
    meta = blob["meta"]
    model = build_gnet(
        tuple(meta["in_shape"]), dict(meta["n_voxels"]), seed=0, trunk_width=meta["trunk_width"]
    )
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), meta


def gnet_meta(model, inputs: Inputs, trunk_width: int, best_epoch: int) -> dict[str, Any]:
    """What :func:`load_gnet` needs to rebuild ``model``."""
    first = next(iter(inputs.validation))
    view = inputs.validation[first][:1]
    x = inputs.prefiltered(view) if inputs.from_images else torch.as_tensor(view.rows())
    shape = tuple(x.shape[1:])
    n_vox = {s: int(r.n_voxels) for s, r in model.readouts.items()}
    return {
        "in_shape": list(shape),
        "n_voxels": n_vox,
        "trunk_width": int(trunk_width),
        "best_epoch": int(best_epoch),
    }


def masked_predictor(model, x: torch.Tensor | np.ndarray, subject: str, n_features: int):
    """``predict_fn(mask)`` for the tuning analysis: readout weights outside ``mask`` zeroed
    (:func:`~brainalign.networks.gnet_training.masked_predictor`: the pooled features once,
    one weighted sum per mask)."""
    n_readout = model.readouts[subject].w.shape[1]
    if n_readout != n_features:
        raise ValueError(f"readout has {n_readout} features, the partition {n_features}")
    return gnet_training.masked_predictor(model, x, subject)


#: AlexNet ReLU outputs by name (torchvision ``features`` indices).
ALEXNET_RELUS = {"conv1": 1, "conv2": 4, "conv3": 7, "conv4": 9, "conv5": 11}


def alexnet_maps(
    images: np.ndarray, layers, *, weights=None, seed: int = 0, batch_size: int = 100
) -> list[np.ndarray]:
    """AlexNet ReLU feature maps (n, C, H, W) float32 of uint8 images, the prefilter's network.

    The same weights (file or seeded random initialisation) and input normalisation as the GNet
    prefilter, so conv1 and conv2 equal the prefilter's stages; for those two layers alone the
    prefilter's own modules are used (no torchvision AlexNet to build).
    """
    from brainalign.networks.architectures import build_network
    from brainalign.networks.device import deterministic_forward
    from brainalign.networks.gnet import GNET8J_MEAN, _images_to_float

    last = max(ALEXNET_RELUS[n] for n in layers)
    if last <= ALEXNET_RELUS["conv2"]:
        pre = AlexNetPrefilter(weights_path=weights, seed=seed)
        modules = [*pre.conv1.children(), *pre.conv2.children()]
    else:
        trained = "trained" if weights is not None else "untrained"
        net = build_network(
            "alexnet", trained, seed=seed, weights=None if weights is None else str(weights)
        ).eval()
        modules = list(net.features.children())
    mean = torch.tensor(GNET8J_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    out = {n: [] for n in layers}
    with deterministic_forward(), torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = _images_to_float(images[start : start + batch_size]) - mean
            for i, module in enumerate(modules[: last + 1]):
                x = module(x)
                for n in layers:
                    if ALEXNET_RELUS[n] == i:
                        out[n].append(x.numpy().copy())
    return [np.concatenate(out[n]) for n in layers]


def ridge_accuracy(
    prepared: Mapping[str, np.ndarray],
    subject: str,
    ridge: Mapping[str, Any],
    *,
    holdout: float,
    weights=None,
    seed: int = 0,
):
    """Fit the AlexNet-fwRF ridge baseline on a subject's training trials; validation accuracy.

    Returns
    -------
    accuracy : DataFrame
        subject, roi, voxel, model (``ridge``), r, r2.
    fit : FwrfRidge
    """
    from brainalign.studies.gnet_encoding.ridge_baseline import (
        fit_fwrf_ridge,
        predict_fwrf_ridge,
        prf_grid,
    )

    maps = alexnet_maps(prepared["images"], ridge["layers"], weights=weights, seed=seed)
    split, index = prepared["split"], prepared["trial_image"]
    train, val = index[split == TRAIN], index[split == VALIDATION]
    y = prepared["responses"]
    grid = prf_grid(
        n_sigmas=ridge["n_sigmas"],
        min_spacing=ridge["min_spacing"],
        aperture=ridge["aperture"],
        sigma_range=tuple(ridge["sigma_range"]),
    )
    fit = fit_fwrf_ridge(
        maps,
        y[split == TRAIN],
        lambdas=ridge["lambdas"],
        prfs=grid,
        holdout=holdout,
        rows=train,
    )
    r, r2 = voxel_accuracy(predict_fwrf_ridge(fit, maps, rows=val), y[split == VALIDATION])
    table = pd.DataFrame(
        {
            "subject": subject,
            "roi": [ROI_NAMES[g - 1] for g in prepared["roi"]],
            "voxel": np.arange(r.size),
            "model": "ridge",
            "r": r,
            "r2": r2,
        }
    )
    return table, fit


def tuning_voxels(
    model, inputs: Inputs, prepared: Prepared, trunk_width: int, *, n_boot: int, seed: int
) -> pd.DataFrame:
    """Per voxel and feature group: bootstrap inclusion / exclusion / total validation r.

    Returns
    -------
    DataFrame
        subject, roi, voxel, partition, group, total, total_se, inclusion, inclusion_se,
        exclusion, exclusion_se (bootstrap means and SDs over ``n_boot`` resamples of the
        validation trials; the same resamples for every group, seeded per subject).
    """
    from brainalign.studies.gnet_encoding.tuning import layer_groups, tuning_accuracy

    partitions = layer_groups(trunk_width)
    n_features = sum(len(v) for v in partitions["layerwise"].values())
    frames = []
    for k, (s, d) in enumerate(prepared.items()):
        fn = masked_predictor(model, inputs.validation_inputs(s), s, n_features)
        rois = [ROI_NAMES[g - 1] for g in d["roi"]]
        for part, groups in partitions.items():
            res = tuning_accuracy(
                fn,
                inputs.y_validation[s],
                groups,
                n_boot=n_boot,
                seed=np.random.SeedSequence([seed, k]),
                n_features=n_features,
            )
            for g, name in enumerate(res.groups):
                frames.append(
                    pd.DataFrame(
                        {
                            "subject": s,
                            "roi": rois,
                            "voxel": np.arange(len(rois)),
                            "partition": part,
                            "group": name,
                            "total": res.total,
                            "total_se": res.total_se,
                            "inclusion": res.inclusion[g],
                            "inclusion_se": res.inclusion_se[g],
                            "exclusion": res.exclusion[g],
                            "exclusion_se": res.exclusion_se[g],
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)
