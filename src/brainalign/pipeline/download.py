"""Verified downloads of the workflow's remote inputs, driven by ``resources/registry.yaml``.

Rules every download follows
----------------------------
* **Pre-placed files win.** A file already at the target path is verified and used; it is never
  re-downloaded and never deleted (a failed check is reported, naming the path).
* **Nothing half-written at a target path.** A download goes to a hidden temporary file in the
  target's folder (``.<name>.XXXX.part``); it is checked for completeness (``Content-Length``)
  and verified against the registry, and only then moved into place with :func:`os.replace`.
  Any failure deletes the temporary file.
* **Offline** (``offline=True``, ``BRAINALIGN_OFFLINE=1``, or no network) with the file missing:
  one :class:`OfflineError` naming the URL and the exact path to place the file at.
* **Archives are extracted safely**: a member with an absolute path, a ``..`` component, or a
  link/device type is refused before anything is written (see :mod:`.archives`).

Verification (:func:`verify_file`) uses the strongest information the registry has: the full
SHA-256; else a SHA-256 prefix (the torch.hub file-name convention) and the size if known; else
the size; else the file is accepted with a warning that prints its SHA-256 (so it can be pinned).

This module and its siblings :mod:`.registry` (entries, errors) and :mod:`.archives` need only
the standard library and PyYAML, so the download rules can run it as a script in a small env
(``python src/brainalign/pipeline/download.py fetch NAME``; or ``python -m`` this module).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shlex
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

if not __package__:  # run or loaded by file path (the download rules): use this source tree
    _SRC = str(Path(__file__).resolve().parents[2])
    if _SRC not in sys.path:
        sys.path.insert(0, _SRC)

from brainalign.io.hashing import sha256_file  # noqa: E402
from brainalign.io.modes import file_mode  # noqa: E402
from brainalign.pipeline.archives import extract_resource  # noqa: E402
from brainalign.pipeline.registry import (  # noqa: E402
    CHUNK_SIZE,
    DEFAULT_REGISTRY,
    ChecksumError,
    DownloadError,
    OfflineError,
    Resource,
    get_resource,
    load_registry,
)

__all__ = [
    "sha256sum",
    "verify_file",
    "fetch",
    "is_offline",
    "RuleHelper",
    "main",
]


#: The registry's name for :func:`brainalign.io.hashing.sha256_file` (kept for callers).
sha256sum = sha256_file


def verify_file(path: str | os.PathLike, resource: Resource) -> dict[str, Any]:
    """Check a file against its registry entry.

    Parameters
    ----------
    path : path-like
    resource : Resource

    Returns
    -------
    dict
        ``{"name", "path", "sha256", "size", "verification", "verified"}``; ``verified`` is
        False only when the registry has nothing to check against (a warning is issued that
        prints the SHA-256 to pin).

    Raises
    ------
    ChecksumError
        Naming the path, the expected and the actual hash or size.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = sha256_file(path)
    if resource.size is not None and size != resource.size:
        raise ChecksumError(
            f"{path.resolve()}: size {size} bytes does not match the registry entry "
            f"{resource.name!r} ({resource.size} bytes)"
        )
    if resource.sha256 and digest != resource.sha256:
        raise ChecksumError(
            f"{path.resolve()}: sha256 {digest} does not match the registry entry "
            f"{resource.name!r} (expected {resource.sha256})"
        )
    if (
        not resource.sha256
        and resource.sha256_prefix
        and not digest.startswith(resource.sha256_prefix)
    ):
        raise ChecksumError(
            f"{path.resolve()}: sha256 {digest} does not start with "
            f"{resource.sha256_prefix} as the registry entry "
            f"{resource.name!r} requires"
        )
    verified = resource.verification != "none"
    if not verified:
        warnings.warn(
            f"{path}: the registry has no hash or size for {resource.name!r}; "
            f"accepted unverified (sha256 {digest}, {size} bytes). Pin it in the "
            f"registry to verify future copies.",
            stacklevel=2,
        )
    return {
        "name": resource.name,
        "path": str(path),
        "sha256": digest,
        "size": size,
        "verification": resource.verification,
        "verified": verified,
    }


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else the ``BRAINALIGN_OFFLINE`` environment variable (1/true/yes)."""
    if offline is not None:
        return bool(offline)
    return os.environ.get("BRAINALIGN_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _place_hint(resource: Resource, target: Path, url: str | None) -> str:
    source = url or resource.page or "its source"
    return f"download {source} and place the file at {target.resolve()}"


@contextlib.contextmanager
def _temp_next_to(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _download_to(url: str, dest: Path, timeout: float) -> int:
    """Stream ``url`` into ``dest``; raise DownloadError on a short or failed transfer."""
    req = urllib.request.Request(url, headers={"User-Agent": "brainalign-download/1"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        expected = resp.headers.get("Content-Length")
        expected = int(expected) if expected and expected.isdigit() else None
        got = 0
        while True:
            chunk = resp.read(CHUNK_SIZE)
            if not chunk:
                break
            out.write(chunk)
            got += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if expected is not None and got != expected:
        raise DownloadError(f"interrupted transfer from {url}: received {got} of {expected} bytes")
    return got


def _already_there(resource: Resource, target: Path, log: Callable[[str], None]) -> bool:
    """Whether a (pre-placed or earlier) file is at ``target``; verified if so."""
    if target.is_file():
        info = verify_file(target, resource)
        log(
            f"{resource.name}: using the file already at {target} "
            f"({info['verification']} {'ok' if info['verified'] else 'not checked'})"
        )
        return True
    if target.exists():
        raise DownloadError(
            f"{target} exists but is not a file; remove it or point the workflow elsewhere"
        )
    return False


def _source_url(resource: Resource, target: Path, url: str | None, offline: bool | None) -> str:
    """The URL to download from, or the offline error naming the URL and the path."""
    src = url or resource.url
    if src is None:
        raise OfflineError(
            f"{resource.name}: no download URL is known ({resource.description})"
            f"; {_place_hint(resource, target, None)}"
        )
    if is_offline(offline):
        raise OfflineError(
            f"{resource.name}: offline and the file is missing; "
            f"{_place_hint(resource, target, src)}"
        )
    return src


def fetch(
    resource: Resource | str,
    root: str | os.PathLike | None = None,
    *,
    registry: Mapping[str, Resource] | None = None,
    url: str | None = None,
    offline: bool | None = None,
    timeout: float = 60.0,
    retries: int = 2,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Make sure a registry file is present and verified at its target path.

    Parameters
    ----------
    resource : Resource or str
        An entry, or its name in ``registry`` (default: :data:`DEFAULT_REGISTRY`).
    root : path-like, optional
        Resources root; defaults to the registry file's folder.
    registry : mapping, optional
    url : str, optional
        Override the registry URL (a mirror, or the URL of a file with no registry URL).
    offline : bool, optional
        Never touch the network; default from ``BRAINALIGN_OFFLINE``.
    timeout : float
        Socket timeout in seconds.
    retries : int
        Extra attempts after a failed or interrupted transfer (not after a checksum mismatch).
    log : callable, optional
        ``log(message)`` for progress lines (default: print to stderr).

    Returns
    -------
    pathlib.Path
        The verified target path.

    Raises
    ------
    OfflineError
        Missing file and offline/no network/no URL: names the URL and the exact path.
    ChecksumError
        A pre-placed or downloaded file fails verification (a download is deleted first).
    DownloadError
        HTTP error or interrupted transfer after all retries.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(resource, str):
        reg = registry if registry is not None else load_registry()
        resource = get_resource(reg, resource)
    if root is None:
        root = DEFAULT_REGISTRY.parent
    target = resource.target(root)
    if _already_there(resource, target, log):
        return target
    src = _source_url(resource, target, url, offline)
    last: Exception | None = None
    for attempt in range(retries + 1):
        with _temp_next_to(target) as tmp:
            try:
                log(f"{resource.name}: downloading {src} (attempt {attempt + 1})")
                n = _download_to(src, tmp, timeout)
            except urllib.error.HTTPError as exc:
                raise DownloadError(
                    f"{resource.name}: HTTP {exc.code} {exc.reason} for {src}; "
                    f"{_place_hint(resource, target, src)}"
                ) from exc
            except urllib.error.URLError as exc:
                raise OfflineError(
                    f"{resource.name}: cannot reach {src} ({exc.reason}); "
                    f"{_place_hint(resource, target, src)}"
                ) from exc
            except (DownloadError, http.client.HTTPException, OSError) as exc:
                last = exc
                log(f"{resource.name}: transfer failed: {exc}")
                if attempt < retries:
                    time.sleep(min(1.0 + 2.0 * attempt, 5.0))
                continue
            try:
                info = verify_file(tmp, resource)
            except ChecksumError as exc:  # the temporary file is deleted on the way out
                raise ChecksumError(
                    f"{resource.name}: the file downloaded from {src} failed verification and "
                    f"was discarded; nothing was written to {target.resolve()}. "
                    f"{str(exc).split(': ', 1)[1]}"
                ) from exc
            os.chmod(tmp, file_mode())  # the umask's mode, not mkstemp's 0600
            os.replace(tmp, target)
            log(f"{resource.name}: {n} bytes, sha256 {info['sha256']} -> {target}")
            return target
    raise DownloadError(
        f"{resource.name}: download of {src} failed after {retries + 1} "
        f"attempts ({last}); nothing was written to {target}"
    )


# --- Snakemake helper -----------------------------------------------------------------------


class RuleHelper:
    """Paths and wildcard patterns for ``workflow/rules/download.smk``.

    Parameters
    ----------
    registry_file : path-like
    root : str
        Resources root as the workflow sees it (relative to its working directory).
    urls : mapping, optional
        Name → URL overrides (config ``download.urls``).
    """

    def __init__(
        self,
        registry_file: str | os.PathLike,
        root: str = "resources",
        urls: Mapping[str, str] | None = None,
    ) -> None:
        self.registry_file = str(registry_file)
        self.registry = load_registry(registry_file)
        self.root = str(root).rstrip("/") or "."
        self.urls = dict(urls or {})
        self.by_path = {res.path: name for name, res in self.registry.items()}
        self.archives = [n for n, r in self.registry.items() if r.extract_to]
        self.groups = sorted({r.group for r in self.registry.values() if r.group})

    @staticmethod
    def _alternatives(items: Iterable[str]) -> str:
        return "|".join(re.escape(x) for x in items) or "(?!)"

    @property
    def path_pattern(self) -> str:
        """Regex matching exactly the registry target paths (for ``wildcard_constraints``)."""
        return self._alternatives(self.by_path)

    @property
    def archive_pattern(self) -> str:
        return self._alternatives(self.archives)

    @property
    def group_pattern(self) -> str:
        return self._alternatives(self.groups)

    def path(self, name: str) -> str:
        """Target path of entry ``name`` under the root."""
        return f"{self.root}/{get_resource(self.registry, name).path}"

    def stamp(self, name: str) -> str:
        """Verification record of entry ``name``."""
        return f"{self.root}/.verified/{get_resource(self.registry, name).path}.json"

    def inputs(self, name: str) -> list[str]:
        """The file of entry ``name`` plus its verification record (use as rule input)."""
        return [self.path(name), self.stamp(name)]

    def records_for(self, paths: Iterable[str | os.PathLike]) -> list[str]:
        """Verification records of those ``paths`` that are registry targets under the root.

        Add them to a rule's input next to the files, so a file the user placed by hand is
        verified before it is used; other paths are ignored.
        """
        out = []
        for p in paths:
            rel = os.path.normpath(str(p))
            prefix = os.path.normpath(self.root) + os.sep
            if rel.startswith(prefix) and rel[len(prefix) :] in self.by_path:
                out.append(self.stamp(self.by_path[rel[len(prefix) :]]))
        return out

    def url_option(self, name: str) -> str:
        """``--url <override>`` for the CLI, or ``""``."""
        url = self.urls.get(name)
        return f"--url {shlex.quote(str(url))}" if url else ""

    def group_inputs(self, group: str) -> list[str]:
        """Every file, record and extraction record of a group."""
        out: list[str] = []
        for name, res in self.registry.items():
            if res.group == group:
                out += self.inputs(name)
                if res.extract_to:
                    out.append(f"{self.root}/.extracted/{name}.json")
        return out

    @staticmethod
    def root_of(path: str, relative: str) -> str:
        """The root a rule's file lives under: ``path`` minus ``/<relative>``."""
        suffix = "/" + relative
        if not path.endswith(suffix):
            raise ValueError(f"{path!r} does not end with {suffix!r}")
        return path[: -len(suffix)] or "."


