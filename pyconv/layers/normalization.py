"""Batch normalization."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .._typing import InitializerLike, RegularizerLike
from .._validation import check_int, fail
from .base import Layer, WeightSpec

__all__ = ["BatchNormalization"]


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
    axis : int, default 1
        The feature axis, counted with the batch axis: 1 is the channels of
        an NCHW batch and the features of a ``(batch, features)`` batch.
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

    def __init__(self, axis: int = 1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 beta_initializer: InitializerLike = "zeros",
                 gamma_initializer: InitializerLike = "ones",
                 moving_mean_initializer: InitializerLike = "zeros",
                 moving_variance_initializer: InitializerLike = "ones",
                 beta_regularizer: RegularizerLike = None,
                 gamma_regularizer: RegularizerLike = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = check_int(axis, "axis")
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
        return axis

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
