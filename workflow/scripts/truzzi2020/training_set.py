"""Draw the embedded labelled training set (ImageNet layout), none of it a test image."""

from brainalign.data.synthetic_stimuli import SIZE
from brainalign.data.training_set import write_training_set
from brainalign.io.files import read_npz
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    test = read_npz(snakemake.input.stimuli)["images"]
    # the embedded images are drawn at the simulated study's size; real stimuli are other photos
    same_size = test.ndim == 4 and test.shape[1:] == (SIZE, SIZE, 3)
    counts = write_training_set(
        snakemake.output[0],
        train_per_category=p.train_per_category,
        val_per_category=p.val_per_category,
        seed=p.seed,
        test_images=test if same_size else None,
    )
    log.info("wrote %(train)d training and %(val)d validation images", counts)
