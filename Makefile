# ironcell: `make demo` runs the cell on the embedded defaults; `make test` runs every offline test.
# Both create .venv when missing and install the project into it.

PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export MPLBACKEND := Agg

# Debian packages the tests need; installed only when missing.
DEB_PKGS := postgresql chromium chromium-driver mbpoll libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libglib2.0-0 fonts-dejavu-core poppler-utils

.PHONY: demo test test-slow lint typecheck sysdeps venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@if [ -f tests/interop/package.json ] && [ ! -d tests/interop/node_modules ]; then \
	  cd tests/interop && npm ci --no-audit --no-fund --loglevel=error; fi

demo: $(STAMP)
	$(BIN)/ironcell run --parts 20 --fast

lint: $(STAMP)
	$(BIN)/ruff check vision models robot cell_control hmi tests
	$(BIN)/ruff format --check vision models robot cell_control hmi tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) sysdeps lint typecheck
	scripts/with_pg.sh $(BIN)/python -m pytest -q

test-slow: $(STAMP) sysdeps
	scripts/with_pg.sh $(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
