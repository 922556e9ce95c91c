"""Convolution layers."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations as _activations
from .. import functional as _functional
from .._shapes import (
    INT32_MAX,
    PADDING_MODES,
    check_conv_geometry,
    check_int32,
    check_padding_limit,
    keras_same_padding,
)
from .._typing import (ActivationLike, InitializerLike, IntPair, PaddingMode,
                       RegularizerLike)
from .._validation import check_choice, check_int, check_pair, fail
from .base import ImageLayer
from .core import _KernelBias

__all__ = ["Conv2D", "Convolution2D", "keras_same_padding"]

class Conv2D(_KernelBias, ImageLayer):
    """2-D convolution layer over NCHW input, ``y = activation(conv(x) + bias)``.

    Keras 3's arguments in NCHW; the kernel is stored as PyTorch's
    ``[filters, C_in / groups, kh, kw]``, the bias as ``[filters]``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {"valid", "same"}, int or (int, int), default "valid"
        ``"same"`` follows Keras (output ``ceil(H / stride)``, extra padding
        after) for any stride; an int or a pair pads symmetrically as PyTorch.
    dilation_rate : int or (int, int), default 1
    groups : int, default 1
        Divides the input channels and ``filters``; ``groups == C_in`` is depthwise.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, default "zeros"
    activation : str or None
        Fused activation (see `pyconv.activations.get`).
    use_bias : bool, default True
    kernel_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    kernel_regularizer, bias_regularizer : optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Conv2D
    >>> layer = Conv2D(6, 5, activation="relu")
    >>> layer.compute_output_shape((1, 28, 28))
    (6, 24, 24)
    >>> layer.count_params((1, 28, 28))
    156
    >>> Conv2D(8, 3, strides=2, padding="same").compute_output_shape((3, 15, 15))
    (8, 8, 8)
    """

    def __init__(self, filters: int, kernel_size: IntPair, strides: IntPair = 1,
                 padding: str = "valid", dilation_rate: IntPair = 1, groups: int = 1,
                 padding_mode: PaddingMode = "zeros", activation: ActivationLike = None,
                 use_bias: bool = True, kernel_initializer: InitializerLike = "glorot_uniform",
                 bias_initializer: InitializerLike = "zeros",
                 kernel_regularizer: RegularizerLike = None,
                 bias_regularizer: RegularizerLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", min_value=1, max_value=INT32_MAX)
        self.kernel_size = check_int32(check_pair(kernel_size, "kernel_size"), "kernel_size")
        self.strides = check_int32(check_pair(strides, "strides"), "strides")
        self.dilation_rate = check_int32(check_pair(dilation_rate, "dilation_rate"),
                                         "dilation_rate")
        self.groups = check_int(groups, "groups", min_value=1)
        if self.filters % self.groups:
            fail(ValueError, "groups", f"a divisor of filters ({self.filters})", self.groups)
        if isinstance(padding, str):
            self.padding = check_choice(padding.lower(), "padding", ("valid", "same"))
        else:
            self.padding = check_int32(check_pair(padding, "padding", min_value=0), "padding")
        self.padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer)
        self._pads = None

    # ------------------------------------------------------------------ shapes
    def explicit_padding(self, input_shape):
        """``((top, bottom), (left, right))`` used for inputs of ``input_shape``."""
        _, h, w = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            return keras_same_padding(h, kh, sh, dh), keras_same_padding(w, kw, sw, dw)
        ph, pw = self.padding
        return (ph, ph), (pw, pw)

    def _nchw_output_shape(self, input_shape):
        if len(input_shape) != 3:
            fail(ValueError, "input_shape", f"(channels, height, width) (NCHW) for Conv2D layer "
                 f"{self.name!r}", tuple(input_shape))
        c_in, h, w = input_shape
        if c_in % self.groups:
            fail(ValueError, "input_shape", f"a channel count divisible by groups="
                 f"{self.groups} for Conv2D layer {self.name!r}", tuple(input_shape))
        pads = self.explicit_padding(input_shape)
        owner = f" (Conv2D layer {self.name!r})"
        check_padding_limit(self.padding_mode, (h, w), pads, "input_shape",
                            tuple(input_shape), owner)
        ho, wo = check_conv_geometry((h, w), self.kernel_size, self.strides, pads,
                                     self.dilation_rate, c_in // self.groups, "input_shape",
                                     tuple(input_shape), owner)
        return self.filters, ho, wo

    def weight_specs(self, input_shape):
        self._nchw_output_shape(input_shape)
        kernel_shape = (self.filters, input_shape[0] // self.groups) + self.kernel_size
        return self._kernel_bias_specs(kernel_shape, self.filters)

    def _on_build(self, input_shape, rng):
        self._pads = self.explicit_padding(input_shape)

    # ----------------------------------------------------------------- compute
    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        pads = self._pads if self._pads is not None else self.explicit_padding(x.shape[1:])
        out_shape = self._cache.get("out_shape")
        if out_shape is None or out_shape[0] != x.shape[1:]:
            out_shape = self._cache["out_shape"] = (x.shape[1:],
                                                    self._nchw_output_shape(x.shape[1:]))
        relu = type(self.activation) is _activations._ReLU
        z = _functional._conv2d_forward(x, self.kernel, self.bias, self.strides, pads,
                                        self.dilation_rate, self.groups, self.padding_mode,
                                        out=self._buffer("output", (len(x),) + out_shape[1]),
                                        relu=relu)
        self._cache["x"] = x
        if relu:   # applied by _conv2d_forward (fused where the kernel can)
            self._cache.pop("z", None)
            self._cache["y"] = z
            return z
        return self._activate(z)

    def backward(self, grad, need_input_grad=True, pre_activation=False):
        grad = np.ascontiguousarray(self._activation_grad(grad, pre_activation),
                                    dtype=self.dtype)
        x = self._cache["x"]
        pads = self._pads if self._pads is not None else self.explicit_padding(x.shape[1:])
        grad_x_out = self._buffer("grad_input", x.shape) if need_input_grad else None
        grad_x, grad_kernel, grad_bias = _functional._conv2d_backward(
            grad, x, self.kernel, self.strides, pads, self.dilation_rate, self.groups,
            self.padding_mode, need_input_grad=need_input_grad, need_bias_grad=self.use_bias,
            grad_x_out=grad_x_out)
        grads = {"kernel": grad_kernel}
        if self.use_bias:
            grads["bias"] = grad_bias
        self._set_grads(grads)
        return grad_x if need_input_grad else None

    def flops(self, input_shape=None):
        input_shape = self._shape_for_counts(input_shape)
        c_out, ho, wo = self._nchw_output_shape(input_shape)
        positions = c_out * ho * wo
        per_output = 2 * (input_shape[0] // self.groups) * self.kernel_size[0] * self.kernel_size[1]
        total = positions * per_output
        if self.use_bias:
            total += positions
        if not isinstance(self.activation, _activations._Linear):
            total += positions
        return total

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "padding_mode": self.padding_mode,
        })
        config.update(self._kernel_bias_config())
        return config


Convolution2D = Conv2D
