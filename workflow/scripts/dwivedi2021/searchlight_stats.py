"""Searchlight statistics (individual models or model groups), FDR, label maps and table."""

import sys

import nibabel as nib
import numpy as np
import pandas as pd

from brainalign import maps as bm
from brainalign import searchlight
from brainalign.data import fmaps_files as fmaps_io
from brainalign.io import read_table, write_table
from brainalign.pipeline.config import significance_floor
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.condensed import n_conditions_from_pairs
from brainalign.studies.dwivedi2021 import analysis as inference

with rule_context(snakemake) as log:
    p = snakemake.params
    out = snakemake.output
    slp, mp = dict(p.neighbourhood), dict(p.models)
    mean = np.load(snakemake.input.rdms)
    ceiling = read_table(snakemake.input.ceiling)
    mimg = nib.load(snakemake.input.mask)
    mask = np.asarray(mimg.dataobj) > 0
    if slp["kind"] == "blocks":
        nbh = searchlight.block_neighbourhoods(mask, slp["sl_rad"], slp["max_blk_edge"])
    else:
        nbh = searchlight.sphere_neighbourhoods(mask, slp["radius"])
    if nbh.n_centres != mean.shape[0]:
        raise ValueError(f"{mean.shape[0]} RDMs but {nbh.n_centres} searchlights")
    models = fmaps_io.load_model_rdms(
        mp["dir"], mp["names"], mp["layers"], n_conditions=n_conditions_from_pairs(mean.shape[1])
    )
    groups = dict(mp["groups"])
    if p.analysis == "individual":
        sets = models
        names = list(models)
        colours = bm.model_colours(names, {m: groups.get(m, "other") for m in names})
        item = "model"
    else:
        sets = inference.group_rdms(models, groups, mp["group_order"], mode=p.mode)
        names = list(sets)
        colours = bm.group_colours(names)
        item = "group"
    log.info("%s analysis: %d %ss, %d permutations (%s)", p.analysis, len(names), item,
             p.n_permutations, p.scheme)  # fmt: skip
    res = inference.searchlight_tests(
        mean, ceiling["lower"].to_numpy(), sets, analysis=p.analysis,
        nc_threshold=p.nc_threshold, n_permutations=p.n_permutations,
        scheme=p.scheme, seed=p.seed, alpha=p.alpha, mode=p.mode,
    )  # fmt: skip
    labels = res["labels"]
    log.info(
        "kept %d searchlights; significant %d", int(res["keep"].sum()), int((labels >= 0).sum())
    )
    # Too few permutations for the FDR over the kept searchlights: a map left grey says why in the
    # log and on the console (sys.__stderr__: rule_context sends stderr to the log).
    n_kept = int(res["keep"].sum())
    floor = significance_floor(p.n_permutations, p.alpha, n_kept) if n_kept else None
    if floor and not (labels >= 0).any():
        where = f"study {snakemake.wildcards.study}, {p.analysis} map"
        note = f"{where}: no searchlight is significant; {floor}"
        log.warning("%s", note)
        print(f"brainalign: WARNING: rule {snakemake.rule}: {note}", file=sys.__stderr__)
    elif floor:
        log.info("note: %s", floor)
    # maps
    stat_img = bm.values_image(res["statistic"], nbh, mimg)
    bm.save_nifti(stat_img, out.r2adj if p.analysis == "individual" else out.unique)
    if p.analysis != "individual":
        bm.save_nifti(bm.values_image(res["total"], nbh, mimg), out.total)
    bm.save_nifti(bm.label_image(labels, nbh, mimg, mask), out.best)
    sig = np.where(labels >= 0, 1.0, 0.0)
    sig_img = bm.values_image(sig, nbh, mimg, fill=0.0)
    bm.save_nifti(nib.Nifti1Image(np.asarray(sig_img.dataobj).astype(np.int8), mimg.affine),
                  out.significant)  # fmt: skip
    legend = pd.DataFrame({
        "code": [0, 1] + [k + 2 for k in range(len(names))],
        item: ["no data", "not significant"] + names,
        "group": ["", ""] + [groups.get(n, "other") if item == "model" else n for n in names],
        "colour": ["#ffffff", "#cccccc"] + [
            "#" + "".join(f"{int(round(255 * c)):02x}" for c in colours[n][:3]) for n in names
        ],
    })  # fmt: skip
    write_table(legend, out.legend)
    # long table: kept searchlights x models/groups
    keep = np.flatnonzero(res["keep"])
    K = len(names)
    c = nbh.centres[keep]
    xyz = c @ mimg.affine[:3, :3].T + mimg.affine[:3, 3]
    stat_name = "r2adj_clipped" if p.analysis == "individual" else "unique_r2adj"
    table = pd.DataFrame({
        "study": snakemake.wildcards.study,
        "analysis": p.analysis,
        "centre": np.repeat(keep, K),
        "i": np.repeat(c[:, 0], K), "j": np.repeat(c[:, 1], K), "k": np.repeat(c[:, 2], K),
        "x_mm": np.repeat(xyz[:, 0], K), "y_mm": np.repeat(xyz[:, 1], K),
        "z_mm": np.repeat(xyz[:, 2], K),
        item: np.tile(names, keep.size),
        "statistic": stat_name,
        "value": res["statistic"][keep].ravel(),
        "p": res["p"][keep].ravel(),
        "p_fdr_within": res["p_within"][keep].ravel(),
        "p_fdr": res["p_across"][keep].ravel(),
        "best": (np.argmax(np.nan_to_num(res["statistic"][keep], nan=-np.inf), axis=1)[:, None]
                 == np.arange(K)[None, :]).ravel(),
        "significant_label": np.repeat(np.where(labels[keep] >= 0,
                                                np.array(names + [""])[labels[keep]], ""), K),
        "scheme": p.scheme, "n_permutations": p.n_permutations,
    })  # fmt: skip
    if item == "model":
        table.insert(table.columns.get_loc("model") + 1, "group",
                     [groups.get(m, "other") for m in table["model"]])  # fmt: skip
    else:
        table["total_r2adj"] = np.repeat(res["total"][keep], K)
        table["p_diff_max_fdr"] = np.repeat(res["p_diff_max_across"][keep], K)
    provenance = rule_provenance(snakemake.config, snakemake.input, p.seed)
    write_table(with_provenance(table, provenance), out.table)
