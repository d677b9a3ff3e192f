#!/usr/bin/env bash
# Runs faultline locally: NATS (JetStream, fsync on every write) and Redis with
# their data under .run/, the streams provisioned, then every service in
# dependency order, each started only when the ones before it are SERVING.
# Ctrl-C stops everything cleanly (services first, then Redis and NATS).
#
# Environment: NATS_PORT (4222), NATS_MONITOR_PORT (8222), REDIS_PORT (6379),
# NATS_NAMESPACE (faultline), PROFILE (debug), DEMO (1: run the example agent
# and send sample errors through the pipeline; 0: just the stack). Any
# FAULTLINE_* variable is passed to the services.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$ROOT/.run"
PROFILE="${PROFILE:-debug}"
BIN="$ROOT/target/$PROFILE"
NATS_PORT="${NATS_PORT:-4222}"
NATS_MONITOR_PORT="${NATS_MONITOR_PORT:-8222}"
REDIS_PORT="${REDIS_PORT:-6379}"
NATS_SERVER="${NATS_SERVER_BIN:-$ROOT/.tools/bin/nats-server}"
SERVICES=(health-checker error-ingest injection-filter task-dispatcher result-publisher)
DEMO="${DEMO:-1}"
declare -A GRPC

export NATS_URL="nats://127.0.0.1:$NATS_PORT"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export NATS_NAMESPACE="${NATS_NAMESPACE:-faultline}"

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }
die() { printf 'run-stack: %s\n' "$*" >&2; exit 1; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for p in "$NATS_PORT" "$NATS_MONITOR_PORT" "$REDIS_PORT"; do
    if port_busy "$p"; then
        die "port $p on 127.0.0.1 is already in use (another NATS or Redis?). Stop it, or set NATS_PORT / NATS_MONITOR_PORT / REDIS_PORT."
    fi
done
[[ -x "$NATS_SERVER" ]] || die "nats-server not found at $NATS_SERVER: run \`make tools\`"
command -v redis-server >/dev/null || die "redis-server not found: run \`make tools\`"
for s in "${SERVICES[@]}"; do
    [[ -x "$BIN/faultline-$s" ]] || die "$BIN/faultline-$s not built: run \`make build\`"
done

mkdir -p "$RUN/nats" "$RUN/redis" "$RUN/logs"
PIDS=()
STOPPED=0
cleanup() {
    (( STOPPED == 0 )) || return 0
    STOPPED=1
    echo
    bold "stopping"
    local i
    for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null || true
        wait "${PIDS[$i]}" 2>/dev/null || true
    done
    pkill -P $$ -x tail 2>/dev/null || true
    say "stopped; data kept in .run/ (make clean removes it)"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

cat > "$RUN/nats.conf" <<CONF
server_name: faultline-dev
listen: 127.0.0.1:$NATS_PORT
http: 127.0.0.1:$NATS_MONITOR_PORT
jetstream {
  store_dir: "$RUN/nats"
  # fsync every write: a single node must not lose acked messages on an OS crash
  sync_interval: always
}
CONF

wait_for() { # what, seconds, command...
    local what=$1 secs=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        (( SECONDS < deadline )) || die "$what did not come up within ${secs}s (logs: .run/logs/)"
        sleep 0.2
    done
}

bold "faultline: starting on 127.0.0.1 (namespace $NATS_NAMESPACE)"
setsid "$NATS_SERVER" -c "$RUN/nats.conf" > "$RUN/logs/nats.log" 2>&1 &
PIDS+=($!)
setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" \
    --appendonly yes --save "" > "$RUN/logs/redis.log" 2>&1 &
PIDS+=($!)
wait_for "NATS" 20 curl -fsS "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true"
say "NATS     $NATS_URL  (monitoring http://127.0.0.1:$NATS_MONITOR_PORT, JetStream data .run/nats)"
wait_for "Redis" 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT && printf 'PING\r\n' >&3 && head -c5 <&3 | grep -q PONG"
say "Redis    $REDIS_URL  (AOF in .run/redis)"

"$BIN/faultline" init > "$RUN/logs/init.log" 2>&1 || { cat "$RUN/logs/init.log"; die "provisioning failed"; }
say "streams  provisioned ($(grep -c -E 'created|unchanged|updated' "$RUN/logs/init.log") declared; see .run/logs/init.log)"

# A local API key for error-ingest, made once and kept in .run/ (mode 0600).
if [[ ! -s "$RUN/api-key" ]]; then
    rm -f "$RUN/api-keys"
    (umask 077; "$BIN/faultline" apikey --name local --append "$RUN/api-keys" > "$RUN/api-key" 2>/dev/null)
fi
export FAULTLINE_INGEST__API_KEYS_FILE="$RUN/api-keys"

# The scan seal key the injection-filter and the task-dispatcher share (made once, 0600):
# the dispatcher takes the filter's sealed tasks without scanning them a second time.
if [[ ! -s "$RUN/seal-key" ]]; then
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$RUN/seal-key")
fi
export FAULTLINE_FILTER__SEAL_KEY_FILE="$RUN/seal-key"

for s in "${SERVICES[@]}"; do
    setsid "$BIN/faultline-$s" > "$RUN/logs/$s.log" 2>&1 &
    PIDS+=($!)
    wait_for "$s" 60 "$BIN/faultline-$s" healthcheck --service "$s" --timeout 500ms
    grpc=$("$BIN/faultline-$s" --dump-config | awk -v k="[services.${s//-/_}]" '$0==k{f=1;next} /^\[/{f=0} f&&/^grpc_addr/{gsub(/"/,"",$3);print $3}')
    admin=$("$BIN/faultline-$s" --dump-config | awk -v k="[services.${s//-/_}]" '$0==k{f=1;next} /^\[/{f=0} f&&/^admin_addr/{gsub(/"/,"",$3);print $3}')
    GRPC[$s]=$grpc
    say "$(printf '%-17s SERVING  gRPC %-16s admin http://%s  (log .run/logs/%s.log)' "$s" "$grpc" "$admin" "$s")"
done

if [[ "$DEMO" != 0 ]]; then
    [[ -x "$BIN/examples/agent" ]] || die "$BIN/examples/agent not built: run \`make build\`"
    echo
    bold "demo: an agent, and errors from five languages through the pipeline"
    : > "$RUN/logs/agent.out"
    setsid "$BIN/examples/agent" --endpoint "http://${GRPC[task-dispatcher]}" \
        --results-endpoint "http://${GRPC[result-publisher]}" --name demo-agent --work-ms 300 \
        > "$RUN/logs/agent.out" 2> "$RUN/logs/agent.log" &
    PIDS+=($!)
    tail -n +1 -F "$RUN/logs/agent.out" 2>/dev/null | sed -u 's/^/  agent | /' &
    sleep 1
    "$BIN/faultline" demo --api-key-file "$RUN/api-key" --wait 60s || true
fi

sleep 1
echo
"$BIN/faultline" status || true
echo
bold "faultline is up. Ctrl-C stops everything."
say "status:  target/$PROFILE/faultline status    |  curl http://127.0.0.1:9090/v1/status"
say "health:  target/$PROFILE/faultline-task-dispatcher healthcheck"
say "metrics: curl http://127.0.0.1:9093/metrics"
say "report an error (API key in .run/api-key):"
say "  curl -s -H \"Authorization: Bearer \$(cat .run/api-key)\" -H 'Content-Type: application/json' \\"
say "       -d '{\"error\": \"KeyError: user_id\", \"environment\": \"staging\"}' http://127.0.0.1:8080/v1/errors"
echo
# Follow the services' logs until Ctrl-C, or until a process of the stack exits.
tail -q -n 0 -F $(printf "$RUN/logs/%s.log " "${SERVICES[@]}") 2>/dev/null | sed -u 's/^/  | /' &
while true; do
    for pid in "${PIDS[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            bold "a process of the stack exited (pid $pid); see .run/logs/"
            exit 1
        fi
    done
    sleep 1
done
