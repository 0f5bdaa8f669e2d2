"""Heatmap of the subject-mean brain RDM of every region."""

from brainalign.io.files import read_npz
from brainalign.maps.figures import plot_rdm_grid, save_figure
from brainalign.pipeline.provenance import provenance_fields
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    data = read_npz(snakemake.input[0])
    outputs = iter(snakemake.output)
    prov = provenance_fields(snakemake.config, str(data["dataset_sha256"]))
    for region in p.regions:
        rdms = data[f"rdm_{region}"]
        fig = plot_rdm_grid(
            [rdms.mean(axis=0)],
            [f"{region}, mean of {len(rdms)} subjects"],
            f"{region} RDM",
            ncols=1,
        )
        save_figure(fig, [next(outputs) for _ in p.formats], prov)
