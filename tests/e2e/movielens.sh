#!/bin/sh
# The movielens example end to end: make_data.sh exports dslabs' ratings
# (skipped, 77, where R or r-cran-dslabs is missing), then sorac trains the
# recommender as its train block says and the test RMSE on the seeded
# hold-out must be at most MAX_RMSE. Usage: movielens.sh SORAC DIR MAX_RMSE
set -eu
sorac=$1 dir=$2 max=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
"$src/examples/movielens/make_data.sh" "$dir" || exit $?
exec python3 "$src/tests/e2e/expect_report.py" "$sorac" \
  "$src/examples/movielens/model.sora" --data "$dir" --quiet -- \
  "test_rmse<=$max"
