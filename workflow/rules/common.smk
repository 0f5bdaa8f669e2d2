# Shared set-up, included first: makes the brainalign package importable in every job, composes
# and validates the config once (pipeline.config), lets each enabled study complete and check its
# block, and defines the helpers the shared rule files use.
import importlib
import logging
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")

# The package lives in src/. Putting it on PYTHONPATH here makes it importable in every job:
# local jobs, `script:` jobs (whose preamble only adds the script's folder), `shell:` jobs,
# conda-env jobs and cluster jobs (submitted with the environment exported). This is the one
# place the workflow puts src/ on the path.
SRC = str(Path(workflow.basedir) / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from brainalign.pipeline.rulekit import export_package_path
from brainalign.pipeline.sampling import set_benchmark_sampling

export_package_path(SRC)
# Snakemake samples each job's memory every 0.5 s for its first 15 s, at about 40 ms of this
# process's CPU per reading of a torch job; every 10 s is enough, as each job logs its exact
# CPU and peak memory (src/brainalign/pipeline/sampling.py).
set_benchmark_sampling()

from brainalign.pipeline import config as _bacfg
from brainalign.pipeline.fingerprint import (
    git_commit,
    script_fingerprint,
    source_fingerprint,
)
from brainalign.pipeline.seeds import config_hash, derive_seed
from brainalign.pipeline.slurmcheck import slurm_status_warning


def _configured():
    """Compose config.yaml, --configfile overlays and --config; validate; complete studies."""
    base = (
        _bacfg.load_config_file("config.yaml") if os.path.exists("config.yaml") else {}
    )
    overlays = [
        (str(p), _bacfg.load_config_file(p))
        for p in (workflow.overwrite_configfiles or [])
    ]
    composed, origin = _bacfg.compose_config(
        base, overlays, workflow.config_settings.config
    )
    cfg = _bacfg.validate_config(composed)
    studies = _bacfg.enabled_studies(cfg)
    if not studies:
        raise _bacfg.ConfigError(
            f"no study to run: add a block for one of {list(_bacfg.STUDIES)} (an empty "
            "block, e.g. 'truzzi2020: {}', runs that study's embedded default)"
        )
    conditions = {}
    for study in studies:
        package = importlib.import_module(f"brainalign.studies.{study}")
        conditions[study] = package.complete_config(cfg)
    return cfg, studies, origin, conditions


class _ConfigWarnings(logging.Handler):
    """Config-time warnings of brainalign through Snakemake's logger (console and log file)."""

    def emit(self, record):
        logger.warning(record.getMessage())


_bacfg.LOGGER.handlers[:] = [_ConfigWarnings()]
_bacfg.LOGGER.propagate = False

try:
    _validated, STUDIES, _ORIGIN, STUDY_CONDITIONS = _configured()
except _bacfg.ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None
config.clear()
config.update(_validated)
logger.info(
    "brainalign studies: "
    + ", ".join(f"{s} (from {_ORIGIN.get(s, 'defaults')})" for s in STUDIES)
    + "".join(
        f"; {s} not run ({'enabled: false' if s in config else 'no block'})"
        for s in _bacfg.STUDIES
        if s not in STUDIES
    )
)


# On SLURM without accounting `sacct` fails and the executor would wait forever: say so at once.
onstart:
    _slurm_warning = slurm_status_warning(workflow)
    if _slurm_warning:
        logger.warning(_slurm_warning)


CONFIG_HASH = config_hash(config)
#: The code that made the results (for the provenance table): a hash over src/brainalign and
#: workflow/, and the git commit of the checkout (``+dirty`` with uncommitted changes).
SOURCE_SHA256 = source_fingerprint(Path(workflow.basedir) / "src" / "brainalign")
WORKFLOW_SHA256 = source_fingerprint(Path(workflow.basedir) / "workflow")
GIT_COMMIT = git_commit(workflow.basedir)
LAYER_COUNT = 7
#: Priority of every rule with 20 s or more of work after its start on the critical path of
#: the default run (mouse_rsa up to its comparisons, gnet_encoding's training, transfer, ridge
#: and tuning, dwivedi2021's searchlights and ROI regression, truzzi2020's data, training,
#: activations, layer RDMs and comparisons, decoding_robustness's data and training; a priority
#: is not passed on to the jobs a job needs, so every link of a chain carries it): started
#: first, they leave the short jobs (tables, figures) to fill both cores at the end of a run
#: instead of ending it with one long job on one core (results/benchmarks/summary.csv shows the
#: cores kept busy). Without it Snakemake's greedy selection prefers, among equal priorities,
#: jobs with larger inputs, so a chain that starts with a simulation (no input) starts last.
LONG_CHAIN_PRIORITY = 10
#: Final files of every enabled study (each study's main.smk adds its own).
TARGETS = []


# {study} in the shared rules is a study id; the functional-maps rules use their own {study}.
STUDY_IDS = "|".join(STUDIES)


wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",
    condition="[a-z0-9_]+_(?:trained|untrained)",


def code(script):
    """Fingerprint of the library code a script runs, for params: editing a module of
    src/brainalign reruns exactly the jobs whose scripts import it."""
    return script_fingerprint(
        Path(workflow.basedir) / "workflow" / "scripts" / script, SRC
    )


def condition_seed(condition):
    return derive_seed(config["seed"], "network", condition)


def network_of(condition):
    return condition.rpartition("_")[0]


#: Trained weights a study's own rules write: {study: {network: checkpoint path}} (filled by the
#: study's rule files, e.g. truzzi2020's training rules); other trained conditions read
#: networks.weights.
WORKFLOW_WEIGHTS = {}


def weights_for(condition, study=None):
    """Weights file of a trained condition of ``study``: the study's own checkpoint when its
    rules train that network, else networks.weights (resolved and checked by the study's
    config check)."""
    network, _, training = condition.rpartition("_")
    if training != "trained":
        return []
    own = WORKFLOW_WEIGHTS.get(study, {})
    if network in own:
        return own[network]
    return config["networks"]["weights"][network]


def figure_paths(out, stem, formats):
    return [f"{out}/figures/{stem}.{ext}" for ext in formats]
