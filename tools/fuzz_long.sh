#!/usr/bin/env bash
# The dedicated fuzz run: tests/test_fuzz.py with thousands of examples per
# property (PYCONV_FUZZ_EXAMPLES, default 5000), each property run in full
# (no -x), printing the per-property case counts; then the byte-flip fuzz of
# saved model files at length (tools/fuzz_model_files.py on a conv model with
# optimizer state: every truncation, byte flip, bit flip and in-archive byte
# flip). Exit code is non-zero if either failed.
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
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python tools/fuzz_model_files.py --model conv \
    --bits --repacked
files_rc=$?
echo "model file fuzz exit code $files_rc (-14/142: a hang, other signals: a crash)"
[ "$rc" -eq 0 ] && [ "$files_rc" -eq 0 ]
