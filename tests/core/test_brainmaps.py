"""Label logic, NIfTI outputs, static figures, and the interactive map in headless Chromium."""

import re
import shutil
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainalign import maps as bm
from brainalign import searchlight as sl
from brainalign.data.volumes import load_mask
from brainalign.studies.dwivedi2021 import figures as dwf


def test_best_model_labels_follow_original_rule():
    stat = np.array([[0.1, 0.3, 0.2], [0.5, 0.1, 0.0], [0.2, 0.1, 0.0], [np.nan, 0.1, 0.2]])
    p = np.array([[0.01, 0.02, 0.01], [0.2, 0.01, 0.01], [0.01, 0.01, 0.01], [0.01, 0.01, 0.01]])
    keep = np.array([True, True, False, True])
    np.testing.assert_array_equal(bm.best_model_labels(stat, p, keep), [1, -1, -1, -1])
    with pytest.raises(ValueError, match="shapes"):
        bm.best_model_labels(stat, p[:2], keep)


def test_best_group_labels_and_pairwise_max():
    unique = np.array([[0.3, 0.1, 0.0], [0.1, 0.2, 0.0], [0.0, 0.0, 0.4]])
    pd_ = np.ones((3, 3, 3))
    pd_[0, 0, 1], pd_[0, 0, 2] = 0.01, 0.03  # best 0 beats both
    pd_[1, 1, 0], pd_[1, 1, 2] = 0.01, 0.2  # best 1 not better than 2
    pd_[2, 2, 0], pd_[2, 2, 1] = 0.001, 0.002
    dmax = bm.max_pairwise_p(pd_, np.argmax(unique, axis=1))
    np.testing.assert_allclose(dmax, [0.03, 0.2, 0.002])
    pu = np.full((3, 3), 0.01)
    labels = bm.best_group_labels(unique, pu, dmax, np.array([True, True, True]))
    np.testing.assert_array_equal(labels, [0, -1, 2])


def test_colours():
    groups = {
        "edge2d": "2D",
        "denoise": "2D",
        "edge3d": "3D",
        "class_1000": "semantic",
        "random": "x",
    }
    c = bm.model_colours(list(groups), groups)
    assert c["edge2d"][:2] == (0.0, 0.0) and c["edge3d"][0] == 0.0 and c["edge3d"][1] > 0
    assert c["class_1000"][0] == c["class_1000"][2] > 0 and c["random"] == (0.8, 0.8, 0.0)
    assert c["edge2d"] != c["denoise"]
    with pytest.raises(ValueError, match="'curvature'"):
        bm.model_colours(["curvature"], groups)


@pytest.fixture(scope="module")
def label_map(tmp_path_factory):
    out = tmp_path_factory.mktemp("maps")
    img = load_mask(3, -30.0)
    mask = np.asarray(img.get_fdata()) > 0
    nbh = sl.sphere_neighbourhoods(mask, 1.0)
    vox = nbh.centres
    labels = np.full(nbh.n_centres, -1)
    labels[vox[:, 2] < 20] = 0
    labels[(vox[:, 2] >= 20) & (vox[:, 0] < 33)] = 1
    labels[(vox[:, 2] >= 20) & (vox[:, 0] >= 33)] = 2
    limg = bm.label_image(labels, nbh, img, mask)
    return out, img, mask, nbh, labels, limg


def test_label_and_value_images(label_map):
    out, img, mask, nbh, labels, limg = label_map
    data = np.asarray(limg.dataobj)
    assert data.dtype == np.int16
    assert np.all(data[~mask] == 0)
    np.testing.assert_array_equal(data[mask], labels + 2)
    vimg = bm.values_image(np.arange(nbh.n_centres, dtype=float), nbh, img)
    v = np.asarray(vimg.dataobj)
    assert np.isnan(v[~mask]).all() and np.array_equal(v[mask], np.arange(nbh.n_centres))
    p = bm.save_nifti(limg, out / "labels.nii.gz")
    assert np.array_equal(np.asarray(nib.load(p).dataobj), data)
    # blocks go back through blocks2sl
    blocks = sl.block_neighbourhoods(mask, 1, 2)
    bimg = bm.values_image(np.ones(blocks.n_centres), blocks, img)
    assert np.nansum(np.asarray(bimg.dataobj)) > 0


def test_voxels_image_places_values_at_flat_indices(tmp_path):
    ref = nib.Nifti1Image(np.zeros((3, 4, 2), np.int16), np.diag([2.0, 2.0, 2.0, 1.0]))
    mask = np.zeros((3, 4, 2), bool)
    mask[0, 1, 1] = mask[2, 3, 0] = mask[1, 0, 1] = True
    index = np.flatnonzero(mask)
    img = bm.voxels_image([7, 8, 9], index, ref, dtype=np.int16)
    data = np.asarray(nib.load(bm.save_nifti(img, tmp_path / "v.nii.gz")).dataobj)
    assert data.dtype == np.int16 and data.shape == (3, 4, 2)
    np.testing.assert_array_equal(data[mask], [7, 8, 9])  # both in C order
    assert data[~mask].sum() == 0 and np.array_equal(img.affine, ref.affine)
    with pytest.raises(ValueError, match="voxel index 24 is outside the \\(3, 4, 2\\) grid"):
        bm.voxels_image([1], [24], ref)
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        bm.voxels_image([1, 2], [0], ref)


