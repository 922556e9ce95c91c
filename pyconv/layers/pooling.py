"""Pooling layers (NCHW).

``padding="same"`` follows Keras: the output has ``ceil(H / strides)`` rows
and the padding (extra pixel after) never takes part: max pooling ignores it
and average pooling divides by the number of real input values in each
window. When the split is symmetric the kernels pad directly; otherwise the
layer pads the input itself (with -inf for max pooling, with zeros and exact
per-window counts for average pooling), so any pool size and stride work.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import functional as _functional
from .._shapes import conv_output_size, keras_same_padding
from .._typing import IntPair
from .._validation import check_choice, check_pair, fail
from .base import ImageLayer, Layer

__all__ = [
    "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
]


def _check_image_shape(layer, input_shape):
    if len(input_shape) != 3:
        fail(ValueError, "input_shape", f"(channels, height, width) for "
             f"{type(layer).__name__} layer {layer.name!r}", tuple(input_shape))


class _Pool2D(ImageLayer):
    """Shared arguments and shapes of `MaxPool2D` and `AvgPool2D`."""

    def __init__(self, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
                 padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = check_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else check_pair(strides, "strides")
        if not isinstance(padding, str):
            fail(TypeError, "padding", "'valid' or 'same'", repr(padding))
        self.padding = check_choice(padding.lower(), "padding", ("valid", "same"))
        self._pads = None

    def explicit_padding(self, input_shape):
        """``((top, bottom), (left, right))`` for inputs of ``input_shape``."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        _, h, w = input_shape
        return (keras_same_padding(h, self.pool_size[0], self.strides[0], 1),
                keras_same_padding(w, self.pool_size[1], self.strides[1], 1))

    def _nchw_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        c, h, w = input_shape
        pads = self.explicit_padding(input_shape)
        ho = conv_output_size(h, self.pool_size[0], self.strides[0], *pads[0], 1)
        wo = conv_output_size(w, self.pool_size[1], self.strides[1], *pads[1], 1)
        if ho < 1 or wo < 1:
            fail(ValueError, "input_shape", f"at least the pool size {self.pool_size} of "
                 f"layer {self.name!r} with padding='valid'", tuple(input_shape))
        return c, ho, wo

    def _on_build(self, input_shape, rng):
        self._pads = self.explicit_padding(input_shape)

    def _padding_for(self, x):
        return self._pads if self._pads is not None else self.explicit_padding(x.shape[1:])

    @staticmethod
    def _symmetric(pads):
        return pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]

    @staticmethod
    def _crop(grad, pads, shape):
        (top, _), (left, _) = pads
        return np.ascontiguousarray(grad[:, :, top:top + shape[2], left:left + shape[3]])

    def flops(self, input_shape=None):
        c, ho, wo = self._nchw_output_shape(self._shape_for_counts(input_shape))
        return c * ho * wo * self.pool_size[0] * self.pool_size[1]

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": list(self.pool_size), "strides": list(self.strides),
                       "padding": self.padding})
        return config


