# Sourced by the end-to-end scripts (tests/compat, tests/contract, tests/webhooks): a Python
# package pinned to one version in a virtualenv of its own, installed only when missing.

# ensure_package VENV PACKAGE VERSION LABEL: returns non-zero (after saying why) when the
# package cannot be installed; the interpreter is then $VENV/bin/python.
ensure_package() {
  local venv="$1" package="$2" version="$3" label="$4" python="$1/bin/python"
  if [ -x "$python" ] && "$python" - "$package" "$version" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
sys.exit(0 if version(sys.argv[1]) == sys.argv[2] else 1)
PYEOF
  then
    return 0
  fi
  echo "$label: installing $package==$version into $venv"
  [ -x "$python" ] || python3 -m venv "$venv" || { rm -rf "$venv"; python3 -m venv "$venv"; }
  "$python" -m pip install --quiet --disable-pip-version-check "$package==$version" || return 1
  "$python" - "$package" "$version" <<'PYEOF' >/dev/null 2>&1 || { echo "$label: $package==$version did not install" >&2; return 1; }
import sys
from importlib.metadata import version
sys.exit(0 if version(sys.argv[1]) == sys.argv[2] else 1)
PYEOF
}
