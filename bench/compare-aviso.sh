#!/usr/bin/env bash
# Tidings and aviso-server side by side: the same tidings-bench scenarios against each, on
# the same nats-server binary, the same machine, in one run, each with the raw-JetStream
# baseline of its own nats-server (so every figure also has its same-run ratio). Loopback
# only, bounded in count and time; one JSON line per scenario, tagged with the gateway.
#
#   AVISO_BIN=/path/to/aviso_server bench/compare-aviso.sh
#
# aviso-server is not built by this repository: install the release to compare with
# yourself (README, "Comparing with aviso-server", says how it was done for bench/RESULTS.md)
# and name its binary in AVISO_BIN. Each gateway gets a fresh nats-server (they would
# otherwise both claim the `mars.>` subjects). aviso runs with the configuration written
# below: the values of its shipped configuration/config.yaml, its own `mars` schema without
# the auth block, JetStream on the nats-server, and its historical-replay cap raised to the
# bench's count as Tidings' is.
#
# Env: AVISO_VERSION (recorded in the first line; the binary has no --version flag),
#      RUNS (default 3), NOTIFICATIONS (default 20000: aviso's replay paces itself with its
#      default batch delay, so 100,000 would take minutes per run).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${AVISO_BIN:?name the aviso-server binary in AVISO_BIN (see the header of this script)}"
RUNS="${RUNS:-3}"
NOTIFICATIONS="${NOTIFICATIONS:-20000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
cargo build --locked --release --bins -q
BIN="$CARGO_TARGET_DIR/release"
# shellcheck source=bench/common.sh
source bench/common.sh

start_nats() { # sets NATS_PORT and NATS_PID
  NATS_PORT="$(free_port)"
  rm -rf "$WORK/nats"
  "$NATS" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
  NATS_PID=$!
  PIDS+=("$NATS_PID")
  for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$NATS_PORT") 2>/dev/null && break; sleep 0.1; done
}

aviso_config() { # port nats_port
  cat <<EOF
application:
  host: "127.0.0.1"
  port: $1
  base_url: "http://127.0.0.1:$1"
  static_files_path: "$WORK/static"
watch_endpoint:
  sse_heartbeat_interval_sec: 30
  connection_max_duration_sec: 3600
  replay_batch_size: 100
  max_historical_notifications: 1000000
  replay_batch_delay_ms: 100
  concurrent_notification_processing: 15
notification_backend:
  kind: jetstream
  jetstream:
    nats_url: "nats://127.0.0.1:$2"
auth:
  enabled: false
logging:
  level: warn
  format: json
notification_schema:
  mars:
    payload:
      required: false
    topic:
      base: "mars"
      key_order: ["class", "expver", "domain", "date", "time", "stream", "step"]
    identifier:
      class: {type: StringHandler, max_length: 2, required: true}
      date: {type: DateHandler, canonical_format: "%Y%m%d", required: false}
      domain: {type: EnumHandler, values: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z"], required: false}
      expver: {type: ExpverHandler, default: "0001", required: false}
      step: {type: IntHandler, range: [0, 100000], required: false}
      stream: {type: StringHandler, required: false}
      time: {type: TimeHandler, required: false}
EOF
}

start_gateway() { # name; sets PORT and GATEWAY_PID
  PORT="$(free_port)"
  case "$1" in
    tidings)
      env -u TIDINGS_CONFIG TIDINGS__LISTEN="127.0.0.1:$PORT" TIDINGS__STORE__KIND=jetstream \
        TIDINGS__STORE__JETSTREAM__URL="nats://127.0.0.1:$NATS_PORT" TIDINGS__SSE__MAX_CONNECTIONS=20000 \
        TIDINGS__REPLAY__MAX_HISTORICAL_NOTIFICATIONS=1000000 RUST_LOG=warn \
        "$BIN/tidings" >"$WORK/tidings.log" 2>&1 &
      ;;
    aviso)
      mkdir -p "$WORK/static"
      aviso_config "$PORT" "$NATS_PORT" >"$WORK/aviso.yaml"
      AVISOSERVER_CONFIG_FILE="$WORK/aviso.yaml" "$AVISO_BIN" >"$WORK/aviso.log" 2>&1 &
      ;;
  esac
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_for "http://127.0.0.1:$PORT/ready"
}

stop() { kill "$GATEWAY_PID" "$NATS_PID" 2>/dev/null || true; wait "$GATEWAY_PID" "$NATS_PID" 2>/dev/null || true; }

echo "{\"machine\":\"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)\",\"nats\":\"$("$NATS" --version)\",\"aviso\":\"${AVISO_VERSION:-unknown}\",\"date\":\"$(date -u +%FT%TZ)\"}"
for run in $(seq 1 "$RUNS"); do
  for gateway in tidings aviso; do
    start_nats
    start_gateway "$gateway"
    timeout 900 "$BIN/tidings-bench" --url "http://127.0.0.1:$PORT" --nats "nats://127.0.0.1:$NATS_PORT" \
      --pid "$GATEWAY_PID" --nats-pid "$NATS_PID" --scenarios baseline,notify,replay,watch \
      --notifications "$NOTIFICATIONS" --concurrency 64 --watchers 200 --rate 200 \
      --watch-notifications 2000 --time-limit 300s |
      sed "s/^{/{\"gateway\":\"$gateway\",\"run\":$run,/"
    stop
  done
done
