"""The project's Allen reader against the AllenSDK itself, on the simulated cache.

The SDK (allensdk 2.16.2) lives in its own venv, ``.venv-allensdk`` (``make
.venv-allensdk/.installed``); these tests run its interpreter in a subprocess
(``workflow/scripts/mouse_rsa/sdk_dump.py``, ``download_allen.py``), with the HTTP proxies pointed
at a closed local port so nothing can reach the network. Skipped when the venv is missing, except
when ``BRAINALIGN_REQUIRE_ALLENSDK=1`` (CI), where a missing venv fails.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from conftest import REPO

from brainalign.data.allen import (
    read_cell_ids,
    read_events,
    read_stimulus_table,
    read_template,
    select_experiments,
)
from brainalign.data.allen_cache import filter_containers, read_json_records, write_manifest
from brainalign.data.allen_simulate import simulate_allen_cache

SDK_PYTHON = REPO / ".venv-allensdk" / "bin" / "python"
SCRIPTS = REPO / "workflow" / "scripts" / "mouse_rsa"
AREAS, DEPTHS = ["VISp", "VISam"], [175, 275]
_DEAD = "http://127.0.0.1:9"
_ENV = {
    **os.environ,
    **{k: _DEAD for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
    "NO_PROXY": "",
    "no_proxy": "",
}

if not SDK_PYTHON.is_file():
    if os.environ.get("BRAINALIGN_REQUIRE_ALLENSDK") == "1":
        pytest.fail(
            f"BRAINALIGN_REQUIRE_ALLENSDK=1 but {SDK_PYTHON} is missing; build it with "
            "`make .venv-allensdk/.installed`",
            pytrace=False,
        )
    pytest.skip(
        f"the AllenSDK venv {SDK_PYTHON} is missing (make .venv-allensdk/.installed); "
        "set BRAINALIGN_REQUIRE_ALLENSDK=1 to make this a failure",
        allow_module_level=True,
    )


def _sdk(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(SDK_PYTHON), *args], capture_output=True, text=True, timeout=300, env=_ENV
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdk")
    simulate_allen_cache(
        root / "cache",
        areas=AREAS,
        depths=DEPTHS,
        n_cells_per_experiment=9,
        n_scene_trials=3,
        n_movie_repeats=2,
        seed=4,
    )
    manifest = root / "cache" / "manifest.json"
    selection = ["--areas", *AREAS, "--depths", *map(str, DEPTHS)]
    _sdk(
        str(SCRIPTS / "sdk_dump.py"),
        "--manifest",
        str(manifest),
        *selection,
        "--out",
        str(root / "dump"),
    )
    listing = json.loads((root / "dump" / "listing.json").read_text())
    return {"root": root, "manifest": manifest, "selection": selection, **listing}


def test_selection_matches_the_sdk(dumped):
    ours = select_experiments(dumped["manifest"], areas=AREAS, depths=DEPTHS)
    keys = [
        "area",
        "depth",
        "stimulus",
        "container_id",
        "experiment_id",
        "session_type",
        "nwb",
        "events",
    ]
    sdk = [{k: row[k] for k in keys} for row in dumped["experiments"]]
    assert ours[keys].to_dict("records") == sdk
    assert len(sdk) == len(AREAS) * len(DEPTHS) * 4
    for row in dumped["experiments"]:
        assert row["sdk_session_type"] == row["session_type"]
        assert row["metadata"]["targeted_structure"] == row["area"]
        assert row["metadata"]["imaging_depth_um"] == row["depth"]
        assert row["metadata"]["ophys_experiment_id"] == row["experiment_id"]
    # the SDK's container filter (failed and other cre lines dropped) = ours
    records = read_json_records(dumped["root"] / "cache" / "experiment_containers.json", "c")
    assert [c["id"] for c in dumped["containers"]] == [
        c["id"] for c in filter_containers(records, cre_lines=["Cux2-CreERT2"])
    ]
    assert len(records) == len(dumped["containers"]) + 2


def test_reader_returns_the_sdk_arrays_and_tables(dumped):
    for row in dumped["experiments"]:
        with np.load(
            dumped["root"] / "dump" / f"{row['experiment_id']}_{row['stimulus']}.npz"
        ) as d:
            sdk = dict(d)
        table = read_stimulus_table(row["nwb"], row["stimulus"])
        assert list(table.columns) == row["columns"]
        np.testing.assert_array_equal(table.index.to_numpy(), sdk["index"])
        for col in row["columns"]:
            np.testing.assert_array_equal(table[col].to_numpy(), sdk[col], err_msg=col)
            assert table[col].dtype == sdk[col].dtype, col
        for ours, theirs in (
            (read_template(row["nwb"], row["stimulus"]), sdk["template"]),
            (read_cell_ids(row["nwb"]), sdk["cell_ids"]),
            (read_events(row["events"]), sdk["events"]),
        ):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            np.testing.assert_array_equal(ours, theirs)
        cells, frames, timestamps = sdk["dff_shape"]
        assert (cells, frames) == sdk["events"].shape and timestamps == frames


def test_manifest_is_byte_identical_to_the_sdks(tmp_path):
    _sdk(
        "-c",
        "import sys; from allensdk.core.brain_observatory_cache import BrainObservatoryCache; "
        "BrainObservatoryCache(manifest_file=sys.argv[1])",
        str(tmp_path / "sdk" / "manifest.json"),
    )
    ours = write_manifest(tmp_path / "ours" / "manifest.json")
    assert ours.read_bytes() == (tmp_path / "sdk" / "manifest.json").read_bytes()


def test_download_script_lists_a_complete_cache_offline(dumped, tmp_path):
    out = tmp_path / "listing.json"
    script = str(SCRIPTS / "download_allen.py")
    _sdk(
        script,
        "--manifest",
        str(dumped["manifest"]),
        *dumped["selection"],
        "--out",
        str(out),
        "--offline",
    )
    listed = json.loads(out.read_text())["experiments"]
    ours = select_experiments(dumped["manifest"], areas=AREAS, depths=DEPTHS)
    assert [r["experiment_id"] for r in listed] == ours["experiment_id"].tolist()
    assert [r["nwb"] for r in listed] == ours["nwb"].tolist()
    for r in listed:
        assert (r["n_cells"], r["n_frames"]) == read_events(r["events"]).shape


def test_download_script_offline_says_what_and_where(tmp_path):
    manifest = tmp_path / "empty" / "manifest.json"
    proc = _sdk(
        str(SCRIPTS / "download_allen.py"),
        "--manifest",
        str(manifest),
        "--out",
        str(tmp_path / "l.json"),
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    message = [line for line in proc.stderr.splitlines() if line.startswith("download_allen:")]
    assert len(message) == 1
    assert "http://api.brain-map.org" in message[0] and "experiment container list" in message[0]
    assert str(manifest.parent) in message[0] and "--offline" in message[0]
    assert not (tmp_path / "l.json").exists()
