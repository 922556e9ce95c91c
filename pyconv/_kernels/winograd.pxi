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

cdef inline Py_ssize_t _wino_stride(Py_ssize_t size) noexcept nogil:
    """Distance between the Winograd components of a block: ``size``
    rounded up to 16 floats plus 16, so consecutive components never sit a
    multiple of 4 KiB apart."""
    return (size + 15) // 16 * 16 + 16


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
                    _deinterleave(x + (c * H + ih) * W, W, pw, buf + 2 * a * Lh,
                           buf + (2 * a + 1) * Lh, Lh)
            if floating is float:
                pyconv_wino2_input_f(buf, buf + Lh, buf + 2 * Lh, buf + 3 * Lh, buf + 4 * Lh,
                                    buf + 5 * Lh, buf + 6 * Lh, buf + 7 * Lh,
                                    V + c * tb + r * tw, es, tw)
            else:
                pyconv_wino2_input_d(buf, buf + Lh, buf + 2 * Lh, buf + 3 * Lh, buf + 4 * Lh,
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
        pyconv_wino2_output_f(s, es, y, y + ys, b, n)
    else:
        pyconv_wino2_output_d(s, es, y, y + ys, b, n)


cdef inline void _wino_grad(const floating* g, Py_ssize_t gs, floating* d, Py_ssize_t es,
                            Py_ssize_t tile, Py_ssize_t n) noexcept nogil:
    """Gradient transform of n tiles (rows at g + k * gs) into d + e * es."""
    if tile == 4:
        if floating is float:
            pyconv_wino4_grad_f(g, gs, d, es, n)
        else:
            pyconv_wino4_grad_d(g, gs, d, es, n)
    elif floating is float:
        pyconv_wino2_grad_f(g, g + gs, d, es, n)
    else:
        pyconv_wino2_grad_d(g, g + gs, d, es, n)


cdef void _wino_output_rows(const floating* Mo, Py_ssize_t es, floating* buf,
                            floating* out, const floating* bias, bint has_bias, bint relu,
                            Py_ssize_t M, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t tile,
                            Py_ssize_t tw, Py_ssize_t ty0, Py_ssize_t rows,
                            Py_ssize_t ld) noexcept nogil:
    """out[m, tile x tile block] = A^T Mo[:, m, tile] A + bias[m] (then the
    ReLU with ``relu``) for tile rows ty0 .. ty0 + rows of one image (the
    first columns of Mo, ``ld`` per channel): in place (`_wino_in_place`),
    or all tiles of one channel in one pass into ``buf`` (output row k of
    tile row r at k * ys + r * L), then cut to Ho x Wo."""
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
                if relu:
                    _relu(y, tile * Wo)
            continue
        _wino_output(Mo + m * ld, es, buf, ys, b, tile, rows * tw)
        for r in range(rows):
            oh = tile * (ty0 + r)
            for k in range(_min(tile, Ho - oh)):
                _pad_row(out + (m * Ho + oh + k) * Wo, buf + k * ys + r * L, 0, Wo, Wo)
                if relu:
                    _relu(out + (m * Ho + oh + k) * Wo, Wo)


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
                            Py_ssize_t ph, Py_ssize_t pw, bint has_bias, bint relu,
                            Py_ssize_t tile, Py_ssize_t rb, int n_threads):
    """3x3, stride 1, dilation 1, groups 1 convolution by Winograd
    F(tile x tile, 3x3), tile 2 or 4 (blocks of one image: ni = 1); with
    ``relu`` the output is ``np.maximum(conv + bias, 0)``."""
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
        _wino_output_rows(Mo, es_m, buf, &out[n, 0, 0, 0], &bias[0], has_bias, relu, M, Ho,
                          Wo, tile, tw, ty0, rows, tb)


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


