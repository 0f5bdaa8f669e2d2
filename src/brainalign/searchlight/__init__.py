"""Searchlights: neighbourhoods, the fused RDM/regression kernels and their drivers."""

from brainalign._lazy import lazy_api

_API = {
    "GroupSearchlight": "drivers",
    "Neighbourhoods": "neighbourhoods",
    "group_searchlight_rdms": "drivers",
    "label_neighbourhoods": "neighbourhoods",
    "block_neighbourhoods": "neighbourhoods",
    "blocks_to_volume": "neighbourhoods",
    "centres_to_volume": "neighbourhoods",
    "naive_searchlight_r2": "drivers",
    "prepare_volume": "neighbourhoods",
    "searchlight_r2": "drivers",
    "searchlight_rdm_chunks": "drivers",
    "searchlight_rdms": "drivers",
    "sphere_neighbourhoods": "neighbourhoods",
    "sphere_offsets": "neighbourhoods",
    "default_n_jobs": "drivers",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
