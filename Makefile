# gannotes: two commands matter, `make lab` and `make test`. Run `make help`.
# GNU make. Everything installs into $(VENV); nothing is installed globally.

VENV    ?= .venv
PYTHON  ?= python3
# The torch version CI tests. torch is installed only when the venv lacks it, so
# `make TORCH_SPEC=torch lab` or a venv with torch already in it also work;
# the package itself only requires torch>=2.6 (see pyproject.toml).
TORCH_SPEC  ?= torch==2.13.0
LAB_ARGS    ?=
# Jupyter refuses to start as root without --allow-root (containers, CI images, this machine).
ROOT_ARGS   := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# pytest-xdist workers, each running torch and the notebook kernels on one OpenMP thread.
# --dist loadfile: nbval collects a notebook's cells as separate tests sharing one kernel, so
# all of a file's tests run on one worker, in order. (loadgroup with xdist_group marks does
# not group under pytest 9 with pytest-xdist 3.8: the group suffix is written to a nodeid
# attribute pytest 9 no longer reads.) JOBS=1 runs in one process.
JOBS ?= 2
XDIST := $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile)

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

# Let Jupyter prefer the venv's kernels/config over ~/.local ones: the notebooks run on
# kernel "python3", which then is the venv's own Python.
export JUPYTER_PREFER_ENV_PATH := 1

.DEFAULT_GOAL := help
.PHONY: help lab test book lint clean-notebooks check-notebooks data clean

help:
	@echo "gannotes: a tested GAN course"
	@echo ""
	@echo "  make lab     open the course (00_welcome.ipynb) in JupyterLab (creates $(VENV) on first use)"
	@echo "  make test    run every test, including executing every notebook, then build the book"
	@echo "  make book    the course as static HTML in build/book/ (index.html), from the notebooks"
	@echo "               make test executed (a notebook not executed yet is run first)"
	@echo ""
	@echo "Also: make lint | clean-notebooks | check-notebooks | data | clean"
	@echo "Variables: VENV=$(VENV) PYTHON=$(PYTHON) TORCH_SPEC=$(TORCH_SPEC) LAB_ARGS= PYTEST_ARGS= JOBS=$(JOBS)"

# Create the venv and install the package with its notebook, test and tensorboard extras.
# Re-runs when pyproject.toml changes; delete $(STAMP) to force it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[lab,test,tensorboard]"
	$(BIN)/python -m pip install --no-deps "pytorch-fid>=0.3" "torch-fidelity>=0.3"
	touch $@

# Opens the first notebook (not the Launcher); the file browser's root is notebooks/, so every
# notebook is one click away.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks notebooks/00_welcome.ipynb $(ROOT_ARGS) $(LAB_ARGS)

# The book is built from the notebooks this run executed (build/notebooks/) and then checked;
# with PYTEST_ARGS (a subset of the tests) the notebooks may not all have run, so no book.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS),,$(BIN)/python scripts/build_book.py)
	$(if $(PYTEST_ARGS),,$(BIN)/python -m pytest --book -q tests/test_book.py)

book: $(STAMP)
	$(BIN)/python scripts/build_book.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Strip outputs and run metadata before committing notebooks (json only: any Python 3 works).
clean-notebooks:
	$(PYTHON) scripts/strip_notebooks.py notebooks

check-notebooks:
	$(PYTHON) scripts/strip_notebooks.py --check notebooks

# Rebuild data/fashion-mnist-subset/ from the full data set (needs numpy and
# Debian's dataset-fashion-mnist, or: make data DATA_ARGS="--src DIR").
DATA_ARGS ?=
data:
	$(PYTHON) scripts/make_data_subset.py $(DATA_ARGS)

clean:
	rm -rf build $(VENV)
