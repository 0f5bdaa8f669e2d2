"""File digests: the one streamed SHA-256 of a file, cached checks against expected digests.

:func:`sha256_file` hashes a file. :func:`sha256_file_cached` hashes it once until it changes:
the digest is remembered in-process and, given a record path, on disk (a small JSON file), both
keyed by the file's resolved path, size and modification time in nanoseconds.

:func:`check_file` checks a file against what it must be (``sha256``, ``sha256_prefix``,
``size``, with ``name`` and ``url`` for the message). The workflow verifies every
registry-listed file a study uses when it starts (:mod:`brainalign.pipeline.verified`) and lists
those files with their expectations in the environment variable :data:`VERIFIED_FILES_ENV`,
which its jobs inherit; :func:`check_listed_file` re-checks such a file in the job that reads it
(a no-op for a file not listed, e.g. outside the workflow).

This module needs only the standard library (the download rules run it in a small env).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "VERIFIED_FILES_ENV",
    "FileCheckError",
    "sha256_file",
    "file_signature",
    "sha256_file_cached",
    "clear_digest_cache",
    "mismatch",
    "check_file",
    "listed_files",
    "list_file",
    "check_listed_file",
]

#: Environment variable holding ``{resolved path: expectation}`` (JSON) of the registry-listed
#: files the running workflow verified; jobs re-check these files before reading them.
VERIFIED_FILES_ENV = "BRAINALIGN_VERIFIED_FILES"

#: In-process digests by :func:`file_signature`.
_DIGESTS: dict[tuple[str, int, int], str] = {}


class FileCheckError(ValueError):
    """A file does not have the size or SHA-256 it must have; the message names the file."""


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


def file_signature(path: str | os.PathLike) -> tuple[str, int, int]:
    """``(resolved path, size in bytes, modification time in ns)``: changes when the file does.

    A file replaced or rewritten gets a new modification time (unless a copy tool restores the
    old one together with an equal size, which this signature cannot tell apart).
    """
    p = Path(path).resolve()
    st = p.stat()
    return str(p), int(st.st_size), int(st.st_mtime_ns)


def _read_record(record: Path, signature: tuple[str, int, int]) -> str | None:
    """The digest a record holds for exactly this signature, else None."""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    same = (
        str(Path(str(data.get("path", ""))).resolve()) == signature[0]
        and data.get("size") == signature[1]
        and data.get("mtime_ns") == signature[2]
    )
    digest = data.get("sha256")
    return digest if same and isinstance(digest, str) and len(digest) == 64 else None


def _write_record(record: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` to ``record`` atomically (temporary file + rename); skip if unwritable."""
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{record.name}.", suffix=".part", dir=record.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(dict(payload), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, record)
    except OSError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def sha256_file_cached(
    path: str | os.PathLike,
    record: str | os.PathLike | None = None,
    *,
    reuse: tuple[str | os.PathLike, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 of a file, computed once until the file changes.

    Parameters
    ----------
    path : path-like
    record : path-like, optional
        JSON record ``{"path", "size", "mtime_ns", "sha256", ...}`` to read the digest from
        (when it holds the file's current :func:`file_signature`) and to write it to after
        hashing (atomically; skipped where the folder is not writable).
    reuse : tuple of path-like
        Further records to read (never written), e.g. the download rule's.
    extra : mapping, optional
        More fields for a record written here.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    sig = file_signature(path)
    if sig in _DIGESTS:
        return _DIGESTS[sig]
    for rec in ([record] if record else []) + list(reuse):
        digest = _read_record(Path(rec), sig)
        if digest is not None:
            _DIGESTS[sig] = digest
            return digest
    digest = sha256_file(path)
    _DIGESTS[sig] = digest
    if record:
        payload = {**(extra or {}), "path": sig[0], "size": sig[1], "mtime_ns": sig[2]}
        _write_record(Path(record), {**payload, "sha256": digest})
    return digest


def clear_digest_cache() -> None:
    """Forget the in-process digests (records on disk are kept)."""
    _DIGESTS.clear()


def mismatch(expected: Mapping[str, Any], digest: str, size: int) -> list[str]:
    """How a file with ``digest`` and ``size`` differs from ``expected`` (empty: it matches).

    Parameters
    ----------
    expected : mapping
        ``sha256`` (full hash), ``sha256_prefix`` (used when there is no full hash), ``size``;
        any may be None or absent.
    digest : str
    size : int

    Returns
    -------
    list of str
        e.g. ``["size 12 bytes, expected 224663", "sha256 ab12..., expected 1743f9..."]``.
    """
    facts = []
    if expected.get("size") is not None and size != expected["size"]:
        facts.append(f"size {size} bytes, expected {expected['size']}")
    if expected.get("sha256"):
        if digest != expected["sha256"]:
            facts.append(f"sha256 {digest}, expected {expected['sha256']}")
    elif expected.get("sha256_prefix") and not digest.startswith(expected["sha256_prefix"]):
        facts.append(f"sha256 {digest}, expected one starting with {expected['sha256_prefix']}")
    return facts


def _verification(expected: Mapping[str, Any]) -> str:
    if expected.get("sha256"):
        return "sha256"
    if expected.get("sha256_prefix"):
        return "sha256-prefix"
    return "size" if expected.get("size") is not None else "none"


def check_file(
    path: str | os.PathLike,
    expected: Mapping[str, Any],
    record: str | os.PathLike | None = None,
    *,
    reuse: tuple[str | os.PathLike, ...] = (),
) -> str:
    """Check a file against ``expected``, hashing it once until it changes.

    Parameters
    ----------
    path : path-like
    expected : mapping
        ``sha256`` / ``sha256_prefix`` / ``size`` (see :func:`mismatch`); for the record
        ``name``; for the message ``what`` (what the file must match, e.g. "the download
        registry entry 'alexnet' (resources/registry.yaml)"), ``url`` or ``page`` (where to
        get the right one) and ``hint`` (a closing sentence).
    record : path-like, optional
        JSON record of this check (the download rule's format: ``name``, ``path``, ``sha256``,
        ``size``, ``verification``, ``verified``, plus ``mtime_ns``): read as a cache, and
        written when it does not describe the file as it is now.
    reuse : tuple of path-like
        Further records to read the digest from (never written).

    Returns
    -------
    str
        The file's SHA-256.

    Raises
    ------
    FileCheckError
        Naming the file, its size and SHA-256, what was expected, and where to get the right
        file.
    """
    sig = file_signature(path)
    records = tuple(r for r in (record, *reuse) if r)
    digest = sha256_file_cached(path, reuse=records)
    facts = mismatch(expected, digest, sig[1])
    if record and _read_record(Path(record), sig) != digest:
        _write_record(
            Path(record),
            {
                "name": expected.get("name"),
                "path": sig[0],
                "sha256": digest,
                "size": sig[1],
                "mtime_ns": sig[2],
                "verification": _verification(expected),
                "verified": not facts,
            },
        )
    if facts:
        where = expected.get("url") or expected.get("page") or "its source"
        hint = f" {expected['hint']}" if expected.get("hint") else ""
        raise FileCheckError(
            f"{sig[0]} ({sig[1]} bytes) does not match "
            f"{expected.get('what') or 'its expected size and hash'}: {'; '.join(facts)}. It is "
            f"a wrong, damaged or incomplete copy; replace it with the file from {where}.{hint}"
        )
    return digest


def listed_files() -> dict[str, dict[str, Any]]:
    """The files the running workflow verified (:data:`VERIFIED_FILES_ENV`), by resolved path."""
    try:
        data = json.loads(os.environ.get(VERIFIED_FILES_ENV) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def list_file(path: str | os.PathLike, expected: Mapping[str, Any]) -> None:
    """Add a verified file and its expectation to :data:`VERIFIED_FILES_ENV` (for the jobs)."""
    files = listed_files()
    files[file_signature(path)[0]] = dict(expected)
    os.environ[VERIFIED_FILES_ENV] = json.dumps(files, sort_keys=True)


def check_listed_file(path: str | os.PathLike) -> str | None:
    """Re-check a file the workflow verified when it started; None for a file it did not list.

    Cheap while the file is unchanged (the digest is cached by its signature and record).

    Raises
    ------
    FileCheckError
        The file changed since and no longer matches its expectation.
    """
    files = listed_files()
    if not files:
        return None
    key = str(Path(path).resolve())
    if key not in files:
        return None
    entry = files[key]
    return check_file(path, entry, entry.get("record"), reuse=tuple(entry.get("reuse") or ()))
