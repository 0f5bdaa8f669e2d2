"""Interactive surface maps (HTML) and static PNGs of the best-model and best-group maps."""

import nibabel as nib
import numpy as np
import pandas as pd

from brainalign import maps as bm
from brainalign.pipeline.rulekit import rule_context


def legend(path, item):
    df = pd.read_csv(path)
    df = df[df["code"] >= 2].sort_values("code")
    cols = [tuple(int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)) for h in df["colour"]]
    return list(df[item]), cols


with rule_context(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    study = snakemake.params.study
    names, cols = legend(inp.ind_legend, "model")
    img = nib.load(inp.ind_best)
    bm.interactive_label_map(img, names, cols, out.ind_html,
                             title=f"{study}: best individual model")  # fmt: skip
    bm.static_label_png(img, names, cols, out.ind_png, title=f"{study}: best individual model")
    gnames, gcols = legend(inp.grp_legend, "group")
    gimg = nib.load(inp.grp_best)
    title = f"{study}: model group with the largest unique variance"
    bm.interactive_label_map(gimg, gnames, gcols, out.grp_html, title=title)
    bm.static_label_png(gimg, gnames, gcols, out.grp_png, title=f"{study}: best model group")
    r2 = nib.load(inp.ind_r2adj)
    best_r2 = np.nanmax(np.nan_to_num(np.asarray(r2.dataobj), nan=0.0), axis=3)
    bm.static_stat_png(nib.Nifti1Image(best_r2.astype(np.float32), r2.affine), out.ind_glass,
                       title=f"{study}: adjusted R² of the best model", kind="glass")  # fmt: skip
    title = f"{study}: total adjusted R² of the model groups"
    bm.static_stat_png(nib.load(inp.grp_total), out.grp_stat, title=title, kind="stat")
    log.info("wrote %s and %s", out.ind_html, out.grp_html)
