# Pooling kernels: max and average pooling, forward and backward; affine
# resampling (resample.pxi, included at the end).
#
# Every kernel fills caller-allocated arrays with the GIL released. Shapes and
# hyper-parameters were checked in Python (pyconv.functional); nothing here
# raises or allocates. The output size (including PyTorch's ceil_mode rule) is
# read from the shape of the output array.
#
# Semantics are PyTorch's CPU kernels, operation for operation, so results are
# bit-identical to torch.nn.functional:
# - max pooling pads with -inf; among equal maxima the first in row-major
#   window order wins; a NaN is taken whenever it is met
#   (``val > maxval or isnan(val)``), so the last NaN of a window wins; a
#   window seeing only -inf reports its first valid position. Indices are flat
#   ``h * W + w`` within one (n, c) plane, like torch's ``return_indices``.
# - average pooling: ``pool_size`` is measured on the window clipped to the
#   padded input, before clipping to the input itself; the divisor is
#   ``divisor_override`` if set, else ``pool_size`` (count_include_pad) or the
#   clipped count. Sums run in row-major window order in the input's dtype.
#
# The backward kernels zero ``grad_x`` themselves (plane by plane, inside the
# parallel loop), so callers may pass ``np.empty`` buffers.
#
# Threads: the work is split over (n, c) planes with a static schedule; each
# plane is computed start to finish by one thread in a fixed order, so results
# are bit-identical run to run and across thread counts.
#
# Speed: the ubiquitous 2x2 window with stride 2 and no padding has its own
# plane routines: branch-free, contiguous inner loops the C compiler
# vectorises; their backward writes each element of ``grad_x`` exactly once
# (no memset pass). The general routines work on whole output rows, one
# branch-free loop over ``ow`` per window tap, taps visited in an order that
# keeps PyTorch's per-element order of operations; narrow outputs (global
# pooling) go window by window. Max-pool backward is a scatter.
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset
from libc.math cimport INFINITY


# The general kernels work on whole output rows (one contiguous loop per
# window tap); rows narrower than this go window by window instead.
cdef enum:
    ROW_MIN = 4


