"""Output-size formulas, shared by `functional` and the layers.

Integer arithmetic only (no float ``floor``), exactly PyTorch's rules.
"""

__all__ = ["conv_output_size", "same_padding", "pool_output_size", "conv_transpose_output_size"]


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
