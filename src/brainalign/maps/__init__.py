"""Figures and brain maps: the one figure saver (with provenance), NIfTI, surface HTML, colours."""

from brainalign._lazy import lazy_api

_API = {
    "GREY": "colours",
    "group_colours": "colours",
    "model_colours": "colours",
    "best_group_labels": "labels",
    "best_model_labels": "labels",
    "label_image": "labels",
    "max_pairwise_p": "labels",
    "values_image": "labels",
    "save_nifti": "nifti",
    "voxels_image": "nifti",
    "interactive_label_map": "surface",
    "static_label_png": "surface",
    "static_stat_png": "surface",
    "plot_rdm_grid": "figures",
    "plot_rdm": "figures",
    "save_figure": "figures",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
