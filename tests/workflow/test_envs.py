"""Static guard for the per-rule conda envs (conda channels are unreachable here).

For every rule: the env file named by ``conda:`` must provide every third-party package that
the rule's code imports (the script and, transitively, the brainalign modules it uses), and
every pin must agree with pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO

SRC = REPO / "src"
#: import name -> distribution name
DIST = {
    "PIL": "pillow",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "skbio": "scikit-bio",
}
#: the legacy Python 2.7 env pins its own (2018) versions on purpose
LEGACY_ENV = "deepcluster-py27.yaml"
#: the AllenSDK env pins the SDK's own old stack (numpy 1.23, statsmodels<0.15) on purpose
ALLENSDK_ENV = "allensdk.yaml"
#: modules provided by the env's Python itself or by Snakemake's script preamble
BUILTIN = set(sys.stdlib_module_names) | {"brainalign", "snakemake", "__future__"}


def _dist_name(req: str) -> tuple[str, str | None]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(?:==|=)?\s*([^\s;]*)", req)
    name = m.group(1).lower().replace("_", "-")
    return name, (m.group(3) or None)


def env_packages(path: Path) -> dict[str, str | None]:
    spec = yaml.safe_load(path.read_text())
    out: dict[str, str | None] = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for req in dep.get("pip", []):
                if not req.startswith("-"):
                    name, ver = _dist_name(req)
                    out[name] = ver
        else:
            name, ver = _dist_name(dep)
            out[name] = ver
    return out


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def imported_distributions(script: Path) -> set[str]:
    """Third-party distributions imported by ``script`` and the brainalign modules it uses."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top == "brainalign":
                    f = _module_file(name)
                    if f is not None:
                        todo.append(f)
                        # a package import also runs its parents' __init__
                        parts = name.split(".")
                        for i in range(1, len(parts)):
                            parent = _module_file(".".join(parts[:i]))
                            if parent is not None:
                                todo.append(parent)
                elif top not in BUILTIN:
                    found.add(DIST.get(top, top).lower().replace("_", "-"))
    return found


def rules_with_envs() -> list[tuple[str, Path, Path | None, str]]:
    """(rule, env file, script or None, rule file) for every rule with a conda env (shared rule
    files and those of every study, workflow/rules/<study>/)."""
    out = []
    rules_dir = REPO / "workflow" / "rules"
    for smk in sorted(rules_dir.rglob("*.smk")):
        text = smk.read_text()
        for block in re.split(r"\n(?=\s*rule \w+:)", text):
            m = re.search(r"rule (\w+):", block)
            if not m:
                continue
            env = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", block)
            script = re.search(r"script:\s*\n\s*\"([^\"]+)\"", block)
            if m.group(1) == "all":
                continue
            assert env, f"rule {m.group(1)} in {smk.relative_to(rules_dir)} has no conda: env"
            env_path = (smk.parent / env.group(1)).resolve()
            script_path = (smk.parent / script.group(1)).resolve() if script else None
            out.append((m.group(1), env_path, script_path, smk.relative_to(rules_dir).as_posix()))
    return out


RULES = rules_with_envs()


def test_every_rule_has_an_env_file():
    assert len(RULES) >= 11
    for rule, env, _, smk in RULES:
        assert env.is_file(), f"{smk}: rule {rule} names missing env {env}"


@pytest.mark.parametrize("rule, env, script, smk", RULES, ids=[r[0] for r in RULES])
def test_env_provides_what_the_rule_imports(rule, env, script, smk):
    if script is None:
        pytest.skip(f"rule {rule} has no Python script")
    needed = imported_distributions(script)
    provided = set(env_packages(env))
    missing = needed - provided
    assert not missing, f"{smk}: rule {rule} imports {sorted(missing)} not in {env.name}"


def test_env_pins_agree_with_pyproject():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = dict(_dist_name(r) for r in meta["dependencies"])
    for env in sorted((REPO / "envs").glob("*.yaml")):
        if env.name in (LEGACY_ENV, ALLENSDK_ENV):
            continue  # pin their own stacks (Python 2.7-era DeepCluster; the AllenSDK's)
        for name, ver in env_packages(env).items():
            if name in pins and ver and name != "python":
                assert ver == pins[name], f"{env.name}: {name}=={ver}, pyproject {pins[name]}"


def test_import_scanner_sees_transitive_imports():
    # extract_activations -> brainalign.networks.architectures -> torch
    script = REPO / "workflow" / "scripts" / "extract_activations.py"
    found = imported_distributions(script)
    assert {"torch", "numpy"} <= found
