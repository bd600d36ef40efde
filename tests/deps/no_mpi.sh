#!/usr/bin/env bash
# The compiler and the runtime need no MPI (docs/distributed.md): neither
# sorac nor a program linked only with libsora_rt lists libmpi among its
# shared libraries, so both start where Open MPI is not installed; only the
# plugin that `mpirun ... sorac run` loads does (when built: it shows that
# this check would see libmpi).
#   no_mpi.sh SORAC PROGRAM [PLUGIN]
set -euo pipefail
sorac=$1 program=$2 plugin=${3:-}

for f in "$sorac" "$program"; do
  libs=$(ldd "$f")
  if grep -i 'libmpi' <<< "$libs"; then
    echo "FAIL: $f links MPI" >&2
    exit 1
  fi
  echo "ok: no libmpi in ldd $f"
done
if [[ -n $plugin ]]; then
  # Not `ldd | grep -q`: grep -q stops reading, and under pipefail the
  # SIGPIPE that ldd may then get would fail the check.
  grep -q 'libmpi' <<< "$(ldd "$plugin")" ||
    { echo "FAIL: ldd $plugin shows no libmpi: the check above proves nothing" >&2; exit 1; }
  echo "ok: the plugin $plugin links libmpi"
fi
echo "PASS"
