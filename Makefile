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
# the example page and web demo tests load pages in a headless browser
TEST_PACKAGES := chromium
PACKAGES = $(DEBIAN_PACKAGES)
test pytest: PACKAGES += $(TEST_PACKAGES)
DEMO_DATA ?= data/SynthVGS-small
DEMO_OUT ?= results/demo/SpeechCLIP-hybrid
DEMO_EPOCHS ?= 11
DEMO_LR ?= 0.002  # a short schedule: twice the recipe's peak rate (measured)
DEMO_HUBERT ?= results/demo/HuBERT
DEMO_HUBERT_EPOCHS ?= 2
CLIP_EXPORT := results/SynthVGS/CLIP/tiny_clip/1234/export

.PHONY: demo test lint doctest pytest sysdeps install clean

sysdeps:
	@missing=""; for p in $(PACKAGES); do \
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

# The demo: SynthVGS small (built once); the tiny CLIP (trained once) and
# a short HuBERT pre-training on the English speech (done once), side by
# side on one core each; then a short hybrid SpeechCLIP (parallel retrieval
# and cascaded keywords, DEMO_EPOCHS, condition A only), its report and
# where to go next. The full recipes and their results: recipes/SynthVGS.
demo: install
	[ -f $(DEMO_DATA)/summary.json ] || $(PY) -m speechbrain_vgs.dataio.synthvgs \
	  --size small --out $(DEMO_DATA) --seed 1234 --jobs $(JOBS)
	@echo "Training the tiny CLIP and pre-training HuBERT, side by side..."
	{ [ -f $(CLIP_EXPORT)/tiny-clip-synthvgs.pt ] || OMP_NUM_THREADS=1 $(PY) \
	  recipes/SynthVGS/CLIP/train.py recipes/SynthVGS/CLIP/hparams/tiny_clip.yaml \
	  --data_folder $(DEMO_DATA) --noprogressbar; } & clip=$$!; \
	{ [ -f $(DEMO_HUBERT)/export/config.json ] || OMP_NUM_THREADS=1 $(PY) \
	  recipes/SynthVGS/HuBERT/train.py recipes/SynthVGS/HuBERT/hparams/tiny_hubert.yaml \
	  --data_folder $(DEMO_DATA) --output_folder $(DEMO_HUBERT) --langs "[en]" \
	  --number_of_epochs $(DEMO_HUBERT_EPOCHS) --test_sets "[]" --noprogressbar; } & \
	hubert=$$!; wait $$clip && wait $$hubert
	$(PY) recipes/SynthVGS/SpeechCLIP/train.py \
	  recipes/SynthVGS/SpeechCLIP/hparams/hybrid.yaml --data_folder $(DEMO_DATA) \
	  --hubert_source $(DEMO_HUBERT)/export --output_folder $(DEMO_OUT) \
	  --number_of_epochs $(DEMO_EPOCHS) --lr $(DEMO_LR) --test_sets "[test_A]" \
	  --num_workers 0
	@$(PY) -m speechbrain_vgs.report $(DEMO_OUT) --examples 3 --example_set test_A
	@echo "(chance: R@10 = 10/300 = 3.3% for speech -> image and about the same"
	@echo " for speech -> text; keyword hit: against each slot's most frequent"
	@echo " subword, and chance: the keywords against random utterances' captions)"
	@echo ""
	@echo "Outputs in $(DEMO_OUT): results.json, examples.html (open it in a"
	@echo "browser: test captions with their top images and keywords), figures/,"
	@echo "model.ckpt. Next:"
	@echo "  .venv/bin/speechbrain-vgs search-images $(DEMO_OUT) $(DEMO_DATA)/wavs/en/test_A/en_img00900_0.wav $(DEMO_DATA)/images --top_k 5"
	@echo "  .venv/bin/speechbrain-vgs search-speech $(DEMO_OUT) \"a red circle\" $(DEMO_DATA)/wavs/en/test_A --top_k 5"
	@echo "  .venv/bin/speechbrain-vgs keywords $(DEMO_OUT) $(DEMO_DATA)/wavs/en/test_A/en_img00900_0.wav"
	@echo "  .venv/bin/python -m speechbrain_vgs.app $(DEMO_OUT) --images $(DEMO_DATA)/images --speech $(DEMO_DATA)/wavs/en/test_A"
	@echo "  the full recipes and their results: recipes/SynthVGS/*/README.md"

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
