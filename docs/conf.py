"""Sphinx configuration for pyconv's documentation site.

Build with ``tools/build_docs.sh`` (or ``make -C docs html``). The site
documents the pyconv that Python imports: the in-place build of this
checkout when it has one (``python setup.py build_ext --inplace``),
otherwise the installed package. The API pages are generated here from the
public modules' ``__all__``, so every public name is documented and a name
added later appears without editing a page.
"""
import os
import pathlib
import re
import shutil
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
KERNELS = ROOT / "pyconv" / "_kernels"
if any(KERNELS.glob("_openmp_helpers*.so")) or any(KERNELS.glob("_openmp_helpers*.pyd")):
    sys.path.insert(0, str(ROOT))          # the checkout's in-place build

import pyconv  # noqa: E402

sys.path.insert(0, str(DOCS))
from _apigen import write_api_pages  # noqa: E402
from _scrapers import ExampleOutputScraper  # noqa: E402

print(f"documenting pyconv {pyconv.__version__} from {pathlib.Path(pyconv.__file__).parent}")

project = "pyconv"
author = "the pyconv developers"
copyright = "2026, the pyconv developers"
release = pyconv.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "lecture/*.ipynb", "README.md"]
templates_path = []
html_theme = "alabaster"
html_theme_options = {
    "description": "Fast CPU convolutional networks for scikit-learn users",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_title = f"pyconv {release}"

# The docstrings are numpydoc; their types are written in prose, so the
# signatures show no annotations (which would name numpy's and
# scikit-learn's classes, unresolvable without network access).
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {}      # options are written per object by _apigen
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# Nitpicky (-n): every cross-reference must resolve. Targets outside the
# project (numpy, scikit-learn, Python) are not resolvable offline.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|sklearn|scipy|keras|torch|matplotlib|threadpoolctl|joblib|dask)\..*"),
    (r"py:mod", r"(random|os|pickle|json|threading|multiprocessing|signal)"),
    # A bare method name in a one-line summary (autosummary tables), where
    # the enclosing class is not in scope.
    (r"py:meth", r"[A-Za-z_]+"),
    # Private modules are not documented; a docstring may still name them.
    (r"py:.*", r"pyconv\._.*|pyconv\.training\..*"),
]

# The gallery: examples/ run at build time; their figures are the PNGs the
# scripts write into $PYCONV_EXAMPLES_OUT, picked up by a scraper. The
# lecture walk-through is a second, narrated gallery.
EXAMPLES_OUT = DOCS / "_build" / "example_output"
shutil.rmtree(EXAMPLES_OUT, ignore_errors=True)
EXAMPLES_OUT.mkdir(parents=True, exist_ok=True)
os.environ["PYCONV_EXAMPLES_OUT"] = str(EXAMPLES_OUT)
os.environ.setdefault("MPLBACKEND", "Agg")
# Examples that run in the docs build: 01, 02, 03, 06 and the lecture. The
# others (04 and later) train for minutes or need a Dask cluster, so they are
# shown without running; PYCONV_DOCS_RUN_ALL=1 runs them all.
RUN_PATTERN = (r"/(\d\d|plot)_" if os.environ.get("PYCONV_DOCS_RUN_ALL") == "1"
               else r"/(0[1236]_|plot_)")
sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples"), str(DOCS / "lecture_src")],
    "gallery_dirs": ["auto_examples", "lecture"],
    "filename_pattern": RUN_PATTERN,
    "image_scrapers": (ExampleOutputScraper(EXAMPLES_OUT),),
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 1,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "plot_gallery": os.environ.get("PYCONV_DOCS_PLOT_GALLERY", "True"),
}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document members defined by pyconv only, not those inherited from
    scikit-learn or Python (``get_params``, ``set_fit_request``, ...)."""
    defined_in = getattr(obj, "__module__", None)
    if what == "class" and defined_in is not None and not defined_in.startswith("pyconv"):
        return True
    return None


_STARRED_SHAPE = re.compile(r"(\(.*?, )\*(\w+\))")


def _escape_starred_shapes(app, what, name, obj, options, lines):
    """``(n_samples, *input_shape)`` in a type line is a shape, not emphasis."""
    lines[:] = [_STARRED_SHAPE.sub(r"\1\\*\2", line) for line in lines]


def setup(app):
    write_api_pages(DOCS / "api")
    app.connect("autodoc-process-docstring", _escape_starred_shapes)
    app.connect("autodoc-skip-member", _skip_foreign_members)
