#!/usr/bin/env bash
# Installs a pinned binary crate from the registry into a folder cached outside the clone and
# prints the binary's path: install-crate.sh CRATE VERSION BINARY [cargo install flags...].
# Later runs find the cached binary.
set -euo pipefail
crate="$1" version="$2" binary="$3"
shift 3
cache="${SLUICE_CACHE:-$HOME/.cache/sluice}"
root="$cache/$crate-$version"
bin="$root/bin/$binary"
if [[ ! -x "$bin" ]]; then
    echo "building $crate $version into $root (first run only)" >&2
    mkdir -p "$cache"
    # A build folder of its own: the project's target/ is not touched, an interrupted build resumes.
    CARGO_TARGET_DIR="$cache/$crate-build" cargo install "$crate" --version "$version" --locked \
        --root "$root" "$@" >&2
    rm -rf "$cache/$crate-build"
fi
echo "$bin"
