# Two commands matter: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
DEMO_INDEX := $(VENV)/demo-index.sqlite

.PHONY: demo test install system-deps bench e2e-vscode clean

# Dependencies, once per change of pyproject.toml. torch goes first: its CPU wheel
# lies on local disk, while a bare requirement would pull a multi-GB CUDA build.
$(VENV)/.deps: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install hatchling
	$(PIP) install ".[test]"
	touch $@

# The project itself, reinstalled every time so the tests run what is in the tree.
install: $(VENV)/.deps
	$(PIP) install --no-deps --no-build-isolation --force-reinstall .

# Debian packages the tests drive: Neovim for the editor test.
system-deps:
	@command -v nvim >/dev/null || { apt-get update -q && apt-get install -y -q neovim; }

test: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider

demo: install
	rm -f $(DEMO_INDEX)
	$(VENV)/bin/citewise index add examples/daily-papers-digest.txt examples/library.bib --index $(DEMO_INDEX)
	$(VENV)/bin/citewise index stats --index $(DEMO_INDEX)
	$(VENV)/bin/citewise suggest examples/draft.tex -k 3 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise bib examples/draft.tex --index $(DEMO_INDEX) -o $(VENV)/demo-refs.bib
	cat $(VENV)/demo-refs.bib

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build dist
