#!/usr/bin/env bash
# Real-browser tests: Chromium's EventSource on Tidings' GET watch, server-side close after
# sse.max_duration, automatic reconnect and Last-Event-ID resume (tests/browser/eventsource.mjs);
# the operator console against Tidings on a real nats-server, screenshots of every page
# (tests/browser/console.mjs; needs nats-server on PATH or NATS_SERVER_BIN).
# Installs what is missing (Debian's chromium, playwright-core from npm) and is idempotent.
#
# Usage: tests/browser/run.sh path/to/tidings
# Env:   TIDINGS_BROWSER_DEPS  where playwright-core is installed (default ~/.cache/tidings/browser-deps)
#        TIDINGS_CHROMIUM      browser executable (default /usr/bin/chromium)
set -euo pipefail

BIN="${1:?usage: $0 path/to/tidings}"
[ -x "$BIN" ] || { echo "browser: $BIN is not an executable" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEPS="${TIDINGS_BROWSER_DEPS:-$HOME/.cache/tidings/browser-deps}"
CHROMIUM="${TIDINGS_CHROMIUM:-/usr/bin/chromium}"
PLAYWRIGHT_VERSION=1.65.1   # playwright-core only: it drives the system Chromium, downloads nothing

command -v node >/dev/null 2>&1 || { echo "browser: node (>= 20) is required" >&2; exit 2; }
command -v npm >/dev/null 2>&1 || { echo "browser: npm is required" >&2; exit 2; }

if [ ! -x "$CHROMIUM" ]; then
  if [ "$CHROMIUM" != /usr/bin/chromium ]; then
    echo "browser: TIDINGS_CHROMIUM=$CHROMIUM is not an executable" >&2; exit 2
  fi
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "browser: /usr/bin/chromium is missing and installing it needs root (or sudo): apt-get install chromium" >&2
    exit 2
  fi
  echo "browser: installing chromium (apt-get install chromium)"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] || { echo "browser: chromium did not install" >&2; exit 2; }
fi

have_playwright() {
  [ -f "$DEPS/node_modules/playwright-core/package.json" ] &&
    [ "$(node -p 'require(process.argv[1]).version' "$DEPS/node_modules/playwright-core/package.json" 2>/dev/null)" = "$PLAYWRIGHT_VERSION" ]
}
if ! have_playwright; then
  echo "browser: installing playwright-core@$PLAYWRIGHT_VERSION into $DEPS"
  mkdir -p "$DEPS"
  [ -f "$DEPS/package.json" ] || echo '{"name":"tidings-browser-deps","private":true}' >"$DEPS/package.json"
  # Never `playwright install`: it downloads browsers, which this test does not use.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DEPS" --no-audit --no-fund --silent \
    "playwright-core@$PLAYWRIGHT_VERSION"
  have_playwright || { echo "browser: playwright-core@$PLAYWRIGHT_VERSION did not install" >&2; exit 2; }
fi

echo "browser: $("$CHROMIUM" --version 2>/dev/null | head -n1), playwright-core $PLAYWRIGHT_VERSION"
export TIDINGS_BROWSER_DEPS="$DEPS" TIDINGS_CHROMIUM="$CHROMIUM"
NODE_PATH="$DEPS/node_modules" node "$HERE/eventsource.mjs" "$BIN"
NODE_PATH="$DEPS/node_modules" node "$HERE/console.mjs" "$BIN"
