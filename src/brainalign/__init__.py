"""brainalign: compare deep-network and brain representations, reproducibly.

The curated public API, grouped as rsatoolbox groups its verbs; each name is imported from its
submodule on first use (so ``import brainalign`` stays cheap and does not load torch):

RDMs
    :func:`compute_rdm`, :func:`validate_rdm`, :func:`noise_ceiling`
Comparing RDMs
    :func:`compare_rdms`, :func:`mantel_test`, :func:`mantel_many`, :func:`partial_mantel_test`
Group statistics
    :func:`rm_anova`, :func:`posthoc_tests`
RDM regression (functional maps)
    :func:`ols_fit`, :func:`adjusted_r2`, :func:`variance_partition`, :func:`permutation_test`,
    :func:`fdr_bh`, :func:`roi_analysis`, :func:`searchlight_r2`, :func:`group_searchlight_rdms`
Networks and activations
    :func:`build_network`, :func:`extract_activations`, :func:`preprocess`
Data
    :func:`load_dataset`, :func:`fetch`, :func:`resolve_weights_path`
Reproducibility
    :func:`derive_seed`, :func:`config_hash`, :func:`with_provenance`

See the submodules for everything else.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "compute_rdm": "rdm",
    "validate_rdm": "rdm",
    "noise_ceiling": "noise_ceiling",
    "compare_rdms": "compare",
    "mantel_test": "mantel",
    "mantel_many": "mantel",
    "partial_mantel_test": "mantel",
    "rm_anova": "stats",
    "posthoc_tests": "stats",
    "ols_fit": "regression",
    "adjusted_r2": "regression",
    "variance_partition": "regression",
    "permutation_test": "inference",
    "fdr_bh": "inference",
    "roi_analysis": "inference",
    "searchlight_r2": "searchlight",
    "group_searchlight_rdms": "searchlight",
    "build_network": "networks",
    "extract_activations": "activations",
    "preprocess": "activations",
    "load_dataset": "datasets",
    "fetch": "download",
    "resolve_weights_path": "weights",
    "derive_seed": "seeds",
    "config_hash": "seeds",
    "with_provenance": "provenance",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
