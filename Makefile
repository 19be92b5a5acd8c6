# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create .venv, install, process the committed sample scenes, print violations
#   make test   - create .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: install demo test test-fast clean services

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# supervision pulls the GUI OpenCV build; put the headless build's files back on top so
	# cv2 needs no libGL on servers (both are the same 4.x version).
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps \
	  "opencv-python-headless==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opencv-python-headless"))')"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@export SAFECITY_HOME=$(abspath $(DEMO_OUT))/home; \
	for scene in sample_videos/*/; do \
	  name=$$(basename $$scene); \
	  echo "== $$name"; \
	  $(BIN)/safecity process $$scene/scene.mp4 --camera $$scene/camera.yaml --out $(DEMO_OUT)/$$name \
	    --db sqlite:///$(abspath $(DEMO_OUT))/safecity.sqlite || exit 1; \
	  $(BIN)/safecity eval --truth $$scene/truth.json --result $(DEMO_OUT)/$$name/violations.json || exit 1; \
	done; \
	echo "== exchange log"; \
	$(BIN)/safecity audit verify --db sqlite:///$(abspath $(DEMO_OUT))/safecity.sqlite

# Redis and PostgreSQL for the service-backed tests, started only when not running.
services:
	.ci/services.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
