#!/usr/bin/env bash
# Installs the local stack's Python tooling (moto, aws-sam-translator, SAM CLI, cargo-lambda,
# linters), pinned by requirements.lock, into a venv cached outside the clone. Prints its path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
lock="$here/requirements.lock"
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
