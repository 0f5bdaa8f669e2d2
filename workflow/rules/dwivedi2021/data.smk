# Data
rule fmaps_simulate:
    output:
        directory(f"{FM_OUT}/{{study}}/data"),
    log:
        f"{FM_OUT}/{{study}}/logs/simulate.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_simulate.tsv"
    wildcard_constraints:
        study=_fmd.studies_of(FM, ("simulated",)),
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/fmaps.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("dwivedi2021/simulate.py"),
        simulation=lambda wc: FM["studies"][wc.study]["simulation"],
        seed=lambda wc: derive_seed(
            config["seed"], "dwivedi2021", "simulation", wc.study
        ),
    script:
        "../../scripts/dwivedi2021/simulate.py"


rule fmaps_taskonomy_rdms:
    input:
        weights=lambda wc: FM["studies"][wc.study]["taskonomy"]["weights_dir"],
        stimuli=lambda wc: FM["studies"][wc.study]["taskonomy"]["stimuli_dir"],
    output:
        directory(f"{FM_OUT}/{{study}}/models/taskonomy"),
    log:
        f"{FM_OUT}/{{study}}/logs/taskonomy_rdms.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_taskonomy_rdms.tsv"
    conda:
        "../../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=120,
    params:
        code=code("dwivedi2021/taskonomy_rdms.py"),
        tasks=lambda wc: _fmd.study_model_names(FM, wc.study),
        layers=lambda wc: FM["studies"][wc.study]["models"]["layers"],
        verify_hash=lambda wc: FM["studies"][wc.study]["taskonomy"]["verify_hash"],
        batch_size=lambda wc: FM["studies"][wc.study]["taskonomy"]["batch_size"],
        seed=lambda wc: derive_seed(
            config["seed"], "dwivedi2021", "taskonomy", wc.study
        ),
    script:
        "../../scripts/dwivedi2021/taskonomy_rdms.py"


rule fmaps_network_rdms:
    input:
        lambda wc: [
            f"results/truzzi2020/{config['truzzi2020']['dataset']['name']}/rdms/{c}.npz"
            for c in _fmd.study_model_names(FM, wc.study)
        ],
    output:
        directory(f"{FM_OUT}/{{study}}/models/networks"),
    log:
        f"{FM_OUT}/{{study}}/logs/network_rdms.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_network_rdms.tsv"
    conda:
        "../../../envs/fmaps.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("dwivedi2021/network_rdms.py"),
        names=lambda wc: _fmd.study_model_names(FM, wc.study),
        layers=lambda wc: FM["studies"][wc.study]["models"]["layers"],
    script:
        "../../scripts/dwivedi2021/network_rdms.py"
