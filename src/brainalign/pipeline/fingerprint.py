"""Code fingerprints: which library code a rule script runs, as one hash for the rule's params.

Snakemake reruns a job when its script changes, not when the library the script imports does.
:func:`script_fingerprint` follows the script's ``brainalign`` imports (module level and inside
functions, through the packages' lazy public faces) to every module it can run, and hashes their
sources. Put it in the rule's ``params``: editing one library module then reruns exactly the
jobs whose scripts import it, directly or through other modules.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import subprocess
from pathlib import Path

__all__ = ["imported_modules", "script_fingerprint", "source_fingerprint", "git_commit"]

_PACKAGE = "brainalign"


def _module_file(src: Path, module: str) -> Path | None:
    """The file of a ``brainalign`` module, or None if it is not a module of the package."""
    base = src.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _lazy_api(tree: ast.Module) -> dict[str, str]:
    """The ``_API = {name: submodule}`` mapping of a lazy package face, if there is one."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_API" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return {
                k.value: v.value
                for k, v in zip(node.value.keys, node.value.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
    return {}


def _parse(path: Path) -> ast.Module:
    stat = path.stat()
    return _parse_version(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _parse_version(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _resolve(src: Path, module: str, names: list[str]) -> list[str]:
    """Modules run by ``from module import names`` (or ``import module`` when names is empty)."""
    parts = module.split(".")
    found = [".".join(parts[: i + 1]) for i in range(len(parts))]  # packages run their __init__
    path = _module_file(src, module)
    if path is None or path.name != "__init__.py":
        return found
    api = _lazy_api(_parse(path))
    for name in names:
        if _module_file(src, f"{module}.{name}") is not None:
            found.append(f"{module}.{name}")
        elif name in api:
            found.append(f"{module}.{api[name]}")
    return found


def _imports(tree: ast.Module, src: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == _PACKAGE:
                    out += _resolve(src, alias.name, [])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == _PACKAGE:
                out += _resolve(src, node.module, [a.name for a in node.names])
    return out


def _file_imports(path: Path, src: Path) -> tuple[tuple[str, ...], bool]:
    """``_imports`` of one file and whether it is a lazy face, cached per file version (every
    rule's ``code()`` in a workflow walks mostly the same modules)."""
    stat = path.stat()
    return _file_imports_version(path, src, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _file_imports_version(
    path: Path, src: Path, mtime_ns: int, size: int
) -> tuple[tuple[str, ...], bool]:
    tree = _parse_version(path, mtime_ns, size)
    lazy = path.name == "__init__.py" and bool(_lazy_api(tree))
    return tuple(_imports(tree, src)), lazy


def imported_modules(script: str | os.PathLike, src: str | os.PathLike) -> list[str]:
    """Every ``brainalign`` module ``script`` can run, sorted.

    Parameters
    ----------
    script : path-like
        A rule script (or any Python file).
    src : path-like
        The folder that holds the ``brainalign`` package.
    """
    src = Path(src)
    seen: set[str] = set()
    todo = _imports(_parse(Path(script).resolve()), src)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(src, module)
        if path is not None:
            found, lazy = _file_imports(path, src)
            todo += found
            if lazy:  # a lazy face runs its helper module
                todo.append(f"{_PACKAGE}._lazy")
    return sorted(m for m in seen if _module_file(src, m) is not None)


def script_fingerprint(script: str | os.PathLike, src: str | os.PathLike) -> str:
    """SHA-256 (16 hex digits) over the sources of the modules :func:`imported_modules` finds."""
    h = hashlib.sha256()
    for module in imported_modules(script, src):
        path = _module_file(Path(src), module)
        assert path is not None
        h.update(f"{module}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def source_fingerprint(root: str | os.PathLike) -> str:
    """SHA-256 over every ``.py``, ``.smk`` and schema file below ``root`` (sorted by path)."""
    root = Path(root)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".smk", ".yaml") and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\n")
            h.update(path.read_bytes())
    return h.hexdigest()


def git_commit(root: str | os.PathLike) -> str:
    """The checkout's commit (with ``+dirty`` if files differ from it), or ``""`` without git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")
