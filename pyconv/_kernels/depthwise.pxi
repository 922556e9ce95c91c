# Depthwise convolution (one input channel per group): direct loops over
# output rows; the stride-1 forward and weight gradient on zero-padded
# planes with the C row loops of _depthwise.h.

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
    cdef Py_ssize_t u, n, o
    cdef floating* xp
    cdef floating b
    for u in prange(N * Cout, nogil=True, num_threads=n_threads, schedule="static"):
        n = u // Cout
        o = u - n * Cout
        xp = &workspace[threadid(), 0]
        _load_padded_plane(&x[n, o // mult, 0, 0], H, W, ph, pw, xp, Hp, Wp)
        b = bias[o] if has_bias else 0
        _dw_rows(xp, Wp, &weight[o, 0, 0, 0], kh, kw, dh, dw, b, &out[n, o, 0, 0], Ho, Wo)


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
    cdef Py_ssize_t u, ch, o, n, oh, i, j, t, ih, iw0, lo, hi
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


