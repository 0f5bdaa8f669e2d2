"""Downloads: verification, atomic placement, offline errors, safe extraction, the registry.

All HTTP goes to a throw-away server on 127.0.0.1 that stops itself (fixture teardown, or a
watchdog after 60 s).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import warnings
import zipfile
from pathlib import Path

import pytest
import yaml

from brainalign.pipeline import download as dl
from brainalign.pipeline.archives import safe_extract
from brainalign.pipeline.download import fetch, verify_file
from brainalign.pipeline.registry import (
    DEFAULT_REGISTRY,
    ChecksumError,
    DownloadError,
    OfflineError,
    Resource,
    UnsafeArchiveError,
    load_registry,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "kriegeskorte2008"
PAYLOAD = bytes(range(256)) * 64  # 16 KiB


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    hits: dict = {}

    def do_GET(self):  # noqa: N802 - http.server API
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        kind, data = route
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if kind == "interrupt":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture()
def server():
    """A local HTTP server: ``(base_url, routes, hits)``; stopped after the test."""
    handler = type("H", (_Handler,), {"routes": {}, "hits": {}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    watchdog = threading.Timer(60.0, httpd.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.routes, handler.hits
    finally:
        watchdog.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def resource(url, **kw) -> Resource:
    base = {
        "name": "thing",
        "url": url,
        "path": "sub/thing.bin",
        "description": "a test file",
        "sha256": sha(PAYLOAD),
        "size": len(PAYLOAD),
    }
    base.update(kw)
    return Resource(**base)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_good_file_is_downloaded_verified_and_placed(server, tmp_path):
    base, routes, hits = server
    routes["/thing.bin"] = ("ok", PAYLOAD)
    out = fetch(resource(f"{base}/thing.bin"), tmp_path, log=lambda m: None)
    assert out == tmp_path / "sub" / "thing.bin"
    assert out.read_bytes() == PAYLOAD
    assert leftovers(tmp_path / "sub") == ["thing.bin"]  # no temporary files left
    assert hits["/thing.bin"] == 1


def test_wrong_checksum_is_rejected_and_nothing_is_left(server, tmp_path):
    base, routes, _ = server
    routes["/thing.bin"] = ("ok", PAYLOAD[:-1] + b"X")
    res = resource(f"{base}/thing.bin", size=None)
    with pytest.raises(ChecksumError) as err:
        fetch(res, tmp_path, log=lambda m: None)
    msg = str(err.value)
    assert "failed verification" in msg and sha(PAYLOAD) in msg and str(res.url) in msg
    assert not (tmp_path / "sub" / "thing.bin").exists()
    assert leftovers(tmp_path / "sub") == []


def test_wrong_size_and_prefix_are_rejected(server, tmp_path):
    base, routes, _ = server
    routes["/thing.bin"] = ("ok", PAYLOAD)
    with pytest.raises(ChecksumError, match="size"):
        fetch(resource(f"{base}/thing.bin", sha256=None, size=123), tmp_path, log=lambda m: None)
    with pytest.raises(ChecksumError, match="does not start with"):
        fetch(
            resource(f"{base}/thing.bin", sha256=None, size=None, sha256_prefix="00000000"),
            tmp_path,
            log=lambda m: None,
        )
    assert leftovers(tmp_path / "sub") == []
    # the right prefix passes
    res = resource(f"{base}/thing.bin", sha256=None, size=None, sha256_prefix=sha(PAYLOAD)[:8])
    assert fetch(res, tmp_path, log=lambda m: None).read_bytes() == PAYLOAD


def test_interrupted_transfer_is_retried_then_fails_cleanly(server, tmp_path):
    base, routes, hits = server
    routes["/thing.bin"] = ("interrupt", PAYLOAD)
    with pytest.raises(DownloadError) as err:
        fetch(resource(f"{base}/thing.bin"), tmp_path, retries=1, log=lambda m: None)
    assert "nothing was written" in str(err.value)
    assert hits["/thing.bin"] == 2
    assert not (tmp_path / "sub" / "thing.bin").exists()
    assert leftovers(tmp_path / "sub") == []


def test_interrupted_transfer_without_hash_is_still_caught(server, tmp_path):
    """Completeness is checked against Content-Length even when the registry has no hash."""
    base, routes, _ = server
    routes["/thing.bin"] = ("interrupt", PAYLOAD)
    res = resource(f"{base}/thing.bin", sha256=None, size=None)
    with pytest.raises(DownloadError, match="received"):
        fetch(res, tmp_path, retries=0, log=lambda m: None)
    assert leftovers(tmp_path / "sub") == []


def test_preplaced_file_is_verified_and_never_downloaded(server, tmp_path):
    base, routes, hits = server
    routes["/thing.bin"] = ("ok", b"server copy")
    target = tmp_path / "sub" / "thing.bin"
    target.parent.mkdir()
    target.write_bytes(PAYLOAD)
    assert fetch(resource(f"{base}/thing.bin"), tmp_path, log=lambda m: None) == target
    assert (
        fetch(resource(f"{base}/thing.bin"), tmp_path, offline=True, log=lambda m: None) == target
    )
    assert hits == {}
    assert target.read_bytes() == PAYLOAD


def test_corrupt_preplaced_file_is_reported_and_kept(server, tmp_path):
    base, routes, hits = server
    routes["/thing.bin"] = ("ok", PAYLOAD)
    target = tmp_path / "sub" / "thing.bin"
    target.parent.mkdir()
    target.write_bytes(b"not it")
    with pytest.raises(ChecksumError) as err:
        fetch(resource(f"{base}/thing.bin"), tmp_path, log=lambda m: None)
    assert str(target) in str(err.value)
    assert target.read_bytes() == b"not it"
    assert hits == {}


def test_offline_error_names_url_and_exact_path(tmp_path, monkeypatch):
    res = resource("https://example.org/files/thing.bin")
    with pytest.raises(OfflineError) as err:
        fetch(res, tmp_path, offline=True, log=lambda m: None)
    msg = str(err.value)
    assert "https://example.org/files/thing.bin" in msg
    assert str((tmp_path / "sub" / "thing.bin").resolve()) in msg
    monkeypatch.setenv("BRAINALIGN_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline"):
        fetch(res, tmp_path, log=lambda m: None)
    assert not (tmp_path / "sub").exists() or leftovers(tmp_path / "sub") == []


def test_unreachable_host_gives_the_same_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = resource(f"http://127.0.0.1:{port}/thing.bin")
    with pytest.raises(OfflineError) as err:
        fetch(res, tmp_path, timeout=5, log=lambda m: None)
    assert res.url in str(err.value)
    assert str((tmp_path / "sub" / "thing.bin").resolve()) in str(err.value)


def test_http_error_and_missing_url(server, tmp_path):
    base, _, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(resource(f"{base}/missing.bin"), tmp_path, log=lambda m: None)
    res = resource(None, page="http://example.org/challenge.html")
    with pytest.raises(OfflineError) as err:
        fetch(res, tmp_path, log=lambda m: None)
    assert "no download URL" in str(err.value)
    assert "http://example.org/challenge.html" in str(err.value)
    # a URL given at run time (config download.urls / --url) is used instead
    _, routes, _ = server
    routes["/mirror.bin"] = ("ok", PAYLOAD)
    assert fetch(res, tmp_path, url=f"{base}/mirror.bin", log=lambda m: None).is_file()


def test_unverifiable_file_is_accepted_with_a_warning(server, tmp_path):
    base, routes, _ = server
    routes["/thing.bin"] = ("ok", PAYLOAD)
    res = resource(f"{base}/thing.bin", sha256=None, size=None)
    with pytest.warns(UserWarning, match=sha(PAYLOAD)):
        fetch(res, tmp_path, log=lambda m: None)


# --- archives ---------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def test_safe_extract_good_zip_and_tar(tmp_path):
    arc = _zip(tmp_path / "good.zip", {"top/a.txt": b"a", "top/sub/b.txt": b"b"})
    dest = tmp_path / "out"
    assert safe_extract(arc, dest) == ["top/a.txt", "top/sub/b.txt"]
    assert (dest / "top" / "sub" / "b.txt").read_bytes() == b"b"
    tpath = tmp_path / "good.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        info = tarfile.TarInfo("t/c.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"c"))
    safe_extract(tpath, dest)
    assert (dest / "t" / "c.txt").read_bytes() == b"c"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "bad", ["../evil.txt", "top/../../evil.txt", "/tmp/evil_abs.txt", "C:/evil.txt", "..\\evil.txt"]
)
def test_zip_with_escaping_member_is_refused(tmp_path, bad):
    arc = _zip(tmp_path / "bad.zip", {"top/fine.txt": b"ok", bad: b"evil"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract(arc, dest)
    assert repr(bad) in str(err.value)
    assert leftovers(dest) == []  # checked before anything was written
    assert not (tmp_path / "deep" / "evil.txt").exists()
    assert not Path("/tmp/evil_abs.txt").exists()


def test_zip_symlink_and_tar_links_are_refused(tmp_path):
    arc = tmp_path / "link.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        info = zipfile.ZipInfo("top/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symlink"):
        safe_extract(arc, tmp_path / "out")
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        tpath = tmp_path / f"link{kind!r}.tar"
        with tarfile.open(tpath, "w") as tf:
            info = tarfile.TarInfo("top/link")
            info.type = kind
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        with pytest.raises(UnsafeArchiveError, match="link"):
            safe_extract(tpath, tmp_path / "out")
    tpath = tmp_path / "abs.tar"
    with tarfile.open(tpath, "w") as tf:
        info = tarfile.TarInfo("/abs.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(tpath, tmp_path / "out")
    assert leftovers(tmp_path / "out") == []


# --- registry -----------------------------------------------------------------------------


def test_shipped_registry_is_complete_and_valid():
    reg = load_registry()
    names = set(reg)
    assert {
        "kriegeskorte2008_stimuli",
        "kriegeskorte2008_brain_rdms",
        "kriegeskorte2008_model_rdms",
        "algonauts2019",
        "alexnet",
        "deepcluster",
    } <= names
    assert sum(n.startswith("taskonomy_") for n in names) == 18
    for res in reg.values():
        assert res.url or res.page, res.name
        assert res.description
        assert not Path(res.path).is_absolute()
    assert reg["algonauts2019"].extract_to
    assert reg["alexnet"].sha256_prefix == "7be5be79"
    assert reg["alexnet"].path.endswith("alexnet-owt-7be5be79.pth")
    for res in reg.values():  # Taskonomy: the hash in the file name is the registered hash
        if res.name.startswith("taskonomy_"):
            assert res.sha256 in res.url and res.sha256 in res.path


def test_registry_hashes_match_the_shared_readme():
    readme = SHARED / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} not present")
    text = readme.read_text()
    reg = load_registry()
    for key in (
        "kriegeskorte2008_stimuli",
        "kriegeskorte2008_brain_rdms",
        "kriegeskorte2008_model_rdms",
    ):
        res = reg[key]
        assert res.sha256 in text and str(res.size) in text
        real = SHARED / Path(res.path).name
        if real.is_file():  # the real files verify against the registry
            assert verify_file(real, res)["verified"]


def test_registry_validation_messages(tmp_path):
    path = tmp_path / "reg.yaml"
    cases = {
        "a: {url: ftp://x, path: a, description: d}": "http",
        "a: {url: null, path: ../a, description: d}": "relative path",
        "a: {url: null, path: a, description: d, sha256: abc}": "64 hex",
        "a: {url: null, path: a, description: d, colour: red}": "unknown keys",
        "a: {url: null, path: a, description: d}\nb: {url: null, path: a, description: e}": (
            "share the target path"
        ),
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_registry(path)


def test_cli_fetch_verify_extract_and_stamp(server, tmp_path, capsys):
    base, routes, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/data.txt", b"inside")
    zdata = buf.getvalue()
    routes["/thing.bin"] = ("ok", PAYLOAD)
    routes["/pack.zip"] = ("ok", zdata)
    reg = tmp_path / "registry.yaml"
    reg.write_text(
        yaml.safe_dump(
            {
                "thing": {
                    "url": f"{base}/thing.bin",
                    "path": "files/thing.bin",
                    "description": "t",
                    "sha256": sha(PAYLOAD),
                },
                "pack": {
                    "url": f"{base}/pack.zip",
                    "path": "files/pack.zip",
                    "description": "p",
                    "sha256": sha(zdata),
                    "extract_to": "files/pack",
                },
            }
        )
    )
    root = tmp_path / "root"
    stamp = root / ".verified" / "thing.json"
    common = ["--registry", str(reg), "--root", str(root)]
    assert dl.main([*common, "fetch", "thing", "--stamp", str(stamp)]) == 0
    record = json.loads(stamp.read_text())
    assert record["sha256"] == sha(PAYLOAD) and record["verified"]
    assert dl.main([*common, "verify", "thing"]) == 0
    assert dl.main([*common, "fetch", "pack"]) == 0
    assert dl.main([*common, "extract", "pack", "--stamp", str(root / "x.json")]) == 0
    assert (root / "files" / "pack" / "pack" / "data.txt").read_bytes() == b"inside"
    assert dl.main([*common, "list"]) == 0
    # errors: one line on stderr, exit status 1
    (root / "files" / "thing.bin").write_bytes(b"tampered")
    assert dl.main([*common, "verify", "thing"]) == 1
    assert "does not match" in capsys.readouterr().err
    assert dl.main([*common, "fetch", "nope"]) == 1


def test_module_runs_as_a_standalone_script(tmp_path):
    """The download rules call the file directly (no brainalign import needed)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-I", dl.__file__, "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "kriegeskorte2008_brain_rdms" in out.stdout


