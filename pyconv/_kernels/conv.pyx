# Convolution kernels: forward, backward to the input, backward to the weights.
#
# Every kernel fills caller-allocated arrays with the GIL released. Shapes and
# hyper-parameters were checked in Python (pyconv.functional); nothing here
# raises or allocates. Padding is "zeros" with explicit top/left offsets; the
# bottom/right padding is implied by the output size, so asymmetric ("same")
# padding needs nothing special. Other padding modes are applied in Python.
#
# The dense path works on tiles of output positions sized for the L2 cache:
# each thread builds an im2col tile in its own workspace row and multiplies it
# with BLAS (scipy.linalg.cython_blas, held to one thread by the caller).
# Depthwise convolutions (one input channel per group) use direct loops.
#
# Determinism: each output element is written by exactly one thread. Weight
# and bias gradients are summed into one partial buffer per *chunk* of the
# batch -- the chunking depends on the batch size only, never on the thread
# count -- and the partials are reduced in chunk order. Results are therefore
# bit-identical run to run and across thread counts.
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset
from pyconv._kernels._openmp cimport pyconv_wtime
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline Py_ssize_t _min(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef extern from "_gemm.h" nogil:
    int pyconv_sgemm(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     float alpha, const float* a, Py_ssize_t lda, const float* b,
                     Py_ssize_t ldb, float beta, float* c, Py_ssize_t ldc,
                     const float* bias, int relu)
    int PYCONV_HAVE_SGEMM
    size_t pyconv_packed_a_size(Py_ssize_t m, Py_ssize_t k)
    void pyconv_pack_a_whole(int trans, const float* a, Py_ssize_t lda, Py_ssize_t m,
                             Py_ssize_t k, float* dst)
    int pyconv_sgemm_pa(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                        float alpha, const float* a, Py_ssize_t lda, const float* pa_whole,
                        const float* b, Py_ssize_t ldb, float beta, float* c, Py_ssize_t ldc,
                        const float* bias, int relu)
    double pyconv_fma_probe(long iters, float* sink)


# float32 products with at least this inner size go to the own GEMM; shorter
# ones (the Winograd element-wise GEMMs, k = 16-64) stay with BLAS, measured
# faster there: packing both operands costs too much per flop when each
# micro-tile sums only a few dozen terms.
cdef enum:
    _OWN_GEMM_MIN_K = 128


cdef inline Py_ssize_t _packed_weight_floats(Py_ssize_t rows, Py_ssize_t inner) noexcept nogil:
    """Floats of one op(W) (rows x inner) packed whole for the own GEMM, or
    0 where `_gemm` will not run it (baseline build, inner < 128)."""
    if not PYCONV_HAVE_SGEMM or inner < _OWN_GEMM_MIN_K:
        return 0
    return <Py_ssize_t> pyconv_packed_a_size(rows, inner)


def packed_weight_size(Py_ssize_t rows, Py_ssize_t inner, Py_ssize_t groups):
    """Floats ``wpack`` needs for `conv2d_forward` (rows = C_out/groups,
    inner = K) or `conv2d_backward_input` (rows = K, inner = C_out/groups)
    to pack a float32 layer's weights once for all images; 0 when the own
    GEMM will not run (baseline build, inner < 128)."""
    return groups * _packed_weight_floats(rows, inner)


def has_own_sgemm():
    """True when float32 products use pyconv's packed GEMM (_gemm.h: AVX2+FMA
    or AVX-512 build), False when they go to the library BLAS (baseline)."""
    return bool(PYCONV_HAVE_SGEMM)


def own_sgemm(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c,
              bint trans_a, bint trans_b, float beta=0, bint prepack_a=False):
    """``c = op(a) @ op(b) + beta * c`` through the packed GEMM of this
    build (-1 returned, nothing done, where there is none): for the GEMM
    benchmark and tests. ``prepack_a`` packs op(a) whole first, as the
    convolutions do with their weights. Shapes are the caller's to check."""
    import numpy as np
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    cdef float[::1] packed = np.empty(
        <Py_ssize_t> pyconv_packed_a_size(m, k) if prepack_a else 1, dtype=np.float32)
    cdef int rc
    if not PYCONV_HAVE_SGEMM:
        return -1
    with nogil:
        if prepack_a:
            pyconv_pack_a_whole(trans_a, &a[0, 0], a.shape[1], m, k, &packed[0])
            rc = pyconv_sgemm_pa(trans_a, trans_b, m, n, k, 1, NULL, a.shape[1], &packed[0],
                                 &b[0, 0], b.shape[1], beta, &c[0, 0], c.shape[1], NULL, 0)
        else:
            rc = pyconv_sgemm(trans_a, trans_b, m, n, k, 1, &a[0, 0], a.shape[1], &b[0, 0],
                              b.shape[1], beta, &c[0, 0], c.shape[1], NULL, 0)
    return rc


def fma_peak_gflops(int n_threads, long iters=1000000, int repeats=40):
    """Measured FP32 FMA peak in GFLOP/s of ``n_threads`` cores with this
    build's probe (256-bit FMAs in the AVX2 build, 512-bit in the AVX-512
    one); 0.0 in the baseline build. For the benchmark's "% of peak" column.

    The threads run at once; each times ``repeats`` short runs of its own
    and keeps its best rate, and the peak is the sum of the threads' bests:
    on a shared machine each thread gets its core to itself now and then,
    seldom both at the same instant."""
    cdef double best[64]
    cdef float sinks[64]
    cdef double t0, rate, total = 0.0
    cdef int t, r
    if not PYCONV_HAVE_SGEMM or n_threads < 1 or n_threads > 64:
        return 0.0
    memset(sinks, 0, sizeof(sinks))
    memset(best, 0, sizeof(best))
    for t in prange(n_threads, nogil=True, num_threads=n_threads, schedule="static"):
        for r in range(repeats):
            t0 = pyconv_wtime()
            rate = pyconv_fma_probe(iters, &sinks[t])
            rate = rate / max(pyconv_wtime() - t0, 1e-9)
            if rate > best[t]:
                best[t] = rate
    for t in range(n_threads):
        total += best[t]
    return total * 1e-9


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


cdef void _im2col_tile(const floating* x, floating* col,
                       Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                       Py_ssize_t Wo, Py_ssize_t p0, Py_ssize_t pt) noexcept nogil:
    """Fill ``col[Cg*kh*kw, pt]`` with the receptive fields of output
    positions ``p0 .. p0+pt`` (row-major over (oh, ow)); ``x`` points at the
    first channel of the group in one image."""
    cdef Py_ssize_t c, i, j, q, t, oh, ow, ih, iw0, run, lo, hi
    cdef floating* row
    cdef const floating* xrow
    for c in range(Cg):
        for i in range(kh):
            for j in range(kw):
                row = col + ((c * kh + i) * kw + j) * pt
                q = 0
                oh = p0 // Wo
                ow = p0 - oh * Wo
                while q < pt:
                    run = _min(Wo - ow, pt - q)
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        memset(row + q, 0, run * sizeof(floating))
                    else:
                        xrow = x + (c * H + ih) * W
                        iw0 = ow * sw - pw + j * dw
                        lo = _run_lo(iw0, sw, run)
                        hi = _run_hi(iw0, sw, W, run, lo)
                        for t in range(lo):
                            row[q + t] = 0
                        if sw == 1:
                            memcpy(row + q + lo, xrow + iw0 + lo, (hi - lo) * sizeof(floating))
                        else:
                            for t in range(lo, hi):
                                row[q + t] = xrow[iw0 + t * sw]
                        for t in range(hi, run):
                            row[q + t] = 0
                    q = q + run
                    ow = 0
                    oh = oh + 1


cdef extern from "_conv_loops.h" nogil:
    void pyconv_im2col_rows_f(const float* x, float* col, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)
    void pyconv_im2col_rows_d(const double* x, double* col, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)


cdef extern from "_conv_loops.h" nogil:
    float pyconv_dot_f(const float* a, const float* b, Py_ssize_t n, Py_ssize_t sb)
    double pyconv_dot_d(const double* a, const double* b, Py_ssize_t n, Py_ssize_t sb)
    double pyconv_sum_f(const float* a, Py_ssize_t n)
    double pyconv_sum_d(const double* a, Py_ssize_t n)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_dw_rows_f(const float* xp, Py_ssize_t Wp, const float* w, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, float b, float* out,
                          Py_ssize_t Ho, Py_ssize_t Wo)
    void pyconv_dw_rows_d(const double* xp, Py_ssize_t Wp, const double* w, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, double b, double* out,
                          Py_ssize_t Ho, Py_ssize_t Wo)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_dw_wgrad_f(const float* xp, Py_ssize_t Wp, const float* g, Py_ssize_t Ho,
                           Py_ssize_t Wo, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t dh,
                           Py_ssize_t dw, float* lanes)
    void pyconv_dw_wgrad_d(const double* xp, Py_ssize_t Wp, const double* g, Py_ssize_t Ho,
                           Py_ssize_t Wo, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t dh,
                           Py_ssize_t dw, double* lanes)


cdef extern from "_conv_loops.h" nogil:
    int PYCONV_HAVE_DIRECT_AVX2
    void pyconv_direct16_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                           Py_ssize_t K, const float* wpk, Py_ssize_t M, const float* bias,
                           int has_bias, float* out, Py_ssize_t Ho, Py_ssize_t Wo)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_direct_w8_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                            Py_ssize_t K, const float* w8, Py_ssize_t M, const float* bias,
                            int has_bias, int relu, float* out, Py_ssize_t Ho, Py_ssize_t Wo)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_direct_w8_wgrad_f(const float* xp, Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                                  Py_ssize_t kh, Py_ssize_t kw, const float* gp, Py_ssize_t M,
                                  Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t Wv, float* gw)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_direct16_wgrad_f(const float* xp, Py_ssize_t Wp, const Py_ssize_t* offs,
                                 Py_ssize_t K, const float* gyT, Py_ssize_t M,
                                 Py_ssize_t Ho, Py_ssize_t Wo, float* gw)


