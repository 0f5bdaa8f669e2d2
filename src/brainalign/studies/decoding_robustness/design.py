"""The study's config block: derived names and the checks a schema cannot express.

Each check stops the run before any job starts, with one message naming the key and saying what
to write instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainalign.networks.registry import BACKBONE_NAMES
from brainalign.pipeline.config import ConfigError, check_networks
from brainalign.studies.decoding_robustness.names import (
    REFERENCE,
    STUDY,
    dataset_name,
    split_network,
)

__all__ = ["REFERENCE", "STUDY", "complete_config", "dataset_name"]


def _check_networks(block: dict[str, Any]) -> None:
    for i, entry in enumerate(block["networks"]):
        backbone, _ = split_network(entry)
        if backbone not in BACKBONE_NAMES:
            raise ConfigError(
                f"config key '{STUDY}.networks[{i}]': unknown backbone {backbone!r} in "
                f"{entry!r}; write '<backbone>_<trained|untrained>' with a backbone of "
                f"{list(BACKBONE_NAMES)}"
            )
        if entry.rpartition("_")[0] == "planted_reference":
            raise ConfigError(f"config key '{STUDY}.networks[{i}]': {REFERENCE} is reserved")


def _check_blur_levels(levels: list[int]) -> None:
    if levels != sorted(levels):
        raise ConfigError(
            f"config key '{STUDY}.blur_levels': {levels} must be increasing; write {sorted(levels)}"
        )
    if 2 in levels:
        raise ConfigError(
            f"config key '{STUDY}.blur_levels': level 2 has no odd kernel size in [3, 2] "
            "(A.Blur would draw an even kernel); use 1 or a level >= 3"
        )


def _check_dataset(block: dict[str, Any]) -> None:
    ds = block["dataset"]
    if ds["source"] == "kay2008" and ds["data_dir"]:
        from brainalign.data.kay2008 import FILES

        missing = [f for f in FILES.values() if not (Path(ds["data_dir"]) / f).is_file()]
        if missing:
            raise ConfigError(
                f"config key '{STUDY}.dataset.data_dir': {ds['data_dir']!r} lacks {missing}; "
                "place the Neuromatch Kay files there (URLs in resources/registry.yaml, group "
                "kay2008) or set data_dir: null to use the registry paths"
            )
    if ds["source"] != "simulated" and block["planted_reference"]:
        block["planted_reference"] = False


def _check_trained(cfg: dict[str, Any], block: dict[str, Any]) -> None:
    """Trained backbones need their weights file now, not in the middle of the run: the S1
    networks through the shared check, the torchvision ones through the backbone resolver
    (configured path, else ``resources/weights/<file>``, else the torch hub cache)."""
    from brainalign.networks.registry import BACKBONE_WEIGHTS

    trained = [e for e in block["networks"] if split_network(e)[1]]
    s1 = [e for e in trained if split_network(e)[0] not in BACKBONE_WEIGHTS]
    if s1:
        check_networks(cfg, s1, f"{STUDY}.networks")
    weights = cfg["networks"]["weights"]
    for entry in trained:
        name = split_network(entry)[0]
        if name not in BACKBONE_WEIGHTS:
            continue
        from brainalign.networks.backbones import resolve_backbone_weights
        from brainalign.networks.weights import WeightsNotFoundError

        local = Path("resources") / "weights" / BACKBONE_WEIGHTS[name].file
        configured = weights.get(name) or (str(local) if local.is_file() else None)
        try:
            weights[name] = str(resolve_backbone_weights(name, configured))
        except (WeightsNotFoundError, ValueError) as err:
            raise ConfigError(f"config key '{STUDY}.networks': {entry}: {err}") from None


def complete_config(cfg: dict) -> list[str]:
    """Check ``cfg['decoding_robustness']`` (validated, defaults filled in) beyond the schema.

    Returns
    -------
    list of str
        The shared-rule network conditions the study uses: none (it trains its own heads).

    Raises
    ------
    ConfigError
        Naming the offending key and what to write.
    """
    block = cfg[STUDY]
    _check_networks(block)
    _check_trained(cfg, block)
    _check_blur_levels(list(block["blur_levels"]))
    _check_dataset(block)
    return []
