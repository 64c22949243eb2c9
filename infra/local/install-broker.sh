#!/usr/bin/env bash
# Installs the local Kafka-protocol broker (tansu, pinned, in-memory storage) into a folder cached
# outside the clone and prints the binary's path. The first build compiles from source (about 20
# minutes on 2 cores); later runs find the cached binary.
set -euo pipefail
version="0.6.0"
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
root="$cache/tansu-$version"
bin="$root/bin/tansu"
if [[ ! -x "$bin" ]]; then
    echo "building the local Kafka broker (tansu $version) into $root (first run only, ~20 min)" >&2
    mkdir -p "$cache"
    # A build folder of its own: the project's target/ is not touched, an interrupted build resumes.
    CARGO_TARGET_DIR="$cache/tansu-build" cargo install tansu --version "$version" --locked \
        --no-default-features --features dynostore --root "$root" >&2
    rm -rf "$cache/tansu-build"
fi
echo "$bin"
