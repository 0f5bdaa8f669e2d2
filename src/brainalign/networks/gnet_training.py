"""Training GNet jointly over subjects (GNet8j / GNet8r, §4.3 of the methods) and fitting
fresh readouts on a frozen encoder (the transfer matrix).

The recipe: per subject the last ``holdout`` fraction of the training trials (in the given
order, not random) is held out. The remaining trials are cut into contiguous single-subject
minibatches; every epoch visits all of them in an order shuffled across subjects. A batch of
subject s steps, one after the other, the shared encoder's Adam and then s's readout Adam, each
after its own forward/backward pass of the loss (:func:`~brainalign.networks.gnet.readout_loss`).
After each epoch the median holdout Pearson r over all voxels of all subjects is scored; the
parameters of the best epoch are restored at the end.

Everything is seeded from ``seed`` (initialisation, dropout, batch order) under a forked torch
RNG, so the global RNG state is untouched and the same seed gives bit-identical weights on the
CPU (one intra-op thread, :func:`~brainalign.networks.device.deterministic_forward`).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from brainalign.networks.device import deterministic_forward, sub_seed
from brainalign.networks.gnet import (
    AlexNetPrefilter,
    FwrfReadout,
    GNet,
    GNetEncoder,
    _images_to_float,
    pearson_per_voxel,
    readout_loss,
    seeded,
)

__all__ = [
    "IndexedRows",
    "build_gnet",
    "fit_readouts",
    "masked_predictor",
    "predict",
    "train_gnet",
]

Subject = object
Inputs = Mapping[Subject, "np.ndarray | torch.Tensor | IndexedRows"]


class IndexedRows:
    """Rows ``table[index]`` picked lazily: per-trial inputs stored once per image.

    A trial-ordered view of a per-image table (prefilter outputs or images), so repeated
    showings of an image do not copy its data. Slicing gives another view; the rows are
    gathered only when a batch is used.

    Parameters
    ----------
    table : array or tensor (n_images, ...)
    index : array_like (n_trials,), int
        Row of ``table`` for each trial.
    """

    def __init__(self, table: np.ndarray | torch.Tensor, index: np.ndarray) -> None:
        self.table = table
        self.index = np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.index.size)

    def __getitem__(self, key: slice) -> IndexedRows:
        return IndexedRows(self.table, self.index[key])

    def rows(self) -> np.ndarray | torch.Tensor:
        """The gathered rows, (len(self), ...)."""
        if isinstance(self.table, torch.Tensor):
            return self.table[torch.as_tensor(self.index)]
        return self.table[self.index]


def _rows(x):
    return x.rows() if isinstance(x, IndexedRows) else x


def _readouts(
    shapes: Sequence[tuple[int, int, int]], n_voxels: Mapping[Subject, int], seed: int
) -> dict[Subject, FwrfReadout]:
    return {
        s: FwrfReadout(shapes, n, seed=sub_seed(seed, 1, i))
        for i, (s, n) in enumerate(n_voxels.items())
    }


def build_gnet(
    in_shape: Sequence[int],
    n_voxels: Mapping[Subject, int],
    *,
    seed: int,
    trunk_width: int = 64,
    prefilter: AlexNetPrefilter | None = None,
) -> GNet:
    """A freshly initialised GNet.

    Parameters
    ----------
    in_shape : (C, H, W)
        Shape of one prefilter output (192, 27, 27 for 227 x 227 images).
    n_voxels : mapping subject -> int
        Voxels of each subject's readout (a GNet8r model: that ROI's voxels).
    seed : int
        Seeds the encoder and (derived, one per subject) the readouts.
    trunk_width : int
    prefilter : AlexNetPrefilter, optional
        Kept in the model (for :meth:`GNet.from_images`).

    Returns
    -------
    GNet
    """
    encoder = GNetEncoder(int(in_shape[0]), trunk_width, seed=sub_seed(seed, 0))
    shapes = encoder.feature_shapes(in_shape)
    return GNet(prefilter, encoder, _readouts(shapes, n_voxels, seed))


@dataclass
class _Split:
    x_train: np.ndarray | torch.Tensor
    y_train: torch.Tensor
    x_hold: np.ndarray | torch.Tensor
    y_hold: torch.Tensor


def _split(
    inputs: Inputs,
    responses: Mapping[Subject, np.ndarray | torch.Tensor],
    holdout: float,
    voxels: Mapping[Subject, np.ndarray] | None,
) -> dict[str, _Split]:
    if set(map(str, inputs)) != set(map(str, responses)):
        raise ValueError(f"subjects differ: inputs {list(inputs)}, responses {list(responses)}")
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    by_name = {str(s): r for s, r in responses.items()}
    out = {}
    for s, x in inputs.items():
        y = torch.as_tensor(np.asarray(by_name[str(s)]), dtype=torch.float32)
        if voxels is not None:
            y = y[:, torch.as_tensor(np.asarray(voxels[s]))]
        n = len(x)
        if y.ndim != 2 or len(y) != n:
            raise ValueError(f"subject {s}: {n} inputs but responses of shape {tuple(y.shape)}")
        n_hold = int(math.ceil(n * holdout))
        if not 0 < n_hold < n:
            raise ValueError(f"subject {s}: {n} trials leave no training or holdout trials")
        cut = n - n_hold
        out[str(s)] = _Split(x[:cut], y[:cut], x[cut:], y[cut:])
    return out


def _input_fn(
    prefilter: AlexNetPrefilter | None, from_images: bool, device: torch.device
) -> Callable[[np.ndarray | torch.Tensor], torch.Tensor]:
    if not from_images:
        return lambda x: torch.as_tensor(_rows(x), dtype=torch.float32).to(device)
    if prefilter is None:
        raise ValueError("from_images=True needs a prefilter")
    prefilter = prefilter.to(device).eval()

    def through_prefilter(x: np.ndarray | torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return prefilter(_images_to_float(_rows(x)).to(device))

    return through_prefilter


def _batches(splits: Mapping[str, _Split], batch_size: int) -> list[tuple[str, slice]]:
    return [
        (s, slice(start, start + batch_size))
        for s, sp in splits.items()
        for start in range(0, len(sp.y_train), batch_size)
    ]


@dataclass
class _Fit:
    model: GNet
    optimisers: dict[str, list[torch.optim.Optimizer]]
    to_input: Callable[[np.ndarray | torch.Tensor], torch.Tensor]
    device: torch.device
    batch_size: int
    l1: float
    train_encoder: bool


@contextlib.contextmanager
def _gradients_only_for(opt: torch.optim.Optimizer, model: torch.nn.Module) -> Iterator[None]:
    """In the block, only the parameters ``opt`` steps need a gradient.

    Each optimiser's pass (§4.3: encoder, then the subject's readout) would also fill the other
    parameters' gradients, which no step uses: the next optimiser's ``zero_grad`` clears them
    before its own pass. Leaving them out skips the encoder's backward in the readout pass and
    the readout weights' in the encoder pass; the gradients that are used are the same.
    """
    own = {id(p) for group in opt.param_groups for p in group["params"]}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in own]
    for p in others:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in others:
            p.requires_grad_(True)


def _train_epoch(fit: _Fit, splits: Mapping[str, _Split], order: np.ndarray) -> dict[str, float]:
    fit.model.train()
    if not fit.train_encoder:
        fit.model.encoder.eval()
    batches = _batches(splits, fit.batch_size)
    err = dict.fromkeys(splits, 0.0)
    for i in order:
        s, sl = batches[i]
        xb = fit.to_input(splits[s].x_train[sl])
        yb = splits[s].y_train[sl].to(fit.device)
        readout = fit.model.readouts[s]
        for opt in fit.optimisers[s]:
            opt.zero_grad()
            with _gradients_only_for(opt, fit.model):
                pred = fit.model(xb, s)
                readout_loss(pred, yb, True, readout, fit.l1).backward()
            opt.step()
        err[s] += float(((pred.detach() - yb) ** 2).sum(dim=0).mean())
    return {s: e / len(splits[s].y_train) for s, e in err.items()}


def _predict(fit: _Fit, x: np.ndarray | torch.Tensor, subject: str) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for start in range(0, len(x), fit.batch_size):
            xb = fit.to_input(x[start : start + fit.batch_size])
            out.append(fit.model(xb, subject).cpu())
    return torch.cat(out)


def _score(fit: _Fit, splits: Mapping[str, _Split]) -> tuple[dict, dict]:
    fit.model.eval()
    loss, r = {}, {}
    for s, sp in splits.items():
        pred = _predict(fit, sp.x_hold, s)
        loss[s] = float(((pred - sp.y_hold) ** 2).sum(dim=0).mean()) / len(sp.y_hold)
        r[s] = np.nan_to_num(pearson_per_voxel(pred, sp.y_hold))
    return loss, r


def _run(fit: _Fit, splits: Mapping[str, _Split], epochs: int, seed: int):
    rng = np.random.default_rng(sub_seed(seed, 2))
    n_batches = len(_batches(splits, fit.batch_size))
    rows, best, best_epoch, best_state = [], -np.inf, -1, None
    for epoch in range(int(epochs)):
        train = _train_epoch(fit, splits, rng.permutation(n_batches))
        hold, r = _score(fit, splits)
        joint = float(np.median(np.concatenate(list(r.values()))))
        rows += [
            {
                "epoch": epoch,
                "subject": s,
                "train_loss": train[s],
                "holdout_loss": hold[s],
                "holdout_median_r": float(np.median(r[s])),
                "joint_median_r": joint,
            }
            for s in splits
        ]
        if joint > best:
            best, best_epoch = joint, epoch
            best_state = copy.deepcopy(fit.model.state_dict())
    if best_state is not None:
        fit.model.load_state_dict(best_state)
    fit.model.eval()
    return pd.DataFrame(rows), best_epoch


def _adam(params, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def train_gnet(
    prefiltered: Inputs,
    responses: Mapping[Subject, np.ndarray | torch.Tensor],
    *,
    seed: int,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    holdout: float = 0.1,
    device: str | torch.device = "cpu",
    voxels: Mapping[Subject, np.ndarray] | None = None,
    trunk_width: int = 64,
    l1: float = 0.1,
    prefilter: AlexNetPrefilter | None = None,
    from_images: bool = False,
) -> tuple[GNet, pd.DataFrame, int]:
    """Train a GNet jointly over subjects (§4.3).

    Parameters
    ----------
    prefiltered : mapping subject -> tensor (n, C, H, W)
        Prefilter outputs (:func:`~brainalign.networks.gnet.prefilter_outputs`) of each
        subject's training trials, in trial order; with ``from_images``, uint8 images
        (n, H, W, 3) that go through ``prefilter`` batch by batch instead (same result).
        An :class:`IndexedRows` view (per-image table, trial -> image index) stores each
        image once.
    responses : mapping subject -> array (n, v)
        Single-trial responses, rows matching ``prefiltered``.
    seed : int
    epochs : int
    batch_size : int
    lr : float
        Adam learning rate of every optimiser.
    holdout : float
        Fraction of each subject's trials, taken from the end, held out for model selection.
    device : str or torch.device
    voxels : mapping subject -> index array, optional
        Columns of ``responses`` to model (GNet8r: one ROI's voxels).
    trunk_width : int
    l1 : float
        Weight of the L1 penalty on the readout feature weights.
    prefilter : AlexNetPrefilter, optional
        Stored in the model; needed with ``from_images``.
    from_images : bool

    Returns
    -------
    model : GNet
        In eval mode, with the best epoch's parameters.
    history : pandas.DataFrame
        One row per epoch and subject: epoch, subject, train_loss, holdout_loss (mean squared
        error per trial and voxel), holdout_median_r, joint_median_r (over all subjects).
    best_epoch : int
        0-based epoch with the highest joint median holdout r.
    """
    dev = torch.device(device)
    splits = _split(prefiltered, responses, holdout, voxels)
    to_input = _input_fn(prefilter, from_images, dev)
    with deterministic_forward(), seeded(seed, dev):
        in_shape = to_input(next(iter(splits.values())).x_train[:1]).shape[1:]
        n_vox = {s: sp.y_train.shape[1] for s, sp in splits.items()}
        model = build_gnet(
            in_shape, n_vox, seed=seed, trunk_width=trunk_width, prefilter=prefilter
        ).to(dev)
        enc_opt = _adam(model.encoder.parameters(), lr)
        opts = {s: [enc_opt, _adam(model.readouts[s].parameters(), lr)] for s in splits}
        fit = _Fit(model, opts, to_input, dev, int(batch_size), l1, train_encoder=True)
        history, best_epoch = _run(fit, splits, epochs, seed)
    return model, history, best_epoch


def fit_readouts(
    frozen_encoder: GNetEncoder,
    prefiltered: Inputs,
    responses: Mapping[Subject, np.ndarray | torch.Tensor],
    *,
    seed: int,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    holdout: float = 0.1,
    device: str | torch.device = "cpu",
    voxels: Mapping[Subject, np.ndarray] | None = None,
    l1: float = 0.1,
) -> tuple[GNet, pd.DataFrame, int]:
    """Fit fresh readouts on a frozen encoder (the transfer matrix of §4.3).

    Same recipe as :func:`train_gnet` with only the readout optimisers; the encoder (a copy:
    the argument is not modified) stays in eval mode with its weights and BatchNorm statistics
    fixed.

    Parameters
    ----------
    frozen_encoder : GNetEncoder
        E.g. ``model.encoder`` of the GNet8r trained on another ROI.
    prefiltered, responses, seed, epochs, batch_size, lr, holdout, device, voxels, l1
        As for :func:`train_gnet`.

    Returns
    -------
    model : GNet
        The frozen encoder copy and the fitted readouts (best epoch), no prefilter.
    history : pandas.DataFrame
    best_epoch : int
    """
    dev = torch.device(device)
    splits = _split(prefiltered, responses, holdout, voxels)
    encoder = copy.deepcopy(frozen_encoder).to(dev).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    to_input = _input_fn(None, False, dev)
    with deterministic_forward(), seeded(seed, dev):
        in_shape = tuple(_rows(next(iter(splits.values())).x_train[:1]).shape[1:])
        n_vox = {s: sp.y_train.shape[1] for s, sp in splits.items()}
        readouts = _readouts(encoder.feature_shapes(in_shape), n_vox, seed)
        model = GNet(None, encoder, readouts).to(dev)
        opts = {s: [_adam(model.readouts[s].parameters(), lr)] for s in splits}
        fit = _Fit(model, opts, to_input, dev, int(batch_size), l1, train_encoder=False)
        history, best_epoch = _run(fit, splits, epochs, seed)
    return model, history, best_epoch


def _eval_on(model: GNet, device: str | torch.device | None) -> torch.device:
    """Put ``model`` in eval mode on ``device`` (default: where its encoder is); the device."""
    dev = torch.device(device) if device is not None else next(model.encoder.parameters()).device
    model.to(dev).eval()
    return dev


def predict(
    model: GNet,
    prefiltered: np.ndarray | torch.Tensor,
    subject: Subject,
    batch_size: int = 100,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """A subject's predicted responses, in eval mode (the model is left in eval mode).

    Parameters
    ----------
    model : GNet
    prefiltered : tensor (n, C, H, W)
        Prefilter outputs.
    subject : object
        A subject with a readout in ``model``.
    batch_size : int
    device : str or torch.device, optional
        Default: where the model's encoder is.

    Returns
    -------
    np.ndarray, (n, n_voxels) float32
    """
    dev = _eval_on(model, device)
    fit = _Fit(model, {}, _input_fn(None, False, dev), dev, int(batch_size), 0.0, False)
    with deterministic_forward():
        return _predict(fit, prefiltered, str(subject)).numpy()


def masked_predictor(
    model: GNet,
    prefiltered: np.ndarray | torch.Tensor,
    subject: Subject,
    batch_size: int = 100,
    device: str | torch.device | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """``predict(mask)``: a subject's predictions with the feature weights outside ``mask``
    zeroed (the tuning analysis).

    The encoder, the pooling fields and both nonlinearities do not depend on the feature
    weights, so each batch's pooled features are computed once, here, and every mask costs
    one weighted sum; each prediction equals :func:`predict` with the weights zeroed in the
    model (the same operations on the same values, bit for bit). The features of all trials
    stay in memory (n × n_voxels × Σ C_k float32); the model's weights are not modified (it is
    left in eval mode on the device, as by :func:`predict`).

    Parameters
    ----------
    model, prefiltered, subject, batch_size, device
        As for :func:`predict`.

    Returns
    -------
    callable
        ``predict(mask)`` with ``mask`` (Σ C_k,) bool -> np.ndarray (n, n_voxels) float32.
    """
    dev = _eval_on(model, device)
    readout = model.readouts[str(subject)]
    to_input = _input_fn(None, False, dev)
    with deterministic_forward(), torch.no_grad():
        feats = [
            readout.features(model.encoder(to_input(prefiltered[start : start + batch_size])))
            for start in range(0, len(prefiltered), int(batch_size))
        ]
    full = readout.w.detach().clone()

    def predict_masked(mask: np.ndarray) -> np.ndarray:
        m = torch.as_tensor(np.asarray(mask, dtype=bool), device=dev)
        if m.shape != (full.shape[1],):
            raise ValueError(f"mask {tuple(m.shape)}: the readout has {full.shape[1]} features")
        w = full * m.to(full.dtype)[None, :]
        with deterministic_forward(), torch.no_grad():
            return torch.cat([readout.combine(f, w).cpu() for f in feats]).numpy()

    return predict_masked
