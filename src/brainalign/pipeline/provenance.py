"""Provenance: config hash, seeds, dataset checksums and software versions for every output.

Every result table carries the columns :data:`PROVENANCE_COLUMNS`; figures carry the same
fields in their file metadata; ``tables/provenance.csv`` lists them all for the report.
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from brainalign.io.hashing import sha256_file
from brainalign.pipeline.seeds import config_hash

__all__ = [
    "PROVENANCE_COLUMNS",
    "VERSIONED",
    "versions",
    "versions_string",
    "hash_files",
    "provenance_fields",
    "with_provenance",
    "rule_provenance",
    "write_dataset_record",
]

#: Columns appended to every result table.
PROVENANCE_COLUMNS = ("config_hash", "seed", "rule_seed", "dataset_sha256", "versions")
#: Distributions whose versions are recorded (plus Python).
VERSIONED = ("brainalign", "torch", "numpy", "scipy", "pingouin", "snakemake")


def versions() -> dict[str, str]:
    """Versions of Python and of :data:`VERSIONED` in the running environment.

    A distribution not installed in this rule's environment is reported as ``"absent"``.
    """
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def versions_string() -> str:
    """:func:`versions` as ``"python=3.11.7;brainalign=0.1.0;…"``."""
    return ";".join(f"{k}={v}" for k, v in versions().items())


def hash_files(paths: Iterable[str | os.PathLike]) -> tuple[str, dict[str, str]]:
    """SHA-256 of each file (folders are walked) and one combined digest.

    Returns
    -------
    combined : str
        SHA-256 over the sorted ``name:digest`` lines (names relative to each given path's
        parent, so the digest does not depend on where the data lives).
    per_file : dict of str to str
    """
    per_file: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            per_file[f.relative_to(p.parent).as_posix()] = sha256_file(f)
    blob = "\n".join(f"{k}:{v}" for k, v in sorted(per_file.items())).encode()
    return hashlib.sha256(blob).hexdigest(), per_file


def provenance_fields(
    config: Mapping[str, Any], dataset_sha256: str, rule_seed: int | None = None
) -> dict[str, Any]:
    """The provenance columns for one output.

    Parameters
    ----------
    config : mapping
        The validated workflow config (hashed canonically).
    dataset_sha256 : str
        Combined digest of the dataset's source files (:func:`hash_files`).
    rule_seed : int, optional
        The seed this rule derived from the base seed, if it draws random numbers.
    """
    return {
        "config_hash": config_hash(config),
        "seed": int(config.get("seed", 0)),
        "rule_seed": "" if rule_seed is None else int(rule_seed),
        "dataset_sha256": dataset_sha256,
        "versions": versions_string(),
    }


def with_provenance(df: pd.DataFrame, fields: Mapping[str, Any]) -> pd.DataFrame:
    """Return ``df`` with the provenance columns set (replacing existing ones)."""
    out = df.drop(columns=[c for c in PROVENANCE_COLUMNS if c in df.columns])
    for key in PROVENANCE_COLUMNS:
        out[key] = fields[key]
    return out


def rule_provenance(
    config: Mapping[str, Any], inputs: Iterable[str | os.PathLike], rule_seed: int | None = None
) -> dict[str, Any]:
    """Provenance columns for a rule whose data are ``inputs`` (files or folders, hashed).

    For studies without a prepared ``dataset.json``: ``dataset_sha256`` is the combined digest
    of the rule's input files (:func:`hash_files`).
    """
    return provenance_fields(config, hash_files(inputs)[0], rule_seed)


def write_dataset_record(
    path: str | os.PathLike, name: str, files: Iterable[str | os.PathLike], **extra: Any
) -> dict[str, Any]:
    """Write a study's ``dataset/dataset.json`` (read by the shared provenance rule).

    Parameters
    ----------
    path : path-like
    name : str
        The dataset name (results folder).
    files : iterable of path-like
        Files (or folders) whose SHA-256 digests identify the data.
    **extra
        More JSON-serialisable fields.

    Returns
    -------
    dict
        The record: ``name``, ``dataset_sha256`` (combined), ``files_sha256`` and ``extra``.
    """
    from brainalign.io.files import write_json

    combined, per_file = hash_files(files)
    record = {"name": name, "dataset_sha256": combined, "files_sha256": per_file, **extra}
    write_json(record, path)
    return record
