"""Guards that keep the house (ARCHITECTURE.md): layering, no cycles, small modules, one layout
per study."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from brainalign.pipeline.config import STUDIES

SRC = REPO / "src" / "brainalign"
MAX_LINES = 500


def test_import_contracts_hold():
    """Core packages layered (studies above the core), studies independent, no cycles."""
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [str(exe), "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_no_module_is_large():
    big = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_core_never_imports_a_study():
    """Also catches imports inside functions and strings import-linter would miss in __init__."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "studies" or rel == Path("__init__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [f"{rel}: {n}" for n in names if n.startswith("brainalign.studies")]
    assert not offenders


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_has_its_places(study):
    places = [
        SRC / "studies" / study / "__init__.py",
        REPO / "workflow" / "rules" / study / "main.smk",
        REPO / "workflow" / "scripts" / study,
        REPO / "workflow" / "schemas" / f"{study}.schema.yaml",
        REPO / "workflow" / "report" / study,
        REPO / "tests" / "studies" / study,
        REPO / "tests" / "configs" / study,
    ]
    missing = [str(p.relative_to(REPO)) for p in places if not p.exists()]
    assert not missing
    schema = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert f"$ref: {study}.schema.yaml" in schema
    snakefile = (REPO / "Snakefile").read_text()
    assert f'include: "workflow/rules/{study}/main.smk"' in snakefile
    package = __import__(f"brainalign.studies.{study}", fromlist=["complete_config"])
    assert callable(package.complete_config)


def _rule_blocks() -> list[tuple[str, str, str]]:
    """(rule file, rule name, the rule's text) for every rule of workflow/rules."""
    rules_dir = REPO / "workflow" / "rules"
    out = []
    for smk in sorted(rules_dir.rglob("*.smk")):
        for block in re.split(r"\n(?=\s*rule \w+:)", smk.read_text()):
            if m := re.search(r"^\s*rule (\w+):", block, re.M):
                out.append((smk.relative_to(rules_dir).as_posix(), m.group(1), block))
    return out


def _directive(block: str, name: str) -> str | None:
    m = re.search(rf"^\s*{name}:\s*\n\s*f?\"([^\"]+)\"", block, re.M)
    return m.group(1) if m else None


def _wildcards(path: str) -> set[str]:
    return set(re.findall(r"\{\{?(\w+)\}?\}", path)) - {"DL"}


def test_every_rule_writes_a_benchmark_file_beside_its_log():
    """benchmark: results/<study>/.../benchmarks/<rule>[/<wildcards>].tsv, with every wildcard of
    the log path (brainalign.pipeline.benchmarks reads rule and job from where it lies)."""
    blocks = _rule_blocks()
    assert len(blocks) >= 50
    wrong = []
    for smk, rule, block in blocks:
        log, bench = _directive(block, "log"), _directive(block, "benchmark")
        if bench is None or log is None:
            wrong.append(f"{smk}: rule {rule} has no benchmark: or no log:")
            continue
        rest = bench.split("/benchmarks/", 1)[-1]
        if not (
            bench.startswith(("results/", "{"))
            and "/benchmarks/" in bench
            and rest.endswith(".tsv")
            and (rest == f"{rule}.tsv" or rest.startswith(f"{rule}/"))
            and _wildcards(bench) >= _wildcards(log)
        ):
            wrong.append(f"{smk}: rule {rule}: benchmark {bench} (log {log})")
    assert not wrong, "\n".join(wrong)


def test_package_faces_stay_light():
    """The config code and the network registry import without torch, numba or matplotlib."""
    code = (
        "import sys, brainalign, brainalign.networks, brainalign.pipeline.config, "
        "brainalign.rsa, brainalign.maps, brainalign.stats\n"
        "heavy = [m for m in ('torch', 'numba', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "workflow", "benchmarks"],
        ["ruff", "format", "--check", "src", "tests", "workflow", "benchmarks"],
        ["snakefmt", "--check", "Snakefile", "workflow/rules"],
    ],
    ids=["ruff", "ruff-format", "snakefmt"],
)
def test_code_is_linted_and_formatted(command):
    exe = Path(sys.executable).with_name(command[0])
    proc = subprocess.run(
        [str(exe), *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