cdef inline Py_ssize_t _min(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef inline Py_ssize_t _max(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a > b else b


cdef inline Py_ssize_t _first_inside(Py_ssize_t start, Py_ssize_t step) noexcept nogil:
    """Step ``start`` forward by ``step`` until it is >= 0 (PyTorch's
    ``while (start < 0) start += dilation``)."""
    if start < 0:
        start = start + ((-start + step - 1) // step) * step
    return start


cdef inline Py_ssize_t _n_taps(Py_ssize_t start, Py_ssize_t end,
                               Py_ssize_t step) noexcept nogil:
    """Number of positions ``start, start + step, ...`` below ``end``."""
    if end <= start:
        return 0
    return (end - start + step - 1) // step


cdef inline void _valid_range(Py_ssize_t offset, Py_ssize_t step, Py_ssize_t size,
                              Py_ssize_t count, Py_ssize_t* lo,
                              Py_ssize_t* hi) noexcept nogil:
    """The outputs ``o`` in ``[lo, hi)`` (of ``0 .. count``) whose input
    position ``o * step + offset`` lies inside ``[0, size)``."""
    cdef Py_ssize_t a, b
    a = 0 if offset >= 0 else (-offset + step - 1) // step
    b = 0 if offset >= size else (size - 1 - offset) // step + 1
    a = _min(a, count)
    b = _min(b, count)
    lo[0] = a
    hi[0] = b if b > a else a


cdef inline bint _is_fast_2x2(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                              Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """2x2 windows, stride 2, no padding or dilation, every window inside."""
    return (kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
            and dh == 1 and dw == 1 and 2 * Ho <= H and 2 * Wo <= W)


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
cdef void _max_plane_windows(const floating* x, floating* y, int64_t* idx,
                             Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                             Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                             Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                             Py_ssize_t dw) noexcept nogil:
    """Max pooling of one plane, window by window (for narrow outputs such
    as global pooling); same result as `_max_plane`."""
    cdef Py_ssize_t oh, ow, ih0, ih1, iw0, iw1, nh, nw, i, j, pos, best_pos
    cdef floating val, best
    cdef bint take
    for oh in range(Ho):
        ih0 = oh * sh - ph
        ih1 = _min(ih0 + (kh - 1) * dh + 1, H)
        ih0 = _first_inside(ih0, dh)
        nh = _n_taps(ih0, ih1, dh)
        for ow in range(Wo):
            iw0 = ow * sw - pw
            iw1 = _min(iw0 + (kw - 1) * dw + 1, W)
            iw0 = _first_inside(iw0, dw)
            nw = _n_taps(iw0, iw1, dw)
            best = -INFINITY
            best_pos = ih0 * W + iw0
            for i in range(nh):
                pos = (ih0 + i * dh) * W + iw0
                for j in range(nw):
                    val = x[pos]
                    take = (val > best) | (val != val)
                    best = val if take else best
                    best_pos = pos if take else best_pos
                    pos = pos + dw
            y[oh * Wo + ow] = best
            idx[oh * Wo + ow] = best_pos


cdef void _max_plane(const floating* x, floating* y, int64_t* idx,
                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                     Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh,
                     Py_ssize_t dw) noexcept nogil:
    """Max pooling of one plane, any window (PyTorch's ``cpu_max_pool``).

    Works one output row at a time, with the row of ``y``/``idx`` as the
    running maximum: for each window tap (row-major, so each output sees
    its taps in PyTorch's order) one contiguous, branch-free loop over the
    outputs whose tap falls inside the input. Taps in the padding are
    skipped: -inf never wins.
    """
    cdef Py_ssize_t oh, ow, ih0, ih1, nh, i, j, ih, offset, lo, hi
    cdef const floating* xrow
    cdef floating* yrow
    cdef int64_t* irow
    cdef int64_t row_base
    cdef floating val
    cdef bint take
    if Wo < ROW_MIN:
        _max_plane_windows(x, y, idx, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw)
        return
    for oh in range(Ho):
        yrow = y + oh * Wo
        irow = idx + oh * Wo
        ih0 = oh * sh - ph
        ih1 = _min(ih0 + (kh - 1) * dh + 1, H)
        ih0 = _first_inside(ih0, dh)
        nh = _n_taps(ih0, ih1, dh)
        # PyTorch's start: -inf at the first in-bounds position of the window.
        for ow in range(Wo):
            yrow[ow] = -INFINITY
            irow[ow] = ih0 * W + _first_inside(ow * sw - pw, dw)
        for i in range(nh):
            ih = ih0 + i * dh
            xrow = x + ih * W
            row_base = ih * W
            for j in range(kw):
                offset = j * dw - pw  # input column of output ow: ow * sw + offset
                _valid_range(offset, sw, W, Wo, &lo, &hi)
                for ow in range(lo, hi):
                    val = xrow[ow * sw + offset]
                    take = (val > yrow[ow]) | (val != val)
                    yrow[ow] = val if take else yrow[ow]
                    irow[ow] = row_base + ow * sw + offset if take else irow[ow]


cdef inline void _max_plane_2x2(const floating* x, floating* y, int64_t* idx,
                                Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho,
                                Py_ssize_t Wo) noexcept nogil:
    """Max pooling of one plane, 2x2 windows with stride 2 (branch-free)."""
    cdef Py_ssize_t oh, ow
    cdef const floating* r0
    cdef const floating* r1
    cdef floating* yrow
    cdef int64_t* irow
    cdef floating best, val
    cdef int64_t offset, base
    cdef int64_t W64 = W
    cdef bint take
    for oh in range(Ho):
        r0 = x + 2 * oh * W
        r1 = r0 + W
        yrow = y + oh * Wo
        irow = idx + oh * Wo
        base = 2 * oh * W
        for ow in range(Wo):
            # Row-major window order; a later value wins only if strictly
            # greater or NaN (PyTorch's rule), written as selects.
            best = r0[2 * ow]
            offset = 0
            val = r0[2 * ow + 1]
            take = (val > best) | (val != val)
            best = val if take else best
            offset = 1 if take else offset
            val = r1[2 * ow]
            take = (val > best) | (val != val)
            best = val if take else best
            offset = W64 if take else offset
            val = r1[2 * ow + 1]
            take = (val > best) | (val != val)
            best = val if take else best
            offset = W64 + 1 if take else offset
            yrow[ow] = best
            irow[ow] = base + 2 * ow + offset


def max_pool2d_forward(const floating[:, :, :, ::1] x,       # IN
                       floating[:, :, :, ::1] out,           # OUT
                       int64_t[:, :, :, ::1] indices,        # OUT
                       Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                       int n_threads):
    """Max pooling: ``out[n, c]`` and the flat argmax ``indices[n, c]``.

    ``out`` and ``indices`` have shape ``(N, C, H_out, W_out)``.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t plane, n_planes = N * C
    cdef Py_ssize_t in_size = H * W, out_size = Ho * Wo
    cdef const floating* xp
    cdef floating* yp
    cdef int64_t* ip
    cdef bint fast = _is_fast_2x2(kh, kw, sh, sw, ph, pw, dh, dw, H, W, Ho, Wo)
    if n_planes == 0 or in_size == 0 or out_size == 0:
        return
    xp = &x[0, 0, 0, 0]
    yp = &out[0, 0, 0, 0]
    ip = &indices[0, 0, 0, 0]
    with nogil:
        for plane in prange(n_planes, num_threads=n_threads, schedule="static"):
            if fast:
                _max_plane_2x2(xp + plane * in_size, yp + plane * out_size,
                               ip + plane * out_size, H, W, Ho, Wo)
            else:
                _max_plane(xp + plane * in_size, yp + plane * out_size,
                           ip + plane * out_size, H, W, Ho, Wo,
                           kh, kw, sh, sw, ph, pw, dh, dw)


cdef inline void _max_backward_plane(const floating* gy, const int64_t* idx,
                                     floating* gx, Py_ssize_t in_size,
                                     Py_ssize_t out_size) noexcept nogil:
    """Scatter-add one plane of ``gy`` at ``idx``; indices outside the plane
    (a window that saw no input) are skipped."""
    cdef Py_ssize_t k
    cdef int64_t pos
    memset(gx, 0, in_size * sizeof(floating))
    for k in range(out_size):
        pos = idx[k]
        if pos >= 0 and pos < in_size:
            gx[pos] = gx[pos] + gy[k]


cdef inline bint _indices_in_2x2_tiles(const int64_t* idx, Py_ssize_t W,
                                      Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """True when every index of the plane lies in its own 2x2 stride-2 tile
    (always so for indices from the 2x2 stride-2 forward)."""
    cdef Py_ssize_t oh, ow
    cdef int64_t offset, misses
    cdef int64_t W64 = W
    for oh in range(Ho):
        misses = 0
        for ow in range(Wo):
            offset = idx[oh * Wo + ow] - (2 * oh * W64 + 2 * ow)
            misses = misses + ((offset != 0) & (offset != 1)
                               & (offset != W64) & (offset != W64 + 1))
        if misses != 0:
            return False
    return True


cdef inline void _max_backward_plane_2x2(const floating* gy, const int64_t* idx,
                                         floating* gx, Py_ssize_t H, Py_ssize_t W,
                                         Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """Backward of `_max_plane_2x2`: every element of ``gx`` is written once.

    Needs `_indices_in_2x2_tiles`. ``0 + g`` (not ``g``) keeps PyTorch's
    sign of zero for a -0.0 gradient.
    """
    cdef Py_ssize_t oh, ow
    cdef floating* g0
    cdef floating* g1
    cdef const floating* gyrow
    cdef const int64_t* irow
    cdef floating g
    cdef floating zero = 0
    cdef int64_t offset
    cdef int64_t W64 = W
    for oh in range(Ho):
        g0 = gx + 2 * oh * W
        g1 = g0 + W
        gyrow = gy + oh * Wo
        irow = idx + oh * Wo
        for ow in range(Wo):
            g = zero + gyrow[ow]
            offset = irow[ow] - (2 * oh * W64 + 2 * ow)
            g0[2 * ow] = g if offset == 0 else zero
            g0[2 * ow + 1] = g if offset == 1 else zero
            g1[2 * ow] = g if offset == W64 else zero
            g1[2 * ow + 1] = g if offset == W64 + 1 else zero
        if W > 2 * Wo:  # odd width: the last column is in no window
            g0[W - 1] = zero
            g1[W - 1] = zero
    if H > 2 * Ho:  # odd height: the last row is in no window
        memset(gx + 2 * Ho * W, 0, W * sizeof(floating))


def max_pool2d_backward(const floating[:, :, :, ::1] grad_out,   # IN
                        const int64_t[:, :, :, ::1] indices,     # IN
                        floating[:, :, :, ::1] grad_x,           # OUT
                        int n_threads):
    """Gradient of max pooling: ``grad_out`` added into ``grad_x`` at the
    flat argmax ``indices`` of the forward (shape of ``grad_out``).

    ``grad_x`` is overwritten (zeroed here first): the caller may pass an
    uninitialised array. Indices outside a plane are ignored. When
    ``H_out == H // 2``, ``W_out == W // 2`` and a plane's indices all lie in
    their own 2x2 stride-2 tile, the plane takes a branch-free path writing
    each element once; the result is the same.
    """
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1]
    cdef Py_ssize_t H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t plane, n_planes = N * C
    cdef Py_ssize_t in_size = H * W, out_size = Ho * Wo
    cdef const floating* gyp
    cdef const int64_t* ip
    cdef floating* gxp
    cdef bint tiled = (Ho == H // 2 and Wo == W // 2)
    if n_planes == 0 or in_size == 0:
        return
    gxp = &grad_x[0, 0, 0, 0]
    if out_size == 0:
        with nogil:
            memset(gxp, 0, n_planes * in_size * sizeof(floating))
        return
    gyp = &grad_out[0, 0, 0, 0]
    ip = &indices[0, 0, 0, 0]
    with nogil:
        for plane in prange(n_planes, num_threads=n_threads, schedule="static"):
            if tiled and _indices_in_2x2_tiles(ip + plane * out_size, W, Ho, Wo):
                _max_backward_plane_2x2(gyp + plane * out_size, ip + plane * out_size,
                                        gxp + plane * in_size, H, W, Ho, Wo)
            else:
                _max_backward_plane(gyp + plane * out_size, ip + plane * out_size,
                                    gxp + plane * in_size, in_size, out_size)


# --------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------
cdef inline Py_ssize_t _avg_window(Py_ssize_t o, Py_ssize_t k, Py_ssize_t s,
                                   Py_ssize_t p, Py_ssize_t size,
                                   Py_ssize_t* start, Py_ssize_t* end) noexcept nogil:
    """Clip one axis of an average-pooling window to the input; return its
    extent within the padded input (PyTorch's ``pool_size`` factor)."""
    cdef Py_ssize_t lo = o * s - p
    cdef Py_ssize_t hi = _min(lo + k, size + p)
    cdef Py_ssize_t padded = hi - lo
    start[0] = _max(lo, 0)
    end[0] = _min(hi, size)
    return padded


cdef inline Py_ssize_t _avg_divisor(Py_ssize_t padded_count, Py_ssize_t count,
                                    bint count_include_pad,
                                    Py_ssize_t divisor_override) noexcept nogil:
    if divisor_override > 0:
        return divisor_override
    return padded_count if count_include_pad else count


cdef void _avg_plane_windows(const floating* x, floating* y,
                             Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                             Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                             Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                             Py_ssize_t divisor_override) noexcept nogil:
    """Average pooling of one plane, window by window (for narrow outputs
    such as global pooling); same result as `_avg_plane`."""
    cdef Py_ssize_t oh, ow, ih0, ih1, iw0, iw1, size_h, size_w, ih, iw, divisor
    cdef floating total
    cdef floating zero = 0
    for oh in range(Ho):
        size_h = _avg_window(oh, kh, sh, ph, H, &ih0, &ih1)
        for ow in range(Wo):
            size_w = _avg_window(ow, kw, sw, pw, W, &iw0, &iw1)
            if ih0 >= ih1 or iw0 >= iw1:
                y[oh * Wo + ow] = zero
                continue
            divisor = _avg_divisor(size_h * size_w, (ih1 - ih0) * (iw1 - iw0),
                                   count_include_pad, divisor_override)
            total = zero
            for ih in range(ih0, ih1):
                for iw in range(iw0, iw1):
                    total = total + x[ih * W + iw]
            y[oh * Wo + ow] = zero + total / <floating> divisor


cdef void _avg_plane(const floating* x, floating* y,
                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                     Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                     Py_ssize_t divisor_override) noexcept nogil:
    """Average pooling of one plane, any window (PyTorch's ``cpu_avg_pool``).

    One output row at a time, the row of ``y`` holding the running sums:
    for each window tap (row-major: PyTorch's summation order for every
    output) one contiguous loop over the outputs whose tap is inside the
    input; then one pass divides each sum by its window's divisor.
    """
    cdef Py_ssize_t oh, ow, ih0, ih1, iw0, iw1, size_h, size_w, ih, j, offset, lo, hi
    cdef Py_ssize_t divisor
    cdef const floating* xrow
    cdef floating* yrow
    cdef floating zero = 0
    if Wo < ROW_MIN:
        _avg_plane_windows(x, y, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw,
                           count_include_pad, divisor_override)
        return
    for oh in range(Ho):
        yrow = y + oh * Wo
        size_h = _avg_window(oh, kh, sh, ph, H, &ih0, &ih1)
        for ow in range(Wo):
            yrow[ow] = zero
        for ih in range(ih0, ih1):
            xrow = x + ih * W
            for j in range(kw):
                offset = j - pw  # input column of output ow: ow * sw + offset
                _valid_range(offset, sw, W, Wo, &lo, &hi)
                for ow in range(lo, hi):
                    yrow[ow] = yrow[ow] + xrow[ow * sw + offset]
        for ow in range(Wo):
            size_w = _avg_window(ow, kw, sw, pw, W, &iw0, &iw1)
            if ih0 >= ih1 or iw0 >= iw1:  # a ceil_mode window in the padding
                yrow[ow] = zero
            else:
                divisor = _avg_divisor(size_h * size_w, (ih1 - ih0) * (iw1 - iw0),
                                       count_include_pad, divisor_override)
                yrow[ow] = zero + yrow[ow] / <floating> divisor


cdef inline void _avg_plane_2x2(const floating* x, floating* y,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                                floating divisor) noexcept nogil:
    """Average pooling of one plane, 2x2 windows with stride 2. The sum runs
    ``0 + a + b + c + d`` left to right, as PyTorch's, for identical bits."""
    cdef Py_ssize_t oh, ow
    cdef const floating* r0
    cdef const floating* r1
    cdef floating* yrow
    cdef floating zero = 0
    for oh in range(Ho):
        r0 = x + 2 * oh * W
        r1 = r0 + W
        yrow = y + oh * Wo
        for ow in range(Wo):
            yrow[ow] = zero + ((((zero + r0[2 * ow]) + r0[2 * ow + 1])
                                + r1[2 * ow]) + r1[2 * ow + 1]) / divisor


def avg_pool2d_forward(const floating[:, :, :, ::1] x,    # IN
                       floating[:, :, :, ::1] out,        # OUT
                       Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                       Py_ssize_t divisor_override, int n_threads):
    """Average pooling into ``out`` of shape ``(N, C, H_out, W_out)``.

    ``divisor_override`` is 0 for none, else the positive divisor.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t plane, n_planes = N * C
    cdef Py_ssize_t in_size = H * W, out_size = Ho * Wo
    cdef const floating* xp
    cdef floating* yp
    cdef bint fast = _is_fast_2x2(kh, kw, sh, sw, ph, pw, 1, 1, H, W, Ho, Wo)
    cdef floating divisor_2x2 = divisor_override if divisor_override > 0 else 4
    if n_planes == 0 or in_size == 0 or out_size == 0:
        return
    xp = &x[0, 0, 0, 0]
    yp = &out[0, 0, 0, 0]
    with nogil:
        for plane in prange(n_planes, num_threads=n_threads, schedule="static"):
            if fast:
                _avg_plane_2x2(xp + plane * in_size, yp + plane * out_size,
                               W, Ho, Wo, divisor_2x2)
            else:
                _avg_plane(xp + plane * in_size, yp + plane * out_size, H, W, Ho, Wo,
                           kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)


cdef inline void _avg_backward_windows(const floating* gyrow, floating* gx,
                                       Py_ssize_t ow_lo, Py_ssize_t ow_hi,
                                       Py_ssize_t ih0, Py_ssize_t ih1, Py_ssize_t size_h,
                                       Py_ssize_t W, Py_ssize_t kw, Py_ssize_t sw,
                                       Py_ssize_t pw, bint count_include_pad,
                                       Py_ssize_t divisor_override) noexcept nogil:
    """Spread ``gy / divisor`` over the windows ``ow_lo <= ow < ow_hi`` of
    one output row (rows ``ih0 .. ih1`` of the input), one window at a time."""
    cdef Py_ssize_t ow, iw0, iw1, size_w, ih, iw, divisor
    cdef floating delta
    for ow in range(ow_lo, ow_hi):
        size_w = _avg_window(ow, kw, sw, pw, W, &iw0, &iw1)
        if iw0 >= iw1:
            continue
        divisor = _avg_divisor(size_h * size_w, (ih1 - ih0) * (iw1 - iw0),
                               count_include_pad, divisor_override)
        delta = gyrow[ow] / <floating> divisor
        for ih in range(ih0, ih1):
            for iw in range(iw0, iw1):
                gx[ih * W + iw] = gx[ih * W + iw] + delta


cdef void _avg_backward_plane(const floating* gy, floating* gx,
                              Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                              Py_ssize_t divisor_override) noexcept nogil:
    """Spread ``gy / divisor`` over each clipped window, in PyTorch's order
    (every input element receives its windows' shares by ascending
    (oh, ow)), so the sums match bit for bit.

    Per output row, the windows lying horizontally inside the input,
    ``first <= ow < last``, share one divisor: they go tap by tap through
    contiguous loops over ``ow``, taps right to left so that each element
    still sees ascending ``ow``. Edge windows go one at a time.
    """
    cdef Py_ssize_t oh, ow, ih0, ih1, size_h, ih, j, offset, first, last, divisor
    cdef const floating* gyrow
    cdef floating* gxrow
    memset(gx, 0, H * W * sizeof(floating))
    # Windows with ow * sw - pw >= 0 and ow * sw - pw + kw <= W.
    first = _min((pw + sw - 1) // sw, Wo)
    last = (W + pw - kw) // sw + 1 if W + pw >= kw else 0
    last = _min(last, Wo)
    if last - first < ROW_MIN:  # narrow rows: every window one at a time
        first = 0
        last = 0
    for oh in range(Ho):
        gyrow = gy + oh * Wo
        size_h = _avg_window(oh, kh, sh, ph, H, &ih0, &ih1)
        if ih0 >= ih1:
            continue
        _avg_backward_windows(gyrow, gx, 0, first, ih0, ih1, size_h, W, kw, sw, pw,
                              count_include_pad, divisor_override)
        if last > first:
            divisor = _avg_divisor(size_h * kw, (ih1 - ih0) * kw,
                                   count_include_pad, divisor_override)
            for ih in range(ih0, ih1):
                gxrow = gx + ih * W
                for j in range(kw - 1, -1, -1):
                    offset = j - pw
                    for ow in range(first, last):
                        gxrow[ow * sw + offset] = (gxrow[ow * sw + offset]
                                                   + gyrow[ow] / <floating> divisor)
        _avg_backward_windows(gyrow, gx, last, Wo, ih0, ih1, size_h, W, kw, sw, pw,
                              count_include_pad, divisor_override)


cdef inline void _avg_backward_plane_2x2(const floating* gy, floating* gx,
                                         Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho,
                                         Py_ssize_t Wo, floating divisor) noexcept nogil:
    """Backward of `_avg_plane_2x2`: every element of ``gx`` is written once."""
    cdef Py_ssize_t oh, ow
    cdef floating* g0
    cdef floating* g1
    cdef const floating* gyrow
    cdef floating delta
    cdef floating zero = 0
    for oh in range(Ho):
        g0 = gx + 2 * oh * W
        g1 = g0 + W
        gyrow = gy + oh * Wo
        for ow in range(Wo):
            delta = zero + gyrow[ow] / divisor
            g0[2 * ow] = delta
            g0[2 * ow + 1] = delta
            g1[2 * ow] = delta
            g1[2 * ow + 1] = delta
        if W > 2 * Wo:  # odd width: the last column is in no window
            g0[W - 1] = zero
            g1[W - 1] = zero
    if H > 2 * Ho:  # odd height: the last row is in no window
        memset(gx + 2 * Ho * W, 0, W * sizeof(floating))


def avg_pool2d_backward(const floating[:, :, :, ::1] grad_out,   # IN
                        floating[:, :, :, ::1] grad_x,           # OUT
                        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                        Py_ssize_t ph, Py_ssize_t pw, bint count_include_pad,
                        Py_ssize_t divisor_override, int n_threads):
    """Gradient of average pooling into ``grad_x`` (overwritten: zeroed here
    first, so the caller may pass an uninitialised array)."""
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1]
    cdef Py_ssize_t H = grad_x.shape[2], W = grad_x.shape[3]
    cdef Py_ssize_t Ho = grad_out.shape[2], Wo = grad_out.shape[3]
    cdef Py_ssize_t plane, n_planes = N * C
    cdef Py_ssize_t in_size = H * W, out_size = Ho * Wo
    cdef const floating* gyp
    cdef floating* gxp
    cdef bint fast = _is_fast_2x2(kh, kw, sh, sw, ph, pw, 1, 1, H, W, Ho, Wo)
    cdef floating divisor_2x2 = divisor_override if divisor_override > 0 else 4
    if n_planes == 0 or in_size == 0:
        return
    gxp = &grad_x[0, 0, 0, 0]
    if out_size == 0:
        with nogil:
            memset(gxp, 0, n_planes * in_size * sizeof(floating))
        return
    gyp = &grad_out[0, 0, 0, 0]
    with nogil:
        for plane in prange(n_planes, num_threads=n_threads, schedule="static"):
            if fast:
                _avg_backward_plane_2x2(gyp + plane * out_size, gxp + plane * in_size,
                                        H, W, Ho, Wo, divisor_2x2)
            else:
                _avg_backward_plane(gyp + plane * out_size, gxp + plane * in_size,
                                    H, W, Ho, Wo, kh, kw, sh, sw, ph, pw,
                                    count_include_pad, divisor_override)
include "resample.pxi"
