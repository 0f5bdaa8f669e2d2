# The two commands of the README:  make run  (set up + default study)  and  make test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed
# The AllenSDK (mouse_rsa downloads, the SDK cross-check test) in its own venv: it pins
# numpy 1.23.5 / pandas 1.5, which conflict with the main environment.
ALLEN_VENV ?= .venv-allensdk
ALLEN_STAMP := $(ALLEN_VENV)/.installed

.PHONY: run test report lint clean-results allensdk

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# compile the cached numba kernels once (searchlight, Mantel), so first calls load the cache
	$(BIN)/python -m brainalign.pipeline.warmup --quiet
	touch $(STAMP)

# statsmodels<0.15: allensdk 2.16.2 imports statsmodels.sandbox...multipletests, gone in 0.15.
$(ALLEN_STAMP): envs/allensdk.yaml
	$(PYTHON) -m venv $(ALLEN_VENV)
	$(ALLEN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ALLEN_VENV)/bin/python -m pip install --quiet allensdk==2.16.2 statsmodels==0.14.6
	$(ALLEN_VENV)/bin/python -c "import allensdk.core.brain_observatory_cache"
	touch $(ALLEN_STAMP)

allensdk: $(ALLEN_STAMP)

# runguard: after a killed run (kill -9, OOM) the same `make run` removes the stale lock itself.
run: $(STAMP)
	$(BIN)/python -m brainalign.pipeline.runguard $(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	PYTHONPATH=src $(BIN)/lint-imports
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

clean-results:
	rm -rf results/*/ results/report.html .snakemake
