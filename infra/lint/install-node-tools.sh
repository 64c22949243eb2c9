#!/usr/bin/env bash
# Installs the pinned Node.js linters of infra/lint/package-lock.json into a folder cached outside
# the clone and prints the folder of their commands (node_modules/.bin).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
dir="$cache/node-$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
if [[ ! -f "$dir/.complete" ]]; then
    echo "installing the Node.js linters into $dir (first run only)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
    touch "$dir/.complete"
fi
echo "$dir/node_modules/.bin"
