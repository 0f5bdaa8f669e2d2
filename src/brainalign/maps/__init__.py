"""Figures and brain maps: the one figure saver (with provenance), NIfTI, surface HTML, colours."""

from brainalign._lazy import lazy_api

_API = {
    "GREY": "brainmaps",
    "best_group_labels": "brainmaps",
    "best_model_labels": "brainmaps",
    "group_colours": "brainmaps",
    "interactive_label_map": "brainmaps",
    "label_image": "brainmaps",
    "max_pairwise_p": "brainmaps",
    "model_colours": "brainmaps",
    "plot_roi_grouped": "brainmaps",
    "plot_roi_top3": "brainmaps",
    "save_nifti": "brainmaps",
    "static_label_png": "brainmaps",
    "static_stat_png": "brainmaps",
    "values_image": "brainmaps",
    "NETWORK_COLOURS": "figures",
    "plot_layer_profiles": "figures",
    "plot_profile_panels": "figures",
    "plot_rdm_grid": "figures",
    "plot_rdm": "figures",
    "save_figure": "figures",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
