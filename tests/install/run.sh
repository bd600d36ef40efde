#!/usr/bin/env bash
# Installs a sorac build into a temporary prefix and builds the project beside
# this script against it, as a user would: find_package(sorac) and
# sorac_add_model() with CMake + Ninja (including an incremental rebuild after
# the .sora file changes), then the same program with plain cc and the flags
# of pkg-config's sora-runtime. Nothing is written outside a temporary
# directory. Usage: tests/install/run.sh BUILD_DIR   (env: CMAKE, CC)
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cmake=${CMAKE:-cmake}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sorac-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
src=$tmp/src
obj=$tmp/build

step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
# Runs a command quietly; shows its output if it fails.
quiet() {
  "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "$*"; }
}
params() { sed -n 's/^params: \([0-9]*\) bytes$/\1/p' "$1"; }

step "cmake --install into a temporary prefix"
quiet "$cmake" --install "$build" --prefix "$prefix"
for f in bin/sorac lib/libsora_rt.a include/sora/runtime.h \
         lib/cmake/sorac/soracConfig.cmake \
         lib/cmake/sorac/soracConfigVersion.cmake \
         lib/pkgconfig/sora-runtime.pc; do
  [[ -f $prefix/$f ]] || die "not installed: $f"
done
"$prefix/bin/sorac" --version | head -1
# The installed sorac needs no MPI; `mpirun ... sorac run` finds its MPI
# plugin under the prefix (lib/sorac/), installed where the build has one.
if ldd "$prefix/bin/sorac" | grep -i libmpi; then
  die "the installed sorac links MPI"
fi
if [[ -f $build/lib/sorac/sorac_mpi.so && ! -f $prefix/lib/sorac/sorac_mpi.so ]]; then
  die "not installed: lib/sorac/sorac_mpi.so (the MPI plugin)"
fi

step "configure, build and run the out-of-tree project"
mkdir "$src"
cp "$here/CMakeLists.txt" "$here/main.c" "$here/model.sora" "$src/"
quiet "$cmake" -S "$src" -B "$obj" -G Ninja -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found=$(sed -n 's/^sorac_DIR:PATH=//p' "$obj/CMakeCache.txt")
[[ $found == "$prefix/lib/cmake/sorac" ]] || die "found sorac in '$found'"
quiet "$cmake" --build "$obj"
grep -q 'sorac.* -MD -MF ' "$obj/build.ninja" || die "no -MD in build.ninja"
"$obj/app" | tee "$tmp/run1.txt"
[[ -n $(params "$tmp/run1.txt") ]] || die "app printed no parameter size"

step "a second build is a no-op; ninja has the depfile"
ninja -C "$obj" -n >"$tmp/log"
grep -q 'no work to do' "$tmp/log" || { cat "$tmp/log"; die "a second build is not a no-op"; }
[[ -f $obj/tiny_model.d ]] || die "sorac wrote no depfile"
# The depfile ninja reads: sorac's, as CMake rewrote it for ninja.
depfile=$(sed -n 's/^  depfile = \(.*\)$/\1/p' "$obj/build.ninja" | head -1)
[[ -n $depfile ]] || die "no depfile in build.ninja"
[[ $depfile == /* ]] || depfile=$obj/$depfile
grep -q "model.sora" "$depfile" || die "the depfile does not name model.sora"

step "editing model.sora recompiles the model"
sed -i 's/dense(x, 8,/dense(x, 16,/' "$src/model.sora"
grep -q 'dense(x, 16,' "$src/model.sora" || die "could not edit model.sora"
ninja -C "$obj" -n -v >"$tmp/log"
grep -q "sorac .*model.sora -o .*tiny_model.o" "$tmp/log" ||
  { cat "$tmp/log"; die "ninja would not rerun sorac"; }
quiet "$cmake" --build "$obj"
"$obj/app" | tee "$tmp/run2.txt"
[[ $(params "$tmp/run2.txt") != $(params "$tmp/run1.txt") ]] ||
  die "the rebuilt app still has the old model"

step "plain cc with pkg-config --cflags --libs sora-runtime"
command -v pkg-config >/dev/null ||
  die "pkg-config is missing (scripts/setup.sh pkg-config)"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs sora-runtime)
echo "pkg-config: $flags"
mkdir "$tmp/pc"
"$prefix/bin/sorac" "$here/model.sora" -o "$tmp/pc/tiny_model.o"
# shellcheck disable=SC2086  # the flags are words
quiet "$cc" -o "$tmp/pc/app" "$here/main.c" "$tmp/pc/tiny_model.o" \
  -I"$tmp/pc" $flags
"$tmp/pc/app"

echo "install test: OK"
