# ROIs
rule fmaps_roi:
    input:
        unpack(lambda wc: _fmd.study_roi_inputs(FM, wc.study, FM_OUT)),
        models=lambda wc: _fmd.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/roi_statistics.csv",
            caption="../../report/dwivedi2021/roi_table.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/roi.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_roi.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=code("dwivedi2021/roi.py"),
        source=lambda wc: FM["studies"][wc.study]["source"],
        rois=lambda wc: FM["studies"][wc.study]["rois"],
        models=lambda wc: _fmd.study_model_params(FM, wc.study, FM_OUT),
        top_k=FM["statistics"]["top_k"],
        n_permutations=FM["statistics"]["n_permutations"],
        n_bootstrap=FM["statistics"]["n_bootstrap"],
        bootstrap_ratio=FM["statistics"]["bootstrap_ratio"],
        scheme=FM["statistics"]["scheme"],
        alpha=FM["statistics"]["alpha"],
        mode=FM["statistics"]["mode"],
        ceiling_statistic=FM["statistics"]["ceiling_statistic"],
        seed=lambda wc: derive_seed(config["seed"], "dwivedi2021", "roi", wc.study),
    script:
        "../../scripts/dwivedi2021/roi.py"
