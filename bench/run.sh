#!/usr/bin/env bash
# Runs every benchmark scenario against a Tidings instance on JetStream (and, with
# STORE=memory, on the memory store), with the raw-JetStream baseline on the same
# nats-server. Everything on loopback, bounded in count and time; one JSON line per scenario.
#
#   bench/run.sh            full run (release build), as recorded in bench/RESULTS.md
#   bench/run.sh --smoke    tiny numbers, debug build: what CI runs so the tool cannot rot
#
# Env: STORE=jetstream|memory (default jetstream), BENCH_ARGS (extra tidings-bench options),
#      PART=all|core|push|history|streams|floor (default all: core = notify/replay/watch/idle,
#      push = push delivery; history = cost as the stream grows to 1M; streams = 10,000
#      watchers on 100 streams; floor = raw publish, GET /health and notify side by side;
#      the last three run on their own, not as part of all).
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
  ARGS=(--notifications 100000 --concurrency 64 --watchers 200 --rate 200 --watch-notifications 2000 --idle 1000 --time-limit 120s)
fi
BIN="$CARGO_TARGET_DIR/$PROFILE"
# shellcheck source=bench/common.sh
source bench/common.sh

NATS_PORT="$(free_port)"
"$NATS" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$NATS_PORT") 2>/dev/null && break; sleep 0.1; done

# PART=streams: 100 event types of a stream each (bench_s000 … bench_s099), for watch-streams.
SCHEMA_PATHS=""
if [ "${PART:-all}" = streams ] || [ "$SMOKE" = 1 ]; then
  SCHEMA_PATHS="$WORK/streams.yaml"
  for i in $(seq -f '%03g' 0 99); do
    printf 'bench_s%s:\n  topic: {base: bench_s%s, key_order: [name, seq]}\n  identifier:\n    name: {type: StringHandler, required: true}\n    seq: {type: StringHandler, required: false}\n' "$i" "$i"
  done >"$SCHEMA_PATHS"
  # The bundled schema too, for the other scenarios of a smoke run.
  SCHEMA_PATHS="$PWD/schema,$SCHEMA_PATHS"
fi

# The bundled schema unless a scenario needs more (an empty setting would name no file).
SCHEMA_ENV=()
[ -n "$SCHEMA_PATHS" ] && SCHEMA_ENV=("TIDINGS__SCHEMA__PATHS=$SCHEMA_PATHS")

PORT="$(free_port)"
env -u TIDINGS_CONFIG TIDINGS__LISTEN="127.0.0.1:$PORT" "${SCHEMA_ENV[@]}" TIDINGS__STORE__KIND="${STORE:-jetstream}" \
  TIDINGS__STORE__JETSTREAM__URL="nats://127.0.0.1:$NATS_PORT" TIDINGS__SSE__MAX_CONNECTIONS=20000 \
  TIDINGS__REPLAY__MAX_HISTORICAL_NOTIFICATIONS=1000000 \
  TIDINGS__DELIVERY__ALLOW_PRIVATE_NETWORKS=true \
  RUST_LOG=warn "$BIN/tidings" >"$WORK/tidings.log" 2>&1 &
TIDINGS_PID=$!
PIDS+=("$TIDINGS_PID")
wait_for "http://127.0.0.1:$PORT/ready"

echo "{\"machine\":\"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)\",\"store\":\"${STORE:-jetstream}\",\"profile\":\"$PROFILE\",\"nats\":\"$("$NATS" --version)\",\"date\":\"$(date -u +%FT%TZ)\"}"
bench() {
  # shellcheck disable=SC2086
  timeout 900 "$BIN/tidings-bench" --url "http://127.0.0.1:$PORT" --nats "nats://127.0.0.1:$NATS_PORT" \
    --pid "$TIDINGS_PID" --nats-pid "$NATS_PID" "$@" ${BENCH_ARGS:-}
}
# Push delivery: destinations on a receiver inside tidings-bench (loopback, ephemeral port),
# which is why the gateway runs with delivery.allow_private_networks.
if [ "$SMOKE" = 1 ]; then
  bench "${ARGS[@]}"
  bench --scenarios push,push-down,push-memory --push-destinations 2 --push-extra 3 \
    --push-notifications 20 --push-rate 50 --push-down 2s --push-drain 15s \
    --push-memory-destinations 20 --time-limit 30s
  bench --scenarios history --history-sizes 200,500 --concurrency 8 --time-limit 60s
  bench --scenarios watch-streams --stream-count 10 --watchers 20 --rate 5 --watch-notifications 10 --time-limit 60s
  bench --scenarios http-floor --notifications 100 --concurrency 4 --time-limit 30s
elif [ "${PART:-all}" = streams ]; then
  # 10,000 watchers on 100 streams x 10 notifications/s for 30 s.
  bench --scenarios watch-streams --stream-count 100 --watchers 10000 --rate 10 \
    --watch-notifications 300 --time-limit 300s
elif [ "${PART:-all}" = floor ]; then
  # The raw publish, the cheapest HTTP exchange (GET /health) and notify, same client and run.
  bench --scenarios baseline,http-floor,notify --notifications 100000 --concurrency 64
elif [ "${PART:-all}" = history ]; then
  # Alone on a fresh stream, so that every count is exact: 10k, 100k, 1M notifications.
  bench --scenarios history --history-sizes 10000,100000,1000000 --time-limit 900s
else
  if [ "${PART:-all}" != push ]; then
    bench "${ARGS[@]}"
    # The second watch target and the large idle measurement, on the same instance.
    bench --scenarios watch --watchers 2000 --rate 50 --watch-notifications 500 --time-limit 120s
    bench --scenarios idle --idle 10000 --time-limit 300s
  fi
  [ "${PART:-all}" = core ] && exit 0
  # 10 destinations x 200/s; the same with 990 more registered that never match; 5,000/s
  # sustained for 20 s and 6,000/s offered, to one receiver; the receiver down 30 s under 100/s (a schedule that outlasts the
  # outage: 1+2+5+10+10+10+10 s); memory with 10,000 destinations.
  bench --scenarios push --push-destinations 10 --push-notifications 4000 --push-rate 200
  bench --scenarios push --push-destinations 10 --push-extra 990 --push-notifications 4000 \
    --push-rate 200 --time-limit 300s
  bench --scenarios push --push-destinations 10 --push-notifications 10000 --push-rate 500
  bench --scenarios push --push-destinations 10 --push-notifications 6000 --push-rate 600
  bench --scenarios push-down --push-destinations 10 --push-notifications 3000 --push-rate 100 \
    --push-down 30s --push-schedule 1s,2s,5s,10s,10s,10s,10s --time-limit 180s
  bench --scenarios push-memory --push-memory-destinations 10000 --time-limit 300s
fi
