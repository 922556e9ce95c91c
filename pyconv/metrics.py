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

from ._validation import check_int, fail

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "TopKAccuracy",
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
    "BinaryAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
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
    """Per-sample 1.0 where ``argmax(y_pred) == y_true`` (integer labels).

    Parameters
    ----------
    y_true : array-like of int, shape (n,) or (n, 1)
        Class indices.
    y_pred : array-like, shape (n, n_classes)
        Class scores (probabilities or logits: only the argmax matters).

    Returns
    -------
    ndarray of float64, shape (n,)
        1.0 for each correctly classified sample, else 0.0.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import sparse_categorical_accuracy
    >>> scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    >>> sparse_categorical_accuracy([1, 1, 1], scores)
    array([1., 0., 1.])
    """
    y_true = np.asarray(y_true)
    if y_true.ndim == np.ndim(y_pred) and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per-sample 1.0 where the true class is among the ``k`` highest scores.

    A class tied with the ``k``-th highest score counts as inside, as in
    Keras 3.

    Parameters
    ----------
    y_true : array-like of int, shape (n,) or (n, 1)
        Class indices.
    y_pred : array-like, shape (n, n_classes)
        Class scores.
    k : int, default 5

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import sparse_top_k_categorical_accuracy
    >>> scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    >>> sparse_top_k_categorical_accuracy([1, 0], scores, k=2)
    array([1., 0.])
    """
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).reshape(len(y_pred)).astype(np.intp)
    k = check_int(k, "k", min_value=1)
    if k >= y_pred.shape[-1]:
        return np.ones(len(y_pred))
    kth = np.partition(y_pred, -k, axis=-1)[:, -k]
    return (y_pred[np.arange(len(y_pred)), y_true] >= kth).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """`sparse_top_k_categorical_accuracy` for one-hot targets.

    Parameters
    ----------
    y_true : array-like, shape (n, n_classes)
        One-hot targets.
    y_pred : array-like, shape (n, n_classes)
        Class scores.
    k : int, default 5

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import top_k_categorical_accuracy
    >>> onehot = np.array([[0, 1, 0], [1, 0, 0]])
    >>> top_k_categorical_accuracy(onehot, np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), k=2)
    array([1., 0.])
    """
    return sparse_top_k_categorical_accuracy(np.argmax(y_true, axis=-1), y_pred, k)


def categorical_accuracy(y_true, y_pred):
    """Per-sample 1.0 where ``argmax(y_pred) == argmax(y_true)`` (one-hot).

    Parameters
    ----------
    y_true : array-like, shape (n, n_classes)
        One-hot (or soft) targets.
    y_pred : array-like, shape (n, n_classes)
        Class scores.

    Returns
    -------
    ndarray of float64, shape (n,)
        1.0 for each sample whose top class matches, else 0.0.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import categorical_accuracy
    >>> onehot = np.array([[0, 0, 1], [1, 0, 0]])
    >>> categorical_accuracy(onehot, np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]))
    array([1., 0.])
    """
    return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample mean of ``(y_pred > threshold) == y_true``.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, k)
        0/1 targets (values above 0.5 count as 1).
    y_pred : array-like, shape (n,) or (n, k)
        Probabilities (or any scores compared to ``threshold``).
    threshold : float, default=0.5
        Predictions strictly above it count as class 1.

    Returns
    -------
    ndarray of float64, shape (n,)
        The fraction of correct outputs of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import binary_accuracy
    >>> y_pred = np.array([[0.9], [0.4], [0.6]])
    >>> binary_accuracy([1, 1, 0], y_pred)
    array([1., 0., 0.])
    >>> binary_accuracy([1, 1, 0], y_pred, threshold=0.3)
    array([1., 1., 0.])
    """
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean((y_pred > threshold) == (y_true > 0.5))


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of squared errors.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, ...)
        Targets.
    y_pred : array-like, same shape as ``y_true`` (or with a trailing 1)
        Predictions.

    Returns
    -------
    ndarray of float64, shape (n,)
        The mean of ``(y_pred - y_true) ** 2`` over all but the first axis.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import mean_squared_error
    >>> mean_squared_error(np.array([[0.0, 0.0], [1.0, 1.0]]),
    ...                    np.array([[1.0, 3.0], [1.0, 1.0]]))
    array([5., 0.])
    """
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean(np.square(y_pred - y_true))


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of absolute errors.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, ...)
        Targets.
    y_pred : array-like, same shape as ``y_true`` (or with a trailing 1)
        Predictions.

    Returns
    -------
    ndarray of float64, shape (n,)
        The mean of ``|y_pred - y_true|`` over all but the first axis.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import mean_absolute_error
    >>> mean_absolute_error(np.array([[0.0, 0.0], [1.0, 1.0]]),
    ...                     np.array([[1.0, -3.0], [1.0, 1.5]]))
    array([2.  , 0.25])
    """
    y_true, y_pred = _match_rank(y_true, y_pred)
    return _per_sample_mean(np.abs(y_pred - y_true))


