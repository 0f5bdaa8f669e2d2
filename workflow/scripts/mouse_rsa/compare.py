"""tau-a of every model layer with the brain RDMs of every area x depth (one stimulus): mean
over the half-trial RDMs, Mantel p, FDR across layers, noise-corrected values, family
differences."""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.io import read_npz, read_table, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.mouse_rsa.analysis import compare_layers, family_differences

with rule_context(snakemake) as log:
    p = snakemake.params
    stimulus = snakemake.wildcards.mr_stimulus
    brain = read_npz(snakemake.input.brain)
    ceil = read_table(snakemake.input.ceilings)
    models = {}
    for path in snakemake.input.models:
        run = re.fullmatch(r"model_(.+)\.npz", Path(path).name).group(1)
        layers = {k.split("__", 1)[1]: v for k, v in read_npz(path).items()
                  if k.startswith(f"{stimulus}__")}  # fmt: skip
        models[run] = layers
    tables, fam_rows = [], []
    for key in sorted({k.rsplit("__", 1)[0] for k in brain}):
        area, depth = key.rsplit("_", 1)
        boot, full = brain[f"{key}__boot"], brain[f"{key}__full"]
        c = ceil[(ceil["area"] == area) & (ceil["depth"] == int(depth))]
        med = {v: float(g["value"].median()) for v, g in c.groupby("variant")}
        draws: dict[str, list] = {}
        for run, layers in models.items():
            model, _, seed = run.rpartition("_seed-") if "_seed-" in run else (run, "", "0")
            t, d = compare_layers(layers, boot, full, n_permutations=p.rsa["n_permutations"],
                                  seed=derive_seed(p.seed, key), alpha=p.rsa["alpha"])  # fmt: skip
            t.insert(0, "model_seed", int(seed))
            t.insert(0, "model", model)
            for name, spec in p.families.items():
                if spec["model"] == model:
                    keep = t["layer"].isin(spec["layers"]).to_numpy()
                    draws.setdefault(name, []).append(d[keep])
            tables.append(t.assign(area=area, depth=int(depth), stimulus=stimulus))
        fam = family_differences({k: np.concatenate(v) for k, v in draws.items()},
                                 p.family_pairs, ci=p.rsa["ci"])  # fmt: skip
        fam_rows.append(fam.assign(area=area, depth=int(depth), stimulus=stimulus))
        for t in tables[-len(models) :]:
            t["ceiling_median_faithful"] = med.get("faithful", np.nan)
            t["ceiling_median_corrected"] = med.get("corrected", np.nan)
            t["value_nc"] = t["value"] / med.get(p.variant, np.nan)
        log.info("%s: %d model runs, ceiling median %.3f", key, len(models), med["faithful"])
    table = pd.concat(tables, ignore_index=True)
    table.insert(0, "statistic", "tau_a")
    lead = ["area", "depth", "stimulus", "model", "model_seed", "layer", "layer_index"]
    table = table[lead + [c for c in table.columns if c not in lead]]
    prov = rule_provenance(snakemake.config, [snakemake.input.brain], p.seed)
    write_table(with_provenance(table, prov), snakemake.output.comparison)
    write_table(with_provenance(pd.concat(fam_rows, ignore_index=True), prov),
                snakemake.output.families)  # fmt: skip
