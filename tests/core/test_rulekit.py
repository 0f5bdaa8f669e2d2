"""Rule-script plumbing: thread limits, logging, error reporting."""

from __future__ import annotations

import os
import re
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


def _run_as_job(code: str, tmp_path: Path):
    """Run ``code`` as Snakemake runs a ``script:`` job: ``python .snakemake/scripts/tmp*.py``."""
    script = tmp_path / ".snakemake" / "scripts" / "tmpk2v9.demo.py"
    script.parent.mkdir(parents=True)
    script.write_text(textwrap.dedent(FAKE_SMK + code))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(SRC)
    return subprocess.run(
        [sys.executable, ".snakemake/scripts/tmpk2v9.demo.py"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


JOB_BODY = """
    import atexit, pathlib, sys
    import numpy as np
    from brainalign.io.files import write_table
    from brainalign.pipeline.rulekit import rule_context
    import pandas as pd
    atexit.register(lambda: pathlib.Path("atexit_ran").write_text("x"))
    with rule_context(smk(1, "rule.log")) as log:
        big = np.ones(40 * 2**20)  # 320 MB
        write_table(pd.DataFrame({"a": [1.5, 2.5]}), "out.csv")
        print("to the log", big[-1])
        {child}
    pathlib.Path("after").write_text("x")
"""


def test_a_finished_job_ends_without_interpreter_teardown(tmp_path: Path) -> None:
    """In a Snakemake script process the job's process ends as the block ends (exit status 0),
    with its output and log complete; code after the block and atexit handlers do not run."""
    res = _run_as_job(JOB_BODY.replace("{child}", "pass"), tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out.csv").read_text() == "a\n1.5\n2.5\n"
    log = (tmp_path / "rule.log").read_text()
    assert "to the log 1.0" in log
    last = log.strip().splitlines()[-1]
    assert re.search(r"rule demo finished in [0-9.]+ s \(CPU [0-9.]+ s, peak RSS \d+ MB\)$", last)
    assert int(re.search(r"peak RSS (\d+) MB", last).group(1)) >= 320
    assert not (tmp_path / "after").exists()
    assert not (tmp_path / "atexit_ran").exists()


def test_a_job_with_a_live_child_process_exits_normally(tmp_path: Path) -> None:
    child = (
        "import multiprocessing, time; p = multiprocessing.Process(target=time.sleep, "
        "args=(0.5,)); p.start()"
    )
    res = _run_as_job(JOB_BODY.replace("{child}", child), tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "after").exists() and (tmp_path / "atexit_ran").exists()


def test_outside_a_snakemake_job_the_process_goes_on(tmp_path: Path) -> None:
    res = _run(FAKE_SMK + JOB_BODY.replace("{child}", "pass"), tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "after").exists() and (tmp_path / "atexit_ran").exists()


def test_the_logged_peak_is_the_jobs_own_not_its_parents(tmp_path: Path) -> None:
    """A job started by a large process (Snakemake's main process holds ~700 MB) logs its own
    peak memory: Linux carries ``ru_maxrss`` over ``exec``, the job's ``VmHWM`` starts afresh."""
    (tmp_path / "job").mkdir()
    child = "import time; time.sleep(0.01)"  # the job forks a small child, so both peaks count
    job = JOB_BODY.replace("np.ones(40 * 2**20)  # 320 MB", "np.ones(10)").replace(
        "{child}", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    )
    parent = f"""
    import numpy as np, subprocess, sys, pathlib
    held = np.ones(100 * 2**20)  # 800 MB, touched
    code = {textwrap.dedent(FAKE_SMK + job)!r}
    script = pathlib.Path("job/.snakemake/scripts/tmpq1.demo.py")
    script.parent.mkdir(parents=True)
    script.write_text(code)
    res = subprocess.run([sys.executable, ".snakemake/scripts/tmpq1.demo.py"], cwd="job")
    sys.exit(res.returncode)
    """
    res = _run(parent, tmp_path)
    assert res.returncode == 0, res.stderr
    last = (tmp_path / "job" / "rule.log").read_text().strip().splitlines()[-1]
    peak = int(re.search(r"peak RSS (\d+) MB", last).group(1))
    assert 20 < peak < 500, last
