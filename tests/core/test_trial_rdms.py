"""RDMs and split-half ceilings from repeated trials against direct loops."""

import numpy as np
import pytest
from scipy.stats import kendalltau

from brainalign.rsa.noise_ceiling import spearman_brown, split_half_ceiling
from brainalign.rsa.trials import correlation_rdms, half_mean_rdms, half_selections


def _responses(seed=0, t=9, c=7, u=15):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((c, u)) + 0.8 * rng.standard_normal((t, c, u))


def _rdm(mean):
    iu = np.triu_indices(mean.shape[0], 1)
    return 1 - np.corrcoef(mean)[iu]


def _tau_a(a, b):
    n = a.size
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


def test_half_mean_rdms_equal_a_loop_of_corrcoef():
    x = _responses()
    got = half_mean_rdms(x, 12, seed=3, batch=5)
    rows = half_selections(x.shape[0], 12, 3)[:, : x.shape[0] // 2]
    want = np.stack([_rdm(x[r].mean(axis=0)) for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-12)
    # the batch size changes BLAS blocking only: the same to rounding; the same call twice is
    # bit-identical
    np.testing.assert_allclose(got, half_mean_rdms(x, 12, seed=3, batch=12), atol=1e-13)
    assert np.array_equal(got, half_mean_rdms(x, 12, seed=3, batch=5))


def test_split_half_ceiling_equals_a_direct_loop():
    x = _responses(1, t=8)
    got = split_half_ceiling(x, 10, seed=5)
    perm = half_selections(8, 10, 5)
    want = []
    for p in perm:
        a, b = _rdm(x[p[:4]].mean(axis=0)), _rdm(x[p[4:8]].mean(axis=0))
        want.append(_tau_a(a, b))
    np.testing.assert_allclose(got["split"], want, atol=1e-12)
    np.testing.assert_allclose(got["spearman_brown"], [2 * r / (1 + r) for r in want])
    tb = split_half_ceiling(x, 10, seed=5, method="tau_b")["split"]
    a, b = _rdm(x[perm[0][:4]].mean(0)), _rdm(x[perm[0][4:]].mean(0))
    assert tb[0] == pytest.approx(kendalltau(a, b).statistic)


def test_reliability_grows_with_signal():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((10, 40))
    low = base + 3.0 * rng.standard_normal((12, 10, 40))
    high = base + 0.5 * rng.standard_normal((12, 10, 40))
    assert np.median(split_half_ceiling(high, 20, 0)["split"]) > np.median(
        split_half_ceiling(low, 20, 0)["split"]
    )
    assert spearman_brown(0.5) == pytest.approx(2 / 3)


def test_constant_pattern_is_named():
    x = np.zeros((1, 4, 5))
    x[0, :, 0] = 1.0
    x[0, 2] = 3.0
    with pytest.raises(ValueError, match="condition 2 has a constant pattern"):
        correlation_rdms(x)
    with pytest.raises(ValueError, match="n_trials, n_conditions, n_units"):
        half_mean_rdms(np.ones((3, 4)))
