"""Core layers: Input, Dense, Flatten, Reshape, Dropout and the activations."""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import numpy as np

from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .._graph import GraphInput
from .._typing import ActivationLike, InitializerLike, RegularizerLike
from .._validation import check_int, fail
from .._shapes import INT32_MAX, check_sample_shape
from .base import ImageLayer, Layer, WeightSpec

__all__ = ["Input", "InputLayer", "Dense", "Flatten", "Reshape", "Dropout", "Activation",
           "ReLU", "Softmax"]


def _prod(shape):
    return int(math.prod(shape))


class _FusedActivation:
    """Activation applied inside a layer's forward/backward (Conv2D, Dense).

    Such a layer's ``backward(grad, need_input_grad=True,
    pre_activation=False)`` takes ``grad`` with respect to its activated
    output, or, with ``pre_activation=True``, with respect to the output
    before the activation: the training loop passes that when it has
    already applied the activation's gradient (fused into the loss, or a
    ReLU mask applied by the max pooling that follows).
    """

    def _activate(self, z):
        act = self.activation
        cache = self._cache
        if isinstance(act, _activations._Linear):
            cache["y"] = z
            cache.pop("z", None)
            return z
        if act.needs_input:
            y = act.forward(z)
            cache["z"] = z
        else:
            y = act.forward(z, out=z)      # in place on the layer's own buffer
            cache.pop("z", None)
        cache["y"] = y
        return y

    def _activation_grad(self, grad, pre_activation=False):
        act = self.activation
        if pre_activation or isinstance(act, _activations._Linear):
            return grad
        y = self._cache["y"]
        if (type(act) is _activations._ReLU and isinstance(grad, np.ndarray)
                and grad.shape == y.shape):
            # grad * (y > 0) without temporaries (same bits as _ReLU.backward)
            mask = self._buffer("relu_mask", y.shape, np.bool_)
            np.greater(y, 0, out=mask)
            return np.multiply(grad, mask, out=self._buffer("activation_grad", y.shape,
                                                            grad.dtype))
        return act.backward(grad, self._cache.get("z"), y)


class _KernelBias(_FusedActivation):
    """A layer computing ``activation(x (*) kernel + bias)`` (Conv2D,
    Conv2DTranspose, Dense): the arguments, weights and config entries
    they share."""

    def _init_kernel_bias(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer):
        self.activation = _activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = _regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = _regularizers.get(bias_regularizer, "bias_regularizer")

    @property
    def kernel(self):
        return self._weights[0][1]

    @property
    def bias(self):
        return self._weights[1][1] if self.use_bias else None

    def _kernel_bias_specs(self, kernel_shape, units):
        """The kernel's `WeightSpec`, and the bias's (``units`` values) if used."""
        specs = [WeightSpec("kernel", tuple(kernel_shape), self.kernel_initializer, True,
                            self.kernel_regularizer)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (units,), self.bias_initializer, True,
                                    self.bias_regularizer))
        return specs

    def _kernel_bias_config(self):
        return {
            "activation": _activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _initializers.serialize(self.kernel_initializer),
            "bias_initializer": _initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
        }


class Input(GraphInput, Layer):
    """Marks the shape of a model's input (no computation).

    ``Sequential([Input((1, 28, 28)), Conv2D(...), ...])`` is the same as
    giving ``input_shape=(1, 28, 28)`` to the first real layer.

    Parameters
    ----------
    shape : tuple of int
        Per-sample shape without the batch axis, such as ``(C, H, W)``.
    batch_size : int, optional
        Recorded only (batches may have any size).
    name, dtype
        As `Layer`.

    Examples
    --------
    >>> from pyconv.layers import Input
    >>> Input((1, 28, 28)).input_shape
    (1, 28, 28)
    """

    def __init__(self, shape: Optional[Sequence[int]] = None, batch_size: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = "float32") -> None:
        if shape is None:
            fail(ValueError, "shape", "a tuple of positive ints such as (C, H, W)", "None")
        shape = check_sample_shape(shape, "shape")
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", min_value=1)
        self.batch_size = batch_size
        super().__init__(name=name, input_shape=shape, dtype=dtype)
        self.shape = shape

    def _speaks_nhwc(self, rank):
        # Its layers decide how the shape reads: the model warns about a
        # channels-last-looking shape that no channels_last layer reads.
        return True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        return grad if need_input_grad else None

    def get_config(self):
        return {"shape": list(self.shape), "batch_size": self.batch_size, "name": self.name,
                "dtype": str(self.dtype)}


InputLayer = Input


