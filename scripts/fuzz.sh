#!/usr/bin/env bash
# Runs the front end's libFuzzer target under ASan + UBSan for SECONDS,
# seeded with every .sora file of the repository. Exits non-zero on a
# finding (crash, sanitizer report, leak, timeout, out-of-memory).
#   scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
seeds="$build/fuzz-seeds"
corpus="$build/fuzz-corpus"
mkdir -p "$seeds" "$corpus"
find "$root/examples" "$root/tests" -name '*.sora' -exec cp {} "$seeds/" \;
echo "fuzz: $(ls "$seeds" | wc -l) seed files, ${seconds}s"
# Findings go to $build/ so the working tree stays clean.
"$build/bin/fuzz_frontend" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
  -dict="$root/tests/fuzz/sora.dict" -artifact_prefix="$build/" \
  "$corpus" "$seeds" 2>&1 | tail -n 12
