#!/usr/bin/env bash
# Installs code-server (VS Code in a browser) from the npm registry into a cache folder,
# for the end-to-end test. Works without GitHub: @vscode/ripgrep's download is pre-seeded
# with Debian's `rg`, and the native modules build against Debian's libkrb5-dev.
# Usage: install-code-server.sh DEST   (prints nothing else on success; idempotent)
set -euo pipefail

CODE_SERVER_VERSION=4.100.3          # VS Code 1.100.3; later releases need Node.js 22
RIPGREP_PACKAGE_VERSION=1.15.11       # what code-server 4.100.3's lib/vscode pins
RIPGREP_RELEASE=v13.0.0-10            # VERSION in @vscode/ripgrep 1.15.11's lib/postinstall.js
RIPGREP_TARGET=x86_64-unknown-linux-musl

dest=${1:?usage: install-code-server.sh DEST}
if [ -x "$dest/node_modules/.bin/code-server" ]; then
  exit 0
fi

missing=()
for pkg in libkrb5-dev ripgrep build-essential python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

tmp=$(node -p 'require("os").tmpdir()')
cache="$tmp/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION"
tarball="$cache/ripgrep-$RIPGREP_RELEASE-$RIPGREP_TARGET.tar.gz"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  stage=$(mktemp -d)
  cp "$(command -v rg)" "$stage/rg"
  tar czf "$tarball" -C "$stage" rg
  rm -rf "$stage"
fi

mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"private": true}' > package.json
# code-server's postinstall runs `npm install` in lib/vscode, whose native modules build
# from source; npm 11 skips dependency install scripts unless they are allowed.
export npm_config_yes=true npm_config_unsafe_perm=true npm_config_dangerously_allow_all_scripts=true
npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION"
test -x node_modules/.bin/code-server
