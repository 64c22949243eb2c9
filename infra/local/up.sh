#!/usr/bin/env bash
# Brings the local stack up: moto (with Sluice's patch layer), the SAM template deployed into it,
# and `cargo lambda watch` serving every function. Writes .local/endpoints.env. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
local_dir="$root/.local"
mkdir -p "$local_dir/logs"
cd "$root"
venv="$("$root/infra/local/bootstrap.sh")"
export PATH="$venv/bin:$PATH"

export MOTO_PORT="${SLUICE_MOTO_PORT:-4566}"
watch_port="${SLUICE_WATCH_PORT:-9000}"
export SLUICE_WATCH_URL="http://127.0.0.1:$watch_port"
export SLUICE_STACK_NAME="${SLUICE_STACK_NAME:-sluice}"
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_REGION="${AWS_REGION:-us-east-1}"

running() { [[ -f "$local_dir/$1.pid" ]] && kill -0 "$(cat "$local_dir/$1.pid")" 2>/dev/null; }
wait_for() { # name, seconds, command...
    local name="$1" seconds="$2"; shift 2
    for _ in $(seq "$((seconds * 5))"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "$name did not come up within ${seconds}s; see $local_dir/logs/" >&2
    return 1
}

if running moto && running watch && [[ -f "$local_dir/endpoints.env" ]]; then
    echo "local stack already up (make down to stop it)"
    exit 0
fi
"$root/infra/local/down.sh" >/dev/null 2>&1 || true

echo "building functions"
cargo build --quiet --bins

echo "starting moto on $AWS_ENDPOINT_URL"
setsid "$venv/bin/python" "$root/infra/local/stack_server.py" </dev/null >"$local_dir/logs/moto.log" 2>&1 &
echo $! >"$local_dir/moto.pid"
wait_for moto 60 curl -sf "$AWS_ENDPOINT_URL/moto-api/data.json"

echo "deploying infra/template.yaml as stack $SLUICE_STACK_NAME"
"$venv/bin/python" "$root/infra/local/deploy.py"

echo "starting cargo lambda watch on $SLUICE_WATCH_URL"
setsid cargo lambda watch --ignore-changes --invoke-port "$watch_port" \
    --env-file "$local_dir/functions.env" </dev/null >"$local_dir/logs/watch.log" 2>&1 &
echo $! >"$local_dir/watch.pid"
# A listing through the function URL proves the whole chain: watch, the function, moto.
wait_for "cargo lambda watch" 180 curl -sf "$SLUICE_WATCH_URL/lambda-url/records-api/?limit=1"

echo "local stack up; endpoints in .local/endpoints.env:"
sed 's/^/  /' "$local_dir/endpoints.env"
