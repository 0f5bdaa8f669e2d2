"""Crash-safe file output.

Every output is written to a temporary file in the destination folder and moved into place
with :func:`os.replace`, which is atomic on POSIX: a reader (or Snakemake after a crash) sees
either the previous file or the complete new one, never a truncated file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["atomic_path", "write_table", "read_table", "write_npz", "read_npz", "write_json"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds.

    Parameters
    ----------
    path : path-like
        Final destination. Its folder is created if needed.
    suffix : str, optional
        Suffix of the temporary file (some writers infer the format from it); defaults to
        the destination's suffix.

    Yields
    ------
    pathlib.Path
        Where to write. Removed if the block raises.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=suffix or dest.suffix, dir=dest.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a tidy table as CSV atomically, with a fixed float format for byte-stable output.

    Parameters
    ----------
    df : pandas.DataFrame
    path : path-like
        Destination ``.csv``.
    """
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.17g", lineterminator="\n")


#: Columns that always hold labels (read as strings, so subject "01" stays "01").
LABEL_COLUMNS = (
    "dataset",
    "region",
    "roi",
    "condition",
    "network",
    "training",
    "layer",
    "subject",
    "statistic",
    "bound",
    "comparison",
    "source",
    "test",
    "condition_a",
    "condition_b",
    "model",
    "group",
    "correction",
    "mode",
    "alternative",
)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (label columns as strings)."""
    return pd.read_csv(path, dtype=dict.fromkeys(LABEL_COLUMNS, str), keep_default_na=True)


def write_npz(path: str | os.PathLike, **arrays: Any) -> None:
    """Write arrays to an uncompressed ``.npz`` atomically (no pickled objects).

    Parameters
    ----------
    path : path-like
    **arrays : array_like
        Saved under their keyword names. Object arrays are refused.
    """
    clean = {}
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"array {key!r} has dtype object; refusing to pickle it")
        clean[key] = arr
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **clean)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` (``allow_pickle=False``) into a dict."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write_json(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write JSON atomically with sorted keys (byte-stable)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
