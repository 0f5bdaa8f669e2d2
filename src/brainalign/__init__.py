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

from brainalign._lazy import lazy_api

__version__ = "0.1.0"

_API = {
    "compute_rdm": "rsa.rdm",
    "validate_rdm": "rsa.rdm",
    "noise_ceiling": "rsa.noise_ceiling",
    "compare_rdms": "rsa.compare",
    "mantel_test": "rsa.mantel",
    "mantel_many": "rsa.mantel",
    "partial_mantel_test": "rsa.mantel",
    "rm_anova": "stats.anova",
    "posthoc_tests": "stats.anova",
    "ols_fit": "rsa.ols",
    "adjusted_r2": "rsa.ols",
    "variance_partition": "rsa.partition",
    "permutation_test": "stats.permutation",
    "fdr_bh": "stats.fdr",
    "roi_analysis": "studies.dwivedi2021.roi",
    "searchlight_r2": "searchlight.drivers",
    "group_searchlight_rdms": "searchlight.drivers",
    "build_network": "networks.architectures",
    "extract_activations": "networks.activations",
    "preprocess": "networks.activations",
    "load_dataset": "data.loaders",
    "fetch": "pipeline.download",
    "resolve_weights_path": "networks.weights",
    "derive_seed": "pipeline.seeds",
    "config_hash": "pipeline.seeds",
    "with_provenance": "pipeline.provenance",
}

__all__ = ["__version__", *_API]


__getattr__, __dir__ = lazy_api(__name__, _API)
