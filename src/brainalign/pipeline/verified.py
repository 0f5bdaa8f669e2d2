"""Registry-listed files a study uses: verified (size, SHA-256) before use, hashed once.

The download rule verifies a file it fetches, but a study may read a file placed by hand. So
when the workflow starts (:func:`brainalign.pipeline.config.check_networks`), every file a study
uses that the download registry (``resources/registry.yaml``) lists is checked against its
entry:

* a file **at an entry's target path** under the resources root (``download.root``), or
* a file **with an entry's file name** anywhere (e.g. ``.../alexnet-owt-7be5be79.pth`` or a
  kriegeskorte2008 folder's ``92_brainRDMs.mat``): a file by that name must be that file;
  a different file used on purpose needs another name.

The files checked are the trained weights of the conditions and the source files of the study
block's ``dataset`` (``kind``, ``path``). A mismatch stops the run with one config error naming
the file, its size and SHA-256, what the registry expects, and the URL to fetch it from.

Hashing a large file each time would be slow, so a digest is cached by the file's resolved path,
size and modification time (:func:`brainalign.io.hashing.check_file`): in-process, and on disk
in ``<root>/.verified/cache/<entry>/<key>.json`` (the download rule's record format plus
``mtime_ns``; a file the download rule verified is not hashed again). Verified files are listed
in :data:`brainalign.io.hashing.VERIFIED_FILES_ENV`, so the job that reads one re-checks it
(:func:`brainalign.io.hashing.check_listed_file`), cheaply unless it changed meanwhile.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from brainalign.io.hashing import FileCheckError, check_file, list_file
from brainalign.pipeline.registry import DEFAULT_REGISTRY, Resource, load_registry

__all__ = [
    "registry_location",
    "matching_resources",
    "expectation",
    "verify_registry_file",
    "used_files",
    "check_used_files",
]

_CLI = "python -m brainalign.pipeline.download"


def registry_location(cfg: Mapping[str, Any]) -> tuple[Path, Path]:
    """``(registry file, resources root)`` of a validated config (``download.*``)."""
    dl = cfg.get("download") or {}
    return Path(dl.get("registry") or DEFAULT_REGISTRY), Path(dl.get("root") or "resources")


def matching_resources(
    path: str | os.PathLike, registry: Mapping[str, Resource], root: str | os.PathLike
) -> tuple[list[Resource], bool]:
    """The registry entries that govern ``path``.

    Returns
    -------
    entries : list of Resource
        The entry whose target path (under ``root``) ``path`` is; else every entry whose target
        has the file name of ``path``; else empty.
    by_target : bool
        Whether the match is by target path.
    """
    resolved = Path(path).resolve()
    base = Path(root).resolve()
    for res in registry.values():
        if base / res.path == resolved:
            return [res], True
    by_name = [r for r in registry.values() if PurePosixPath(r.path).name == resolved.name]
    return by_name, False


def _fetch_command(name: str, root: Path, registry_file: Path) -> str:
    """The download CLI call that fetches entry ``name`` into ``root``."""
    parts = [_CLI]
    if registry_file.resolve() != DEFAULT_REGISTRY.resolve():
        parts += ["--registry", str(registry_file)]
    if root.resolve() != registry_file.resolve().parent:
        parts += ["--root", str(root)]
    return " ".join([*parts, "fetch", name])


def expectation(
    resource: Resource,
    path: str | os.PathLike,
    root: str | os.PathLike,
    *,
    by_target: bool,
    registry_file: str | os.PathLike = DEFAULT_REGISTRY,
    renamable: bool = True,
) -> dict[str, Any]:
    """What ``path`` must be to pass as ``resource`` (:func:`brainalign.io.hashing.check_file`).

    Includes the message parts (``what``, ``url``, ``hint``), the cache record of this file
    (``record``) and the download rule's record to reuse (``reuse``, for a target-path file).
    ``renamable``: whether a different file could be used under another name (weights files;
    not dataset files, which their loader reads by name).
    """
    root, registry_file = Path(root), Path(registry_file)
    resolved = Path(path).resolve()
    key = hashlib.sha1(str(resolved).encode()).hexdigest()[:16]
    fetch = f"`{_fetch_command(resource.name, root, registry_file)}`"
    if by_target:
        hint = f"Delete it, then {fetch} downloads and verifies it."
    else:
        hint = f"{fetch} downloads a verified copy to {(root / resource.path).resolve()}."
        if renamable:
            hint += (
                f" A file named {resolved.name} is checked against that entry; to use a "
                "different file on purpose, give it another name."
            )
    return {
        "name": resource.name,
        "what": f"the download registry entry {resource.name!r} ({registry_file})",
        "sha256": resource.sha256,
        "sha256_prefix": resource.sha256_prefix,
        "size": resource.size,
        "url": resource.url,
        "page": resource.page,
        "hint": hint,
        "record": str((root / ".verified" / "cache" / resource.name / f"{key}.json").resolve()),
        "reuse": [str((root / ".verified" / f"{resource.path}.json").resolve())]
        if by_target
        else [],
    }


def verify_registry_file(
    path: str | os.PathLike,
    registry: Mapping[str, Resource],
    root: str | os.PathLike,
    *,
    registry_file: str | os.PathLike = DEFAULT_REGISTRY,
    register: bool = True,
    renamable: bool = True,
) -> Resource | None:
    """Check ``path`` against the registry entry that governs it, if any.

    Parameters
    ----------
    path : path-like
        An existing file.
    registry : mapping of str to Resource
    root : path-like
        The resources root the registry's target paths are relative to.
    registry_file : path-like
        For messages.
    register : bool
        List the verified file for the workflow's jobs
        (:func:`~brainalign.io.hashing.list_file`).
    renamable : bool
        See :func:`expectation`.

    Returns
    -------
    Resource or None
        The entry the file matched; None when no entry with a size or hash governs it.

    Raises
    ------
    brainalign.io.hashing.FileCheckError
        The file fails its entry's size or SHA-256 check (with several entries of that file
        name: fails every one), naming the file, both hashes and the URL.
    """
    entries, by_target = matching_resources(path, registry, root)
    entries = [r for r in entries if r.verification != "none"]
    first: FileCheckError | None = None
    for res in entries:
        exp = expectation(
            res, path, root, by_target=by_target, registry_file=registry_file, renamable=renamable
        )
        try:
            check_file(path, exp, exp["record"], reuse=tuple(exp["reuse"]))
        except FileCheckError as err:
            first = first or err
            continue
        if register:
            list_file(path, exp)
        return res
    if first is not None:
        raise first
    return None


def _dataset_files(cfg: Mapping[str, Any], study: str) -> list[str]:
    """Source files of ``cfg[study]['dataset']`` (kind, path), when it names an existing folder."""
    block = cfg.get(study)
    ds = block.get("dataset") if isinstance(block, Mapping) else None
    if not isinstance(ds, Mapping) or not ds.get("path") or not Path(ds["path"]).is_dir():
        return []
    from brainalign.data.loaders import SOURCES, source_files

    if ds.get("kind") not in SOURCES:
        return []
    try:
        return [f for f in source_files(ds["kind"], ds["path"]) if Path(f).is_file()]
    except OSError:
        return []


def used_files(
    cfg: Mapping[str, Any], conditions: Sequence[str], where: str
) -> list[tuple[str, str]]:
    """``(config key, path)`` of the files the conditions and the study's dataset read.

    Parameters
    ----------
    cfg : mapping
        Validated config, weights paths resolved (``networks.weights``).
    conditions : sequence of str
        Network conditions; the trained ones read ``networks.weights.<network>``.
    where : str
        Config key of the conditions; its first part names the study (whose ``dataset`` block
        is read, if it has one).
    """
    out: list[tuple[str, str]] = []
    weights = (cfg.get("networks") or {}).get("weights") or {}
    for cond in conditions:
        network, _, training = cond.rpartition("_")
        path = weights.get(network)
        if training == "trained" and path and Path(path).is_file():
            item = (f"networks.weights.{network}", str(path))
            if item not in out:
                out.append(item)
    study = where.split(".", 1)[0]
    out += [(f"{study}.dataset.path", f) for f in _dataset_files(cfg, study)]
    return out


def check_used_files(
    cfg: Mapping[str, Any], conditions: Sequence[str], where: str
) -> list[tuple[str, str]]:
    """Verify the registry-listed files among :func:`used_files`.

    Returns
    -------
    list of (str, str)
        ``(config key, message)`` per file that fails (empty: all pass). A registry that cannot
        be read is reported under ``download.registry``.
    """
    files = used_files(cfg, conditions, where)
    if not files:
        return []
    registry_file, root = registry_location(cfg)
    try:
        registry = load_registry(registry_file)
    except (OSError, ValueError) as err:
        return [("download.registry", str(err))]
    problems = []
    for key, path in files:
        renamable = key.startswith("networks.")
        try:
            verify_registry_file(
                path, registry, root, registry_file=registry_file, renamable=renamable
            )
        except FileCheckError as err:
            problems.append((key, str(err)))
    return problems
