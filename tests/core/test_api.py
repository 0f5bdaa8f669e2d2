"""The curated public API of the package."""

from __future__ import annotations

from pathlib import Path

from test_rulekit import _run


def test_public_api_resolves_and_import_stays_light(tmp_path: Path) -> None:
    res = _run(
        """
    import sys
    import brainalign
    assert "torch" not in sys.modules and "numba" not in sys.modules
    for name in brainalign.__all__:
        assert callable(getattr(brainalign, name)) or name == "__version__", name
    from brainalign.rsa.rdm import compute_rdm
    assert brainalign.compute_rdm is compute_rdm
    print("ok")
    """,
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout
