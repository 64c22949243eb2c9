#!/usr/bin/env bash
# Brings the local stack up: moto (with Sluice's patch layer and a local Glue that runs the job's
# script with PySpark), a Kafka-protocol broker (tansu,
# in memory) with the template's topics, the SAM template deployed into moto, `cargo lambda watch`
# serving every function, the poller that plays the MSK event source mappings, and the bridge's
# standalone server (logs-server, with the bridge function's environment). Writes
# .local/endpoints.env. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
local_dir="$root/.local"
mkdir -p "$local_dir/logs"
cd "$root"
venv="$("$root/infra/local/bootstrap.sh")"
# The local Glue runs the job's script with this PySpark.
glue_venv="$("$root/infra/local/bootstrap.sh" "$root/infra/glue/requirements.lock")"
export SLUICE_GLUE_PYTHON="$glue_venv/bin/python"
# Scheduled rules (the run reconciler's) fire this often locally, whatever their rate.
export SLUICE_SCHEDULE_TICK="${SLUICE_SCHEDULE_TICK:-5}"
# The local SES keeps each mail it sends here, one JSON file per mail.
export SLUICE_MAIL_DIR="$local_dir/mail"
tansu="$("$root/infra/local/install-broker.sh")"
export PATH="$venv/bin:$PATH"

export MOTO_PORT="${SLUICE_MOTO_PORT:-4566}"
watch_port="${SLUICE_WATCH_PORT:-9000}"
export SLUICE_WATCH_URL="http://127.0.0.1:$watch_port"
export SLUICE_FUNCTION_URL_PORT="${SLUICE_FUNCTION_URL_PORT:-9001}"
function_urls="http://127.0.0.1:$SLUICE_FUNCTION_URL_PORT"
export SLUICE_STACK_NAME="${SLUICE_STACK_NAME:-sluice}"
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_REGION="${AWS_REGION:-us-east-1}"
kafka_port="${SLUICE_KAFKA_PORT:-9092}"
export SLUICE_BRIDGE_PORT="${SLUICE_BRIDGE_PORT:-9002}"
bridge_url="http://127.0.0.1:$SLUICE_BRIDGE_PORT"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$kafka_port"

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

if running moto && running kafka && running watch && running poller && running bridge && [[ -f "$local_dir/endpoints.env" ]]; then
    echo "local stack already up (make down to stop it)"
    exit 0
fi
"$root/infra/local/down.sh" >/dev/null 2>&1 || true

# SLUICE_WATCH_RELEASE=1 serves release builds (what the benchmarks measure); debug otherwise.
profile=(); target_dir="$root/target/debug"
if [[ "${SLUICE_WATCH_RELEASE:-}" == 1 ]]; then profile=(--release); target_dir="$root/target/release"; fi

echo "building functions ${profile[*]}"
cargo build --quiet --bins "${profile[@]}"

echo "starting moto on $AWS_ENDPOINT_URL"
setsid "$venv/bin/python" "$root/infra/local/stack_server.py" </dev/null >"$local_dir/logs/moto.log" 2>&1 &
echo $! >"$local_dir/moto.pid"
wait_for moto 60 curl -sf "$AWS_ENDPOINT_URL/moto-api/data.json"

echo "starting the Kafka broker on $KAFKA_BOOTSTRAP_SERVERS"
setsid "$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" --storage-engine memory://tansu/ \
    </dev/null >"$local_dir/logs/kafka.log" 2>&1 &
echo $! >"$local_dir/kafka.pid"
wait_for kafka 30 "$tansu" topic list --broker "tcp://$KAFKA_BOOTSTRAP_SERVERS"

echo "deploying infra/template.yaml as stack $SLUICE_STACK_NAME"
"$venv/bin/python" "$root/infra/local/deploy.py"

# The topics the event source mappings read are the ones the bridge writes.
for topic in $("$venv/bin/python" -c 'import json,sys; print(" ".join(sorted({m["topic"] for m in json.load(open(sys.argv[1]))})))' "$local_dir/msk-mappings.json"); do
    "$tansu" topic create --broker "tcp://$KAFKA_BOOTSTRAP_SERVERS" --partitions 3 "$topic" >/dev/null
done

echo "starting cargo lambda watch on $SLUICE_WATCH_URL"
setsid cargo lambda watch --ignore-changes "${profile[@]}" --invoke-port "$watch_port" \
    --env-file "$local_dir/functions.env" </dev/null >"$local_dir/logs/watch.log" 2>&1 &
echo $! >"$local_dir/watch.pid"
echo "${profile[*]:-debug}" | tr -d - >"$local_dir/watch.mode"
# A listing through the function URL proves the whole chain: front end, watch, the function, moto.
wait_for "cargo lambda watch" 180 curl -sf "$function_urls/lambda-url/records-api/?limit=1"
# A 403 for a request without a key proves the bridge started: keys read, producer created.
wait_for "logs-bridge" 60 bash -c "curl -s -o /dev/null -w '%{http_code}' -X POST '$function_urls/lambda-url/logs-bridge/api/v1/logs/app' | grep -q 403"

echo "starting the local MSK event source poller"
SLUICE_MSK_MAPPINGS="$local_dir/msk-mappings.json" SLUICE_MSK_DELIVERIES="$local_dir/msk-deliveries" \
    setsid "$target_dir/local-msk-poller" </dev/null >"$local_dir/logs/poller.log" 2>&1 &
echo $! >"$local_dir/poller.pid"

echo "starting the standalone bridge on $bridge_url"
(set -a; source "$local_dir/functions.env"; set +a
    LOGS_LISTEN="127.0.0.1:$SLUICE_BRIDGE_PORT" exec setsid "$target_dir/logs-server") \
    </dev/null >"$local_dir/logs/bridge.log" 2>&1 &
echo $! >"$local_dir/bridge.pid"
wait_for "logs-server" 30 bash -c "curl -s -o /dev/null -w '%{http_code}' -X POST '$bridge_url/api/v1/logs/app' | grep -q 403"

echo "local stack up; endpoints in .local/endpoints.env:"
sed 's/^/  /' "$local_dir/endpoints.env"
