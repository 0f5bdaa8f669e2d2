"""File modes: new files get the mode the user's umask gives (``open(path, "w")``'s), not the
private ``0o600`` of a temporary file. Standard library only (the download script uses it)."""

from __future__ import annotations

import os

__all__ = ["file_mode"]


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere: set and restore at once (not atomic, but the only portable way to read it).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file as ``open(path, "w")`` creates it: ``0o666`` less the current umask."""
    return 0o666 & ~_umask()
