# All OpenMP-specific C sits here, behind #ifdef _OPENMP, so that a compiler
# without OpenMP still builds every kernel (serially).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int pyconv_openmp_enabled(void) { return 1; }
    static int pyconv_openmp_version(void) { return _OPENMP; }
    static int pyconv_omp_get_max_threads(void) { return omp_get_max_threads(); }
    static void pyconv_omp_set_num_threads(int n) { omp_set_num_threads(n); }
    static int pyconv_omp_get_thread_num(void) { return omp_get_thread_num(); }
    static double pyconv_wtime(void) { return omp_get_wtime(); }
    #else
    static int pyconv_openmp_enabled(void) { return 0; }
    static int pyconv_openmp_version(void) { return 0; }
    static int pyconv_omp_get_max_threads(void) { return 1; }
    static void pyconv_omp_set_num_threads(int n) { (void)n; }
    static int pyconv_omp_get_thread_num(void) { return 0; }
    #include <time.h>
    static double pyconv_wtime(void) { return (double)clock() / CLOCKS_PER_SEC; }
    #endif
    """
    int pyconv_openmp_enabled() noexcept nogil
    int pyconv_openmp_version() noexcept nogil
    int pyconv_omp_get_max_threads() noexcept nogil
    void pyconv_omp_set_num_threads(int n) noexcept nogil
    int pyconv_omp_get_thread_num() noexcept nogil
    double pyconv_wtime() noexcept nogil
