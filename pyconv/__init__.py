"""pyconv: fast CPU convolutional networks for scikit-learn users.

Cython kernels parallelised with OpenMP for convolution and pooling, a
Keras-like model API and scikit-learn estimators, with numpy, scipy and
scikit-learn as the only run-time dependencies.
"""


def _is_built(package_dir):
    """Whether ``package_dir`` (a ``pyconv`` folder) holds compiled kernels."""
    import importlib.machinery
    import os

    kernels = os.path.join(package_dir, "_kernels")
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return os.path.isdir(kernels) and any(name.endswith(suffixes)
                                          for name in os.listdir(kernels))


def _built_copy_spec(source_root):
    """The import spec of a built pyconv that is not under ``source_root``
    (an installed wheel, another clone's editable install), or None.

    Asks every finder Python would ask, with the path entries that point at
    ``source_root`` (the current directory among them) left out.
    """
    import importlib.machinery
    import os
    import sys

    def elsewhere(entry):
        return os.path.realpath(str(entry) or os.curdir) != source_root

    path = [entry for entry in sys.path if elsewhere(entry)]
    for finder in sys.meta_path:
        if not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(__name__, path if finder is importlib.machinery.PathFinder
                                else None)
        locations = (spec and spec.submodule_search_locations) or []
        if locations and elsewhere(os.path.dirname(locations[0])) and _is_built(locations[0]):
            return spec
    return None


def _use_built_package():
    """Make ``import pyconv`` work from a clone's root that was never built.

    Python puts the current directory first on ``sys.path``, so running it
    from a clone's root finds the clone's ``pyconv/`` before the installed
    package. When this folder has no compiled kernels, the installed copy
    takes its place in ``sys.modules`` (the import statement then returns
    it); with no installed copy, the ImportError says what to do instead of a
    bare missing-name error from deep inside the package.
    """
    import importlib.util
    import os
    import sys

    package_dir = os.path.dirname(os.path.abspath(__file__))
    if _is_built(package_dir):
        return
    source_root = os.path.realpath(os.path.dirname(package_dir))
    spec = _built_copy_spec(source_root)
    if spec is None:
        raise ImportError(
            f"pyconv's compiled kernels are missing: {package_dir} is a source tree that "
            f"was never built, and no built pyconv is installed. Build this clone in place "
            f"with `pip install -e .` run from {source_root}, or install pyconv.")
    installed = importlib.util.module_from_spec(spec)
    sys.modules[__name__] = installed
    spec.loader.exec_module(installed)


_use_built_package()
# After a hand-over the lines below run in this discarded module and bind the
# installed copy's submodules (``sys.modules`` resolves ``.`` to that copy).
from ._version import __version__  # noqa: E402

from . import callbacks, config, functional, image, layers, losses, metrics, optimizers, utils
from ._threads import get_num_threads, set_num_threads
from .export import export_onnx
from .layers import Input
from .models import Model, Sequential, load_model

# Names whose modules import scikit-learn (about 1 s): loaded on first use so
# that ``import pyconv`` stays fast.
_LAZY = {
    "FilterBankTransformer": "transformers",
    "CNNClassifier": "estimators",
    "CNNRegressor": "estimators",
    "plotting": None,
    "transformers": None,
    "estimators": None,
}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'pyconv' has no attribute {name!r}")
    module = importlib.import_module(f"pyconv.{_LAZY[name] or name}")
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "CNNClassifier",
    "CNNRegressor",
    "Input",
    "Model",
    "Sequential",
    "load_model",
    "export_onnx",
    "FilterBankTransformer",
    "functional",
    "image",
    "layers",
    "callbacks",
    "config",
    "losses",
    "metrics",
    "optimizers",
    "utils",
    "set_num_threads",
    "get_num_threads",
    "show_config",
    "__version__",
]


def _simd_lines():
    """show_config's lines on the SIMD path: which one runs, why, and what
    the CPU, the OS and the build offer."""
    from . import _dispatch
    from ._kernels import _openmp_helpers as omp

    features = omp.cpu_features()
    cpu = " ".join(name for name in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq",
                                     "avx512vl") if features[name]) or "none of avx2/avx512"
    saved = "zmm" if features["os_zmm"] else "ymm" if features["os_ymm"] else "no vector"
    try:
        level = _dispatch.simd_level()
    except ValueError as error:
        return [f"  simd:      ERROR: {error}"]
    conv = _dispatch.kernels("conv")
    gemm = {"avx512": "pyconv's packed AVX-512 sgemm (12x32 tile)",
            "avx2": "pyconv's packed AVX2+FMA sgemm (6x16 tile)"}
    return [
        f"  simd:      {level} ({_dispatch.simd_reason()})",
        f"  cpu:       {cpu}; the OS saves {saved} state; usable paths: "
        + ", ".join(_dispatch.usable_levels()),
        "  gemm:      " + (f"{gemm[level]} for float32 with k >= {conv.own_gemm_min_k()}; "
                           "BLAS otherwise" if conv.has_own_sgemm()
                           else "BLAS (scipy.linalg.cython_blas)"),
    ]


def show_config(file=None):
    """Print how this pyconv was built and how it will run.

    Shows the version, whether the kernels were compiled with OpenMP (and
    which OpenMP version and runtime library), the SIMD path the kernels
    take on this CPU, which matrix product the convolutions use, and the
    thread count.

    Examples
    --------
    >>> import pyconv
    >>> pyconv.show_config()  # doctest: +ELLIPSIS
    pyconv ...
    """
    import platform
    import sys

    from ._kernels import _openmp_helpers as omp

    runtime = "none"
    if omp.openmp_enabled():
        runtime = "OpenMP"
        try:
            from threadpoolctl import threadpool_info

            libs = [i for i in threadpool_info() if i.get("user_api") == "openmp"]
            if libs:
                runtime = f"{libs[0].get('internal_api')} ({libs[0].get('filepath')})"
        except ImportError:
            pass
    lines = [
        f"pyconv {__version__}",
        f"  python:    {sys.version.split()[0]} on {platform.machine()} {platform.system()}",
        f"  openmp:    {'on' if omp.openmp_enabled() else 'OFF (serial build)'}"
        + (f", version {omp.openmp_version()}, runtime {runtime}" if omp.openmp_enabled() else ""),
        *_simd_lines(),
        f"  threads:   {get_num_threads()}",
    ]
    print("\n".join(lines), file=file)
