"""Heatmaps of the 7 layer RDMs of one condition."""

from brainalign.io.files import read_npz
from brainalign.maps.figures import plot_rdm_grid, save_figure
from brainalign.pipeline.provenance import provenance_fields
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    data = read_npz(snakemake.input[0])
    titles = [str(x) for x in data["layer_names"]]
    fig = plot_rdm_grid(list(data["rdms"]), titles, snakemake.wildcards.condition)
    prov = provenance_fields(snakemake.config, str(data["dataset_sha256"]))
    save_figure(fig, snakemake.output, prov)
