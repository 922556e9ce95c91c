"""Plain numpy references for convolution and pooling.

These are *references*: slow, written to be read and trusted, used by the
test suite and the benchmarks to check the compiled kernels. They follow
PyTorch's semantics exactly (``torch.nn.functional.conv2d``,
``max_pool2d``, ``avg_pool2d``) but do no input validation beyond what is
needed to compute: call them with valid arguments.

Two convolutions are given, written independently so that they check each
other:

- `conv2d_loops`: the lecture's sliding window, an explicit loop over
  output positions (vectorised over batch and channels inside);
- `conv2d_im2col`: unfold the input into columns and multiply, with its
  gradient `conv2d_backward_im2col` (matmul + col2im).

The pooling references loop over output positions and window offsets the way
PyTorch's CPU kernels do, so their tie-breaking and NaN rules match.
"""
import numpy as np

from ._shapes import pool_output_size

__all__ = [
    "conv2d_loops",
    "conv2d_im2col",
    "conv2d_backward_im2col",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "affine_resample",
    "affine_resample_backward",
    "avg_pool2d_backward",
]

# padding_mode -> numpy's np.pad mode
_NUMPY_PAD_MODE = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
}


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def _pair(value):
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _compute_dtype(*arrays):
    """float64 if any array is float64, else float32 (as pyconv)."""
    arrays = [np.asarray(a) for a in arrays if a is not None]
    if any(a.dtype == np.float64 for a in arrays):
        return np.float64
    return np.float32


