"""The study's config block: derived defaults and the checks a schema cannot express.

Each check stops the run before any job starts, with one message naming the key and saying what
to write instead.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
from pathlib import Path
from typing import Any

from brainalign.data.loaders import LOADERS, REGIONS, source_files
from brainalign.pipeline.config import (
    ConfigError,
    check_networks,
    significance_floor,
    warn_config,
)

__all__ = ["STUDY", "complete_config", "dataset_name", "default_comparisons"]

STUDY = "truzzi2020"


def dataset_name(dataset: dict[str, Any]) -> str:
    """``dataset.name``, or its default: the kind (``synthetic<n_images>`` for the embedded set)."""
    if dataset.get("name"):
        return dataset["name"]
    if dataset["kind"] == "synthetic":
        return f"synthetic{dataset['synthetic']['n_images']}"
    return dataset["kind"]


def default_comparisons(conditions: list[str]) -> list[list[str]]:
    """Every pair of conditions, the later listed against the earlier."""
    return [[b, a] for a, b in itertools.combinations(conditions, 2)]


def _check_regions(dataset: dict[str, Any]) -> list[str]:
    known = REGIONS[dataset["kind"]]
    if dataset["regions"] is None:
        return list(known)
    for i, region in enumerate(dataset["regions"]):
        if region not in known:
            close = [k for k in known if k.lower() == region.lower()]
            hint = f"write {close[0]!r}" if close else f"write one of {list(known)}"
            raise ConfigError(
                f"config key '{STUDY}.dataset.regions[{i}]': {dataset['kind']} data has no "
                f"region {region!r}; {hint}"
            )
    return list(dataset["regions"])


def _check_path(dataset: dict[str, Any]) -> None:
    kind, path = dataset["kind"], dataset.get("path")
    key = f"config key '{STUDY}.dataset.path'"
    if not path:
        raise ConfigError(f"{key}: required for dataset kind {kind!r} (the folder of its files)")
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"{key}: {path!r} is not a folder")
    missing = [f for f in source_files(kind, folder) if not Path(f).exists()]
    images = list(folder.glob("*images")) if kind == "algonauts2019" else [True]
    if missing or not images:
        want = {
            "algonauts2019": "the Algonauts 2019 '<N>_Image_Set' folder that holds "
            "target_fmri.mat and '<N>images/' (e.g. .../Training_Data/92_Image_Set)",
            "kriegeskorte2008": "the folder that holds the rsatoolbox 92-image .mat files",
        }[kind]
        gone = [Path(f).name for f in missing] or ["an '<N>images' folder"]
        raise ConfigError(f"{key}: {path!r} lacks {gone}; point it at {want}")


def _check_options(dataset: dict[str, Any]) -> None:
    """Loader options must be keyword parameters of the kind's loader (beyond path, regions,
    name)."""
    loader = LOADERS[dataset["kind"]]
    params = inspect.signature(loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [
        n
        for n, p in params.items()
        if n not in ("path", "regions", "name")
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    for option in dataset["options"]:
        if option not in known:
            close = difflib.get_close_matches(option, known, n=1)
            hint = f"write {close[0]!r}" if close else "remove it"
            takes = f"its options: {known}" if known else "it takes no options"
            raise ConfigError(
                f"config key '{STUDY}.dataset.options.{option}': the {dataset['kind']} loader "
                f"({loader.__name__}) has no option {option!r}; {hint} ({takes})"
            )


def _check_band(figures: dict[str, Any]) -> None:
    """A fixed noise-ceiling band must be ``[low, high]`` with ``low < high``."""
    band = figures["noise_ceiling"]
    if isinstance(band, list) and not band[0] < band[1]:
        low, high = band
        fix = f"[{high}, {low}]" if low > high else "two different values, e.g. [0.31, 0.38]"
        raise ConfigError(
            f"config key '{STUDY}.figures.noise_ceiling': a band is [low, high] with low < high; "
            f"got {band}; write {fix}"
        )


def _check_training(block: dict[str, Any]) -> list[str]:
    """The networks the workflow trains; a folder of training images must exist."""
    training = block["training"]
    nets = list(training["networks"])
    if not nets:
        return nets
    images = training["images"]
    key = f"config key '{STUDY}.training.images.path'"
    if images["kind"] == "folder":
        path = images.get("path")
        if not path:
            raise ConfigError(f"{key}: required for images kind 'folder' (ImageNet layout)")
        missing = [s for s in ("train", "val") if not (Path(path) / s).is_dir()]
        if missing:
            raise ConfigError(
                f"{key}: {path!r} lacks {missing}; point it at a folder in the ImageNet layout "
                "(<path>/train/<class>/*.JPEG, <path>/val/<class>/*.JPEG)"
            )
    used = {c.rpartition("_")[0] for c in block["conditions"] if c.endswith("_trained")}
    unused = [n for n in nets if n not in used]
    if unused:
        warn_config(
            f"config key '{STUDY}.training.networks': {unused} trained but no "
            f"'<network>_trained' condition in {STUDY}.conditions uses them"
        )
    return nets


def complete_config(cfg: dict[str, Any]) -> list[str]:
    """Fill the derived defaults of ``cfg['truzzi2020']`` in place and check it.

    Derived: ``dataset.name`` (from the kind), ``dataset.regions`` (all the data set has),
    ``statistics.comparisons`` (every pair of conditions). Trained conditions of the networks in
    ``training.networks`` need no weights file (the workflow writes it).

    Parameters
    ----------
    cfg : dict
        The validated config (schema defaults filled in).

    Returns
    -------
    list of str
        The network conditions the study uses.

    Raises
    ------
    ConfigError
        Naming the key, the offending value and what to write.
    """
    block = cfg[STUDY]
    ds = block["dataset"]
    if ds["kind"] not in LOADERS:
        raise ConfigError(
            f"config key '{STUDY}.dataset.kind': unknown dataset kind {ds['kind']!r}; "
            f"known kinds: {sorted(LOADERS)}"
        )
    ds["name"] = dataset_name(ds)
    ds["regions"] = _check_regions(ds)
    _check_options(ds)
    if ds["kind"] != "synthetic":
        _check_path(ds)
    _check_band(block["figures"])
    floor = significance_floor(block["comparison"]["permutations"], block["statistics"]["alpha"])
    if floor:
        warn_config(
            f"config key '{STUDY}.comparison.permutations': {floor} (per-subject Mantel "
            f"tests against {STUDY}.statistics.alpha)"
        )
    conds = block["conditions"]
    trained_here = _check_training(block)
    check_networks(cfg, conds, f"{STUDY}.conditions", trained_here=trained_here)
    stats = block["statistics"]
    if stats["comparisons"] is None:
        stats["comparisons"] = default_comparisons(conds)
    for i, pair in enumerate(stats["comparisons"]):
        for c in pair:
            if c not in conds:
                raise ConfigError(
                    f"config key '{STUDY}.statistics.comparisons[{i}]': condition {c!r} is not "
                    f"in {STUDY}.conditions {conds}; list pairs of those conditions, or leave "
                    "comparisons out for every pair"
                )
        if pair[0] == pair[1]:
            raise ConfigError(
                f"config key '{STUDY}.statistics.comparisons[{i}]': compares {pair[0]!r} with "
                "itself"
            )
    return list(conds)
