"""Truzzi & Cusack (2020): network vs IT with Mantel tests, ANOVAs and the paper's figures."""

from brainalign._lazy import lazy_api

_API = {
    "STUDY": "checks",
    "complete_config": "checks",
    "dataset_name": "checks",
    "default_comparisons": "checks",
    "UnsafePickleError": "legacy",
    "RestrictedUnpickler": "legacy",
    "restricted_load": "legacy",
    "restricted_loads": "legacy",
    "CUSACK_NETWORKS": "legacy",
    "CUSACK_TRAININGS": "legacy",
    "image_index": "legacy",
    "load_niko92_activations": "legacy",
    "import_niko92_activations": "legacy",
    "parse_tau_filename": "legacy",
    "load_singlesubj_taus": "legacy",
    "import_tau_pickles": "legacy",
    "NETWORK_COLOURS": "figures",
    "plot_layer_profiles": "figures",
    "plot_profile_panels": "figures",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
