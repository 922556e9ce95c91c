"""Losses: per-sample values and their gradients, Keras 3 semantics.

Every loss computes, for a batch, the per-sample losses ``l_i`` (shape
``(n,)``) and the gradient of each ``l_i`` with respect to the predictions.
Calling a loss object reduces Keras's way, ``sum_i(w_i * l_i) / n`` (the
"sum_over_batch_size" reduction: divided by the batch size, not by the sum of
the weights).

Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does. When the
model ends in a softmax (sigmoid) and the loss is categorical (binary)
cross-entropy on probabilities, the training loop skips the clipping and the
activation's Jacobian and uses the fused gradient with respect to the logits,
``p * sum(y) - y``, which is exact and stable.

Examples
--------
>>> import numpy as np
>>> from pyconv.losses import SparseCategoricalCrossentropy
>>> loss = SparseCategoricalCrossentropy()
>>> round(loss(np.array([0, 1]), np.array([[0.5, 0.5], [0.25, 0.75]])), 4)
0.4904
"""
import numpy as np

from ._validation import as_float_array, check_choice, check_positive_float, fail

__all__ = [
    "Loss",
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "get",
]

EPSILON = 1e-7
_REDUCTIONS = ("sum_over_batch_size", "sum", "none")


def _log_softmax(z):
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _sigmoid(z):
    # stable on both tails
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _per_sample_mean(values):
    """Mean over every axis but the first."""
    if values.ndim == 1:
        return values
    return values.reshape(values.shape[0], -1).mean(axis=1)


def _features_per_sample(y_pred):
    return int(np.prod(y_pred.shape[1:])) if y_pred.ndim > 1 else 1


