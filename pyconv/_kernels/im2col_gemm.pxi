# im2col + GEMM: the general algorithm (any stride, padding, dilation and
# groups). Forward and weight gradient copy tiles of output positions into
# a per-thread column matrix (im2col) and multiply it with the weights; the
# input gradient multiplies W^T with the output gradient into the column
# matrix and adds it back onto the image (col2im). A 1x1, stride-1,
# unpadded convolution reads the image as its own column matrix
# (`_is_pointwise`). float32 products of depth >= _OWN_GEMM_MIN_K run on the
# own packed GEMM (_gemm.h), whose op(W) is packed once per call
# (`_prepack_weights`); the rest on BLAS (`_gemm`). Tiles of whole output
# rows use the C loops of _im2col.h; tiles that start or end inside a row
# (rows longer than a tile) the Cython loops below.

def packed_weight_size(Py_ssize_t rows, Py_ssize_t inner, Py_ssize_t groups):
    """Floats ``wpack`` needs for `conv2d_forward` (rows = C_out/groups,
    inner = K) or `conv2d_backward_input` (rows = K, inner = C_out/groups)
    to pack a float32 layer's weights once for all images; 0 when the own
    GEMM will not run (baseline build, inner < _OWN_GEMM_MIN_K)."""
    return groups * _packed_weight_floats(rows, inner)


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



