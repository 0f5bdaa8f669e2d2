"""The study's config block: the checks a schema cannot express.

Each check stops the run before any job starts, with one message naming the key and saying what
to write instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainalign.pipeline.config import ConfigError
from brainalign.studies.mouse_rsa.names import STUDY, dataset_name

__all__ = ["STUDY", "complete_config", "dataset_name"]


def _check_models(block: dict[str, Any]) -> None:
    for m in block["models"]:  # the schema's item defaults (list items are not filled)
        m.setdefault("seeds", [0])
        m.setdefault("trained", False)
        m.setdefault("weights", [])
    names = [m["name"] for m in block["models"]]
    for i, m in enumerate(block["models"]):
        key = f"config key '{STUDY}.models[{i}]'"
        if names.count(m["name"]) > 1:
            raise ConfigError(f"{key}: {m['name']!r} is listed twice; list its seeds once")
        if not m["trained"]:
            continue
        if len(m["weights"]) != len(m["seeds"]):
            raise ConfigError(
                f"{key}.weights: {len(m['weights'])} files for {len(m['seeds'])} seeds; give one "
                "trained weights file per seed"
            )
        for w in m["weights"]:
            if not Path(w).is_file():
                raise ConfigError(f"{key}.weights: {w!r} does not exist")


def _check_families(block: dict[str, Any]) -> None:
    from brainalign.studies.mouse_rsa.names import model_layers

    models = {m["name"] for m in block["models"]}
    for fam, spec in block["families"].items():
        key = f"config key '{STUDY}.families.{fam}'"
        if spec["model"] not in models:
            raise ConfigError(f"{key}.model: {spec['model']!r} is not in {STUDY}.models")
        known = model_layers(spec["model"])
        bad = [layer for layer in spec["layers"] if layer not in known]
        if bad:
            raise ConfigError(f"{key}.layers: {bad} are not layers of {spec['model']}: {known}")
    for i, pair in enumerate(block["family_pairs"]):
        for fam in pair:
            if fam not in block["families"]:
                raise ConfigError(
                    f"config key '{STUDY}.family_pairs[{i}]': unknown family {fam!r}; define it "
                    f"under {STUDY}.families"
                )


def complete_config(cfg: dict) -> list[str]:
    """Check ``cfg['mouse_rsa']`` (validated, defaults filled in) beyond the schema.

    Returns
    -------
    list of str
        The shared-rule network conditions the study uses: none (it records its own layers).
    """
    block = cfg[STUDY]
    _check_models(block)
    # families of models that are not configured are dropped only when left at the default
    _check_families(block)
    return []