class Dense(_KernelBias, Layer):
    """Fully connected layer: ``y = activation(x @ kernel + bias)``.

    Takes 2-D input ``(batch, features)``; put a `Flatten` before it for
    images. The kernel is stored as Keras stores it, ``[features, units]``.

    Parameters
    ----------
    units : int
        Output features.
    activation : str or None
        Fused activation (see `pyconv.activations.get`).
    use_bias : bool, default True
    kernel_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    kernel_regularizer, bias_regularizer : optional
        ``"l1"``, ``"l2"`` or a `pyconv.regularizers` object.
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> from pyconv.layers import Dense
    >>> Dense(1000).count_params((784,))
    785000
    >>> Dense(1000).count_params((150528,))
    150529000
    """

    def __init__(self, units: int, activation: ActivationLike = None, use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 bias_initializer: InitializerLike = "zeros",
                 kernel_regularizer: RegularizerLike = None,
                 bias_regularizer: RegularizerLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_int(units, "units", min_value=1, max_value=INT32_MAX)
        self._init_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer)

    def _check_input(self, input_shape):
        if len(input_shape) != 1:
            fail(ValueError, "input_shape", f"(features,) for Dense layer {self.name!r}; "
                 "add a Flatten layer before it for images", tuple(input_shape))

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        return (self.units,)

    def weight_specs(self, input_shape):
        self._check_input(input_shape)
        return self._kernel_bias_specs((input_shape[0], self.units), self.units)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        z = x @ self.kernel
        if self.use_bias:
            z += self.bias
        self._cache["x"] = x
        return self._activate(z)

    def backward(self, grad, need_input_grad=True, pre_activation=False):
        grad = self._activation_grad(np.asarray(grad, dtype=self.dtype), pre_activation)
        x = self._cache["x"]
        grads = {"kernel": x.T @ grad}
        if self.use_bias:
            grads["bias"] = grad.sum(axis=0)
        self._set_grads(grads)
        return grad @ self.kernel.T if need_input_grad else None

    def flops(self, input_shape=None):
        (features,) = self._shape_for_counts(input_shape)
        total = 2 * features * self.units + (self.units if self.use_bias else 0)
        if self.activation.name != "linear":
            total += self.units
        return total

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
        })
        config.update(self._kernel_bias_config())
        return config


