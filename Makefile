# Two commands matter: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
DEMO_INDEX := $(VENV)/demo-index.sqlite
# Tests, the demo and the benchmarks run the code in this tree: build/tree/citewise maps
# citewise.server and citewise.bib onto server/ and bib/. The installed copy in the venv only
# provides the `citewise` script and the dependencies, so nothing is reinstalled before a run.
TREE := $(CURDIR)/build/tree
export PYTHONPATH := $(TREE)

.PHONY: demo test lint fuzz install tree system-deps bench e2e-vscode clean

# Dependencies, once per change of pyproject.toml. torch goes first: its CPU wheel
# lies on local disk, while a bare requirement would pull a multi-GB CUDA build.
# TORCH is the pin pyproject.toml declares (tests/test_packaging.py checks they agree).
TORCH := torch==2.13.0
$(VENV)/.deps: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(TORCH)
	$(PIP) install hatchling
	$(PIP) install ".[test]"
	touch $@

install: $(VENV)/.deps tree

tree:
	mkdir -p $(TREE)/citewise
	ln -sfn ../../../server $(TREE)/citewise/server
	ln -sfn ../../../bib $(TREE)/citewise/bib
	ln -sfn ../../../server/__main__.py $(TREE)/citewise/__main__.py

# Debian packages the tests drive: Neovim, and Emacs with eglot; chattr (e2fsprogs) for indexes nothing may write.
system-deps:
	@dpkg -s neovim emacs-nox elpa-eglot e2fsprogs >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q neovim emacs-nox elpa-eglot e2fsprogs; }

# ruff and mypy first (configured in pyproject.toml): seconds, before minutes of tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install system-deps lint
	CITEWISE_FUZZ=bounded $(PY) -m pytest -q -p no:cacheprovider
	bash editors/vscode/scripts/e2e.sh

# The hostile suite's fuzzers and kill -9 loops at length: 40x the examples, 25 kills per command,
# random seeds (`make test` runs them bounded and derandomized). About half an hour.
fuzz: install
	CITEWISE_FUZZ=long $(PY) -m pytest -q -p no:cacheprovider tests/hostile/test_fuzz_drafts.py \
		tests/hostile/test_fuzz_bib.py tests/hostile/test_lsp_fuzz_sequences.py tests/hostile/test_kill_loops.py

# The VS Code extension in a real VS Code (code-server + Chromium); also the last step of `make test`.
e2e-vscode: install
	bash editors/vscode/scripts/e2e.sh

demo: install
	rm -f $(DEMO_INDEX)
	$(VENV)/bin/citewise index add examples/daily-papers-digest.txt examples/library.bib --index $(DEMO_INDEX)
	$(VENV)/bin/citewise index stats --index $(DEMO_INDEX)
	$(VENV)/bin/citewise suggest examples/draft.tex -k 3 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise bib examples/draft.tex --index $(DEMO_INDEX) -o $(VENV)/demo-refs.bib
	cat $(VENV)/demo-refs.bib
	@echo "== enrichment from a recorded registry mirror (see examples/registry-mirror/README.md)"
	@rm -f $(VENV)/demo-mirror.env; $(PY) tests/registry_server.py examples/registry-mirror > $(VENV)/demo-mirror.env & pid=$$!; \
	while [ ! -s $(VENV)/demo-mirror.env ]; do sleep 0.2; done; . $(VENV)/demo-mirror.env; \
	$(VENV)/bin/citewise index add examples/recorded-papers.txt --enrich --index $(DEMO_INDEX) && \
	$(VENV)/bin/citewise index enrich --index $(DEMO_INDEX); status=$$?; \
	kill $$pid; exit $$status
	$(VENV)/bin/citewise search "random walks on lattice points" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "hot Jupiters from transit surveys" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "language model agents for chemistry" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "fair and explainable mixture of experts" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "unlearning manipulated training data" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "in-context learning with linear models" -k 1 --index $(DEMO_INDEX)
	$(VENV)/bin/citewise search "merging task vectors with sparse masks" -k 1 --index $(DEMO_INDEX)

# Every benchmark in turn; each prints median and p95 beside its baseline (about an hour in all).
bench: install
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist
