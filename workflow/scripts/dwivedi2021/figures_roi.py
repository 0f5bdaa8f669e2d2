"""ROI bar charts: top-3 models (Fig. 2b) and model groups (Fig. 3b)."""

import pandas as pd

from brainalign import maps as bm
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.dwivedi2021.figures import plot_roi_grouped, plot_roi_top3

with rule_context(snakemake) as log:
    p = snakemake.params
    mp = dict(p.models)
    t = pd.read_csv(snakemake.input.table)
    rois = list(p.rois) if p.rois else list(dict.fromkeys(t["roi"]))
    for key, col, out, colours in (
        ("top3", "model", snakemake.output.top3,
         bm.model_colours(mp["names"], {m: mp["groups"].get(m, "other") for m in mp["names"]})),
        ("grouped", "group", snakemake.output.grouped, bm.group_colours(mp["group_order"])),
    ):  # fmt: skip
        sub = t[(t["analysis"] == key)]
        bars = sub[sub["statistic"] == "unique_r2adj"].copy()
        tot = sub[sub["statistic"] == "total_r2adj"].set_index("roi")["value"]
        bars["unique_r2adj"] = bars["value"]
        bars["total_r2adj"] = bars["roi"].map(tot)
        pairs = t[t["analysis"] == f"{key}_pairwise"].rename(
            columns={col: "item_1", f"{col}_2": "item_2"}
        )
        order = [r for r in rois if r in set(bars["roi"])]
        plot = plot_roi_top3 if key == "top3" else plot_roi_grouped
        plot(bars, out, colours=colours, pairs=pairs, alpha=p.alpha, roi_order=order)
        log.info("wrote %s (%d ROIs)", out, len(order))
