# Two commands on a fresh machine:  `make run` starts the calculator demo, `make test` runs every test.
# Both set everything up first: system packages (apt-get, when root), a private .venv, pip installs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-pyside6 bench lint format screenshot clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/ensure-system.sh
	@sh tools/ensure-system.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/qtcompute demo adder

# The whole suite under PyQt5 (the seed's binding), then the Qt tests again under PySide6.
test: $(STAMP)
	@$(BIN)/ruff check src tests examples benchmarks
	@$(BIN)/ruff format --check src tests examples benchmarks
	QT_QPA_PLATFORM=offscreen QT_API=pyqt5 PYTEST_QT_API=pyqt5 $(BIN)/python -m pytest
	if [ -d tests/qt ]; then QT_QPA_PLATFORM=offscreen QT_API=pyside6 PYTEST_QT_API=pyside6 $(BIN)/python -m pytest tests/qt -p no:cacheprovider; fi

bench: $(STAMP)
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
