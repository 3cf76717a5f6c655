# RadioPath — two commands on a fresh machine:
#   make demo   installs what is missing, builds, tiles a slide it generates itself
#   make test   installs what is missing, builds, runs every test
# Also: make build, make bench (side-by-side with the Python peers), make clean.

SWIFT   ?= swift
VENV    ?= .venv
PYTHON  := $(abspath $(VENV))/bin/python
BIN     := .build/release/radiopath

.PHONY: all deps venv build demo test test-slurm bench clean

all: build

deps:
	@bash scripts/install-deps

# Reference peers for tests and benchmarks (h5py, openslide-python, scikit-image, OpenCV);
# never a dependency of the Swift product.
venv: $(VENV)/.installed
$(VENV)/.installed: scripts/requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r scripts/requirements-dev.txt
	@# PyTorch CPU (offline wheel) for the peer tests that run torch live; optional: without it
	@# those tests say SKIPPED and the committed torch fixtures still hold the rest.
	-$(PYTHON) -m pip install -q --disable-pip-version-check "torch==2.13.0+cpu" || echo "torch unavailable: its live peer tests will be skipped"
	@# PyRadiomics 3.0.1 only builds against the venv's numpy without build isolation.
	-$(PYTHON) -m pip install -q --disable-pip-version-check --no-build-isolation "pyradiomics==3.0.1" || echo "pyradiomics unavailable: its live peer tests will be skipped"
	@touch $@

build: deps
	$(SWIFT) build -c release --product radiopath

demo: build
	@bash scripts/demo

test: deps venv
	RADIOPATH_PYTHON=$(PYTHON) $(SWIFT) test

# A one-node Slurm cluster on loopback (installs slurm-wlm and munge; needs root): a job
# array over generated slides must match a local run byte for byte.
test-slurm: deps
	@bash scripts/test-slurm

bench: build venv
	@bash scripts/install-bench-deps
	$(PYTHON) -m pip install -q --disable-pip-version-check -r scripts/requirements-bench.txt
	@PYTHON=$(PYTHON) BIN=$(BIN) bash bench/run

clean:
	rm -rf .build demo-out bench-out