def _conv_padding(padding, kernel_size, dilation):
    """Resolve conv ``padding`` to ``(top, bottom, left, right)``.

    ``"same"`` uses PyTorch's split: total = dilation*(k-1), the smaller half
    before, the extra pixel after.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            pads = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return pads[0][0], pads[0][1], pads[1][0], pads[1][1]
        raise ValueError(f"unknown padding {padding!r}")
    ph, pw = _pair(padding)
    return ph, ph, pw, pw


def _pad(x, pads, padding_mode):
    """Pad the two spatial axes of an NCHW array with np.pad."""
    top, bottom, left, right = pads
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    return np.pad(x, width, mode=_NUMPY_PAD_MODE[padding_mode])


def _fold_matrix(size, before, after, padding_mode):
    """One-hot matrix ``M`` of shape ``(before + size + after, size)``.

    ``M[p, i] = 1`` when padded position ``p`` holds a copy of input position
    ``i`` (rows of zero padding are all zero), so that ``padded = M @ x`` along
    one axis and the gradient folds back as ``grad_x = M.T @ grad_padded``.
    The source index of every padded position is found by padding
    ``arange(size)`` with the same numpy mode as the forward.
    """
    if padding_mode == "zeros":
        source = np.pad(np.arange(size), (before, after), mode="constant", constant_values=-1)
    else:
        source = np.pad(np.arange(size), (before, after), mode=_NUMPY_PAD_MODE[padding_mode])
    matrix = np.zeros((source.size, size))
    rows = np.nonzero(source >= 0)[0]
    matrix[rows, source[rows]] = 1.0
    return matrix


def _conv_geometry(x, weight, stride, padding, dilation):
    kh, kw = weight.shape[2], weight.shape[3]
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    pads = _conv_padding(padding, (kh, kw), (dh, dw))
    top, bottom, left, right = pads
    H, W = x.shape[2], x.shape[3]
    h_out = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1
    w_out = (W + left + right - dw * (kw - 1) - 1) // sw + 1
    return (kh, kw), (sh, sw), (dh, dw), pads, (h_out, w_out)


# ----------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------
def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                 padding_mode="zeros"):
    """Reference 2-D cross-correlation by the lecture's sliding window.

    Slow, for tests and benchmarks only. Loops over every output position
    ``(i, j)``, takes the (dilated, strided) input window under the filter
    and multiplies it elementwise with the filters of each group, summing
    over input channels and kernel offsets.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, kh, kw)
    bias : ndarray of shape (C_out,) or None
    stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
    groups : int
    padding_mode : {"zeros", "reflect", "replicate", "circular"}

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import conv2d_loops
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d_loops(x, np.ones((1, 1, 2, 2)))[0, 0]
    array([[ 8., 12.],
           [20., 24.]])
    """
    dtype = _compute_dtype(x, weight, bias)
    x = np.asarray(x, dtype=dtype)
    weight = np.asarray(weight, dtype=dtype)
    (kh, kw), (sh, sw), (dh, dw), pads, (h_out, w_out) = _conv_geometry(
        x, weight, stride, padding, dilation)
    n_batch, c_in = x.shape[:2]
    c_out = weight.shape[0]
    cin_g, cout_g = c_in // groups, c_out // groups
    xp = _pad(x, pads, padding_mode)

    y = np.zeros((n_batch, c_out, h_out, w_out), dtype=dtype)
    for i in range(h_out):
        for j in range(w_out):
            top, left = i * sh, j * sw
            # the input window under the filter: [N, C_in, kh, kw]
            window = xp[:, :, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]
            for g in range(groups):
                win_g = window[:, g * cin_g:(g + 1) * cin_g]
                w_g = weight[g * cout_g:(g + 1) * cout_g]
                # sum over input channels and kernel offsets
                y[:, g * cout_g:(g + 1) * cout_g, i, j] = np.einsum("nckl,ockl->no", win_g, w_g)
    if bias is not None:
        y += np.asarray(bias, dtype=dtype)[None, :, None, None]
    return y


def _im2col(xp, kernel, stride, dilation, out_size):
    """Columns ``[N, C, kh, kw, H_out, W_out]`` of an already padded input."""
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel, stride, dilation, out_size
    n_batch, channels = xp.shape[:2]
    cols = np.empty((n_batch, channels, kh, kw, h_out, w_out), dtype=xp.dtype)
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (h_out - 1) + 1, sh)
            columns = slice(b * dw, b * dw + sw * (w_out - 1) + 1, sw)
            cols[:, :, a, b] = xp[:, :, rows, columns]
    return cols


def _col2im(cols, padded_shape, stride, dilation):
    """Adjoint of `_im2col`: sum columns back onto the padded input."""
    n_batch, channels, kh, kw, h_out, w_out = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    grad = np.zeros(padded_shape, dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (h_out - 1) + 1, sh)
            columns = slice(b * dw, b * dw + sw * (w_out - 1) + 1, sw)
            grad[:, :, rows, columns] += cols[:, :, a, b]
    return grad


def conv2d_im2col(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                  padding_mode="zeros"):
    """Reference 2-D cross-correlation by im2col and matrix multiplication.

    Slow, for tests and benchmarks only. Same arguments and result as
    `conv2d_loops`, computed differently: the padded input is unfolded into
    a ``[C_in/groups * kh * kw, H_out * W_out]`` matrix per image and group,
    and multiplied by the ``[C_out/groups, C_in/groups * kh * kw]`` filters.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import conv2d_im2col
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d_im2col(x, np.ones((1, 1, 2, 2)), padding="same")[0, 0]
    array([[ 8., 12.,  7.],
           [20., 24., 13.],
           [13., 15.,  8.]])
    """
    dtype = _compute_dtype(x, weight, bias)
    x = np.asarray(x, dtype=dtype)
    weight = np.asarray(weight, dtype=dtype)
    kernel, stride, dilation, pads, out_size = _conv_geometry(x, weight, stride, padding, dilation)
    n_batch, c_in = x.shape[:2]
    c_out = weight.shape[0]
    cin_g, cout_g = c_in // groups, c_out // groups
    cols = _im2col(_pad(x, pads, padding_mode), kernel, stride, dilation, out_size)
    n_pos = out_size[0] * out_size[1]

    y = np.empty((n_batch, c_out, n_pos), dtype=dtype)
    for g in range(groups):
        cols_g = cols[:, g * cin_g:(g + 1) * cin_g].reshape(n_batch, -1, n_pos)
        w_g = weight[g * cout_g:(g + 1) * cout_g].reshape(cout_g, -1)
        y[:, g * cout_g:(g + 1) * cout_g] = w_g @ cols_g
    y = y.reshape(n_batch, c_out, *out_size)
    if bias is not None:
        y += np.asarray(bias, dtype=dtype)[None, :, None, None]
    return y


def conv2d_backward_im2col(grad_output, x, weight, stride=1, padding=0, dilation=1,
                           groups=1, padding_mode="zeros"):
    """Reference gradients of `conv2d_im2col` (im2col, matmul and col2im).

    Slow, for tests and benchmarks only.

    Returns
    -------
    grad_x : ndarray, shape of ``x``
        ``col2im(W^T @ grad_output)`` on the padded input, then the padded
        border folded back onto the input positions it copied (for
        "reflect", "replicate" and "circular") or dropped (for "zeros").
    grad_weight : ndarray, shape of ``weight``
        ``grad_output @ columns^T`` summed over the batch.
    grad_bias : ndarray, shape (C_out,)
        ``grad_output`` summed over batch and positions.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import conv2d_backward_im2col
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> gx, gw, gb = conv2d_backward_im2col(np.ones((1, 1, 2, 2)), x, np.ones((1, 1, 2, 2)))
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    dtype = _compute_dtype(grad_output, x, weight)
    grad_output = np.asarray(grad_output, dtype=dtype)
    x = np.asarray(x, dtype=dtype)
    weight = np.asarray(weight, dtype=dtype)
    kernel, stride, dilation, pads, out_size = _conv_geometry(x, weight, stride, padding, dilation)
    n_batch, c_in, H, W = x.shape
    c_out = weight.shape[0]
    cin_g, cout_g = c_in // groups, c_out // groups
    xp = _pad(x, pads, padding_mode)
    cols = _im2col(xp, kernel, stride, dilation, out_size)
    n_pos = out_size[0] * out_size[1]
    grad_out = grad_output.reshape(n_batch, c_out, n_pos)

    grad_bias = grad_out.sum(axis=(0, 2))
    grad_weight = np.empty_like(weight)
    grad_cols = np.empty_like(cols)
    for g in range(groups):
        out_g = slice(g * cout_g, (g + 1) * cout_g)
        in_g = slice(g * cin_g, (g + 1) * cin_g)
        cols_g = cols[:, in_g].reshape(n_batch, -1, n_pos)   # [N, K, L]
        go_g = grad_out[:, out_g]                            # [N, Cout_g, L]
        w_g = weight[out_g].reshape(cout_g, -1)              # [Cout_g, K]
        grad_weight[out_g] = (go_g @ cols_g.transpose(0, 2, 1)).sum(axis=0).reshape(
            weight[out_g].shape)
        grad_cols[:, in_g] = (w_g.T @ go_g).reshape(grad_cols[:, in_g].shape)

    grad_xp = _col2im(grad_cols, xp.shape, stride, dilation)
    top, bottom, left, right = pads
    fold_h = _fold_matrix(H, top, bottom, padding_mode).astype(dtype)
    fold_w = _fold_matrix(W, left, right, padding_mode).astype(dtype)
    grad_x = fold_h.T @ grad_xp @ fold_w
    return grad_x, grad_weight, grad_bias


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------
def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    H, W = x.shape[2], x.shape[3]
    h_out = pool_output_size(H, kh, sh, ph, dh, ceil_mode)
    w_out = pool_output_size(W, kw, sw, pw, dw, ceil_mode)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (h_out, w_out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Reference 2-D max pooling with PyTorch's semantics.

    Slow, for tests and benchmarks only. For each output position the
    window's in-bounds elements are visited in row-major order; an element
    replaces the running maximum when it is greater or NaN (so the first of
    equal maxima wins and NaN propagates, as in PyTorch's CPU kernel).
    Padding behaves as -inf: it never wins. ``indices`` are flat ``h * W + w``
    positions in the input plane.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)
    indices : ndarray of int64, same shape, only if ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import max_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d(x, 2, return_indices=True)
    (array([[[[9.]]]]), array([[[[3]]]]))
    """
    dtype = _compute_dtype(x)
    x = np.asarray(x, dtype=dtype)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (h_out, w_out) = _pool_geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode)
    n_batch, channels, H, W = x.shape
    y = np.empty((n_batch, channels, h_out, w_out), dtype=dtype)
    indices = np.empty((n_batch, channels, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            rows = [i * sh - ph + a * dh for a in range(kh)]
            cols = [j * sw - pw + b * dw for b in range(kw)]
            rows = [r for r in rows if 0 <= r < H]
            cols = [c for c in cols if 0 <= c < W]
            best = np.full((n_batch, channels), -np.inf, dtype=dtype)
            # PyTorch starts from the window's first tap at or after the
            # input's start (stepping by the dilation); when the window sees
            # only padding that position lies outside the plane.
            first_row = i * sh - ph
            while first_row < 0:
                first_row += dh
            first_col = j * sw - pw
            while first_col < 0:
                first_col += dw
            best_index = np.full((n_batch, channels), first_row * W + first_col, dtype=np.int64)
            for r in rows:
                for c in cols:
                    value = x[:, :, r, c]
                    better = (value > best) | np.isnan(value)
                    best = np.where(better, value, best)
                    best_index = np.where(better, r * W + c, best_index)
            y[:, :, i, j] = best
            indices[:, :, i, j] = best_index
    if return_indices:
        return y, indices
    return y


def max_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False):
    """Reference gradient of `max_pool2d`: each output's gradient goes to
    its argmax (summed where windows overlap). Slow, for tests only.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import max_pool2d_backward
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2)[0, 0]
    array([[0., 0.],
           [0., 1.]])
    """
    dtype = _compute_dtype(grad_output, x)
    x = np.asarray(x, dtype=dtype)
    grad_output = np.asarray(grad_output, dtype=dtype)
    _, indices = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                            return_indices=True)
    n_batch, channels, H, W = x.shape
    grad_x = np.zeros((n_batch, channels, H * W), dtype=dtype)
    for n in range(n_batch):
        for c in range(channels):
            # A window that saw only padding points outside the plane: no gradient.
            flat_index = indices[n, c].ravel()
            inside = flat_index < grad_x[n, c].size
            np.add.at(grad_x[n, c].reshape(-1), flat_index[inside],
                      grad_output[n, c].ravel()[inside])
    return grad_x.reshape(x.shape)


def _avg_windows(x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """Yield ``(i, j, rows, cols, divisor)`` for every avg-pool output.

    PyTorch's rule: the window is clipped to the padded input
    (``H + pad``) to count padding, then to the input to sum; the divisor is
    ``divisor_override``, else the padded window size with
    ``count_include_pad``, else the number of input elements summed.
    """
    H, W = x_shape[2], x_shape[3]
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    h_out = pool_output_size(H, kh, sh, ph, 1, ceil_mode)
    w_out = pool_output_size(W, kw, sw, pw, 1, ceil_mode)
    for i in range(h_out):
        for j in range(w_out):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
            pool_size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = pool_size
            else:
                divisor = (h1 - h0) * (w1 - w0)
            yield i, j, slice(h0, h1), slice(w0, w1), divisor


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Reference 2-D average pooling with PyTorch's divisor rules.

    Slow, for tests and benchmarks only. Padding counts as zeros; see
    `_avg_windows` for the divisor (``count_include_pad``, ceil-mode windows
    that overhang the padding, ``divisor_override``).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import avg_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> avg_pool2d(x, 2)
    array([[[[4.]]]])
    """
    dtype = _compute_dtype(x)
    x = np.asarray(x, dtype=dtype)
    n_batch, channels, H, W = x.shape
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    h_out = pool_output_size(H, kh, sh, ph, 1, ceil_mode)
    w_out = pool_output_size(W, kw, sw, pw, 1, ceil_mode)
    y = np.zeros((n_batch, channels, h_out, w_out), dtype=dtype)
    for i, j, rows, cols, divisor in _avg_windows(
            x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
            divisor_override):
        if rows.stop > rows.start and cols.stop > cols.start:
            y[:, :, i, j] = x[:, :, rows, cols].sum(axis=(2, 3)) / dtype(divisor)
    return y


