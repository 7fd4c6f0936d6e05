# Sourced by the bench scripts: a work dir removed on exit (kept, with the logs of
# nats-server and the gateway, when KEEP_WORK=1) with every process started into PIDS, a
# free loopback port, and waiting for a URL to answer.
NATS="${NATS_SERVER_BIN:-nats-server}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "work dir kept: $WORK" >&2
    rm -rf "$WORK/nats"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url
  for _ in $(seq 1 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: $1 did not answer" >&2; return 1
}
