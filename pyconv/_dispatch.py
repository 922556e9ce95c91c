"""Runtime choice between the baseline and the AVX2+FMA kernel builds.

Every kernel family is compiled twice (see setup.py): a portable baseline
and a copy with AVX2+FMA code generation. The copy is used when the CPU has
both features; ``PYCONV_SIMD=baseline`` forces the portable build.
"""
import importlib
import os

from ._kernels import _openmp_helpers

__all__ = ["kernels", "simd_level"]

_cache: "dict[str, object]" = {}


def simd_level():
    """The SIMD path the kernels run: ``"avx2"`` or ``"baseline"``."""
    if "level" not in _cache:
        forced = os.environ.get("PYCONV_SIMD", "").strip().lower()
        level = "baseline"
        if forced not in ("baseline", "none", "off") and _openmp_helpers.cpu_has_avx2_fma():
            try:
                importlib.import_module("pyconv._kernels.conv_avx2")
                level = "avx2"
            except ImportError:  # the build skipped the AVX2 variants
                level = "baseline"
        _cache["level"] = level
    return _cache["level"]


def kernels(family):
    """The kernel module for ``family`` ("conv", "pool") on this CPU."""
    module = _cache.get(family)
    if module is None:
        name = family if simd_level() == "baseline" else f"{family}_{simd_level()}"
        try:
            module = importlib.import_module(f"pyconv._kernels.{name}")
        except ImportError:
            module = importlib.import_module(f"pyconv._kernels.{family}")
        _cache[family] = module
    return module
