"""Representational similarity analysis: condensed form, RDMs, comparison statistics, Mantel
tests, noise ceilings and RDM regression."""

from brainalign._lazy import lazy_api

_API = {
    "METHODS": "compare",
    "compare_rdms": "compare",
    "condensed": "compare",
    "check_method": "compare",
    "as_condensed": "compare",
    "as_square": "compare",
    "ALTERNATIVES": "mantel",
    "MantelResult": "mantel",
    "draw_permutations": "mantel",
    "mantel_many": "mantel",
    "mantel_test": "mantel",
    "partial_mantel_test": "mantel",
    "permutation_statistics": "mantel",
    "CEILING_STATISTICS": "noise_ceiling",
    "ceiling_mask": "noise_ceiling",
    "noise_ceiling": "noise_ceiling",
    "noise_ceiling_condensed": "noise_ceiling",
    "rank_rows": "noise_ceiling",
    "rowwise_corr": "noise_ceiling",
    "RDM_METRICS": "rdm",
    "compute_rdm": "rdm",
    "validate_rdm": "rdm",
    "validate_rdm_stack": "rdm",
    "symmetrize_upper": "rdm",
    "OLSFit": "regression",
    "DesignBases": "regression",
    "adjusted_r2": "regression",
    "clip_negative": "regression",
    "condensed_index_pairs": "regression",
    "n_conditions_from_pairs": "regression",
    "ols_fit": "regression",
    "orthonormal_basis": "regression",
    "r2_score": "regression",
    "rdm_to_vector": "regression",
    "stack_predictors": "regression",
    "variance_partition": "regression",
    "variance_partition_gram": "regression",
    "vpart2": "regression",
    "vpart3": "regression",
    "vpart_general": "regression",
    "vector_to_rdm": "regression",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