def test_warning_free_verification_for_known_hash(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(PAYLOAD)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = verify_file(f, resource(None))
    assert info == {
        "name": "thing",
        "path": str(f),
        "sha256": sha(PAYLOAD),
        "size": len(PAYLOAD),
        "verification": "sha256",
        "verified": True,
    }


# --- the Snakemake rules ------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "snakemake"


def _snakemake(workdir: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """The workflow's Snakefile (common.smk validates the config, then download.smk) in
    ``workdir``, with ``workdir/config.yaml``."""
    exe = SNAKEMAKE if SNAKEMAKE.exists() else Path(sys.executable).parent / "snakemake"
    return subprocess.run(
        [
            str(exe),
            "--cores",
            "1",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--nolock",
            *targets,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
    )


@pytest.mark.slow
def test_download_rules(server, tmp_path):
    """download.smk fetches and verifies registry files; pre-placed files are only verified."""
    base, routes, hits = server
    other = b"second file" * 100
    routes["/a.bin"] = ("ok", PAYLOAD)
    routes["/b.bin"] = ("ok", other)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Set/target.txt", b"inside")
    routes["/c.zip"] = ("ok", buf.getvalue())
    reg = tmp_path / "registry.yaml"
    reg.write_text(
        yaml.safe_dump(
            {
                "a": {
                    "url": f"{base}/a.bin",
                    "path": "data/g/a.bin",
                    "description": "a",
                    "sha256": sha(PAYLOAD),
                    "group": "g",
                },
                "b": {
                    "url": f"{base}/b.bin",
                    "path": "data/g/b.bin",
                    "description": "b",
                    "sha256": sha(other),
                    "group": "g",
                },
                "c": {
                    "url": f"{base}/c.zip",
                    "path": "data/g/c.zip",
                    "description": "an archive",
                    "sha256": sha(buf.getvalue()),
                    "extract_to": "data/g/c",
                    "group": "g",
                },
            }
        )
    )

    def write_config(**download):
        # the workflow runs only with a study block; only the download targets are built
        cfg = {"download": {"registry": str(reg), "root": "res", **download}, "truzzi2020": {}}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))

    write_config()
    # b is placed by hand: it must be verified, not downloaded
    placed = tmp_path / "res" / "data" / "g" / "b.bin"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(other)
    out = _snakemake(tmp_path, "res/.groups/g.done")
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "res" / "data" / "g" / "a.bin").read_bytes() == PAYLOAD
    assert hits == {"/a.bin": 1, "/c.zip": 1}
    assert (tmp_path / "res" / "data" / "g" / "c" / "Set" / "target.txt").read_bytes() == b"inside"
    record = json.loads((tmp_path / "res" / ".verified" / "data" / "g" / "b.bin.json").read_text())
    assert record["sha256"] == sha(other) and record["verified"]
    # a corrupted hand-placed file fails verification and is kept as it is
    (tmp_path / "res" / ".verified" / "data" / "g" / "b.bin.json").unlink()
    placed.write_bytes(b"corrupt")
    out = _snakemake(tmp_path, "res/.verified/data/g/b.bin.json")
    assert out.returncode != 0
    log = (tmp_path / "res" / ".logs" / "verify" / "data" / "g" / "b.bin.log").read_text()
    assert "does not match" in log and str(placed) in log
    assert placed.read_bytes() == b"corrupt"
    # offline with a missing file: one clear error naming the URL and the path
    write_config(offline=True)
    (tmp_path / "res" / "data" / "g" / "a.bin").unlink()
    out = _snakemake(tmp_path, "res/data/g/a.bin")
    assert out.returncode != 0
    log = (tmp_path / "res" / ".logs" / "download" / "data" / "g" / "a.bin.log").read_text()
    assert f"{base}/a.bin" in log
    assert str((tmp_path / "res" / "data" / "g" / "a.bin").resolve()) in log
    assert hits == {"/a.bin": 1, "/c.zip": 1}


