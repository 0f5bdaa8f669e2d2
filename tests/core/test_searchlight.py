"""Searchlight neighbourhoods, RDMs and regressions against direct references."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from brainalign import searchlight as sl


@pytest.fixture(scope="module")
def volume():
    rng = np.random.default_rng(0)
    shape = (11, 10, 12)
    mask = np.zeros(shape, bool)
    mask[1:10, 1:9, 2:11] = True
    mask[5, 4, 6] = False
    mask[2, 2, 2:5] = False
    data = rng.standard_normal(shape + (9,)) + 5.0
    data[~mask] = np.nan  # outside-mask values must never be read
    return mask, data


def test_sphere_offsets_counts():
    assert [len(sl.sphere_offsets(r)) for r in (0, 1, 2, 3)] == [1, 7, 33, 123]
    with pytest.raises(ValueError, match="-1"):
        sl.sphere_offsets(-1)


@pytest.mark.parametrize("radius", [1.0, 2.0, 2.5])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_sphere_rdms_equal_pdist(volume, radius, dtype, tol):
    mask, data = volume
    nbh = sl.sphere_neighbourhoods(mask, radius)
    R = sl.searchlight_rdms(data, mask, radius=radius, dtype=dtype, chunk_size=37, min_voxels=2)
    X = data[mask]
    assert R.shape == (nbh.n_centres, 36)
    for c in range(nbh.n_centres):
        idx = nbh.indices[nbh.indptr[c] : nbh.indptr[c + 1]]
        # explicit sphere membership
        d = np.abs(nbh.voxels[idx] - nbh.centres[c])
        assert np.all((d**2).sum(axis=1) <= radius**2)
        np.testing.assert_allclose(R[c], pdist(X[idx].T, "correlation"), atol=tol)


def test_sliding_equals_direct_and_is_deterministic(volume):
    mask, data = volume
    nbh = sl.sphere_neighbourhoods(mask, 2.0)
    a = sl.searchlight_rdms(data, mask, radius=2.0, dtype=np.float64, refresh=1000)
    b = sl.searchlight_rdms(data, mask, neighbourhoods=nbh, dtype=np.float64)
    np.testing.assert_allclose(a, b, atol=1e-12)
    c1 = sl.searchlight_rdms(data, mask, radius=2.0, n_jobs=1)
    c2 = sl.searchlight_rdms(data, mask, radius=2.0, n_jobs=2, chunk_size=50)
    np.testing.assert_array_equal(c1, c2)


def test_small_and_constant_neighbourhoods_are_nan():
    mask = np.zeros((5, 5, 5), bool)
    mask[2, 2, 2] = True  # isolated voxel: 1-voxel sphere
    mask[0, 0, 0:3] = True
    data = np.random.default_rng(1).standard_normal((5, 5, 5, 4))
    data[0, 0, 0:3, 1] = 3.0  # condition 1 constant in that line
    R = sl.searchlight_rdms(data, mask, radius=1.0, min_voxels=2)
    assert np.isnan(R).all(axis=1).all()


def _original_get_blocks(mask, sl_rad, max_blk_edge):
    """Verbatim logic of searchlight_utils.get_blocks (Dwivedi et al.)."""
    blocks = []
    outerblk = max_blk_edge + 2 * sl_rad
    for i in range(0, mask.shape[0], max_blk_edge):
        for j in range(0, mask.shape[1], max_blk_edge):
            for k in range(0, mask.shape[2], max_blk_edge):
                block_shape = mask[i : i + outerblk, j : j + outerblk, k : k + outerblk].shape
                if np.any(
                    mask[
                        i + sl_rad : i + block_shape[0] - sl_rad,
                        j + sl_rad : j + block_shape[1] - sl_rad,
                        k + sl_rad : k + block_shape[2] - sl_rad,
                    ]
                ):
                    blocks.append(((i, j, k), block_shape))
    return blocks


def _original_blocks2sl(mask, sl_result, sl_rad, max_blk_edge):
    blocks = _original_get_blocks(mask, sl_rad, max_blk_edge)
    outmat = np.full(mask.shape, np.nan)
    for i in range(sl_result.shape[0]):
        pt, mat = blocks[i]
        outmat[
            pt[0] + sl_rad : pt[0] + sl_rad + mat[0],
            pt[1] + sl_rad : pt[1] + sl_rad + mat[1],
            pt[2] + sl_rad : pt[2] + sl_rad + mat[2],
        ] = sl_result[i]
    return outmat


def test_blocks_match_original(volume):
    mask, data = volume
    nbh = sl.block_neighbourhoods(mask, sl_rad=1, max_blk_edge=2)
    ref = _original_get_blocks(mask, 1, 2)
    assert nbh.n_centres == len(ref)
    assert [tuple(c) for c in nbh.centres] == [b[0] for b in ref]
    assert [tuple(s) for s in nbh.block_shape] == [b[1] for b in ref]
    vals = np.arange(nbh.n_centres, dtype=float)
    np.testing.assert_array_equal(
        sl.blocks_to_volume(vals, nbh), _original_blocks2sl(mask, vals, 1, 2)
    )
    R = sl.searchlight_rdms(data, mask, neighbourhoods=nbh, dtype=np.float64)
    X = data[mask]
    for c in (0, nbh.n_centres // 2, nbh.n_centres - 1):
        (i, j, k), bs = ref[c]
        sub = np.zeros(mask.shape, bool)
        sub[i : i + bs[0], j : j + bs[1], k : k + bs[2]] = True
        members = (sub & mask)[mask]
        np.testing.assert_allclose(R[c], pdist(X[members].T, "correlation"), atol=1e-12)


def test_searchlight_r2_equals_naive_lstsq(volume):
    mask, data = volume
    rng = np.random.default_rng(5)
    designs = {
        "a": np.stack([pdist(rng.standard_normal((9, 4)), "correlation") for _ in range(2)], 1),
        "b": pdist(rng.standard_normal((9, 4)), "correlation")[:, None],
    }
    fast = sl.searchlight_r2(data, mask, designs, radius=2.0, dtype=np.float64, min_voxels=3)
    naive = sl.naive_searchlight_r2(data, mask, designs, radius=2.0, min_voxels=3)
    np.testing.assert_allclose(fast, naive, atol=1e-10)
    fast32 = sl.searchlight_r2(data, mask, designs, radius=2.0, min_voxels=3)
    np.testing.assert_allclose(fast32, naive, atol=1e-4)
    vol = sl.centres_to_volume(fast[:, 0], sl.sphere_neighbourhoods(mask, 2.0))
    assert np.isnan(vol[~mask]).all() and np.isfinite(vol[mask]).all()


def test_bad_inputs(volume):
    mask, data = volume
    bad = data.copy()
    bad[3, 3, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"\[3, 3, 3, 2\]"):
        sl.searchlight_rdms(bad, mask, radius=1)
    with pytest.raises(ValueError, match="matching mask"):
        sl.searchlight_rdms(data[:-1], mask, radius=1)
    with pytest.raises(ValueError, match="empty"):
        sl.sphere_neighbourhoods(np.zeros((3, 3, 3)), 1)


def test_reused_buffer_gives_same_rdms(volume):
    mask, data = volume
    ref = sl.searchlight_rdms(data, mask, radius=2.0, chunk_size=40)
    got = np.concatenate(
        [r.copy() for _, r, _ in sl.searchlight_rdm_chunks(
            data, mask, radius=2.0, chunk_size=40, reuse_buffer=True)]
    )  # fmt: skip
    np.testing.assert_array_equal(got, ref)
    # a chunk size smaller than one z-line still works
    small = np.concatenate(
        [r.copy() for _, r, _ in sl.searchlight_rdm_chunks(
            data, mask, radius=2.0, chunk_size=2, reuse_buffer=True)]
    )  # fmt: skip
    np.testing.assert_array_equal(small, ref)


@pytest.mark.parametrize("in_dtype", [np.float64, np.float32, np.int16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prepare_volume_equals_numpy_path(volume, in_dtype, dtype):
    from brainalign.searchlight.neighbourhoods import _standardise_numpy

    mask, data = volume
    d = np.where(mask[..., None], data * 10, 0).astype(in_dtype)
    rows, _ = sl.prepare_volume(d, mask, dtype=dtype)
    ref = np.empty_like(rows)
    _standardise_numpy(d.astype(np.float64) if in_dtype == np.int16 else d, mask, ref)
    assert np.array_equal(rows, ref)  # the same bits as the NumPy code
    assert np.all(rows[:, d.shape[3]] == 1) and np.all(rows[:, d.shape[3] + 1 :] == 0)
    rows2, _ = sl.prepare_volume(d, mask, dtype=dtype)  # deterministic
    assert np.array_equal(rows, rows2)


def test_warmup_covers_the_searchlight_kernels():
    from brainalign.pipeline import warmup

    warmup.warm_searchlight()
    report = warmup.cache_report()
    for name in (
        "kernels._sphere_lines_kernel",
        "kernels._direct_kernel",
        "_standardise._write_rows",
    ):
        assert sum(report[f"brainalign.searchlight.{name}"]) >= 2


def test_parallel_warmup_child_caches_what_the_parent_loads():
    """``make``'s warm-up compiles the searchlight kernels in a child process: afterwards the
    parent's own searchlight calls load every signature from the cache and compile none."""
    import json
    import subprocess
    import sys

    code = (
        "import json; from brainalign.pipeline import warmup as w; w.warm_parallel(); "
        "print(json.dumps(w.cache_report()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    searchlight = {k: v for k, v in report.items() if k.startswith("brainalign.searchlight.")}
    assert "brainalign.searchlight.kernels._sphere_lines_kernel" in searchlight
    assert all(loaded >= 1 and compiled == 0 for loaded, compiled in searchlight.values())
