#!/bin/sh
# Runs autograd's own test suite (HIPS/autograd, tests/ unchanged) with `autograd` replaced by
# the stand-in beside this script, whose gradient operators and checker are adjit's.
#   tools/autograd_suite/run.sh /path/to/autograd-checkout [pytest args]
# Not part of CI: autograd's tests are not shipped here.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$1; shift
work=$(mktemp -d)
cp -r "$src/tests" "$work/tests"
cd "$work/tests"
PYTHONPATH="$here:$work/tests" python -m pytest -q -p no:cacheprovider "$@"
