"""scikit-learn estimators: `CNNClassifier` and `CNNRegressor`.

Both wrap a :class:`~pyconv.models.Sequential` trained by its own ``fit``
loop, and follow scikit-learn's estimator contract: ``__init__`` only stores
the parameters, ``fit`` builds a fresh network (from the ``layers`` template
or from a small default CNN sized to the input), fitted attributes end in
``_``, and the estimators work in ``Pipeline``, ``cross_val_score``,
``GridSearchCV`` (any joblib backend, Dask included), and
``dask_ml.wrappers.Incremental`` through ``partial_fit``.

Input layout
------------
``X`` may be 4-D ``[n, C, H, W]``, 3-D ``[n, H, W]`` (one channel) or 2-D
``[n, C*H*W]`` (so that a ``StandardScaler`` can stand before the
estimator). 2-D data is read with ``input_shape``; when ``input_shape`` is
None, a width that is a perfect square is one square channel and any other
width a ``1 x 1 x n_features`` strip. ``n_features_in_`` is always the
number of features of the flattened input.

Compute dtype
-------------
The network computes in the dtype of ``X``, as scikit-learn's
``MLPClassifier`` does: float32 input trains a float32 network (the fast
path), every other input (float64, integers) a float64 network. Pass
``X.astype(np.float32)`` for speed.

Sample weights
--------------
The per-sample losses are weighted by ``sample_weight`` (times the class
weights), normalised to a mean of one over the training set, so scaling all
weights changes nothing. Samples whose weight is zero are removed before
training, so a zero weight is exactly the same as removing the sample; with
one batch per epoch (``batch_size >= n_samples``) an integer weight is also
exactly the same as repeating the sample.

Threads
-------
Each ``fit``, ``partial_fit`` and ``predict`` call runs inside
``threadpoolctl.threadpool_limits(limits=n, user_api="openmp")``, which sets
the OpenMP thread count of the calling thread (what
``pyconv.get_num_threads()`` reads). ``n`` is ``n_threads`` when given, and
otherwise this thread's share of the cores:

* the base is the thread count the calling thread would use on its own
  (``OMP_NUM_THREADS``, ``pyconv.set_num_threads`` or the CPU count). In a
  joblib ``loky`` worker, joblib has already set ``OMP_NUM_THREADS`` to
  ``cpu_count // n_jobs``, and Dask's nanny sets it to 1 in its workers, so
  the base is already the worker's share;
* the base is divided by the number of pyconv estimator calls running at the
  same time in this process (joblib's ``threading`` backend, or the user's
  own threads), re-evaluated at every epoch so that the shares follow the
  calls as they start and end.

So ``n_jobs x threads <= cores`` under ``GridSearchCV(n_jobs=...)`` with
either backend. BLAS (used by ``Dense``) is left to its own settings: joblib
limits it in loky workers; pyconv's kernels hold it to one thread where they
call it themselves.

Examples
--------
>>> import numpy as np
>>> from pyconv.estimators import CNNClassifier
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 16)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(int)
>>> clf = CNNClassifier(max_iter=2, random_state=0).fit(X, y)
>>> clf.input_shape_, clf.classes_.tolist()
((1, 4, 4), [0, 1])
>>> clf.predict_proba(X[:3]).sum(axis=1).round(6).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

import math
import numbers
import threading
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import initializers as _initializers
from . import layers as _layers
from . import optimizers as _optimizers
from ._layout import to_nchw_shape
from ._shapes import check_sample_shape
from ._threads import get_num_threads, max_threads
from ._typing import ArrayLike
from ._validation import (as_float_array, check_int, check_positive_float, check_weight,
                          fail, warn_if_channels_last)
from .callbacks import Callback
from .models import Sequential

__all__ = ["CNNClassifier", "CNNRegressor"]

_OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop", "adamw", "nadam")


# --------------------------------------------------------------------------- threads
_active_lock = threading.Lock()
_active_calls = 0


class _ThreadBudget:
    """Limit this thread's OpenMP pool to its share of the cores (see module doc).

    Used as a context manager around every fit/predict; `refresh` re-applies
    the share (cheaply, only when it changed) at each epoch.
    """

    def __init__(self, n_threads):
        self.requested = n_threads
        self._limiter = None
        self.current = None
        self._base = None

    def share(self):
        if self.requested is not None and self.requested > 0:
            return self.requested
        if self.requested == -1:
            return self._base
        with _active_lock:
            active = max(_active_calls, 1)
        return max(1, self._base // active)

    def __enter__(self):
        global _active_calls
        from threadpoolctl import threadpool_limits

        self._base = get_num_threads()
        with _active_lock:
            _active_calls += 1
        self.current = self.share()
        self._limiter = threadpool_limits(limits=self.current, user_api="openmp")
        return self

    def refresh(self):
        from threadpoolctl import threadpool_limits

        wanted = self.share()
        if wanted != self.current:
            threadpool_limits(limits=wanted, user_api="openmp")
            self.current = wanted

    def __exit__(self, *exc):
        global _active_calls
        try:
            self._limiter.restore_original_limits()
        finally:
            with _active_lock:
                _active_calls -= 1
        return False


# ------------------------------------------------------------------- input shapes
def _nesting_depth(obj):
    depth = 0
    while isinstance(obj, (list, tuple)) and len(obj):
        depth += 1
        obj = obj[0]
    return depth


def _image_shape_for(n_features, input_shape):
    """``(C, H, W)`` for 2-D data of ``n_features`` columns."""
    if input_shape is not None:
        if math.prod(input_shape) != n_features:
            fail(ValueError, "input_shape", f"(C, H, W) with C*H*W equal to the number of "
                 f"features of X ({n_features})", tuple(input_shape))
        return tuple(input_shape)
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (1, side, side)
    return (1, 1, n_features)


# ---------------------------------------------------------------- default network
def _default_layers(input_shape, dtype):
    """The hidden layers of the default CNN for inputs of ``input_shape``.

    Two blocks of 3x3 'same' convolutions with ReLU (32 then 64 filters),
    each followed by a 2x2 max pooling along the axes long enough for it;
    then a 128-unit dense layer. Kernels never exceed the input (a strip
    ``1 x 1 x n`` gets ``1 x 3`` kernels, a single pixel ``1 x 1``), so the
    network is valid for every input size. Images of at least 8x8 get
    dropout before the output layer; smaller inputs do not (so sample
    weights stay exactly equivalent to repetitions).
    """
    _, height, width = input_shape
    hidden = []
    for block, filters in enumerate((32, 64), start=1):
        kernel = (min(3, height), min(3, width))
        hidden.append(_layers.Conv2D(filters, kernel, padding="same", activation="relu",
                                     name=f"conv_{block}", dtype=dtype))
        pool = (2 if height >= 2 else 1, 2 if width >= 2 else 1)
        if pool != (1, 1):
            hidden.append(_layers.MaxPool2D(pool, name=f"pool_{block}", dtype=dtype))
            height, width = height // pool[0], width // pool[1]
    hidden.append(_layers.Flatten(name="flatten", dtype=dtype))
    hidden.append(_layers.Dense(128, activation="relu", name="dense", dtype=dtype))
    if min(input_shape[1:]) >= 8:
        hidden.append(_layers.Dropout(0.25, name="dropout", dtype=dtype))
    return hidden


def _copy_template(template, dtype):
    """Fresh, unbuilt copies of the template layers (the template is untouched)."""
    copies = []
    for layer in template:
        config = dict(layer.get_config())
        config.pop("input_shape", None)
        config["dtype"] = np.dtype(dtype).name
        copies.append(type(layer).from_config(config))
    return copies


def _drop_zero_weights(X, y, w):
    """Remove the samples of zero weight (zero weight is removal)."""
    keep = w > 0
    if not np.any(keep):
        fail(ValueError, "sample_weight", "non-zero for at least one sample (samples of zero "
             "weight, class weights included, are removed)", "all weights zero")
    if np.all(keep):
        return X, y, w
    return X[keep], y[keep], w[keep]


def _is_builder(layers):
    """A function building the whole network (not a list of layers)."""
    return callable(layers) and not isinstance(layers, (list, tuple, _layers.Layer))


def _built_by(builder, input_shape, n_outputs, seed, output_activation):
    """The model ``builder(input_shape, n_outputs)`` returns, checked, with
    fresh weights and generators drawn from ``seed`` (so ``random_state``
    decides the initialisation, as for the layer templates)."""
    from .models import Model

    model = builder(input_shape, n_outputs)
    if not isinstance(model, Model):
        fail(TypeError, "layers", "a function returning a pyconv.Model (or Sequential)",
             f"a function returning {type(model).__name__}")
    expected = (None, n_outputs)
    if model.output_shape != expected or model.input_shape != (None,) + input_shape:
        fail(ValueError, "layers", f"a function whose model maps inputs {(None,) + input_shape}"
             f" to outputs {expected}", f"inputs {model.input_shape}, outputs "
             f"{model.output_shape}")
    last = model.layers[-1]
    if output_activation == "softmax" and not _is_softmax_layer(last):
        fail(ValueError, "layers", "a function whose model ends in a softmax (the classifier "
             "reports probabilities)", f"a model ending in {type(last).__name__}")
    rng = np.random.default_rng(seed)
    model._rng = np.random.default_rng(rng.integers(2**63))
    for layer in model.layers:
        for spec, value in layer._weights:
            value[...] = _initializers.get(spec.initializer)(spec.shape, dtype=value.dtype,
                                                             rng=rng)
        layer._on_build(layer.input_shape, rng)
    return model


def _is_softmax_layer(layer):
    if isinstance(layer, _layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    name = activation if isinstance(activation, str) else getattr(activation, "name", None)
    return name == "softmax"


# ------------------------------------------------------------------ epoch monitor
class _EpochMonitor(Callback):
    """Records the loss curve, re-balances threads, and stops like MLPClassifier."""

    def __init__(self, estimator, budget, validation, early_stopping):
        super().__init__()
        self.estimator = estimator
        self.budget = budget
        self.validation = validation
        self.early_stopping = early_stopping
        self.best_weights = None
        self.diverged_in = None       # the epoch whose loss was NaN or inf

    def on_epoch_begin(self, epoch, logs=None):
        self.budget.refresh()

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        if not math.isfinite(loss):
            self.diverged_in = epoch + 1
            self.model.stop_training = True
            return
        if not self.early_stopping:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        else:
            X_val, y_val, w_val = self.validation
            score = est._score_encoded(X_val, y_val, w_val)
            est.validation_scores_.append(score)
            if logs is not None:     # seen by the user's callbacks, which run after
                logs["val_score"] = score
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_weights = self.model.get_weights()
        if est._no_improvement_count > est.n_iter_no_change:
            self.model.stop_training = True


# ------------------------------------------------------------------------- base
class _BaseCNN(BaseEstimator):
    """Shared machinery of `CNNClassifier` and `CNNRegressor`."""

    def __init__(self, layers: Optional[Sequence[_layers.Layer]] = None,
                 input_shape: Optional[Sequence[int]] = None,
                 optimizer: Union[str, _optimizers.Optimizer] = "adam",
                 learning_rate: float = 1e-3, batch_size: int = 32, max_iter: int = 20,
                 validation_fraction: float = 0.1, early_stopping: bool = False,
                 n_iter_no_change: int = 5, tol: float = 1e-4, shuffle: bool = True,
                 random_state: Union[int, np.random.RandomState, None] = None,
                 verbose: int = 0, warm_start: bool = False,
                 n_threads: Optional[int] = None,
                 callbacks: Optional[Sequence[Callback]] = None,
                 data_format: str = "channels_first") -> None:
        self.layers = layers
        self.input_shape = input_shape
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.data_format = data_format

    # ---------------------------------------------------------------- params
    def _check_params(self):
        """Validate the hyper-parameters; return the normalised ones needed."""
        if self.layers is not None and not _is_builder(self.layers):
            if not isinstance(self.layers, (list, tuple)) or not all(
                    isinstance(layer, _layers.Layer) for layer in self.layers):
                fail(TypeError, "layers", "None, a list of pyconv layers or a function "
                     "building a pyconv.Model", repr(self.layers))
            if self.layers and _is_softmax_layer(self.layers[-1]):
                fail(ValueError, "layers", "the hidden layers only (the estimator adds the "
                     "output layer and its softmax)", "a template ending in a softmax")
        channels_last = self.data_format == "channels_last"
        if self.data_format != "channels_first" and not channels_last:
            fail(ValueError, "data_format", "'channels_first' or 'channels_last'",
                 repr(self.data_format))
        input_shape = self.input_shape
        if input_shape is not None:
            input_shape = check_sample_shape(input_shape, ndim=3, expected="None or a tuple "
                                             "of 3 positive ints (C, H, W)")
            if channels_last:
                input_shape = to_nchw_shape(input_shape)
        if isinstance(self.optimizer, str):
            if self.optimizer.lower() not in _OPTIMIZER_NAMES:
                fail(ValueError, "optimizer", "one of " + ", ".join(map(repr, _OPTIMIZER_NAMES))
                     + " or a pyconv Optimizer", repr(self.optimizer))
        elif not isinstance(self.optimizer, _optimizers.Optimizer):
            fail(TypeError, "optimizer", "a name such as 'adam' or a pyconv Optimizer",
                 repr(self.optimizer))
        check_positive_float(self.learning_rate, "learning_rate")
        check_int(self.batch_size, "batch_size", min_value=1)
        check_int(self.max_iter, "max_iter", min_value=1)
        fraction = self.validation_fraction
        if (not isinstance(fraction, numbers.Real) or isinstance(fraction, bool)
                or not 0.0 < fraction < 1.0):
            fail(ValueError, "validation_fraction", "a float in (0, 1)", repr(fraction))
        check_int(self.n_iter_no_change, "n_iter_no_change", min_value=1)
        check_positive_float(self.tol, "tol", allow_zero=True)
        for name in ("early_stopping", "shuffle", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                fail(TypeError, name, "a bool", repr(getattr(self, name)))
        if isinstance(self.verbose, (bool, np.bool_)):
            verbose = int(self.verbose)
        else:
            verbose = check_int(self.verbose, "verbose", min_value=0)
        if self.n_threads is not None:
            n_threads = check_int(self.n_threads, "n_threads", min_value=-1,
                                  max_value=max_threads())
            if n_threads == 0:
                fail(ValueError, "n_threads", "None, -1 or a positive int", 0)
        if self.callbacks is not None and (not isinstance(self.callbacks, (list, tuple)) or not all(
                isinstance(cb, Callback) for cb in self.callbacks)):
            fail(TypeError, "callbacks", "None or a list of pyconv.callbacks.Callback",
                 repr(self.callbacks))
        return input_shape, min(verbose, 2)

    # ------------------------------------------------------------------ input
    def _validate_X(self, X, y="no_validation", reset=True, input_shape=None, **kwargs):
        """Check X (and y) with ``validate_data``; return X as NCHW and y.

        ``validate_data`` sees the flattened 2-D view, so ``n_features_in_``
        is ``C*H*W`` and its messages (NaN, inf, feature count) are
        scikit-learn's own.
        """
        image_shape = None
        ndim = getattr(X, "ndim", None)
        if ndim is None and isinstance(X, (list, tuple)) and _nesting_depth(X) >= 3:
            X = np.asarray(X)
            ndim = X.ndim
        if ndim is not None and ndim > 4:
            fail(ValueError, "X", "a 2-D [n, C*H*W], 3-D [n, H, W] or 4-D [n, C, H, W] array",
                 f"an array of shape {np.shape(X)}")
        channels_last = self.data_format == "channels_last"
        if ndim in (3, 4):
            X = np.asarray(X)
            if ndim == 4 and channels_last:
                X = X.transpose(0, 3, 1, 2)       # to NCHW, once
            image_shape = (1,) + X.shape[1:] if ndim == 3 else tuple(X.shape[1:])
            if reset:
                warn_if_channels_last(image_shape, "X", stacklevel=4)
            X = X.reshape(len(X), math.prod(image_shape))
        flat = image_shape is None
        dtype = (np.float64, np.float32)
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, reset=reset, dtype=dtype, **kwargs)
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype=dtype, **kwargs)
        if reset:
            if image_shape is None:
                if input_shape is None and self.layers and not _is_builder(self.layers):
                    given = self.layers[0].get_config().get("input_shape")
                    if given is not None and len(given) == 3:
                        input_shape = tuple(given)
                image_shape = _image_shape_for(X.shape[1], input_shape)
            elif input_shape is not None and tuple(input_shape) != image_shape:
                fail(ValueError, "input_shape", f"the shape of the samples of X, {image_shape}",
                     tuple(input_shape))
            shape = image_shape
        else:
            shape = self.input_shape_
            if image_shape is not None and image_shape != shape:
                fail(ValueError, "X", f"samples of shape {shape} as seen in fit",
                     f"samples of shape {image_shape}")
        if channels_last and flat:          # 2-D X: its features in HWC order
            c, h, w = shape
            X = np.ascontiguousarray(X.reshape(len(X), h, w, c).transpose(0, 3, 1, 2))
        X = X.reshape((len(X),) + tuple(shape))
        return X, y, shape

    @staticmethod
    def _check_sample_weight(sample_weight, n_samples):
        if sample_weight is None:
            return np.ones(n_samples)
        w = as_float_array(sample_weight, "sample_weight", dtype=np.float64)
        if w.ndim != 1 or len(w) != n_samples:
            fail(ValueError, "sample_weight", f"a 1-D array of {n_samples} weights "
                 "(one per sample)", f"shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            fail(ValueError, "sample_weight", "finite and non-negative",
                 "negative or non-finite weights")
        return w

    # ------------------------------------------------------------------ model
    def _make_optimizer(self):
        if isinstance(self.optimizer, str):
            optimizer = _optimizers.get(self.optimizer.lower())
            optimizer.learning_rate = float(self.learning_rate)
            return optimizer
        return type(self.optimizer).from_config(self.optimizer.get_config())

    def _build_model(self, input_shape, n_outputs, dtype, seed):
        if _is_builder(self.layers):
            model = _built_by(self.layers, tuple(input_shape), n_outputs, seed,
                              self._output_activation)
            model.compile(optimizer=self._make_optimizer(), loss=self._loss)
            return model
        if self.layers is None:
            hidden = _default_layers(input_shape, dtype)
        else:
            hidden = _copy_template(self.layers, dtype)
        model = Sequential(hidden, name=type(self).__name__, seed=seed)
        model.build(input_shape)
        if len(model.output_shape) != 2:
            model.add(_layers.Flatten(name="flatten_output", dtype=dtype))
        model.add(_layers.Dense(n_outputs, activation=self._output_activation,
                                name="output", dtype=dtype))
        model.compile(optimizer=self._make_optimizer(), loss=self._loss)
        return model

    # ---------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        input_shape, verbose = self._check_params()
        fitted = hasattr(self, "model_")
        first = not fitted or (not incremental and not self.warm_start)
        X, y, shape = self._validate_X(X, y, reset=first, input_shape=input_shape,
                                       **self._validate_kwargs())
        y_enc, n_outputs = self._encode_targets(y, first, incremental, classes)
        w = self._check_sample_weight(sample_weight, len(X))
        X, y_enc, w = _drop_zero_weights(X, y_enc, w)
        w = w * self._class_weights(y_enc, w)
        X, y_enc, w = _drop_zero_weights(X, y_enc, w)
        self._check_enough_classes(y_enc, incremental)

        random_state = check_random_state(self.random_state)
        if first:
            self.input_shape_ = shape
            seed = int(random_state.randint(np.iinfo(np.int32).max))
            self.model_ = self._build_model(shape, n_outputs, X.dtype, seed)
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        X = as_float_array(X, "X", dtype=self.model_.dtype)

        early_stopping = self.early_stopping and not incremental
        validation = None
        if early_stopping:
            X, y_enc, w, validation = self._split_validation(X, y_enc, w, random_state)
            if self.validation_scores_ is None:
                self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        if not incremental or getattr(self, "best_loss_", None) is None:
            self._no_improvement_count = 0
            self.best_loss_ = np.inf
        w = w * (len(w) / np.sum(w))
        if np.all(w == 1.0):
            w = None

        with _ThreadBudget(self.n_threads) as budget:
            monitor = _EpochMonitor(self, budget, validation, early_stopping)
            self.model_.fit(X, y_enc, batch_size=self.batch_size,
                            epochs=1 if incremental else self.max_iter, verbose=verbose,
                            callbacks=[monitor, *(self.callbacks or ())],
                            shuffle=bool(self.shuffle), sample_weight=w)
        if monitor.diverged_in is not None or not all(
                np.isfinite(weight).all() for weight in self.model_.weights):
            when = ("" if monitor.diverged_in is None
                    else f" (the loss was {self.loss_curve_[-1]} in epoch {monitor.diverged_in})")
            raise ValueError(f"{type(self).__name__} training diverged: the network's weights "
                             f"are no longer finite{when}. The input may hold values too large "
                             "for float32 arithmetic (scale X, e.g. with StandardScaler) or the "
                             "learning_rate may be too high.")
        if early_stopping:
            self.best_loss_ = None
            if monitor.best_weights is not None:
                self.model_.set_weights(monitor.best_weights)
        return self

    def _split_validation(self, X, y, w, random_state):
        stratify = y if self._stratify else None
        try:
            X, X_val, y, y_val, w, w_val = train_test_split(
                X, y, w, random_state=random_state, test_size=self.validation_fraction,
                stratify=stratify)
        except ValueError as exc:
            raise ValueError(f"early_stopping could not split off a validation set of "
                             f"validation_fraction={self.validation_fraction}: {exc}") from exc
        if len(X_val) < 2:
            raise ValueError("The validation set is too small: it has "
                             f"{len(X_val)} sample(s). Increase 'validation_fraction' or the "
                             "size of your dataset.")
        return X, y, w, (X_val, y_val, w_val)

    def _forward(self, X):
        """Model outputs for validated NCHW ``X`` as float64 (no threads budget)."""
        return self.model_.predict(X, batch_size=self.batch_size, verbose=0).astype(
            np.float64, copy=False)

    def _outputs(self, X):
        check_is_fitted(self)
        X, _, _ = self._validate_X(X, reset=False)
        X = as_float_array(X, "X", dtype=self.model_.dtype)
        with _ThreadBudget(self.n_threads):
            return self._forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True
        return tags


# --------------------------------------------------------------------- classifier
class CNNClassifier(ClassifierMixin, _BaseCNN):
    """A convolutional network classifier with scikit-learn's API.

    Trains a :class:`~pyconv.models.Sequential` (softmax output,
    sparse categorical cross-entropy) with mini-batch gradient descent.

    Parameters
    ----------
    layers : list of Layer, optional
        Template of the hidden layers (deep-copied through
        ``get_config``/``from_config`` at each fit; never modified). The
        estimator appends the output layer (a ``Flatten`` when needed, then
        ``Dense(n_classes, activation="softmax")``), so the template must not
        end in a softmax. None uses the default CNN: 3x3 'same' convolutions
        with 32 and 64 filters, each followed by 2x2 max pooling where the
        input is large enough, a 128-unit ReLU dense layer (with dropout 0.25
        on images of at least 8x8); it stays valid on inputs down to 1x1.
        Augmentation layers (``RandomFlip``, ``RandomTranslation``, ...) at
        the start of the template augment each training batch and pass
        inputs through unchanged in ``predict``; ``random_state`` seeds them
        too.
        Or a function ``builder(input_shape, n_classes)`` returning a whole
        `pyconv.Model` (a graph, such as a small ResNet) that ends in a
        softmax over ``n_classes``; its weights are re-drawn from
        ``random_state`` at each fit. Use a module-level function so the
        estimator pickles.
    input_shape : tuple (C, H, W), optional
        How to read 2-D ``X``. None: a perfect-square width is one square
        channel, any other width a ``1 x 1 x n_features`` strip. 3-D and 4-D
        ``X`` carry their own shape (which must then agree with it).
    optimizer : {"adam", "sgd", "rmsprop", "adamw", "nadam"} or Optimizer, default "adam"
        A name (built with ``learning_rate``) or a pyconv optimizer, copied
        with its own settings (``learning_rate`` is then not used).
    learning_rate : float, default 1e-3
    batch_size : int, default 32
    max_iter : int, default 20
        Number of epochs (passes over the training data).
    validation_fraction : float, default 0.1
        Fraction of the training data held out (stratified) for early
        stopping.
    early_stopping : bool, default False
        Stop when the validation accuracy has not improved by ``tol`` for
        more than ``n_iter_no_change`` epochs, and keep the best weights.
        Without it, training stops when the training loss has not improved
        by ``tol`` for more than ``n_iter_no_change`` epochs (as
        ``MLPClassifier``).
    n_iter_no_change : int, default 5
    tol : float, default 1e-4
    class_weight : dict, "balanced" or None, default None
        Weights ``{label: weight}`` multiplying the sample weights.
    shuffle : bool, default True
        Shuffle the training data at each epoch.
    random_state : int, RandomState or None, default None
        Seeds weight initialisation, shuffling, dropout and the validation
        split: with an int, ``fit`` is bit-reproducible.
    verbose : int, default 0
        0 quiet, 1 progress bar, 2 one line per epoch.
    warm_start : bool, default False
        Continue training the fitted network at the next ``fit``.
    n_threads : int or None, default None
        OpenMP threads of the kernels. None: all cores when alone, this
        call's share of them in joblib workers and concurrent threads (see
        :mod:`pyconv.estimators`). -1: all the threads the caller has.
    callbacks : list of Callback, optional
        pyconv callbacks given to the network's ``fit`` (the same objects,
        so they keep what they record): per-epoch curves with ``logs``
        holding ``loss`` and, with ``early_stopping``, ``val_score`` (the
        validation score of the epoch). Setting ``model.stop_training``
        stops ``fit`` early.
    data_format : {"channels_first", "channels_last"}, default "channels_first"
        Layout of 4-D ``X``, of 2-D ``X``'s features and of ``input_shape``:
        with "channels_last" they are ``[n, H, W, C]`` and ``(H, W, C)``
        (Keras's and OpenCV's order), transposed once to the NCHW the
        network (and a ``layers`` template) computes in; ``input_shape_``
        is then NCHW.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Features of the flattened input (``C*H*W``).
    feature_names_in_ : ndarray of str
        Column names, when X is a DataFrame with string column names.
    input_shape_ : tuple (C, H, W)
        Shape the network reads its samples in.
    model_ : Sequential
        The trained network.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float or None
        Validation accuracy of each epoch (None without early stopping).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run (accumulated over ``partial_fit`` and warm starts).
    best_loss_ : float or None
        Lowest training loss (None with early stopping, as MLPClassifier).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from pyconv.estimators import CNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")
    >>> clf = CNNClassifier(input_shape=(1, 8, 8), max_iter=3, learning_rate=0.01,
    ...                     random_state=0)
    >>> clf.fit(X[:500], y[:500]).score(X[500:700], y[500:700]) > 0.7
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 10)
    """

    _output_activation = "softmax"
    _loss = "sparse_categorical_crossentropy"
    _stratify = True

    def __init__(self, layers: Optional[Sequence[_layers.Layer]] = None,
                 input_shape: Optional[Sequence[int]] = None,
                 optimizer: Union[str, _optimizers.Optimizer] = "adam",
                 learning_rate: float = 1e-3, batch_size: int = 32, max_iter: int = 20,
                 validation_fraction: float = 0.1, early_stopping: bool = False,
                 n_iter_no_change: int = 5, tol: float = 1e-4,
                 class_weight: Union[Mapping[Any, float], str, None] = None,
                 shuffle: bool = True,
                 random_state: Union[int, np.random.RandomState, None] = None,
                 verbose: int = 0, warm_start: bool = False,
                 n_threads: Optional[int] = None,
                 callbacks: Optional[Sequence[Callback]] = None,
                 data_format: str = "channels_first") -> None:
        super().__init__(layers=layers, input_shape=input_shape, optimizer=optimizer,
                         learning_rate=learning_rate, batch_size=batch_size,
                         max_iter=max_iter, validation_fraction=validation_fraction,
                         early_stopping=early_stopping, n_iter_no_change=n_iter_no_change,
                         tol=tol, shuffle=shuffle, random_state=random_state, verbose=verbose,
                         warm_start=warm_start, n_threads=n_threads, callbacks=callbacks,
                         data_format=data_format)
        self.class_weight = class_weight

    def _validate_kwargs(self):
        return {}

    def _encode_targets(self, y, first, incremental, classes):
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            fail(ValueError, "y", "binary or multiclass labels", f"{kind} targets")
        if incremental:
            if first:
                if classes is None:
                    raise ValueError("`classes` must be given on the first call to "
                                     "partial_fit; got None.")
                self.classes_ = np.unique(np.asarray(classes))
            elif classes is not None and not np.array_equal(self.classes_,
                                                            np.unique(np.asarray(classes))):
                raise ValueError(f"`classes={list(np.unique(classes))}` is not the same as on "
                                 f"the first call to partial_fit, was: {list(self.classes_)}.")
        elif first:
            self.classes_ = np.unique(y)
        elif not np.array_equal(np.unique(y), self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit; got {list(np.unique(y))}, "
                             f"previously {list(self.classes_)}.")
        known = np.isin(y, self.classes_)
        if not np.all(known):
            raise ValueError(f"`y` has labels not in classes_ {list(self.classes_)}: "
                             f"{list(np.unique(y[~known]))}.")
        return np.searchsorted(self.classes_, y).astype(np.intp), len(self.classes_)

    def _class_weights(self, y_enc, w):
        """Per-sample class weights (1.0 without ``class_weight``)."""
        if self.class_weight is None:
            return 1.0
        if isinstance(self.class_weight, dict):
            for value in self.class_weight.values():
                check_weight(value, "class_weight values")
            weights = compute_class_weight(self.class_weight, classes=self.classes_,
                                           y=self.classes_[y_enc])
            return np.asarray(weights, dtype=np.float64)[y_enc]
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            present = np.unique(y_enc)
            weights = compute_class_weight("balanced", classes=self.classes_[present],
                                           y=self.classes_[y_enc], sample_weight=w)
            table = np.ones(len(self.classes_))
            table[present] = weights
            return table[y_enc]
        fail(ValueError, "class_weight", "None, 'balanced' or a dict {label: weight}",
             repr(self.class_weight))

    def _check_enough_classes(self, y_enc, incremental):
        if incremental:
            return
        n_classes = len(np.unique(y_enc))
        if n_classes < 2:
            fail(ValueError, "y", "labels of at least 2 classes (among the samples of "
                 "non-zero weight) for CNNClassifier to fit", f"{n_classes} class")

    def _score_encoded(self, X, y_enc, w):
        proba = self._forward(X)
        return float(accuracy_score(y_enc, np.argmax(proba, axis=1), sample_weight=w))

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: Optional[ArrayLike] = None) -> CNNClassifier:
        """Train a fresh network (or continue it with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n, C*H*W), (n, H, W) or (n, C, H, W)
        y : array-like of shape (n,)
            Labels of any kind (ints, strings, bools).
        sample_weight : array-like of shape (n,), optional
            Non-negative weights; zero weight is the same as removal.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: Optional[ArrayLike] = None,
                    sample_weight: Optional[ArrayLike] = None) -> CNNClassifier:
        """Train for one epoch on ``(X, y)``, building the network at the first call.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`fit`.
        classes : array-like, optional
            All the labels of the problem; required at the first call.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)``, rows summing to 1."""
        proba = self._outputs(X)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable label of each sample."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.poor_score = False
        return tags


