"""Shared test helpers: running the workflow in a scratch directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def write_config(workdir: Path, config: dict | str | Path) -> Path:
    """Write ``config`` (a dict, or a YAML file to copy) as ``workdir/config.yaml``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not isinstance(config, dict):
        config = yaml.safe_load(Path(config).read_text())
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``workdir`` as working directory."""
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def small_config() -> dict:
    return yaml.safe_load((REPO / "tests" / "configs" / "truzzi2020" / "small.yaml").read_text())


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The small test study, run once per session; returns its working directory."""
    workdir = tmp_path_factory.mktemp("small_run")
    write_config(workdir, small_config())
    run_snakemake(workdir)
    return workdir


def copy_results(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
