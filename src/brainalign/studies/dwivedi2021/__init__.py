"""Dwivedi et al. (2021): functional maps by RDM regression and variance partitioning."""

from brainalign._lazy import lazy_api

_API = {
    "PAPER_ROIS": "io",
    "fill_defaults": "io",
    "find_model_rdm_files": "io",
    "iter_searchlight_rdms": "io",
    "load_mat_rdm": "io",
    "load_model_rdms": "io",
    "load_roi_labels": "io",
    "load_roi_rdms": "io",
    "load_searchlight_rdms": "io",
    "load_fmaps_config": "io",
    "load_volumes": "io",
    "read_table": "io",
    "searchlight_dir": "io",
    "studies_of": "io",
    "study_groups": "io",
    "study_has_rois": "io",
    "study_model_dir": "io",
    "study_model_inputs": "io",
    "study_model_names": "io",
    "study_model_params": "io",
    "study_precomputed_inputs": "io",
    "study_roi_inputs": "io",
    "study_searchlight": "io",
    "study_targets": "io",
    "study_volume_inputs": "io",
    "write_table": "io",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
