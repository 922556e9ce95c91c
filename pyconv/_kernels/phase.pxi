# Phase split / merge of dilated convolutions: a dilation-d convolution is
# d_h * d_w undilated convolutions of the input's phases (every d-th row and
# column), whose outputs interleave back (see functional._phase_split).

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
                _deinterleave(src, W, 0, &out[n, a, 0, c, h // dh, 0], &out[n, a, 1, c, h // dh, 0],
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
    cdef Py_ssize_t N = out.shape[0], C = out.shape[1], H = out.shape[2]
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
