#!/usr/bin/env bash
# Installs pinned Python tooling into a venv cached outside the clone and prints its path. By
# default the local stack's (moto, aws-sam-translator, SAM CLI, cargo-lambda, linters, pytest);
# given another lock file, that one's (infra/glue/requirements.lock: PySpark and DuckDB).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
lock="${1:-$here/requirements.lock}"
venv="$cache/venv-$(sha256sum "$lock" | cut -c1-16)"
if [[ ! -f "$venv/.complete" ]]; then
    echo "installing local stack tooling into $venv (first run only)" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$lock" >&2
    touch "$venv/.complete"
fi
echo "$venv"
