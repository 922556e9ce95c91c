"""Metrics: running means over batches, resolved by name as Keras does.

``"accuracy"`` (or ``"acc"``) becomes binary, sparse categorical or
categorical accuracy depending on the shapes of the targets and predictions
(Keras 3's rule: one output column -> binary; targets of lower rank than the
predictions, or a single target column against several outputs -> sparse
categorical; otherwise categorical). The metric keeps the name the user gave.

Examples
--------
>>> import numpy as np
>>> from pyconv.metrics import get
>>> m = get("accuracy")
>>> m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
>>> m.result()
0.5
"""
import numpy as np

from ._validation import fail

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
    "BinaryAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "get",
]


# ------------------------------------------------------------ per-sample functions
def _match_rank(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    return y_true, y_pred


def _per_sample_mean(values):
    if values.ndim <= 1:
        return values.astype(np.float64, copy=False)
    return values.reshape(values.shape[0], -1).mean(axis=1)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per-sample 1.0 where ``argmax(y_pred) == y_true`` (integer labels)."""
    y_true = np.asarray(y_true)
    if y_true.ndim == np.ndim(y_pred) and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """Per-sample 1.0 where ``argmax(y_pred) == argmax(y_true)`` (one-hot)."""
    return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample mean of ``(y_pred > threshold) == y_true``."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean((y_pred > threshold) == (y_true > 0.5))


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of squared errors."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean(np.square(y_pred - y_true))


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of absolute errors."""
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean(np.abs(y_pred - y_true))


# --------------------------------------------------------------------- objects
class Metric:
    """Base class: a named running statistic.

    Subclasses implement ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()`` and ``reset_state()``. ``direction`` ("up" or "down") tells
    callbacks in ``mode="auto"`` whether larger is better.
    """

    direction = "down"

    def __init__(self, name=None):
        self.name = name if name is not None else self._default_name

    _default_name = "metric"

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Weighted running mean of the values passed to :meth:`update_state`.

    Examples
    --------
    >>> from pyconv.metrics import Mean
    >>> m = Mean(); m.update_state([1.0, 2.0]); m.update_state(6.0, sample_weight=2)
    >>> m.result()
    3.75
    """

    _default_name = "mean"

    def __init__(self, name=None):
        super().__init__(name)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(np.sum(values))
            self.count += values.size
        else:
            weights = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), values.shape)
            self.total += float(np.sum(values * weights))
            self.count += float(np.sum(weights))

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """Running mean of a per-sample function ``fn(y_true, y_pred)``."""

    def __init__(self, fn, name=None, direction="down", **kwargs):
        super().__init__(name=name if name is not None else getattr(fn, "__name__", "metric"))
        self.fn = fn
        self.direction = direction
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"name": self.name, **self._fn_kwargs}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Accuracy for integer labels against class scores."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name, direction="up")


class CategoricalAccuracy(MeanMetricWrapper):
    """Accuracy for one-hot targets against class scores."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name, direction="up")


class BinaryAccuracy(MeanMetricWrapper):
    """Accuracy of ``y_pred > threshold`` against 0/1 targets."""

    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name=name, direction="up", threshold=float(threshold))


class MeanSquaredError(MeanMetricWrapper):
    """Running mean squared error."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean absolute error."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name=name)


class Accuracy(Metric):
    """``"accuracy"``: binary, sparse or categorical, chosen at the first update.

    The choice follows Keras 3 from the shapes of the first batch.
    """

    direction = "up"
    _default_name = "accuracy"

    def __init__(self, name=None):
        super().__init__(name)
        self._impl = None

    def _resolve(self, y_true, y_pred):
        t_shape, p_shape = np.shape(y_true), np.shape(y_pred)
        is_binary = p_shape[-1] == 1 if len(p_shape) > 1 else True
        is_sparse = len(t_shape) < len(p_shape) or (t_shape[-1] == 1 and p_shape[-1] > 1)
        if is_binary:
            return BinaryAccuracy(name=self.name)
        if is_sparse:
            return SparseCategoricalAccuracy(name=self.name)
        return CategoricalAccuracy(name=self.name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._impl is None:
            self._impl = self._resolve(y_true, y_pred)
        self._impl.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self._impl.result() if self._impl is not None else 0.0

    def reset_state(self):
        if self._impl is not None:
            self._impl.reset_state()


_BY_NAME = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier):
    """Return a fresh :class:`Metric` from a name, a metric or a function.

    Parameters
    ----------
    identifier : str, Metric or callable
        A name (``"accuracy"``/``"acc"``, ``"sparse_categorical_accuracy"``,
        ``"categorical_accuracy"``, ``"binary_accuracy"``, ``"mse"``,
        ``"mae"`` and their long forms), a :class:`Metric` (returned as is)
        or a function ``fn(y_true, y_pred) -> per-sample values``. Named
        metrics keep the name given, as in Keras.

    Examples
    --------
    >>> from pyconv.metrics import get
    >>> get("acc").name
    'acc'
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            fail(ValueError, "metrics", "names among " + ", ".join(repr(k) for k in _BY_NAME)
                 + ", Metric instances or functions", repr(identifier))
        return cls(name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    fail(TypeError, "metrics", "names, Metric instances or functions", repr(identifier))
