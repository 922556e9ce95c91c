"""Output-size formulas, shared by `functional` and the layers.

Integer arithmetic only (no float ``floor``), exactly PyTorch's rules.
"""

__all__ = ["conv_output_size", "same_padding", "pool_output_size", "conv_transpose_output_size",
           "keras_transpose_crops"]


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
