"""Safe extraction of downloaded zip and tar archives.

Every member is checked before anything is written: a member with an absolute path, a ``..``
component, a drive letter, or a link/device type raises :class:`UnsafeArchiveError`. Standard
library only.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

from brainalign.pipeline.registry import (
    CHUNK_SIZE,
    DownloadError,
    Resource,
    UnsafeArchiveError,
    is_safe_relative,
)

__all__ = ["safe_extract", "extract_resource"]


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    out = []
    for info in zf.infolist():
        name = info.filename
        if not is_safe_relative(name):
            raise UnsafeArchiveError(
                f"{archive}: member {name!r} would be written outside the "
                f"target folder (absolute path or '..'); refusing to "
                f"extract"
            )
        mode = (info.external_attr >> 16) & 0o170000
        if mode and mode not in (stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(
                f"{archive}: member {name!r} is a symlink or special file; refusing to extract"
            )
        out.append((info, name.replace("\\", "/")))
    return out


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    out = []
    for m in tf.getmembers():
        if not is_safe_relative(m.name):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} would be written outside "
                f"the target folder (absolute path or '..'); refusing to "
                f"extract"
            )
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} is a link or special file; refusing to extract"
            )
        out.append(m)
    return out


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Extract a zip or tar archive into ``dest``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    drive letters, symlinks, hard links and device files raise :class:`UnsafeArchiveError`.
    The archive is unpacked into a temporary folder next to ``dest``; each top-level entry is
    then moved into ``dest`` (an existing entry of the same name is replaced).

    Parameters
    ----------
    archive : path-like
        ``.zip`` or any tar format :mod:`tarfile` reads.
    dest : path-like

    Returns
    -------
    list of str
        Member names (POSIX), in archive order.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = _zip_members(zf, archive)
                for info, name in members:
                    out = staging / name
                    if not out.resolve().is_relative_to(staging.resolve()):
                        raise UnsafeArchiveError(
                            f"{archive}: member {name!r} escapes the target folder"
                        )
                    if info.is_dir():
                        out.mkdir(parents=True, exist_ok=True)
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(out, "wb") as fh:
                        shutil.copyfileobj(src, fh, CHUNK_SIZE)
                names = [name for _, name in members]
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = _tar_members(tf, archive)
                for m in members:
                    out = staging / m.name
                    if not out.resolve().is_relative_to(staging.resolve()):
                        raise UnsafeArchiveError(
                            f"{archive}: member {m.name!r} escapes the target folder"
                        )
                    if m.isdir():
                        out.mkdir(parents=True, exist_ok=True)
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(m)
                    assert src is not None
                    with src, open(out, "wb") as fh:
                        shutil.copyfileobj(src, fh, CHUNK_SIZE)
                names = [m.name for m in members]
        else:
            raise DownloadError(f"{archive}: not a zip or tar archive")
        for entry in sorted(staging.iterdir()):
            final = dest / entry.name
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()
            os.replace(entry, final)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def extract_resource(resource: Resource, root: str | os.PathLike) -> list[str]:
    """Extract an archive entry's file into its ``extract_to`` folder (under ``root``)."""
    if not resource.extract_to:
        raise ValueError(f"registry entry {resource.name!r} has no extract_to")
    return safe_extract(resource.target(root), Path(root) / resource.extract_to)
