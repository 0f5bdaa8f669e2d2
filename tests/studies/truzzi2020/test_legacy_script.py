"""The standalone legacy DeepCluster script: Python 2.7 grammar, and the same activations as the
modern path under Python 3 (untrained and trained, every loader), plus its Snakemake rule."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from brainalign.io.files import read_npz
from brainalign.networks.activations import extract_activations, preprocess
from brainalign.networks.architectures import DeepClusterAlexNet, build_network
from brainalign.networks.registry import LAYER_NAMES

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "workflow" / "scripts" / "legacy" / "deepcluster_activations.py"
ENV = REPO / "envs" / "deepcluster-py27.yaml"
WIDTH = 0.125


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def modern(
    images, *, seed=0, width=WIDTH, weights=None, conv_pooling="mean", batch_size=4, unsafe=False
):
    training = "trained" if weights else "untrained"
    model = build_network(
        "deepcluster", training, seed=seed, weights=weights, width=width, allow_unsafe_pickle=unsafe
    )
    return extract_activations(
        model, preprocess(images), conv_pooling=conv_pooling, batch_size=batch_size, device="cpu"
    )


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 175, 175, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("stim") / "stimuli.npz"
    np.savez(path, images=images, image_names=np.array([f"image_{k}" for k in range(5)]))
    return path, images


def assert_same(out: Path, ref: dict[str, np.ndarray]) -> None:
    got = read_npz(out)
    assert list(got["layer_names"]) == list(LAYER_NAMES)
    assert got["layer_names"].dtype.kind == "U"
    for name in LAYER_NAMES:
        assert got[name].dtype == np.float32
        assert got[name].shape == ref[name].shape
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)


# --- Python 2.7 compatibility -------------------------------------------------------------


def test_python27_grammar():
    parso = pytest.importorskip("parso")
    grammar = parso.load_grammar(version="2.7")
    errors = list(grammar.iter_errors(grammar.parse(SCRIPT.read_text())))
    assert errors == [], [(e.start_pos, e.message) for e in errors]
    # the checker does catch Python-3-only syntax
    for snippet in (
        'x = f"{y}"\n',
        "def f(*, a):\n    pass\n",
        "def g():\n    nonlocal x\n",
        "def h():\n    yield from x\n",
        "def k(a: int):\n    pass\n",
    ):
        assert list(grammar.iter_errors(grammar.parse(snippet))), snippet


def test_no_python3_only_apis_and_no_brainalign():
    source = SCRIPT.read_text()
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert not (node.func.id == "super" and not node.args), "super() needs arguments"
        elif isinstance(node, ast.JoinedStr):
            pytest.fail("f-string")
    assert "brainalign" not in imported
    assert imported <= {
        "__future__",
        "argparse",
        "math",
        "os",
        "pickle",
        "sys",
        "tempfile",
        "numpy",
        "torch",
        "PIL",
        "inspect",
        "io",
    }
    for api in ("os.replace", "exist_ok", "pathlib", "removeprefix", "nonlocal", "yield from"):
        assert api not in source, api
    assert "from __future__ import absolute_import, division, print_function" in source


def test_legacy_env_file():
    env = yaml.safe_load(ENV.read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=2.7" in deps
    assert any(d.startswith("pytorch=0.3") for d in deps)
    assert "pytorch" in env["channels"]


# --- identical activations under Python 3 -------------------------------------------------


@pytest.mark.parametrize("conv_pooling", ["mean", "none"])
def test_untrained_matches_modern_path(stimuli, tmp_path, conv_pooling):
    path, images = stimuli
    out = tmp_path / "act" / "deepcluster_untrained.npz"
    r = run_script(
        "--images",
        str(path),
        "--out",
        str(out),
        "--seed",
        "123",
        "--width",
        str(WIDTH),
        "--batch-size",
        "4",
        "--conv-pooling",
        conv_pooling,
    )
    assert r.returncode == 0, r.stderr
    assert_same(out, modern(images, seed=123, conv_pooling=conv_pooling))
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp files


def _checkpoint(path: Path, extra=None, legacy=True) -> None:
    torch.manual_seed(5)
    model = DeepClusterAlexNet(10, width=WIDTH)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = {
        k.replace("features.", "features.module.", 1): v
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    ckpt = {"epoch": 1, "arch": "alexnet", "state_dict": state, "optimizer": {}}
    ckpt.update(extra or {})
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)


@pytest.mark.parametrize(("legacy_format", "loader"), [(True, "auto"), (False, "restricted")])
def test_trained_matches_modern_path(stimuli, tmp_path, loader, legacy_format):
    path, images = stimuli
    ckpt = tmp_path / "checkpoint.pth.tar"
    _checkpoint(ckpt, legacy=legacy_format)
    out = tmp_path / "deepcluster_trained.npz"
    r = run_script(
        "--images",
        str(path),
        "--out",
        str(out),
        "--training",
        "trained",
        "--weights",
        str(ckpt),
        "--width",
        str(WIDTH),
        "--batch-size",
        "4",
        "--loader",
        loader,
    )
    assert r.returncode == 0, r.stderr
    assert_same(out, modern(images, weights=str(ckpt)))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("loader", ["auto", "restricted"])
def test_unsafe_checkpoints_are_refused(stimuli, tmp_path, loader):
    path, _ = stimuli
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth.tar"
    _checkpoint(evil, extra={"payload": _Evil(marker)})
    out = tmp_path / "out.npz"
    r = run_script(
        "--images",
        str(path),
        "--out",
        str(out),
        "--training",
        "trained",
        "--weights",
        str(evil),
        "--width",
        str(WIDTH),
        "--loader",
        loader,
    )
    assert r.returncode != 0
    assert "allow-unsafe-pickle" in r.stderr and str(evil) in r.stderr
    assert not marker.exists() and not out.exists()


@pytest.mark.slow
def test_opt_in_reads_a_trusted_full_pickle(stimuli, tmp_path):
    import argparse

    path, images = stimuli
    ckpt = tmp_path / "with_args.pth.tar"
    _checkpoint(ckpt, extra={"args": argparse.Namespace(k=10)})
    out = tmp_path / "out.npz"
    common = [
        "--images",
        str(path),
        "--out",
        str(out),
        "--training",
        "trained",
        "--weights",
        str(ckpt),
        "--width",
        str(WIDTH),
        "--batch-size",
        "4",
    ]
    assert run_script(*common).returncode != 0
    r = run_script(*common, "--allow-unsafe-pickle")
    assert r.returncode == 0, r.stderr
    assert_same(out, modern(images, weights=str(ckpt), unsafe=True))


def test_clear_errors(stimuli, tmp_path):
    path, _ = stimuli
    r = run_script(
        "--images",
        str(path),
        "--out",
        str(tmp_path / "o.npz"),
        "--training",
        "trained",
        "--weights",
        str(tmp_path / "missing.pth.tar"),
    )
    assert r.returncode != 0 and "missing.pth.tar" in r.stderr and "fbaipublicfiles" in r.stderr
    bad = tmp_path / "bad.npz"
    np.savez(bad, pixels=np.zeros((1, 2, 2, 3), np.uint8))
    r = run_script("--images", str(bad), "--out", str(tmp_path / "o.npz"))
    assert r.returncode != 0 and "no 'images' array" in r.stderr


@pytest.mark.slow
def test_full_width_untrained_matches_modern_path(stimuli, tmp_path):
    path, images = stimuli
    out = tmp_path / "full.npz"
    r = run_script("--images", str(path), "--out", str(out), "--seed", "2020", "--batch-size", "16")
    assert r.returncode == 0, r.stderr
    assert_same(out, modern(images, seed=2020, width=1.0, batch_size=16))


# --- the Snakemake rule -------------------------------------------------------------------


@pytest.mark.slow
def test_legacy_rule_replaces_the_modern_rule_for_deepcluster(stimuli, tmp_path):
    """legacy.smk with networks.legacy_deepcluster_env: true (no --use-conda: this Python)."""
    path, images = stimuli
    work = tmp_path / "wf"
    out = work / "results" / "truzzi2020" / "t"
    (out / "dataset").mkdir(parents=True)
    (out / "dataset" / "stimuli.npz").write_bytes(path.read_bytes())
    (work / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "networks": {
                    "legacy_deepcluster_env": True,
                    "conv_pooling": "mean",
                    "device": "cpu",
                    "batch_size": 16,
                    "allow_unsafe_pickle": [],
                }
            }
        )
    )
    (work / "Snakefile").write_text(f"""
STUDY_IDS = "truzzi2020"  # enabled study ids, as common.smk defines them


def condition_seed(condition):
    return 77


def weights_for(condition, study=None):
    return []


rule extract_activations:  # stand-in for the modern rule: must not be chosen for deepcluster
    input:
        stimuli="results/{{study}}/{{dataset}}/dataset/stimuli.npz",
    output:
        "results/{{study}}/{{dataset}}/activations/{{condition}}.npz",
    wildcard_constraints:
        study=STUDY_IDS,
    shell:
        "exit 1"


include: "{REPO / "workflow" / "rules" / "legacy.smk"}"
""")
    exe = Path(sys.executable).parent / "snakemake"
    r = subprocess.run(
        [
            str(exe),
            "--cores",
            "2",
            "-s",
            str(work / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(work / "config.yaml"),
            "--nolock",
            "results/truzzi2020/t/activations/deepcluster_untrained.npz",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "extract_activations_legacy" in r.stderr
    log = out / "logs" / "extract_activations" / "deepcluster_untrained.legacy.log"
    assert "python 3." in log.read_text()
    assert_same(
        out / "activations" / "deepcluster_untrained.npz",
        modern(images, seed=77, width=1.0, batch_size=16),
    )
