"""Crash-safe file output.

Every output is written to a temporary file in the destination folder and moved into place
with :func:`os.replace`, which is atomic on POSIX: a reader (or Snakemake after a crash) sees
either the previous file or the complete new one, never a truncated file. The file in place has
the mode a plain ``open(path, "w")`` would give it (``0o666`` less the umask), not the private
``0o600`` of the temporary file.

A process killed while it writes (``kill -9``) leaves its temporary file behind, hidden and named
``.<name>.<random><suffix>`` (:func:`temp_prefix`); :func:`temp_files_of` finds those of an
output, and the rule scripts remove them when the job that owns the output starts again
(:func:`brainalign.pipeline.rulekit.rule_context`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.io.modes import file_mode

__all__ = [
    "atomic_path",
    "temp_prefix",
    "temp_files_of",
    "is_temp_name",
    "write_table",
    "read_table",
    "write_npz",
    "read_npz",
    "write_json",
]

#: The random part of a temporary name: tempfile's 8 characters (6 in Python 2, the legacy env).
_RANDOM = r"[a-z0-9_]{6,8}"
_ANY_TEMP_NAME = re.compile(r"\..+\." + _RANDOM + r"(?:\..*)?\Z")


def temp_prefix(dest: str | os.PathLike) -> str:
    """Prefix of the temporary files written for ``dest``: ``.<name of dest>.``.

    :func:`atomic_path` names its temporary files ``<prefix><random><suffix>`` in the folder of
    ``dest`` (as do the verified downloads, with the suffix ``.part``); :func:`temp_files_of`
    finds them by the same name pattern.
    """
    return f".{Path(dest).name}."


def _temp_name_of(dest: str | os.PathLike) -> re.Pattern[str]:
    return re.compile(re.escape(temp_prefix(dest)) + _RANDOM + r"(?:\..*)?\Z")


def is_temp_name(name: str) -> bool:
    """Whether a file name has the form of a temporary file: ``.<name>.<random>[<suffix>]``."""
    return _ANY_TEMP_NAME.match(name) is not None


def temp_files_of(dest: str | os.PathLike) -> list[Path]:
    """Temporary files left next to ``dest`` by writers of ``dest`` that did not finish.

    Parameters
    ----------
    dest : path-like
        An output file (or folder).

    Returns
    -------
    list of pathlib.Path
        The files ``<folder of dest>/<temp_prefix(dest)><random>[<suffix>]``, sorted; empty if
        there are none.
    """
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    pattern = _temp_name_of(dest)
    return sorted(p for p in dest.parent.iterdir() if pattern.match(p.name))


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
        Where to write. Removed if the block raises. The file moved onto ``path`` gets the mode
        of :func:`file_mode` (the temporary file itself is private, ``0o600``).
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=temp_prefix(dest), suffix=suffix or dest.suffix, dir=dest.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fchmod(fh.fileno(), file_mode())
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
