"""compile / fit / evaluate / predict: the training loop behind ``Sequential``.

`Trainer` is a mixin; the model class provides ``_layers`` (built layers),
``_rng`` (its numpy Generator), ``build``, ``built``, ``dtype`` and
``_input_shape`` (no batch axis).

The loop validates everything once per call (``x``, ``y``, weights, shapes),
then runs each batch by calling the layers' ``forward``/``backward`` directly
on arrays it produced itself: batches are taken with index arrays into a
reused buffer (or are plain views when not shuffling), the optimizer updates
the live weight arrays in place, and callbacks that do not override a hook
cost nothing.

``Ctrl-C`` during ``fit`` (in the main thread) is deferred to the end of the
current batch: the batch and its optimizer step complete, ``on_train_end``
runs, a note is printed and ``fit`` returns the history so far. A second
``Ctrl-C`` before the batch ends interrupts immediately, as usual.

``verbose="auto"`` is 1 (a live bar) when ``sys.stdout`` is a terminal and 2
(one line per epoch) otherwise; it is 0 (quiet) in worker processes
(joblib/loky, multiprocessing, whose process name is not ``"MainProcess"``)
and in threads other than the main thread (joblib's threading backend, dask
workers).
"""
from __future__ import annotations

import math
import multiprocessing
import signal
import threading
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _inference
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from ._data_adapters import ArrayAdapter, batch_slices, check_stream_call, is_stream, stream_adapter
from ._progbar import is_interactive
from ._threads import blas_single_threaded
from ._validation import (as_float_array, check_int, check_positive_float, check_weight,
                          fail, warn_if_channels_last, warn_if_not_finite)
from ._typing import ArrayLike
from .activations import _ReLU
from .callbacks import Callback, CallbackList, History
from .layers.core import Activation, Softmax, _FusedActivation
from .layers.pooling import MaxPool2D

#: What ``evaluate`` and the ``*_on_batch`` methods return: the loss alone,
#: ``[loss, *metrics]``, or a ``{name: value}`` dict with ``return_dict=True``.
Logs = Union[float, List[float], Dict[str, float]]
#: ``x`` of fit/evaluate/predict: an array, a list of arrays (several
#: inputs), or a generator / ``PyDataset`` of batches.
ModelInput = Any

__all__ = ["Trainer", "resolve_verbose"]

_NO_COMPILE_MESSAGE = ("You must call compile() before {what}(): "
                       "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy').")


def _in_worker():
    """True inside a worker process or a non-main thread."""
    if multiprocessing.current_process().name != "MainProcess":
        return True
    return threading.current_thread() is not threading.main_thread()


def resolve_verbose(verbose):
    """Turn ``"auto"`` into 0, 1 or 2 (see the module docstring); check ints."""
    if isinstance(verbose, str):
        if verbose != "auto":
            fail(ValueError, "verbose", "'auto', 0, 1 or 2", repr(verbose))
        if _in_worker():
            return 0
        return 1 if is_interactive() else 2
    if isinstance(verbose, bool):
        return int(verbose)
    verbose = check_int(verbose, "verbose", min_value=0)
    if verbose > 2:
        fail(ValueError, "verbose", "'auto', 0, 1 or 2", verbose)
    return verbose


class _SigintDeferrer:
    """Turn the first SIGINT into a flag while active (main thread only)."""

    def __init__(self):
        self.interrupted = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.interrupted:          # second Ctrl-C: interrupt right away
            raise KeyboardInterrupt
        self.interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
        return False


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if isinstance(act, str):
        return act
    return getattr(act, "name", getattr(act, "__name__", None))


def _fusion_kind(layer, wanted, output_shape):
    """How the loss fuses with the last layer's ``wanted`` activation.

    ``"skip"``: the layer is a pure Softmax/Activation layer, skipped in the
    backward pass. ``"inside"``: the activation is fused inside the layer
    (``Dense(..., activation="softmax")``); its backward then starts from the
    pre-activation gradient. ``None``: no fusion.
    """
    if not wanted or len(output_shape) != 1:
        return None
    if isinstance(layer, Softmax):
        return "skip" if wanted == "softmax" and getattr(layer, "axis", -1) in (-1, 1) else None
    if _activation_name(layer) != wanted:
        return None
    if isinstance(layer, Activation):
        return "skip"
    if isinstance(layer, _FusedActivation):
        return "inside"
    return None


