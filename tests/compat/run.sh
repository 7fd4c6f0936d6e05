#!/usr/bin/env bash
# Compatibility test with ECMWF's official Python client (pyaviso): starts the given Tidings
# binary on a free loopback port with the memory store, runs pyaviso_compat.py against it,
# stops the server, and exits with the script's status.
#
# Usage: tests/compat/run.sh path/to/tidings
# Env:   PYAVISO_VENV     virtualenv to use/create (default ~/.cache/tidings/pyaviso-venv)
#        PYAVISO_VERSION  client version to test (default 2.4.2)
set -euo pipefail

BIN="${1:?usage: $0 path/to/tidings}"
[ -x "$BIN" ] || { echo "compat: $BIN is not an executable" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${PYAVISO_VENV:-$HOME/.cache/tidings/pyaviso-venv}"
VERSION="${PYAVISO_VERSION:-2.4.2}"
PY="$VENV/bin/python"

# shellcheck source=../support/venv.sh
source "$HERE/../support/venv.sh"
ensure_package "$VENV" pyaviso "$VERSION" compat || exit 2

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
LOG="$(mktemp "${TMPDIR:-/tmp}/tidings-compat.XXXXXX.log")"

# shellcheck source=../support/tidings-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/tidings-server.sh"
start_tidings "$BIN" "$PORT" "$LOG"
stop_server() {
  stop_tidings
  rm -f "$LOG"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Wait for GET /health (20 s), giving up at once if the server died.
if ! "$PY" - "$URL/health" "$SERVER_PID" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        with opener.open(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    time.sleep(0.2)
sys.exit(1)
EOF
then
  echo "compat: Tidings did not answer GET /health on $URL within 20 s; server log:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
fi
echo "compat: tidings up on $URL (memory store)"

status=0
TIDINGS_URL="$URL" timeout 90 "$PY" "$HERE/pyaviso_compat.py" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat: pyaviso_compat.py exited $status; last server log lines:" >&2
  tail -n 15 "$LOG" >&2
fi
exit "$status"
