"""Group statistics: repeated-measures ANOVA and post-hocs, permutation tests, FDR, bootstrap."""

from brainalign._lazy import lazy_api

_API = {
    "POSTHOC_MODES": "anova",
    "rm_anova": "anova",
    "posthoc_tests": "anova",
    "PERMUTATION_SCHEMES": "inference",
    "analyse_models": "inference",
    "PermutationResult": "inference",
    "bootstrap_conditions": "inference",
    "condensed_permutation": "inference",
    "fdr_bh": "inference",
    "fdr_pairwise": "inference",
    "fdr_two_level": "inference",
    "group_rdms": "inference",
    "roi_analysis": "inference",
    "searchlight_tests": "inference",
    "subject_level_models": "inference",
    "iter_permutation_indices": "inference",
    "p_from_counts": "inference",
    "permutation_indices": "inference",
    "permutation_test": "inference",
    "permutation_test_bases": "inference",
    "subset_condensed_index": "inference",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
