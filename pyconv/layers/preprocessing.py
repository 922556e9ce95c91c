"""Preprocessing and regularisation layers on NCHW images: `Rescaling`,
`SpatialDropout2D` (Keras 3's arguments)."""
import numbers

import numpy as np

from .._validation import fail
from .base import ImageLayer, Layer
from .core import Dropout

__all__ = ["Rescaling", "SpatialDropout2D"]


def _check_real(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        fail(TypeError if not isinstance(value, numbers.Real) else ValueError, name,
             "a finite real number", repr(value))
    return float(value)


class Rescaling(Layer):
    """``y = x * scale + offset``, e.g. ``Rescaling(1 / 255)`` for 8-bit images.

    Parameters
    ----------
    scale : float
    offset : float, default 0.0
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Rescaling
    >>> Rescaling(1 / 127.5, offset=-1)(np.array([[0.0, 255.0]]))
    array([[-1.,  1.]], dtype=float32)
    """

    _layout = "follow"

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_real(scale, "scale")
        self.offset = _check_real(offset, "offset")

    def forward(self, x, training=False):
        y = x * self.dtype.type(self.scale)
        y += self.dtype.type(self.offset)
        return y

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        return grad * self.dtype.type(self.scale) if need_input_grad else None

    def flops(self, input_shape=None):
        return 2 * int(np.prod(self._shape_for_counts(input_shape)))

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config


class SpatialDropout2D(ImageLayer, Dropout):
    """Dropout of whole channels: in training each feature map of each image
    is zeroed with probability ``rate`` (the others scaled by ``1 / (1 -
    rate)``); identity at inference.

    Parameters
    ----------
    rate : float in [0, 1)
    seed : int, optional
        As `Dropout`.
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import SpatialDropout2D
    >>> y = SpatialDropout2D(0.5, seed=0)(np.ones((1, 8, 3, 3)), training=True)
    >>> sorted(set(y.reshape(8, 9).std(axis=1).tolist()))   # constant per channel
    [0.0]
    """

    def _nchw_output_shape(self, input_shape):
        if len(input_shape) != 3:
            fail(ValueError, "input_shape", f"(channels, height, width) for SpatialDropout2D "
                 f"layer {self.name!r}", tuple(input_shape))
        return tuple(input_shape)

    def _mask_shape(self, x):
        return x.shape[:2] + (1, 1)
