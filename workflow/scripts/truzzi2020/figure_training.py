"""Training curves: loss, validation accuracy and DeepCluster's NMI per epoch."""

from brainalign.io.files import read_table
from brainalign.maps.figures import save_figure
from brainalign.pipeline.provenance import PROVENANCE_COLUMNS
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.truzzi2020.figures import plot_training_curves

with rule_context(snakemake) as log:
    table = read_table(snakemake.input[0])
    fig = plot_training_curves(table, context=snakemake.params.context)
    prov = {k: str(table[k].iloc[0]) for k in PROVENANCE_COLUMNS if k in table}
    save_figure(fig, snakemake.output, prov)
