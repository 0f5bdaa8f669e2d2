"""GNet (St-Yves et al., ``styvesg/nsd_gnet8x``): a shared convolutional encoder with one
feature-pooling-field readout per subject, as in GNet8j / GNet8r on NSD.

The model has three parts:

* :class:`AlexNetPrefilter` — torchvision AlexNet conv1 (Conv 3→64, 11, stride 4, padding 2 +
  ReLU + MaxPool 3/2) and conv2 (Conv 64→192, 5, padding 2 + ReLU), frozen. Input: images in
  [0, 1], ``(n, 3, H, W)``, minus a per-channel mean. 227 x 227 images give 192 x 27 x 27.
* :class:`GNetEncoder` — the trained trunk ("EncStage"): c3 = ReLU(Conv 192→128, 3, p0
  (Dropout2d 0.5 (BN 192))); trunk blocks TB(in, out) = ReLU(Conv in→out, 3, p1 (Dropout2d 0.5
  (BN in))), BN momentum 0.25; c4a, c4b at the c3 resolution, MaxPool(3, 2, 1), then c5a, c5b,
  c6a, c6b (the last 128→trunk_width). Exposed feature maps: fmap0 = [c3, c4a[:tw], c4b[:tw]]
  (256 x 25 x 25 for 227 images), fmap1 = [c5a[:tw], c5b[:tw], c6a[:tw], c6b] (256 x 13 x 13).
* :class:`FwrfReadout` — per voxel one spatial pooling field per feature map (softmax over the
  positions of logits initialised at one), 512 feature weights and a bias (both N(0, 0.01));
  with f(x) = log(1 + |x|) · tanh(x) applied to the feature maps before pooling and to the
  pooled features: ``pred[n, v] = Σ_k w[v, k] · f(Σ_xy g_v[xy] · f(fmap[n, k, xy])) + b[v]``.

Training lives in :mod:`brainalign.networks.gnet_training`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from brainalign.networks.architectures import build_network
from brainalign.networks.device import deterministic_forward

__all__ = [
    "GNET8J_MEAN",
    "GNET8R_MEAN",
    "AlexNetPrefilter",
    "FwrfReadout",
    "GNet",
    "GNetEncoder",
    "log_tanh",
    "pearson_per_voxel",
    "prefilter_outputs",
    "r2_weights",
    "readout_loss",
    "seeded",
]

#: Per-channel mean of the NSD images over all subjects (GNet8j), subtracted before conv1.
GNET8J_MEAN = (0.4761, 0.4532, 0.4131)
#: The same over the images with NSD index >= 1000 (GNet8r).
GNET8R_MEAN = (0.4752, 0.4516, 0.4118)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block on torch's RNG seeded with ``seed``; the global RNG state comes back after.

    Parameters
    ----------
    seed : int
    device : torch.device or str
        For a CUDA device its RNG is forked (and seeded) too.
    """
    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


class _LogTanh(torch.autograd.Function):
    """f(x) = log(1 + |x|) · tanh(x) with its derivative written out.

    Autograd of the composed expression keeps five intermediate tensors and runs nine
    elementwise passes; here the forward keeps 1 + |x|, log(1 + |x|) and tanh(x), and the
    backward is f'(x) = tanh|x| / (1 + |x|) + log(1 + |x|) · (1 - tanh² x) in place.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        u = torch.abs(x).add_(1)
        log_u = torch.log(u)
        t = torch.tanh(x)
        ctx.save_for_backward(u, log_u, t)
        return log_u * t

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        u, log_u, t = ctx.saved_tensors
        slope = torch.abs(t).div_(u)
        return torch.square(t).neg_().add_(1).mul_(log_u).add_(slope).mul_(grad)


def log_tanh(x: torch.Tensor) -> torch.Tensor:
    """The GNet nonlinearity f(x) = log(1 + |x|) · tanh(x), elementwise (any shape).

    Written as the original (``torch.log(1 + torch.abs(x))``), not with ``log1p``, which is
    not vectorised on the CPU (~9 ns per element against ~1 ns); the two differ by float
    rounding only (at most 2.4e-7 on N(0, 1.5²) inputs in float32). With gradients the
    derivative is computed in one custom step (:class:`_LogTanh`, 2.3x faster than autograd of
    the expression on the CPU, where this is most of GNet's training time); without, in place.
    """
    if torch.is_grad_enabled() and x.requires_grad:
        return _LogTanh.apply(x)
    return torch.abs(x).add_(1).log_().mul_(torch.tanh(x))


def _untrained_alexnet_conv12(seed: int) -> list[nn.Module]:
    """torchvision AlexNet's ``features[0:5]`` with its default initialisation under ``seed``.

    The two convolutions are the first random draws of ``alexnet()``, so these are the weights
    of ``build_network("alexnet", "untrained", seed=seed)``; building only them skips importing
    torchvision and initialising the 58 M classifier weights (~3 s of every GNet job).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
        ]


