"""End-to-end tests of the Snakemake workflow on small synthetic studies."""

import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, is_timing_file, run_snakemake, small_config, write_config
from scipy.spatial.distance import squareform
from scipy.stats import kendalltau

from brainalign.data.synthetic import generate_synthetic_study, write_mat73
from brainalign.io.files import read_npz, read_table

ALL_RULES = {
    "simulate_dataset",
    "prepare_dataset",
    "extract_activations",
    "layer_rdms",
    "compare_subjects",
    "noise_ceiling",
    "collect_tables",
    "group_statistics",
    "figure_profiles",
    "figure_layer_rdms",
    "figure_brain_rdm",
    "collect_benchmarks",
    "all",
}


def test_dry_run_of_the_default_config_lists_the_whole_dag(tmp_path):
    write_config(tmp_path, REPO / "config.yaml")
    out = run_snakemake(tmp_path, "-n", "--quiet", "rules").stdout
    for rule in ALL_RULES:
        assert rule in out, rule


def test_lint_is_clean():
    import subprocess

    from conftest import SNAKEMAKE

    proc = subprocess.run([SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "good condition" in proc.stdout + proc.stderr


def test_small_study_outputs(small_run):
    res = small_run / "results" / "truzzi2020" / "small"
    comp = read_table(res / "tables" / "comparison.csv")
    assert set(comp.columns) >= {
        "dataset",
        "region",
        "network",
        "training",
        "condition",
        "layer",
        "layer_index",
        "subject",
        "statistic",
        "value",
        "p",
    }
    assert len(comp) == 2 * 2 * 7 * 3  # regions × conditions × layers × subjects
    assert comp["subject"].tolist()[:3] == ["01", "02", "03"]
    assert ((comp["p"] > 0) & (comp["p"] <= 1)).all()
    k = comp["p"] * 201 - 1
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    nc = read_table(res / "tables" / "noise_ceiling.csv")
    assert set(nc["bound"]) == {"lower", "upper"} and len(nc) == 2 * 2 * 3
    anova = read_table(res / "tables" / "anova.csv")
    assert list(anova["source"]) == ["condition", "layer", "condition * layer"] * 2
    post = read_table(res / "tables" / "posthoc.csv")
    assert set(post["test"]) == {"between_conditions", "first_vs_last"}
    for name in (
        "profiles_IT.png",
        "comparisons_EVC.png",
        "brain_rdm_IT.png",
        "layer_rdms_deepcluster_untrained.png",
    ):
        assert (res / "figures" / name).stat().st_size > 10_000, name
    for log in (res / "logs").rglob("*.log"):
        assert "finished in" in log.read_text(), log


def test_small_study_taus_equal_scipy(small_run):
    res = small_run / "results" / "truzzi2020" / "small"
    comp = read_table(res / "tables" / "comparison.csv")
    brain = read_npz(res / "dataset" / "brain_rdms.npz")
    model = read_npz(res / "rdms" / "deepcluster_untrained.npz")
    for li, layer in enumerate(model["layer_names"]):
        for s, subj in enumerate(brain["subjects"]):
            ref = kendalltau(
                squareform(model["rdms"][li], checks=False),
                squareform(brain["rdm_IT"][s], checks=False),
            )[0]
            row = comp[
                (comp.region == "IT")
                & (comp.condition == "deepcluster_untrained")
                & (comp.layer == layer)
                & (comp.subject == subj)
            ]
            assert abs(row["value"].iloc[0] - ref) < 1e-12


def test_small_study_pvalues_agree_with_skbio(small_run):
    skbio = pytest.importorskip("skbio.stats.distance")
    res = small_run / "results" / "truzzi2020" / "small"
    comp = read_table(res / "tables" / "comparison.csv")
    brain = read_npz(res / "dataset" / "brain_rdms.npz")
    model = read_npz(res / "rdms" / "alexnet_untrained.npz")
    for li in (0, 6):
        layer = str(model["layer_names"][li])
        _, p_ref, _ = skbio.mantel(
            model["rdms"][li], brain["rdm_EVC"][0], method="kendalltau", permutations=2000, seed=0
        )
        row = comp[
            (comp.region == "EVC")
            & (comp.condition == "alexnet_untrained")
            & (comp.layer == layer)
            & (comp.subject == "01")
        ]
        p = row["p"].iloc[0]
        se = np.sqrt(max(p_ref * (1 - p_ref), 1e-3) * (1 / 200 + 1 / 2000))
        assert abs(p - p_ref) < 4 * se + 0.01, (layer, p, p_ref)


def _hash_tables(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "results").rglob("*.csv"))
        if not is_timing_file(p.relative_to(root).as_posix())
    }


