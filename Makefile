# EquiGuard Studio: `make run` opens the studio, `make test` runs the whole suite.
# Both create .venv when it is missing and (re)install when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: run test install install-dev browser bench screenshots clean

# First run: fill the workspace (./data or $EQUIGUARD_WORKSPACE) with the offline demo;
# its training continues in background jobs while the studio is open.
run: $(VENV)/.installed
	$(PY) -m core demo --if-empty
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(VENV)/.installed-dev browser
	$(PY) -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps torchattacks==3.5.1
	touch $(VENV)/.installed $@

# The browser tests drive Debian's chromium through Playwright; Playwright's own
# browser download is never used (it cannot work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks

# Regenerate the README tour's screenshots (docs/images/) from the browser test.
screenshots: $(VENV)/.installed-dev browser
	EQUIGUARD_DOC_SCREENSHOTS=1 $(PY) -m pytest tests/test_attack_lab_browser.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/artifacts
