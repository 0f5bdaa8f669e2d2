"""The torch-free network registry: names, layers, trainings and trained-weights files.

Config checks and weights resolution read this module without importing torch; the torch
models and the spec registry :data:`brainalign.networks.architectures.NETWORKS` (built from
:data:`WEIGHTS`, and checked against :data:`KNOWN_NETWORKS`) live in ``architectures``.

To add a network, add its name to :data:`KNOWN_NETWORKS`, its weights file to :data:`WEIGHTS`
and a :class:`NetworkSpec` to ``architectures.NETWORKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "LAYER_NAMES",
    "TRAININGS",
    "KNOWN_NETWORKS",
    "WeightsInfo",
    "WEIGHTS",
    "NetworkSpec",
    "parse_condition",
]

#: Names of the 7 recorded ReLU outputs, in network order.
LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
#: Training regimes a condition may have.
TRAININGS = ("trained", "untrained")
#: Config names of the registered networks (the keys of ``architectures.NETWORKS``).
KNOWN_NETWORKS = ("alexnet", "deepcluster", "modified_alexnet")


@dataclass(frozen=True)
class WeightsInfo:
    """The trained weights of one network.

    Attributes
    ----------
    file : str
        File name the trained weights usually have.
    source : str
        Where to obtain them (URL or instructions).
    family : str
        The checkpoint layout :func:`brainalign.networks.weights.inspect_state_dict` must
        recognise (``"torchvision_alexnet"`` or ``"deepcluster_alexnet"``).
    """

    file: str
    source: str
    family: str


#: Trained-weights files of the registered networks, by config name.
WEIGHTS: dict[str, WeightsInfo] = {
    "alexnet": WeightsInfo(
        "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "torchvision_alexnet",
    ),
    "deepcluster": WeightsInfo(
        "checkpoint.pth.tar",
        "https://dl.fbaipublicfiles.com/deepcluster/alexnet/checkpoint.pth.tar "
        "(or the Cusack lab's deepcluster_checkpoint_dc.pth.tar from "
        "s3://cusacklab/2020ICLR_BAICS_ATRC_opendata/)",
        "deepcluster_alexnet",
    ),
    "modified_alexnet": WeightsInfo(
        "modified_alexnet_checkpoint_27.pth.tar",
        "s3://cusacklab/2020ICLR_BAICS_ATRC_opendata/modified_alexnet_checkpoint_27.pth.tar",
        "deepcluster_alexnet",
    ),
}
if tuple(WEIGHTS) != KNOWN_NETWORKS:
    raise RuntimeError(f"WEIGHTS lists {tuple(WEIGHTS)}, KNOWN_NETWORKS {KNOWN_NETWORKS}")


@dataclass(frozen=True)
class NetworkSpec:
    """A network the workflow can extract activations from.

    Attributes
    ----------
    name : str
        Config name (``networks`` / ``conditions`` entries use it).
    description : str
        One line for tables and reports.
    build : callable
        ``build(width) -> nn.Module`` creating a freshly initialised model; called under a
        seeded torch RNG.
    weights_file : str
        File name the trained weights usually have.
    weights_source : str
        Where to obtain the trained weights (URL or instructions).
    """

    name: str
    description: str
    build: Callable[[float], nn.Module]
    weights_file: str
    weights_source: str


def parse_condition(condition: str) -> tuple[str, str]:
    """Split a condition id ``"<network>_<training>"`` into its parts.

    Parameters
    ----------
    condition : str
        e.g. ``"deepcluster_untrained"``.

    Returns
    -------
    (network, training) : tuple of str

    Raises
    ------
    ValueError
        If the network is not registered or the training is not trained/untrained.
    """
    network, _, training = condition.rpartition("_")
    if training not in TRAININGS or not network:
        raise ValueError(
            f"condition {condition!r} must be '<network>_trained' or '<network>_untrained'"
        )
    if network not in KNOWN_NETWORKS:
        raise ValueError(
            f"unknown network {network!r} in condition {condition!r}; "
            f"known networks: {sorted(KNOWN_NETWORKS)}"
        )
    return network, training
