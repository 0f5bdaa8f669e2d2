"""Layer RDMs of Taskonomy encoders on the study's stimuli (original RDM_taskonomy layout)."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from brainalign.data.fmaps_files import write_model_rdms
from brainalign.networks import taskonomy as tk
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.condensed import vector_to_rdm

with rule_context(snakemake) as log:
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    out = Path(snakemake.output[0])
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(f for f in Path(snakemake.input.stimuli).iterdir()
                   if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))  # fmt: skip
    if len(files) < 3:
        raise ValueError(f"{snakemake.input.stimuli}: need at least 3 images; found {len(files)}")
    x = tk.preprocess([np.asarray(Image.open(f).convert("RGB")) for f in files])
    log.info("%d stimuli", len(files))
    for task in p.tasks:
        if task == "random":
            torch.manual_seed(p.seed)
            model = tk.TaskonomyEncoder()
        else:
            model = tk.load_encoder(tk.encoder_file_for_task(snakemake.input.weights, task),
                                    verify_hash=p.verify_hash)  # fmt: skip
        rdms = tk.feature_rdms(tk.extract_features(model, x, p.layers, p.batch_size))
        write_model_rdms(out, task, {k: vector_to_rdm(v) for k, v in rdms.items()}, p.layers)
        log.info("task %s done", task)
