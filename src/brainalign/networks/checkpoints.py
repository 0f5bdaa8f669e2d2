"""Why a weights file cannot be read with ``torch.load(weights_only=True)``.

:func:`scan_checkpoint` examines the file without unpickling anything: the zip archive of the
current format (central directory, CRCs, ``data.pkl``) or the pickle stream of the legacy format
(PyTorch's magic number, the header pickles, the main pickle opcode by opcode). A file it finds
damaged or incomplete is *corrupt*; a complete one that torch still refuses needs full
unpickling (*unsafe*), usually for the globals beyond tensors it references
(:func:`unsafe_globals`). Used by :func:`brainalign.networks.weights.read_checkpoint`.
"""

from __future__ import annotations

import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import Any

from brainalign.networks.registry import WEIGHTS

__all__ = [
    "scan_checkpoint",
    "unsafe_globals",
    "failure_reason",
    "corrupt_message",
    "unsafe_message",
]

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER (legacy format)
_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)


class _Damaged(Exception):
    """What is wrong with a file that is not a complete checkpoint."""


class _NoGlobals(pickle.Unpickler):
    """Unpickles plain data only (ints, strings, dicts); refuses every global."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} in a header pickle")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent id in a header pickle")


def _pickle_globals(stream: Any) -> list[str]:
    """The globals one pickle references, read opcode by opcode (nothing is unpickled)."""
    found: list[str] = []
    strings: list[str] = []
    for op, arg, _ in pickletools.genops(stream):
        if op.name in ("GLOBAL", "INST"):
            found.append(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            found.append(".".join(strings[-2:]) or "?")
        elif op.name in _STRING_OPS:
            strings.append(str(arg))
    return found


def _scan_zip(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("data.pkl")]
            if not pkl:
                raise _Damaged("a zip archive without data.pkl, not a PyTorch checkpoint")
            bad = zf.testzip()
            if bad:
                raise _Damaged(f"archive member {bad} is damaged (CRC mismatch)")
            with zf.open(pkl[0]) as fh:
                return _pickle_globals(fh)
    except zipfile.BadZipFile as exc:
        raise _Damaged(
            "a zip archive cut short or damaged (its central directory, at the end of the "
            f"file, is missing or unreadable: {exc})"
        ) from exc
    except (EOFError, OSError, ValueError) as exc:
        raise _Damaged(f"a truncated or damaged zip archive ({exc})") from exc


def _scan_legacy(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        try:
            magic = _NoGlobals(fh, encoding="latin1").load()
        except Exception as exc:  # any failure: not a pickle; nothing was executed
            raise _Damaged(
                "neither a zip archive nor a pickle (bad magic bytes), not a PyTorch checkpoint"
            ) from exc
        if magic != _TORCH_MAGIC:
            raise _Damaged("a pickle without PyTorch's magic number, not a PyTorch checkpoint")
        try:
            _NoGlobals(fh, encoding="latin1").load()  # protocol version
            _NoGlobals(fh, encoding="latin1").load()  # sys info
            found = _pickle_globals(fh)
            _NoGlobals(fh, encoding="latin1").load()  # storage keys
        except Exception as exc:  # any failure means a damaged stream
            raise _Damaged(f"the pickled data is truncated or damaged ({exc})") from exc
    return found


def scan_checkpoint(path: Path) -> tuple[str | None, list[str]]:
    """Examine a checkpoint without unpickling anything.

    Parameters
    ----------
    path : pathlib.Path
        An existing file.

    Returns
    -------
    problem : str or None
        What makes ``path`` not a complete checkpoint (empty; not a zip archive or pickle; a
        truncated or damaged archive or pickle; no PyTorch magic number), or None.
    globals : list of str
        The globals (``module.name``) its main pickle references.
    """
    if path.stat().st_size == 0:
        return "the file is empty", []
    with open(path, "rb") as fh:
        head = fh.read(4)
    try:
        return None, _scan_zip(path) if head == b"PK\x03\x04" else _scan_legacy(path)
    except _Damaged as exc:
        return str(exc), []


def unsafe_globals(found: list[str]) -> list[str]:
    """The globals of ``found`` that ``torch.load(weights_only=True)`` does not allow."""
    try:
        from torch import _weights_only_unpickler as wou

        allowed = set(wou._get_allowed_globals()) | set(wou._get_user_allowed_globals())
    except (ImportError, AttributeError):  # private API: fall back to torch's own names
        allowed = {"collections.OrderedDict", "_codecs.encode"}
        found = [g for g in found if not g.startswith("torch.")]
    return sorted({g for g in found if g not in allowed})


def failure_reason(exc: BaseException | None) -> str:
    """The informative line of a ``torch.load`` error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    detail = [ln for ln in lines if "WeightsUnpickler error" in ln or "Unsupported" in ln]
    return (detail or lines)[0]


def _source_of(path: Path, network: str | None, source: str | None) -> str | None:
    if source:
        return source
    if network in WEIGHTS:
        return WEIGHTS[network].source
    return next((w.source for w in WEIGHTS.values() if w.file == path.name), None)


def corrupt_message(path: Path, problem: str, network: str | None, source: str | None) -> str:
    """Message of a damaged or incomplete weights file: the file, its size, the problem and
    where to download it again (``source``, else the network's or the registered file's)."""
    src = _source_of(path, network, source)
    again = (
        f"Download it again from {src} and replace the file"
        if src
        else "Get a fresh copy from where it came from and replace the file"
    )
    return (
        f"{path.resolve()}: not a readable PyTorch checkpoint ({path.stat().st_size} bytes): "
        f"{problem.rstrip('. ')}. The file is damaged or incomplete (e.g. an interrupted "
        f"download); this is not a safety question, so networks.allow_unsafe_pickle would not "
        f"help. {again}."
    )


def unsafe_message(
    path: Path, found: list[str], failure: BaseException | None, network: str | None
) -> str:
    """Message of a complete checkpoint that needs full unpickling: the objects it holds (or
    the pickle feature torch refused) and the config key that opts in."""
    unsafe = unsafe_globals(found)
    needs = (
        f"it holds Python objects beyond tensors ({', '.join(unsafe)})"
        if unsafe
        else f"it uses pickle features beyond weights_only ({failure_reason(failure)})"
    )
    return (
        f"{path.resolve()}: a complete checkpoint that torch.load(weights_only=True) "
        f"refuses: {needs}. Full unpickling can run arbitrary code; if you trust this file, "
        f"opt in for its network with networks.allow_unsafe_pickle: "
        f"[{network or '<network>'}] in the config."
    )
