"""Shared test helpers: running the workflow in a scratch directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: The study as ``make run`` starts it: through the run guard, which removes a stale lock of a
#: killed run (so the very same command resumes it).
GUARDED = [
    sys.executable,
    "-m",
    "brainalign.pipeline.runguard",
    SNAKEMAKE,
    "--snakefile",
    str(REPO / "Snakefile"),
    "--cores",
    "2",
]


def is_timing_file(rel: str) -> bool:
    """Snakemake benchmark files and the tables collected from them (wall and CPU times: never
    byte-identical between runs)."""
    return "/benchmarks/" in f"/{rel}"


def write_config(workdir: Path, config: dict | str | Path) -> Path:
    """Write ``config`` (a dict, or a YAML file to copy) as ``workdir/config.yaml``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not isinstance(config, dict):
        config = yaml.safe_load(Path(config).read_text())
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_study(workdir: Path, config: dict | str | Path, timeout: int = 900) -> Path:
    """Write ``config`` into ``workdir`` and run the whole workflow there on 2 cores."""
    write_config(workdir, config)
    run_snakemake(workdir, "--cores", "2", timeout=timeout)
    return workdir


def assert_same_tables(first: Path, second: Path, out: Path, names) -> None:
    """The tables ``out/tables/<name>.csv`` of two runs are byte-identical."""
    for name in names:
        a = (first / out / "tables" / f"{name}.csv").read_bytes()
        assert a == (second / out / "tables" / f"{name}.csv").read_bytes(), name


def run_snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: int = 600,
    snakefile: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile (or ``snakefile``) with ``workdir`` as working directory."""
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(snakefile or REPO / "Snakefile"),
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


@pytest.fixture(autouse=True)
def _no_listed_files_between_tests(monkeypatch):
    """Config checks run in the test process list verified registry files in an environment
    variable (for a workflow's jobs); no test sees another's list."""
    monkeypatch.delenv("BRAINALIGN_VERIFIED_FILES", raising=False)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The small test study, run once per session; returns its working directory."""
    workdir = tmp_path_factory.mktemp("small_run")
    write_config(workdir, small_config())
    run_snakemake(workdir)
    return workdir


def copy_results(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)


_JOB = re.compile(r"^\s*(?:local)?rule (\w+):$")
_RESOURCES = re.compile(r"^\s*resources: (.*)$")
_WILDCARDS = re.compile(r"^\s*wildcards: (.*)$")
_STAT = re.compile(r"^(\w+)\s+(\d+)$")


def scheduled_jobs(workdir: Path, *args: str, snakefile: Path | None = None) -> Counter:
    """Jobs of a dry run as a Counter of ``(rule, "wildcard=value, ...")``.

    The job list is checked against Snakemake's ``Job stats`` table (rule -> count).
    """
    out = run_snakemake(workdir, "-n", *args, snakefile=snakefile).stdout
    if "Nothing to be done" in out:
        return Counter()
    jobs: list[list[str]] = []
    for line in out.splitlines():
        if m := _JOB.match(line):
            jobs.append([m.group(1), ""])
        elif (m := _WILDCARDS.match(line)) and jobs and not jobs[-1][1]:
            jobs[-1][1] = m.group(1)
    found = Counter((rule, wc) for rule, wc in jobs)
    stats_text = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    stats = {
        m.group(1): int(m.group(2))
        for line in stats_text.splitlines()
        if (m := _STAT.match(line.strip())) and m.group(1) not in ("job", "total")
    }
    assert stats == dict(Counter(rule for rule, _ in found)), (stats, found)
    return found


def dry_run_resources(out: str) -> dict[str, list[dict[str, str]]]:
    """``resources:`` of every job of a dry run's output, by rule."""
    found: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in out.splitlines():
        if m := _JOB.match(line):
            rule = m.group(1)
        elif (m := _RESOURCES.match(line)) and rule:
            items = (kv.split("=", 1) for kv in m.group(1).split(", "))
            found.setdefault(rule, []).append({k: v for k, v in items})
            rule = None
    return found