# --------------------------------------------------------------------- objects
class Metric:
    """Base class: a named running statistic.

    Subclasses implement ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()`` and ``reset_state()``. ``direction`` ("up" or "down") tells
    callbacks in ``mode="auto"`` whether larger is better.

    Parameters
    ----------
    name : str, optional
        The key under which ``fit`` logs the metric (default: the class's
        default name).

    Examples
    --------
    A running maximum of the absolute error, usable in ``compile(metrics=...)``:

    >>> import numpy as np
    >>> from pyconv.metrics import Metric
    >>> class MaxAbsError(Metric):
    ...     _default_name = "max_abs_error"
    ...     def __init__(self, name=None):
    ...         super().__init__(name)
    ...         self.reset_state()
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         error = np.max(np.abs(np.asarray(y_pred) - np.asarray(y_true)))
    ...         self.value = max(self.value, float(error))
    ...     def result(self):
    ...         return self.value
    ...     def reset_state(self):
    ...         self.value = 0.0
    >>> m = MaxAbsError()
    >>> m.update_state([1.0, 2.0], [1.5, 2.0]); m.update_state([0.0], [-2.0])
    >>> m.name, m.result(), m.direction
    ('max_abs_error', 2.0, 'down')
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

    Parameters
    ----------
    name : str, default="mean"
        Logged name.

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
    """Running mean of a per-sample function ``fn(y_true, y_pred)``.

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred, **kwargs)`` returning one value per sample.
    name : str, optional
        Logged name (default: ``fn.__name__``).
    direction : {"down", "up"}, default="down"
        Whether smaller ("down") or larger ("up") values are better.
    **kwargs
        Extra keyword arguments passed to ``fn`` at every update.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import MeanMetricWrapper
    >>> def max_error(y_true, y_pred):
    ...     return np.abs(np.asarray(y_pred) - np.asarray(y_true)).max(axis=1)
    >>> m = MeanMetricWrapper(max_error)
    >>> m.update_state(np.zeros((2, 3)), np.array([[1.0, -2.0, 0.0], [0.5, 0.0, 0.0]]))
    >>> m.name, m.result()
    ('max_error', 1.25)
    """

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
    """Accuracy for integer labels against class scores.

    Parameters
    ----------
    name : str, default="sparse_categorical_accuracy"
        Logged name.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import SparseCategoricalAccuracy
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([2, 0], np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]))
    >>> m.update_state([1], np.array([[0.2, 0.5, 0.3]]))
    >>> round(m.result(), 4)
    0.6667
    """

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name, direction="up")


class CategoricalAccuracy(MeanMetricWrapper):
    """Accuracy for one-hot targets against class scores.

    Parameters
    ----------
    name : str, default="categorical_accuracy"
        Logged name.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import CategoricalAccuracy
    >>> m = CategoricalAccuracy()
    >>> m.update_state(np.eye(3), np.array([[0.8, 0.1, 0.1],
    ...                                     [0.5, 0.4, 0.1],
    ...                                     [0.1, 0.1, 0.8]]))
    >>> round(m.result(), 4)
    0.6667
    """

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name, direction="up")


class BinaryAccuracy(MeanMetricWrapper):
    """Accuracy of ``y_pred > threshold`` against 0/1 targets.

    Parameters
    ----------
    name : str, default="binary_accuracy"
        Logged name.
    threshold : float, default=0.5
        Predictions strictly above it count as class 1.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import BinaryAccuracy
    >>> m = BinaryAccuracy()
    >>> m.update_state([1, 0, 1, 0], np.array([[0.9], [0.2], [0.4], [0.7]]))
    >>> m.result()
    0.5
    >>> m.get_config()
    {'name': 'binary_accuracy', 'threshold': 0.5}
    """

    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name=name, direction="up", threshold=float(threshold))


class MeanSquaredError(MeanMetricWrapper):
    """Running mean squared error.

    Parameters
    ----------
    name : str, default="mean_squared_error"
        Logged name.

    Examples
    --------
    Sample weights weigh each sample's mean:

    >>> import numpy as np
    >>> from pyconv.metrics import MeanSquaredError
    >>> m = MeanSquaredError()
    >>> m.update_state(np.array([0.0, 0.0]), np.array([1.0, 3.0]), sample_weight=[3.0, 1.0])
    >>> m.result()  # (3 * 1 + 1 * 9) / 4
    3.0
    """

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean absolute error.

    Parameters
    ----------
    name : str, default="mean_absolute_error"
        Logged name.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import MeanAbsoluteError
    >>> m = MeanAbsoluteError(name="mae")
    >>> m.update_state(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0]))
    >>> m.name, m.result()
    ('mae', 0.8333333333333334)
    >>> m.reset_state(); m.result()
    0.0
    """

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name=name)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest class scores.

    Parameters
    ----------
    k : int, default 5
    name : str, default="sparse_top_k_categorical_accuracy"

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import SparseTopKCategoricalAccuracy
    >>> m = SparseTopKCategoricalAccuracy(k=2)
    >>> m.update_state([1, 0], np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]))
    >>> m.result()
    0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy"):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, direction="up",
                         k=check_int(k, "k", min_value=1))


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest scores.

    Parameters
    ----------
    k : int, default 5
    name : str, default="top_k_categorical_accuracy"

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import TopKCategoricalAccuracy
    >>> m = TopKCategoricalAccuracy(k=1)
    >>> m.update_state(np.eye(2), np.array([[0.9, 0.1], [0.8, 0.2]]))
    >>> m.result()
    0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name=name, direction="up",
                         k=check_int(k, "k", min_value=1))


