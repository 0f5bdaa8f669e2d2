"""Mouse RSA (Crijnen 2024): Allen Brain Observatory areas x depths x stimuli against network
layers, tau-a with split-half noise ceilings."""

from brainalign._lazy import lazy_api

_API = {
    "STUDY": "names",
    "PIXEL": "names",
    "dataset_name": "names",
    "model_runs": "names",
    "complete_config": "design",
    "brain_rdms": "analysis",
    "ceiling_rows": "analysis",
    "compare_layers": "analysis",
    "family_differences": "analysis",
    "tau_a_many": "analysis",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
