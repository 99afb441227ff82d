#!/usr/bin/env bash
# Install mediaforge (and ffmpeg if missing), synthesize a sample clip, queue it
# on the embedded default (no config; SQLite job database and queue) and let a
# worker transcode it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh ""
MF="$VENV/bin/mediaforge"

work=$(mktemp -d "${TMPDIR:-/tmp}/mediaforge-quickstart.XXXXXX")
clip="$work/sample clip.mov"
echo "== synthesizing a 10 s 1080p sample: $clip"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=10 \
  -f lavfi -i sine=frequency=440:duration=10 -c:v mpeg4 -q:v 4 -c:a aac -shortest "$clip"

"$MF" doctor
job=$("$MF" submit "$clip" --preset h264-720p)
echo "== queued job $job; running a worker until the queue is empty"
"$MF" worker --burst
"$MF" status "$job"
"$MF" status "$job" --json | "$VENV/bin/python" -c \
  'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["status"]=="succeeded" else 1)'
echo "== done: outputs are in $work"
