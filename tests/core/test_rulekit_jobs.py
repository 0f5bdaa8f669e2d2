"""rule_context at the edges of a job: leftovers of killed attempts, and one line on failure."""

from __future__ import annotations

from pathlib import Path

from test_rulekit import _run

FAKE_SMK = """
    import types
    def smk(log, output=(), rule="demo"):
        return types.SimpleNamespace(threads=1, log=[log] if log else [], rule=rule,
                                     output=list(output))
"""


def test_failure_prints_one_line_and_exits_without_a_traceback(tmp_path: Path) -> None:
    res = _run(
        FAKE_SMK
        + """
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk("logs/rule.log")):
        print("some progress")
        raise ValueError("bad value 42\\n  in row 3")
    """,
        tmp_path,
    )
    assert res.returncode == 1
    assert res.stderr == (
        "brainalign: rule demo failed: ValueError: bad value 42 in row 3; "
        "details in logs/rule.log\n"
    )
    assert res.stdout == ""
    log = (tmp_path / "logs" / "rule.log").read_text()
    assert log.count("Traceback (most recent call last)") == 1
    assert "some progress" in log and "ValueError: bad value 42" in log


def test_failure_without_a_log_shows_the_traceback_once(tmp_path: Path) -> None:
    res = _run(
        FAKE_SMK
        + """
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk(None)):
        raise KeyError("subject 03")
    """,
        tmp_path,
    )
    assert res.returncode == 1
    assert res.stderr.count("Traceback (most recent call last)") == 1
    assert res.stderr.splitlines()[-1] == (
        "brainalign: rule demo failed: KeyError: 'subject 03'; traceback above"
    )


def test_exit_status_chosen_by_the_script_is_kept(tmp_path: Path) -> None:
    res = _run(
        FAKE_SMK
        + """
    import sys
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk("rule.log")):
        sys.exit(3)
    """,
        tmp_path,
    )
    assert res.returncode == 3
    assert "rule demo stopped" in (tmp_path / "rule.log").read_text()


def test_stale_temporary_files_of_the_outputs_are_removed_at_the_start(tmp_path: Path) -> None:
    tables, images = tmp_path / "tables", tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    tables.mkdir()
    stale = [
        tables / ".comparison.csv.abc123.csv",
        tables / ".comparison.csv.x1y2z3w4.csv",
        images / ".image_01.jpg.q8w7e6r5.jpg",
        images / "sub" / ".image_02.jpg.abcdefgh.jpg",
    ]
    kept = [
        tables / ".noise_ceiling.csv.abcdefgh.csv",  # another job's output
        tables / "notes.txt",
        images / ".gitkeep",
    ]
    for p in stale + kept:
        p.write_text("")
    res = _run(
        FAKE_SMK
        + """
    import pandas as pd
    from brainalign.io.files import write_table
    from brainalign.pipeline.rulekit import rule_context
    with rule_context(smk("rule.log", ["tables/comparison.csv", "images"])):
        write_table(pd.DataFrame({"a": [1, 2]}), "tables/comparison.csv")
    print("ok")
    """,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert (tables / "comparison.csv").read_text() == "a\n1\n2\n"
    log = (tmp_path / "rule.log").read_text()
    assert log.count("left by a killed earlier attempt of this job") == len(stale), log
    assert sorted(p.name for p in tables.iterdir()) == sorted(
        ["comparison.csv", ".noise_ceiling.csv.abcdefgh.csv", "notes.txt"]
    )