class Flatten(ImageLayer):
    """Flattens each sample, ``(C, H, W) -> (C * H * W,)`` in NCHW (C-)order.

    With ``data_format="channels_last"`` the features come in the order of
    the NHWC image, ``(H, W, C) -> (H * W * C,)``, as Keras's, so the
    weights of a `Dense` layer after it port from Keras unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Flatten
    >>> Flatten()(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    >>> Flatten(data_format="channels_last")(np.arange(8).reshape(1, 2, 2, 2))
    array([[0., 1., 2., 3., 4., 5., 6., 7.]], dtype=float32)
    """

    def _nchw_output_shape(self, input_shape):
        return (_prod(input_shape),)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self._cache["shape"] = x.shape
        if x.ndim == 4 and self.data_format == "channels_last":
            return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(x.shape[0], -1)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        shape = self._cache["shape"]
        grad = np.ascontiguousarray(grad)
        if len(shape) == 4 and self.data_format == "channels_last":
            n, c, h, w = shape
            return np.ascontiguousarray(grad.reshape(n, h, w, c).transpose(0, 3, 1, 2))
        return grad.reshape(shape)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1).

    Parameters
    ----------
    target_shape : tuple of int
        The shape of one sample (no batch axis); one entry may be -1.
    **kwargs
        Base layer arguments (``name``, ``input_shape``, ``trainable``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Reshape
    >>> Reshape((1, 2, -1))(np.zeros((5, 8))).shape
    (5, 1, 2, 4)
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)) or not target_shape or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and (int(v) > 0 or v == -1)
                for v in target_shape) or list(target_shape).count(-1) > 1:
            fail(ValueError, "target_shape", "a tuple of positive ints with at most one -1",
                 repr(target_shape))
        self.target_shape = tuple(int(v) for v in target_shape)

    def compute_output_shape(self, input_shape):
        size = _prod(input_shape)
        known = _prod(v for v in self.target_shape if v != -1)
        if -1 in self.target_shape:
            if size % known:
                fail(ValueError, "target_shape", f"compatible with input shape {input_shape} "
                     f"({size} values)", self.target_shape)
            return tuple(size // known if v == -1 else v for v in self.target_shape)
        if known != size:
            fail(ValueError, "target_shape", f"compatible with input shape {input_shape} "
                 f"({size} values)", self.target_shape)
        return self.target_shape

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self._cache["shape"] = x.shape
        return x.reshape((x.shape[0],) + self.compute_output_shape(x.shape[1:]))

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        return np.ascontiguousarray(grad).reshape(self._cache["shape"])

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate``
    and scale the others by ``1 / (1 - rate)``; identity at inference.

    Parameters
    ----------
    rate : float in [0, 1)
    seed : int, optional
        Seed of this layer's mask generator. Without it the masks come from
        the generator the model passes to `build` (so a seeded model is
        reproducible).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Dropout
    >>> layer = Dropout(0.5, seed=0)
    >>> y = layer(np.ones((1, 1000)), training=True)
    >>> sorted(set(y.ravel().tolist()))
    [0.0, 2.0]
    >>> float(layer(np.ones((1, 1000))).sum())   # inference: identity
    1000.0
    """

    _layout = "follow"

    def __init__(self, rate: float, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool):
            fail(TypeError, "rate", "a float in [0, 1)", repr(rate))
        if not 0 <= rate < 1:
            fail(ValueError, "rate", "a float in [0, 1)", rate)
        self.rate = float(rate)
        if seed is not None:
            seed = check_int(seed, "seed", min_value=0)
        self.seed = seed
        self._rng = None

    def _on_build(self, input_shape, rng):
        if self.seed is not None:
            self._rng = np.random.default_rng(self.seed)
        else:
            self._rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._cache["keep"] = None
            return x
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        keep = self._rng.random(self._mask_shape(x), dtype=self.dtype) >= self.rate
        scale = keep.astype(self.dtype)
        scale *= self.dtype.type(1.0 / (1.0 - self.rate))
        self._cache["keep"] = scale
        return x * scale

    def _mask_shape(self, x):
        """Shape of the random mask, broadcast over ``x``."""
        return x.shape

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        scale = self._cache.get("keep")
        return grad if scale is None else grad * scale

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


class Activation(Layer):
    """Applies an activation function by name.

    Inside layers ``"softmax"`` normalises over axis 1 (features or channels).

    Parameters
    ----------
    activation : str or ActivationFunction
        A name such as ``"relu"``, ``"sigmoid"``, ``"tanh"`` or ``"softmax"``.
    **kwargs
        Base layer arguments (``name``, ``input_shape``, ``trainable``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Activation
    >>> Activation("relu")(np.array([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    _layout = "follow"

    def __init__(self, activation: ActivationLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activations.get(activation, "activation")

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        y = self.activation.forward(x)
        self._cache["x"] = x if self.activation.needs_input else None
        self._cache["y"] = y
        return y

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        return self.activation.backward(grad, self._cache["x"], self._cache["y"])

    def flops(self, input_shape=None):
        return _prod(self._shape_for_counts(input_shape))

    def get_config(self):
        config = super().get_config()
        config["activation"] = _activations.serialize(self.activation)
        return config


class ReLU(Layer):
    """Rectified linear unit with Keras's options.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for
    ``threshold <= x < max_value``, ``negative_slope * (x - threshold)`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import ReLU
    >>> ReLU(max_value=6.0)(np.array([[-1.0, 3.0, 8.0]])).tolist()
    [[0.0, 3.0, 6.0]]
    """

    _layout = "follow"

    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for arg, value in (("negative_slope", negative_slope), ("threshold", threshold),
                           ("max_value", max_value)):
            if value is None and arg == "max_value":
                continue
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                fail(TypeError, arg, "a real number", repr(value))
        if max_value is not None and max_value < 0:
            fail(ValueError, "max_value", "None or a non-negative number", max_value)
        if negative_slope < 0:
            fail(ValueError, "negative_slope", "a non-negative number", negative_slope)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self._plain = max_value is None and negative_slope == 0 and threshold == 0

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if self._plain:
            y = np.maximum(x, 0)
            self._cache["mask"] = y > 0
            return y
        self._cache["x"] = x
        return _activations._relu_general(x, self.negative_slope, self.max_value, self.threshold)

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        if self._plain:
            return grad * self._cache["mask"]
        return _activations._relu_general_grad(grad, self._cache["x"], self.negative_slope,
                                               self.max_value, self.threshold)

    def flops(self, input_shape=None):
        return _prod(self._shape_for_counts(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class Softmax(Layer):
    """Softmax along ``axis`` (counted with the batch axis, as Keras: -1 is last).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import Softmax
    >>> Softmax()(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = check_int(axis, "axis")
        self._function = _activations._Softmax(self.axis)

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1
        if not (1 <= self.axis < rank or -rank < self.axis <= -1):
            fail(ValueError, "axis", f"a non-batch axis of a {rank}-D input "
                 f"(1..{rank - 1} or -{rank - 1}..-1)", self.axis)
        return tuple(input_shape)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        y = self._function.forward(x)
        self._cache["y"] = y
        return y

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        if not need_input_grad:
            return None
        return self._function.backward(grad, None, self._cache["y"])

    def flops(self, input_shape=None):
        return 3 * _prod(self._shape_for_counts(input_shape))

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
