"""Dump what the AllenSDK itself reads from a cache, for the cross-check of the project's reader.

Runs with the AllenSDK (``.venv-allensdk/bin/python``; ``tests/studies/mouse_rsa/
test_allen_sdk.py``), offline::

    sdk_dump.py --manifest CACHE/manifest.json --areas VISp VISam --depths 175 \\
        --cre-line Cux2-CreERT2 --stimuli natural_scenes natural_movie_one --out DUMP_DIR

Selection through ``download_allen.select`` (``get_experiment_containers`` and
``get_ophys_experiments``), then per selected experiment and stimulus, with the SDK only:
``get_ophys_experiment_data(id)`` -> ``get_stimulus_table(stimulus)``,
``get_stimulus_template(stimulus)``, ``get_cell_specimen_ids()``, ``get_session_type()``,
``get_dff_traces()``; ``get_ophys_experiment_events(id)``. Writes ``DUMP_DIR/listing.json``
(the rows, the simple container records, each experiment's metadata) and
``DUMP_DIR/<experiment id>_<stimulus>.npz`` (``index``, ``frame``, ``start``, ``end``[, ``repeat``]
columns of the table, ``template``, ``cell_ids``, ``events``, ``dff_shape``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import download_allen  # noqa: E402 - the sibling script, after its folder is on the path


def _dump_experiment(boc, row: dict, out: Path) -> dict:
    import numpy as np

    data = boc.get_ophys_experiment_data(row["experiment_id"])
    table = data.get_stimulus_table(row["stimulus"])
    arrays = {col: table[col].to_numpy() for col in table.columns}
    arrays["index"] = table.index.to_numpy()
    arrays["template"] = data.get_stimulus_template(row["stimulus"])
    arrays["cell_ids"] = np.asarray(data.get_cell_specimen_ids())
    arrays["events"] = boc.get_ophys_experiment_events(row["experiment_id"])
    timestamps, dff = data.get_dff_traces()
    arrays["dff_shape"] = np.array([*dff.shape, timestamps.shape[0]])
    np.savez(out / f"{row['experiment_id']}_{row['stimulus']}.npz", **arrays)
    meta = data.get_metadata()
    keep = ("targeted_structure", "imaging_depth_um", "cre_line", "ophys_experiment_id")
    return {
        **row,
        "sdk_session_type": data.get_session_type(),
        "columns": list(table.columns),
        "metadata": {k: meta.get(k) for k in keep + ("experiment_container_id",)},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--areas", nargs="+", required=True)
    parser.add_argument("--depths", nargs="+", type=int, required=True)
    parser.add_argument("--cre-line", default="Cux2-CreERT2")
    parser.add_argument("--stimuli", nargs="+", default=["natural_scenes", "natural_movie_one"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Path(args.manifest)
    boc = download_allen.open_cache(manifest, offline=True)
    rows = download_allen.select(
        boc, manifest, args.areas, args.depths, args.cre_line, args.stimuli, offline=True
    )
    dumped = [_dump_experiment(boc, row, out) for row in rows]
    containers = boc.get_experiment_containers(cre_lines=[args.cre_line])
    listing = {"experiments": dumped, "containers": containers}
    (out / "listing.json").write_text(json.dumps(listing, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