# ---------------------------------------------------------------------- regressor
class CNNRegressor(RegressorMixin, _BaseCNN):
    """A convolutional network regressor with scikit-learn's API.

    Trains a :class:`~pyconv.models.Sequential` with a linear output layer
    of one unit per target and the mean squared error. Targets are used as
    given (like ``MLPRegressor``): scale them (for instance with
    ``TransformedTargetRegressor``) when they are far from unit scale.

    Parameters
    ----------
    layers, input_shape, optimizer, learning_rate, batch_size, max_iter, \
validation_fraction, early_stopping, n_iter_no_change, tol, shuffle, \
random_state, verbose, warm_start, n_threads, callbacks, data_format
        As in :class:`CNNClassifier` (early stopping monitors the validation
        R², and the template gets ``Dense(n_outputs)`` appended).

    Attributes
    ----------
    n_features_in_, feature_names_in_, input_shape_, model_, loss_curve_, \
validation_scores_, best_validation_score_, n_iter_, best_loss_
        As in :class:`CNNClassifier` (validation scores are R²).
    n_outputs_ : int
        Number of targets.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.estimators import CNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3, 4, 4)).astype(np.float32)
    >>> y = X.mean(axis=(1, 2, 3))
    >>> reg = CNNRegressor(max_iter=5, random_state=0).fit(X, y)
    >>> reg.predict(X[:4]).shape
    (4,)
    """

    _output_activation = None
    _loss = "mse"
    _stratify = False

    def _validate_kwargs(self):
        return {"multi_output": True, "y_numeric": True}

    def _encode_targets(self, y, first, incremental, classes):
        y = np.asarray(y)
        if y.ndim not in (1, 2):
            fail(ValueError, "y", "a 1-D or 2-D array of targets", f"shape {y.shape}")
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self._y_ndim = y.ndim
            self.n_outputs_ = n_outputs
        elif n_outputs != self.n_outputs_:
            fail(ValueError, "y", f"{self.n_outputs_} target column(s) as seen in fit",
                 f"{n_outputs}")
        return y.reshape(len(y), n_outputs).astype(np.float64, copy=False), n_outputs

    def _class_weights(self, y_enc, w):
        return 1.0

    def _check_enough_classes(self, y_enc, incremental):
        pass

    def _score_encoded(self, X, y, w):
        return float(r2_score(y, self._forward(X), sample_weight=w))

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: Optional[ArrayLike] = None) -> CNNRegressor:
        """Train a fresh network (or continue it with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n, C*H*W), (n, H, W) or (n, C, H, W)
        y : array-like of shape (n,) or (n, n_outputs)
        sample_weight : array-like of shape (n,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: Optional[ArrayLike] = None) -> CNNRegressor:
        """Train for one epoch on ``(X, y)``, building the network at the first call."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, with the ndim of ``y`` at fit."""
        out = self._outputs(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.regressor_tags.poor_score = False
        return tags
