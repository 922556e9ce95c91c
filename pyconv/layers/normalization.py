"""Batch normalization."""
from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .._typing import InitializerLike, RegularizerLike
from .._validation import check_int, fail
from ..config import image_data_format
from .base import Layer, WeightSpec

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization"]


class BatchNormalization(Layer):
    """Batch normalization, as Keras 3, over NCHW input.

    In training (``training=True`` and the layer trainable) each feature is
    normalised with the batch mean and the biased batch variance, and the
    moving statistics are updated:
    ``moving = moving * momentum + batch_stat * (1 - momentum)``. At
    inference (or when the layer is frozen) the moving statistics are used.
    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    Parameters
    ----------
    axis : int, optional
        The feature axis, counted with the batch axis: 1 is the channels of
        an NCHW batch and the features of a ``(batch, features)`` batch.
        By default 1, or -1 (Keras's default) when
        `pyconv.config.image_data_format()` is channels_last.
    momentum : float, default 0.99
    epsilon : float, default 1e-3
    center, scale : bool, default True
        Whether to learn ``beta`` and ``gamma``.
    beta_initializer, gamma_initializer, moving_mean_initializer,
    moving_variance_initializer : initializers
        Defaults zeros, ones, zeros, ones.
    beta_regularizer, gamma_regularizer : optional
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Notes
    -----
    Weights, in Keras's order: ``gamma``, ``beta`` (trainable),
    ``moving_mean``, ``moving_variance`` (non-trainable). PyTorch's
    ``momentum`` is ``1 - momentum`` here, and PyTorch updates the running
    variance with the unbiased batch variance where Keras uses the biased one.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import BatchNormalization
    >>> bn = BatchNormalization()
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 4))
    >>> y = bn(x, training=True)
    >>> bool(np.allclose(y.mean(axis=0), 0, atol=1e-6))
    True
    >>> bn.count_params()
    16
    """

    _layout = "follow"

    def __init__(self, axis: Optional[int] = None, momentum: float = 0.99,
                 epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 beta_initializer: InitializerLike = "zeros",
                 gamma_initializer: InitializerLike = "ones",
                 moving_mean_initializer: InitializerLike = "zeros",
                 moving_variance_initializer: InitializerLike = "ones",
                 beta_regularizer: RegularizerLike = None,
                 gamma_regularizer: RegularizerLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _channel_axis() if axis is None else check_int(axis, "axis")
        if self.axis == 0:
            fail(ValueError, "axis", "a feature axis (not 0, the batch axis)", 0)
        for arg, value in (("momentum", momentum), ("epsilon", epsilon)):
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                fail(TypeError, arg, "a real number", repr(value))
        if not 0 <= momentum <= 1:
            fail(ValueError, "momentum", "a number in [0, 1]", momentum)
        if not epsilon > 0:
            fail(ValueError, "epsilon", "a positive number", epsilon)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = _initializers.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer,
                                                         "moving_mean_initializer")
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer,
                                                             "moving_variance_initializer")
        self.beta_regularizer = _regularizers.get(beta_regularizer, "beta_regularizer")
        self.gamma_regularizer = _regularizers.get(gamma_regularizer, "gamma_regularizer")

    # ------------------------------------------------------------------ shapes
    def _feature_axis(self, input_shape):
        """The feature axis in the batched array (1 .. len(input_shape))."""
        rank = len(input_shape) + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            fail(ValueError, "axis", f"a feature axis of a {rank}-D input (1..{rank - 1} or "
                 f"-{rank - 1}..-1) for layer {self.name!r}", self.axis)
        return self._stored_axis(axis - 1, rank - 1) + 1

    def compute_output_shape(self, input_shape):
        self._feature_axis(input_shape)
        return tuple(input_shape)

    def weight_specs(self, input_shape):
        axis = self._feature_axis(input_shape)
        shape = (input_shape[axis - 1],)
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", shape, self.gamma_initializer, True,
                                    self.gamma_regularizer))
        if self.center:
            specs.append(WeightSpec("beta", shape, self.beta_initializer, True,
                                    self.beta_regularizer))
        specs.append(WeightSpec("moving_mean", shape, self.moving_mean_initializer, False, None))
        specs.append(WeightSpec("moving_variance", shape, self.moving_variance_initializer,
                                False, None))
        return specs

    def _weight(self, name):
        for spec, value in self._weights:
            if spec.name == name:
                return value
        return None

    @property
    def gamma(self):
        return self._weight("gamma")

    @property
    def beta(self):
        return self._weight("beta")

    @property
    def moving_mean(self):
        return self._weight("moving_mean")

    @property
    def moving_variance(self):
        return self._weight("moving_variance")

    def _geometry(self, x):
        axis = self._feature_axis(x.shape[1:])
        reduce_axes = tuple(a for a in range(x.ndim) if a != axis)
        param_shape = [1] * x.ndim
        param_shape[axis] = x.shape[axis]
        return reduce_axes, tuple(param_shape)

    # ----------------------------------------------------------------- compute
    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        reduce_axes, param_shape = self._geometry(x)
        t = self.dtype.type
        gamma, beta = self.gamma, self.beta
        use_batch = bool(training) and self.trainable
        if use_batch:
            mean = x.mean(axis=reduce_axes, keepdims=True)
            centered = x - mean
            variance = np.square(centered).mean(axis=reduce_axes, keepdims=True)
            inv_std = 1 / np.sqrt(variance + t(self.epsilon))
            normalized = centered * inv_std
            moving_mean, moving_variance = self.moving_mean, self.moving_variance
            moving_mean *= t(self.momentum)
            moving_mean += t(1 - self.momentum) * mean.reshape(-1)
            moving_variance *= t(self.momentum)
            moving_variance += t(1 - self.momentum) * variance.reshape(-1)
        else:
            mean = self.moving_mean.reshape(param_shape)
            inv_std = 1 / np.sqrt(self.moving_variance.reshape(param_shape) + t(self.epsilon))
            normalized = (x - mean) * inv_std
        y = normalized * gamma.reshape(param_shape) if gamma is not None else normalized.copy()
        if beta is not None:
            y += beta.reshape(param_shape)
        self._cache.update(normalized=normalized, inv_std=inv_std, batch_stats=use_batch,
                           reduce_axes=reduce_axes, param_shape=param_shape)
        return y

    def backward(self, grad, need_input_grad=True):
        cache = self._cache
        reduce_axes, param_shape = cache["reduce_axes"], cache["param_shape"]
        normalized, inv_std = cache["normalized"], cache["inv_std"]
        grad = np.asarray(grad, dtype=self.dtype)
        grads = {}
        if self.scale:
            grads["gamma"] = (grad * normalized).sum(axis=reduce_axes)
        if self.center:
            grads["beta"] = grad.sum(axis=reduce_axes)
        self._set_grads(grads)
        if not need_input_grad:
            return None
        grad_normalized = grad * self.gamma.reshape(param_shape) if self.scale else grad
        if not cache["batch_stats"]:
            return grad_normalized * inv_std
        mean_grad = grad_normalized.mean(axis=reduce_axes, keepdims=True)
        mean_grad_dot = (grad_normalized * normalized).mean(axis=reduce_axes, keepdims=True)
        return inv_std * (grad_normalized - mean_grad - normalized * mean_grad_dot)

    def flops(self, input_shape=None):
        return 2 * int(np.prod(self._shape_for_counts(input_shape)))

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": _initializers.serialize(self.beta_initializer),
            "gamma_initializer": _initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                _initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": _regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": _regularizers.serialize(self.gamma_regularizer),
        })
        return config


