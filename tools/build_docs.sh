#!/usr/bin/env bash
# Build the documentation site into docs/_build/html, warnings as errors and
# every cross-reference resolved (sphinx -W -n), then check that no built
# page links to a missing file or anchor (docs/check_links.py).
#
# The site documents the pyconv that Python imports: this checkout's
# in-place build when it has one (`python setup.py build_ext --inplace`),
# otherwise the installed package (CI: the wheel in its venv). The gallery
# runs examples/ (01, 02, 03, 06; PYCONV_DOCS_RUN_ALL=1 runs all) and the
# lecture walk-through; their figures appear on the pages.
#
# Usage: tools/build_docs.sh [--clean] [--screenshots DIR]
#   --clean            start from nothing (else sphinx-gallery re-runs only
#                      changed examples)
#   --screenshots DIR  also render the index and a gallery page in headless
#                      Chromium into DIR/index.png and DIR/gallery.png
#   PYTHON             interpreter (default python3); the docs tools
#                      (pyproject's `docs` extra) are installed into it if
#                      missing, pyconv itself never is.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
CLEAN=0 SHOTS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --clean) CLEAN=1 ;;
        --screenshots) SHOTS="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
cd "$ROOT/docs"
start=$(date +%s)

if ! "$PY" -c "import sphinx, numpydoc, sphinx_gallery, myst_parser, matplotlib, PIL" 2>/dev/null; then
    echo "== installing the docs tools (pyproject.toml's docs extra)"
    "$PY" -m pip install --quiet "sphinx>=7" "numpydoc>=1.6" "sphinx-gallery>=0.16" \
        "myst-parser>=2" "matplotlib>=3.6" "pillow>=9"
fi
if [ "$CLEAN" = 1 ]; then
    rm -rf _build auto_examples lecture api sg_execution_times.rst
fi

echo "== sphinx-build -b html -W --keep-going -n"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" MPLBACKEND=Agg \
    "$PY" -m sphinx -b html -W --keep-going -n -q . _build/html
echo "== links of the built pages"
"$PY" check_links.py _build/html

if [ -n "$SHOTS" ]; then
    mkdir -p "$SHOTS"
    SHOTS="$(cd "$SHOTS" && pwd)"
    browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
    if [ -z "$browser" ]; then
        echo "no Chromium on PATH (Debian: apt-get install chromium): no screenshots" >&2
        exit 1
    fi
    shoot() {  # page, output file, window height
        "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
            --window-size="1280,$3" --screenshot="$2" "file://$ROOT/docs/_build/html/$1" \
            2>/dev/null
        [ -s "$2" ] || { echo "screenshot of $1 failed" >&2; exit 1; }
        echo "screenshot: $2"
    }
    shoot index.html "$SHOTS/index.png" 1400
    shoot auto_examples/02_image_filters.html "$SHOTS/gallery.png" 2400
fi
echo "== docs built in $(( $(date +%s) - start )) s: $ROOT/docs/_build/html/index.html"