class AlexNetPrefilter(nn.Module):
    """Frozen torchvision AlexNet conv1–conv2 with their ReLUs and the pool after conv1.

    Parameters
    ----------
    weights_path : path-like, optional
        Trained torchvision AlexNet weights (resolved by
        :func:`brainalign.networks.weights.resolve_weights_path`, so the torch hub cache copy
        is found too). None: torchvision's default initialisation under ``seed``.
    seed : int
        Seed of the random initialisation (the global torch RNG is left as it was).
    mean : sequence of 3 floats
        Per-channel mean subtracted from the [0, 1] images (default :data:`GNET8J_MEAN`).
    trained : bool, optional
        Force trained weights (a missing file raises
        :class:`~brainalign.networks.weights.WeightsNotFoundError`); default: trained exactly
        when ``weights_path`` is given.

    Notes
    -----
    Input (n, 3, H, W) float images in [0, 1]; output (n, 192, H2, W2) with
    H1 = (H + 4 - 11) // 4 + 1, H2 = (H1 - 3) // 2 + 1 (227 → 27, 64 → 7). No parameter
    requires a gradient and the module stays in eval mode.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        seed: int = 0,
        mean: Sequence[float] = GNET8J_MEAN,
        trained: bool | None = None,
    ) -> None:
        super().__init__()
        trained = weights_path is not None if trained is None else trained
        if trained:
            alexnet = build_network(
                "alexnet",
                "trained",
                seed=seed,
                weights=None if weights_path is None else str(weights_path),
            )
            features = list(alexnet.features.children())[0:5]
        else:
            features = _untrained_alexnet_conv12(seed)
        self.conv1 = nn.Sequential(*features[0:3])
        self.conv2 = nn.Sequential(*features[3:5])
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> AlexNetPrefilter:  # noqa: ARG002 - always frozen
        """Stay in eval mode (the prefilter is frozen)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x - self.mean))


class _TrunkBlock(nn.Module):
    """ReLU(Conv(in→out, 3, p1)(Dropout2d(0.5)(BN(in)))), BN momentum 0.25, eps 1e-5."""

    def __init__(self, c_in: int, c_out: int, padding: int = 1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in, eps=1e-5, momentum=0.25)
        self.drop = nn.Dropout2d(0.5)
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=padding)
        nn.init.xavier_normal_(self.conv.weight, gain=nn.init.calculate_gain("relu"))
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(self.drop(self.bn(x))))


class GNetEncoder(nn.Module):
    """The GNet trunk (EncStage) and its two readout feature maps.

    Parameters
    ----------
    in_channels : int
        Channels of the prefilter output (192).
    trunk_width : int
        ``tw``: channels each trunk layer exposes to the readout (64 in GNet8j/8r); the hidden
        width is ``2 * tw``.
    c3_width : int
        Output channels of c3 (128 in the original, independent of ``tw``).
    seed : int
        Seed of the initialisation (xavier-normal convs with ReLU gain, zero biases); the
        global torch RNG is left as it was.

    Notes
    -----
    Input (n, in_channels, H, W); ``forward`` returns [fmap0, fmap1] with
    fmap0 (n, c3_width + 2 tw, H - 2, W - 2) and fmap1 (n, 4 tw, H3, W3),
    H3 = (H - 2 - 1) // 2 + 1 (27 → 25 and 13; 7 → 5 and 3).
    """

    def __init__(
        self, in_channels: int = 192, trunk_width: int = 64, c3_width: int = 128, seed: int = 0
    ) -> None:
        super().__init__()
        self.tw = int(trunk_width)
        wide = 2 * self.tw
        with seeded(seed):
            self.c3 = _TrunkBlock(in_channels, c3_width, padding=0)
            self.c4a = _TrunkBlock(c3_width, wide)
            self.c4b = _TrunkBlock(wide, wide)
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.c5a = _TrunkBlock(wide, wide)
            self.c5b = _TrunkBlock(wide, wide)
            self.c6a = _TrunkBlock(wide, wide)
            self.c6b = _TrunkBlock(wide, self.tw)
        self.n_features = (c3_width + 2 * self.tw, 4 * self.tw)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        tw = self.tw
        c3 = self.c3(x)
        c4a = self.c4a(c3)
        c4b = self.c4b(c4a)
        c5a = self.c5a(self.pool(c4b))
        c5b = self.c5b(c5a)
        c6a = self.c6a(c5b)
        c6b = self.c6b(c6a)
        return [
            torch.cat([c3, c4a[:, :tw], c4b[:, :tw]], dim=1),
            torch.cat([c5a[:, :tw], c5b[:, :tw], c6a[:, :tw], c6b], dim=1),
        ]

    def feature_shapes(self, in_shape: Sequence[int]) -> list[tuple[int, int, int]]:
        """(channels, height, width) of each feature map for an input of shape (C, H, W)."""
        _, h, w = (int(s) for s in in_shape)
        h0, w0 = h - 2, w - 2
        h1, w1 = (h0 - 1) // 2 + 1, (w0 - 1) // 2 + 1
        return [(self.n_features[0], h0, w0), (self.n_features[1], h1, w1)]