def _check_epsilon(epsilon):
    if not isinstance(epsilon, numbers.Real) or isinstance(epsilon, bool) or not epsilon > 0:
        fail(ValueError, "epsilon", "a positive number", repr(epsilon))
    return float(epsilon)


def _standardize(x, axes, epsilon):
    """``(x_hat, inv_std)``: ``x`` standardised over ``axes`` (kept as size 1)."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=axes, keepdims=True) + epsilon)
    return centered * inv_std, inv_std


def _standardize_backward(grad_hat, x_hat, inv_std, axes):
    """Gradient through `_standardize` from the gradient of ``x_hat``."""
    return inv_std * (grad_hat - grad_hat.mean(axis=axes, keepdims=True)
                      - x_hat * (grad_hat * x_hat).mean(axis=axes, keepdims=True))


class _AffineNormalization(Layer):
    """Shared by `LayerNormalization` and `GroupNormalization`: standardise,
    then ``gamma * x_hat + beta`` with weights along ``_param_axes``."""

    _layout = "follow"

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _check_epsilon(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = _initializers.get(gamma_initializer, "gamma_initializer")

    def _param_shape(self, input_shape):
        return tuple(input_shape[a] for a in self._param_axes(input_shape))

    def _broadcast(self, weight, ndim):
        """``weight`` shaped to broadcast against a batch of ``ndim`` dimensions."""
        shape = [1] * ndim
        for a in self._param_axes(self.input_shape):
            shape[a + 1] = self.input_shape[a]
        return weight.reshape(shape)

    def weight_specs(self, input_shape):
        self.compute_output_shape(input_shape)
        shape = self._param_shape(input_shape)
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", shape, self.gamma_initializer, True, None))
        if self.center:
            specs.append(WeightSpec("beta", shape, self.beta_initializer, True, None))
        return specs

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        x_hat, inv_std = self._standardize(x)
        self._cache.update(x_hat=x_hat, inv_std=inv_std)
        y = x_hat
        if self.scale:
            y = y * self._broadcast(self.weights[0], x.ndim)
        if self.center:
            y = y + self._broadcast(self.weights[-1], x.ndim)
        return np.ascontiguousarray(y, dtype=self.dtype)

    def backward(self, grad, need_input_grad=True):
        x_hat, inv_std = self._cache["x_hat"], self._cache["inv_std"]
        keep = {a + 1 for a in self._param_axes(self.input_shape)}
        reduce = tuple(a for a in range(grad.ndim) if a not in keep)
        grads = {}
        if self.scale:
            grads["gamma"] = (grad * x_hat).sum(axis=reduce).reshape(self.weights[0].shape)
            grad_hat = grad * self._broadcast(self.weights[0], grad.ndim)
        else:
            grad_hat = grad
        if self.center:
            grads["beta"] = grad.sum(axis=reduce).reshape(self.weights[-1].shape)
        self._set_grads(grads)
        if not need_input_grad:
            return None
        return np.ascontiguousarray(self._standardize_backward(grad_hat, x_hat, inv_std),
                                    dtype=self.dtype)

    def flops(self, input_shape=None):
        return 8 * int(np.prod(self._shape_for_counts(input_shape)))

    def get_config(self):
        config = super().get_config()
        config.update({
            "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "beta_initializer": _initializers.serialize(self.beta_initializer),
            "gamma_initializer": _initializers.serialize(self.gamma_initializer),
        })
        return config


def _channel_axis():
    """The channel axis of images in the global data format (with the batch axis)."""
    return 1 if image_data_format() == "channels_first" else -1


def _check_axes(axis, name):
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes:
        fail(ValueError, name, "an int or a non-empty list of ints", repr(axis))
    return [check_int(a, name) for a in axes]


def _sample_axes(axes, ndim, layer):
    """Axes counted with the batch axis -> axes of one sample (checked)."""
    out = set()
    for a in axes:
        if a == 0 or not -ndim <= (a if a < 0 else a - 1) < ndim:
            fail(ValueError, "axis", f"non-batch axes of inputs with {ndim + 1} dimensions "
                 f"(layer {layer.name!r})", a)
        out.add(layer._stored_axis((a if a < 0 else a - 1) % ndim, ndim))
    return sorted(out)


class LayerNormalization(_AffineNormalization):
    """Normalise each sample over ``axis``, then scale and shift (Keras 3).

    Parameters
    ----------
    axis : int or list of int, default -1
        Axes to normalise over, counted with the batch axis (``[1, 2, 3]``
        normalises a whole NCHW image). ``gamma`` and ``beta`` have the
        shape of these axes.
    epsilon : float, default 1e-3
    center, scale : bool, default True
    beta_initializer, gamma_initializer : default "zeros", "ones"
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.layers import LayerNormalization
    >>> y = LayerNormalization(axis=[1, 2, 3])(np.arange(24.0).reshape(2, 3, 2, 2))
    >>> bool(np.allclose(y.reshape(2, -1).mean(axis=1), 0, atol=1e-6))
    True
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        self.axis = _check_axes(axis, "axis")

    def _param_axes(self, input_shape):
        return _sample_axes(self.axis, len(input_shape), self)

    def compute_output_shape(self, input_shape):
        self._param_axes(input_shape)
        return tuple(input_shape)

    def _standardize(self, x):
        axes = tuple(a + 1 for a in self._param_axes(self.input_shape))
        return _standardize(x, axes, self.epsilon)

    def _standardize_backward(self, grad_hat, x_hat, inv_std):
        axes = tuple(a + 1 for a in self._param_axes(self.input_shape))
        return _standardize_backward(grad_hat, x_hat, inv_std, axes)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis if len(self.axis) > 1 else self.axis[0]
        return config


