#!/usr/bin/env bash
# `make demo`: run the system end to end on this machine, on real data.
# Each step prints what it did; the outputs land in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=${CENSORSCOPE_SHARED_DATA:-../shared/data}
OUT=demo-output
rm -rf "$OUT" && mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Read every real OONI sample (JSON, YAML-era reports) and count them"
$BIN/censorscope stats "$DATA/ooni-samples"

step "Show one real measurement: Iran, DNS blocking of fa.wikipedia.org (2020)"
$BIN/censorscope show "$DATA/ooni-samples/bug_352.json"

step "Convert all samples, YAML-era reports included, into one zstd JSONL file"
$BIN/censorscope convert "$DATA/ooni-samples" -o "$OUT/samples.jsonl.zst"
$BIN/censorscope show "$OUT/samples.jsonl.zst" 2>/dev/null | grep -A6 http_invalid_request_line | head -14
