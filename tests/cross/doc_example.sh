#!/usr/bin/env bash
# docs/cross.md's worked example, as written there: its main.c and the
# commands of its block for TARGET (sorac --target, make runtime, the cross
# gcc, qemu-user) run in a scratch folder laid out like the repository root
# (examples/, runtime/ and build/bin/sorac linked in). `make` is the
# repository's Makefile, building the runtime into the scratch folder and
# installing nothing. The program must train and tell the rings apart.
#   doc_example.sh TARGET SORAC SOURCE_DIR
# Exits 77 (skipped) without the target's gcc or qemu-user.
set -euo pipefail
target=$1 sorac=$2 src=$3
arch=${target%%-*}
doc=$src/docs/cross.md
for tool in "$target-gcc" "qemu-$arch"; do
  if ! command -v "$tool" > /dev/null; then
    echo "SKIP: needs $tool (see docs/cross.md)"
    exit 77
  fi
done

# The fenced block after `<!-- example: NAME -->`.
block() {
  awk -v name="$1" '
    $0 == "<!-- example: " name " -->" { want = 1; next }
    want && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$doc"
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
block main.c > "$work/main.c"
block "$target" > "$work/run.sh"
[[ -s $work/main.c && -s $work/run.sh ]] ||
  { echo "FAIL: no main.c or no $target block in $doc"; exit 1; }
mkdir -p "$work/build/bin"
ln -s "$src/examples" "$src/runtime" "$work/"
ln -s "$sorac" "$work/build/bin/sorac"
echo "== docs/cross.md, $target:"
cat "$work/run.sh"

cd "$work"
make() { command make -s -f "$src/Makefile" -C "$src" "$@" JOBS=2 SETUP=true \
  RUNTIME_BUILD="$work/build-$target"; }
export -f make
export src work target
bash -euo pipefail run.sh > out.txt 2>&1 || { cat out.txt; echo "FAIL"; exit 1; }
cat out.txt
# The inner ring's point gets a low probability of the outer, and the
# outer's a high one.
awk '/^p\(outer ring\)/ { found = 1; if (!($3 < 0.1 && $7 > 0.9)) bad = 1 }
     END { exit !(found && !bad) }' out.txt ||
  { echo "FAIL: the program did not tell the rings apart"; exit 1; }
[[ -s rings.safetensors ]] || { echo "FAIL: no checkpoint written"; exit 1; }
echo "PASS"
