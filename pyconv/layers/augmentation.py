"""Random image augmentation, as Keras 3's preprocessing layers (channels first).

Each layer transforms a batch only when called with ``training=True`` and
is the identity at inference (`RandomCrop` then takes the central window,
resized, as Keras does). The random draws come from the layer's ``seed``,
or from the model's generator when no seed is given, so a seeded model
trains reproducibly.

`RandomTranslation` and `RandomRotation` resample the image through an
affine map exactly as Keras does: output pixel ``(row, col)`` reads the
input at ``col' = a0*col + a1*row + a2``, ``row' = b0*col + b1*row + b2``
(pixel centres at integer coordinates), bilinearly or from the nearest
pixel, with Keras's fill modes outside the image. The resampling and its
gradient run in a compiled kernel (``affine_resample_forward`` /
``_backward`` in ``pyconv/_kernels/resample.pxi``), one image per thread;
``pyconv._reference.affine_resample`` is the numpy reference it is tested
against.
"""
import math
import numbers

import numpy as np

from .. import _resample
from .._validation import check_choice, check_int, fail
from .base import ImageLayer, Layer

__all__ = ["RandomFlip", "RandomCrop", "RandomTranslation", "RandomRotation"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _check_image_shape(layer, input_shape):
    if len(input_shape) != 3:
        fail(ValueError, "input_shape", f"(channels, height, width) for {type(layer).__name__} "
             f"layer {layer.name!r}", tuple(input_shape))
    return input_shape


def _factor_range(value, name, symmetric_bound=1.0):
    """Keras's factor: ``f`` means ``(-f, f)``; a pair is ``(lower, upper)``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                 for v in pair):
        fail(TypeError, name, "a number or a pair (lower, upper) of numbers", repr(value))
    lower, upper = (float(v) for v in pair)
    if not isinstance(value, (tuple, list)):
        lower = -upper
    if not (-symmetric_bound <= lower <= upper <= symmetric_bound):
        fail(ValueError, name, f"lower <= upper within [-{symmetric_bound}, {symmetric_bound}]",
             repr(value))
    return lower, upper


class _RandomLayer(ImageLayer):
    """Seeded generator shared by the augmentation layers."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = None if seed is None else check_int(seed, "seed", min_value=0)
        self._rng = None

    def _on_build(self, input_shape, rng):
        seed = self.seed if self.seed is not None else rng.integers(2**63)
        self._rng = np.random.default_rng(seed)

    def _generator(self):
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def _nchw_output_shape(self, input_shape):
        return tuple(_check_image_shape(self, input_shape))

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


class RandomFlip(_RandomLayer):
    """Flip each image at random (probability 1/2) in training.

    Parameters
    ----------
    mode : {"horizontal", "vertical", "horizontal_and_vertical"}, default
        "horizontal_and_vertical"
        With both, one draw per image flips it both ways (as Keras).
    seed : int, optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import RandomFlip
    >>> x = np.arange(4.0).reshape(1, 1, 1, 4)
    >>> RandomFlip("horizontal", seed=0)(x)[0, 0, 0]       # inference: identity
    array([0., 1., 2., 3.], dtype=float32)
    >>> sorted(set(RandomFlip("horizontal", seed=0)(np.repeat(x, 20, axis=0),
    ...                                             training=True)[:, 0, 0, 0].tolist()))
    [0.0, 3.0]
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = check_choice(mode, "mode",
                                 ("horizontal", "vertical", "horizontal_and_vertical"))
        self._axes = {"horizontal": (3,), "vertical": (2,),
                      "horizontal_and_vertical": (2, 3)}[self.mode]

    def _flip(self, x, flips):
        out = np.array(x, dtype=self.dtype, copy=True)
        out[flips] = np.flip(x[flips], axis=self._axes)
        return out

    def forward(self, x, training=False):
        self._cache["flips"] = None
        if not training:
            return x
        flips = self._generator().random(len(x)) <= 0.5
        self._cache["flips"] = flips
        return self._flip(x, flips)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        flips = self._cache.get("flips")
        return grad if flips is None else self._flip(grad, flips)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


class RandomCrop(_RandomLayer):
    """Crop a random ``height x width`` window in training (one window per
    batch, as Keras). For inputs not larger than the target, and at
    inference, Keras's central window, resized bilinearly to ``height x
    width``. (At inference Keras 3 itself returns the input uncropped, which
    no layer after it could accept.)

    Parameters
    ----------
    height, width : int
    seed : int, optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import RandomCrop
    >>> RandomCrop(24, 24, seed=0)(np.zeros((2, 1, 28, 28)), training=True).shape
    (2, 1, 24, 24)
    """

    def __init__(self, height, width, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = check_int(height, "height", min_value=1)
        self.width = check_int(width, "width", min_value=1)

    def _nchw_output_shape(self, input_shape):
        c, _, _ = _check_image_shape(self, input_shape)
        return c, self.height, self.width

    def _central_window(self, h, w):
        """Keras's window when it does not crop at random: centred for the
        target's aspect ratio, then ``height x width`` from there (clipped
        by the image), resized to the target if smaller."""
        crop_h = max(min(h, int(float(w * self.height) / self.width)), 1)
        crop_w = max(min(w, int(float(h * self.width) / self.height)), 1)
        top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
        return top, left, min(self.height, h - top), min(self.width, w - left)

    def forward(self, x, training=False):
        _, _, h, w = x.shape
        self._cache["shape"] = x.shape
        if training and h > self.height and w > self.width:
            rng = self._generator()
            top = int(rng.integers(0, h - self.height + 1))
            left = int(rng.integers(0, w - self.width + 1))
            rows, cols = self.height, self.width
        else:
            top, left, rows, cols = self._central_window(h, w)
        window = np.ascontiguousarray(x[:, :, top:top + rows, left:left + cols])
        self._cache["window"] = (top, left, rows, cols)
        if (rows, cols) == (self.height, self.width):
            return window
        return _resample._interpolate_forward(window, (self.height, self.width), None,
                                              "bilinear", False)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        top, left, rows, cols = self._cache["window"]
        shape = self._cache["shape"]
        if (rows, cols) != (self.height, self.width):
            grad = _resample._interpolate_backward(np.ascontiguousarray(grad),
                                                   shape[:2] + (rows, cols), None,
                                                   "bilinear", False)
        out = np.zeros(shape, dtype=self.dtype)
        out[:, :, top:top + rows, left:left + cols] = grad
        return out

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width})
        return config


class _AffineLayer(_RandomLayer):
    """Shared by `RandomTranslation` and `RandomRotation`: draw one affine
    map per image in training, resample, and transpose it in ``backward``."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.fill_mode = check_choice(fill_mode, "fill_mode", FILL_MODES)
        self.interpolation = check_choice(interpolation, "interpolation", INTERPOLATIONS)
        if not isinstance(fill_value, numbers.Real) or isinstance(fill_value, bool):
            fail(TypeError, "fill_value", "a real number", repr(fill_value))
        self.fill_value = float(fill_value)

    def forward(self, x, training=False):
        self._cache["matrices"] = None
        if not training:
            return x
        matrices = self._matrices(x.shape)
        self._cache["matrices"] = matrices
        return _resample._affine_resample_forward(x, matrices, self.interpolation,
                                                  self.fill_mode, self.fill_value)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        matrices = self._cache.get("matrices")
        if matrices is None:
            return grad
        return _resample._affine_resample_backward(grad, matrices, self.interpolation,
                                                   self.fill_mode)

    def get_config(self):
        config = super().get_config()
        config.update({"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                       "fill_value": self.fill_value})
        return config


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its size in training.

    Parameters
    ----------
    height_factor, width_factor : float or (float, float)
        Fractions of the height/width: ``f`` draws shifts in ``[-f, f]``, a
        pair ``(lower, upper)`` in that range (positive moves down/right).
    fill_mode : {"reflect", "wrap", "constant", "nearest"}, default "reflect"
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    seed : int, optional
    fill_value : float, default 0.0
        Used by ``fill_mode="constant"``.
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import RandomTranslation
    >>> layer = RandomTranslation(0, (0.25, 0.25), fill_mode="constant")
    >>> layer(np.arange(4.0).reshape(1, 1, 1, 4), training=True)[0, 0, 0]
    array([0., 0., 1., 2.], dtype=float32)
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _factor_range(height_factor, "height_factor")
        self.width_factor = _factor_range(width_factor, "width_factor")

    def _matrices(self, shape):
        n, _, h, w = shape
        rng = self._generator()
        dy = rng.uniform(*self.height_factor, size=n) * h
        dx = rng.uniform(*self.width_factor, size=n) * w
        ones, zeros = np.ones(n), np.zeros(n)
        return np.stack([ones, zeros, -dx, zeros, ones, -dy], axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"height_factor": list(self.height_factor),
                       "width_factor": list(self.width_factor)})
        return config


class RandomRotation(_AffineLayer):
    """Rotate each image about its centre by a random angle in training.

    Parameters
    ----------
    factor : float or (float, float)
        Fractions of a full turn: ``f`` draws angles in ``[-360 f, 360 f]``
        degrees, a pair ``(lower, upper)`` in ``[360 lower, 360 upper]``
        (positive is counter-clockwise).
    fill_mode : {"reflect", "wrap", "constant", "nearest"}, default "reflect"
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    seed : int, optional
    fill_value : float, default 0.0
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import RandomRotation
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> RandomRotation((0.25, 0.25))(x, training=True)[0, 0].round(5)   # a quarter turn
    array([[2., 5., 8.],
           [1., 4., 7.],
           [0., 3., 6.]], dtype=float32)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = _factor_range(factor, "factor", symmetric_bound=math.inf)

    def _matrices(self, shape):
        n, _, h, w = shape
        angle = np.deg2rad(self._generator().uniform(self.factor[0] * 360.0,
                                                     self.factor[1] * 360.0, size=n))
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
        return np.stack([cos, -sin, cx - cx * cos + cy * sin,
                         sin, cos, cy - cx * sin - cy * cos], axis=1)

    def get_config(self):
        config = super().get_config()
        config["factor"] = list(self.factor)
        return config
