# Stage 3: the tuning analysis of GNet8j (per voxel, and each subject's feature-layer map: the
# preferred layer group of every voxel as a NIfTI label volume), the study's tables (accuracy
# with noise ceilings, ROI summaries, GNet8j vs GNet8r, transfer matrix and asymmetry index,
# tuning, training history) and the figures.


rule ge_tuning:
    input:
        prepared=expand(f"{GE_OUT}/prepared/{{s}}.npz", s=GE_SUBJECTS),
        model=f"{GE_OUT}/models/gnet8j.pt",
    output:
        voxels=f"{GE_OUT}/tuning/gnet8j.csv",
        maps=expand(f"{GE_OUT}/maps/{{s}}_preferred_layer.nii.gz", s=GE_SUBJECTS),
    log:
        f"{GE_OUT}/logs/tuning.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_tuning.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: 3000 if GE_SIM else GE["resources"]["mem_mb"],
        runtime=lambda wc: 10 if GE_SIM else 600,
    params:
        code=code("gnet_encoding/tuning.py"),
        tuning=GE["tuning"],
        training=GE["training"],
        weights=GE_WEIGHTS,
        prefilter_seed=ge_seed("prefilter"),
        seed=ge_seed("tuning"),
        subjects=GE_SUBJECTS,
        references=[ge_roi_reference(s) for s in GE_SUBJECTS],
    script:
        "../../scripts/gnet_encoding/tuning.py"


rule ge_tables:
    input:
        prepared=expand(f"{GE_OUT}/prepared/{{s}}.npz", s=GE_SUBJECTS),
        accuracy=expand(f"{GE_OUT}/accuracy/{{m}}.csv", m=GE_MODELS),
        ridge=expand(f"{GE_OUT}/accuracy/ridge_{{s}}.csv", s=GE_SUBJECTS),
        histories=expand(f"{GE_OUT}/models/{{m}}_history.csv", m=GE_MODELS),
        transfer=expand(
            f"{GE_OUT}/transfer/{{r}}.csv", r=GE["rois"] if GE_TRANSFER else []
        ),
        transfer_histories=expand(
            f"{GE_OUT}/transfer/{{r}}_history.csv", r=GE["rois"] if GE_TRANSFER else []
        ),
        tuning=rules.ge_tuning.output.voxels,
    output:
        accuracy=report(
            f"{GE_OUT}/tables/accuracy.csv",
            caption="../../report/gnet_encoding/accuracy_table.rst",
            category="GNet encoding",
            subcategory="Tables",
        ),
        summary=report(
            f"{GE_OUT}/tables/accuracy_summary.csv",
            caption="../../report/gnet_encoding/summary_table.rst",
            category="GNet encoding",
            subcategory="Tables",
        ),
        comparison=f"{GE_OUT}/tables/model_comparison.csv",
        tuning=report(
            f"{GE_OUT}/tables/tuning.csv",
            caption="../../report/gnet_encoding/tuning_table.rst",
            category="GNet encoding",
            subcategory="Tables",
        ),
        assignment=report(
            f"{GE_OUT}/tables/tuning_assignment.csv",
            caption="../../report/gnet_encoding/assignment_table.rst",
            category="GNet encoding",
            subcategory="Tables",
        ),
        history=report(
            f"{GE_OUT}/tables/training_history.csv",
            caption="../../report/gnet_encoding/history_table.rst",
            category="GNet encoding",
            subcategory="Tables",
        ),
        transfer=(
            report(
                f"{GE_OUT}/tables/transfer.csv",
                caption="../../report/gnet_encoding/transfer_table.rst",
                category="GNet encoding",
                subcategory="Tables",
            )
            if GE_TRANSFER
            else []
        ),
        asymmetry=f"{GE_OUT}/tables/asymmetry.csv" if GE_TRANSFER else [],
    log:
        f"{GE_OUT}/logs/tables.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_tables.tsv"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("gnet_encoding/tables.py"),
        subjects=GE_SUBJECTS,
        rois=GE["rois"],
        threshold=GE["tuning"]["threshold"],
        n_permutations=GE["tuning"]["n_permutations"],
        seed=ge_seed("tuning-assignment"),
    script:
        "../../scripts/gnet_encoding/tables.py"


rule ge_figures:
    input:
        accuracy=rules.ge_tables.output.accuracy,
        summary=rules.ge_tables.output.summary,
        tuning=rules.ge_tables.output.tuning,
        history=rules.ge_tables.output.history,
        transfer=rules.ge_tables.output.transfer,
        asymmetry=rules.ge_tables.output.asymmetry,
    output:
        [
            report(
                p,
                caption="../../report/gnet_encoding/figures.rst",
                category="GNet encoding",
                subcategory="Figures",
            )
            for p in ge_figures()
        ],
    log:
        f"{GE_OUT}/logs/figures.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_figures.tsv"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("gnet_encoding/figures.py"),
        formats=GE_FORMATS,
        subjects=GE_SUBJECTS,
    script:
        "../../scripts/gnet_encoding/figures.py"
