"""Rule-script plumbing: thread limits, logging, error reporting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(code: str, tmp_path: Path, env_extra: dict[str, str] | None = None):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(SRC)
    env.update(env_extra or {})
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path
    )


FAKE_SMK = """
    import types
    def smk(threads, log):
        return types.SimpleNamespace(threads=threads, log=[log], rule="demo")
"""


def test_more_rule_threads_than_numba_launched_with(tmp_path: Path) -> None:
    # numba imported first (as rule scripts import the library at the top), the rule then
    # asks for more threads than numba's pool has: must not crash at the next compile.
    res = _run(
        FAKE_SMK
        + """
    import numba, numpy as np
    from brainalign.pipeline.rulekit import rule_context
    n = numba.config.NUMBA_NUM_THREADS

    @numba.njit(parallel=True)
    def f(x):
        s = 0.0
        for i in numba.prange(x.size):
            s += x[i]
        return s

    assert f(np.ones(100)) == 100.0  # launches numba's thread pool
    with rule_context(smk(n + 1, "rule.log")):
        assert f(np.ones(100, dtype=np.float32)) == 100.0  # compiles a new specialisation
        assert numba.get_num_threads() == n
    print("ok")
    """,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr + (tmp_path / "rule.log").read_text()
    assert "ok" in res.stdout


def test_fewer_rule_threads_limit_numba_and_blas(tmp_path: Path) -> None:
    res = _run(
        FAKE_SMK
        + """
    import os
    import numba
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk(1, "rule.log")):
        assert numba.get_num_threads() == 1, numba.get_num_threads()
        assert os.environ["OMP_NUM_THREADS"] == "1"
    print("ok")
    """,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr + (tmp_path / "rule.log").read_text()


def test_failure_is_logged_and_reraised(tmp_path: Path) -> None:
    res = _run(
        FAKE_SMK
        + """
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk(1, "rule.log")):
        raise ValueError("bad value 42")
    """,
        tmp_path,
    )
    assert res.returncode != 0
    assert "rule demo failed: ValueError: bad value 42" in res.stderr
    log = (tmp_path / "rule.log").read_text()
    assert "Traceback" in log and "bad value 42" in log
