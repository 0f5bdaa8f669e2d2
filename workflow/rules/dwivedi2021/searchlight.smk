# Searchlight RDMs and noise ceilings
_FM_SL_OUTPUTS = dict(
    rdms=f"{FM_OUT}/{{study}}/searchlight/mean_rdms.npy",
    ceiling=f"{FM_OUT}/{{study}}/searchlight/noise_ceiling.csv",
    mask=f"{FM_OUT}/{{study}}/searchlight/mask.nii.gz",
    lower=f"{FM_OUT}/{{study}}/maps/noise_ceiling_lower.nii.gz",
    upper=f"{FM_OUT}/{{study}}/maps/noise_ceiling_upper.nii.gz",
)


rule fmaps_searchlight_rdms:
    input:
        unpack(lambda wc: _fmd.study_volume_inputs(FM, wc.study, FM_OUT)),
    output:
        **_FM_SL_OUTPUTS,
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_rdms.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_searchlight_rdms.tsv"
    wildcard_constraints:
        study=_fmd.studies_of(FM, ("simulated", "volumes")),
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        code=code("dwivedi2021/searchlight_rdms.py"),
        source=lambda wc: FM["studies"][wc.study]["source"],
        searchlight=lambda wc: _fmd.study_searchlight(FM, wc.study),
        ceiling_statistic=FM["statistics"]["ceiling_statistic"],
    script:
        "../../scripts/dwivedi2021/searchlight_rdms.py"


rule fmaps_searchlight_rdms_precomputed:
    input:
        unpack(lambda wc: _fmd.study_precomputed_inputs(FM, wc.study)),
    output:
        **_FM_SL_OUTPUTS,
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_rdms.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_searchlight_rdms_precomputed.tsv"
    wildcard_constraints:
        study=_fmd.studies_of(FM, ("precomputed",)),
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        code=code("dwivedi2021/searchlight_rdms.py"),
        source="precomputed",
        searchlight=lambda wc: _fmd.study_searchlight(FM, wc.study),
        ceiling_statistic=FM["statistics"]["ceiling_statistic"],
    script:
        "../../scripts/dwivedi2021/searchlight_rdms.py"


# Searchlight statistics and maps
rule fmaps_searchlight_individual:
    input:
        rdms=rules.fmaps_searchlight_rdms.output.rdms,
        ceiling=rules.fmaps_searchlight_rdms.output.ceiling,
        mask=rules.fmaps_searchlight_rdms.output.mask,
        models=lambda wc: _fmd.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/searchlight_individual.csv",
            caption="../../report/dwivedi2021/tables.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        r2adj=f"{FM_OUT}/{{study}}/maps/individual_r2adj.nii.gz",
        best=f"{FM_OUT}/{{study}}/maps/individual_best_model.nii.gz",
        significant=f"{FM_OUT}/{{study}}/maps/individual_significant.nii.gz",
        legend=f"{FM_OUT}/{{study}}/maps/individual_labels.tsv",
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_individual.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_searchlight_individual.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        code=code("dwivedi2021/searchlight_stats.py"),
        analysis="individual",
        models=lambda wc: _fmd.study_model_params(FM, wc.study, FM_OUT),
        neighbourhood=lambda wc: _fmd.study_neighbourhood(FM, wc.study),
        n_permutations=FM["statistics"]["n_permutations"],
        scheme=FM["statistics"]["scheme"],
        nc_threshold=FM["statistics"]["nc_threshold"],
        alpha=FM["statistics"]["alpha"],
        mode=FM["statistics"]["mode"],
        seed=lambda wc: derive_seed(
            config["seed"], "dwivedi2021", "individual", wc.study
        ),
    script:
        "../../scripts/dwivedi2021/searchlight_stats.py"


rule fmaps_searchlight_grouped:
    input:
        rdms=rules.fmaps_searchlight_rdms.output.rdms,
        ceiling=rules.fmaps_searchlight_rdms.output.ceiling,
        mask=rules.fmaps_searchlight_rdms.output.mask,
        models=lambda wc: _fmd.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/searchlight_grouped.csv",
            caption="../../report/dwivedi2021/tables.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        unique=f"{FM_OUT}/{{study}}/maps/grouped_unique_r2adj.nii.gz",
        total=f"{FM_OUT}/{{study}}/maps/grouped_total_r2adj.nii.gz",
        best=f"{FM_OUT}/{{study}}/maps/grouped_best_group.nii.gz",
        significant=f"{FM_OUT}/{{study}}/maps/grouped_significant.nii.gz",
        legend=f"{FM_OUT}/{{study}}/maps/grouped_labels.tsv",
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_grouped.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_searchlight_grouped.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        code=code("dwivedi2021/searchlight_stats.py"),
        analysis="partition",
        models=lambda wc: _fmd.study_model_params(FM, wc.study, FM_OUT),
        neighbourhood=lambda wc: _fmd.study_neighbourhood(FM, wc.study),
        n_permutations=FM["statistics"]["n_permutations"],
        scheme=FM["statistics"]["scheme"],
        nc_threshold=FM["statistics"]["nc_threshold"],
        alpha=FM["statistics"]["alpha"],
        mode=FM["statistics"]["mode"],
        seed=lambda wc: derive_seed(
            config["seed"], "dwivedi2021", "partition", wc.study
        ),
    script:
        "../../scripts/dwivedi2021/searchlight_stats.py"
