#!/usr/bin/env bash
# Contract fuzz test: starts the given Tidings binary on a free loopback port with the memory
# store, runs Schemathesis against its own OpenAPI document (GET /api-docs/openapi.json), stops
# the server, and prints `contract: 1 passed, 0 failed` or `contract: 0 passed, 1 failed`.
#
# Checked on every response: no 5xx (not_a_server_error), body matches the documented schema
# for its status (response_schema_conformance), the status is documented
# (status_code_conformance), the content type is documented (content_type_conformance).
# Bounded: SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase, a per-request timeout and
# an overall `timeout`. Only 127.0.0.1 is contacted; Schemathesis 4 sends no telemetry and no
# report is uploaded (reports, if any, are local files).
#
# Watches never end by themselves, so POST /api/v1/watch, GET /api/v1/watch/{event_type} and
# the GET stream form GET /api/v1/replay/{event_type} are excluded; POST /api/v1/replay (which
# ends once the stored range is sent) and everything else (notify, schema, browse, admin
# including deletes and wipes, health, ready, metrics, landing) are fuzzed. The destination
# routes are excluded too: registering a destination resolves its host name, and generated
# names would leave loopback for DNS (tests/api/destinations.rs covers those routes).
#
# hooks.py (beside this file) adds request examples for the default event types so that notify,
# get, browse and the admin deletes also reach their 200 answers; run.sh seeds the store to match.
#
# Usage: tests/contract/run.sh path/to/tidings
# Env:   SCHEMATHESIS_VENV          virtualenv to use/create (default ~/.cache/tidings/schemathesis-venv)
#        SCHEMATHESIS_VERSION       version to install (default pinned below)
#        SCHEMATHESIS_MAX_EXAMPLES  cases per operation (default 25)
#        SCHEMATHESIS_SEED          seed (default 1, for a reproducible CI run; "random" for none)
#        CONTRACT_REPORT_DIR        if set, also write a JUnit report there
set -euo pipefail

BIN="${1:?usage: $0 path/to/tidings}"
[ -x "$BIN" ] || { echo "contract: $BIN is not an executable" >&2; echo "contract: 0 passed, 1 failed"; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/tidings/schemathesis-venv}"
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
SEED="${SCHEMATHESIS_SEED:-1}"
PY="$VENV/bin/python"

fail() {
  echo "contract: 0 passed, 1 failed"
  exit 1
}

# Loopback only: never a proxy, no telemetry.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
# (SCHEMATHESIS_TELEMETRY is a 3.x setting; 4.x has no telemetry. Kept as a guard.)
export SCHEMATHESIS_TELEMETRY=false PYTHONDONTWRITEBYTECODE=1

# shellcheck source=../support/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/venv.sh"
ensure_package "$VENV" schemathesis "$VERSION" contract || fail

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tidings-contract.XXXXXX")"
LOG="$WORK/server.log"

# shellcheck source=../support/tidings-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/tidings-server.sh"
start_tidings "$BIN" "$PORT" "$LOG"
stop_server() {
  stop_tidings
  rm -rf "$WORK"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Wait for GET /health (20 s), giving up at once if the server died; then seed the store with
# the notifications hooks.py's examples refer to (mars@1, mars@2, test_polygon@1).
if ! "$PY" - "$URL" "$SERVER_PID" <<'EOF'
import json, os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
deadline = time.monotonic() + 20
while True:
    try:
        with opener.open(url + "/health", timeout=2) as r:
            if r.status == 200:
                break
    except Exception:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        print("contract: the server exited", file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > deadline:
        print("contract: no 200 from GET /health within 20 s", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
mars = {"class": "od", "date": "20240101", "time": "0000", "step": "1", "domain": "g",
        "stream": "enfo", "expver": "0001"}
seed = [
    {"event_type": "mars", "identifier": mars},
    {"event_type": "mars", "identifier": dict(mars, step="2")},
    {"event_type": "test_polygon", "payload": {"note": "seed"},
     "identifier": {"polygon": "(1,1,2,2,1,3,1,1)", "date": "20240101", "time": "0000"}},
]
for body in seed:
    request = urllib.request.Request(url + "/api/v1/notification", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with opener.open(request, timeout=5) as r:
        if r.status != 200:
            print(f"contract: seeding answered {r.status}", file=sys.stderr)
            sys.exit(1)
EOF
then
  echo "contract: Tidings did not come up on $URL; server log:" >&2
  tail -n 20 "$LOG" >&2
  fail
fi
echo "contract: tidings up on $URL (memory store), schemathesis $VERSION"

# One worker: the run takes well under a minute anyway, and with two, CPython 3.11's AST
# constructor (used by Hypothesis to describe filters) can fail with a spurious
# "SystemError: AST constructor recursion depth mismatch" when two threads parse at once
# (CPython gh-106905), which Schemathesis reports as an error of whatever operation hit it.
ARGS=(
  run "$URL/api-docs/openapi.json"
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
  --exclude-path-regex '^/api/v1/(watch|destinations)'
  --exclude-operation-id get_api_v1_replay__event_type_
  --max-examples "$MAX_EXAMPLES"
  --continue-on-failure
  --workers 1
  --request-timeout 10
  --max-redirects 0
  --generation-database none
  --no-color
)
[ "$SEED" = random ] || ARGS+=(--seed "$SEED")
[ -z "${CONTRACT_REPORT_DIR:-}" ] || ARGS+=(--report junit --report-dir "$CONTRACT_REPORT_DIR")

echo "contract: SCHEMATHESIS_HOOKS=$HERE/hooks.py timeout 300 schemathesis ${ARGS[*]}"
# Run in a scratch directory: Schemathesis writes .hypothesis/ and .schemathesis/ there.
status=0
(cd "$WORK" && SCHEMATHESIS_HOOKS="$HERE/hooks.py" timeout 300 "$VENV/bin/schemathesis" "${ARGS[@]}") || status=$?

# What the server answered, by route and status (from its own request counter); a 5xx there
# fails the run too, whatever Schemathesis made of it.
metrics=0
"$PY" - "$URL" <<'EOF' || metrics=$?
import re, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    text = opener.open(sys.argv[1] + "/metrics", timeout=5).read().decode()
except Exception as e:
    print(f"contract: no metrics ({e})")
    sys.exit(0)
rows = {}
for m in re.finditer(r'^tidings_http_requests_total\{method="(\w+)",route="([^"]*)",status="(\d+)"\} (\d+)', text, re.M):
    rows.setdefault(f"{m[1]} {m[2]}", []).append(f"{m[3]}x{m[4]}")
print("contract: responses by operation (status x count):")
for op in sorted(rows, key=lambda k: (k.split()[1], k)):
    print(f"  {op:48} {' '.join(sorted(rows[op]))}")
if any(cell.startswith("5") for cells in rows.values() for cell in cells):
    print("contract: the server answered 5xx (see above)", file=sys.stderr)
    sys.exit(3)
EOF

if [ "$status" -eq 124 ]; then
  echo "contract: schemathesis did not finish within 300 s" >&2
fi
if [ "$metrics" -eq 3 ] && [ "$status" -eq 0 ]; then
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "contract: schemathesis exited $status" >&2
  if grep -qE '"level":"(WARN|ERROR)"' "$LOG"; then
    echo "contract: server warnings/errors (last 10):" >&2
    grep -E '"level":"(WARN|ERROR)"' "$LOG" | tail -n 10 >&2
  fi
  fail
fi
echo "contract: 1 passed, 0 failed"
