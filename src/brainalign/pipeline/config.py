"""Configuration: JSON-schema validation with defaults, semantic checks, seeds and hashes."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from brainalign.pipeline.seeds import config_hash, derive_seed

__all__ = ["ConfigError", "validate_config", "derive_seed", "config_hash", "SCHEMA_PATH"]

#: The main schema shipped with the workflow.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def _load_schema(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    schema = yaml.safe_load(path.read_text())
    return _resolve_refs(schema, path.parent)


def _resolve_refs(node: Any, base: Path) -> Any:
    """Inline ``$ref``s to sibling schema files (``{"$ref": "other.schema.yaml"}``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            sub = yaml.safe_load((base / ref).read_text())
            sub.pop("$schema", None)
            return _resolve_refs(sub, base)
        return {k: _resolve_refs(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, base) for v in node]
    return node


def _fill_defaults(instance: Any, schema: Mapping[str, Any]) -> None:
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _where(path: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "<top level>"


def validate_config(
    config: Mapping[str, Any], schema_path: str | os.PathLike = SCHEMA_PATH
) -> dict[str, Any]:
    """Validate ``config`` against the JSON schema (draft 2020-12) and fill in defaults.

    Parameters
    ----------
    config : mapping
    schema_path : path-like

    Returns
    -------
    dict
        A deep copy with defaults filled in.

    Raises
    ------
    ConfigError
        One message naming the offending key and value, e.g.
        ``config key 'comparison.permutations': 0 is less than the minimum of 1``.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    schema = _load_schema(schema_path)
    cfg = copy.deepcopy(dict(config))
    _fill_defaults(cfg, schema)
    validator = Draft202012Validator(schema)
    error = best_match(validator.iter_errors(cfg))
    if error is not None:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            key = _where(path + extra[:1])
            raise ConfigError(
                f"config key {key!r} is not a known setting (allowed under "
                f"{_where(path)!r}: {sorted(error.schema.get('properties', {}))})"
            )
        raise ConfigError(f"config key {_where(path)!r}: {error.message}")
    return cfg


#: Network names known to the workflow (kept here, free of torch, for config checks; must
#: match :data:`brainalign.networks.architectures.NETWORKS`).
KNOWN_NETWORKS = ("alexnet", "deepcluster", "modified_alexnet")
#: Regions the synthetic study simulates.
SYNTHETIC_REGIONS = ("EVC", "IT")


def check_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Semantic checks the schema cannot express; returns ``cfg`` unchanged.

    Checks: every condition names a known network; statistics comparisons name configured
    conditions; trained conditions have an existing weights file; real datasets have a path
    that exists and a known loader; synthetic regions are simulated ones.

    Raises
    ------
    ConfigError
        Naming the key and the offending value.
    """
    from brainalign.data.loaders import LOADERS

    conds = cfg["networks"]["conditions"]
    for i, cond in enumerate(conds):
        network = cond.rpartition("_")[0]
        if network not in KNOWN_NETWORKS:
            raise ConfigError(
                f"config key 'networks.conditions[{i}]': unknown network "
                f"{network!r} in condition {cond!r}; known networks: "
                f"{list(KNOWN_NETWORKS)}"
            )
    for i, pair in enumerate(cfg.get("statistics", {}).get("comparisons", [])):
        for c in pair:
            if c not in conds:
                raise ConfigError(
                    f"config key 'statistics.comparisons[{i}]': condition {c!r} "
                    f"is not in networks.conditions {conds}"
                )
        if pair[0] == pair[1]:
            raise ConfigError(
                f"config key 'statistics.comparisons[{i}]': compares {pair[0]!r} with itself"
            )
    for cond in conds:
        network, _, training = cond.rpartition("_")
        if training == "trained":
            from brainalign.networks.weights import WeightsNotFoundError, resolve_weights_path

            configured = cfg["networks"].get("weights", {}).get(network)
            try:
                resolved = resolve_weights_path(network, configured)
            except WeightsNotFoundError as err:
                raise ConfigError(f"config key 'networks.weights.{network}': {err}") from None
            cfg["networks"].setdefault("weights", {})[network] = str(resolved)
    for name in cfg["networks"].get("allow_unsafe_pickle", []):
        if name not in KNOWN_NETWORKS:
            raise ConfigError(
                f"config key 'networks.allow_unsafe_pickle': unknown network {name!r}"
            )
    ds = cfg["dataset"]
    if ds["kind"] not in LOADERS:
        raise ConfigError(
            f"config key 'dataset.kind': unknown dataset kind {ds['kind']!r}; "
            f"known kinds: {sorted(LOADERS)}"
        )
    if ds["kind"] == "synthetic":
        bad = [r for r in ds["regions"] if r not in SYNTHETIC_REGIONS]
        if bad:
            raise ConfigError(
                f"config key 'dataset.regions': the synthetic study simulates "
                f"{list(SYNTHETIC_REGIONS)}, not {bad}"
            )
    else:
        if not ds.get("path"):
            raise ConfigError(
                f"config key 'dataset.path': required for dataset kind {ds['kind']!r}"
            )
        if not Path(ds["path"]).exists():
            raise ConfigError(f"config key 'dataset.path': {ds['path']!r} does not exist")
    return cfg
