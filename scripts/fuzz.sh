#!/usr/bin/env bash
# Runs libFuzzer targets of the sanitizer build (ASan + UBSan) for SECONDS
# each. Exits non-zero on a finding (crash, sanitizer report, failed check,
# leak, timeout, out-of-memory), after running the other targets.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
# TARGET: fuzz_frontend (the front end: parser, checker, graph builder),
# fuzz_onnx (the ONNX importer),
# fuzz_idx, fuzz_csv, fuzz_safetensors (the runtime's readers); default:
# all five. Seeds: every .sora file of the repository for the front end,
# small files made by tests/fuzz/make_seeds.py for the readers. The corpus
# grows in BUILD_DIR/fuzz-corpus/TARGET; a finding is written to
# BUILD_DIR/fuzz-findings/ (the working tree stays clean): fix the bug, then
# keep the input in tests/fuzz/regressions/TARGET/, where
# make check-sanitize replays it. Each target's full log is
# BUILD_DIR/fuzz-logs/TARGET.log; the last line printed for each target is
# its verdict.
set -euo pipefail
build=$1
seconds=$2
shift 2
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] ||
  targets=(fuzz_frontend fuzz_onnx fuzz_idx fuzz_csv fuzz_safetensors)
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
mkdir -p "$build/fuzz-seeds/fuzz_frontend" "$build/fuzz-findings" \
  "$build/fuzz-logs"
find "$root/examples" "$root/tests" -name '*.sora' \
  -exec cp {} "$build/fuzz-seeds/fuzz_frontend/" \;
# ONNX seeds: the node tests of ONNX's suite under 16 KiB (one operator
# each) and the small models of tests/onnx.
mkdir -p "$build/fuzz-seeds/fuzz_onnx"
for f in /usr/share/libonnx-testdata/data/node/*/model.onnx \
  "$root"/tests/onnx/models/*.onnx; do
  [[ -f $f && $(stat -c %s "$f") -le 16384 ]] || continue
  name=${f%/model.onnx}
  cp "$f" "$build/fuzz-seeds/fuzz_onnx/$(basename "$name")"
done
python3 "$root/tests/fuzz/make_seeds.py" "$build/fuzz-seeds"

failed=()
for target in "${targets[@]}"; do
  case $target in
  fuzz_frontend)
    dict=$root/tests/fuzz/sora.dict
    limits=(-rss_limit_mb=2048)
    ;;
  fuzz_onnx)
    dict=$root/tests/fuzz/onnx.dict
    limits=(-rss_limit_mb=2048)
    ;;
  fuzz_idx | fuzz_csv | fuzz_safetensors)
    dict=$root/tests/fuzz/${target#fuzz_}.dict
    # A reader given at most 16 KiB must not ask for 256 MiB at once.
    limits=(-rss_limit_mb=2048 -malloc_limit_mb=256)
    ;;
  *)
    echo "fuzz: unknown target '$target'" >&2
    exit 2
    ;;
  esac
  seeds=$build/fuzz-seeds/$target
  corpus=$build/fuzz-corpus/$target
  regressions=$root/tests/fuzz/regressions/$target
  log=$build/fuzz-logs/$target.log
  mkdir -p "$corpus"
  dirs=("$corpus" "$seeds")
  [[ -d $regressions ]] && dirs+=("$regressions")
  echo "fuzz: $target: $(ls "$seeds" | wc -l) seed files, ${seconds}s"
  status=0
  "$build/bin/$target" -max_total_time="$seconds" -timeout=10 "${limits[@]}" \
    -max_len=16384 -print_final_stats=1 -dict="$dict" \
    -artifact_prefix="$build/fuzz-findings/$target-" "${dirs[@]}" \
    > "$log" 2>&1 || status=$?
  tail -n 12 "$log"
  if [[ $status -ne 0 ]]; then
    echo "fuzz: $target: FINDING (exit $status), see $log and" \
      "$build/fuzz-findings/"
    failed+=("$target")
  else
    done_line=$(grep -a '^Done ' "$log" | tail -n 1)
    cov=$(grep -a -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1)
    echo "fuzz: $target: no finding: ${done_line:-?}; last status: ${cov:-?}"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
