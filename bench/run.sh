#!/usr/bin/env bash
# Runs every benchmark scenario against a Tidings instance on JetStream (and, with
# STORE=memory, on the memory store), with the raw-JetStream baseline on the same
# nats-server. Everything on loopback, bounded in count and time; one JSON line per scenario.
#
#   bench/run.sh            full run (release build), as recorded in bench/RESULTS.md
#   bench/run.sh --smoke    tiny numbers, debug build: what CI runs so the tool cannot rot
#
# Env: STORE=jetstream|memory (default jetstream), BENCH_ARGS (extra tidings-bench options).
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
if [ "$SMOKE" = 1 ]; then
  PROFILE=debug
  cargo build --locked --bins -q
  ARGS=(--notifications 300 --concurrency 8 --watchers 10 --rate 100 --watch-notifications 100 --idle 50 --time-limit 30s)
else
  PROFILE=release
  cargo build --locked --release --bins -q
  ARGS=(--notifications 20000 --concurrency 64 --watchers 200 --rate 200 --watch-notifications 2000 --idle 1000 --time-limit 120s)
fi
BIN="$CARGO_TARGET_DIR/$PROFILE"
NATS="${NATS_SERVER_BIN:-nats-server}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url
  for _ in $(seq 1 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: $1 did not answer" >&2; return 1
}

NATS_PORT="$(free_port)"
"$NATS" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$NATS_PORT") 2>/dev/null && break; sleep 0.1; done

PORT="$(free_port)"
env -u TIDINGS_CONFIG TIDINGS__LISTEN="127.0.0.1:$PORT" TIDINGS__STORE__KIND="${STORE:-jetstream}" \
  TIDINGS__STORE__JETSTREAM__URL="nats://127.0.0.1:$NATS_PORT" TIDINGS__SSE__MAX_CONNECTIONS=20000 \
  TIDINGS__REPLAY__MAX_HISTORICAL_NOTIFICATIONS=1000000 \
  RUST_LOG=warn "$BIN/tidings" >"$WORK/tidings.log" 2>&1 &
TIDINGS_PID=$!
PIDS+=("$TIDINGS_PID")
wait_for "http://127.0.0.1:$PORT/ready"

echo "{\"machine\":\"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)\",\"store\":\"${STORE:-jetstream}\",\"profile\":\"$PROFILE\",\"nats\":\"$("$NATS" --version)\",\"date\":\"$(date -u +%FT%TZ)\"}"
bench() {
  # shellcheck disable=SC2086
  timeout 900 "$BIN/tidings-bench" --url "http://127.0.0.1:$PORT" --nats "nats://127.0.0.1:$NATS_PORT" \
    --pid "$TIDINGS_PID" "$@" ${BENCH_ARGS:-}
}
bench "${ARGS[@]}"
if [ "$SMOKE" = 0 ]; then
  # The second watch target and the large idle measurement, on the same instance.
  bench --scenarios watch --watchers 2000 --rate 50 --watch-notifications 500 --time-limit 120s
  bench --scenarios idle --idle 10000 --time-limit 300s
fi