def has_direct_kernel():
    """Whether this build has the register-blocked direct convolution
    (`conv2d_direct_forward`; the AVX2+FMA build only)."""
    return bool(PYCONV_HAVE_DIRECT_AVX2)


cdef inline floating _dot(const floating* a, const floating* b, Py_ssize_t n,
                          Py_ssize_t sb) noexcept nogil:
    """sum_t a[t] * b[t * sb], vectorised (lane order fixed per build)."""
    if floating is float:
        return pyconv_dot_f(a, b, n, sb)
    else:
        return pyconv_dot_d(a, b, n, sb)


cdef inline double _sum(const floating* a, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return pyconv_sum_f(a, n)
    else:
        return pyconv_sum_d(a, n)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_col2im_rows_f(const float* col, float* gx, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)
    void pyconv_col2im_rows_d(const double* col, double* gx, Py_ssize_t Cg, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                              Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                              Py_ssize_t dw, Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows)


cdef inline void _col2im_rows(const floating* col, floating* gx,
                              Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                              Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows) noexcept nogil:
    """`_col2im_tile` for a tile of whole output rows (C code in _conv_loops.h)."""
    if floating is float:
        pyconv_col2im_rows_f(col, gx, Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Wo, oh0, rows)
    else:
        pyconv_col2im_rows_d(col, gx, Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Wo, oh0, rows)


cdef inline void _im2col_rows(const floating* x, floating* col,
                              Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                              Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows) noexcept nogil:
    """`_im2col_tile` for a tile of whole output rows ``oh0 .. oh0+rows``
    (C code in _conv_loops.h: the valid column range of each kernel tap is
    computed once and the copies vectorise)."""
    if floating is float:
        pyconv_im2col_rows_f(x, col, Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Wo, oh0, rows)
    else:
        pyconv_im2col_rows_d(x, col, Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Wo, oh0, rows)


cdef void _col2im_tile(const floating* col, floating* gx,
                       Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                       Py_ssize_t Wo, Py_ssize_t p0, Py_ssize_t pt) noexcept nogil:
    """Add ``col[Cg*kh*kw, pt]`` back onto the image gradient ``gx`` (the
    adjoint of `_im2col_tile`)."""
    cdef Py_ssize_t c, i, j, q, t, oh, ow, ih, iw0, run, lo, hi
    cdef const floating* row
    cdef floating* grow
    for c in range(Cg):
        for i in range(kh):
            for j in range(kw):
                row = col + ((c * kh + i) * kw + j) * pt
                q = 0
                oh = p0 // Wo
                ow = p0 - oh * Wo
                while q < pt:
                    run = _min(Wo - ow, pt - q)
                    ih = oh * sh - ph + i * dh
                    if ih >= 0 and ih < H:
                        grow = gx + (c * H + ih) * W
                        iw0 = ow * sw - pw + j * dw
                        lo = _run_lo(iw0, sw, run)
                        hi = _run_hi(iw0, sw, W, run, lo)
                        if sw == 1:
                            for t in range(lo, hi):
                                grow[iw0 + t] += row[q + t]
                        else:
                            for t in range(lo, hi):
                                grow[iw0 + t * sw] += row[q + t]
                    q = q + run
                    ow = 0
                    oh = oh + 1


cdef inline bint _is_direct(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                            Py_ssize_t ph, Py_ssize_t pw) noexcept nogil:
    """A 1x1, stride-1, unpadded convolution reads the image as its own
    im2col matrix: no copy needed."""
    return kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0


cdef Py_ssize_t _prepack_weights(const floating[:, :, :, ::1] weight, floating[::1] wpack,
                                 Py_ssize_t groups, bint trans):
    """Pack each group's op(W) -- W [Cout/groups, K], or W^T with ``trans``
    (the input gradient) -- once into ``wpack`` for the own GEMM; return the
    floats per group, or 0 where the GEMM is left to pack (float64, the
    baseline build, an inner size below _OWN_GEMM_MIN_K, or ``wpack`` too
    small: the caller passes a one-element array then)."""
    cdef Py_ssize_t Mg = weight.shape[0] // groups
    cdef Py_ssize_t K = weight.shape[1] * weight.shape[2] * weight.shape[3]
    cdef Py_ssize_t rows = K if trans else Mg, inner = Mg if trans else K
    cdef Py_ssize_t size = _packed_weight_floats(rows, inner), g
    if floating is float:
        if size == 0 or wpack.shape[0] < groups * size:
            return 0
        with nogil:
            for g in range(groups):
                pyconv_pack_a_whole(trans, &weight[g * Mg, 0, 0, 0], K, rows, inner,
                                    &wpack[g * size])
        return size
    return 0


def conv2d_forward(const floating[:, :, :, ::1] x,          # IN  [N, C, H, W]
                   const floating[:, :, :, ::1] weight,     # IN  [Cout, C/groups, kh, kw]
                   const floating[::1] bias,                # IN  [Cout] (ignored if not has_bias)
                   floating[:, :, :, ::1] out,              # OUT [N, Cout, Ho, Wo]
                   floating[:, ::1] workspace,              # SCRATCH [n_threads, K*tile]
                   floating[::1] wpack,                     # SCRATCH [packed_weight_size] (or [1])
                   Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                   Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t groups,
                   bint has_bias, Py_ssize_t tile, int n_threads):
    cdef Py_ssize_t N = x.shape[0], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = weight.shape[0], Cg = weight.shape[1]
    cdef Py_ssize_t kh = weight.shape[2], kw = weight.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t P = Ho * Wo, Mg = Cout // groups, K = Cg * kh * kw
    cdef Py_ssize_t n_tiles = (P + tile - 1) // tile
    cdef bint direct = _is_direct(kh, kw, sh, sw, ph, pw)
    cdef bint rows_aligned = tile % Wo == 0
    cdef Py_ssize_t u, n, p0, pt, g
    cdef floating* col
    cdef const floating* b_ptr
    cdef floating* o_ptr
    cdef int ldb
    # float32 on the own GEMM: the weights are packed once here, not once
    # per image and tile inside the GEMM.
    cdef Py_ssize_t wsize = _prepack_weights(weight, wpack, groups, False)
    cdef bint prepacked = wsize > 0
    for u in prange(N * n_tiles, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // n_tiles
        p0 = (u - n * n_tiles) * tile
        pt = _min(tile, P - p0)
        col = &workspace[threadid(), 0]
        for g in range(groups):
            if direct:
                b_ptr = &x[n, g * Cg, 0, 0] + p0
                ldb = <int> P
            else:
                if rows_aligned:
                    _im2col_rows(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                                 ph, pw, dh, dw, Wo, p0 // Wo, pt // Wo)
                else:
                    _im2col_tile(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                                 ph, pw, dh, dw, Wo, p0, pt)
                b_ptr = col
                ldb = <int> pt
            o_ptr = &out[n, g * Mg, 0, 0] + p0
            if floating is float:
                if prepacked:
                    pyconv_sgemm_pa(0, 0, Mg, pt, K, 1, NULL, K, &wpack[g * wsize], b_ptr, ldb,
                                    0, o_ptr, P, &bias[g * Mg] if has_bias else NULL, 0)
                    continue
            _gemm(False, False, <int> Mg, <int> pt, <int> K, 1, &weight[g * Mg, 0, 0, 0],
                  <int> K, b_ptr, ldb, 0, o_ptr, <int> P,
                  &bias[g * Mg] if has_bias else NULL)


def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                          const floating[:, :, :, ::1] weight,    # IN  [Cout, C/groups, kh, kw]
                          floating[:, :, :, ::1] grad_x,          # OUT [N, C, H, W]
                          floating[:, ::1] workspace,             # SCRATCH [n_threads, K*tile]
                          floating[::1] wpack,                    # SCRATCH [packed_weight_size(K, Cout/groups)] (or [1])
                          Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                          Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t groups,
                          Py_ssize_t tile, int n_threads):
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1]
    cdef Py_ssize_t H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t Cout = weight.shape[0], Cg = weight.shape[1]
    cdef Py_ssize_t kh = weight.shape[2], kw = weight.shape[3]
    cdef Py_ssize_t Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t P = Ho * Wo, Mg = Cout // groups, K = Cg * kh * kw
    cdef Py_ssize_t n_tiles = (P + tile - 1) // tile
    cdef bint direct = _is_direct(kh, kw, sh, sw, ph, pw)
    cdef bint rows_aligned = tile % Wo == 0
    cdef Py_ssize_t n, t, p0, pt, g, ldc
    cdef floating* col
    cdef floating* c_ptr
    # float32 on the own GEMM: W^T packed once here (see conv2d_forward).
    cdef Py_ssize_t wsize = _prepack_weights(weight, wpack, groups, True)
    cdef bint prepacked = wsize > 0
    # One image per thread: col2im tiles of one image overlap, so the image
    # is the unit of work that keeps every output element single-writer.
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        col = &workspace[threadid(), 0]
        if not direct:
            memset(&grad_x[n, 0, 0, 0], 0, C * H * W * sizeof(floating))
        for t in range(n_tiles):
            p0 = t * tile
            pt = _min(tile, P - p0)
            for g in range(groups):
                # W^T @ grad_out, into grad_x (1x1) or into col for col2im
                c_ptr = &grad_x[n, g * Cg, 0, 0] + p0 if direct else col
                ldc = P if direct else pt
                if prepacked:
                    if floating is float:
                        pyconv_sgemm_pa(1, 0, K, pt, Mg, 1, NULL, K, &wpack[g * wsize],
                                        &grad_out[n, g * Mg, 0, 0] + p0, P, 0, c_ptr, ldc,
                                        NULL, 0)
                else:
                    _gemm(True, False, <int> K, <int> pt, <int> Mg, 1,
                          &weight[g * Mg, 0, 0, 0], <int> K,
                          &grad_out[n, g * Mg, 0, 0] + p0, <int> P, 0, c_ptr, <int> ldc)
                if not direct:
                    if rows_aligned:
                        _col2im_rows(col, &grad_x[n, g * Cg, 0, 0], Cg, H, W, kh, kw,
                                     sh, sw, ph, pw, dh, dw, Wo, p0 // Wo, pt // Wo)
                    else:
                        _col2im_tile(col, &grad_x[n, g * Cg, 0, 0], Cg, H, W, kh, kw,
                                     sh, sw, ph, pw, dh, dw, Wo, p0, pt)


def conv2d_backward_weight(const floating[:, :, :, ::1] x,         # IN  [N, C, H, W]
                           const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                           floating[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*K]
                           floating[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                           floating[:, ::1] workspace,             # SCRATCH [n_threads, K*tile]
                           Py_ssize_t kh, Py_ssize_t kw,
                           Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                           Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t groups,
                           bint need_bias, Py_ssize_t chunk, Py_ssize_t tile, int n_threads):
    """Per-chunk partial gradients; reduce them with `reduce_partials`."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = grad_out.shape[1], Cg = C // groups
    cdef Py_ssize_t Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t P = Ho * Wo, Mg = Cout // groups, K = Cg * kh * kw
    cdef Py_ssize_t n_tiles = (P + tile - 1) // tile
    cdef Py_ssize_t n_chunks = grad_w_partial.shape[0]
    cdef bint direct = _is_direct(kh, kw, sh, sw, ph, pw)
    cdef bint rows_aligned = tile % Wo == 0
    cdef Py_ssize_t ch, n, t, p0, pt, g, o
    cdef floating* col
    cdef floating* part_w
    cdef floating* part_b
    cdef const floating* b_ptr
    cdef int ldb
    for ch in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
        col = &workspace[threadid(), 0]
        part_w = &grad_w_partial[ch, 0]
        part_b = &grad_b_partial[ch, 0]
        memset(part_w, 0, Cout * K * sizeof(floating))
        memset(part_b, 0, Cout * sizeof(floating))
        for n in range(ch * chunk, _min(N, (ch + 1) * chunk)):
            for t in range(n_tiles):
                p0 = t * tile
                pt = _min(tile, P - p0)
                for g in range(groups):
                    if direct:
                        b_ptr = &x[n, g * Cg, 0, 0] + p0
                        ldb = <int> P
                    else:
                        if rows_aligned:
                            _im2col_rows(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                                         ph, pw, dh, dw, Wo, p0 // Wo, pt // Wo)
                        else:
                            _im2col_tile(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                                         ph, pw, dh, dw, Wo, p0, pt)
                        b_ptr = col
                        ldb = <int> pt
                    _gemm(False, True, <int> Mg, <int> K, <int> pt, 1,
                          &grad_out[n, g * Mg, 0, 0] + p0, <int> P, b_ptr, ldb, 1,
                          part_w + g * Mg * K, <int> K)
                if need_bias:
                    for o in range(Cout):
                        part_b[o] += <floating> _sum(&grad_out[n, o, 0, 0] + p0, pt)


def reduce_partials(const floating[:, ::1] partial,   # IN  [n_chunks, L]
                    floating[::1] out,                # OUT [L]
                    int n_threads):
    """``out[i] = sum_c partial[c, i]``, always in chunk order."""
    cdef Py_ssize_t n_chunks = partial.shape[0], L = partial.shape[1]
    cdef Py_ssize_t block = 1024, n_blocks = (L + block - 1) // block
    cdef Py_ssize_t b, i, c, start, stop
    for b in prange(n_blocks, nogil=True, num_threads=n_threads, schedule="static"):
        start = b * block
        stop = _min(L, start + block)
        for i in range(start, stop):
            out[i] = partial[0, i]
        for c in range(1, n_chunks):
            for i in range(start, stop):
                out[i] += partial[c, i]


def conv2d_direct_forward(const float[:, :, :, ::1] x,       # IN  [N, C, H, W]
                          const float[:, :, ::1] wpk,         # IN  [Cout/16, C*kh*kw, 16]
                          const float[::1] bias,              # IN  [Cout]
                          const Py_ssize_t[::1] offs,         # IN  [C*kh*kw] tap offsets
                          float[:, :, :, ::1] out,            # OUT [N, Cout, Ho, Wo]
                          float[:, ::1] workspace,            # SCRATCH [n_threads, C*Hp*Wp]
                          Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                          bint has_bias, int n_threads):
    """Stride-1, ungrouped float32 convolution for few output channels
    (Cout a multiple of 16), one image per work unit: the image is copied
    into a zero-padded [C, Hp, Wp] buffer, then `pyconv_direct16_f` computes
    every output once from registers -- no im2col. ``offs`` (computed in
    Python) holds the buffer offset of each tap (c, i, j)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t K = offs.shape[0]
    cdef Py_ssize_t n, c, r, ih
    cdef float* xp
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        for c in range(C):
            _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
        pyconv_direct16_f(xp, Wp, &offs[0], K, &wpk[0, 0, 0], M, &bias[0], has_bias,
                          &out[n, 0, 0, 0], Ho, Wo)


def conv2d_direct_forward_w8(const float[:, :, :, ::1] x,       # IN  [N, C, H, W]
                             const float[:, ::1] w8,             # IN  [C*kh*kw, 8]
                             const float[::1] bias,              # IN  [Cout]
                             const Py_ssize_t[::1] offs,         # IN  [C*kh*kw] tap offsets
                             float[:, :, :, ::1] out,            # OUT [N, Cout, Ho, Wo]
                             float[:, ::1] workspace,            # SCRATCH [n_threads, C*Hp*Wp + 16]
                             Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                             bint has_bias, bint relu, int n_threads):
    """`conv2d_direct_forward` for at most 8 output channels, vectorised over
    the output width (`pyconv_direct_w8_f`): ``w8[k, m]`` is the weight of
    tap k for channel m, zero for m >= Cout. With ``relu`` the output is
    ``max(conv + bias, 0)`` (as ``np.maximum``)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t K = offs.shape[0]
    cdef Py_ssize_t n, c, r, ih
    cdef float* xp
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        for c in range(C):
            _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
        memset(xp + C * Hp * Wp, 0, 16 * sizeof(float))
        pyconv_direct_w8_f(xp, Wp, &offs[0], K, &w8[0, 0], M, &bias[0], has_bias, relu,
                           &out[n, 0, 0, 0], Ho, Wo)


def conv2d_direct_backward_weight(const float[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                  const float[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                  const Py_ssize_t[::1] offs,          # IN  [C*kh*kw] tap offsets
                                  float[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*K]
                                  float[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                  float[:, ::1] workspace,             # SCRATCH [n_threads, C*Hp*Wp + Ho*Wo*Cout]
                                  Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                                  bint need_bias, Py_ssize_t chunk, int n_threads):
    """Per-chunk partial weight gradients of `conv2d_direct_forward`'s
    convolution (Cout a multiple of 16): per image, the input is copied into
    a zero-padded buffer and grad_output transposed to [Ho*Wo, Cout], then
    `pyconv_direct16_wgrad_f` accumulates 16 channels x 6 taps in registers."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t K = offs.shape[0], P = Ho * Wo, n_chunks = grad_w_partial.shape[0]
    cdef Py_ssize_t ch, n, c, r, ih, m, q
    cdef float* xp
    cdef float* gyT
    cdef const float* gy
    for ch in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        gyT = xp + C * Hp * Wp
        memset(&grad_w_partial[ch, 0], 0, M * K * sizeof(float))
        memset(&grad_b_partial[ch, 0], 0, M * sizeof(float))
        for n in range(ch * chunk, _min(N, (ch + 1) * chunk)):
            for c in range(C):
                _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
            for m in range(M):
                gy = &grad_out[n, m, 0, 0]
                for q in range(P):
                    gyT[q * M + m] = gy[q]
                if need_bias:
                    grad_b_partial[ch, m] += <float> _sum(gy, P)
            pyconv_direct16_wgrad_f(xp, Wp, &offs[0], K, gyT, M, Ho, Wo,
                                    &grad_w_partial[ch, 0])


def conv2d_direct_backward_weight_w8(const float[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                     const float[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                     float[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*K]
                                     float[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                     float[:, ::1] workspace,  # SCRATCH [n_threads, C*Hp*Wp + 16 + 8*Ho*Wv]
                                     Py_ssize_t kh, Py_ssize_t kw,
                                     Py_ssize_t ph, Py_ssize_t pw,
                                     bint need_bias, Py_ssize_t chunk, int n_threads):
    """Per-chunk partial weight gradients for at most 8 output channels,
    undilated, kw <= 5 (`pyconv_direct_w8_wgrad_f`): per image, the input is
    copied into a zero-padded [C, Hp, Wp] buffer and grad_output into
    [8, Ho, Wv] rows padded with zeros (Wv = Wo rounded up to 8)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t Hp = Ho + kh - 1, Wp = Wo + kw - 1
    cdef Py_ssize_t K = C * kh * kw, P = Ho * Wo, n_chunks = grad_w_partial.shape[0]
    cdef Py_ssize_t Wv = (Wo + 7) // 8 * 8
    cdef Py_ssize_t ch, n, c, r, ih, m, oh
    cdef float* xp
    cdef float* gp
    cdef const float* gy
    for ch in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        gp = xp + C * Hp * Wp + 16
        memset(xp + C * Hp * Wp, 0, 16 * sizeof(float))
        memset(gp, 0, 8 * Ho * Wv * sizeof(float))
        memset(&grad_w_partial[ch, 0], 0, M * K * sizeof(float))
        memset(&grad_b_partial[ch, 0], 0, M * sizeof(float))
        for n in range(ch * chunk, _min(N, (ch + 1) * chunk)):
            for c in range(C):
                _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
            for m in range(M):
                gy = &grad_out[n, m, 0, 0]
                for oh in range(Ho):
                    memcpy(gp + (m * Ho + oh) * Wv, gy + oh * Wo, Wo * sizeof(float))
                if need_bias:
                    grad_b_partial[ch, m] += <float> _sum(gy, P)
            pyconv_direct_w8_wgrad_f(xp, C, Hp, Wp, kh, kw, gp, M, Ho, Wo, Wv,
                                     &grad_w_partial[ch, 0])


# --------------------------------------------------------------------------
# Depthwise (one input channel per group): direct loops over output rows.
# --------------------------------------------------------------------------

def conv2d_depthwise_forward(const floating[:, :, :, ::1] x,        # IN  [N, C, H, W]
                             const floating[:, :, :, ::1] weight,   # IN  [Cout, 1, kh, kw]
                             const floating[::1] bias,              # IN  [Cout]
                             floating[:, :, :, ::1] out,            # OUT [N, Cout, Ho, Wo]
                             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                             Py_ssize_t dh, Py_ssize_t dw, bint has_bias, int n_threads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3], mult = Cout // C
    cdef Py_ssize_t u, n, o, oh, i, j, t, ih, iw0, lo, hi
    cdef const floating* xp
    cdef const floating* xrow
    cdef const floating* wp
    cdef floating* orow
    cdef floating wv, b
    for u in prange(N * Cout, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // Cout
        o = u - n * Cout
        xp = &x[n, o // mult, 0, 0]
        wp = &weight[o, 0, 0, 0]
        b = bias[o] if has_bias else 0
        for oh in range(Ho):
            orow = &out[n, o, oh, 0]
            for t in range(Wo):
                orow[t] = b
            for i in range(kh):
                ih = oh * sh - ph + i * dh
                if ih < 0 or ih >= H:
                    continue
                xrow = xp + ih * W
                for j in range(kw):
                    wv = wp[i * kw + j]
                    iw0 = j * dw - pw
                    lo = _run_lo(iw0, sw, Wo)
                    hi = _run_hi(iw0, sw, W, Wo, lo)
                    if sw == 1:
                        for t in range(lo, hi):
                            orow[t] += wv * xrow[iw0 + t]
                    else:
                        for t in range(lo, hi):
                            orow[t] += wv * xrow[iw0 + t * sw]


def conv2d_depthwise_forward_s1(const floating[:, :, :, ::1] x,        # IN  [N, C, H, W]
                                const floating[:, :, :, ::1] weight,   # IN  [C*mult, 1, kh, kw]
                                const floating[::1] bias,              # IN  [C*mult]
                                floating[:, :, :, ::1] out,            # OUT [N, C*mult, Ho, Wo]
                                floating[:, ::1] workspace,            # SCRATCH [n_threads, Hp*Wp]
                                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                                bint has_bias, int n_threads):
    """Stride-1 depthwise convolution: each channel image is copied once into
    a zero-padded buffer (Hp = Ho + (kh-1)*dh rows of Wp = Wo + (kw-1)*dw),
    then every output row accumulates all taps in registers. Padding may be
    negative (the input gradient, run as this convolution with the kernels
    rotated by 180 degrees)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3], mult = Cout // C
    cdef Py_ssize_t Hp = Ho + (kh - 1) * dh, Wp = Wo + (kw - 1) * dw
    cdef Py_ssize_t u, n, o, r, ih
    cdef floating* xp
    cdef floating b
    for u in prange(N * Cout, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // Cout
        o = u - n * Cout
        xp = &workspace[threadid(), 0]
        _load_padded_plane(&x[n, o // mult, 0, 0], H, W, ph, pw, xp, Hp, Wp)
        b = bias[o] if has_bias else 0
        _dw_rows(xp, Wp, &weight[o, 0, 0, 0], kh, kw, dh, dw, b, &out[n, o, 0, 0], Ho, Wo)


cdef extern from "_conv_loops.h" nogil:
    void pyconv_pad_row_f(float* dst, const float* src, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t L)
    void pyconv_pad_row_d(double* dst, const double* src, Py_ssize_t lo, Py_ssize_t hi,
                          Py_ssize_t L)
    void pyconv_pad_plane_f(const float* src, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, float* dst, Py_ssize_t Hp, Py_ssize_t Wp)
    void pyconv_pad_plane_d(const double* src, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, double* dst, Py_ssize_t Hp, Py_ssize_t Wp)


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


cdef inline void _dw_rows(const floating* xp, Py_ssize_t Wp, const floating* w, Py_ssize_t kh,
                          Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, floating b,
                          floating* out, Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    if floating is float:
        pyconv_dw_rows_f(xp, Wp, w, kh, kw, dh, dw, b, out, Ho, Wo)
    else:
        pyconv_dw_rows_d(xp, Wp, w, kh, kw, dh, dw, b, out, Ho, Wo)


def conv2d_depthwise_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                    const floating[:, :, :, ::1] weight,    # IN  [Cout, 1, kh, kw]
                                    floating[:, :, :, ::1] grad_x,          # OUT [N, C, H, W]
                                    Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                    Py_ssize_t dh, Py_ssize_t dw, int n_threads):
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1]
    cdef Py_ssize_t H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t Cout = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
    cdef Py_ssize_t Ho = grad_out.shape[2], Wo = grad_out.shape[3], mult = Cout // C
    cdef Py_ssize_t u, n, c, o, oh, i, j, t, ih, iw0, lo, hi
    cdef const floating* grow
    cdef const floating* wp
    cdef floating* gx
    cdef floating* gxrow
    cdef floating wv
    for u in prange(N * C, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // C
        c = u - n * C
        gx = &grad_x[n, c, 0, 0]
        memset(gx, 0, H * W * sizeof(floating))
        for o in range(c * mult, (c + 1) * mult):
            wp = &weight[o, 0, 0, 0]
            for oh in range(Ho):
                grow = &grad_out[n, o, oh, 0]
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    gxrow = gx + ih * W
                    for j in range(kw):
                        wv = wp[i * kw + j]
                        iw0 = j * dw - pw
                        lo = _run_lo(iw0, sw, Wo)
                        hi = _run_hi(iw0, sw, W, Wo, lo)
                        if sw == 1:
                            for t in range(lo, hi):
                                gxrow[iw0 + t] += wv * grow[t]
                        else:
                            for t in range(lo, hi):
                                gxrow[iw0 + t * sw] += wv * grow[t]


def conv2d_depthwise_backward_weight(const floating[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                     const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                     floating[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*kh*kw]
                                     floating[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                     floating[:, ::1] workspace,             # SCRATCH [n_threads, kh*kw*Wo + Hp*Wp]
                                     Py_ssize_t kh, Py_ssize_t kw,
                                     Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                     Py_ssize_t dh, Py_ssize_t dw, bint need_bias,
                                     Py_ssize_t chunk, int n_threads):
    """Per-(chunk, output channel) partial gradients; reduce with `reduce_partials`.

    Each kernel tap keeps one accumulator per output column (``Wo`` lanes in
    the thread's workspace) over all rows and images of the chunk -- a
    vectorised multiply-add per row -- and the lanes are summed once at the
    end, in a fixed order."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t mult = Cout // C, n_chunks = grad_w_partial.shape[0], KK = kh * kw
    cdef Py_ssize_t u, ch, o, n, oh, i, j, t, ih, iw0, lo, hi, r
    cdef bint s1 = sh == 1 and sw == 1
    cdef Py_ssize_t Hp = Ho + (kh - 1) * dh, Wp = Wo + (kw - 1) * dw
    cdef const floating* xrow
    cdef const floating* grow
    cdef floating* part_w
    cdef floating* acc
    cdef floating* xp
    cdef floating* lane
    cdef floating total
    cdef double bacc
    for u in prange(n_chunks * Cout, nogil=True, num_threads=n_threads, schedule="static"):
        ch = u // Cout
        o = u - ch * Cout
        part_w = &grad_w_partial[ch, o * KK]
        acc = &workspace[threadid(), 0]
        memset(acc, 0, KK * Wo * sizeof(floating))
        bacc = 0
        for n in range(ch * chunk, _min(N, (ch + 1) * chunk)):
            if s1:
                # zero-padded copy of the input channel, then the C row kernel
                xp = acc + KK * Wo
                _load_padded_plane(&x[n, o // mult, 0, 0], H, W, ph, pw, xp, Hp, Wp)
                if floating is float:
                    pyconv_dw_wgrad_f(xp, Wp, &grad_out[n, o, 0, 0], Ho, Wo, kh, kw, dh, dw,
                                      acc)
                else:
                    pyconv_dw_wgrad_d(xp, Wp, &grad_out[n, o, 0, 0], Ho, Wo, kh, kw, dh, dw,
                                      acc)
                if need_bias:
                    bacc = bacc + _sum(&grad_out[n, o, 0, 0], Ho * Wo)
                continue
            for oh in range(Ho):
                grow = &grad_out[n, o, oh, 0]
                if need_bias:
                    bacc = bacc + _sum(grow, Wo)
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    xrow = &x[n, o // mult, ih, 0]
                    for j in range(kw):
                        iw0 = j * dw - pw
                        lo = _run_lo(iw0, sw, Wo)
                        hi = _run_hi(iw0, sw, W, Wo, lo)
                        lane = acc + (i * kw + j) * Wo
                        if sw == 1:
                            for t in range(lo, hi):
                                lane[t] += grow[t] * xrow[iw0 + t]
                        else:
                            for t in range(lo, hi):
                                lane[t] += grow[t] * xrow[iw0 + t * sw]
        for i in range(KK):
            lane = acc + i * Wo
            total = 0
            for t in range(Wo):
                total = total + lane[t]
            part_w[i] = total
        grad_b_partial[ch, o] = <floating> bacc


# --------------------------------------------------------------------------
# Winograd F(2x2, 3x3) and F(4x4, 3x3) for 3x3, stride-1, undilated,
# ungrouped layers.
#
# Y = A^T [ (G g G^T) . (B^T d B) ] A on (t+2)x(t+2) input tiles giving txt
# outputs (t = `tile`, 2 or 4): ne = (t+2)^2 multiplications per output tile
# and channel pair instead of 9 t^2 (16 vs 36 for t = 2, 36 vs 144 for
# t = 4). Work unit: (image, block of `rb` whole rows of output tiles,
# tb = rb * tw tiles) -- in the weight gradient, for small images, `ni`
# whole images side by side (ld = ni * tb tiles), which makes its GEMMs
# deeper and fewer (measured 6.2 -> 6.05 ms for the dilated layer's 16x16
# phases, 3.7 -> 3.4 ms for 8x8 images; no gain forward). For each unit
# the input tiles are transformed into V[ne, C, ld] (component e at offset
# e * es, es padded off multiples of 4 KiB so the streams do not alias in
# L1), ne GEMMs give M[e] = U[e] @ V[e] with U[ne, Cout, C] the transformed
# weights (computed in Python), and the output transform writes the txt
# outputs plus bias. The backward pass to the input is the same kernel with
# the flipped, transposed weights; the weight gradient accumulates
# dU[e] += dM[e] @ V[e]^T per batch chunk (dM = A dY A^T) and Python maps it
# back with G^T dU G.
# --------------------------------------------------------------------------

cdef inline Py_ssize_t _wino_stride(Py_ssize_t size) noexcept nogil:
    """Distance between the Winograd components of a block: ``size``
    rounded up to 16 floats plus 16, so consecutive components never sit a
    multiple of 4 KiB apart."""
    return (size + 15) // 16 * 16 + 16


cdef extern from "_conv_loops.h" nogil:
    void pyconv_wino_deint_f(const float* src, Py_ssize_t n, Py_ssize_t shift,
                             float* e, float* o, Py_ssize_t len)
    void pyconv_wino_deint_d(const double* src, Py_ssize_t n, Py_ssize_t shift,
                             double* e, double* o, Py_ssize_t len)
    void pyconv_wino_input_f(const float* e0, const float* o0, const float* e1,
                             const float* o1, const float* e2, const float* o2,
                             const float* e3, const float* o3, float* v, Py_ssize_t es,
                             Py_ssize_t tw)
    void pyconv_wino_input_d(const double* e0, const double* o0, const double* e1,
                             const double* o1, const double* e2, const double* o2,
                             const double* e3, const double* o3, double* v, Py_ssize_t es,
                             Py_ssize_t tw)
    void pyconv_wino_output_f(const float* s, Py_ssize_t es, float* y0, float* y1, float b,
                              Py_ssize_t tw)
    void pyconv_wino_output_d(const double* s, Py_ssize_t es, double* y0, double* y1,
                              double b, Py_ssize_t tw)
    void pyconv_wino_grad_f(const float* g0, const float* g1, float* d, Py_ssize_t es,
                            Py_ssize_t tw)
    void pyconv_wino_grad_d(const double* g0, const double* g1, double* d, Py_ssize_t es,
                            Py_ssize_t tw)
    void pyconv_wino4_row_f(const float* x, float* h, Py_ssize_t hs, Py_ssize_t n)
    void pyconv_wino4_row_d(const double* x, double* h, Py_ssize_t hs, Py_ssize_t n)
    void pyconv_wino4_input_f(const float* h, Py_ssize_t hs, Py_ssize_t rs, float* v,
                              Py_ssize_t es, Py_ssize_t tw)
    void pyconv_wino4_input_d(const double* h, Py_ssize_t hs, Py_ssize_t rs, double* v,
                              Py_ssize_t es, Py_ssize_t tw)
    void pyconv_wino4_output_f(const float* s, Py_ssize_t es, float* y, Py_ssize_t ys,
                               float b, Py_ssize_t n)
    void pyconv_wino4_output_d(const double* s, Py_ssize_t es, double* y, Py_ssize_t ys,
                               double b, Py_ssize_t n)
    void pyconv_wino4_grad_f(const float* g, Py_ssize_t gs, float* d, Py_ssize_t es,
                             Py_ssize_t n)
    void pyconv_wino4_grad_d(const double* g, Py_ssize_t gs, double* d, Py_ssize_t es,
                             Py_ssize_t n)


cdef inline void _deint(const floating* src, Py_ssize_t n, Py_ssize_t shift,
                        floating* e, floating* o, Py_ssize_t length) noexcept nogil:
    if floating is float:
        pyconv_wino_deint_f(src, n, shift, e, o, length)
    else:
        pyconv_wino_deint_d(src, n, shift, e, o, length)


cdef void _wino2_input_rows(const floating* x, floating* V, Py_ssize_t es, floating* buf,
                            Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                            Py_ssize_t tb) noexcept nogil:
    """F(2x2): V[e, c, r*tw + tx] = (B^T d B)[e] of the tile (ty0 + r, tx) of
    channel c.

    ``buf`` holds the tile row's 4 input rows, zero-padded and deinterleaved
    (8 arrays of tw + 1)."""
    cdef Py_ssize_t Lh = tw + 1
    cdef Py_ssize_t c, r, a, ih, k
    for c in range(C):
        for r in range(rows):
            for a in range(4):
                ih = 2 * (ty0 + r) - ph + a
                if ih < 0 or ih >= H:
                    for k in range(2 * Lh):
                        buf[2 * a * Lh + k] = 0
                else:
                    _deint(x + (c * H + ih) * W, W, pw, buf + 2 * a * Lh,
                           buf + (2 * a + 1) * Lh, Lh)
            if floating is float:
                pyconv_wino_input_f(buf, buf + Lh, buf + 2 * Lh, buf + 3 * Lh, buf + 4 * Lh,
                                    buf + 5 * Lh, buf + 6 * Lh, buf + 7 * Lh,
                                    V + c * tb + r * tw, es, tw)
            else:
                pyconv_wino_input_d(buf, buf + Lh, buf + 2 * Lh, buf + 3 * Lh, buf + 4 * Lh,
                                    buf + 5 * Lh, buf + 6 * Lh, buf + 7 * Lh,
                                    V + c * tb + r * tw, es, tw)


cdef void _wino4_input_rows(const floating* x, floating* V, Py_ssize_t es, floating* buf,
                            Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                            Py_ssize_t rb, Py_ssize_t tb) noexcept nogil:
    """F(4x4): as `_wino2_input_rows` for 6x6 tiles at stride 4.

    Consecutive tile rows share 2 input rows, so the block's 4 * rows + 2
    input rows are copied zero-padded (Lp = 4 (tw + 1) each) and transformed
    along the row once, all in one loop over the Lq = tw + 1 windows per row
    (the last one of each row spans two rows and is never read); the column
    transform of tile row r then reads rows 4 r .. 4 r + 5 of ``h``."""
    cdef Py_ssize_t Lq = tw + 1, Lp = 4 * Lq, n_in = 4 * rows + 2
    cdef Py_ssize_t hs = (4 * rb + 2) * Lq
    cdef Py_ssize_t c, r
    cdef floating* h = buf + (4 * rb + 2) * Lp
    for c in range(C):
        _load_padded_plane(x + c * H * W, H, W, ph - 4 * ty0, pw, buf, n_in, Lp)
        if floating is float:
            pyconv_wino4_row_f(buf, h, hs, n_in * Lq - 1)
        else:
            pyconv_wino4_row_d(buf, h, hs, n_in * Lq - 1)
        for r in range(rows):
            if floating is float:
                pyconv_wino4_input_f(h + 4 * r * Lq, hs, Lq, V + c * tb + r * tw, es, tw)
            else:
                pyconv_wino4_input_d(h + 4 * r * Lq, hs, Lq, V + c * tb + r * tw, es, tw)


cdef inline void _wino_input_rows(const floating* x, floating* V, Py_ssize_t es,
                                  floating* buf, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                  Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t tile,
                                  Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                                  Py_ssize_t rb, Py_ssize_t ld) noexcept nogil:
    """Input transform of tile rows ty0 .. ty0 + rows of one image into the
    first columns of V (``ld`` columns per channel row)."""
    if tile == 4:
        _wino4_input_rows(x, V, es, buf, C, H, W, ph, pw, tw, ty0, rows, rb, ld)
    else:
        _wino2_input_rows(x, V, es, buf, C, H, W, ph, pw, tw, ty0, rows, ld)


cdef inline bint _wino_in_place(Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t tile, Py_ssize_t tw,
                                 Py_ssize_t ty0, Py_ssize_t rows) noexcept nogil:
    """Whether the block's tiles cover its output rows exactly and are few
    per row (tw <= 8: one vector of floats), so that the output/gradient
    transforms run on the image rows in place, one tile row per call --
    measured 7-10% faster for 16x16 images, 3% slower for 56x56 (tw = 14:
    the vector remainder of each row), equal for 32x32."""
    return tw <= 8 and Wo == tile * tw and tile * (ty0 + rows) <= Ho


cdef inline void _wino_output(const floating* s, Py_ssize_t es, floating* y, Py_ssize_t ys,
                              floating b, Py_ssize_t tile, Py_ssize_t n) noexcept nogil:
    """Output transform of n tiles (components at s + e * es) into ``tile``
    rows at y + k * ys."""
    if tile == 4:
        if floating is float:
            pyconv_wino4_output_f(s, es, y, ys, b, n)
        else:
            pyconv_wino4_output_d(s, es, y, ys, b, n)
    elif floating is float:
        pyconv_wino_output_f(s, es, y, y + ys, b, n)
    else:
        pyconv_wino_output_d(s, es, y, y + ys, b, n)


cdef inline void _wino_grad(const floating* g, Py_ssize_t gs, floating* d, Py_ssize_t es,
                            Py_ssize_t tile, Py_ssize_t n) noexcept nogil:
    """Gradient transform of n tiles (rows at g + k * gs) into d + e * es."""
    if tile == 4:
        if floating is float:
            pyconv_wino4_grad_f(g, gs, d, es, n)
        else:
            pyconv_wino4_grad_d(g, gs, d, es, n)
    elif floating is float:
        pyconv_wino_grad_f(g, g + gs, d, es, n)
    else:
        pyconv_wino_grad_d(g, g + gs, d, es, n)


cdef void _wino_output_rows(const floating* Mo, Py_ssize_t es, floating* buf,
                            floating* out, const floating* bias, bint has_bias,
                            Py_ssize_t M, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t tile,
                            Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                            Py_ssize_t ld) noexcept nogil:
    """out[m, tile x tile block] = A^T Mo[:, m, tile] A + bias[m] for tile
    rows ty0 .. ty0 + rows of one image (the first columns of Mo, ``ld`` per
    channel): in place (`_wino_in_place`), or all tiles of one channel in
    one pass into ``buf`` (output row k of tile row r at k * ys + r * L),
    then cut to Ho x Wo."""
    cdef Py_ssize_t m, r, k, oh, L = tile * tw, ys = tile * rows * tw
    cdef bint direct = _wino_in_place(Ho, Wo, tile, tw, ty0, rows)
    cdef floating b
    cdef floating* y
    for m in range(M):
        b = bias[m] if has_bias else 0
        if direct:
            for r in range(rows):
                y = out + (m * Ho + tile * (ty0 + r)) * Wo
                _wino_output(Mo + m * ld + r * tw, es, y, Wo, b, tile, tw)
            continue
        _wino_output(Mo + m * ld, es, buf, ys, b, tile, rows * tw)
        for r in range(rows):
            oh = tile * (ty0 + r)
            for k in range(_min(tile, Ho - oh)):
                _pad_row(out + (m * Ho + oh + k) * Wo, buf + k * ys + r * L, 0, Wo, Wo)


cdef void _wino_grad_rows(const floating* gy, floating* dM, Py_ssize_t es, floating* buf,
                          Py_ssize_t M, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t tile,
                          Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                          Py_ssize_t ld) noexcept nogil:
    """dM[e, m, tile] = (A dY A^T)[e] for the output-gradient tiles of tile
    rows ty0 .. ty0 + rows of one image (into the first columns of dM, ``ld``
    per channel): in place (`_wino_in_place`), or the rows copied
    zero-padded into ``buf`` (row k of tile row r at k * gs + r * L) and all
    tiles of one channel transformed in one pass."""
    cdef Py_ssize_t m, r, oh, k, L = tile * tw, gs = tile * rows * tw
    cdef bint direct = _wino_in_place(Ho, Wo, tile, tw, ty0, rows)
    for m in range(M):
        if direct:
            for r in range(rows):
                _wino_grad(gy + (m * Ho + tile * (ty0 + r)) * Wo, Wo, dM + m * ld + r * tw, es,
                           tile, tw)
            continue
        for r in range(rows):
            oh = tile * (ty0 + r)
            for k in range(tile):
                _pad_row(buf + k * gs + r * L, gy + (m * Ho + oh + k) * Wo, 0,
                         Wo if oh + k < Ho else 0, L)
        _wino_grad(buf, gs, dM + m * ld, es, tile, rows * tw)


def winograd_workspace_size(Py_ssize_t C, Py_ssize_t M, Py_ssize_t tile, Py_ssize_t tw,
                            Py_ssize_t rb, Py_ssize_t ni):
    """Floats of per-thread scratch for a block of ``ni`` images times
    ``rb`` rows of ``tw`` tiles: the transformed input and output tiles,
    then the row buffer of one image -- its tile x tile output/gradient
    rows, or its input rows (F(2x2): 8 deinterleaved rows; F(4x4): 4 rb + 2
    padded rows and their 6 row transforms), whichever is larger."""
    cdef Py_ssize_t tb = rb * tw, ne = (tile + 2) * (tile + 2)
    cdef Py_ssize_t rows_in = 10 * (4 * rb + 2) * (tw + 1) if tile == 4 else 8 * (tw + 1)
    return (ne * _wino_stride(C * ni * tb) + ne * _wino_stride(M * ni * tb)
            + max(rows_in, tile * tile * tb) + 16)


def conv2d_winograd_forward(const floating[:, :, :, ::1] x,       # IN  [N, C, H, W]
                            const floating[:, :, ::1] U,          # IN  [(tile+2)^2, Cout, C]
                            const floating[::1] bias,             # IN  [Cout]
                            floating[:, :, :, ::1] out,           # OUT [N, Cout, Ho, Wo]
                            floating[:, ::1] workspace,           # SCRATCH [n_threads, winograd_workspace_size]
                            Py_ssize_t ph, Py_ssize_t pw, bint has_bias, Py_ssize_t tile,
                            Py_ssize_t rb, int n_threads):
    """3x3, stride 1, dilation 1, groups 1 convolution by Winograd
    F(tile x tile, 3x3), tile 2 or 4 (blocks of one image: ni = 1)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = U.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t ne = (tile + 2) * (tile + 2)
    cdef Py_ssize_t tw = (Wo + tile - 1) // tile, th = (Ho + tile - 1) // tile, tb = rb * tw
    cdef Py_ssize_t nblk = (th + rb - 1) // rb
    cdef Py_ssize_t es_v = _wino_stride(C * tb), es_m = _wino_stride(M * tb)
    cdef Py_ssize_t u, n, ty0, rows, tbt, e
    cdef floating* V
    cdef floating* Mo
    cdef floating* buf
    for u in prange(N * nblk, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // nblk
        ty0 = (u - n * nblk) * rb
        rows = _min(rb, th - ty0)
        tbt = rows * tw
        V = &workspace[threadid(), 0]
        Mo = V + ne * es_v
        buf = Mo + ne * es_m
        _wino_input_rows(&x[n, 0, 0, 0], V, es_v, buf, C, H, W, ph, pw, tile, tw, ty0, rows,
                         rb, tb)
        for e in range(ne):
            _gemm(False, False, <int> M, <int> tbt, <int> C, 1, &U[e, 0, 0], <int> C,
                  V + e * es_v, <int> tb, 0, Mo + e * es_m, <int> tb)
        _wino_output_rows(Mo, es_m, buf, &out[n, 0, 0, 0], &bias[0], has_bias, M, Ho, Wo,
                          tile, tw, ty0, rows, tb)


def conv2d_winograd_backward_weight(const floating[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                    const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                    floating[:, ::1] grad_u_partial,        # OUT [n_chunks, (tile+2)^2*Cout*C]
                                    floating[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                    floating[:, ::1] workspace,             # SCRATCH [n_threads, winograd_workspace_size]
                                    Py_ssize_t ph, Py_ssize_t pw, bint need_bias,
                                    Py_ssize_t tile, Py_ssize_t chunk, Py_ssize_t rb,
                                    Py_ssize_t ni, int n_threads):
    """Per-chunk partial gradients of the transformed weights U (and the
    bias); reduce with `reduce_partials`, then map back with G^T dU G.
    Blocks of ``rb`` tile rows, or of ``ni`` whole images of a chunk."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t ne = (tile + 2) * (tile + 2)
    cdef Py_ssize_t tw = (Wo + tile - 1) // tile, th = (Ho + tile - 1) // tile, tb = rb * tw
    cdef Py_ssize_t nblk = (th + rb - 1) // rb, P = Ho * Wo, ld = ni * tb
    cdef Py_ssize_t es_v = _wino_stride(C * ld), es_m = _wino_stride(M * ld)
    cdef Py_ssize_t n_chunks = grad_u_partial.shape[0]
    cdef Py_ssize_t ch, n0, n_end, nimg, j, blk, ty0, rows, ncol, e, o
    cdef floating* V
    cdef floating* dM
    cdef floating* buf
    cdef floating* part_u
    cdef floating* part_b
    for ch in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
        V = &workspace[threadid(), 0]
        dM = V + ne * es_v
        buf = dM + ne * es_m
        part_u = &grad_u_partial[ch, 0]
        part_b = &grad_b_partial[ch, 0]
        memset(part_u, 0, ne * M * C * sizeof(floating))
        memset(part_b, 0, M * sizeof(floating))
        n0 = ch * chunk
        n_end = _min(N, n0 + chunk)
        while n0 < n_end:
            nimg = _min(ni, n_end - n0)
            for blk in range(nblk):
                ty0 = blk * rb
                rows = _min(rb, th - ty0)
                ncol = (nimg - 1) * tb + rows * tw
                for j in range(nimg):
                    _wino_input_rows(&x[n0 + j, 0, 0, 0], V + j * tb, es_v, buf, C, H, W, ph,
                                     pw, tile, tw, ty0, rows, rb, ld)
                    _wino_grad_rows(&grad_out[n0 + j, 0, 0, 0], dM + j * tb, es_m, buf, M, Ho,
                                    Wo, tile, tw, ty0, rows, ld)
                for e in range(ne):
                    _gemm(False, True, <int> M, <int> C, <int> ncol, 1, dM + e * es_m,
                          <int> ld, V + e * es_v, <int> ld, 1, part_u + e * M * C, <int> C)
            if need_bias:
                for j in range(nimg):
                    for o in range(M):
                        part_b[o] += <floating> _sum(&grad_out[n0 + j, o, 0, 0], P)
            n0 = n0 + nimg


# --------------------------------------------------------------------------
# Phase split / merge of dilated convolutions (see functional._phase_split)
# --------------------------------------------------------------------------
def phase_split(const floating[:, :, :, ::1] x,               # IN  [N, C, H, W]
                floating[:, :, :, :, :, ::1] out,              # OUT [N, dh, dw, C, H/dh, W/dw]
                int n_threads):
    """``out[n, a, b, c, i, j] = x[n, c, i*dh + a, j*dw + b]`` (dh, dw from
    ``out``'s shape; H and W multiples of them): one pass, plane by plane."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t dh = out.shape[1], dw = out.shape[2], Wp = out.shape[5]
    cdef Py_ssize_t plane, n, c, h, a, b, j
    cdef const floating* src
    cdef floating* dst
    for plane in prange(N * C, nogil=True, num_threads=n_threads, schedule="static"):
        n = plane // C
        c = plane - n * C
        for h in range(H):
            a = h % dh
            src = &x[n, c, h, 0]
            if dw == 2:
                _deint(src, W, 0, &out[n, a, 0, c, h // dh, 0], &out[n, a, 1, c, h // dh, 0],
                       Wp)
            else:
                for b in range(dw):
                    dst = &out[n, a, b, c, h // dh, 0]
                    for j in range(Wp):
                        dst[j] = src[j * dw + b]


def phase_merge(const floating[:, :, :, :, :, ::1] y,         # IN  [N, dh, dw, C, Hp, Wp]
                floating[:, :, :, ::1] out,                    # OUT [N, C, Hp*dh, Wp*dw]
                int n_threads):
    """Inverse of `phase_split`: ``out[n, c, i*dh + a, j*dw + b] = y[n, a, b, c, i, j]``."""
    cdef Py_ssize_t N = out.shape[0], C = out.shape[1], H = out.shape[2], W = out.shape[3]
    cdef Py_ssize_t dh = y.shape[1], dw = y.shape[2], Wp = y.shape[5]
    cdef Py_ssize_t plane, n, c, h, a, b, j
    cdef const floating* src
    cdef const floating* src1
    cdef floating* dst
    for plane in prange(N * C, nogil=True, num_threads=n_threads, schedule="static"):
        n = plane // C
        c = plane - n * C
        for h in range(H):
            a = h % dh
            dst = &out[n, c, h, 0]
            if dw == 2:
                src = &y[n, a, 0, c, h // dh, 0]
                src1 = &y[n, a, 1, c, h // dh, 0]
                for j in range(Wp):
                    dst[2 * j] = src[j]
                    dst[2 * j + 1] = src1[j]
            else:
                for b in range(dw):
                    src = &y[n, a, b, c, h // dh, 0]
                    for j in range(Wp):
                        dst[j * dw + b] = src[j]
