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
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static int pyconv_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #else
    static int pyconv_cpu_has_avx2_fma(void) { return 0; }
    #endif
    """
    int pyconv_cpu_has_avx2_fma() noexcept nogil


def cpu_has_avx2_fma():
    """True when this CPU (and OS) can run AVX2+FMA code."""
    return bool(pyconv_cpu_has_avx2_fma())
