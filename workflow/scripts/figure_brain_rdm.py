"""Heatmap of the subject-mean brain RDM of every region."""

from brainalign.figures import plot_rdm_grid, save_figure
from brainalign.io import read_npz
from brainalign.provenance import provenance_fields
from brainalign.rulekit import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    p = snakemake.params  # noqa: F821
    data = read_npz(snakemake.input[0])  # noqa: F821
    outputs = iter(snakemake.output)  # noqa: F821
    prov = provenance_fields(snakemake.config, str(data["dataset_sha256"]))  # noqa: F821
    for region in p.regions:
        rdms = data[f"rdm_{region}"]
        fig = plot_rdm_grid([rdms.mean(axis=0)], [f"{region}, mean of {len(rdms)} subjects"],
                            f"{region} RDM", ncols=1)
        save_figure(fig, [next(outputs) for _ in p.formats], prov)