@pytest.mark.slow
def test_same_config_twice_gives_byte_identical_tables(small_run, tmp_path):
    write_config(tmp_path, small_config())
    run_snakemake(tmp_path)
    first, second = _hash_tables(small_run), _hash_tables(tmp_path)
    assert len(first) >= 8
    assert first == second


# ------------------------------------------------------------------ bad input
def _real_layout(tmp_path, n_images=6, n_subjects=3):
    data = tmp_path / "data" / f"{n_images}_Image_Set"
    generate_synthetic_study(data, n_images=n_images, n_subjects=n_subjects, seed=1, n_voxels=20)
    cfg = small_config()
    cfg["truzzi2020"]["dataset"] = {
        "name": "bad",
        "kind": "algonauts2019",
        "path": str(data),
        "regions": ["EVC", "IT"],
    }
    return data, cfg


def _expect_prepare_failure(tmp_path, cfg, message):
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "results/truzzi2020/bad/dataset/brain_rdms.npz", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert message in out, out[-3000:]
    out_dir = tmp_path / "results" / "truzzi2020" / "bad" / "dataset"
    produced = list(out_dir.glob("*")) if out_dir.exists() else []
    assert produced == [], produced


def _rewrite_rdms(data, edit):
    from brainalign.data.algonauts import load_fmri_rdms

    rdms = load_fmri_rdms(data / "target_fmri.mat")
    edit(rdms)
    write_mat73(data / "target_fmri.mat", {f"{k}_RDMs": v for k, v in rdms.items()})


def test_non_symmetric_subject_rdm_is_refused(tmp_path):
    data, cfg = _real_layout(tmp_path)
    _rewrite_rdms(data, lambda r: r["IT"][1].__setitem__((0, 3), 9.0))
    _expect_prepare_failure(tmp_path, cfg, "region IT subject 2: not symmetric")


def test_nan_in_subject_rdm_is_refused(tmp_path):
    data, cfg = _real_layout(tmp_path)

    def put_nan(r):
        r["EVC"][0][1, 2] = r["EVC"][0][2, 1] = np.nan

    _rewrite_rdms(data, put_nan)
    _expect_prepare_failure(tmp_path, cfg, "region EVC subject 1: contains NaN")


def test_wrongly_sized_rdms_are_refused(tmp_path):
    data, cfg = _real_layout(tmp_path)

    def shrink(r):
        r["IT"] = r["IT"][:, :5, :5]

    _rewrite_rdms(data, shrink)
    _expect_prepare_failure(tmp_path, cfg, "6 images but the IT RDMs are 5×5")


def test_image_count_mismatch_is_refused(tmp_path):
    data, cfg = _real_layout(tmp_path)
    (data / "6images" / "image_06.jpg").unlink()
    (data / "6images.mat").unlink()
    _expect_prepare_failure(tmp_path, cfg, "5 images but the EVC RDMs are 6×6")


