#!/usr/bin/env bash
# Build pyconv's kernels with PYCONV_CYTHON_DEBUG=1 (bounds checks, wraparound
# and initialisation checks on) in a throw-away copy of the repository, run the
# whole test suite there, then prove that the debug directives can fail: a
# tiny .pyx compiled with the *same* directive dictionary as setup.py indexes
# out of range and must raise IndexError in the debug build, while the release
# directives let the same call pass unchecked.
#
# The copy is made from the files git knows about (tracked, plus untracked
# files that are not ignored, i.e. work in progress), never in place: other
# engineers use the in-place build of the working tree.
#
# Usage: tools/run_debug_build.sh [extra pytest args...]
#   KEEP_DEBUG_COPY=1    keep the temporary copy (its path is printed)
#   PYTEST_ARGS          default "-q -p no:cacheprovider -rf"
#   DEBUG_BUILD_LOGS     where build.log and pytest.log are kept
set -u -o pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyconv-debug-build.XXXXXX")"
COPY="$WORK/repo"
PYTHON="${PYTHON:-python}"
LOGS="${DEBUG_BUILD_LOGS:-${TMPDIR:-/tmp}/pyconv-debug-build-logs}"
mkdir -p "$LOGS"
cleanup() {
    if [ "${KEEP_DEBUG_COPY:-0}" = "1" ]; then
        echo "debug copy kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

echo "== copying $REPO (git-known files) to $COPY"
mkdir -p "$COPY"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) \
    | (cd "$REPO" && xargs -0 cp --parents -t "$COPY" 2>/dev/null) || true
# Files deleted in the working tree but still in the index make cp complain;
# everything that exists was copied.
test -f "$COPY/setup.py" || { echo "copy failed"; exit 2; }

echo "== directives that locally switch checks off (the debug build cannot turn these on):"
grep -n "boundscheck(False)\|wraparound(False)" "$COPY"/pyconv/_kernels/*.pyx \
    | sed "s|$COPY/||" || echo "   none"

echo "== building the kernels with PYCONV_CYTHON_DEBUG=1"
cd "$COPY" || exit 2
rm -f pyconv/_kernels/*.so pyconv/_kernels/*.c
if ! PYCONV_CYTHON_DEBUG=1 "$PYTHON" setup.py build_ext --inplace -j 2 >"$LOGS/build.log" 2>&1; then
    tail -30 "$LOGS/build.log"
    echo "DEBUG BUILD FAILED"
    exit 1
fi
tail -2 "$LOGS/build.log"
# Check that the copy, not the original tree, is the one imported.
"$PYTHON" - <<'EOF' || exit 2
import pyconv, os
here = os.path.dirname(pyconv.__file__)
assert here.startswith(os.getcwd()), (here, os.getcwd())
print("imported from", here)
EOF

echo "== running the whole suite in the debug build"
# shellcheck disable=SC2086
# SIGINT back to its default first: a script started in the background has
# it ignored, which would fail the Ctrl-C tests for a reason of its own.
PYTHONPATH="$COPY" "$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.executable, [sys.executable, "-m", "pytest"] + sys.argv[1:])' \
    ${PYTEST_ARGS:--q -p no:cacheprovider -rf} "$@" tests \
    2>&1 | tee "$LOGS/pytest.log" | tail -25
SUITE_RC=${PIPESTATUS[0]}
echo "suite exit code: $SUITE_RC"

echo "== proof that the debug directives catch an out-of-range index"
PROOF="$WORK/proof"
mkdir -p "$PROOF"
cat >"$PROOF/oob_probe.pyx" <<'EOF'
# A kernel-shaped function with a deliberate off-by-one read.
def read_past_end(const double[::1] x, Py_ssize_t extra):
    cdef Py_ssize_t i
    cdef double total = 0
    for i in range(x.shape[0] + extra):
        total += x[i]
    return total

def read_negative(const double[::1] x):
    # -1 is legal with wraparound on; one step further is not.
    cdef Py_ssize_t i = -(x.shape[0] + 1)
    return x[i]
EOF
cat >"$PROOF/build_probe.py" <<EOF
"""Compile oob_probe.pyx with setup.py's own DIRECTIVES (read from setup.py
by AST, so they cannot drift) for PYCONV_CYTHON_DEBUG=\$1."""
import ast, os, sys
os.environ["PYCONV_CYTHON_DEBUG"] = sys.argv[1]
tree = ast.parse(open("$COPY/setup.py").read())
keep = [node for node in tree.body if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") in ("DEBUG", "DIRECTIVES") for t in node.targets)]
namespace = {"os": os}
exec(compile(ast.Module(body=keep, type_ignores=[]), "setup.py", "exec"), namespace)
print("directives:", {k: namespace["DIRECTIVES"][k] for k in ("boundscheck", "wraparound")})
from Cython.Build import cythonize
from setuptools import Extension, setup
name = "oob_probe_" + ("debug" if sys.argv[1] == "1" else "release")
ext = Extension(name, ["oob_probe.pyx"])
import shutil; shutil.copy("oob_probe.pyx", name + ".pyx"); ext.sources = [name + ".pyx"]
sys.argv = [sys.argv[0], "build_ext", "--inplace", "-q"]
setup(ext_modules=cythonize([ext], compiler_directives=namespace["DIRECTIVES"], quiet=True),
      script_args=sys.argv[1:])
EOF
cd "$PROOF" || exit 2
"$PYTHON" build_probe.py 1 >build1.log 2>&1 || { cat build1.log; echo "PROOF BUILD FAILED"; exit 1; }
"$PYTHON" build_probe.py 0 >build0.log 2>&1 || { cat build0.log; echo "PROOF BUILD FAILED"; exit 1; }
grep directives build1.log build0.log
"$PYTHON" - <<'EOF'
import subprocess, sys
import numpy as np
import oob_probe_debug as dbg

x = np.arange(4.0)
caught = []
for call in ("dbg.read_past_end(x, 1)", "dbg.read_negative(x)"):
    try:
        eval(call)
    except IndexError as exc:
        caught.append(call)
        print(f"debug build:   {call} -> IndexError: {exc}")
    else:
        print(f"debug build:   {call} -> NO ERROR (the proof failed)")
# The release build reads past the end silently; run it in a child so a
# crash cannot take the proof down (reading one double past a small numpy
# buffer does not fault in practice).
code = ("import numpy as np, oob_probe_release as rel; x = np.arange(4.0);"
        "rel.read_past_end(x, 1); print('no error')")
child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
print(f"release build: read_past_end(x, 1) -> rc={child.returncode} {child.stdout.strip()}")
ok = len(caught) == 2 and child.returncode == 0 and "no error" in child.stdout
print("PROOF", "OK: the debug build catches out-of-range indices" if ok else "FAILED")
sys.exit(0 if ok else 1)
EOF
PROOF_RC=$?

echo "== summary: debug-build suite rc=$SUITE_RC, proof rc=$PROOF_RC"
grep -E "passed|failed" "$LOGS/pytest.log" | tail -1
echo "full pytest log: $LOGS/pytest.log"
[ "$SUITE_RC" -eq 0 ] && [ "$PROOF_RC" -eq 0 ]
