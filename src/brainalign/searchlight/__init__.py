"""Searchlights: neighbourhoods, the fused RDM/regression kernels and their drivers."""

from brainalign._lazy import lazy_api

_API = {
    "GroupSearchlight": "core",
    "Neighbourhoods": "core",
    "group_searchlight_rdms": "core",
    "label_neighbourhoods": "core",
    "block_neighbourhoods": "core",
    "blocks_to_volume": "core",
    "centres_to_volume": "core",
    "naive_searchlight_r2": "core",
    "prepare_volume": "core",
    "searchlight_r2": "core",
    "searchlight_rdm_chunks": "core",
    "searchlight_rdms": "core",
    "sphere_neighbourhoods": "core",
    "sphere_offsets": "core",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