def _relu_then_max_pool(layers):
    """Positions of the `MaxPool2D` layers that directly follow a layer with a
    fused ReLU (and are not the first layer).

    The ReLU's backward mask ``y > 0`` at the pooled maxima is the mask of
    the pooled output, so the pooling layer applies it to its (4x smaller)
    gradient and the ReLU layer skips its own: the same values, less work.
    """
    found = set()
    for position in range(1, len(layers)):
        layer, before = layers[position], layers[position - 1]
        if (isinstance(layer, MaxPool2D) and isinstance(before, _FusedActivation)
                and isinstance(before.activation, _ReLU)):
            found.add(position)
    return found


def loss_value(loss, y, y_pred, w):
    """The batch's loss: mean (or sum) of the per-sample losses, weighted by ``w``."""
    per_sample = loss.call(y, y_pred)
    if w is not None:
        per_sample = per_sample * w
    value = float(np.sum(per_sample, dtype=np.float64))
    if loss.reduction != "sum":
        value /= len(y_pred)
    return value


def loss_gradient(loss, y, y_pred, w, fused):
    """Gradient of `loss_value` with respect to ``y_pred`` (to the logits when
    ``fused``: the last activation is folded into the loss)."""
    n = len(y_pred)
    grad = loss.logits_gradient(y, y_pred) if fused else loss.gradient(y, y_pred)
    scale = 1.0 if loss.reduction == "sum" else 1.0 / n
    if w is not None:
        grad = grad * (w * scale).astype(grad.dtype).reshape((n,) + (1,) * (grad.ndim - 1))
    else:
        grad = grad * scale
    return grad.astype(y_pred.dtype, copy=False)


class _Tracker:
    """Batch-size-weighted running mean of the loss."""

    __slots__ = ("total", "count")

    def __init__(self):
        self.total = 0.0
        self.count = 0

    def update(self, value, n):
        self.total += value * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0


