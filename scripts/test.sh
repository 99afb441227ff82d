#!/usr/bin/env bash
# Install mediaforge with its test extra (and ffmpeg if missing), then run the
# whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh "[test]"
exec "$VENV/bin/python" -m pytest "$@"
