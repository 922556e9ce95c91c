# Helpers shared by the convolution algorithms (the .pxi files conv.pyx
# includes): index arithmetic, the one matrix product, and fused-type
# wrappers of the C row loops in _common.h. All inline: cimporting this
# file needs no compiled module.
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

from ._externs cimport (
    PYCONV_HAVE_SGEMM,
    pyconv_deinterleave_d,
    pyconv_deinterleave_f,
    pyconv_pack_a_whole,
    pyconv_packed_a_size,
    pyconv_pad_plane_d,
    pyconv_pad_plane_f,
    pyconv_pad_row_d,
    pyconv_pad_row_f,
    pyconv_sgemm,
    pyconv_sum_d,
    pyconv_sum_f,
)


cdef inline Py_ssize_t _min(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t _run_lo(Py_ssize_t iw0, Py_ssize_t sw, Py_ssize_t run) noexcept nogil:
    """First t in [0, run) whose input column ``iw0 + t*sw`` is >= 0."""
    return _min(run, 0 if iw0 >= 0 else (-iw0 + sw - 1) // sw)


cdef inline Py_ssize_t _run_hi(Py_ssize_t iw0, Py_ssize_t sw, Py_ssize_t W, Py_ssize_t run,
                               Py_ssize_t lo) noexcept nogil:
    """End of the positions t >= lo whose input column ``iw0 + t*sw`` is < W.

    (Returned by value, never through a pointer: inside ``prange`` a variable
    written only through its address would be shared between threads.)
    """
    cdef Py_ssize_t hi = _min(run, 0 if iw0 >= W else (W - 1 - iw0) // sw + 1)
    return hi if hi > lo else lo


# float32 products with at least this inner size go to the own GEMM; shorter
# ones (the Winograd element-wise GEMMs, k = 16-64) stay with BLAS, measured
# faster there: packing both operands costs too much per flop when each
# micro-tile sums only a few dozen terms.
cdef enum:
    _OWN_GEMM_MIN_K = 128


cdef inline Py_ssize_t _packed_weight_floats(Py_ssize_t rows, Py_ssize_t inner) noexcept nogil:
    """Floats of one op(W) (rows x inner) packed whole for the own GEMM, or
    0 where `_gemm` will not run it (baseline build, inner <
    _OWN_GEMM_MIN_K)."""
    if not PYCONV_HAVE_SGEMM or inner < _OWN_GEMM_MIN_K:
        return 0
    return <Py_ssize_t> pyconv_packed_a_size(rows, inner)


cdef inline void _gemm(bint trans_a, bint trans_b, int m, int n, int k,
                       floating alpha, const floating* a, int lda,
                       const floating* b, int ldb, floating beta,
                       floating* c, int ldc, const floating* bias=NULL) noexcept nogil:
    """Row-major ``C[m, n] = alpha * op(A) @ op(B) + beta * C (+ bias[m])``.

    float32 goes to pyconv's own packed GEMM in the AVX2+FMA build (bias
    fused into its epilogue); otherwise to BLAS, which is column-major, so
    compute ``C^T = op(B)^T @ op(A)^T`` and add the bias after.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef Py_ssize_t i, j
    if m <= 0 or n <= 0:
        return
    if floating is float:
        if k >= _OWN_GEMM_MIN_K and pyconv_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda,
                                                 b, ldb, beta, c, ldc, bias, 0) == 0:
            return
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)
    if bias != NULL:
        for i in range(m):
            for j in range(n):
                c[i * ldc + j] += bias[i]


cdef inline void _relu(floating* y, Py_ssize_t n) noexcept nogil:
    """``y[:n] = np.maximum(y[:n], 0)`` in place (NaN kept): a fused ReLU epilogue."""
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = y[i] if (y[i] > 0 or y[i] != y[i]) else 0


cdef inline double _sum(const floating* a, Py_ssize_t n) noexcept nogil:
    """``sum(a[:n])`` accumulated in double (the bias gradients)."""
    if floating is float:
        return pyconv_sum_f(a, n)
    else:
        return pyconv_sum_d(a, n)


cdef inline void _pad_row(floating* dst, const floating* src, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t L) noexcept nogil:
    """``dst[k] = src[k]`` for lo <= k < hi, zeros elsewhere in [0, L)."""
    if floating is float:
        pyconv_pad_row_f(dst, src, lo, hi, L)
    else:
        pyconv_pad_row_d(dst, src, lo, hi, L)


cdef inline void _load_padded_plane(const floating* src, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t ph, Py_ssize_t pw, floating* dst,
                                    Py_ssize_t Hp, Py_ssize_t Wp) noexcept nogil:
    """Copy one [H, W] plane into a zeroed [Hp, Wp] frame at offset (ph, pw)
    (ph < 0: a window of the padded plane starting at its row -ph)."""
    if floating is float:
        pyconv_pad_plane_f(src, H, W, ph, pw, dst, Hp, Wp)
    else:
        pyconv_pad_plane_d(src, H, W, ph, pw, dst, Hp, Wp)


cdef inline void _deinterleave(const floating* src, Py_ssize_t n, Py_ssize_t shift,
                               floating* e, floating* o, Py_ssize_t length) noexcept nogil:
    """``e[k] = src[2k - shift]``, ``o[k] = src[2k + 1 - shift]``, zero
    outside [0, n), for k < length."""
    if floating is float:
        pyconv_deinterleave_f(src, n, shift, e, o, length)
    else:
        pyconv_deinterleave_d(src, n, shift, e, o, length)
