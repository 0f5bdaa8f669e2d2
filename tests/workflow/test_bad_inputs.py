"""Config mistakes stop before any job, with one line naming the key (issue 10).

Each case runs ``snakemake -n --configfile my.yaml`` in a scratch directory holding a copy of the
repository's ``config.yaml``, as a user would, and checks the one line, that there is no
traceback, and that nothing was written under ``results/``. The overlays are written as YAML
text, so that ``2.0e+2`` reaches the workflow exactly as a user typed it.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake
from scipy.io import savemat

from brainalign.pipeline.config import (
    ConfigError,
    _integral_floats,
    load_config_file,
    main,
    significance_floor,
)


def _dry(work: Path, overlay: str, check: bool = False):
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    path = work / "my.yaml"
    path.write_text(textwrap.dedent(overlay))
    proc = run_snakemake(work, "-n", "--configfile", str(path), check=check, timeout=300)
    return proc, proc.stdout + proc.stderr


def _stops(work: Path, overlay: str, *needles: str) -> str:
    """The run stops with one 'Invalid configuration' line holding every needle."""
    proc, out = _dry(work, overlay)
    assert proc.returncode != 0, out[-3000:]
    lines = [ln for ln in out.splitlines() if "Invalid configuration" in ln]
    assert len(lines) == 1, out[-3000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in out, out[-3000:]
    assert not (work / "results").exists(), "a stopped run wrote results"
    return lines[0]


# --------------------------------------------------------------------------------------------
# 1. Integral floats in integer keys
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overlay, key, value, write",
    [
        (
            "truzzi2020:\n  comparison:\n    permutations: 2.0e+2\n",
            "truzzi2020.comparison.permutations",
            "200.0",
            "write 200",
        ),
        ("networks:\n  batch_size: 4.0\n", "networks.batch_size", "4.0", "write 4"),
        (
            "truzzi2020:\n  dataset:\n    synthetic: {n_images: 12.0}\n",
            "truzzi2020.dataset.synthetic.n_images",
            "12.0",
            "write 12",
        ),
        (  # a study under additionalProperties
            "dwivedi2021:\n  studies:\n"
            "    mine: {source: simulated, simulation: {n_subjects: 3.0}}\n",
            "dwivedi2021.studies.mine.simulation.n_subjects",
            "3.0",
            "write 3",
        ),
    ],
)
def test_integral_float_is_rejected_at_the_start(tmp_path, overlay, key, value, write):
    line = _stops(tmp_path, overlay, f"config key '{key}'", f"{value} is a float", write)
    assert line.strip().startswith("Invalid configuration:")


def test_integral_float_walk_covers_arrays_and_combinators():
    schema = {
        "type": "object",
        "properties": {
            "sizes": {"type": "array", "items": {"type": "integer"}},
            "either": {"oneOf": [{"type": "integer"}, {"const": "auto"}]},
            "number_or_int": {"anyOf": [{"type": "integer"}, {"type": "number"}]},
            "free": {"type": "number"},
        },
        "additionalProperties": {"type": ["integer", "null"]},
    }
    cfg = {"sizes": [1, 2.0], "either": 3.0, "number_or_int": 1.0, "free": 2.0, "extra": 5.0}
    found = {tuple(path): value for path, value in _integral_floats(cfg, schema, [])}
    assert found == {("sizes", 1): 2.0, ("either",): 3.0, ("extra",): 5.0}


# --------------------------------------------------------------------------------------------
# 2. Keys the schema cannot check
# --------------------------------------------------------------------------------------------
def test_misspelled_download_url_name_lists_the_registry_names(tmp_path):
    line = _stops(
        tmp_path,
        "download:\n  urls:\n    algonauts2091: https://example.org/a.zip\n",
        "config key 'download.urls.algonauts2091'",
        "write 'algonauts2019'",
        "known names: [",
        "'kriegeskorte2008_stimuli'",
    )
    assert "not a file of the download registry" in line


def test_reversed_noise_ceiling_band(tmp_path):
    _stops(
        tmp_path,
        "truzzi2020:\n  figures: {noise_ceiling: [0.38, 0.31]}\n",
        "config key 'truzzi2020.figures.noise_ceiling'",
        "low < high",
        "got [0.38, 0.31]",
        "write [0.31, 0.38]",
    )


def test_loader_option_typo_names_the_loader_options(tmp_path):
    folder = tmp_path / "kr"
    folder.mkdir()
    for name in ("Kriegeskorte_Neuron2008_supplementalData.mat", "92_brainRDMs.mat"):
        (folder / name).write_bytes(b"")  # names only: the config check reads no file
    overlay = f"""\
        truzzi2020:
          dataset:
            kind: kriegeskorte2008
            path: {folder}
            options: {{average_sesions: true}}
        """
    _stops(
        tmp_path / "work",
        overlay,
        "config key 'truzzi2020.dataset.options.average_sesions'",
        "the kriegeskorte2008 loader",
        "write 'average_sessions'",
        "'include_model_rdms'",
    )


def test_model_rdms_of_other_conditions_stop_at_the_start(tmp_path):
    import numpy as np

    models = tmp_path / "models"
    models.mkdir()
    for task in ("a", "b"):
        for layer in ("block4", "encoder_output"):
            savemat(models / f"{task}_{layer}.mat", {"rdm": np.ones((10, 10)) - np.eye(10)})
    overlay = f"""\
        dwivedi2021:
          studies:
            sim:
              source: simulated
              simulation: {{n_conditions: 12}}
              models: {{source: rdm_dir, rdm_dir: {models}, names: [a, b]}}
        """
    _stops(
        tmp_path / "work",
        overlay,
        "config key 'dwivedi2021.studies.sim.models.rdm_dir'",
        str(models / "a_block4.mat"),
        "model RDM of 10 conditions",
        "have 12 (simulation.n_conditions)",
    )


# --------------------------------------------------------------------------------------------
# YAML syntax errors
# --------------------------------------------------------------------------------------------
BROKEN = "truzzi2020:\n  comparison:\n    permutations: 200\n   method: tau_a\n"


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys, monkeypatch):
    """Snakemake parses --configfile files itself, before the workflow, and names neither file
    nor line (its own WorkflowError); ``python -m brainalign.pipeline.config`` names both."""
    proc, out = _dry(tmp_path, BROKEN)
    assert proc.returncode != 0 and "not valid JSON or YAML" in out
    monkeypatch.chdir(tmp_path)
    assert main(["my.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "config file 'my.yaml' line 4, column 4: not valid YAML" in err
    with pytest.raises(ConfigError, match=r"line 2, column 1: .*'\\t'"):
        (tmp_path / "tab.yaml").write_text("seed: 5\n\tnetworks: {}\n")
        load_config_file(tmp_path / "tab.yaml")
    (tmp_path / "ok.yaml").write_text("seed: 3\n")
    assert main(["ok.yaml"]) == 0


def test_broken_base_config_names_file_and_line(tmp_path):
    """``config.yaml`` itself is read by the Snakefile's ``configfile:`` directive first."""
    (tmp_path / "config.yaml").write_text(BROKEN)
    with pytest.raises(ConfigError) as err:
        load_config_file(tmp_path / "config.yaml")
    assert "config.yaml' line 4, column 4" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------
