"""ROI analyses: individual models (ranked), top-k variance partitioning, model groups."""

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign import searchlight
from brainalign.data import fmaps_files as fmaps_io
from brainalign.io import write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.condensed import n_conditions_from_pairs
from brainalign.studies.dwivedi2021 import roi as inference
from brainalign.studies.dwivedi2021.design import PAPER_ROIS

with rule_context(snakemake) as log:
    p = snakemake.params
    mp = dict(p.models)
    if p.source == "precomputed":
        names = [Path(f).stem for f in snakemake.input.rois]
        paper_order = [r for r in PAPER_ROIS if r in names]
        order = list(p.rois) if p.rois else paper_order or names
        roi_dir = Path(snakemake.input.rois[0]).parent
        roi_rdms = fmaps_io.load_roi_rdms(roi_dir, order)
    else:
        if p.source == "simulated":
            data = Path(snakemake.input.data)
            subs = sorted(data.glob("sub-*_conditions.nii.gz"))
            atlas, table = data / "rois.nii.gz", data / "rois.tsv"
        else:
            subs, atlas, table = (
                snakemake.input.subjects,
                snakemake.input.atlas,
                snakemake.input.table,
            )
        vols, mimg = fmaps_io.load_volumes(subs)
        lab = fmaps_io.load_label_image(atlas, mimg, subs[0])
        ids = pd.read_csv(table, sep="\t")
        id_of = dict(zip(ids["roi"], ids["id"], strict=True))
        order = list(p.rois) if p.rois else list(ids["roi"])
        unknown = [r for r in order if r not in id_of]
        if unknown:
            raise ValueError(f"ROI {unknown[0]!r} is not in {table}")
        mask = np.all([np.all(np.isfinite(v), axis=3) for v in vols], axis=0) & (lab > 0)
        nbh = searchlight.label_neighbourhoods(mask, lab, [id_of[r] for r in order])
        per_sub = [searchlight.searchlight_rdms(v, mask, neighbourhoods=nbh, dtype=np.float64)
                   for v in vols]  # fmt: skip
        roi_rdms = {r: np.stack([s[k] for s in per_sub]) for k, r in enumerate(order)}
    n_conditions = n_conditions_from_pairs(next(iter(roi_rdms.values())).shape[-1])
    models = fmaps_io.load_model_rdms(
        mp["dir"], mp["names"], mp["layers"], n_conditions=n_conditions
    )
    log.info("%d ROIs, %d models, %d permutations, %d bootstraps", len(roi_rdms), len(models),
             p.n_permutations, p.n_bootstrap)  # fmt: skip
    res = inference.roi_analysis(
        roi_rdms, models, mp["groups"], group_order=mp["group_order"], top_k=p.top_k,
        n_permutations=p.n_permutations, n_bootstrap=p.n_bootstrap,
        bootstrap_ratio=p.bootstrap_ratio, scheme=p.scheme, seed=p.seed,
        alpha=p.alpha, ceiling_statistic=p.ceiling_statistic, mode=p.mode,
    )  # fmt: skip
    study = snakemake.wildcards.study
    subj = inference.subject_level_models(
        roi_rdms, models, alpha=p.alpha, mode=p.mode, n_permutations=p.n_permutations,
        scheme=p.scheme, seed=p.seed,
    )  # fmt: skip
    # group test per model: the original's t-test (faithful) or a label permutation (corrected)
    test = "individual_ttest" if p.mode == "faithful" else "individual_permutation"
    subj["analysis"] = np.where(subj["subject"].notna(), "individual_per_subject", test)
    parts = [subj]
    ind = res["individual"].assign(analysis="individual")
    parts.append(ind)
    for key, col in (("top3", "model"), ("grouped", "group")):
        df = res[key]
        if df.empty:
            continue
        long = df.rename(columns={"unique_r2adj": "value"}).assign(
            analysis=key, statistic="unique_r2adj"
        )
        tot = df.groupby("roi", sort=False)["total_r2adj"].first().reset_index()
        tot = tot.rename(columns={"total_r2adj": "value"}).assign(
            analysis=key, statistic="total_r2adj", **{col: "all"}
        )
        pairs = res[f"{key}_pairs"].rename(columns={"item_1": col, "item_2": f"{col}_2"})
        pairs = pairs.assign(analysis=f"{key}_pairwise", statistic="difference_unique_r2adj")
        parts += [long.drop(columns=["total_r2adj"]), tot, pairs]
    nc = res["ceiling"].melt(id_vars="roi", var_name="statistic", value_name="value")
    nc["statistic"] = "noise_ceiling_" + nc["statistic"]
    parts.append(nc.assign(analysis="noise_ceiling"))
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "study", study)
    # error bars: bootstrap SE (corrected) or the original's SD over subsamples (faithful)
    err = "sd" if p.mode == "faithful" else "se"
    cols = ["study", "roi", "analysis", "subject", "model", "model_2", "group", "group_2",
            "statistic", "value", err, "rank", "t", "p", "p_fdr"]  # fmt: skip
    for col in cols:
        if col not in out:
            out[col] = np.nan
    out["scheme"] = p.scheme
    out["n_permutations"] = p.n_permutations
    out["n_bootstrap"] = p.n_bootstrap
    out["subject"] = out["subject"].astype("Int64")  # integer labels, not 1.0, 2.0, ...
    out = out[cols + ["scheme", "n_permutations", "n_bootstrap"]]
    provenance = rule_provenance(snakemake.config, snakemake.input, p.seed)
    write_table(with_provenance(out, provenance), snakemake.output.table)
