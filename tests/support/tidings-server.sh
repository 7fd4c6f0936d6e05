# Sourced by the end-to-end scripts (tests/compat, tests/contract): one Tidings on loopback
# with the memory store and none of the caller's TIDINGS* settings, stopped on exit.

# start_tidings BIN PORT LOG [NAME=VALUE...]: sets SERVER_PID; the extra assignments are
# settings of this run (e.g. TIDINGS__DELIVERY__ALLOW_PRIVATE_NETWORKS=true).
start_tidings() {
  local name
  for name in $(compgen -e | grep '^TIDINGS' || true); do unset "$name"; done
  env TIDINGS__LISTEN="127.0.0.1:$2" TIDINGS__BASE_URL="http://127.0.0.1:$2" TIDINGS__STORE__KIND=memory \
    "${@:4}" "$1" >"$3" 2>&1 &
  SERVER_PID=$!
}

# stop_tidings: TERM, then KILL after 5 s.
stop_tidings() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
}
