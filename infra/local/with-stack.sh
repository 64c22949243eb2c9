#!/usr/bin/env bash
# Runs a command against the local stack: reuses a running one, otherwise starts it for the
# command and stops it afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
local_dir="$here/../../.local"
alive() { [[ -f "$local_dir/$1.pid" ]] && kill -0 "$(cat "$local_dir/$1.pid")" 2>/dev/null; }
if alive moto && alive kafka && alive watch && alive poller && [[ -f "$local_dir/endpoints.env" ]]; then
    exec "$@"
fi
trap '"$here/down.sh" >/dev/null' EXIT
"$here/up.sh"
"$@"
