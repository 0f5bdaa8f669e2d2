"""Dwivedi et al. (2021): functional maps by RDM regression and variance partitioning."""

from brainalign._lazy import lazy_api

_API = {
    "NEVER_MATCH": "design",
    "PAPER_ROIS": "design",
    "STUDY": "design",
    "complete_config": "design",
    "studies_of": "design",
    "study_model_names": "design",
    "study_groups": "design",
    "study_model_dir": "design",
    "study_model_inputs": "design",
    "study_model_params": "design",
    "study_searchlight": "design",
    "study_neighbourhood": "design",
    "study_volume_inputs": "design",
    "study_precomputed_inputs": "design",
    "study_has_rois": "design",
    "study_roi_inputs": "design",
    "study_targets": "design",
    "plot_roi_top3": "figures",
    "plot_roi_grouped": "figures",
    "MODES": "analysis",
    "analyse_models": "analysis",
    "group_rdms": "analysis",
    "individual_statistic": "analysis",
    "partition_statistic": "analysis",
    "rank_models": "roi",
    "roi_analysis": "roi",
    "searchlight_tests": "analysis",
    "subject_level_models": "roi",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
