# Two commands on a fresh machine:  `make run` starts the calculator demo, `make test` runs every test.
# Both set everything up first: system packages (apt-get, when root), a private .venv, pip installs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench lint format screenshot clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/ensure-system.sh
	@sh tools/ensure-system.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/qtcompute demo adder

# The whole suite under PyQt5 (the seed's binding); then, under PySide6 and under PyQt6, the Qt
# tests and the frozen calculator (tests/bundle/test_bindings.py, one onedir build per binding).
# Each run first checks that qtpy really runs the binding asked for (tests/conftest.py): qtpy
# falls back to another binding, silently, when the one asked for is missing.
BINDINGS_RUN := tests/qt tests/bundle/test_bindings.py -p no:cacheprovider
test: $(STAMP)
	@$(BIN)/ruff check src tests examples benchmarks
	@$(BIN)/ruff format --check src tests examples benchmarks
	QT_QPA_PLATFORM=offscreen QT_API=pyqt5 PYTEST_QT_API=pyqt5 $(BIN)/python -m pytest
	QT_QPA_PLATFORM=offscreen QT_API=pyside6 PYTEST_QT_API=pyside6 $(BIN)/python -m pytest $(BINDINGS_RUN)
	QT_QPA_PLATFORM=offscreen QT_API=pyqt6 PYTEST_QT_API=pyqt6 $(BIN)/python -m pytest $(BINDINGS_RUN)

# The benchmarks also need the bench extra (Nuitka, for one row of bench_bindings.py).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	@$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests examples benchmarks
	$(BIN)/ruff check --fix src tests examples benchmarks

# A screenshot of the calculator on a virtual X display (Debian's xvfb; installed by setup).
screenshot: $(STAMP)
	@sh tools/ensure-system.sh xvfb xauth
	xvfb-run -a -s "-screen 0 1024x768x24" $(BIN)/python docs/screenshots/make_adder_screenshot.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
