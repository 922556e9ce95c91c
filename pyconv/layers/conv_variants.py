"""The convolution family beyond `Conv2D`: `DepthwiseConv2D`,
`SeparableConv2D` and `Conv2DTranspose` (Keras 3's arguments, channels
first, weights in PyTorch's layouts)."""
import numpy as np

from .. import _resample
from .. import activations as _activations
from .. import functional as _functional
from .. import initializers as _initializers
from .._shapes import conv_transpose_output_size, keras_transpose_crops
from .._validation import check_choice, check_int, check_pair, fail
from .base import ImageLayer, WeightSpec
from .convolutional import Conv2D
from .core import _FusedActivation, _KernelBias

__all__ = ["DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"]


class DepthwiseConv2D(Conv2D):
    """Convolve each input channel with its own ``depth_multiplier`` filters.

    The kernel is stored as PyTorch's ``[C_in * depth_multiplier, 1, kh, kw]``
    (a `Conv2D` with ``groups = C_in``); output channel ``c * depth_multiplier
    + m`` is filter ``m`` of input channel ``c``, as in Keras.

    Parameters
    ----------
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {"valid", "same"}, default "valid"
    depth_multiplier : int, default 1
    dilation_rate : int or (int, int), default 1
    activation : str or None
    use_bias : bool, default True
    depthwise_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    depthwise_regularizer, bias_regularizer : optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> from pyconv.layers import DepthwiseConv2D
    >>> layer = DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    >>> layer.compute_output_shape((4, 8, 8)), layer.count_params((4, 8, 8))
    ((8, 8, 8), 80)
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, **kwargs):
        self.depth_multiplier = check_int(depth_multiplier, "depth_multiplier", min_value=1)
        super().__init__(self.depth_multiplier, kernel_size, strides=strides, padding=padding,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)

    def _nchw_output_shape(self, input_shape):
        if len(input_shape) == 3:   # one group per input channel
            self.groups = input_shape[0]
            self.filters = input_shape[0] * self.depth_multiplier
        return super()._nchw_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups", "padding_mode"):
            del config[key]
        config["depth_multiplier"] = self.depth_multiplier
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        config["depthwise_regularizer"] = config.pop("kernel_regularizer")
        return config


class SeparableConv2D(_FusedActivation, ImageLayer):
    """A `DepthwiseConv2D` followed by a 1x1 convolution to ``filters`` channels.

    Weights: ``depthwise_kernel`` ``[C_in * depth_multiplier, 1, kh, kw]``,
    ``pointwise_kernel`` ``[filters, C_in * depth_multiplier, 1, 1]`` and the
    bias ``[filters]`` (added once, after the pointwise step, as Keras).

    Parameters
    ----------
    filters : int
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {"valid", "same"}, default "valid"
    depth_multiplier : int, default 1
    dilation_rate : int or (int, int), default 1
    activation : str or None
    use_bias : bool, default True
    depthwise_initializer, pointwise_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> from pyconv.layers import SeparableConv2D
    >>> SeparableConv2D(16, 3, padding="same").count_params((8, 10, 10))
    216
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", min_value=1)
        self._depthwise = DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier,
                                          dilation_rate, use_bias=False, dtype=self.dtype,
                                          data_format="channels_first",
                                          depthwise_initializer=depthwise_initializer)
        self.activation = _activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        self.pointwise_initializer = _initializers.get(pointwise_initializer,
                                                       "pointwise_initializer")
        self.bias_initializer = _initializers.get(bias_initializer, "bias_initializer")

    def _nchw_output_shape(self, input_shape):
        _, ho, wo = self._depthwise._nchw_output_shape(input_shape)
        return self.filters, ho, wo

    def weight_specs(self, input_shape):
        (depthwise,) = self._depthwise.weight_specs(input_shape)
        middle = depthwise.shape[0]
        specs = [depthwise._replace(name="depthwise_kernel"),
                 WeightSpec("pointwise_kernel", (self.filters, middle, 1, 1),
                            self.pointwise_initializer, True, None)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.filters,), self.bias_initializer, True, None))
        return specs

    def _on_build(self, input_shape, rng):
        self._depthwise._pads = self._depthwise.explicit_padding(input_shape)

    def forward(self, x, training=False):
        depthwise = self._depthwise
        x = np.ascontiguousarray(x, dtype=self.dtype)
        pads = depthwise.explicit_padding(x.shape[1:])
        middle = _functional._conv2d_forward(x, self.weights[0], None, depthwise.strides, pads,
                                             depthwise.dilation_rate, x.shape[1], "zeros")
        z = _functional._conv2d_forward(middle, self.weights[1],
                                        self.weights[2] if self.use_bias else None, (1, 1),
                                        ((0, 0), (0, 0)), (1, 1), 1, "zeros")
        self._cache.update(x=x, middle=middle, pads=pads)
        return self._activate(z)

    def backward(self, grad, need_input_grad=True, pre_activation=False):
        depthwise = self._depthwise
        grad = np.ascontiguousarray(self._activation_grad(grad, pre_activation),
                                    dtype=self.dtype)
        x, middle, pads = self._cache["x"], self._cache["middle"], self._cache["pads"]
        grad_middle, grad_pointwise, grad_bias = _functional._conv2d_backward(
            grad, middle, self.weights[1], (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "zeros",
            need_bias_grad=self.use_bias)
        grad_x, grad_depthwise, _ = _functional._conv2d_backward(
            grad_middle, x, self.weights[0], depthwise.strides, pads, depthwise.dilation_rate,
            x.shape[1], "zeros", need_input_grad=need_input_grad, need_bias_grad=False)
        grads = {"depthwise_kernel": grad_depthwise, "pointwise_kernel": grad_pointwise}
        if self.use_bias:
            grads["bias"] = grad_bias
        self._set_grads(grads)
        return grad_x if need_input_grad else None

    def flops(self, input_shape=None):
        shape = self._shape_for_counts(input_shape)
        middle = self._depthwise._nchw_output_shape(shape)
        return (self._depthwise.flops(shape)
                + 2 * int(np.prod(middle)) * self.filters)

    def get_config(self):
        config = super().get_config()
        depthwise = self._depthwise.get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": depthwise["kernel_size"],
            "strides": depthwise["strides"],
            "padding": depthwise["padding"],
            "depth_multiplier": depthwise["depth_multiplier"],
            "dilation_rate": depthwise["dilation_rate"],
            "activation": _activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": depthwise["depthwise_initializer"],
            "pointwise_initializer": _initializers.serialize(self.pointwise_initializer),
            "bias_initializer": _initializers.serialize(self.bias_initializer),
        })
        return config


