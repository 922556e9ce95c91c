"""Build the compiled kernels of pyconv.

Everything that ``pyproject.toml`` can say lives there; this file only
declares the Cython extensions, sets the Cython directives in one place and
probes the real compiler for OpenMP.

Environment variables
---------------------
PYCONV_CYTHON_DEBUG=1   bounds checks and wraparound on (a debug build).
PYCONV_FAIL_NO_OPENMP=1 a compiler without OpenMP is an error, not a warning.
PYCONV_LIBOMP_PREFIX    macOS: where libomp lives (default: Homebrew's).
"""
import os
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_openmp_helpers", "conv", "pool", "bench", "optim"]
# Kernels built again with wider code generation (a thin `<name>_<variant>.pyx`
# that includes `<name>.pyx`); pyconv/_dispatch.py picks the widest build the
# CPU and OS run, at the first kernel call (runtime dispatch).
SIMD_VARIANTS = {"conv": ["avx2", "avx512"], "pool": ["avx2", "avx512"],
                 "bench": ["avx2", "avx512"]}
SIMD_FLAGS = {
    "avx2": ["-mavx2", "-mfma"],
    # The compiler's own vectorisation stays 256 bits wide (as gcc's tuning
    # for AVX-512 servers does): the kernels' loops over tiles and rows are
    # often shorter than 16 floats, which 512-bit code runs in its scalar
    # remainder (measured: the Winograd output transform 1.7x slower with
    # 512-bit auto-vectorisation). The intrinsics that want zmm (the GEMM,
    # the stride-2 gather) use it explicitly.
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma",
               "-mprefer-vector-width=256"],
}
# A translation unit each variant's flags must compile: it uses an
# instruction of every extension the flags enable.
SIMD_PROBES = {
    "avx2": "__m256 a = _mm256_setzero_ps(); a = _mm256_fmadd_ps(a, a, a);"
            "return (int)_mm256_cvtss_f32(a);",
    "avx512": "__m512 a = _mm512_setzero_ps(); a = _mm512_fmadd_ps(a, a, a);"
              "__m512i b = _mm512_abs_epi8(_mm512_castps_si512(a));"     # BW
              "__m256 c = _mm512_extractf32x8_ps(_mm512_castsi512_ps(b), 1);"  # DQ
              "__mmask8 k = _mm256_cmp_ps_mask(c, c, _CMP_EQ_OQ);"      # VL
              "return (int)k + (int)_mm512_reduce_add_ps(a);",
}

DEBUG = os.environ.get("PYCONV_CYTHON_DEBUG", "0") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
    "embedsignature": True,
}

OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n);
        return omp_get_max_threads() > 0 ? 0 : 1;
    }
    """
)


def _libomp_prefixes():
    """Directories holding libomp's include/ and lib/ on macOS, if any."""
    prefixes = [os.environ.get("PYCONV_LIBOMP_PREFIX"),
                "/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    return [p for p in prefixes if p and os.path.isfile(os.path.join(p, "include", "omp.h"))]


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or None if unsupported."""
    if compiler.compiler_type == "msvc":
        # MSVC's own OpenMP 2.0 runtime (vcomp140.dll; delvewheel vendors it).
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        # Apple clang has no OpenMP runtime of its own: libomp (Homebrew),
        # looked for under $PYCONV_LIBOMP_PREFIX, then Homebrew's two homes.
        candidates = [
            (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
             [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"])
            for prefix in _libomp_prefixes()
        ]
        candidates += [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "test_openmp.c")
            with open(src, "w") as f:
                f.write(OPENMP_TEST)
            try:
                objects = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(
                    objects, "test_openmp", output_dir=tmp, extra_postargs=lflags
                )
            except Exception:  # distutils raises several error types here
                continue
            return cflags, lflags
    return None


def _simd_supported(compiler, variant):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "test_simd.c")
        with open(src, "w") as f:
            f.write("#include <immintrin.h>\nint main(void){" + SIMD_PROBES[variant] + "}\n")
        try:
            compiler.compile([src], output_dir=tmp, extra_postargs=SIMD_FLAGS[variant])
        except Exception:  # distutils raises several error types here
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        openmp = _openmp_flags(self.compiler)
        if openmp is None:
            message = (
                "\n" + "*" * 72 + "\n"
                "pyconv: this compiler does not support OpenMP. The kernels will\n"
                "be built SERIAL (one thread). Install an OpenMP runtime (libgomp,\n"
                "or libomp on macOS) for parallel kernels.\n" + "*" * 72
            )
            if os.environ.get("PYCONV_FAIL_NO_OPENMP", "0") == "1":
                raise RuntimeError(message + "\nPYCONV_FAIL_NO_OPENMP=1 makes this an error.")
            warnings.warn(message)
            print(message, file=sys.stderr)
            cflags, lflags = [], []
        else:
            cflags, lflags = openmp
        is_msvc = self.compiler.compiler_type == "msvc"
        simd_ok = {name: (not is_msvc) and _simd_supported(self.compiler, name)
                   for name in SIMD_FLAGS}
        kept = []
        for ext in self.extensions:
            variant = getattr(ext, "_pyconv_simd", None)
            if variant is not None:
                if not simd_ok[variant]:
                    print(f"pyconv: skipping {ext.name}: the compiler cannot build "
                          f"{variant} code ({' '.join(SIMD_FLAGS[variant])}); the "
                          f"{variant} path will be unavailable", file=sys.stderr)
                    continue
                ext.extra_compile_args += SIMD_FLAGS[variant]
            ext.extra_compile_args += cflags
            ext.extra_link_args += lflags
            if not is_msvc:
                ext.extra_compile_args += ["-O3", "-fno-math-errno", "-Wno-unused-function"]
            kept.append(ext)
        self.extensions = kept
        super().build_extensions()


def _extensions():
    exts = []
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
    for name in KERNELS:
        src = f"pyconv/_kernels/{name}.pyx"
        exts.append(Extension(f"pyconv._kernels.{name}", [src],
                              include_dirs=[np.get_include()], define_macros=macros))
        for variant in SIMD_VARIANTS.get(name, []):
            # A thin module that includes the same kernel source; compiled
            # with the variant's code-generation flags.
            vsrc = f"pyconv/_kernels/{name}_{variant}.pyx"
            ext = Extension(f"pyconv._kernels.{name}_{variant}", [vsrc],
                            include_dirs=[np.get_include()], define_macros=macros)
            ext._pyconv_simd = variant
            exts.append(ext)
    exts = cythonize(exts, compiler_directives=DIRECTIVES, quiet=True)
    # cythonize returns new Extension objects; carry our marker over.
    for ext in exts:
        for variant in SIMD_FLAGS:
            if ext.name.endswith("_" + variant):
                ext._pyconv_simd = variant
    return exts


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
