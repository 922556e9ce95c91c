"""Layers that change the height and width of NCHW images: `UpSampling2D`,
`ZeroPadding2D`, `Cropping2D` (Keras 3's arguments, channels first)."""
import numpy as np

from .. import _resample
from .._validation import check_choice, check_pair, fail
from .base import ImageLayer, Layer

__all__ = ["UpSampling2D", "ZeroPadding2D", "Cropping2D"]


def _check_image_shape(layer, input_shape):
    if len(input_shape) != 3:
        fail(ValueError, "input_shape", f"(channels, height, width) for {type(layer).__name__} "
             f"layer {layer.name!r}", tuple(input_shape))
    return input_shape


def _edges(value, name):
    """Keras's ``padding``/``cropping``: an int, ``(h, w)`` or ``((top, bottom), (left, right))``."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (tuple, list)) for v in value):
        (top, bottom), (left, right) = (check_pair(v, name, min_value=0) for v in value)
        return (top, bottom), (left, right)
    h, w = check_pair(value, name, min_value=0)
    return (h, h), (w, w)


class UpSampling2D(ImageLayer):
    """Repeat rows and columns ``size`` times (``"nearest"``) or interpolate (``"bilinear"``).

    Parameters
    ----------
    size : int or (int, int), default (2, 2)
    interpolation : {"nearest", "bilinear"}, default "nearest"
        ``"bilinear"`` as Keras: half-pixel centres (``align_corners=False``).
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import UpSampling2D
    >>> UpSampling2D(2)(np.array([[[[1.0, 2.0]]]]))[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]], dtype=float32)
    """

    def __init__(self, size=(2, 2), interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = check_pair(size, "size")
        self.interpolation = check_choice(interpolation, "interpolation", ("nearest", "bilinear"))

    def _nchw_output_shape(self, input_shape):
        c, h, w = _check_image_shape(self, input_shape)
        return c, h * self.size[0], w * self.size[1]

    def forward(self, x, training=False):
        self._cache["shape"] = x.shape
        out_hw = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        if self.interpolation == "nearest":
            return np.repeat(np.repeat(x, self.size[0], axis=2), self.size[1], axis=3)
        return _resample._interpolate_forward(x, out_hw, None, "bilinear", False)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        n, c, h, w = self._cache["shape"]
        if self.interpolation == "nearest":
            blocks = grad.reshape(n, c, h, self.size[0], w, self.size[1])
            return np.ascontiguousarray(blocks.sum(axis=(3, 5)))
        return _resample._interpolate_backward(np.ascontiguousarray(grad), (n, c, h, w), None,
                                               "bilinear", False)

    def flops(self, input_shape=None):
        shape = self._nchw_output_shape(self._shape_for_counts(input_shape))
        return 0 if self.interpolation == "nearest" else 8 * int(np.prod(shape))

    def get_config(self):
        config = super().get_config()
        config.update({"size": list(self.size), "interpolation": self.interpolation})
        return config


class ZeroPadding2D(ImageLayer):
    """Add rows and columns of zeros around each image.

    Parameters
    ----------
    padding : int, (int, int) or ((int, int), (int, int)), default (1, 1)
        The same on every side, ``(rows, columns)`` on both sides, or
        ``((top, bottom), (left, right))``.
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import ZeroPadding2D
    >>> ZeroPadding2D(((1, 0), (0, 2))).compute_output_shape((3, 4, 4))
    (3, 5, 6)
    """

    def __init__(self, padding=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.padding = _edges(padding, "padding")

    def _nchw_output_shape(self, input_shape):
        c, h, w = _check_image_shape(self, input_shape)
        (top, bottom), (left, right) = self.padding
        return c, h + top + bottom, w + left + right

    def forward(self, x, training=False):
        (top, bottom), (left, right) = self.padding
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        (top, bottom), (left, right) = self.padding
        h, w = grad.shape[2] - bottom, grad.shape[3] - right
        return np.ascontiguousarray(grad[:, :, top:h, left:w])

    def get_config(self):
        config = super().get_config()
        config["padding"] = [list(p) for p in self.padding]
        return config


class Cropping2D(ImageLayer):
    """Remove rows and columns at the edges of each image.

    Parameters
    ----------
    cropping : int, (int, int) or ((int, int), (int, int)), default ((0, 0), (0, 0))
        As `ZeroPadding2D`'s ``padding``.
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Cropping2D
    >>> Cropping2D(((1, 0), (2, 2)))(np.zeros((1, 1, 4, 6))).shape
    (1, 1, 3, 2)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _edges(cropping, "cropping")

    def _nchw_output_shape(self, input_shape):
        c, h, w = _check_image_shape(self, input_shape)
        (top, bottom), (left, right) = self.cropping
        out = (c, h - top - bottom, w - left - right)
        if min(out[1:]) < 1:
            fail(ValueError, "cropping", f"smaller than the input {tuple(input_shape)} "
                 f"(layer {self.name!r})", self.cropping)
        return out

    def forward(self, x, training=False):
        (top, bottom), (left, right) = self.cropping
        self._cache["shape"] = x.shape
        return np.ascontiguousarray(x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right])

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        (top, bottom), (left, right) = self.cropping
        out = np.zeros(self._cache["shape"], dtype=grad.dtype)
        out[:, :, top:out.shape[2] - bottom, left:out.shape[3] - right] = grad
        return out

    def get_config(self):
        config = super().get_config()
        config["cropping"] = [list(p) for p in self.cropping]
        return config
