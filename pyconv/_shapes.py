"""Every geometry rule and size limit, in one place.

Output sizes, the "same" splits (PyTorch's and Keras's), the padding limits
of each padding mode, the size bounds the kernels need and the one
normaliser of per-sample shapes. `functional`, the layers, `image`, the
models and the estimators all call these, so a rule cannot drift between
them. Integer arithmetic only (no float ``floor``), exactly PyTorch's rules.
"""
import numbers

from ._validation import fail

__all__ = [
    "PADDING_MODES",
    "NUMPY_PAD_MODE",
    "INT32_MAX",
    "conv_output_size",
    "same_padding",
    "keras_same_padding",
    "pool_output_size",
    "conv_transpose_output_size",
    "keras_transpose_crops",
    "max_padding",
    "padding_limit_violation",
    "check_padding_limit",
    "check_int32",
    "check_conv_geometry",
    "check_sample_shape",
]

# How a convolution extends its input beyond the border; numpy's name for
# each non-zero mode.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

# The kernels index with C ints and the GEMMs take BLAS ints: no stride,
# dilation, padding, plane or receptive field may exceed this.
INT32_MAX = 2**31 - 1


def check_int32(values, name):
    """``values`` (an int or a pair, already checked >= 0) if <= `INT32_MAX`."""
    if max(values if isinstance(values, tuple) else (values,)) > INT32_MAX:
        fail(ValueError, name, f"at most {INT32_MAX}", values)
    return values


def conv_output_size(size, kernel, stride, pad_before, pad_after, dilation):
    """``floor((size + pads - dilation*(kernel-1) - 1) / stride) + 1``.

    May be <= 0 for impossible configurations; callers check.
    """
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    return span // stride + 1


def same_padding(kernel, dilation):
    """PyTorch's split for ``padding="same"``: the extra pixel goes after."""
    total = dilation * (kernel - 1)
    before = total // 2
    return before, total - before