class Conv2DTranspose(_KernelBias, ImageLayer):
    """Transposed convolution ("deconvolution"): upsampling with learned filters.

    The kernel is stored as PyTorch's ``[C_in, filters, kh, kw]``. Output
    sizes are Keras 3's: ``"valid"`` gives ``(H - 1) * stride + max(k, stride)``,
    ``"same"`` gives ``H * stride`` (with ``output_padding=None``).

    Parameters
    ----------
    filters : int
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {"valid", "same"}, default "valid"
    output_padding : int or (int, int), optional
        Extra rows/columns on the far side; must be smaller than the stride.
    dilation_rate : int or (int, int), default 1
    activation : str or None
    use_bias : bool, default True
    kernel_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    kernel_regularizer, bias_regularizer : optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> from pyconv.layers import Conv2DTranspose
    >>> Conv2DTranspose(8, 3, strides=2, padding="same").compute_output_shape((4, 7, 7))
    (8, 14, 14)
    >>> Conv2DTranspose(8, 3, strides=2).compute_output_shape((4, 7, 7))
    (8, 15, 15)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", min_value=1)
        self.kernel_size = check_pair(kernel_size, "kernel_size")
        self.strides = check_pair(strides, "strides")
        self.padding = check_choice(padding.lower() if isinstance(padding, str) else padding,
                                    "padding", ("valid", "same"))
        self.output_padding = (None if output_padding is None
                               else check_pair(output_padding, "output_padding", min_value=0))
        if self.output_padding is not None and any(
                op >= s for op, s in zip(self.output_padding, self.strides)):
            fail(ValueError, "output_padding", f"smaller than strides {self.strides}",
                 self.output_padding)
        self.dilation_rate = check_pair(dilation_rate, "dilation_rate")
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer)
        ops = self.output_padding or (None, None)
        self._crops = tuple(keras_transpose_crops(k, s, d, self.padding, op) for k, s, d, op
                            in zip(self.kernel_size, self.strides, self.dilation_rate, ops))

    def _windows(self, full_hw):
        """Per axis, ``(source slice of the full output, destination slice)``."""
        windows = []
        for length, (before, after) in zip(full_hw, self._crops):
            start, stop = max(before, 0), length - max(after, 0)
            to = max(-before, 0)
            windows.append((slice(start, stop), slice(to, to + stop - start)))
        return windows

    def _nchw_output_shape(self, input_shape):
        if len(input_shape) != 3:
            fail(ValueError, "input_shape", f"(channels, height, width) for Conv2DTranspose "
                 f"layer {self.name!r}", tuple(input_shape))
        out = tuple(conv_transpose_output_size(size, k, s, 0, 0, d) - before - after
                    for size, k, s, d, (before, after) in zip(
                        input_shape[1:], self.kernel_size, self.strides, self.dilation_rate,
                        self._crops))
        if min(out) < 1:
            fail(ValueError, "input_shape", f"large enough for Conv2DTranspose layer "
                 f"{self.name!r} (output would be {out})", tuple(input_shape))
        return (self.filters,) + out

    def weight_specs(self, input_shape):
        self._nchw_output_shape(input_shape)
        return self._kernel_bias_specs((input_shape[0], self.filters) + self.kernel_size,
                                       self.filters)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        full = _resample._conv_transpose2d_forward(x, self.weights[0], None, self.strides,
                                                   (0, 0), (0, 0), 1, self.dilation_rate)
        (rows, to_rows), (cols, to_cols) = self._windows(full.shape[2:])
        out_shape = (len(x),) + self._nchw_output_shape(x.shape[1:])
        if out_shape[2:] == full[:, :, rows, cols].shape[2:]:
            z = np.ascontiguousarray(full[:, :, rows, cols])
        else:   # a side extended with zeros
            z = np.zeros(out_shape, dtype=self.dtype)
            z[:, :, to_rows, to_cols] = full[:, :, rows, cols]
        if self.use_bias:
            z += self.weights[1].reshape(1, -1, 1, 1)
        self._cache["x"] = x
        self._cache["full_shape"] = full.shape
        return self._activate(z)

    def backward(self, grad, need_input_grad=True, pre_activation=False):
        grad = self._activation_grad(grad, pre_activation)
        full_shape = self._cache["full_shape"]
        (rows, to_rows), (cols, to_cols) = self._windows(full_shape[2:])
        grad_full = np.zeros(full_shape, dtype=self.dtype)
        grad_full[:, :, rows, cols] = grad[:, :, to_rows, to_cols]
        grad_x, grad_kernel, _ = _resample._conv_transpose2d_backward(
            grad_full, self._cache["x"], self.weights[0], self.strides, (0, 0), 1,
            self.dilation_rate, need_input_grad=need_input_grad, need_bias_grad=False)
        grads = {"kernel": grad_kernel}
        if self.use_bias:
            grads["bias"] = grad.sum(axis=(0, 2, 3), dtype=np.float64).astype(self.dtype)
        self._set_grads(grads)
        return grad_x

    def flops(self, input_shape=None):
        shape = self._shape_for_counts(input_shape)
        return 2 * int(np.prod(shape)) * self.filters * self.kernel_size[0] * self.kernel_size[1]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "output_padding": None if self.output_padding is None else list(self.output_padding),
            "dilation_rate": list(self.dilation_rate),
        })
        config.update(self._kernel_bias_config())
        return config
