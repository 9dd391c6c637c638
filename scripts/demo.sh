#!/usr/bin/env bash
# `make demo`: the system end to end on this machine.
#
#  1. read real OONI measurements of every era and layout;
#  2. score them into the warehouse (fastpath-compatible verdicts + evidence);
#  3. (root) the censorship lab: the QA suite through the real probe, then a
#     campaign in which one of two ISPs blocks two sites for half a day; the
#     probe uploads to the lab's collector, the archive is scored into the
#     warehouse, and the blocking window is read back.
#
# Outputs land in demo-output/.  Nothing leaves this machine: the lab's
# traffic stays inside network namespaces it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
CS="$BIN/censorscope"
DATA=$(cd "${CENSORSCOPE_SHARED_DATA:-../shared/data}" && pwd)
OUT=$PWD/demo-output
rm -rf "$OUT" && mkdir -p "$OUT"
export CENSORSCOPE_HOME="$OUT/probe-home"
WAREHOUSE="$OUT/warehouse.duckdb"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Read every real OONI sample (JSON of 2014-2025, YAML-era reports) and count them"
$CS stats "$DATA/ooni-samples"

step "   One of them: Iran, DNS blocking of fa.wikipedia.org (2020)"
$CS show "$DATA/ooni-samples/bug_352.json"

step "   Convert them all, YAML-era reports included, into one zstd JSONL file"
$CS convert "$DATA/ooni-samples" -o "$OUT/samples.jsonl.zst"

step "2. Fingerprints: fetch OONI's current lists, or use the local reference copy"
FINGERPRINTS="$OUT/fingerprints"
if ! $CS fingerprints update --dir "$FINGERPRINTS" 2>/dev/null; then
  echo "no internet here: using the reference copy in $DATA/fingerprints"
  FINGERPRINTS="$DATA/fingerprints"
fi

step "   Score the samples into the warehouse"
$CS ingest --warehouse "$WAREHOUSE" --fingerprints "$FINGERPRINTS" "$DATA/ooni-samples"
$CS aggregate --warehouse "$WAREHOUSE" --by test_name
step "   Anomalies, newest first (confirmed = a blockpage fingerprint proves it)"
$CS measurements --warehouse "$WAREHOUSE" --anomaly --limit 10

if [ "$(id -u)" -ne 0 ]; then
  step "3. The censorship lab needs root (network namespaces): skipped"
  exit 0
fi

step "3. The censorship lab: every QA case through the real probe"
$CS lab qa --fingerprints "$FINGERPRINTS"

step "   Campaign: two ISPs, Lab Telecom A (AS64510) blocks two sites on 2024-03-02 06:00-18:00"
sed -n '/^networks:/,$p' src/censorscope/lab/scenarios/two-isps.yaml
$CS lab run two-isps --upload --archive "$OUT/lab-archive" -o "$OUT/lab.jsonl"
$CS archive ls --archive "$OUT/lab-archive" | tail -5

step "   Score what the collector archived and read the blocking window back"
$CS ingest --warehouse "$WAREHOUSE" --fingerprints "$FINGERPRINTS" "$OUT/lab-archive"
$CS aggregate --warehouse "$WAREHOUSE" --cc ML --by day,probe_asn,domain
$CS measurements --warehouse "$WAREHOUSE" --asn AS64510 \
  --domain www.independent-news.ml --oldest-first --limit 12
$CS measurements --warehouse "$WAREHOUSE" --asn AS64520 \
  --domain www.independent-news.ml --oldest-first --limit 12

step "   The founding report, replayed: Mali, 29 July 2018 (Orange Mali AS30985 vs SOTELMA AS21271)"
$CS lab run mali-2018 --upload --archive "$OUT/mali-archive" -o "$OUT/mali.jsonl"
$CS ingest --warehouse "$WAREHOUSE" --fingerprints "$FINGERPRINTS" "$OUT/mali-archive"
$CS measurements --warehouse "$WAREHOUSE" --asn AS30985 --test whatsapp \
  --since "2018-07-29" --until "2018-07-30" --oldest-first --limit 20
$CS aggregate --warehouse "$WAREHOUSE" --cc ML --since "2018-07-28" --until "2018-07-31" \
  --by day,probe_asn,test_name

step "Done. Outputs are in $OUT"
