#!/usr/bin/env bash
# Stops exactly what up.sh started: the process groups recorded in .local/*.pid.
set -uo pipefail
local_dir="$(cd "$(dirname "$0")/../.." && pwd)/.local"
for name in bridge poller watch kafka moto; do
    pid_file="$local_dir/$name.pid"
    [[ -f "$pid_file" ]] || continue
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
        # watch starts each function in a process group of its own.
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        echo "stopped $name"
    fi
    rm -f "$pid_file"
done
rm -f "$local_dir/endpoints.env" "$local_dir/functions.env" "$local_dir/msk-mappings.json"
rm -rf "$local_dir/msk-deliveries"