cdef inline void _col2im_rows(const floating* col, floating* gx,
                              Py_ssize_t Cg, Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                              Py_ssize_t Wo, Py_ssize_t oh0, Py_ssize_t rows) noexcept nogil:
    """`_col2im_tile` for a tile of whole output rows (C code in _im2col.h)."""
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
    (C code in _im2col.h: the valid column range of each kernel tap is
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


cdef inline bint _is_pointwise(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
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


cdef inline void _weights_gemm(bint prepacked, bint trans, const floating* wpack_g,
                               const floating* w_g, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               const floating* b, Py_ssize_t ldb, floating* c, Py_ssize_t ldc,
                               const floating* bias_g) noexcept nogil:
    """``C[m, n] = op(W_g) @ B (+ bias_g)``: op(W) = W (forward, ``W_g`` of
    m x k) or W^T (input gradient, ``W_g`` of k x m), from the weights
    packed once per call when ``prepacked`` (float32 on the own GEMM)."""
    if floating is float and prepacked:
        pyconv_sgemm_packed_a(trans, 0, m, n, k, 1, NULL, m if trans else k, wpack_g, b, ldb,
                              0, c, ldc, bias_g, 0)
    else:
        _gemm(trans, False, <int> m, <int> n, <int> k, 1, w_g, <int> (m if trans else k), b,
              <int> ldb, 0, c, <int> ldc, bias_g)


cdef void _im2col_images(const floating* x, Py_ssize_t image_size, floating* col,
                         floating* pad, Py_ssize_t nb, Py_ssize_t Cg, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                         Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                         Py_ssize_t dw, Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """The column matrices of ``nb`` consecutive small images side by side:
    ``col[K, nb * P]`` (P = Ho * Wo), image i in columns i*P .. (i+1)*P;
    ``x`` points at the group's first channel in the first image, images
    ``image_size`` apart; ``pad`` is scratch for one image's zero-padded
    planes (C code in _im2col.h)."""
    cdef Py_ssize_t i, P = Ho * Wo
    for i in range(nb):
        if floating is float:
            pyconv_im2col_padded_f(x + i * image_size, col + i * P, nb * P, pad, Cg, H, W,
                                   kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
        else:
            pyconv_im2col_padded_d(x + i * image_size, col + i * P, nb * P, pad, Cg, H, W,
                                   kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)


cdef inline void _images_side_by_side(const floating* a, Py_ssize_t image_size,
                                      Py_ssize_t rows, Py_ssize_t P, Py_ssize_t nb,
                                      floating* dst) noexcept nogil:
    """``dst[rows, nb * P]``: rows of ``nb`` images (``image_size`` apart,
    each rows x P) side by side."""
    cdef Py_ssize_t i, r
    for i in range(nb):
        for r in range(rows):
            memcpy(dst + r * nb * P + i * P, a + i * image_size + r * P, P * sizeof(floating))


cdef inline void _images_apart(const floating* src, Py_ssize_t rows, Py_ssize_t P,
                               Py_ssize_t nb, floating* a, Py_ssize_t image_size) noexcept nogil:
    """The inverse of `_images_side_by_side`."""
    cdef Py_ssize_t i, r
    for i in range(nb):
        for r in range(rows):
            memcpy(a + i * image_size + r * P, src + r * nb * P + i * P, P * sizeof(floating))


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
    cdef bint pointwise = _is_pointwise(kh, kw, sh, sw, ph, pw)
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
    # A tile longer than an image holds several whole images (small images):
    # their column matrices side by side, one GEMM into a buffer, then each
    # image's rows copied out.
    cdef Py_ssize_t images = tile // P if tile > P else 1
    cdef Py_ssize_t n0, nb
    cdef floating* buf
    if images > 1:
        for u in prange((N + images - 1) // images, nogil=True, num_threads=n_threads,
                        schedule="static"):
            n0 = u * images
            nb = _min(images, N - n0)
            col = &workspace[threadid(), 0]
            buf = col + K * tile
            for g in range(groups):
                _im2col_images(&x[n0, g * Cg, 0, 0], x.shape[1] * H * W, col, buf + Mg * tile,
                               nb, Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
                _weights_gemm(prepacked, False, &wpack[g * wsize], &weight[g * Mg, 0, 0, 0],
                              Mg, nb * P, K, col, nb * P, buf, nb * P,
                              &bias[g * Mg] if has_bias else NULL)
                _images_apart(buf, Mg, P, nb, &out[n0, g * Mg, 0, 0], Cout * P)
        return
    for u in prange(N * n_tiles, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // n_tiles
        p0 = (u - n * n_tiles) * tile
        pt = _min(tile, P - p0)
        col = &workspace[threadid(), 0]
        for g in range(groups):
            if pointwise:
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
            _weights_gemm(prepacked, False, &wpack[g * wsize], &weight[g * Mg, 0, 0, 0], Mg,
                          pt, K, b_ptr, ldb, o_ptr, P, &bias[g * Mg] if has_bias else NULL)


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
    cdef bint pointwise = _is_pointwise(kh, kw, sh, sw, ph, pw)
    cdef bint rows_aligned = tile % Wo == 0
    cdef Py_ssize_t n, t, p0, pt, g, ldc
    cdef floating* col
    cdef floating* c_ptr
    # float32 on the own GEMM: W^T packed once here (see conv2d_forward).
    cdef Py_ssize_t wsize = _prepack_weights(weight, wpack, groups, True)
    cdef bint prepacked = wsize > 0
    # A tile longer than an image holds several whole images (small images):
    # their grad_out side by side, one GEMM, then col2im image by image.
    cdef Py_ssize_t images = tile // P if tile > P else 1
    cdef Py_ssize_t u, n0, nb, i
    cdef floating* gx
    cdef floating* buf
    cdef floating* pad
    if images > 1:
        for u in prange((N + images - 1) // images, nogil=True, num_threads=n_threads,
                        schedule="static"):
            n0 = u * images
            nb = _min(images, N - n0)
            col = &workspace[threadid(), 0]
            buf = col + K * tile
            pad = buf + Mg * tile
            memset(&grad_x[n0, 0, 0, 0], 0, nb * C * H * W * sizeof(floating))
            for g in range(groups):
                _images_side_by_side(&grad_out[n0, g * Mg, 0, 0], Cout * P, Mg, P, nb, buf)
                _weights_gemm(prepacked, True, &wpack[g * wsize], &weight[g * Mg, 0, 0, 0],
                              K, nb * P, Mg, buf, nb * P, col, nb * P, NULL)
                for i in range(nb):
                    gx = &grad_x[n0 + i, g * Cg, 0, 0]
                    if floating is float:
                        pyconv_col2im_padded_f(col + i * P, nb * P, gx, pad, Cg, H, W, kh, kw,
                                               sh, sw, ph, pw, dh, dw, Ho, Wo)
                    else:
                        pyconv_col2im_padded_d(col + i * P, nb * P, gx, pad, Cg, H, W, kh, kw,
                                               sh, sw, ph, pw, dh, dw, Ho, Wo)
        return
    # One image per thread: col2im tiles of one image overlap, so the image
    # is the unit of work that keeps every output element single-writer.
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        col = &workspace[threadid(), 0]
        if not pointwise:
            memset(&grad_x[n, 0, 0, 0], 0, C * H * W * sizeof(floating))
        for t in range(n_tiles):
            p0 = t * tile
            pt = _min(tile, P - p0)
            for g in range(groups):
                # W^T @ grad_out, into grad_x (pointwise) or into col for col2im
                c_ptr = &grad_x[n, g * Cg, 0, 0] + p0 if pointwise else col
                ldc = P if pointwise else pt
                _weights_gemm(prepacked, True, &wpack[g * wsize], &weight[g * Mg, 0, 0, 0], K,
                              pt, Mg, &grad_out[n, g * Mg, 0, 0] + p0, P, c_ptr, ldc, NULL)
                if not pointwise:
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
    cdef bint pointwise = _is_pointwise(kh, kw, sh, sw, ph, pw)
    cdef bint rows_aligned = tile % Wo == 0
    cdef Py_ssize_t ch, n, t, p0, pt, g, o
    cdef floating* col
    cdef floating* part_w
    cdef floating* part_b
    cdef const floating* b_ptr
    cdef int ldb
    # A tile longer than an image holds several whole images (small images,
    # a chunk a multiple of them): their grad_out and column matrices side
    # by side, one GEMM.
    cdef Py_ssize_t images = tile // P if tile > P else 1
    cdef Py_ssize_t n0, nb
    cdef floating* buf
    cdef floating* pad
    if images > 1:
        for ch in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
            col = &workspace[threadid(), 0]
            buf = col + K * tile
            pad = buf + Mg * tile
            part_w = &grad_w_partial[ch, 0]
            part_b = &grad_b_partial[ch, 0]
            memset(part_w, 0, Cout * K * sizeof(floating))
            memset(part_b, 0, Cout * sizeof(floating))
            n0 = ch * chunk
            while n0 < _min(N, (ch + 1) * chunk):
                nb = _min(images, N - n0)
                for g in range(groups):
                    _im2col_images(&x[n0, g * Cg, 0, 0], C * H * W, col, pad, nb, Cg, H, W,
                                   kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo)
                    _images_side_by_side(&grad_out[n0, g * Mg, 0, 0], Cout * P, Mg, P, nb, buf)
                    _gemm(False, True, <int> Mg, <int> K, <int> (nb * P), 1, buf,
                          <int> (nb * P), col, <int> (nb * P), 1, part_w + g * Mg * K, <int> K)
                if need_bias:
                    for n in range(n0, n0 + nb):
                        for o in range(Cout):
                            part_b[o] += <floating> _sum(&grad_out[n, o, 0, 0], P)
                n0 = n0 + images
        return
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
                    if pointwise:
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


