"""Figures of the GNet encoding study: scatter, transfer, tuning (and the preferred layer
groups), ceiling, training curves."""

from pathlib import Path

import pandas as pd

from brainalign.io import read_table
from brainalign.maps.figures import save_figure
from brainalign.pipeline.provenance import rule_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import figures as F

with rule_context(snakemake) as log:
    p = snakemake.params
    accuracy = read_table(snakemake.input.accuracy)
    summary = read_table(snakemake.input.summary)
    tuning = read_table(snakemake.input.tuning)
    history = read_table(snakemake.input.history)
    prov = rule_provenance(snakemake.config, [snakemake.input.accuracy])
    outdir = Path(snakemake.output[0]).parent

    def save(fig, stem):
        save_figure(fig, [outdir / f"{stem}.{ext}" for ext in p.formats], prov)

    save(F.plot_model_scatter(accuracy), "scatter_gnet8j_vs_gnet8r")
    transfer_path = snakemake.input.get("transfer")
    if transfer_path:
        transfer = read_table(transfer_path)
        asym_path = snakemake.input.get("asymmetry")
        asymmetry = read_table(asym_path) if asym_path else pd.DataFrame(columns=["subject"])
        for subject in ["all", *p.subjects]:
            rows = asymmetry[asymmetry["subject"] == subject]
            alpha_row = rows.iloc[0] if len(rows) else None
            save(F.plot_transfer_matrix(transfer, subject, alpha_row), f"transfer_{subject}")
    for partition in ("layerwise", "bipartite"):
        save(F.plot_tuning(tuning, partition), f"tuning_{partition}")
    save(F.plot_preferred_layers(tuning), "tuning_preferred")
    save(F.plot_accuracy_vs_ceiling(summary), "accuracy_vs_ceiling")
    save(F.plot_training_curves(history), "training_curves")
    log.info("figures written to %s", outdir)
