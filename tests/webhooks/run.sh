#!/usr/bin/env bash
# Webhook signatures checked by an independent implementation: the `standardwebhooks` Python
# package verifies what Tidings sends to a receiver this script starts on 127.0.0.1. Starts the
# given binary on a free loopback port (memory store, private networks allowed for the local
# receiver), runs verify.py, stops the server, and exits with the script's status.
#
# Usage: tests/webhooks/run.sh path/to/tidings
# Env:   WEBHOOKS_VENV  virtualenv to use/create (default ~/.cache/tidings/webhooks-venv)
set -euo pipefail

BIN="${1:?usage: $0 path/to/tidings}"
[ -x "$BIN" ] || { echo "webhooks: $BIN is not an executable" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${WEBHOOKS_VENV:-$HOME/.cache/tidings/webhooks-venv}"
VERSION=1.1.0
PY="$VENV/bin/python"

# shellcheck source=../support/venv.sh
source "$HERE/../support/venv.sh"
ensure_package "$VENV" standardwebhooks "$VERSION" webhooks || exit 2

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$(mktemp "${TMPDIR:-/tmp}/tidings-webhooks.XXXXXX.log")"

# shellcheck source=../support/tidings-server.sh
source "$HERE/../support/tidings-server.sh"
start_tidings "$BIN" "$PORT" "$LOG" TIDINGS__DELIVERY__ALLOW_PRIVATE_NETWORKS=true
stop_server() {
  stop_tidings
  rm -f "$LOG"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

if ! "$PY" "$HERE/verify.py" "http://127.0.0.1:$PORT" "$SERVER_PID"; then
  echo "webhooks: failed; server log:" >&2
  tail -n 40 "$LOG" >&2
  exit 1
fi
