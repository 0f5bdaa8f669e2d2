"""The study's RSMs: class-sorted cosine RSMs of the embeddings, their comparisons with the
decoder's (faithful full-matrix Pearson and the corrected Mantel/bootstrap one), class means.

Built on :mod:`brainalign.rsa.similarity`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["rsm_of", "similarity_rows", "class_mean_rows"]


def rsm_of(embedding: ArrayLike, labels: ArrayLike, n_classes: int) -> tuple[np.ndarray, ...]:
    """Class-sorted cosine RSM of the test items and the class-mean RSM.

    Returns
    -------
    rsm : ``(n, n)``, order : ``(n,)`` (item order, stable within class), class_rsm ``(C, C)``
    """
    from brainalign.rsa.similarity import class_mean_rsm, cosine_rsm, sort_by_class

    X = np.asarray(embedding, dtype=np.float64)
    lab = np.asarray(labels)
    order = sort_by_class(lab, list(range(n_classes)))
    return cosine_rsm(X[order]), order, class_mean_rsm(X, lab, n_classes)


def similarity_rows(
    name: str,
    training_seed: int,
    rsm: np.ndarray,
    reference: np.ndarray,
    *,
    method: str = "spearman",
    n_permutations: int = 1000,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Both comparisons of one network's RSM with the decoder's (same item order).

    ``faithful``: Pearson r of the full flattened matrices (no p-value or CI, as the original);
    ``corrected``: ``method`` on the upper triangles, Mantel p (items permuted, one-sided) and a
    bootstrap CI over items.
    """
    from brainalign.rsa.similarity import compare_full_matrices, compare_rsms

    full = compare_full_matrices(rsm, reference)
    cor = compare_rsms(
        rsm, reference, method=method, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
        seed=seed, ci=ci,
    )  # fmt: skip
    base = {"network": name, "training_seed": int(training_seed), "n_items": rsm.shape[0]}
    return pd.DataFrame(
        [
            {**base, "variant": "faithful", "statistic": "pearson_full_matrix", "value": full,
             "p": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_permutations": 0},
            {**base, "variant": "corrected", "statistic": f"{method}_upper_triangle",
             "value": cor["statistic"], "p": cor["p"], "ci_low": cor["ci_low"],
             "ci_high": cor["ci_high"], "n_permutations": int(n_permutations)},
        ]
    )  # fmt: skip


def class_mean_rows(
    name: str, training_seed: int, class_rsm: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Long 3x3 class-mean RSM: ``network, training_seed, class_a, class_b, value``."""
    k = len(class_names)
    a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame(
        {"network": name, "training_seed": int(training_seed),
         "class_a": [class_names[i] for i in a.ravel()],
         "class_b": [class_names[j] for j in b.ravel()], "value": class_rsm.ravel()}
    )  # fmt: skip