class Accuracy(Metric):
    """``"accuracy"``: binary, sparse or categorical, chosen at the first update.

    The choice follows Keras 3 from the shapes of the first batch.

    Parameters
    ----------
    name : str, default="accuracy"
        Logged name.

    Examples
    --------
    Integer labels against two class scores: sparse categorical accuracy.

    >>> import numpy as np
    >>> from pyconv.metrics import Accuracy
    >>> m = Accuracy()
    >>> m.update_state([0, 1, 1], np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]]))
    >>> round(m.result(), 4)
    0.6667

    One output column: binary accuracy at threshold 0.5.

    >>> m = Accuracy()
    >>> m.update_state([1, 0], np.array([[0.8], [0.6]]))
    >>> m.result()
    0.5
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


class TopKAccuracy(Accuracy):
    """``"top_k_accuracy"``: top-5 accuracy for integer labels or one-hot
    targets, chosen from the shapes of the first batch.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.metrics import TopKAccuracy
    >>> m = TopKAccuracy(k=2)
    >>> m.update_state([2], np.array([[0.1, 0.3, 0.6]]))
    >>> type(m._impl).__name__, m.result()
    ('SparseTopKCategoricalAccuracy', 1.0)
    """

    _default_name = "top_k_accuracy"

    def __init__(self, k=5, name=None):
        super().__init__(name)
        self.k = check_int(k, "k", min_value=1)

    def _resolve(self, y_true, y_pred):
        t_shape, p_shape = np.shape(y_true), np.shape(y_pred)
        if len(t_shape) < len(p_shape) or t_shape[-1] == 1:
            return SparseTopKCategoricalAccuracy(self.k, name=self.name)
        return TopKCategoricalAccuracy(self.k, name=self.name)


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
    "top_k_accuracy": TopKAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
}


def get(identifier):
    """Return a fresh :class:`Metric` from a name, a metric or a function.

    Parameters
    ----------
    identifier : str, Metric or callable
        A name (``"accuracy"``/``"acc"``, ``"sparse_categorical_accuracy"``,
        ``"categorical_accuracy"``, ``"binary_accuracy"``, ``"mse"``,
        ``"mae"`` and their long forms, ``"top_k_accuracy"``,
        ``"sparse_top_k_categorical_accuracy"``, ``"top_k_categorical_accuracy"``
        (k=5)), a :class:`Metric` (returned as is)
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
