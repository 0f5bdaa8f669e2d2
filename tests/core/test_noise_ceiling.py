import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau, spearmanr

from brainalign.rsa.noise_ceiling import noise_ceiling


def _rdms(n_subjects=5, n=15, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n, 30))
    return np.stack(
        [
            squareform(pdist(truth + rng.standard_normal(truth.shape), "correlation"))
            for _ in range(n_subjects)
        ]
    )


def test_noise_ceiling_equals_a_direct_loop():
    rdms = _rdms()
    lower, upper = noise_ceiling(rdms, "tau_b")
    for k in range(len(rdms)):
        others = np.delete(rdms, k, axis=0).mean(axis=0)
        v = squareform(rdms[k], checks=False)
        assert abs(lower[k] - kendalltau(v, squareform(others, checks=False))[0]) < 1e-12
        assert abs(upper[k] - kendalltau(v, squareform(rdms.mean(0), checks=False))[0]) < 1e-12
    lo_s, up_s = noise_ceiling(rdms, "spearman")
    ref = spearmanr(
        squareform(rdms[0], checks=False), squareform(np.delete(rdms, 0, 0).mean(0), checks=False)
    )[0]
    assert abs(lo_s[0] - ref) < 1e-12
    assert np.all(up_s > lo_s)


def test_upper_bound_exceeds_lower_bound_on_average():
    lower, upper = noise_ceiling(_rdms(seed=4), "tau_a")
    assert upper.mean() > lower.mean()