def test_rule_helper_paths_and_patterns(tmp_path):
    import re

    helper = dl.RuleHelper(
        DEFAULT_REGISTRY, root="resources/", urls={"algonauts2019": "https://m/x.zip"}
    )
    assert helper.path("kriegeskorte2008_brain_rdms") == (
        "resources/data/kriegeskorte2008/92_brainRDMs.mat"
    )
    assert helper.inputs("alexnet") == [
        "resources/weights/alexnet-owt-7be5be79.pth",
        "resources/.verified/weights/alexnet-owt-7be5be79.pth.json",
    ]
    assert re.fullmatch(helper.path_pattern, "data/kriegeskorte2008/92_brainRDMs.mat")
    assert not re.fullmatch(helper.path_pattern, ".verified/data/kriegeskorte2008/x.json")
    assert re.fullmatch(helper.archive_pattern, "algonauts2019")
    assert set(helper.groups) == {
        "kriegeskorte2008", "algonauts2019", "weights", "taskonomy", "kay2008",
        "torchvision_classifiers", "torchvision_video", "nsd",
    }  # fmt: skip
    assert "resources/.extracted/algonauts2019.json" in helper.group_inputs("algonauts2019")
    assert len(helper.group_inputs("kriegeskorte2008")) == 6
    assert helper.url_option("algonauts2019") == "--url https://m/x.zip"
    assert helper.url_option("alexnet") == ""
    assert helper.records_for(
        [
            "resources/weights/alexnet-owt-7be5be79.pth",
            "resources/data/kriegeskorte2008/92_brainRDMs.mat",
            "resources/data/elsewhere.mat",
            "/abs/path.pth",
        ]
    ) == [
        "resources/.verified/weights/alexnet-owt-7be5be79.pth.json",
        "resources/.verified/data/kriegeskorte2008/92_brainRDMs.mat.json",
    ]
    assert dl.RuleHelper.root_of("/w/resources/data/a.mat", "data/a.mat") == "/w/resources"
    with pytest.raises(ValueError):
        dl.RuleHelper.root_of("/w/other.mat", "data/a.mat")
    with pytest.raises(KeyError, match="no resource 'nope'"):
        helper.path("nope")
