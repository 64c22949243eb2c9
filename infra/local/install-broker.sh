#!/usr/bin/env bash
# Installs the local Kafka-protocol broker (tansu, pinned, in-memory storage) into a folder cached
# outside the clone and prints the binary's path. The first build compiles from source (about 20
# minutes on 2 cores); later runs find the cached binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/install-crate.sh" tansu 0.6.0 tansu --no-default-features --features dynostore
