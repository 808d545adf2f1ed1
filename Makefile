# The two commands the README promises: `make demo` and `make test`.
# Both install what they need (Debian packages, a virtual environment in
# .venv with this package in editable mode) and are safe to run again.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := espeak-ng flite sox
DEMO_DATA ?= data/SynthVGS-small
DEMO_OUT ?= results/demo/SpeechCLIP-cascaded
DEMO_EPOCHS ?= 3
DEMO_HUBERT ?= results/demo/HuBERT
DEMO_HUBERT_EPOCHS ?= 1
CLIP_EXPORT := results/SynthVGS/CLIP/tiny_clip/1234/export

.PHONY: demo test lint doctest pytest sysdeps install clean

sysdeps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(INSTALLED): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: sysdeps $(INSTALLED)

# The demo: SynthVGS small (built once), the tiny CLIP (trained once), a
# short HuBERT pre-training (DEMO_HUBERT_EPOCHS, done once), then a short
# cascaded SpeechCLIP run (DEMO_EPOCHS, condition A only) and its report.
# The full recipes and their measured results: recipes/SynthVGS.
demo: install
	[ -f $(DEMO_DATA)/summary.json ] || $(PY) -m speechbrain_vgs.dataio.synthvgs \
	  --size small --out $(DEMO_DATA) --seed 1234 --jobs $(JOBS)
	[ -f $(CLIP_EXPORT)/tiny-clip-synthvgs.pt ] || $(PY) \
	  recipes/SynthVGS/CLIP/train.py recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml \
	  --data_folder $(DEMO_DATA)
	[ -f $(DEMO_HUBERT)/export/config.json ] || $(PY) \
	  recipes/SynthVGS/HuBERT/train.py recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml \
	  --data_folder $(DEMO_DATA) --output_folder $(DEMO_HUBERT) \
	  --number_of_epochs $(DEMO_HUBERT_EPOCHS) --test_sets "[]"
	$(PY) recipes/SynthVGS/SpeechCLIP/train.py \
	  recipes/SynthVGS/SpeechCLIP/hparams/cascaded.yaml --data_folder $(DEMO_DATA) \
	  --hubert_source $(DEMO_HUBERT)/export --output_folder $(DEMO_OUT) \
	  --number_of_epochs $(DEMO_EPOCHS) --test_sets "[test_A]"
	$(PY) -m speechbrain_vgs.report $(DEMO_OUT) --examples 3 --example_set test_A

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

doctest: install
	$(PY) -m pytest -q --doctest-modules speechbrain_vgs templates

pytest: install
	$(PY) -m pytest -q tests

test: lint doctest pytest

clean:
	rm -rf $(VENV) build *.egg-info