class MaxPool2D(_Pool2D):
    """Max pooling over ``pool_size`` windows.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size``.
    padding : {"valid", "same"}, default "valid"
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import MaxPool2D
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> MaxPool2D()(x)[0, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        pads = self._padding_for(x)
        if self._symmetric(pads):
            padding = (pads[0][0], pads[1][0])
            shape = _functional._pool_output_shape(x.shape, self.pool_size, self.strides,
                                                   padding, (1, 1), False)
            y, indices = _functional._max_pool2d_forward(
                x, self.pool_size, self.strides, padding, (1, 1), False,
                out=(self._buffer("output", shape), self._buffer("indices", shape, np.int64)))
            pool_input_shape = x.shape
        else:
            padded = np.pad(x, ((0, 0), (0, 0)) + pads, constant_values=-np.inf)
            y, indices = _functional._max_pool2d_forward(
                padded, self.pool_size, self.strides, (0, 0), (1, 1), False)
            pool_input_shape = padded.shape
        self._cache.update(indices=indices, shape=x.shape, pool_input_shape=pool_input_shape,
                           pads=pads, y=y)
        return y

    def _backward_through_relu(self, grad):
        """``relu_backward(self.backward(grad))`` for an input that is the
        output of a ReLU: the ReLU's mask at each window's maximum is
        ``y > 0`` of the pooled output, applied before scattering."""
        y = self._cache["y"]
        grad = np.asarray(grad, dtype=self.dtype)
        mask = self._buffer("relu_mask", y.shape, np.bool_)
        np.greater(y, 0, out=mask)
        return self.backward(np.multiply(grad, mask, out=self._buffer("masked_grad", y.shape)))

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        cache = self._cache
        grad = np.ascontiguousarray(grad, dtype=self.dtype)
        grad_x = _functional._max_pool2d_backward(
            grad, cache["indices"], cache["pool_input_shape"],
            out=self._buffer("grad_input", cache["pool_input_shape"]))
        if cache["pool_input_shape"] != cache["shape"]:
            grad_x = self._crop(grad_x, cache["pads"], cache["shape"])
        return grad_x


def _window_counts(size, kernel, stride, before, out):
    """How many real (unpadded) input positions each output window covers."""
    starts = np.arange(out) * stride - before
    return np.minimum(starts + kernel, size) - np.maximum(starts, 0)


class AvgPool2D(_Pool2D):
    """Average pooling over ``pool_size`` windows.

    With ``padding="same"`` each window averages its real input values only
    (the padding is not counted), as Keras.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size``.
    padding : {"valid", "same"}, default "valid"
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import AvgPool2D
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> AvgPool2D()(x)[0, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """

    def _counts(self, x_shape, pads, out_shape):
        _, _, h, w = x_shape
        counts_h = _window_counts(h, self.pool_size[0], self.strides[0], pads[0][0], out_shape[2])
        counts_w = _window_counts(w, self.pool_size[1], self.strides[1], pads[1][0], out_shape[3])
        return np.outer(counts_h, counts_w).astype(self.dtype)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        pads = self._padding_for(x)
        if self._symmetric(pads):
            y = _functional._avg_pool2d_forward(x, self.pool_size, self.strides,
                                                (pads[0][0], pads[1][0]), False, False, None)
            counts = None
        else:
            padded = np.pad(x, ((0, 0), (0, 0)) + pads)
            y = _functional._avg_pool2d_forward(padded, self.pool_size, self.strides, (0, 0),
                                                False, True, 1)
            counts = self._counts(x.shape, pads, y.shape)
            y /= counts
        self._cache.update(shape=x.shape, pads=pads, counts=counts)
        return y

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        cache = self._cache
        pads, shape, counts = cache["pads"], cache["shape"], cache["counts"]
        grad = np.ascontiguousarray(grad, dtype=self.dtype)
        if counts is None:
            return _functional._avg_pool2d_backward(grad, shape, self.pool_size, self.strides,
                                                    (pads[0][0], pads[1][0]), False, False, None)
        padded_shape = shape[:2] + (shape[2] + sum(pads[0]), shape[3] + sum(pads[1]))
        grad_padded = _functional._avg_pool2d_backward(
            np.ascontiguousarray(grad / counts), padded_shape, self.pool_size, self.strides,
            (0, 0), False, True, 1)
        return self._crop(grad_padded, pads, shape)


class _GlobalPool2D(ImageLayer):
    def __init__(self, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def _nchw_output_shape(self, input_shape):
        _check_image_shape(self, input_shape)
        return (input_shape[0], 1, 1) if self.keepdims else (input_shape[0],)

    def _shape_output(self, y):
        return y.reshape(y.shape[:2] + ((1, 1) if self.keepdims else ()))

    def flops(self, input_shape=None):
        c, h, w = self._shape_for_counts(input_shape)
        return c * h * w

    def get_config(self):
        config = super().get_config()
        config["keepdims"] = self.keepdims
        return config


class GlobalAvgPool2D(_GlobalPool2D):
    """Mean over height and width: ``(C, H, W) -> (C,)`` (``(C, 1, 1)`` with keepdims).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import GlobalAvgPool2D
    >>> GlobalAvgPool2D()(np.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[1.5, 5.5]]
    """

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self._cache["shape"] = x.shape
        n, c = x.shape[:2]
        return self._shape_output(x.reshape(n, c, -1).mean(axis=2))

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        shape = self._cache["shape"]
        grad = np.asarray(grad, dtype=self.dtype).reshape(shape[:2] + (1, 1))
        return np.ascontiguousarray(
            np.broadcast_to(grad / self.dtype.type(shape[2] * shape[3]), shape))


class GlobalMaxPool2D(_GlobalPool2D):
    """Maximum over height and width: ``(C, H, W) -> (C,)`` (``(C, 1, 1)`` with keepdims).

    The gradient goes to the first maximum of each channel.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import GlobalMaxPool2D
    >>> GlobalMaxPool2D()(np.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[3.0, 7.0]]
    """

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        indices = flat.argmax(axis=2)[..., np.newaxis]
        self._cache.update(shape=x.shape, indices=indices)
        return self._shape_output(np.take_along_axis(flat, indices, axis=2)[..., 0])

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        shape = self._cache["shape"]
        n, c = shape[:2]
        grad_x = np.zeros((n, c, shape[2] * shape[3]), dtype=self.dtype)
        grad = np.asarray(grad, dtype=self.dtype).reshape(n, c, 1)
        np.put_along_axis(grad_x, self._cache["indices"], grad, axis=2)
        return grad_x.reshape(shape)


MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
GlobalAveragePooling2D = GlobalAvgPool2D
GlobalMaxPooling2D = GlobalMaxPool2D
