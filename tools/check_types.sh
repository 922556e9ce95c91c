#!/usr/bin/env bash
# Type-check pyconv: mypy on pyconv/ with the configuration in
# pyproject.toml ([tool.mypy]); the compiled kernels are described by the
# .pyi stubs beside them, which must match the .pyx sources
# (tools/make_stubs.py --check). Exit code is non-zero on any error.
#
# Usage: tools/check_types.sh [extra mypy args...]
#   PYTHON  interpreter with mypy (default python3; mypy is installed into it
#           if missing)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
cd "$ROOT"
"$PY" -c "import mypy" 2>/dev/null || "$PY" -m pip install --quiet mypy
echo "== stubs of the Cython modules match their sources"
"$PY" tools/make_stubs.py --check
echo "== mypy pyconv"
"$PY" -m mypy "$@"
