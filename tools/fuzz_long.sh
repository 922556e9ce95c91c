#!/usr/bin/env bash
# The dedicated fuzz run: tests/test_fuzz.py with thousands of examples per
# property (PYCONV_FUZZ_EXAMPLES, default 5000), each property run in full
# (no -x), printing the per-property case counts. Exit code is pytest's.
#
# Usage: tools/fuzz_long.sh [extra pytest args...]
#   PYCONV_FUZZ_EXAMPLES=20000 tools/fuzz_long.sh
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2
export PYCONV_FUZZ_EXAMPLES="${PYCONV_FUZZ_EXAMPLES:-5000}"
echo "fuzzing with PYCONV_FUZZ_EXAMPLES=$PYCONV_FUZZ_EXAMPLES per property"
start=$(date +%s)
python -m pytest tests/test_fuzz.py -q -s -p no:cacheprovider "$@" 2>&1 \
    | grep -v "DeprecationWarning\|TypedDict\|^  class\|^$"
rc=${PIPESTATUS[0]}
echo "fuzz run finished in $(( $(date +%s) - start )) s, pytest exit code $rc"
echo "(a crash of the interpreter would show as a non-zero exit code without a pytest summary)"
exit "$rc"