def test_unknown_network_and_missing_weights_stop_the_run(tmp_path):
    cfg = small_config()
    cfg["truzzi2020"]["conditions"] = ["alexnet_untrained", "googlenet_untrained"]
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0 and "unknown network 'googlenet'" in proc.stdout + proc.stderr
    cfg = small_config()
    cfg["truzzi2020"]["conditions"] = ["alexnet_trained", "alexnet_untrained"]
    cfg["networks"]["weights"] = {"alexnet": str(tmp_path / "alexnet-owt-7be5be79.pth")}
    cfg["truzzi2020"]["statistics"]["comparisons"] = []
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "alexnet-owt-7be5be79.pth" in out
    assert "download.pytorch.org/models/alexnet-owt-7be5be79.pth" in out
    assert not (tmp_path / "results").exists()


def test_failure_keeps_earlier_results(small_run, tmp_path):
    """A failing rerun does not delete or truncate results of an earlier complete run."""
    import shutil

    work = tmp_path / "w"
    shutil.copytree(small_run, work, symlinks=True)
    before = _hash_tables(work)
    cfg = small_config()
    cfg["truzzi2020"]["comparison"]["permutations"] = 0  # invalid: stops before any job
    write_config(work, cfg)
    proc = run_snakemake(work, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "truzzi2020.comparison.permutations" in out
    assert _hash_tables(work) == before


def test_pandas_reads_subjects_as_labels(small_run):
    comp = pd.read_csv(
        small_run / "results" / "truzzi2020" / "small" / "tables" / "comparison.csv",
        dtype={"subject": str},
    )
    assert comp["subject"].str.len().eq(2).all()


def test_provenance_in_every_table_and_figure(small_run):
    import json

    from PIL import Image

    from brainalign.pipeline.provenance import PROVENANCE_COLUMNS, hash_files

    res = small_run / "results" / "truzzi2020" / "small"
    info = json.loads((res / "dataset" / "dataset.json").read_text())
    digest, _ = hash_files(sorted(p for p in (res / "data" / "12_Image_Set").iterdir()))
    assert info["dataset_sha256"] == digest
    tables = sorted((res / "tables").glob("*.csv"))
    assert {t.name for t in tables} >= {
        "comparison.csv",
        "noise_ceiling.csv",
        "anova.csv",
        "posthoc.csv",
        "provenance.csv",
    }
    for table in tables:
        if table.name == "provenance.csv":
            kv = dict(read_table(table).itertuples(index=False))
            assert kv["dataset_sha256"] == digest and kv["seed"] == "7"
            assert {
                "version.torch",
                "version.numpy",
                "version.scipy",
                "version.pingouin",
                "version.snakemake",
                "version.python",
                "version.brainalign",
            } <= set(kv)
            # the code that made the results (issue 10): source and workflow hashes, git commit
            from brainalign.pipeline.fingerprint import git_commit, source_fingerprint

            assert kv["code.source_sha256"] == source_fingerprint(REPO / "src" / "brainalign")
            assert kv["code.workflow_sha256"] == source_fingerprint(REPO / "workflow")
            assert kv["code.git_commit"] == git_commit(REPO)
            continue
        df = read_table(table)
        for col in PROVENANCE_COLUMNS:
            assert col in df.columns, (table.name, col)
        assert (df["seed"] == 7).all() and df["config_hash"].str.len().eq(16).all()
        assert df["dataset_sha256"].eq(digest).all(), table.name
        for name in (
            "python=",
            "brainalign=",
            "torch=",
            "numpy=",
            "scipy=",
            "pingouin=",
            "snakemake=",
        ):
            assert df["versions"].str.contains(name).all()
    comp = read_table(res / "tables" / "comparison.csv")
    assert comp["rule_seed"].notna().all()
    meta = json.loads(Image.open(res / "figures" / "profiles_IT.png").text["Description"])
    assert meta["dataset_sha256"] == digest and meta["seed"] == 7


@pytest.mark.slow
def test_report_of_the_study(small_run, tmp_path):
    """`snakemake --report` (the second step of `make run`) renders this study's captions."""
    work = tmp_path / "study"
    shutil.copytree(small_run, work, symlinks=True)
    run_snakemake(work, "--report", str(work / "report.html"), timeout=600)
    html = (work / "report.html").read_text(errors="replace")
    assert "Network vs IT" in html and "Mantel" in html
