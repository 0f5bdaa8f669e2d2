# Stage 4: comparisons (tau-a, Mantel, FDR, family differences), tables and figures.


rule mr_compare:
    input:
        brain=rules.mr_brain_rdms.output[0],
        ceilings=rules.mr_ceilings.output[0],
        models=expand(f"{MR_OUT}/rdms/model_{{r}}.npz", r=MR_RUNS + [_mrn.PIXEL]),
    output:
        comparison=f"{MR_OUT}/comparison/{{mr_stimulus}}.csv",
        families=f"{MR_OUT}/comparison/families_{{mr_stimulus}}.csv",
    log:
        f"{MR_OUT}/logs/compare_{{mr_stimulus}}.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_compare/{{mr_stimulus}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_analysis"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        code=code("mouse_rsa/compare.py"),
        rsa=MR["rsa"],
        families=MR["families"],
        family_pairs=MR["family_pairs"],
        variant=MR["variants"]["ceiling"],
        seed=lambda wc: mr_seed("compare", wc.mr_stimulus),
    script:
        "../../scripts/mouse_rsa/compare.py"


rule mr_tables:
    input:
        record=rules.mr_select.output.record,
        comparison=expand(f"{MR_OUT}/comparison/{{s}}.csv", s=MR_STIMULI),
        families=expand(f"{MR_OUT}/comparison/families_{{s}}.csv", s=MR_STIMULI),
        ceilings=expand(f"{MR_OUT}/ceilings/{{s}}.csv", s=MR_STIMULI),
        cells=expand(f"{MR_OUT}/responses/cells_{{s}}.csv", s=MR_STIMULI),
    output:
        comparison=report(
            f"{MR_OUT}/tables/comparison.csv",
            caption="../../report/mouse_rsa/comparison_table.rst",
            category="Mouse RSA",
            subcategory="Tables",
        ),
        ceilings=report(
            f"{MR_OUT}/tables/noise_ceiling.csv",
            caption="../../report/mouse_rsa/ceiling_table.rst",
            category="Mouse RSA",
            subcategory="Tables",
        ),
        families=report(
            f"{MR_OUT}/tables/family_differences.csv",
            caption="../../report/mouse_rsa/family_table.rst",
            category="Mouse RSA",
            subcategory="Tables",
        ),
        cells=f"{MR_OUT}/tables/cells.csv",
    log:
        f"{MR_OUT}/logs/tables.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_tables.tsv"
    group:
        "mr_analysis"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("mouse_rsa/tables.py"),
    script:
        "../../scripts/mouse_rsa/tables.py"


rule mr_figures:
    input:
        comparison=rules.mr_tables.output.comparison,
        ceilings=rules.mr_tables.output.ceilings,
        brain=expand(f"{MR_OUT}/rdms/brain_{{s}}.npz", s=MR_STIMULI),
    output:
        [
            report(
                p,
                caption="../../report/mouse_rsa/figures.rst",
                category="Mouse RSA",
                subcategory="Figures",
            )
            for p in mr_figures()
        ],
    log:
        f"{MR_OUT}/logs/figures.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_figures.tsv"
    group:
        "mr_analysis"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("mouse_rsa/figures.py"),
        areas=MR["areas"],
        depths=MR["depths"],
        stimuli=MR_STIMULI,
        formats=MR_FORMATS,
        variant=MR["variants"]["ceiling"],
    script:
        "../../scripts/mouse_rsa/figures.py"
