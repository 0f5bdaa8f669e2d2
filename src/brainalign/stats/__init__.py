"""Group statistics: repeated-measures ANOVA and post-hocs, permutation tests, FDR, bootstrap,
voxel-wise encoding accuracy."""

from brainalign._lazy import lazy_api

_API = {
    "POSTHOC_MODES": "anova",
    "rm_anova": "anova",
    "posthoc_tests": "anova",
    "PERMUTATION_SCHEMES": "permutation",
    "PermutationResult": "permutation",
    "condensed_permutation": "permutation",
    "iter_permutation_indices": "permutation",
    "p_from_counts": "permutation",
    "permutation_indices": "permutation",
    "permutation_test": "permutation",
    "permutation_test_bases": "permutation",
    "rng_from_seed": "permutation",
    "subset_condensed_index": "permutation",
    "fdr_bh": "fdr",
    "fdr_pairwise": "fdr",
    "fdr_two_level": "fdr",
    "permutations_for_share": "fdr",
    "selective_adjust": "fdr",
    "bootstrap_conditions": "bootstrap",
    "bootstrap_difference_p": "bootstrap",
    "bootstrap_difference_p_many": "bootstrap",
    "difference_counts": "bootstrap",
    "iter_bootstrap_indices": "bootstrap",
    "Seed": "permutation",
    "voxel_accuracy": "encoding",
    "explainable_fraction": "encoding",
    "roi_summary": "encoding",
    "compare_models": "encoding",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