@pytest.mark.slow
def test_static_figures(label_map, tmp_path):
    out, img, mask, nbh, labels, limg = label_map
    cols = [(0, 0, 1.0), (0, 1.0, 0), (1.0, 0, 1.0)]
    p1 = bm.static_label_png(limg, ["2D", "3D", "semantic"], cols, tmp_path / "m.png")
    vimg = bm.values_image(np.linspace(0, 1, nbh.n_centres), nbh, img)
    p2 = bm.static_stat_png(vimg, tmp_path / "g.png", kind="glass", title="R2")
    p3 = bm.static_stat_png(vimg, tmp_path / "s.png", kind="stat", title="R2")
    for p in (p1, p2, p3):
        assert p.stat().st_size > 10_000
    t3 = pd.DataFrame({
        "roi": ["A"] * 3 + ["B"] * 3, "model": ["m1", "m2", "m3", "m2", "m1", "m3"],
        "rank": [1, 2, 3] * 2, "unique_r2adj": [0.2, 0.1, 0.05, 0.3, 0.0, 0.01],
        "sd": [0.01] * 6, "p_fdr": [0.001, 0.01, 0.2, 0.001, 0.5, 0.5],
        "total_r2adj": [0.5] * 3 + [0.4] * 3,
    })  # fmt: skip
    pairs = pd.DataFrame({"roi": ["A", "B"], "item_1": ["m1", "m2"], "item_2": ["m2", "m1"],
                          "p_fdr": [0.01, 0.01]})  # fmt: skip
    colours = {"m1": (0, 0, 1.0), "m2": (0, 1.0, 0), "m3": (1.0, 0, 1.0)}
    p4 = dwf.plot_roi_top3(t3, tmp_path / "top3.svg", colours=colours, pairs=pairs)
    assert "<svg" in p4.read_text()[:500]
    g = t3.rename(columns={"model": "group"})
    assert dwf.plot_roi_grouped(g, tmp_path / "grp.png", colours=colours).stat().st_size > 5000


def _html(label_map):
    out, img, mask, nbh, labels, limg = label_map
    cols = [(0, 0, 1.0), (0, 1.0, 0), (1.0, 0, 1.0)]
    return bm.interactive_label_map(
        limg, ["2D", "3D", "semantic"], cols, out / "map.html", title="Grouped models"
    )


def test_interactive_html_is_self_contained(label_map):
    html = _html(label_map).read_text()
    assert "brainalign-legend" in html and "semantic" in html
    # nothing is loaded from elsewhere: no external src= / stylesheet links
    srcs = re.findall(r"""<(?:script|img|link|iframe)[^>]*(?:src|href)=["']([^"']+)""", html)
    assert all(s.startswith(("data:", "#")) for s in srcs), srcs


def _chromium():
    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


@pytest.mark.slow
def test_interactive_map_renders_in_headless_chromium(label_map, tmp_path):
    """Open the page in Debian's Chromium (driven by Selenium + chromium-driver), network off:
    no console errors, and the screenshot shows the brain."""
    exe, drv = _chromium(), shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver")
    if exe is None or drv is None:
        pytest.skip(
            "chromium / chromium-driver not installed (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    page = _html(label_map)
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for a in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1000,700", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
        "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any network access would fail loudly
    ):  # fmt: skip
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(drv), options=opts)
    try:
        driver.get(Path(page).as_uri())
        deadline = time.time() + 60
        while time.time() < deadline:
            ready = driver.execute_script(
                "var g=document.querySelector('.js-plotly-plot');"
                "return !!(g && g.querySelector('canvas'));"
            )
            if ready:
                break
            time.sleep(0.5)
        time.sleep(3)
        logs = driver.get_log("browser")
        shot = tmp_path / "shot.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    errors = [e for e in logs if e["level"] == "SEVERE"]
    assert not errors, errors
    from PIL import Image

    im = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    bg = np.array([255, 255, 255])
    non_bg = np.abs(im - bg).sum(axis=-1) > 30
    # the brain surface fills a good part of the view; the coloured labels are there too
    assert non_bg.mean() > 0.10, non_bg.mean()
    blue = (im[..., 2] > 150) & (im[..., 0] < 80) & (im[..., 1] < 80)
    green = (im[..., 1] > 150) & (im[..., 0] < 80) & (im[..., 2] < 80)
    assert blue.sum() + green.sum() > 500
