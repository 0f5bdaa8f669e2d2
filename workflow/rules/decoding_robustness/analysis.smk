# Stage 3: RSM similarity with the decoder, the tables (accuracy, drop, confusion, the study's
# question) and the figures.


rule dr_similarity:
    input:
        record=rules.dr_dataset.output.record,
        embeddings=dr_embeddings(),
    output:
        table=report(
            f"{DR_OUT}/tables/similarity.csv",
            caption="../../report/decoding_robustness/similarity_table.rst",
            category="Robustness vs brain similarity",
            subcategory="Tables",
        ),
        classes=f"{DR_OUT}/tables/class_rsm.csv",
        rsms=f"{DR_OUT}/rsms/rsms.npz",
    log:
        f"{DR_OUT}/logs/similarity.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_similarity.tsv"
    group:
        "dr_analysis"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("decoding_robustness/similarity.py"),
        comparison=DR["comparison"],
        seed=dr_seed("similarity"),
    script:
        "../../scripts/decoding_robustness/similarity.py"


rule dr_tables:
    input:
        record=rules.dr_dataset.output.record,
        similarity=rules.dr_similarity.output.table,
        decoder=expand(f"{DR_OUT}/decoder/seed-{{s}}/predictions.csv", s=DR_SEEDS),
        decoder_history=expand(f"{DR_OUT}/decoder/seed-{{s}}/history.csv", s=DR_SEEDS),
        accuracy=expand(
            f"{DR_OUT}/networks/{{n}}/seed-{{s}}/accuracy.csv",
            n=DR_NETWORKS,
            s=DR_SEEDS,
        ),
        predictions=expand(
            f"{DR_OUT}/networks/{{n}}/seed-{{s}}/predictions.csv",
            n=DR_NETWORKS,
            s=DR_SEEDS,
        ),
        history=expand(
            f"{DR_OUT}/networks/{{n}}/seed-{{s}}/history.csv",
            n=DR_NETWORKS,
            s=DR_SEEDS,
        ),
    output:
        accuracy=report(
            f"{DR_OUT}/tables/accuracy.csv",
            caption="../../report/decoding_robustness/accuracy_table.rst",
            category="Robustness vs brain similarity",
            subcategory="Tables",
        ),
        drop=f"{DR_OUT}/tables/accuracy_drop.csv",
        confusion=f"{DR_OUT}/tables/confusion.csv",
        history=f"{DR_OUT}/tables/training_history.csv",
        question=report(
            f"{DR_OUT}/tables/robustness_vs_similarity.csv",
            caption="../../report/decoding_robustness/question_table.rst",
            category="Robustness vs brain similarity",
            subcategory="Tables",
        ),
    log:
        f"{DR_OUT}/logs/tables.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_tables.tsv"
    group:
        "dr_analysis"
    conda:
        "../../../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("decoding_robustness/tables.py"),
        variant=DR["variants"]["comparison"],
        ci=DR["comparison"]["ci"],
    script:
        "../../scripts/decoding_robustness/tables.py"


rule dr_blur_examples:
    input:
        dr_kay_files(),
    output:
        f"{DR_OUT}/dataset/blur_examples.npz",
    log:
        f"{DR_OUT}/logs/blur_examples.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_blur_examples.tsv"
    group:
        "dr_analysis"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("decoding_robustness/blur_examples.py"),
        blur=DR["variants"]["blur"],
        blur_levels=DR["blur_levels"],
        blur_seed=dr_seed("blur"),
    script:
        "../../scripts/decoding_robustness/blur_examples.py"


rule dr_figures:
    input:
        record=rules.dr_dataset.output.record,
        examples=rules.dr_blur_examples.output[0],
        accuracy=rules.dr_tables.output.accuracy,
        drop=rules.dr_tables.output.drop,
        confusion=rules.dr_tables.output.confusion,
        similarity=rules.dr_similarity.output.table,
        rsms=rules.dr_similarity.output.rsms,
        classes=rules.dr_similarity.output.classes,
        question=rules.dr_tables.output.question,
    output:
        [
            report(
                p,
                caption=f"../../report/decoding_robustness/{f}.rst",
                category="Robustness vs brain similarity",
                subcategory="Figures",
            )
            for f in DR_FIGURES
            for p in figure_paths(DR_OUT, f, DR_FORMATS)
        ],
    log:
        f"{DR_OUT}/logs/figures.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_figures.tsv"
    group:
        "dr_analysis"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("decoding_robustness/figures.py"),
        formats=DR_FORMATS,
        variant=DR["variants"]["comparison"],
        blur=DR["variants"]["blur"],
    script:
        "../../scripts/decoding_robustness/figures.py"