class Loss:
    """Base class of the losses.

    Subclasses implement :meth:`call` (per-sample losses) and
    :meth:`gradient` (derivative of each per-sample loss with respect to
    ``y_pred``) on arrays already checked by :meth:`prepare_targets`.

    Parameters
    ----------
    name : str, optional
        Name of the loss (logged as ``"loss"`` by ``fit``).
    reduction : {"sum_over_batch_size", "sum", "none"}
        How :meth:`__call__` reduces the weighted per-sample losses.

    Examples
    --------
    The Huber loss as a custom loss: ``call`` gives one value per sample,
    ``gradient`` its derivative with respect to ``y_pred``.

    >>> import numpy as np
    >>> from pyconv.losses import Loss
    >>> class Huber(Loss):
    ...     def __init__(self, delta=1.0, name="huber", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.delta = delta
    ...     def call(self, y_true, y_pred):
    ...         error = np.abs(y_pred - y_true)
    ...         quadratic = np.minimum(error, self.delta)
    ...         values = 0.5 * quadratic ** 2 + self.delta * (error - quadratic)
    ...         return values.reshape(len(values), -1).mean(axis=1)
    ...     def gradient(self, y_true, y_pred):
    ...         n_outputs = y_pred[0].size
    ...         return np.clip(y_pred - y_true, -self.delta, self.delta) / n_outputs
    >>> huber = Huber()
    >>> y_true, y_pred = np.array([0.0, 0.0]), np.array([[0.5], [3.0]])
    >>> huber(y_true, y_pred)  # (0.125 + 2.5) / 2
    1.3125
    >>> Huber(reduction="none")(y_true, y_pred)
    array([0.125, 2.5  ])
    >>> huber(y_true, y_pred, sample_weight=[1.0, 0.0])  # still divided by n = 2
    0.0625
    >>> huber.gradient(y_true[:, None], y_pred)
    array([[0.5],
           [1. ]])

    ``compile`` takes the instance like a built-in loss:
    ``model.compile(optimizer="adam", loss=Huber(delta=2.0))``.
    """

    #: activation whose output this loss can fuse with ("softmax", "sigmoid" or None)
    fused_activation: "str | None" = None
    #: name used when none is given (subclasses override it)
    _default_name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        self.name = name if name is not None else self._default_name
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Reduced loss of a batch (a float, or per-sample array for "none")."""
        y_pred = as_float_array(y_pred, "y_pred")
        if y_pred.ndim == 0:
            fail(ValueError, "y_pred", "an array with a batch axis", "a scalar")
        y_true = self.prepare_targets(y_true, y_pred.shape[1:], y_pred.dtype, len(y_pred))
        losses = self.call(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, len(y_pred))
            losses = losses * sample_weight
        if self.reduction == "none":
            return losses
        total = float(np.sum(losses, dtype=np.float64))
        if self.reduction == "sum":
            return total
        return total / max(len(losses), 1)

    # -------------------------------------------------------- to implement
    def prepare_targets(self, y, output_shape, dtype, n_samples):
        """Validate and convert targets once for predictions of ``output_shape``.

        ``output_shape`` excludes the batch axis. Returns the array that
        :meth:`call` and :meth:`gradient` take.
        """
        y = _as_target_array(y, n_samples)
        y = as_float_array(y, "y", dtype=dtype)
        output_shape = tuple(output_shape)
        if y.shape[1:] != output_shape and y.shape[1:] + (1,) == output_shape:
            y = y.reshape(y.shape + (1,))
        if y.shape[1:] != output_shape:
            fail(ValueError, "y", f"of shape (n_samples, {', '.join(map(str, output_shape))}) "
                 f"to match the model output for loss {self.name!r}", f"shape {y.shape}")
        return y

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def gradient(self, y_true, y_pred):
        raise NotImplementedError

    def logits_gradient(self, y_true, y_pred):
        """Gradient with respect to the logits of the fused activation."""
        raise NotImplementedError

    # ------------------------------------------------------------- config
    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _as_target_array(y, n_samples):
    if isinstance(y, (str, bytes)):
        fail(TypeError, "y", "an array of targets", f"a {type(y).__name__}")
    y = np.asarray(y)
    if y.ndim == 0:
        fail(ValueError, "y", f"an array with one target per sample ({n_samples})", "a scalar")
    if len(y) != n_samples:
        fail(ValueError, "y", f"an array with one target per sample of `x` ({n_samples} rows)",
             f"{len(y)} rows")
    return y


def _check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    w = as_float_array(sample_weight, name, dtype=np.float64)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n_samples:
        fail(ValueError, name, f"a 1-D array of {n_samples} weights (one per sample)",
             f"shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        fail(ValueError, name, "finite and non-negative", "negative or non-finite values")
    return w


class _Crossentropy(Loss):
    fused_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_positive_float(label_smoothing, "label_smoothing",
                                                    allow_zero=True)
        if self.label_smoothing > 1:
            fail(ValueError, "label_smoothing", "in [0, 1]", self.label_smoothing)
        if self.from_logits:
            self.fused_activation = None

    def get_config(self):
        config = super().get_config()
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return config

    @staticmethod
    def _check_probabilities_shape(output_shape, name):
        if len(output_shape) != 1:
            fail(ValueError, "model output", f"of shape (n_samples, n_classes) for {name}",
                 f"per-sample shape {tuple(output_shape)}")


class CategoricalCrossentropy(_Crossentropy):
    """Cross-entropy with one-hot (or soft) targets of shape ``(n, k)``.

    Parameters
    ----------
    from_logits : bool, default False
        Whether ``y_pred`` are logits (softmax applied inside, stably).
    label_smoothing : float, default 0.0
        ``y <- y (1 - s) + s / k``.
    name : str, optional
    reduction : str, default "sum_over_batch_size"

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import CategoricalCrossentropy
    >>> loss = CategoricalCrossentropy()
    >>> round(loss(np.array([[0, 1.0]]), np.array([[0.5, 0.5]])), 4)
    0.6931
    """

    _default_name = "categorical_crossentropy"

    def prepare_targets(self, y, output_shape, dtype, n_samples):
        self._check_probabilities_shape(output_shape, self.name)
        y = _as_target_array(y, n_samples)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and output_shape[0] > 1):
            fail(ValueError, "y", f"one-hot targets of shape (n_samples, {output_shape[0]}) for "
                 "categorical_crossentropy (use sparse_categorical_crossentropy for integer "
                 "labels)", f"shape {y.shape}")
        y = super().prepare_targets(y, output_shape, dtype, n_samples)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / y.shape[-1]
        return y

    def call(self, y_true, y_pred):
        if self.from_logits:
            log_prob = _log_softmax(y_pred)
        else:
            q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
            log_prob = np.log(np.clip(q, EPSILON, 1.0 - EPSILON))
        return -np.sum(y_true * log_prob, axis=-1)

    def gradient(self, y_true, y_pred):
        if self.from_logits:
            return self.logits_gradient(y_true, _softmax(y_pred))
        total = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / total
        inside = (q > EPSILON) & (q < 1.0 - EPSILON)
        grad_q = np.where(inside, -y_true / np.clip(q, EPSILON, 1.0), 0.0).astype(y_pred.dtype)
        # through q = p / sum(p)
        return (grad_q - np.sum(grad_q * q, axis=-1, keepdims=True)) / total

    def logits_gradient(self, y_true, probs):
        return probs * np.sum(y_true, axis=-1, keepdims=True) - y_true


class SparseCategoricalCrossentropy(_Crossentropy):
    """Cross-entropy with integer class labels of shape ``(n,)`` or ``(n, 1)``.

    Parameters
    ----------
    from_logits : bool, default False
    name : str, optional
    reduction : str, default "sum_over_batch_size"

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import SparseCategoricalCrossentropy
    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> round(loss(np.array([1]), np.array([[0.0, 0.0]])), 4)
    0.6931
    """

    _default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=from_logits, name=name, reduction=reduction)

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return config

    def prepare_targets(self, y, output_shape, dtype, n_samples):
        self._check_probabilities_shape(output_shape, self.name)
        n_classes = output_shape[0]
        y = _as_target_array(y, n_samples)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            fail(ValueError, "y", "integer class labels of shape (n_samples,) for "
                 "sparse_categorical_crossentropy (use categorical_crossentropy for one-hot "
                 "targets)", f"shape {y.shape}")
        if y.dtype.kind not in "biuf":
            fail(TypeError, "y", "integer class labels", f"dtype {y.dtype}")
        labels = y.astype(np.intp)
        if y.dtype.kind == "f" and not np.array_equal(labels, y):
            fail(ValueError, "y", "integer class labels", "non-integer values")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            fail(ValueError, "y", f"class labels in [0, {n_classes}) for a model with "
                 f"{n_classes} outputs", f"labels in [{labels.min()}, {labels.max()}]")
        return labels

    def call(self, y_true, y_pred):
        rows = np.arange(len(y_true))
        if self.from_logits:
            return -_log_softmax(y_pred)[rows, y_true]
        q = y_pred[rows, y_true] / np.sum(y_pred, axis=-1)
        return -np.log(np.clip(q, EPSILON, 1.0 - EPSILON))

    def gradient(self, y_true, y_pred):
        if self.from_logits:
            return self.logits_gradient(y_true, _softmax(y_pred))
        rows = np.arange(len(y_true))
        total = np.sum(y_pred, axis=-1)
        q_true = y_pred[rows, y_true] / total
        inside = (q_true > EPSILON) & (q_true < 1.0 - EPSILON)
        g_true = np.where(inside, -1.0 / np.clip(q_true, EPSILON, 1.0), 0.0)
        # d l / d p_j = (g_true [j == y] - g_true q_true) / total
        grad = np.empty_like(y_pred)
        grad[...] = (-(g_true * q_true) / total)[:, None]
        grad[rows, y_true] += g_true / total
        return grad

    def logits_gradient(self, y_true, probs):
        grad = probs.copy()
        grad[np.arange(len(y_true)), y_true] -= 1.0
        return grad


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, averaged over the outputs of each sample.

    Parameters
    ----------
    from_logits : bool, default False
    label_smoothing : float, default 0.0
        ``y <- y (1 - s) + s / 2``.
    name : str, optional
    reduction : str, default "sum_over_batch_size"

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import BinaryCrossentropy
    >>> round(BinaryCrossentropy()(np.array([1, 0]), np.array([[0.5], [0.5]])), 4)
    0.6931
    """

    _default_name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_positive_float(label_smoothing, "label_smoothing",
                                                    allow_zero=True)
        if self.from_logits:
            self.fused_activation = None

    def prepare_targets(self, y, output_shape, dtype, n_samples):
        y = super().prepare_targets(y, output_shape, dtype, n_samples)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y

    def call(self, y_true, y_pred):
        if self.from_logits:
            z = y_pred
            values = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        else:
            p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
            values = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
        return _per_sample_mean(values)

    def gradient(self, y_true, y_pred):
        if self.from_logits:
            return self.logits_gradient(y_true, _sigmoid(y_pred))
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        inside = (y_pred > EPSILON) & (y_pred < 1.0 - EPSILON)
        grad = np.where(inside, (p - y_true) / (p * (1.0 - p)), 0.0)
        return (grad / _features_per_sample(y_pred)).astype(y_pred.dtype, copy=False)

    def logits_gradient(self, y_true, probs):
        return (probs - y_true) / _features_per_sample(probs)

    def get_config(self):
        config = super().get_config()
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing)
        return config


