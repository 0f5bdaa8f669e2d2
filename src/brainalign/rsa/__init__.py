"""Representational similarity analysis: condensed form, RDMs, comparison statistics, Mantel
tests, noise ceilings, RDM regression and variance partitioning.

The validated square -> condensed conversion is :func:`brainalign.rsa.condensed.condensed`
(the package attribute ``condensed`` is that module).
"""

from brainalign._lazy import lazy_api

_API = {
    "SYMMETRY_RTOL": "condensed",
    "as_condensed": "condensed",
    "as_square": "condensed",
    "check_square_rdm": "condensed",
    "condensed_index_pairs": "condensed",
    "is_square_rdm": "condensed",
    "n_conditions_from_pairs": "condensed",
    "pair_index": "condensed",
    "rdm_to_vector": "condensed",
    "vector_to_rdm": "condensed",
    "METHODS": "compare",
    "compare_rdms": "compare",
    "check_method": "compare",
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
    "OLSFit": "ols",
    "DesignBases": "ols",
    "adjusted_r2": "ols",
    "clip_negative": "ols",
    "ols_fit": "ols",
    "orthonormal_basis": "ols",
    "r2_score": "ols",
    "stack_predictors": "ols",
    "total_ss": "ols",
    "PartitionPlan": "partition",
    "partition_from_r2": "partition",
    "union_designs": "partition",
    "variance_partition": "partition",
    "variance_partition_gram": "partition",
    "vpart2": "partition",
    "vpart3": "partition",
    "vpart_general": "partition",
    "vpart2_from_r2": "partition",
    "vpart3_from_r2": "partition",
    "vpart_general_from_r2": "partition",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
