#!/usr/bin/env bash
# `make e2e-vscode`: builds and packages the extension, installs code-server (VS Code in a browser)
# from npm, and runs test/e2e/vscode.test.ts in Debian's Chromium. Everything within a time budget
# (E2E_BUDGET_SECONDS, default 1500). Screenshots go to test-artifacts/; with E2E_UPDATE_IMAGES=1 they
# also replace the README's images/ (a test run leaves the tracked files alone).
# Needs the project's venv (.venv with citewise installed); installs Debian packages when missing.
set -euo pipefail

budget=${E2E_BUDGET_SECONDS:-1500}
started=$(date +%s)
extension=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$extension/../.." && pwd)
python=${E2E_PYTHON:-$repo/.venv/bin/python}
cache=${CITEWISE_E2E_CACHE:-$HOME/.cache/citewise-e2e}
artifacts=$repo/test-artifacts
log() { echo "[e2e +$(($(date +%s) - started))s] $*"; }
remaining() { echo $((budget - ($(date +%s) - started))); }

missing=()
for pkg in chromium ripgrep libkrb5-dev build-essential python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
"$python" -c "import citewise.server.cli" || { echo "e2e: citewise is not importable by $python (run make install)"; exit 2; }

log "npm ci, type check, lint, unit tests, package"
cd "$extension"
npm ci --no-audit --no-fund
# The unit tests build a venv without citewise and expect it reported missing: the Makefile's
# PYTHONPATH (which maps citewise onto this tree) would make any interpreter find it.
env -u PYTHONPATH npm run check
npm run package

log "code-server"
timeout "$(remaining)" "$extension/scripts/install-code-server.sh" "$cache/code-server-4.100.3"

work=$(mktemp -d /tmp/citewise-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
drafts=$repo/../shared/corpus/drafts/scipy-articles/scipy-1.0
if [ -d "$drafts" ]; then
  cp -r "$drafts" "$work/workspace"
  export E2E_DRAFT=$work/workspace/paper.tex E2E_BIB=$work/workspace/references.bib
  export E2E_LINE=1065 E2E_BIB_PREFIX=hunter E2E_BIB_KEY=hunter2007matplotlib
else
  log "../shared is absent: using tests/fixtures/editors as the workspace"
  cp -r "$repo/tests/fixtures/editors" "$work/workspace"
  export E2E_DRAFT=$work/workspace/draft.tex E2E_BIB=$work/workspace/refs.bib
  export E2E_LINE=5 E2E_BIB_PREFIX=ho E2E_BIB_KEY=hoDenoisingDiffusionProbabilistic2020
fi

log "index of examples/daily-papers-digest.txt"
read -r E2E_INDEX_KEY E2E_TITLE_KEY < <("$python" - "$repo/examples/daily-papers-digest.txt" "$work/index.sqlite" <<'PY'
import sys
from citewise.bib.index.store import Index
from citewise.bib.readers import read_path

with Index.open(sys.argv[2]) as index:
    index.add_references(read_path(sys.argv[1]).references)
    keys = {r.title: r.key for r in index.iter_references()}
    print(next(key for title, key in keys.items() if title.startswith("Score-Based Generative Modeling")),
          keys["Corrective Machine Unlearning"])
PY
)
export E2E_INDEX_KEY E2E_INDEX_PREFIX=score E2E_TITLE_KEY E2E_TITLE_WORD=unlearning
export E2E_CODE_SERVER=$cache/code-server-4.100.3/node_modules/.bin/code-server
export E2E_VSIX=$extension/citewise.vsix E2E_WORK=$work E2E_WORKSPACE=$work/workspace
export E2E_ARTIFACTS=$artifacts E2E_PYTHON=$python E2E_INDEX=$work/index.sqlite
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

log "end-to-end test in VS Code $("$E2E_CODE_SERVER" --version | head -1) (budget left: $(remaining)s)"
timeout "$(remaining)" npm run test:e2e
if [ "${E2E_UPDATE_IMAGES:-0}" = 1 ]; then
  cp "$artifacts/vscode-completion.png" "$extension/images/completion.png"
  cp "$artifacts/vscode-suggestions-panel.png" "$extension/images/suggestions-panel.png"
  log "passed; screenshots in $artifacts, copied to $extension/images"
else
  log "passed; screenshots in $artifacts (E2E_UPDATE_IMAGES=1 copies them to $extension/images)"
fi