class MeanSquaredError(Loss):
    """Mean of ``(y_pred - y_true)^2`` over the outputs of each sample.

    Parameters
    ----------
    name : str, optional
        Default ``"mean_squared_error"``.
    reduction : {"sum_over_batch_size", "sum", "none"}, default "sum_over_batch_size"
        How a call reduces the weighted per-sample losses.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import MeanSquaredError
    >>> MeanSquaredError()(np.array([1.0, 2.0]), np.array([[0.0], [4.0]]))
    2.5
    """

    _default_name = "mean_squared_error"

    def call(self, y_true, y_pred):
        return _per_sample_mean(np.square(y_pred - y_true))

    def gradient(self, y_true, y_pred):
        return (y_pred - y_true) * (2.0 / _features_per_sample(y_pred))


class MeanAbsoluteError(Loss):
    """Mean of ``|y_pred - y_true|`` over the outputs of each sample.

    Parameters
    ----------
    name : str, optional
        Default ``"mean_absolute_error"``.
    reduction : {"sum_over_batch_size", "sum", "none"}, default "sum_over_batch_size"
        How a call reduces the weighted per-sample losses.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import MeanAbsoluteError
    >>> MeanAbsoluteError()(np.array([1.0, 2.0]), np.array([[0.0], [4.0]]))
    1.5
    """

    _default_name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        return _per_sample_mean(np.abs(y_pred - y_true))

    def gradient(self, y_true, y_pred):
        return np.sign(y_pred - y_true) * (1.0 / _features_per_sample(y_pred))


