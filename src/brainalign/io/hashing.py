"""File digests: the one streamed SHA-256 of a file."""

from __future__ import annotations

import hashlib
import os

__all__ = ["sha256_file"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (constant memory for any file size).

    Parameters
    ----------
    path : path-like
        The file.
    chunk : int
        Bytes read at a time (1 MiB by default).

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(int(chunk)), b""):
            h.update(block)
    return h.hexdigest()