def avg_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Reference gradient of `avg_pool2d`: each output's gradient divided by
    its divisor is added to every input element of its window. Slow, for
    tests only.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv._reference import avg_pool2d_backward
    >>> x = np.zeros((1, 1, 2, 2))
    >>> avg_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2)[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    dtype = _compute_dtype(grad_output, x)
    x = np.asarray(x, dtype=dtype)
    grad_output = np.asarray(grad_output, dtype=dtype)
    grad_x = np.zeros(x.shape, dtype=dtype)
    for i, j, rows, cols, divisor in _avg_windows(
            x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
            divisor_override):
        if rows.stop > rows.start and cols.stop > cols.start:
            grad_x[:, :, rows, cols] += (grad_output[:, :, i, j] / dtype(divisor))[:, :, None, None]
    return grad_x


def _fixed_index(index, size, fill_mode):
    """Keras's out-of-range index rule per fill mode (integer arrays)."""
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":   # (d c b a | a b c d | d c b a)
        period = 2 * size
        index = index % period
        return np.where(index >= size, period - 1 - index, index)
    return np.clip(index, 0, size - 1)


class _AffineSampling:
    """``out[b, :, i, j] = sum_k w_k * x[b, :, r_k, c_k] (+ fill)``: an affine
    resampling of a batch, kept so its transpose gives the gradient."""

    def __init__(self, matrices, shape, interpolation, fill_mode, fill_value):
        n, _, h, w = shape
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float64),
                                 np.arange(w, dtype=np.float64), indexing="ij")
        a0, a1, a2, b0, b1, b2 = (matrices[:, k, None, None] for k in range(6))
        src_cols = a0 * cols + a1 * rows + a2
        src_rows = b0 * cols + b1 * rows + b2
        axes = []
        for coordinate, size in ((src_rows, h), (src_cols, w)):
            if interpolation == "nearest":
                nodes = [(np.round(coordinate).astype(np.intp), np.ones_like(coordinate))]
            else:
                lower = np.floor(coordinate)
                upper_weight = coordinate - lower
                lower = lower.astype(np.intp)
                nodes = [(lower, 1.0 - upper_weight), (lower + 1, upper_weight)]
            axes.append([(_fixed_index(i, size, fill_mode),
                          (i >= 0) & (i < size) if fill_mode == "constant" else None, wt)
                         for i, wt in nodes])
        base = np.arange(n)[:, None, None] * (h * w)
        self.terms, fill = [], np.zeros((n, h, w))
        for r, r_valid, r_w in axes[0]:
            for c, c_valid, c_w in axes[1]:
                weight = r_w * c_w
                if r_valid is not None:
                    valid = r_valid & c_valid
                    fill += np.where(valid, 0.0, weight)
                    weight = np.where(valid, weight, 0.0)
                self.terms.append(((base + r * w + c).reshape(-1), weight.reshape(-1, 1)))
        self.fill = fill.reshape(-1, 1) * fill_value if fill_mode == "constant" else None
        self.shape = shape

    def apply(self, x):
        n, c, h, w = self.shape
        flat = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c)
        out = np.zeros_like(flat)
        for index, weight in self.terms:
            out += weight * flat[index]
        if self.fill is not None:
            out += self.fill
        return np.ascontiguousarray(out.reshape(n, h, w, c).transpose(0, 3, 1, 2))

    def transpose(self, grad):
        n, c, h, w = self.shape
        flat = np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(-1, c)
        out = np.zeros_like(flat)
        for index, weight in self.terms:
            np.add.at(out, index, weight * flat)
        return np.ascontiguousarray(out.reshape(n, h, w, c).transpose(0, 3, 1, 2))


def affine_resample(x, matrices, interpolation, fill_mode, fill_value=0.0):
    """Resample each image ``x[b]`` through its affine map ``matrices[b]``
    (Keras's ``(a0, a1, a2, b0, b1, b2)``, see `pyconv.layers.RandomRotation`)."""
    sampling = _AffineSampling(matrices, x.shape, interpolation, fill_mode, fill_value)
    return sampling.apply(x)


def affine_resample_backward(grad_output, matrices, interpolation, fill_mode):
    """The input gradient of `affine_resample` (its linear map transposed)."""
    sampling = _AffineSampling(matrices, grad_output.shape, interpolation, fill_mode, 0.0)
    return sampling.transpose(grad_output)