def keras_same_padding(size, kernel, stride, dilation):
    """Keras/TensorFlow ``padding="same"`` along one axis: ``(before, after)``.

    The output has ``ceil(size / stride)`` positions; the total padding is
    split with the extra pixel after. For ``stride == 1`` this is PyTorch's
    split.

    Examples
    --------
    >>> keras_same_padding(7, 3, 2, 1)
    (1, 1)
    >>> keras_same_padding(8, 3, 2, 1)
    (0, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size, including the ``ceil_mode`` rule.

    With ``ceil_mode`` the last window must start inside the input or the
    left padding; a window starting in the right padding is dropped.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
    else:
        out = span // stride + 1
    return out


def conv_transpose_output_size(size, kernel, stride, pad, output_pad, dilation):
    """PyTorch's transposed-convolution size:
    ``(size - 1)*stride - 2*pad + dilation*(kernel-1) + output_pad + 1``.

    May be <= 0 for impossible configurations; callers check.
    """
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1



def keras_transpose_crops(kernel, stride, dilation, padding, output_padding=None):
    """Keras 3's transposed-convolution geometry along one axis, as
    ``(crop_before, crop_after)`` of the full output ``(size - 1)*stride +
    dilation*(kernel - 1) + 1`` (what a PyTorch transposed convolution gives
    with no padding). A negative crop extends that side with zeros.

    ``padding="valid"`` gives ``(size - 1)*stride + max(extent, stride)``
    outputs, ``"same"`` gives ``size*stride`` (``output_padding`` None);
    an ``output_padding`` adds to the far side.
    """
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(extent, stride) - extent if output_padding is None else output_padding
        before, after = extent - 1, extent - 1 + extra
    else:
        if output_padding is None:
            total = stride + extent - 2
        else:
            total = extent + extent % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, extent - 1)
        after = total - before
    return (extent - 1) - before, (extent - 1) - after


def max_padding(padding_mode, size):
    """The largest padding ``padding_mode`` allows on an axis of ``size``.

    PyTorch's rules: a reflection must stay inside the image (``< size``), a
    wrap may go round once (``<= size``); zeros and replicate have no limit
    (``None``).
    """
    if padding_mode == "reflect":
        return size - 1
    if padding_mode == "circular":
        return size
    return None


def padding_limit_violation(padding_mode, spatial, pads):
    """The first axis whose padding exceeds `max_padding`, or None.

    ``spatial`` is ``(H, W)``, ``pads`` ``((top, bottom), (left, right))``;
    returns ``(axis_name, size, pad, limit)``.
    """
    for axis, size, (before, after) in zip(("height", "width"), spatial, pads):
        limit = max_padding(padding_mode, size)
        if limit is not None and max(before, after) > limit:
            return axis, size, max(before, after), limit
    return None


def check_padding_limit(padding_mode, spatial, pads, name="padding", shape=None, owner=""):
    """Raise `ValueError` when `padding_limit_violation` finds an axis.

    Blames the padding (``name``) by default; given the input ``shape``,
    blames that shape instead (a layer's ``input_shape``). ``owner`` ends
    the message (`` (layer 'conv2d')``).
    """
    violation = padding_limit_violation(padding_mode, spatial, pads)
    if violation is None:
        return
    axis, size, pad, _ = violation
    rule = "<=" if padding_mode == "circular" else "<"
    if shape is None:
        fail(ValueError, name, f"{rule} input size ({size} along {axis}) for "
             f"padding_mode={padding_mode!r}{owner}", pad)
    fail(ValueError, name, f"large enough along {axis} for padding {pad} with "
         f"padding_mode={padding_mode!r} (padding {rule} size){owner}", tuple(shape))


def check_conv_geometry(spatial, kernel, stride, pads, dilation, c_per_group, name, shape,
                        owner=""):
    """The output ``(H_out, W_out)`` of a convolution, or `ValueError`.

    The one rule set of `functional.conv2d` and `Conv2D` (after
    `check_padding_limit`): an output of at least 1x1, and an output plane
    and receptive field within `INT32_MAX` (the GEMMs take 32-bit sizes).
    ``name`` and ``shape`` are what the message blames (the input array
    ``x`` or a layer's ``input_shape``).
    """
    (h, w), (kh, kw) = spatial, kernel
    ho = conv_output_size(h, kh, stride[0], *pads[0], dilation[0])
    wo = conv_output_size(w, kw, stride[1], *pads[1], dilation[1])
    if ho < 1 or wo < 1:
        fail(ValueError, name, "large enough for the kernel: output size "
             f"{ho}x{wo} from input {h}x{w}, kernel {kh}x{kw}, stride {stride}, "
             f"padding {pads}, dilation {dilation} (need >= 1x1){owner}", shape)
    if ho * wo > INT32_MAX or c_per_group * kh * kw > INT32_MAX:
        fail(ValueError, name, f"an output plane and a receptive field of at most "
             f"{INT32_MAX} elements each{owner}", f"output {ho}x{wo} and receptive field "
             f"{c_per_group}x{kh}x{kw} from {shape}")
    return ho, wo


def _is_size(value):
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and value > 0)


def check_sample_shape(shape, name="input_shape", ndim=None, batch_axis=False,
                       expected=None):
    """Return a per-sample shape as a tuple of positive ints.

    The one shape normaliser of layers, models and estimators. An int is a
    1-D shape; with ``batch_axis`` a leading None (Keras's batch axis) is
    dropped; ``ndim`` (an int or a tuple of them) fixes the number of
    dimensions. ``expected`` words the error message.
    """
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) and (
            ndims is None or 1 in ndims):
        shape = (shape,)
    if isinstance(shape, (tuple, list)) and batch_axis and len(shape) > 1 and shape[0] is None:
        shape = tuple(shape[1:])
    if (not isinstance(shape, (tuple, list)) or not shape
            or (ndims is not None and len(shape) not in ndims)
            or not all(_is_size(v) for v in shape)):
        if expected is None:
            expected = ("a non-empty tuple of positive ints without the batch axis, "
                        "such as (C, H, W)")
        fail(ValueError, name, expected, repr(tuple(shape) if isinstance(shape, list)
                                              else shape))
    return tuple(int(v) for v in shape)
