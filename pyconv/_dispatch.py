"""Runtime choice between the baseline, AVX2 and AVX-512 kernel builds.

Every kernel family is compiled up to three times (see setup.py): a portable
baseline, a copy with AVX2+FMA code generation and a copy with AVX-512
(F/BW/DQ/VL, plus AVX2+FMA). At the first kernel call pyconv takes the widest
build that the CPU executes (cpuid), the OS saves the registers of (XGETBV)
and the build contains. ``PYCONV_SIMD=baseline|avx2|avx512`` forces one; a
value that is unknown or that this CPU, OS or build cannot run is an error.
"""
import importlib
import os

from ._kernels import _openmp_helpers

__all__ = ["LEVELS", "kernels", "simd_level", "simd_reason", "usable_levels", "why_unusable",
           "widest_cpu_level"]

#: The SIMD paths, narrowest first.
LEVELS = ("baseline", "avx2", "avx512")
FAMILIES = ("conv", "pool", "bench")

# What each path needs from the CPU (cpuid) and the OS (XCR0 via XGETBV).
_NEEDS = {
    "baseline": (),
    "avx2": ("avx", "avx2", "fma", "os_ymm"),
    "avx512": ("avx", "avx2", "fma", "os_ymm", "avx512f", "avx512bw", "avx512dq",
               "avx512vl", "os_zmm"),
}

_cache: "dict[str, object]" = {}


def _missing_on_cpu(level):
    """The cpuid/XCR0 features ``level`` needs that this machine lacks."""
    features = _openmp_helpers.cpu_features()
    return [name for name in _NEEDS[level] if not features[name]]


def _built(level):
    """True when every kernel family was compiled for ``level``."""
    if level == "baseline":
        return True
    try:
        for family in FAMILIES:
            importlib.import_module(f"pyconv._kernels.{family}_{level}")
    except ImportError:  # setup.py skipped the variant (compiler without it)
        return False
    return True


def why_unusable(level):
    """None if ``level`` can run here, else the reason it cannot."""
    missing = _missing_on_cpu(level)
    if missing:
        return f"the CPU/OS lacks {', '.join(missing)}"
    if not _built(level):
        return "this build of pyconv does not contain it (the compiler lacked the flags)"
    return None


def usable_levels():
    """The paths this CPU, OS and build can run, narrowest first."""
    return [level for level in LEVELS if why_unusable(level) is None]


def widest_cpu_level():
    """The widest path the CPU and OS support, whether built or not."""
    return [level for level in LEVELS if not _missing_on_cpu(level)][-1]


def _choose():
    forced = os.environ.get("PYCONV_SIMD", "").strip().lower()
    if forced:
        if forced not in LEVELS:
            raise ValueError(f"PYCONV_SIMD={forced!r} is not a SIMD path; expected one of "
                             f"{', '.join(LEVELS)} (or unset for the widest available)")
        why = why_unusable(forced)
        if why is not None:
            raise ValueError(f"PYCONV_SIMD={forced!r} cannot run here: {why}; usable "
                             f"paths: {', '.join(usable_levels())}")
        return forced, "forced by PYCONV_SIMD"
    level = usable_levels()[-1]
    reason = "the widest this CPU, OS and build support"
    widest = widest_cpu_level()
    if widest != level:
        reason += f" ({widest}: {why_unusable(widest)})"
    return level, reason


def simd_level():
    """The SIMD path the kernels run: ``"baseline"``, ``"avx2"`` or ``"avx512"``.

    Raises ValueError when ``PYCONV_SIMD`` names an unknown path or one that
    cannot run here.
    """
    if "level" not in _cache:
        _cache["level"], _cache["reason"] = _choose()
    return _cache["level"]


def simd_reason():
    """Why `simd_level` chose its path, in words."""
    simd_level()
    return _cache["reason"]


def kernels(family, level=None):
    """The kernel module for ``family`` ("conv", "pool", "bench") of ``level`` (by
    default the path this process runs, `simd_level`)."""
    level = simd_level() if level is None else level
    key = family, level
    module = _cache.get(key)
    if module is None:
        name = family if level == "baseline" else f"{family}_{level}"
        module = _cache[key] = importlib.import_module(f"pyconv._kernels.{name}")
    return module