# --- command line ---------------------------------------------------------------------------


def _verified_record(target: Path, resource: Resource) -> dict[str, Any]:
    """:func:`verify_file` plus the file's ``mtime_ns`` (taken before hashing), so that the
    record also serves as the digest cache of :func:`brainalign.io.hashing.check_file`."""
    mtime_ns = target.stat().st_mtime_ns
    return {**verify_file(target, resource), "mtime_ns": mtime_ns}


def _write_stamp(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    path = Path(path)
    with _temp_next_to(path) as tmp:
        tmp.write_text(json.dumps(dict(payload), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``list``, ``fetch NAME``, ``verify NAME``, ``extract NAME``.

    ``fetch`` and ``verify`` accept ``--stamp FILE`` to write a JSON record of the verified
    file (sha256, size, verification) for the workflow.
    """
    p = argparse.ArgumentParser(prog="brainalign-download", description=__doc__.splitlines()[0])
    p.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    p.add_argument("--root", default=None, help="resources root (default: registry folder)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list registry entries and their state")
    for cmd in ("fetch", "verify", "extract"):
        sp = sub.add_parser(cmd)
        sp.add_argument("name")
        sp.add_argument("--stamp", default=None)
        if cmd == "fetch":
            sp.add_argument("--url", default=None, help="override the registry URL")
            sp.add_argument("--offline", action="store_true", default=None)
            sp.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    registry = load_registry(args.registry)
    root = Path(args.root) if args.root else Path(args.registry).parent
    try:
        if args.cmd == "list":
            for res in registry.values():
                state = "present" if res.target(root).is_file() else "missing"
                print(f"{res.name:32s} {state:8s} {res.verification:14s} {res.target(root)}")
            return 0
        res = get_resource(registry, args.name)
        if args.cmd == "fetch":
            target = fetch(
                res, root, url=args.url or None, offline=args.offline, timeout=args.timeout
            )
            payload = _verified_record(target, res) if args.stamp else None
        elif args.cmd == "verify":
            target = res.target(root)
            if not target.is_file():
                raise OfflineError(f"{res.name}: missing; {_place_hint(res, target, res.url)}")
            payload = _verified_record(target, res)
        else:
            names = extract_resource(res, root)
            payload = {
                "name": res.name,
                "archive": str(res.target(root)),
                "extract_to": str(Path(root) / res.extract_to),
                "members": names,
            }
        if args.stamp:
            _write_stamp(args.stamp, payload)
        return 0
    except (DownloadError, KeyError, ValueError, FileNotFoundError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