class FwrfReadout(nn.Module):
    """Per-voxel feature-pooling-field readout (``Torch_LayerwiseFWRF``) with f = log-tanh.

    Parameters
    ----------
    feature_shapes : sequence of (channels, height, width)
        Shapes of the encoder's feature maps (:meth:`GNetEncoder.feature_shapes`).
    n_voxels : int
    seed : int
        Seed of the N(0, 0.01) feature weights and biases (global RNG untouched).

    Attributes
    ----------
    rfs : ParameterList
        Pooling-field logits, one (n_voxels, height, width) per feature map, initialised at one
        (a uniform field); the field is their softmax over all positions.
    w : Parameter, (n_voxels, Σ channels)
    b : Parameter, (n_voxels,)

    Notes
    -----
    ``forward(fmaps)`` takes the list of (n, C_k, H_k, W_k) maps and returns (n, n_voxels).
    """

    def __init__(
        self, feature_shapes: Sequence[Sequence[int]], n_voxels: int, seed: int = 0
    ) -> None:
        super().__init__()
        self.feature_shapes = [tuple(int(s) for s in shape) for shape in feature_shapes]
        self.n_voxels = int(n_voxels)
        n_feat = sum(c for c, _, _ in self.feature_shapes)
        self.rfs = nn.ParameterList(
            nn.Parameter(torch.ones(self.n_voxels, h, w)) for _, h, w in self.feature_shapes
        )
        with seeded(seed):
            self.w = nn.Parameter(torch.randn(self.n_voxels, n_feat) * 0.01)
            self.b = nn.Parameter(torch.randn(self.n_voxels) * 0.01)

    def pooling_fields(self) -> list[torch.Tensor]:
        """The normalised spatial fields, one (n_voxels, H_k * W_k) per feature map."""
        return [torch.softmax(rf.flatten(1), dim=1) for rf in self.rfs]

    def features(self, fmaps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Each voxel's pooled features f(Σ_xy g_xy · f(fmap_xy)), (n, n_voxels, Σ C_k)."""
        phi = [
            torch.einsum("vs,nks->nvk", g, log_tanh(fm.flatten(2)))
            for g, fm in zip(self.pooling_fields(), fmaps, strict=True)
        ]
        return log_tanh(torch.cat(phi, dim=2))

    def combine(self, features: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions (n, n_voxels) from :meth:`features`, with the feature weights ``w``
        (n_voxels, Σ C_k; default the readout's own)."""
        return torch.einsum("nvk,vk->nv", features, self.w if w is None else w) + self.b

    def forward(self, fmaps: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.combine(self.features(fmaps))


class GNet(nn.Module):
    """A frozen prefilter, a shared encoder and one readout per subject.

    Parameters
    ----------
    prefilter : AlexNetPrefilter or None
        Needed only for :meth:`from_images`; training works from its cached outputs.
    encoder : GNetEncoder
    readouts : mapping subject -> FwrfReadout
        Subject keys are stored as strings; any key whose ``str`` matches selects a readout.

    Notes
    -----
    ``forward(prefiltered, subject)``: (n, 192, H, W) prefilter outputs → (n, n_voxels of the
    subject). A GNet8r model is one GNet per ROI whose readouts cover that ROI's voxels.
    """

    def __init__(
        self,
        prefilter: AlexNetPrefilter | None,
        encoder: GNetEncoder,
        readouts: Mapping[object, FwrfReadout],
    ) -> None:
        super().__init__()
        self.prefilter = prefilter
        self.encoder = encoder
        self.readouts = nn.ModuleDict({str(s): r for s, r in readouts.items()})

    @property
    def subjects(self) -> list[str]:
        """The subjects with a readout, in order."""
        return list(self.readouts)

    def forward(self, prefiltered: torch.Tensor, subject: object) -> torch.Tensor:
        return self.readouts[str(subject)](self.encoder(prefiltered))

    def from_images(self, images: torch.Tensor, subject: object) -> torch.Tensor:
        """Predictions from (n, 3, H, W) [0, 1] float images through the prefilter."""
        if self.prefilter is None:
            raise ValueError("this GNet has no prefilter; pass prefiltered inputs to forward")
        with torch.no_grad():
            x = self.prefilter(images)
        return self(x, subject)


def _images_to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected images (n, H, W, 3), got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def prefilter_outputs(
    prefilter: AlexNetPrefilter,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 100,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The frozen prefilter's output for every image, computed once (the speed path).

    Parameters
    ----------
    prefilter : AlexNetPrefilter
    images : array (n, H, W, 3) uint8
        Scaled to [0, 1]; the prefilter subtracts its mean.
    batch_size : int
    device : str or torch.device

    Returns
    -------
    torch.Tensor, (n, 192, H2, W2) float32 on the CPU
        Bit-reproducible (:func:`~brainalign.networks.device.deterministic_forward`).
    """
    x = _images_to_float(images)
    prefilter = prefilter.to(device).eval()
    out = []
    with deterministic_forward(), torch.no_grad():
        for start in range(0, len(x), int(batch_size)):
            out.append(prefilter(x[start : start + batch_size].to(device)).cpu())
    return torch.cat(out) if out else torch.empty(0)


def r2_weights(pred: torch.Tensor, target: torch.Tensor, floor: float = 0.1) -> torch.Tensor:
    """Per-voxel weights clamp(ρ², floor, 1) within the batch, detached (§4.3).

    ρ² = mean(cr·cv)² / (mean(cr²)·mean(cv²) + 1e-6), cr and cv centred over the batch.

    Parameters
    ----------
    pred, target : torch.Tensor, (n, v)

    Returns
    -------
    torch.Tensor, (v,)
    """
    cr = pred - pred.mean(dim=0, keepdim=True)
    cv = target - target.mean(dim=0, keepdim=True)
    rho2 = (cr * cv).mean(dim=0) ** 2 / ((cr**2).mean(dim=0) * (cv**2).mean(dim=0) + 1e-6)
    return torch.clamp(rho2, min=floor, max=1.0).detach()


def readout_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    r2_weighted: bool = True,
    readout: FwrfReadout | None = None,
    l1: float = 0.1,
) -> torch.Tensor:
    """The GNet training loss of one batch (§4.3).

    loss = Σ_v w_v·err_v / mean(w_v) + l1·Σ|W_readout|, err_v = Σ_batch (pred − target)²,
    w_v = :func:`r2_weights` (or 1 when ``r2_weighted`` is False).

    Parameters
    ----------
    pred, target : torch.Tensor, (n, v)
    r2_weighted : bool
    readout : FwrfReadout, optional
        Its feature weights ``w`` get the L1 penalty (none when None).
    l1 : float

    Returns
    -------
    torch.Tensor, scalar
    """
    err = ((pred - target) ** 2).sum(dim=0)
    if r2_weighted:
        wgt = r2_weights(pred, target)
        loss = (wgt * err).sum() / wgt.mean()
    else:
        loss = err.sum()
    if readout is not None and l1:
        loss = loss + l1 * readout.w.abs().sum()
    return loss


def pearson_per_voxel(
    pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor
) -> np.ndarray:
    """Pearson r between prediction and data, per voxel (column), in float64.

    Parameters
    ----------
    pred, target : array (n, v)

    Returns
    -------
    np.ndarray, (v,)
        NaN where either column is constant.
    """
    from brainalign.stats.encoding import voxel_accuracy

    p = np.asarray(torch.as_tensor(pred).detach().cpu(), dtype=np.float64)
    t = np.asarray(torch.as_tensor(target).detach().cpu(), dtype=np.float64)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"pred {p.shape} and target {t.shape} must both be (n, v)")
    return voxel_accuracy(p, t)[0]  # the core's per-voxel Pearson r
