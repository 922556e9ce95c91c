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
cimport cython
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline Py_ssize_t _min(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline void _gemm(bint trans_a, bint trans_b, int m, int n, int k,
                       floating alpha, const floating* a, int lda,
                       const floating* b, int ldb, floating beta,
                       floating* c, int ldc) noexcept nogil:
    """Row-major ``C[m, n] = alpha * op(A) @ op(B) + beta * C``.

    BLAS is column-major, so compute ``C^T = op(B)^T @ op(A)^T``.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m <= 0 or n <= 0:
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


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


@cython.boundscheck(False)
@cython.wraparound(False)
def conv2d_forward(const floating[:, :, :, ::1] x,          # IN  [N, C, H, W]
                   const floating[:, :, :, ::1] weight,     # IN  [Cout, C/groups, kh, kw]
                   const floating[::1] bias,                # IN  [Cout] (ignored if not has_bias)
                   floating[:, :, :, ::1] out,              # OUT [N, Cout, Ho, Wo]
                   floating[:, ::1] workspace,              # SCRATCH [n_threads, K*tile]
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
    cdef Py_ssize_t u, n, p0, pt, g, m, q
    cdef floating* col
    cdef const floating* b_ptr
    cdef floating* o_ptr
    cdef floating bval
    cdef int ldb
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
                _im2col_tile(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                             ph, pw, dh, dw, Wo, p0, pt)
                b_ptr = col
                ldb = <int> pt
            o_ptr = &out[n, g * Mg, 0, 0] + p0
            _gemm(False, False, <int> Mg, <int> pt, <int> K, 1, &weight[g * Mg, 0, 0, 0],
                  <int> K, b_ptr, ldb, 0, o_ptr, <int> P)
            if has_bias:
                for m in range(Mg):
                    bval = bias[g * Mg + m]
                    for q in range(pt):
                        o_ptr[m * P + q] += bval


@cython.boundscheck(False)
@cython.wraparound(False)
def conv2d_backward_input(const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                          const floating[:, :, :, ::1] weight,    # IN  [Cout, C/groups, kh, kw]
                          floating[:, :, :, ::1] grad_x,          # OUT [N, C, H, W]
                          floating[:, ::1] workspace,             # SCRATCH [n_threads, K*tile]
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
    cdef Py_ssize_t n, t, p0, pt, g
    cdef floating* col
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
                if direct:
                    _gemm(True, False, <int> K, <int> pt, <int> Mg, 1,
                          &weight[g * Mg, 0, 0, 0], <int> K,
                          &grad_out[n, g * Mg, 0, 0] + p0, <int> P, 0,
                          &grad_x[n, g * Cg, 0, 0] + p0, <int> P)
                else:
                    _gemm(True, False, <int> K, <int> pt, <int> Mg, 1,
                          &weight[g * Mg, 0, 0, 0], <int> K,
                          &grad_out[n, g * Mg, 0, 0] + p0, <int> P, 0, col, <int> pt)
                    _col2im_tile(col, &grad_x[n, g * Cg, 0, 0], Cg, H, W, kh, kw,
                                 sh, sw, ph, pw, dh, dw, Wo, p0, pt)


@cython.boundscheck(False)
@cython.wraparound(False)
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
    cdef Py_ssize_t ch, n, t, p0, pt, g, o, q
    cdef floating* col
    cdef floating* part_w
    cdef floating* part_b
    cdef const floating* b_ptr
    cdef const floating* gy
    cdef double acc
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
                        _im2col_tile(&x[n, g * Cg, 0, 0], col, Cg, H, W, kh, kw, sh, sw,
                                     ph, pw, dh, dw, Wo, p0, pt)
                        b_ptr = col
                        ldb = <int> pt
                    _gemm(False, True, <int> Mg, <int> K, <int> pt, 1,
                          &grad_out[n, g * Mg, 0, 0] + p0, <int> P, b_ptr, ldb, 1,
                          part_w + g * Mg * K, <int> K)
                if need_bias:
                    for o in range(Cout):
                        gy = &grad_out[n, o, 0, 0] + p0
                        acc = 0
                        for q in range(pt):
                            acc = acc + gy[q]
                        part_b[o] += <floating> acc


@cython.boundscheck(False)
@cython.wraparound(False)
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


# --------------------------------------------------------------------------
# Depthwise (one input channel per group): direct loops over output rows.
# --------------------------------------------------------------------------

@cython.boundscheck(False)
@cython.wraparound(False)
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


@cython.boundscheck(False)
@cython.wraparound(False)
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


@cython.boundscheck(False)
@cython.wraparound(False)
def conv2d_depthwise_backward_weight(const floating[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                     const floating[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                     floating[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*kh*kw]
                                     floating[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                     Py_ssize_t kh, Py_ssize_t kw,
                                     Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                     Py_ssize_t dh, Py_ssize_t dw, bint need_bias,
                                     Py_ssize_t chunk, int n_threads):
    """Per-(chunk, output channel) partial gradients; reduce with `reduce_partials`."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Cout = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t mult = Cout // C, n_chunks = grad_w_partial.shape[0], KK = kh * kw
    cdef Py_ssize_t u, ch, o, n, oh, i, j, t, ih, iw0, lo, hi
    cdef const floating* xrow
    cdef const floating* grow
    cdef floating* part_w
    cdef floating acc
    cdef double bacc
    for u in prange(n_chunks * Cout, nogil=True, num_threads=n_threads, schedule="static"):
        ch = u // Cout
        o = u - ch * Cout
        part_w = &grad_w_partial[ch, o * KK]
        memset(part_w, 0, KK * sizeof(floating))
        bacc = 0
        for n in range(ch * chunk, _min(N, (ch + 1) * chunk)):
            for oh in range(Ho):
                grow = &grad_out[n, o, oh, 0]
                if need_bias:
                    for t in range(Wo):
                        bacc = bacc + grow[t]
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    xrow = &x[n, o // mult, ih, 0]
                    for j in range(kw):
                        iw0 = j * dw - pw
                        lo = _run_lo(iw0, sw, Wo)
                        hi = _run_hi(iw0, sw, W, Wo, lo)
                        acc = 0
                        if sw == 1:
                            for t in range(lo, hi):
                                acc = acc + grow[t] * xrow[iw0 + t]
                        else:
                            for t in range(lo, hi):
                                acc = acc + grow[t] * xrow[iw0 + t * sw]
                        part_w[i * kw + j] += acc
        grad_b_partial[ch, o] = <floating> bacc
