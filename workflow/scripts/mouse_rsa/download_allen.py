"""Fetch the Allen Brain Observatory experiments of mouse_rsa with the AllenSDK, and list them.

Runs in the AllenSDK's own environment (allensdk 2.16.2 pins numpy 1.23): the rule's
``envs/allensdk.yaml`` under ``--use-conda``, or the venv ``make .venv-allensdk/.installed``
builds::

    .venv-allensdk/bin/python workflow/scripts/mouse_rsa/download_allen.py \\
        --manifest resources/data/allen_brain_observatory/manifest.json \\
        --areas VISp VISl VISal VISpm VISam --depths 175 275 --cre-line Cux2-CreERT2 \\
        --stimuli natural_scenes natural_movie_one --out allen_listing.json [--offline]

Selection as the original (methods §5.1): per area and depth
``get_experiment_containers(cre_lines=[cre], targeted_structures=[area], imaging_depths=[depth])``,
per container and stimulus ``get_ophys_experiments(experiment_container_ids=[id],
stimuli=[stimulus])``; for each experiment the NWB file and the L0 events are downloaded
(``ophys_experiment_data/<id>.nwb``, ~400 MB each; ``ophys_experiment_events/<id>_events.npz``)
into a temporary ``.part`` file moved into place when complete, then opened with
``get_ophys_experiment_data`` and ``get_ophys_experiment_events``. Files already in the cache are
used as they are. The listing (JSON) names every selected experiment: area, depth, stimulus,
container_id, experiment_id, session_type, nwb, events, n_cells, n_frames.

``--offline`` (or a network failure) never contacts the API: everything must be in the cache.
The SDK asks the API for the eye-tracking file list on every ``get_ophys_experiments`` call, even
with a complete cache; only ``fail_eye_tracking`` depends on it (unused here), so that query
falls back to an empty list offline. Without network, the script stops with one message naming
what it tried to reach and where to put a pre-downloaded cache.

Imports only the standard library at module level (allensdk inside the functions), so
``sdk_dump.py`` and the tests can import it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import tempfile
import urllib.error
from pathlib import Path

API = "http://api.brain-map.org"
CACHE_LAYOUT = (
    "manifest.json, experiment_containers.json, ophys_experiments.json, "
    "ophys_experiment_data/<id>.nwb and ophys_experiment_events/<id>_events.npz"
)
_LOG = logging.getLogger("download_allen")


class Unreachable(RuntimeError):
    """The Allen API cannot be reached, or an offline cache lacks a file."""


def _network_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (
        requests.exceptions.RequestException,
        urllib.error.URLError,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        socket.timeout,
    )


def _advice(manifest: Path) -> str:
    return (
        f"Without internet, place a complete pre-downloaded BrainObservatoryCache in "
        f"{manifest.resolve().parent} ({CACHE_LAYOUT}, the manifest named {manifest.name}) "
        "and rerun with --offline"
    )


def open_cache(manifest: str | os.PathLike, offline: bool):
    """``BrainObservatoryCache(manifest_file=manifest)`` whose eye-tracking query cannot fail."""
    from allensdk.core.brain_observatory_cache import BrainObservatoryCache

    boc = BrainObservatoryCache(manifest_file=str(manifest))
    query, errors = boc.api.template_query, _network_errors()

    def template_query(group, name, *args, **kwargs):
        if name == "all_eye_mapping_files":
            if offline:
                return []
            try:
                return query(group, name, *args, **kwargs)
            except errors as exc:
                _LOG.warning("eye-tracking file list unreachable (%s); not used here", exc)
                return []
        return query(group, name, *args, **kwargs)

    boc.api.template_query = template_query
    return boc


def _reach(what: str, manifest: Path, call):
    try:
        return call()
    except _network_errors() as exc:
        raise Unreachable(
            f"cannot reach the Allen Brain Observatory API ({API}) to fetch {what}: "
            f"{type(exc).__name__}: {exc}. {_advice(manifest)}"
        ) from exc


def _missing(what: str, path: str, manifest: Path) -> Unreachable:
    return Unreachable(
        f"offline, and {what} is not in the cache: expected {path}. {_advice(manifest)}"
    )


def _lists(boc, manifest: Path, offline: bool) -> None:
    """Fetch the two JSON lists (atomically) unless cached."""
    for key, getter, what in (
        ("EXPERIMENT_CONTAINERS", boc.get_experiment_containers, "the experiment container list"),
        ("EXPERIMENTS", boc.get_ophys_experiments, "the ophys experiment list"),
    ):
        path = boc.get_cache_path(None, key)
        if os.path.exists(path):
            continue
        if offline:
            raise _missing(what, path, manifest)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", dir=Path(path).parent)
        os.close(fd)
        os.unlink(tmp)
        try:
            _reach(f"{what} ({Path(path).name})", manifest, lambda g=getter, t=tmp: g(file_name=t))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def select(boc, manifest: Path, areas, depths, cre_line: str, stimuli, offline: bool) -> list:
    """The experiments of each area × depth × stimulus (SDK calls, the original's loops)."""
    _lists(boc, manifest, offline)
    rows = []
    for area in areas:
        for depth in depths:
            containers = boc.get_experiment_containers(
                cre_lines=[cre_line], targeted_structures=[area], imaging_depths=[int(depth)]
            )
            for container in containers:
                for stimulus in stimuli:
                    exps = boc.get_ophys_experiments(
                        experiment_container_ids=[container["id"]], stimuli=[stimulus]
                    )
                    rows += [
                        {
                            "area": area,
                            "depth": int(depth),
                            "stimulus": stimulus,
                            "container_id": int(container["id"]),
                            "experiment_id": int(e["id"]),
                            "session_type": e["session_type"],
                            "nwb": boc.get_cache_path(None, "EXPERIMENT_DATA", int(e["id"])),
                            "events": boc.get_cache_path(None, "EVENTS_DATA", int(e["id"])),
                        }
                        for e in exps
                    ]
    return rows


def _download(boc, manifest: Path, row: dict, offline: bool) -> None:
    eid = row["experiment_id"]
    for key, save, what in (
        ("nwb", boc.api.save_ophys_experiment_data, f"the NWB file of experiment {eid}"),
        ("events", boc.api.save_ophys_experiment_event_data, f"the events of experiment {eid}"),
    ):
        path = row[key]
        if os.path.exists(path):
            continue
        if offline:
            raise _missing(what, path, manifest)
        part = f"{path}.part"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            _reach(what, manifest, lambda s=save, p=part: s(eid, p, strategy="create"))
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.unlink(part)


def fetch(boc, manifest: Path, rows: list, offline: bool) -> list:
    """Download (unless cached) and open each experiment's NWB and events; add their sizes."""
    for row in rows:
        _download(boc, manifest, row, offline)
        data = boc.get_ophys_experiment_data(row["experiment_id"])
        events = boc.get_ophys_experiment_events(row["experiment_id"])
        row.update(n_cells=int(events.shape[0]), n_frames=int(events.shape[1]))
        if data.get_session_type() != row["session_type"]:
            raise RuntimeError(
                f"{row['nwb']}: session type {data.get_session_type()!r}, the experiment list "
                f"says {row['session_type']!r}"
            )
    return rows


def write_listing(path: str | os.PathLike, manifest: Path, cre_line: str, rows: list) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    listing = {"manifest": str(manifest.resolve()), "cre_line": cre_line, "experiments": rows}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(listing, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def run(manifest, areas, depths, cre_line, stimuli, out, offline=False) -> list:
    """Select, fetch and list; raises :class:`Unreachable` with one message when offline."""
    manifest = Path(manifest)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    boc = open_cache(manifest, offline)
    rows = select(boc, manifest, areas, depths, cre_line, stimuli, offline)
    if not rows:
        raise RuntimeError(f"no {cre_line} experiment for {list(areas)} x {list(depths)}")
    fetch(boc, manifest, rows, offline)
    write_listing(out, manifest, cre_line, rows)
    return rows


def _words(value) -> list[str]:
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _arguments(argv=None) -> argparse.Namespace:
    if "snakemake" in globals():  # Snakemake `script:` directive
        p = snakemake.params
        return argparse.Namespace(
            manifest=p.manifest,
            areas=_words(p.areas),
            depths=[int(d) for d in _words(p.depths)],
            cre_line=p.cre_line,
            stimuli=_words(p.stimuli),
            out=snakemake.output[0],
            offline=bool(getattr(p, "offline", False)),
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True, help="the cache's manifest JSON")
    parser.add_argument("--areas", nargs="+", default=["VISp", "VISl", "VISal", "VISpm", "VISam"])
    parser.add_argument("--depths", nargs="+", type=int, default=[175, 275])
    parser.add_argument("--cre-line", default="Cux2-CreERT2")
    parser.add_argument("--stimuli", nargs="+", default=["natural_scenes", "natural_movie_one"])
    parser.add_argument("--out", required=True, help="the listing JSON to write")
    parser.add_argument("--offline", action="store_true", help="use the cache only")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _arguments(argv)
    try:
        rows = run(
            args.manifest,
            args.areas,
            args.depths,
            args.cre_line,
            args.stimuli,
            args.out,
            offline=args.offline,
        )
    except Unreachable as exc:
        print(f"download_allen: {exc}", file=sys.stderr)
        return 2
    _LOG.info("%d experiments listed in %s", len(rows), args.out)
    return 0


if __name__ == "__main__" or "snakemake" in globals():
    code = main()
    if code:
        sys.exit(code)
