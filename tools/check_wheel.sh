#!/usr/bin/env bash
# Install a built pyconv wheel the way a user without a compiler would, and
# test it: a fresh virtual environment, a PATH holding no C compiler (every
# directory of PATH mirrored without gcc, cc, c++, clang, ...), CC=false,
# binary-only installs. Then `pyconv.show_config()` must report OpenMP from
# the wheel's own vendored runtime and a SIMD path, and the test suite must
# pass against the installed wheel, run from a directory outside the source.
#
# Usage: tools/check_wheel.sh path/to/pyconv-*.whl [extra pytest args...]
#   PYTHON   interpreter for the venv (default python3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WHEEL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
PY="$(command -v "${PYTHON:-python3}")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyconv-wheelcheck.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# A PATH without compilers: links to every program on PATH except these.
NOCC="$WORK/nocc-bin"
mkdir -p "$NOCC"
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for prog in "$dir"/*; do
        name="$(basename "$prog")"
        case "$name" in
            gcc*|cc|c89*|c99*|cpp*|c++|g++*|clang*|tcc|icc|icx|*-gcc|*-gcc-[0-9]*|*-g++*|*-c++) continue ;;
        esac
        [ -e "$NOCC/$name" ] || ln -s "$prog" "$NOCC/$name"
    done
done
"$PY" -m venv "$WORK/venv"
export PATH="$WORK/venv/bin:$NOCC" CC=false CXX=false
for compiler in gcc cc c++ clang; do
    if command -v "$compiler" >/dev/null; then
        echo "a compiler is still on PATH: $(command -v "$compiler")" >&2; exit 1
    fi
done
echo "== no compiler on PATH (CC=$CC); installing $(basename "$WHEEL") from binaries only"
pip install --quiet --only-binary :all: "${WHEEL}[test,image,plot]"

cp -r "$ROOT/tests" "$ROOT/examples" "$ROOT/pyproject.toml" "$WORK/"
cd "$WORK"
python - <<'PYEOF'
import io, re
import pyconv
assert "site-packages" in pyconv.__file__, pyconv.__file__
out = io.StringIO()
pyconv.show_config(file=out)
text = out.getvalue()
print(text, end="")
assert re.search(r"openmp:\s+on", text), "the wheel lost OpenMP"
assert "pyconv.libs" in text, "OpenMP runtime is not the wheel's vendored libgomp"
assert re.search(r"simd:\s+\S+", text), "no SIMD path reported"
PYEOF
start=$(date +%s)
python -m pytest -q -p no:cacheprovider tests "$@"
echo "== wheel test run passed in $(( $(date +%s) - start )) s, no compiler on PATH"
