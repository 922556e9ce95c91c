# Direct convolution: stride-1, ungrouped float32 layers with few output
# channels, computed from registers without im2col (_direct.h, AVX2+FMA
# build only: `has_direct_kernel`). Two register blockings:
#   c16: 16 output channels x 6 positions per block (Cout a multiple of 16);
#   c8:  up to 8 output channels x 8 (or 16) positions of a row (Cout <= 8).
# Each image is copied into a zero-padded [C, Hp, Wp] buffer; ``offs``
# (computed in Python) holds the buffer offset of each tap (c, i, j). The
# input gradient runs the forward kernel on the flipped, transposed weights.

def has_direct_kernel():
    """Whether this build has the register-blocked direct convolution
    (`conv2d_direct_c16_forward`; the AVX2+FMA build only)."""
    return bool(PYCONV_HAVE_DIRECT)


def conv2d_direct_c16_forward(const float[:, :, :, ::1] x,       # IN  [N, C, H, W]
                          const float[:, :, ::1] wpk,         # IN  [Cout/16, C*kh*kw, 16]
                          const float[::1] bias,              # IN  [Cout]
                          const Py_ssize_t[::1] offs,         # IN  [C*kh*kw] tap offsets
                          float[:, :, :, ::1] out,            # OUT [N, Cout, Ho, Wo]
                          float[:, ::1] workspace,            # SCRATCH [n_threads, C*Hp*Wp]
                          Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                          bint has_bias, bint relu, int n_threads):
    """Stride-1, ungrouped float32 convolution for few output channels
    (Cout a multiple of 16), one image per work unit: the image is copied
    into a zero-padded [C, Hp, Wp] buffer, then `pyconv_direct_c16_f` computes
    every output once from registers -- no im2col. ``offs`` (computed in
    Python) holds the buffer offset of each tap (c, i, j). With ``relu`` the
    output is ``np.maximum(conv + bias, 0)`` (applied to each image while
    it is in cache)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t K = offs.shape[0]
    cdef Py_ssize_t n, c
    cdef float* xp
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        for c in range(C):
            _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
        pyconv_direct_c16_f(xp, Wp, &offs[0], K, &wpk[0, 0, 0], M, &bias[0], has_bias,
                          &out[n, 0, 0, 0], Ho, Wo)
        if relu:
            _relu(&out[n, 0, 0, 0], M * Ho * Wo)


def conv2d_direct_c8_forward(const float[:, :, :, ::1] x,       # IN  [N, C, H, W]
                             const float[:, ::1] w8,             # IN  [C*kh*kw, 8]
                             const float[::1] bias,              # IN  [Cout]
                             const Py_ssize_t[::1] offs,         # IN  [C*kh*kw] tap offsets
                             float[:, :, :, ::1] out,            # OUT [N, Cout, Ho, Wo]
                             float[:, ::1] workspace,            # SCRATCH [n_threads, C*Hp*Wp + 16]
                             Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                             bint has_bias, bint relu, int n_threads):
    """`conv2d_direct_c16_forward` for at most 8 output channels, vectorised over
    the output width (`pyconv_direct_c8_f`): ``w8[k, m]`` is the weight of
    tap k for channel m, zero for m >= Cout. With ``relu`` the output is
    ``max(conv + bias, 0)`` (as ``np.maximum``)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t K = offs.shape[0]
    cdef Py_ssize_t n, c
    cdef float* xp
    for n in prange(N, nogil=True, num_threads=n_threads, schedule="static"):
        xp = &workspace[threadid(), 0]
        for c in range(C):
            _load_padded_plane(&x[n, c, 0, 0], H, W, ph, pw, xp + c * Hp * Wp, Hp, Wp)
        memset(xp + C * Hp * Wp, 0, 16 * sizeof(float))
        pyconv_direct_c8_f(xp, Wp, &offs[0], K, &w8[0, 0], M, &bias[0], has_bias, relu,
                           &out[n, 0, 0, 0], Ho, Wo)


def conv2d_direct_c16_backward_weight(const float[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                  const float[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                  const Py_ssize_t[::1] offs,          # IN  [C*kh*kw] tap offsets
                                  float[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*K]
                                  float[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                  float[:, ::1] workspace,             # SCRATCH [n_threads, C*Hp*Wp + Ho*Wo*Cout]
                                  Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t ph, Py_ssize_t pw,
                                  bint need_bias, Py_ssize_t chunk, int n_threads):
    """Per-chunk partial weight gradients of `conv2d_direct_c16_forward`'s
    convolution (Cout a multiple of 16): per image, the input is copied into
    a zero-padded buffer and grad_output transposed to [Ho*Wo, Cout], then
    `pyconv_direct_c16_wgrad_f` accumulates 16 channels x 6 taps in registers."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t K = offs.shape[0], P = Ho * Wo, n_chunks = grad_w_partial.shape[0]
    cdef Py_ssize_t ch, n, c, m, q
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
            pyconv_direct_c16_wgrad_f(xp, Wp, &offs[0], K, gyT, M, Ho, Wo,
                                    &grad_w_partial[ch, 0])


def conv2d_direct_c8_backward_weight(const float[:, :, :, ::1] x,         # IN  [N, C, H, W]
                                     const float[:, :, :, ::1] grad_out,  # IN  [N, Cout, Ho, Wo]
                                     float[:, ::1] grad_w_partial,        # OUT [n_chunks, Cout*K]
                                     float[:, ::1] grad_b_partial,        # OUT [n_chunks, Cout]
                                     float[:, ::1] workspace,  # SCRATCH [n_threads, C*Hp*Wp + 16 + 8*Ho*Wv]
                                     Py_ssize_t kh, Py_ssize_t kw,
                                     Py_ssize_t ph, Py_ssize_t pw,
                                     bint need_bias, Py_ssize_t chunk, int n_threads):
    """Per-chunk partial weight gradients for at most 8 output channels,
    undilated, kw <= 5 (`pyconv_direct_c8_wgrad_f`): per image, the input is
    copied into a zero-padded [C, Hp, Wp] buffer and grad_output into
    [8, Ho, Wv] rows padded with zeros (Wv = Wo rounded up to 8)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t M = grad_out.shape[1], Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t Hp = Ho + kh - 1, Wp = Wo + kw - 1
    cdef Py_ssize_t K = C * kh * kw, P = Ho * Wo, n_chunks = grad_w_partial.shape[0]
    cdef Py_ssize_t Wv = (Wo + 7) // 8 * 8
    cdef Py_ssize_t ch, n, c, m, oh
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
            pyconv_direct_c8_wgrad_f(xp, C, Hp, Wp, kh, kw, gp, M, Ho, Wo, Wv,
                                     &grad_w_partial[ch, 0])


