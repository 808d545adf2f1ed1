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

demo: install
	$(PY) -m speechbrain_vgs.dataio.synthvgs --size small \
	  --out $(DEMO_DATA) --seed 1234 --jobs $(JOBS)

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