class Trainer:
    """Mixin giving a model compile/fit/evaluate/predict (Keras 3 semantics)."""

    # Provided by the model class that mixes this in (declarations for mypy).
    dtype: Any
    _rng: Any
    _output_shape: Any
    built: bool

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Union[str, optimizers_module.Optimizer] = "rmsprop",
                loss: Union[str, losses_module.Loss, Callable[..., Any], None] = None,
                metrics: Optional[Sequence[Union[str, Callable[..., Any]]]] = None) -> None:
        """Configure the model for training.

        Parameters
        ----------
        optimizer : str or Optimizer, default "rmsprop"
            ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an instance.
        loss : str or Loss
            ``"sparse_categorical_crossentropy"``, ``"categorical_crossentropy"``,
            ``"binary_crossentropy"``, ``"mse"``, ``"mae"`` or an instance.
        metrics : list, optional
            Names (``"accuracy"``/``"acc"`` resolved from the loss and shapes,
            ``"mse"``, ``"mae"``, ...), Metric instances or functions.
        """
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            fail(TypeError, "metrics", "a list such as ['accuracy']", repr(metrics))
        self._metric_identifiers = list(metrics)
        self.metrics = [metrics_module.get(m) for m in self._metric_identifiers]
        names = ["loss"] + [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            fail(ValueError, "metrics", "metrics with distinct names (and none named 'loss')",
                 names[1:])
        self.compiled = True
        self._fused = None
        self._reg_layers = None

    @property
    def metrics_names(self) -> List[str]:
        """``["loss", *metric names]`` once compiled."""
        if not getattr(self, "compiled", False):
            return []
        return ["loss"] + [m.name for m in self.metrics]

    def _require_compiled(self, what):
        if not getattr(self, "compiled", False):
            raise ValueError(_NO_COMPILE_MESSAGE.format(what=what))
        if self.loss is None:
            fail(ValueError, "loss", f"given to compile() before {what}()", None)

    # ------------------------------------------------------------- validation
    def _prepare_x(self, x, name="x"):
        dtype = self.dtype
        x = as_float_array(x, name, dtype=dtype)
        if x.ndim < 2:
            fail(ValueError, name, "an array of shape (n_samples, ...) with a batch axis",
                 f"shape {x.shape}")
        if not self.built:
            if not self._reads_nhwc(x.shape[1:]):
                warn_if_channels_last(x.shape[1:], name, stacklevel=4)
            self.build(x.shape[1:])
        expected = tuple(getattr(self, "_data_input_shape", None) or self._input_shape)
        if x.shape[1:] != expected:
            fail(ValueError, name, "an array of shape (n_samples, "
                 f"{', '.join(map(str, expected))}) for this model", f"shape {x.shape}")
        return self._data_to_nchw(x)

    def _data_to_nchw(self, x):
        """Checked ``x`` as the layers compute on it (see `Sequential`)."""
        return x

    def _reads_nhwc(self, shape):
        """Whether the (unbuilt) model reads per-sample ``shape`` as NHWC."""
        return False

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, names=("x", "y"),
                    x_prepared=False):
        x = x if x_prepared else self._prepare_x(x, names[0])
        if y is None:
            fail(ValueError, names[1], "an array of targets", None)
        try:
            y = self.loss.prepare_targets(y, self._output_shape, self.dtype, len(x))
        except (ValueError, TypeError) as exc:
            if names[1] == "y" or f"`{names[1]}`" in str(exc):
                raise
            raise type(exc)(str(exc).replace("`y`", f"`{names[1]}`")) from None
        weights = None
        if sample_weight is not None:
            weights = losses_module._check_sample_weight(sample_weight, len(x))
        if class_weight is not None:
            cw = self._class_weights(y, class_weight)
            weights = cw if weights is None else weights * cw
        return x, y, weights

    def _class_weights(self, y, class_weight):
        """Per-sample weights from ``class_weight`` {label: weight}, checked like
        ``sample_weight``; looked up per distinct label (no table sized by the
        largest label)."""
        if not isinstance(class_weight, dict):
            fail(TypeError, "class_weight", "a dict {class index: weight}", repr(class_weight))
        if y.ndim == 1 and y.dtype.kind in "iu":
            labels = y
        elif y.ndim == 2 and y.shape[1] > 1:
            labels = np.argmax(y, axis=1)
        elif y.ndim == 2 and y.shape[1] == 1:
            labels = np.round(y[:, 0]).astype(np.intp)
        else:
            fail(ValueError, "class_weight", "used with class labels (classification targets)",
                 f"targets of shape {y.shape}")
        weights = {}
        for key, value in class_weight.items():
            key = check_int(key, "class_weight keys", min_value=0)
            weights[key] = check_weight(value, "class_weight values")
        present, inverse = np.unique(labels, return_inverse=True)
        table = np.array([weights.get(int(label), 1.0) for label in present])
        return table[inverse.reshape(-1)]

    def _fused_loss(self):
        """How the loss fuses with the last layer (see `_fusion_kind`)."""
        if self._fused is None:
            self._fused = _fusion_kind(self._layers[-1], self.loss.fused_activation,
                                       self._output_shape) or ""
        return self._fused

    def _trainable(self):
        layers = [layer for layer in self._layers if layer.trainable and layer.trainable_weights]
        variables = [w for layer in layers for w in layer.trainable_weights]
        return layers, variables

    def _regularized_layers(self):
        """Layers whose ``regularization_loss`` may be non-zero (decided once per call)."""
        from .layers.base import Layer

        found = []
        for layer in self._layers:
            custom = type(layer).regularization_loss is not Layer.regularization_loss
            specs = getattr(layer, "_weights", None)
            declared = specs is None or any(
                getattr(entry[0], "regularizer", None) is not None for entry in specs
                if isinstance(entry, tuple))
            if custom or declared:
                found.append(layer)
        self._reg_layers = found
        return found

    def _regularization_loss(self):
        layers = getattr(self, "_reg_layers", None)
        if layers is None:
            layers = self._regularized_layers()
        total = 0.0
        for layer in layers:
            total += layer.regularization_loss()
        return float(total)

    # --------------------------------------------------------- compute steps
    def _forward(self, x, training=False):
        for layer in self._layers:
            x = layer.forward(x, training=training)
        return x

    def _train_step(self, x, y, w, layers, variables):
        """One optimisation step; returns (loss, y_pred).

        The layers reuse their output and gradient buffers from step to step
        (``y_pred`` is valid until the next step), unless a layer appears
        twice in the model.
        """
        from .layers.base import reusing_buffers

        _inference.weights_changed()
        unique = len({id(layer) for layer in self._layers}) == len(self._layers)
        with reusing_buffers(unique):
            return self._train_step_body(x, y, w, layers, variables)

    def _train_step_body(self, x, y, w, layers, variables):
        y_pred = self._forward(x, training=True)
        value = loss_value(self.loss, y, y_pred, w) + self._regularization_loss()
        fused = self._fused_loss()
        grad = loss_gradient(self.loss, y, y_pred, w, fused)
        backprop = self._layers[:-1] if fused == "skip" else self._layers
        last = len(backprop) - 1
        relu_pools = _relu_then_max_pool(backprop)
        for position in range(last, -1, -1):
            layer = backprop[position]
            need_input_grad = position > 0
            if (position == last and fused == "inside") or position + 1 in relu_pools:
                # the loss (fused), or the max pooling after this layer,
                # already applied the activation's gradient
                grad = layer.backward(grad, need_input_grad=need_input_grad,
                                      pre_activation=True)
            elif position in relu_pools:
                grad = layer._backward_through_relu(grad)
            else:
                grad = layer.backward(grad, need_input_grad=need_input_grad)
        grads = [g for layer in layers for g in layer.grads]
        self.optimizer.apply(grads, variables)
        return value, y_pred

    def _test_step(self, x, y, w):
        y_pred = self._forward(x, training=False)
        return loss_value(self.loss, y, y_pred, w) + self._regularization_loss(), y_pred

    def _logs(self, tracker):
        logs = {"loss": tracker.result()}
        for metric in self.metrics:
            logs[metric.name] = float(metric.result())
        return logs

    def _reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    # ------------------------------------------------------------------- data
    def _stream(self, data, name, steps, shuffle=False, class_weight=None, needs_y=True):
        """The adapter of a generator/iterable/PyDataset ``data`` (see
        `pyconv._data_adapters`); its batches are checked as arrays are."""
        if needs_y:
            def prepare(x, y, w):
                return self._prepare_xy(x, y, w, class_weight)
        else:
            def prepare(x, y, w):
                return self._prepare_x(x), None, None
        return stream_adapter(data, name, steps, shuffle, prepare, needs_y)

    def _validation_adapter(self, validation_data, batch_size, steps):
        if is_stream(validation_data, "validation_data"):
            return self._stream(validation_data, "validation_data", steps)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            fail(ValueError, "validation_data", "a tuple (x_val, y_val) or (x_val, y_val, "
                 "sample_weight_val), a generator or a PyDataset",
                 type(validation_data).__name__)
        val = self._prepare_xy(validation_data[0], validation_data[1],
                               validation_data[2] if len(validation_data) == 3 else None,
                               names=("validation_data[0]", "validation_data[1]"))
        return ArrayAdapter(*val, batch_size, steps=steps)

    # -------------------------------------------------------------------- fit
    def fit(self, x: ModelInput, y: Optional[ArrayLike] = None, batch_size: Optional[int] = None,
            epochs: int = 1, verbose: Union[str, int] = "auto",
            callbacks: Optional[Sequence[Callback]] = None, validation_split: float = 0.0,
            validation_data: Optional[Sequence[Any]] = None, shuffle: bool = True,
            class_weight: Optional[Mapping[Any, float]] = None,
            sample_weight: Optional[ArrayLike] = None, initial_epoch: int = 0,
            steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None) -> History:
        """Train the model for a fixed number of epochs.

        Parameters
        ----------
        x : array-like of shape (n_samples, *input_shape), generator, iterable or PyDataset
            Arrays, or batches: a generator or any iterable yielding ``(x, y)``
            or ``(x, y, sample_weight)`` tuples, or a
            :class:`pyconv.utils.PyDataset` (read ahead by its ``workers``).
            ``y``, ``batch_size``, ``sample_weight`` and ``validation_split``
            are then not given: the batches carry them.
        y : array-like
            Targets as the loss expects them (integer labels for the sparse
            cross-entropy, one-hot for the categorical one, ...).
        batch_size : int, default 32
        epochs : int, default 1
            Index of the last epoch (training runs ``initial_epoch..epochs-1``).
        verbose : {"auto", 0, 1, 2}, default "auto"
        callbacks : list of Callback, optional
        validation_split : float, default 0.0
            Fraction of the samples, taken from the end before any shuffling,
            held out for validation.
        validation_data : tuple, generator, iterable or PyDataset, optional
            ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``, or
            batches as for ``x``; overrides ``validation_split``.
        shuffle : bool, default True
            Shuffle the training samples each epoch (with the model's
            generator); for a PyDataset, shuffle the order of its batches.
            Ignored for generators and iterables.
        class_weight : dict, optional
            ``{class: weight}`` multiplying the per-sample losses.
        sample_weight : array-like of shape (n_samples,), optional
            Multiplies the per-sample losses (the loss is ``sum(w * l) / n``).
        initial_epoch : int, default 0
        steps_per_epoch : int, optional
            Batches per epoch. By default: all of the arrays or PyDataset, or
            an iterable read until it runs out (a one-shot generator then has
            nothing left for a second epoch: training stops with a warning).
            With it, each epoch continues the iterable where the last stopped.
        validation_steps : int, optional
            Batches of ``validation_data`` per validation (default: all).

        Returns
        -------
        History
            ``history.history`` maps ``"loss"``, metric names and their
            ``"val_"`` forms to per-epoch lists; ``history.epoch`` lists the
            epochs run.
        """
        self._require_compiled("fit")
        epochs = check_int(epochs, "epochs", min_value=0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", min_value=0)
        verbose = resolve_verbose(verbose)
        steps_per_epoch = _check_steps(steps_per_epoch, "steps_per_epoch")
        validation_steps = _check_steps(validation_steps, "validation_steps")
        validation_split = check_positive_float(validation_split, "validation_split",
                                                allow_zero=True)
        if not validation_split < 1.0:
            fail(ValueError, "validation_split", "a float in [0, 1)", validation_split)

        if is_stream(x):
            check_stream_call("x", y=y, batch_size=batch_size, sample_weight=sample_weight,
                              validation_split=validation_split)
            batch_size = 32
            data = self._stream(x, "x", steps_per_epoch, shuffle, class_weight)
            val = None
        else:
            batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", 1)
            data, val = self._array_training_data(x, y, sample_weight, class_weight, batch_size,
                                                  validation_split, shuffle, steps_per_epoch)
        if validation_data is not None:
            val = self._validation_adapter(validation_data, batch_size, validation_steps)
        if not self.built:
            data.peek()
        layers, variables = self._trainable()
        if not self.optimizer._matches(variables):
            self.optimizer.build(variables)
        self._fused = None
        self._reg_layers = None
        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                     model=self, verbose=verbose, epochs=epochs,
                                     steps=data.steps)
        has_batch_begin = callback_list.has("on_train_batch_begin")
        self.stop_training = False
        rng = self._rng
        tracker = _Tracker()
        logs = {}
        epoch, step = initial_epoch, -1
        interrupted = False
        with _SigintDeferrer() as sigint, blas_single_threaded():
            try:
                callback_list.on_train_begin()
                for epoch in range(initial_epoch, epochs):
                    self._reset_metrics()
                    tracker = _Tracker()
                    callback_list.on_epoch_begin(epoch)
                    step = -1
                    for step, (xb, yb, wb) in enumerate(data.epoch(rng)):
                        if has_batch_begin:
                            callback_list.on_train_batch_begin(step)
                        value, y_pred = self._train_step(xb, yb, wb, layers, variables)
                        tracker.update(value, len(xb))
                        for metric in self.metrics:
                            metric.update_state(yb, y_pred)
                        logs = self._logs(tracker)
                        callback_list.on_train_batch_end(step, logs)
                        if not math.isfinite(value) and not self.stop_training:
                            _warn_diverged(value, epoch, step)
                            self.stop_training = True
                        if sigint.interrupted or self.stop_training:
                            break
                    if sigint.interrupted:
                        interrupted = True
                        break
                    if data.exhausted:
                        _warn_ran_out(step + 1, steps_per_epoch, epochs - initial_epoch)
                        self.stop_training = True
                        if step < 0:
                            break
                    epoch_logs = dict(logs)
                    if val is not None:
                        val_logs = self._evaluate_batches(val, callback_list)
                        epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                    callback_list.on_epoch_end(epoch, epoch_logs)
                    logs = epoch_logs
                    if self.stop_training:
                        break
            except KeyboardInterrupt:
                interrupted = True
            finally:
                data.close()
                if val is not None:
                    val.close()
            if interrupted:
                self.stop_training = True
                print(f"\nTraining interrupted (Ctrl-C) in epoch {epoch + 1}, batch {step + 1}; "
                      "returning the history of the completed epochs.", flush=True)
            callback_list.on_train_end(logs)
        return callback_list.history

    def _array_training_data(self, x, y, sample_weight, class_weight, batch_size,
                             validation_split, shuffle, steps):
        """Check the arrays of ``fit``; split off the validation samples."""
        x, y, w = self._prepare_xy(x, y, sample_weight)
        warn_if_not_finite(x, "x", stacklevel=4)
        val = None
        if validation_split:
            split_at = int(math.floor(len(x) * (1.0 - float(validation_split))))
            if split_at == 0 or split_at == len(x):
                fail(ValueError, "validation_split", f"leaving samples on both sides of the "
                     f"split for {len(x)} samples", validation_split)
            val = ArrayAdapter(x[split_at:], y[split_at:], None if w is None else w[split_at:],
                               batch_size)
            x, y, w = x[:split_at], y[:split_at], None if w is None else w[:split_at]
        if class_weight is not None:   # training samples only, as Keras
            cw = self._class_weights(y, class_weight)
            w = cw if w is None else w * cw
        return ArrayAdapter(x, y, w, batch_size, shuffle, steps), val

    # --------------------------------------------------------------- evaluate
    def _evaluate_batches(self, data, callback_list=None):
        self._reset_metrics()
        tracker = _Tracker()
        logs = {}
        if callback_list is not None:
            callback_list.on_test_begin()
        step = -1
        try:
            for step, (xb, yb, wb) in enumerate(data.epoch()):
                if callback_list is not None:
                    callback_list.on_test_batch_begin(step)
                value, y_pred = self._test_step(xb, yb, wb)
                tracker.update(value, len(xb))
                for metric in self.metrics:
                    metric.update_state(yb, y_pred)
                logs = self._logs(tracker)
                if callback_list is not None:
                    callback_list.on_test_batch_end(step, logs)
        finally:
            data.close()
        if step < 0 and data.exhausted:
            fail(ValueError, getattr(data, "name", "x"), "data with batches left to evaluate "
                 "(a generator used up by an earlier epoch has none; pass a re-iterable "
                 "object, a PyDataset, or a generator that loops with validation_steps)",
                 "no batch")
        logs = self._logs(tracker)
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

    def evaluate(self, x: ModelInput, y: Optional[ArrayLike] = None,
                 batch_size: Optional[int] = None, verbose: Union[str, int] = "auto",
                 sample_weight: Optional[ArrayLike] = None, steps: Optional[int] = None,
                 callbacks: Optional[Sequence[Callback]] = None,
                 return_dict: bool = False) -> Logs:
        """Loss and metrics on ``(x, y)`` in inference mode.

        ``x`` may also be a generator, an iterable of ``(x, y[,
        sample_weight])`` batches or a PyDataset (then without ``y``,
        ``batch_size`` and ``sample_weight``), read for ``steps`` batches or
        until it runs out.

        Returns
        -------
        float, list or dict
            The loss if no metrics were compiled, else ``[loss, *metrics]``;
            a dict ``{"loss": ..., name: ...}`` with ``return_dict=True``.
        """
        self._require_compiled("evaluate")
        verbose = resolve_verbose(verbose)
        steps = _check_steps(steps, "steps")
        if is_stream(x):
            check_stream_call("x", y=y, batch_size=batch_size, sample_weight=sample_weight)
            data = self._stream(x, "x", steps)
        else:
            batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", 1)
            x, y, w = self._prepare_xy(x, y, sample_weight)
            if len(x) == 0:
                fail(ValueError, "x", "at least one sample to evaluate on", "0 samples")
            data = ArrayAdapter(x, y, w, batch_size, steps=steps)
        self._fused = None
        self._reg_layers = None
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=data.steps)
        with blas_single_threaded():
            logs = self._evaluate_batches(data, callback_list)
        return self._format_logs(logs, return_dict)

    def _format_logs(self, logs, return_dict):
        if return_dict:
            return dict(logs)
        if not self.metrics:
            return logs["loss"]
        return [logs[name] for name in self.metrics_names]

    # ---------------------------------------------------------------- predict
    def predict(self, x: ModelInput, batch_size: Optional[int] = None,
                verbose: Union[str, int] = "auto", steps: Optional[int] = None,
                callbacks: Optional[Sequence[Callback]] = None) -> Any:
        """Outputs of the model for ``x``, computed in batches (inference mode).

        ``x`` may also be a generator, an iterable of batches (``x`` or
        tuples whose first item is ``x``) or a PyDataset, read for ``steps``
        batches or until it runs out.

        ``batch_size`` defaults to what fits the caches: 32 to 1024 samples
        (see `pyconv._inference.default_batch_size`); results do not depend
        on it beyond float rounding.

        Returns
        -------
        ndarray of shape (n_samples, *output_shape)
        """
        verbose = resolve_verbose(verbose)
        steps = _check_steps(steps, "steps")
        if is_stream(x):
            check_stream_call("x", batch_size=batch_size)
            return self._predict_stream(self._stream(x, "x", steps, needs_y=False),
                                        verbose, callbacks)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", 1)
        x = self._prepare_x(x)
        if batch_size is None:
            batch_size = _inference.default_batch_size(self)
        slices = batch_slices(len(x), batch_size)[:steps]
        out = np.empty((slices[-1][1] if slices else 0,) + tuple(self._output_shape),
                       dtype=self.dtype)
        forward = self._inference_forward()
        if callbacks is None and verbose == 0:      # nothing to report: the plain loop
            with blas_single_threaded():
                for start, stop in slices:
                    out[start:stop] = forward(x[start:stop])
            return out
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=len(slices))
        callback_list.on_predict_begin()
        with blas_single_threaded():
            for step, (start, stop) in enumerate(slices):
                callback_list.on_predict_batch_begin(step)
                out[start:stop] = forward(x[start:stop])
                callback_list.on_predict_batch_end(step, {"outputs": out[start:stop]})
        callback_list.on_predict_end()
        return out

    def _predict_stream(self, data, verbose, callbacks):
        if not self.built:
            data.peek()
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=data.steps)
        outputs = []
        forward = self._inference_forward()
        callback_list.on_predict_begin()
        with blas_single_threaded():
            try:
                for step, (xb, _, _) in enumerate(data.epoch()):
                    callback_list.on_predict_batch_begin(step)
                    outputs.append(np.array(forward(xb), copy=True))
                    callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
            finally:
                data.close()
        callback_list.on_predict_end()
        if not outputs:
            return np.empty((0,) + tuple(self._output_shape), dtype=self.dtype)
        return np.concatenate(outputs)

    # ------------------------------------------------------------ one batch
    def train_on_batch(self, x: ModelInput, y: Optional[ArrayLike] = None,
                       sample_weight: Optional[ArrayLike] = None,
                       class_weight: Optional[Mapping[Any, float]] = None,
                       return_dict: bool = False) -> Logs:
        """One optimisation step on one batch.

        Returns the batch's loss (and metrics, see :meth:`evaluate`), measured
        on the predictions made before the update. Metrics are reset at each
        call, so the values describe this batch only.
        """
        self._require_compiled("train_on_batch")
        x, y, w = self._prepare_xy(x, y, sample_weight, class_weight)
        layers, variables = self._trainable()
        self._fused = None
        self._reg_layers = None
        self._reset_metrics()
        value, y_pred = self._train_step(x, y, w, layers, variables)
        for metric in self.metrics:
            metric.update_state(y, y_pred)
        return self._format_logs(self._logs(_single(value, len(x))), return_dict)

    def test_on_batch(self, x: ModelInput, y: Optional[ArrayLike] = None,
                      sample_weight: Optional[ArrayLike] = None,
                      return_dict: bool = False) -> Logs:
        """Loss (and metrics) of one batch in inference mode; see :meth:`evaluate`."""
        self._require_compiled("test_on_batch")
        x, y, w = self._prepare_xy(x, y, sample_weight)
        self._fused = None
        self._reg_layers = None
        self._reset_metrics()
        value, y_pred = self._test_step(x, y, w)
        for metric in self.metrics:
            metric.update_state(y, y_pred)
        return self._format_logs(self._logs(_single(value, len(x))), return_dict)

    def predict_on_batch(self, x: ModelInput) -> Any:
        """Outputs for one batch, in one forward pass (inference mode)."""
        x = self._prepare_x(x)
        with blas_single_threaded():
            y = self._inference_forward()(x)
        return np.array(y, dtype=self.dtype, copy=True)

    def _inference_forward(self):
        """``f(x)`` computing the outputs of a batch in inference mode: the
        compiled plan (see `pyconv._inference`) unless ``self._compiled_inference``
        is False (for comparisons) or the model is not a linear stack. Its
        result is a buffer overwritten by the next call."""
        if not getattr(self, "_compiled_inference", True) or not _inference.supports(self):
            return lambda x: self._forward(x, training=False)
        return lambda x: _inference.plan_for(self, x.shape).run(x)

    def __call__(self, x):
        return self.predict_on_batch(x)

    # ----------------------------------------------------------------- export
    def export(self, filepath, format="onnx", **kwargs):
        """Write the model for another runtime; ``format="onnx"`` is the one
        format (see :func:`pyconv.export_onnx`, which takes the same ``opset=``).

        Returns the path written.
        """
        from .export import export

        return export(self, filepath, format=format, **kwargs)


def _warn_diverged(value, epoch, step):
    """Say why `fit` stops when the loss stops being a number (as TerminateOnNaN)."""
    warnings.warn(f"The training loss became {value} in epoch {epoch + 1}, batch {step + 1}; "
                  "training stopped there, and the weights may hold NaN or inf. Scale the "
                  "inputs (very large values overflow float32) or lower the learning rate.",
                  RuntimeWarning, stacklevel=3)


def _single(value, n):
    tracker = _Tracker()
    tracker.update(value, n)
    return tracker


def _check_steps(steps, name):
    return None if steps is None else check_int(steps, name, min_value=1)


def _warn_ran_out(got, steps_per_epoch, epochs):
    wanted = ("the batches asked for" if steps_per_epoch is None
              else f"steps_per_epoch * epochs = {steps_per_epoch * epochs} batches")
    warnings.warn(f"Your input ran out of data after {got} batches in this epoch; "
                  f"interrupting training. Make sure it can give {wanted} (a generator "
                  "is read once: loop in it, or use a re-iterable object or a PyDataset).",
                  stacklevel=3)
