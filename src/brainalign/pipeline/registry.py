"""The download registry (``resources/registry.yaml``): entries, validation and errors.

Each entry names one remote input: its URL, target path under the resources root, description
and what to verify it against (full SHA-256, a SHA-256 prefix, the size). The module needs only
the standard library and PyYAML (the download rules run in a small env).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "DEFAULT_REGISTRY",
    "DownloadError",
    "OfflineError",
    "ChecksumError",
    "UnsafeArchiveError",
    "Resource",
    "load_registry",
    "get_resource",
    "is_safe_relative",
    "CHUNK_SIZE",
]

#: The registry shipped with the project (``<repo>/resources/registry.yaml``).
DEFAULT_REGISTRY = Path(__file__).resolve().parents[3] / "resources" / "registry.yaml"
#: Read and copy files in chunks of this many bytes.
CHUNK_SIZE = 1 << 20
_HEX = re.compile(r"^[0-9a-f]+$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class DownloadError(RuntimeError):
    """A download failed (HTTP error, interrupted transfer, no URL)."""


class OfflineError(DownloadError):
    """The file is missing and cannot be downloaded (offline or no network)."""


class ChecksumError(DownloadError):
    """A file does not match the registry's hash or size."""


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the target folder or is a link/device."""


@dataclass(frozen=True)
class Resource:
    """One registry entry.

    Attributes
    ----------
    name : str
    url : str or None
        None when no direct URL is known (the file must be placed by hand).
    path : str
        Target path relative to the resources root.
    description : str
    sha256, sha256_prefix : str or None
        Full hash, or its leading hex digits when only those are known.
    size : int or None
        Exact size in bytes.
    page : str or None
        Human-readable page about the file.
    extract_to : str or None
        Archives: folder relative to the root to extract into.
    group : str or None
    """

    name: str
    url: str | None
    path: str
    description: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    page: str | None = None
    extract_to: str | None = None
    group: str | None = None

    def target(self, root: str | os.PathLike) -> Path:
        """Absolute-or-relative target path ``root / path``."""
        return Path(root) / self.path

    @property
    def verification(self) -> str:
        """How a file is verified: ``sha256``, ``sha256-prefix``, ``size`` or ``none``."""
        if self.sha256:
            return "sha256"
        if self.sha256_prefix:
            return "sha256-prefix"
        if self.size is not None:
            return "size"
        return "none"


def is_safe_relative(name: str) -> bool:
    """Whether ``name`` is a relative path that stays inside its folder.

    Parameters
    ----------
    name : str
        A POSIX or Windows-style path (registry path, archive member name).

    Returns
    -------
    bool
        False for an empty name, an absolute path, a drive letter or a ``..`` component.
    """
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in PurePosixPath(name).parts


_ENTRY_KEYS = frozenset(
    {"url", "path", "description", "sha256", "sha256_prefix", "size", "page", "extract_to", "group"}
)


def _check_keys(where: str, raw: Mapping[str, Any]) -> None:
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {sorted(_ENTRY_KEYS)}")
    for key in ("path", "description"):
        if not raw.get(key):
            raise ValueError(f"{where}: {key!r} is required")


def _check_values(where: str, raw: Mapping[str, Any]) -> None:
    url = raw.get("url")
    if url is not None and not re.match(r"^https?://", str(url)):
        raise ValueError(f"{where}: url must start with http:// or https://, got {url!r}")
    for key, length in (("sha256", 64), ("sha256_prefix", None)):
        value = raw.get(key)
        if value is None:
            continue
        value = str(value).lower()
        if not _HEX.match(value) or (length and len(value) != length) or len(value) < 8:
            raise ValueError(
                f"{where}: {key} must be {length or 'at least 8'} hex digits, got {raw.get(key)!r}"
            )
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise ValueError(f"{where}: size must be a non-negative integer, got {size!r}")
    for key in ("path", "extract_to"):
        value = raw.get(key)
        if value is not None and not is_safe_relative(str(value)):
            raise ValueError(f"{where}: {key} must be a relative path without '..', got {value!r}")


def _check_entry(name: str, raw: Mapping[str, Any], source: Path) -> Resource:
    where = f"{source}: entry {name!r}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(raw).__name__}")
    if not _NAME.match(name):
        raise ValueError(f"{where}: names may hold letters, digits, '_', '.', '-' only")
    _check_keys(where, raw)
    _check_values(where, raw)
    url, size = raw.get("url"), raw.get("size")
    return Resource(
        name=name,
        url=url,
        path=str(raw["path"]),
        description=str(raw["description"]),
        sha256=str(raw["sha256"]).lower() if raw.get("sha256") else None,
        sha256_prefix=str(raw["sha256_prefix"]).lower() if raw.get("sha256_prefix") else None,
        size=size,
        page=raw.get("page"),
        extract_to=raw.get("extract_to"),
        group=raw.get("group"),
    )


def load_registry(path: str | os.PathLike = DEFAULT_REGISTRY) -> dict[str, Resource]:
    """Read and validate a registry file.

    Parameters
    ----------
    path : path-like
        YAML mapping ``name -> {url, path, description, sha256, sha256_prefix, size, page,
        extract_to, group}``.

    Returns
    -------
    dict of str to Resource
        In file order.

    Raises
    ------
    ValueError
        Naming the file and entry for any malformed field or duplicate target path.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"download registry not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: the registry must be a mapping of name -> entry")
    out: dict[str, Resource] = {}
    seen: dict[str, str] = {}
    for name, raw in data.items():
        res = _check_entry(str(name), raw, path)
        if res.path in seen:
            raise ValueError(
                f"{path}: entries {seen[res.path]!r} and {name!r} share the "
                f"target path {res.path!r}"
            )
        seen[res.path] = res.name
        out[res.name] = res
    return out


def get_resource(registry: Mapping[str, Resource], name: str) -> Resource:
    """Entry ``name`` of ``registry``.

    Raises
    ------
    KeyError
        Naming the missing entry and the known ones.
    """
    if name not in registry:
        raise KeyError(f"no resource {name!r} in the registry; known: {sorted(registry)}")
    return registry[name]
