"""Atomic writes: the file in place has the umask's mode; leftover temporary files are found."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.io.files import (
    atomic_path,
    file_mode,
    is_temp_name,
    temp_files_of,
    temp_prefix,
    write_json,
    write_npz,
    write_table,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o027, 0o022, 0o077, 0o002])
def test_atomic_path_gives_the_file_the_mode_of_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        assert file_mode() == 0o666 & ~umask
        with atomic_path(tmp_path / "a.txt") as tmp:
            assert _mode(tmp) == 0o600  # private while it is written
            tmp.write_text("x\n")
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
        write_npz(tmp_path / "a.npz", x=np.arange(3))
        write_json({"a": 1}, tmp_path / "a.json")
        with open(tmp_path / "plain.txt", "w") as fh:  # what open() gives, for comparison
            fh.write("x\n")
    finally:
        os.umask(old)
    for name in ("a.txt", "t.csv", "a.npz", "a.json", "plain.txt"):
        assert _mode(tmp_path / name) == 0o666 & ~umask, (name, oct(_mode(tmp_path / name)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.txt", "t.csv", "a.npz", "a.json", "plain.txt"]
    )


def test_umask_027_in_a_fresh_process(tmp_path: Path) -> None:
    """The umask the process was started with (as under a batch system), read without races."""
    code = textwrap.dedent(
        """
        import os, stat, sys
        from brainalign.io.files import write_json
        write_json({"a": 1}, sys.argv[1])
        print(oct(stat.S_IMODE(os.stat(sys.argv[1]).st_mode)), oct(os.umask(0)))
        """
    )
    target = tmp_path / "out" / "a.json"
    proc = subprocess.run(
        ["sh", "-c", 'umask 027 && exec "$0" -c "$1" "$2"', sys.executable, code, str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=True,
    )
    assert proc.stdout.split() == ["0o640", "0o27"], proc.stdout + proc.stderr
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_a_failed_write_leaves_neither_file_nor_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_of_an_output_are_found_by_its_name(tmp_path: Path) -> None:
    dest = tmp_path / "comparison.csv"
    assert temp_prefix(dest) == ".comparison.csv."
    stale = [
        tmp_path / ".comparison.csv.abc123.csv",  # 6 random characters (Python 2)
        tmp_path / ".comparison.csv.k2_9x0ab.csv",  # 8 (Python 3 tempfile)
        tmp_path / ".comparison.csv.k2_9x0ab.part",  # a download
    ]
    others = [
        tmp_path / ".comparison.csv.bak.abcdefgh.bak",  # another output: comparison.csv.bak
        tmp_path / ".noise_ceiling.csv.abcdefgh.csv",
        tmp_path / "comparison.csv",
        tmp_path / ".gitignore",
    ]
    for p in stale + others:
        p.write_text("")
    # a real temporary name of atomic_path matches, and is gone once the block ends
    with atomic_path(dest) as tmp:
        assert tmp in temp_files_of(dest)
        assert is_temp_name(tmp.name)
        tmp.write_text("a\n")
    assert temp_files_of(dest) == sorted(stale)
    assert all(is_temp_name(p.name) for p in stale)
    assert not any(is_temp_name(n) for n in (".gitignore", "comparison.csv", ".a.b", ".nfs0001"))
    assert temp_files_of(tmp_path / "missing" / "x.csv") == []