# 3. Permutation counts that cannot reach significance
# --------------------------------------------------------------------------------------------
def test_significance_floor_sentences():
    assert significance_floor(19, 0.05) is None  # 1/20 = alpha
    msg = significance_floor(18, 0.05)
    assert "1/19 = 0.0526 > alpha = 0.05" in msg and "use at least 19 permutations" in msg
    assert significance_floor(1999, 0.05, 100) is None  # 1/2000 = 0.05/100
    msg = significance_floor(50, 0.05, 2000)
    assert "alpha/m = 0.05/2000" in msg and "at least 785 of them" in msg
    assert "use at least 39999 permutations" in msg


def test_too_few_permutations_warn_on_the_console(tmp_path):
    overlay = """\
        truzzi2020:
          comparison: {permutations: 10}
        dwivedi2021:
          statistics: {n_permutations: 10}
        """
    proc, out = _dry(tmp_path, overlay, check=True)
    warnings = [ln for ln in out.splitlines() if ln.startswith("Warning: config key")]
    assert len(warnings) == 2, out[-3000:]
    truzzi, fmaps = warnings
    assert "'truzzi2020.comparison.permutations'" in truzzi and "Mantel" in truzzi
    assert "'dwivedi2021.statistics.n_permutations'" in fmaps
    for line in warnings:
        assert "1/11 = 0.0909 > alpha = 0.05" in line and "no test can be significant" in line
    # enough permutations: no warning
    _, out = _dry(tmp_path / "ok", "truzzi2020:\n  comparison: {permutations: 19}\n", check=True)
    assert "Warning:" not in out


@pytest.mark.slow
def test_grey_map_says_why_in_the_log_and_on_the_console(tmp_path):
    """A null study (no signal) with 25 permutations: every kept searchlight is tested, none is
    significant after the FDR, and the rule says so (log WARNING line + one console line)."""
    cfg = {
        "dwivedi2021": {
            "studies": {
                "null0": {
                    "source": "simulated",
                    "simulation": {"n_subjects": 2, "n_conditions": 8, "signal": 0.0},
                }
            },
            "statistics": {"n_permutations": 25, "nc_threshold": -1.0},
        }
    }
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/dwivedi2021/null0/tables/searchlight_individual.csv"
    proc = run_snakemake(tmp_path, target)
    console = [ln for ln in proc.stderr.splitlines() if "brainalign: WARNING" in ln]
    assert len(console) == 1, proc.stderr[-3000:]
    line = console[0]
    assert "rule fmaps_searchlight_individual" in line and "no searchlight is significant" in line
    assert "with 25 permutations the smallest p-value is 1/26" in line and "alpha/m" in line
    log = (tmp_path / "results/dwivedi2021/null0/logs/searchlight_individual.log").read_text()
    assert any(" WARNING " in ln and "alpha/m" in ln for ln in log.splitlines())
