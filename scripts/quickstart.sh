#!/usr/bin/env bash
# Install mediaforge (and ffmpeg if missing), synthesize a sample clip, queue it
# on the embedded default (no config; SQLite job database and queue) and let a
# worker transcode it.
#
# The sample and its output live in quickstart/ in this folder (ignored by
# git; QUICKSTART_DIR names another): the sample is made once and reused, and
# each run replaces the output of the one before, so running this again adds
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh ""
MF="$VENV/bin/mediaforge"

folder=${QUICKSTART_DIR:-quickstart}
clip="$folder/sample clip.mov"
outputs="$folder/outputs"
mkdir -p "$folder"
if [ ! -s "$clip" ]; then
  echo "== synthesizing a 10 s 1080p sample: $clip"
  ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=10 \
    -f lavfi -i sine=frequency=440:duration=10 -c:v mpeg4 -q:v 4 -c:a aac -shortest \
    "$clip.part.mov" && mv "$clip.part.mov" "$clip"
fi
# Only this script writes here: the output of an earlier run goes, not the sample.
rm -rf "$outputs"

"$MF" doctor
job=$("$MF" submit "$clip" --preset h264-720p --output-dir "$outputs")
echo "== queued job $job; running a worker until the queue is empty"
"$MF" worker --burst
"$MF" status "$job"
"$MF" status "$job" --json | "$VENV/bin/python" -c \
  'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["status"]=="succeeded" else 1)'
bin=$(cd "$VENV/bin" && pwd)
echo "== done: the output is in $(cd "$outputs" && pwd)"
echo "== the command is $bin/mediaforge; 'source $bin/activate' puts it on your PATH"
