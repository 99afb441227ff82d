# Shared by quickstart.sh and test.sh: system packages and a virtualenv.
# Usage: source scripts/_setup.sh EXTRAS   (EXTRAS e.g. "" or "[test]")
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "Error: '$*' needs root; run it as root or install sudo" >&2; exit 1; fi
}

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "== installing ffmpeg (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
fi

# The tests start their own PostgreSQL cluster and redis-server on 127.0.0.1
# (tests/backends.py): the server programs, not running services.
if [[ "$1" == *test* ]]; then
  missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
    || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  # The dashboard's tests drive a headless browser (tests/serve/test_dashboard.py).
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  # Shell completion is tested in each shell it supports (tests/cli/test_completion.py).
  command -v zsh >/dev/null || missing+=(zsh)
  command -v fish >/dev/null || missing+=(fish)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Error: mediaforge needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "== installing python3-venv (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# A script that sourced this and then runs another that sources it again
# (.ci/run, then scripts/test.sh) installs once: the marker is exported.
if [ "${MEDIAFORGE_INSTALLED:-}" != "$VENV$1" ]; then
  echo "== installing mediaforge$1 into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".$1"
  export MEDIAFORGE_INSTALLED="$VENV$1"
fi