class GroupNormalization(_AffineNormalization):
    """Normalise each sample over groups of channels, then scale and shift (Keras 3).

    Parameters
    ----------
    groups : int, default 32
        Must divide the number of channels; ``groups = channels`` is
        instance normalisation, ``groups = 1`` layer normalisation.
    axis : int, optional
        The channel axis, counted with the batch axis: by default 1 (NCHW),
        or -1 when `pyconv.config.image_data_format()` is channels_last.
    epsilon : float, default 1e-3
    center, scale : bool, default True
    beta_initializer, gamma_initializer : default "zeros", "ones"
    **kwargs
        ``name``, ``input_shape``, ``trainable``, ``dtype`` (see `Layer`).

    Examples
    --------
    >>> from pyconv.layers import GroupNormalization
    >>> GroupNormalization(groups=2).count_params((4, 5, 5))
    8
    """

    def __init__(self, groups=32, axis=None, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        self.groups = check_int(groups, "groups", min_value=1)
        self.axis = _channel_axis() if axis is None else check_int(axis, "axis")

    def _param_axes(self, input_shape):
        return _sample_axes([self.axis], len(input_shape), self)

    def compute_output_shape(self, input_shape):
        (axis,) = self._param_axes(input_shape)
        if input_shape[axis] % self.groups:
            fail(ValueError, "groups", f"a divisor of the {input_shape[axis]} channels "
                 f"(layer {self.name!r})", self.groups)
        return tuple(input_shape)

    def _grouped(self, x):
        """``x`` with the channel axis first after the batch, as ``(N, groups, -1)``."""
        (axis,) = self._param_axes(self.input_shape)
        moved = np.moveaxis(x, axis + 1, 1)
        return np.ascontiguousarray(moved).reshape(len(x), self.groups, -1), moved.shape, axis

    def _ungrouped(self, y, moved_shape, axis):
        return np.moveaxis(y.reshape(moved_shape), 1, axis + 1)

    def _standardize(self, x):
        grouped, moved_shape, axis = self._grouped(x)
        x_hat, inv_std = _standardize(grouped, (2,), self.epsilon)
        return self._ungrouped(x_hat, moved_shape, axis), inv_std

    def _standardize_backward(self, grad_hat, x_hat, inv_std):
        grad_grouped, moved_shape, axis = self._grouped(grad_hat)
        x_grouped, _, _ = self._grouped(x_hat)
        return self._ungrouped(_standardize_backward(grad_grouped, x_grouped, inv_std, (2,)),
                               moved_shape, axis)

    def get_config(self):
        config = super().get_config()
        config.update({"groups": self.groups, "axis": self.axis})
        return config
