"""Python access to the OpenMP runtime the kernels were built with."""
from cython.parallel cimport prange

from pyconv._kernels._openmp cimport (
    pyconv_openmp_enabled, pyconv_openmp_version, pyconv_omp_get_max_threads,
    pyconv_omp_set_num_threads, pyconv_omp_get_thread_num,
)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(pyconv_openmp_enabled())


def openmp_version():
    """The ``_OPENMP`` macro of the build (e.g. 201511), 0 without OpenMP."""
    return pyconv_openmp_version()


def omp_get_max_threads():
    return pyconv_omp_get_max_threads()


def omp_set_num_threads(int n):
    pyconv_omp_set_num_threads(n)


def threads_used(int n_threads):
    """Run a static ``prange`` over 64 items with ``n_threads`` threads and
    return how many distinct threads took part (tests use this to prove the
    build kept its parallelism)."""
    cdef int seen[64]
    cdef int i, count = 0
    for i in range(64):
        seen[i] = -1
    for i in prange(64, nogil=True, num_threads=n_threads, schedule="static"):
        seen[i] = pyconv_omp_get_thread_num()
    distinct = set(seen[i] for i in range(64))
    return len(distinct)


cdef extern from *:
    """
    /* What this CPU can execute and what state the OS saves on a context
     * switch, from cpuid and XGETBV. This file is compiled without SIMD
     * flags, so it runs on every x86-64 CPU; the answer decides which
     * kernel build (baseline, avx2, avx512) may be imported. */
    enum {
        PYCONV_CPU_AVX = 1, PYCONV_CPU_FMA = 2, PYCONV_CPU_AVX2 = 4,
        PYCONV_CPU_AVX512F = 8, PYCONV_CPU_AVX512BW = 16, PYCONV_CPU_AVX512DQ = 32,
        PYCONV_CPU_AVX512VL = 64, PYCONV_CPU_OSXSAVE = 128,
        PYCONV_OS_YMM = 256,  /* XCR0 bits 1, 2: SSE and AVX (ymm) state */
        PYCONV_OS_ZMM = 512   /* XCR0 bits 5, 6, 7: opmask, zmm0-15 upper, zmm16-31 */
    };
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #include <cpuid.h>
    #define PYCONV_X86 1
    static void pyconv_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
        __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    }
    static unsigned pyconv_cpuid_max(void) { return __get_cpuid_max(0, 0); }
    static unsigned long long pyconv_xcr0(void) {
        unsigned lo, hi;
        __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));  /* xgetbv */
        return ((unsigned long long)hi << 32) | lo;
    }
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <intrin.h>
    #include <immintrin.h>
    #define PYCONV_X86 1
    static void pyconv_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
        __cpuidex((int *)r, (int)leaf, (int)sub);
    }
    static unsigned pyconv_cpuid_max(void) { unsigned r[4]; pyconv_cpuid(0, 0, r); return r[0]; }
    static unsigned long long pyconv_xcr0(void) { return _xgetbv(0); }
    #endif

    static int pyconv_cpu_features(void) {
        int f = 0;
    #ifdef PYCONV_X86
        unsigned r[4];
        unsigned long long xcr0;
        if (pyconv_cpuid_max() < 1) return 0;
        pyconv_cpuid(1, 0, r);
        if (r[2] & (1u << 28)) f |= PYCONV_CPU_AVX;
        if (r[2] & (1u << 12)) f |= PYCONV_CPU_FMA;
        if (!(r[2] & (1u << 27))) return f;  /* no OSXSAVE: XGETBV would fault */
        f |= PYCONV_CPU_OSXSAVE;
        xcr0 = pyconv_xcr0();
        if ((xcr0 & 0x6) == 0x6) f |= PYCONV_OS_YMM;
        if ((xcr0 & 0xe6) == 0xe6) f |= PYCONV_OS_ZMM;
        if (pyconv_cpuid_max() >= 7) {
            pyconv_cpuid(7, 0, r);
            if (r[1] & (1u << 5)) f |= PYCONV_CPU_AVX2;
            if (r[1] & (1u << 16)) f |= PYCONV_CPU_AVX512F;
            if (r[1] & (1u << 17)) f |= PYCONV_CPU_AVX512DQ;
            if (r[1] & (1u << 30)) f |= PYCONV_CPU_AVX512BW;
            if (r[1] & (1u << 31)) f |= PYCONV_CPU_AVX512VL;
        }
    #endif
        return f;
    }
    """
    int pyconv_cpu_features() noexcept nogil
    enum:
        PYCONV_CPU_AVX, PYCONV_CPU_FMA, PYCONV_CPU_AVX2, PYCONV_CPU_AVX512F,
        PYCONV_CPU_AVX512BW, PYCONV_CPU_AVX512DQ, PYCONV_CPU_AVX512VL, PYCONV_CPU_OSXSAVE,
        PYCONV_OS_YMM, PYCONV_OS_ZMM


def cpu_features():
    """What the CPU reports (cpuid) and the OS enables (XGETBV), as a dict of
    booleans: ``avx``, ``fma``, ``avx2``, ``avx512f``, ``avx512bw``,
    ``avx512dq``, ``avx512vl``, ``osxsave``, ``os_ymm`` (XCR0 bits 1, 2: the
    OS saves the ymm state) and ``os_zmm`` (XCR0 bits 5, 6, 7: opmask and
    zmm state). All False off x86."""
    cdef int f = pyconv_cpu_features()
    bits = {"avx": PYCONV_CPU_AVX, "fma": PYCONV_CPU_FMA, "avx2": PYCONV_CPU_AVX2,
            "avx512f": PYCONV_CPU_AVX512F, "avx512bw": PYCONV_CPU_AVX512BW,
            "avx512dq": PYCONV_CPU_AVX512DQ, "avx512vl": PYCONV_CPU_AVX512VL,
            "osxsave": PYCONV_CPU_OSXSAVE, "os_ymm": PYCONV_OS_YMM, "os_zmm": PYCONV_OS_ZMM}
    return {name: bool(f & bit) for name, bit in bits.items()}
