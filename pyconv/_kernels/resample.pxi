# Affine resampling of image batches (included by pool.pyx): the kernels of
# RandomTranslation and RandomRotation, forward and input gradient.
#
# Image b is resampled through its own affine map, Keras's convention: output
# pixel (i, j) reads the input at column a0*j + a1*i + a2 and row
# b0*j + b1*i + b2 (pixel centres at integer coordinates), from the nearest
# pixel (round half to even, as numpy) or bilinearly from four. A tap outside
# the image is moved inside by the fill mode (reflect, wrap, nearest), or, in
# constant mode, reads ``fill_value`` instead.
#
# Threads: one image per iteration (static schedule). The backward pass
# scatters into its own image's gradient only, in a fixed order, so results
# are bit-identical across runs and thread counts. Sums run in double.
from libc.math cimport floor, nearbyint

cdef enum:
    FILL_REFLECT = 0
    FILL_WRAP = 1
    FILL_CONSTANT = 2
    FILL_NEAREST = 3


cdef inline Py_ssize_t _fix_index(Py_ssize_t index, Py_ssize_t size, int fill_mode) noexcept nogil:
    """An out-of-range tap index moved inside (``d c b a | a b c d | d c b a``
    for reflect), the rule of ``keras.ops.image.map_coordinates``."""
    cdef Py_ssize_t period
    if 0 <= index < size:        # most taps: no division
        return index
    if fill_mode == FILL_WRAP:
        return ((index % size) + size) % size
    if fill_mode == FILL_REFLECT:
        period = 2 * size
        index = ((index % period) + period) % period
        return period - 1 - index if index >= size else index
    if index < 0:
        return 0
    return size - 1 if index >= size else index


cdef inline int _taps(double coordinate, Py_ssize_t size, bint bilinear, int fill_mode,
                      Py_ssize_t* index, double* weight, double* outside) noexcept nogil:
    """The one or two taps along one axis: their (fixed) indices and weights;
    ``outside[k]`` is 1 for a constant-mode tap outside the image."""
    cdef Py_ssize_t lower
    cdef int k, n = 1
    if bilinear:
        lower = <Py_ssize_t>floor(coordinate)
        weight[1] = coordinate - <double>lower
        weight[0] = 1.0 - weight[1]
        index[0], index[1] = lower, lower + 1
        n = 2
    else:
        index[0] = <Py_ssize_t>nearbyint(coordinate)
        weight[0] = 1.0
    for k in range(n):
        outside[k] = 1.0 if (fill_mode == FILL_CONSTANT and (index[k] < 0 or index[k] >= size)) \
            else 0.0
        index[k] = _fix_index(index[k], size, fill_mode)
    return n


cdef inline int _pixel_taps(const double* m, Py_ssize_t i, Py_ssize_t j, Py_ssize_t h,
                            Py_ssize_t w, bint bilinear, int fill_mode, Py_ssize_t* offset,
                            double* weight, double* fill) noexcept nogil:
    """Flat offsets and weights of output pixel (i, j)'s taps (rows outer);
    ``fill[0]`` gets the total weight of the taps that read ``fill_value``."""
    cdef Py_ssize_t r_index[2]
    cdef Py_ssize_t c_index[2]
    cdef double r_weight[2]
    cdef double c_weight[2]
    cdef double r_out[2]
    cdef double c_out[2]
    cdef int nr, nc, a, b, n = 0
    cdef double wt
    nr = _taps(m[3] * j + m[4] * i + m[5], h, bilinear, fill_mode, r_index, r_weight, r_out)
    nc = _taps(m[0] * j + m[1] * i + m[2], w, bilinear, fill_mode, c_index, c_weight, c_out)
    fill[0] = 0.0
    for a in range(nr):
        for b in range(nc):
            wt = r_weight[a] * c_weight[b]
            if r_out[a] != 0.0 or c_out[b] != 0.0:
                fill[0] += wt
                wt = 0.0
            offset[n] = r_index[a] * w + c_index[b]
            weight[n] = wt
            n += 1
    return n


cdef void _resample_image(const floating* image, const double* m, floating* out,
                         Py_ssize_t channels, Py_ssize_t h, Py_ssize_t w, bint bilinear,
                         int fill_mode, double fill_value) noexcept nogil:
    cdef Py_ssize_t offset[4]
    cdef double weight[4]
    cdef double fill, total
    cdef Py_ssize_t c, i, j, plane = h * w
    cdef int k, n_taps
    for i in range(h):
        for j in range(w):
            n_taps = _pixel_taps(m, i, j, h, w, bilinear, fill_mode, offset, weight, &fill)
            for c in range(channels):
                total = fill * fill_value
                for k in range(n_taps):
                    total = total + weight[k] * image[c * plane + offset[k]]
                out[c * plane + i * w + j] = <floating>total


cdef void _resample_image_backward(const floating* grad, const double* m, floating* grad_x,
                                   Py_ssize_t channels, Py_ssize_t h, Py_ssize_t w,
                                   bint bilinear, int fill_mode) noexcept nogil:
    cdef Py_ssize_t offset[4]
    cdef double weight[4]
    cdef double fill, g
    cdef Py_ssize_t c, i, j, plane = h * w
    cdef int k, n_taps
    memset(grad_x, 0, channels * plane * sizeof(floating))
    for i in range(h):
        for j in range(w):
            n_taps = _pixel_taps(m, i, j, h, w, bilinear, fill_mode, offset, weight, &fill)
            for c in range(channels):
                g = grad[c * plane + i * w + j]
                for k in range(n_taps):
                    grad_x[c * plane + offset[k]] += <floating>(weight[k] * g)


def affine_resample_forward(const floating[:, :, :, ::1] x,     # IN  [N, C, H, W]
                            const double[:, ::1] matrices,      # IN  [N, 6]
                            floating[:, :, :, ::1] out,         # OUT [N, C, H, W]
                            bint bilinear, int fill_mode, double fill_value, int n_threads):
    cdef Py_ssize_t b, n = x.shape[0]
    if n == 0:
        return
    with nogil:
        for b in prange(n, num_threads=n_threads, schedule="static"):
            _resample_image(&x[b, 0, 0, 0], &matrices[b, 0], &out[b, 0, 0, 0], x.shape[1],
                            x.shape[2], x.shape[3], bilinear, fill_mode, fill_value)


def affine_resample_backward(const floating[:, :, :, ::1] grad_out,   # IN  [N, C, H, W]
                             const double[:, ::1] matrices,           # IN  [N, 6]
                             floating[:, :, :, ::1] grad_x,           # OUT [N, C, H, W]
                             bint bilinear, int fill_mode, int n_threads):
    cdef Py_ssize_t b, n = grad_out.shape[0]
    if n == 0:
        return
    with nogil:
        for b in prange(n, num_threads=n_threads, schedule="static"):
            _resample_image_backward(&grad_out[b, 0, 0, 0], &matrices[b, 0],
                                     &grad_x[b, 0, 0, 0], grad_out.shape[1],
                                     grad_out.shape[2], grad_out.shape[3], bilinear, fill_mode)