class Huber(Loss):
    """Mean over the outputs of ``e^2 / 2`` where ``|e| <= delta``, else
    ``delta * (|e| - delta / 2)``, with ``e = y_pred - y_true`` (Keras 3).

    Parameters
    ----------
    delta : float, default 1.0
        Where the loss turns from quadratic to linear.
    name : str, optional
        Default ``"huber_loss"``.
    reduction : {"sum_over_batch_size", "sum", "none"}, default "sum_over_batch_size"
        How a call reduces the weighted per-sample losses.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.losses import Huber
    >>> Huber()(np.array([0.0, 0.0]), np.array([[0.5], [3.0]]))   # (0.125 + 2.5) / 2
    1.3125
    """

    _default_name = "huber_loss"

    def __init__(self, delta=1.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.delta = check_positive_float(delta, "delta")

    def call(self, y_true, y_pred):
        error = np.abs(y_pred - y_true)
        quadratic = np.minimum(error, self.delta)
        return _per_sample_mean(0.5 * quadratic * quadratic + self.delta * (error - quadratic))

    def gradient(self, y_true, y_pred):
        error = y_pred - y_true
        return np.clip(error, -self.delta, self.delta) * (1.0 / _features_per_sample(y_pred))

    def get_config(self):
        config = super().get_config()
        config.update(delta=self.delta)
        return config


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier):
    """Return a loss from a name, a config dict or a :class:`Loss` instance.

    Parameters
    ----------
    identifier : str, dict or Loss
        One of ``"sparse_categorical_crossentropy"``,
        ``"categorical_crossentropy"``, ``"binary_crossentropy"``, ``"mse"``
        (``"mean_squared_error"``), ``"mae"`` (``"mean_absolute_error"``),
        ``"huber"`` (``"huber_loss"``), or
        ``{"class_name": ..., "config": {...}}``, or a loss (returned as is).

    Examples
    --------
    >>> from pyconv.losses import get
    >>> get("mse").name
    'mse'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            fail(ValueError, "loss", "one of " + ", ".join(repr(k) for k in _BY_NAME)
                 + " or a Loss instance", repr(identifier))
        return cls(name=identifier.lower())
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            fail(ValueError, "loss", "one of " + ", ".join(sorted(_CLASSES)),
                 repr(identifier["class_name"]))
        return cls.from_config(dict(identifier.get("config", {})))
    fail(TypeError, "loss", "a loss name such as 'mse' or a Loss instance", repr(identifier))
