"""Callbacks with Keras's hooks: History, EarlyStopping, ModelCheckpoint, ...

A callback sees the model (``self.model``) and the run parameters
(``self.params``: ``epochs``, ``steps``, ``verbose``). ``fit`` calls
``on_train_begin``, then per epoch ``on_epoch_begin``, per batch
``on_train_batch_begin``/``on_train_batch_end`` (logs with the running
``loss`` and metrics), ``on_epoch_end`` (logs with the epoch's values and the
``val_`` ones), and finally ``on_train_end``. ``evaluate`` and ``predict``
call the ``on_test_*`` and ``on_predict_*`` hooks. Setting
``model.stop_training = True`` stops ``fit`` after the current batch.

Examples
--------
>>> from pyconv.callbacks import LambdaCallback
>>> seen = []
>>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
>>> cb.on_epoch_end(0, {}); seen
[0]
"""
import csv
import math
import os
import warnings
import weakref

import numpy as np

from ._progbar import Progbar
from ._validation import check_int, check_positive_float, fail

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "LambdaCallback",
    "CSVLogger",
    "LearningRateScheduler",
]


class Callback:
    """Base class: every hook is a no-op.

    Override the hooks you need (``on_epoch_end(epoch, logs)``,
    ``on_train_batch_end(batch, logs)``, ...; see the module docstring).
    ``self.model`` is the model being trained and ``self.params`` holds
    ``epochs``, ``steps`` and ``verbose``.

    Examples
    --------
    Stop training once the training accuracy reaches a target:

    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.optimizers import SGD
    >>> from pyconv.callbacks import Callback
    >>> class StopAtAccuracy(Callback):
    ...     def __init__(self, target):
    ...         super().__init__()
    ...         self.target = target
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         if logs["accuracy"] >= self.target:
    ...             print(f"epoch {epoch}: accuracy {logs['accuracy']:.3f} of "
    ...                   f"{self.params['epochs']} epochs, stopping")
    ...             self.model.stop_training = True
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 4)).astype("float32")
    >>> y = (x[:, 0] + x[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(4,))], seed=0)
    >>> model.compile(optimizer=SGD(0.5), loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> history = model.fit(x, y, batch_size=16, epochs=20, verbose=0,
    ...                     callbacks=[StopAtAccuracy(0.9)])
    epoch 1: accuracy 0.906 of 20 epochs, stopping
    >>> history.epoch
    [0, 1]
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Dispatch each hook to a list of callbacks, in order.

    A ``History`` and a ``ProgbarLogger`` are appended when asked for and not
    already present (so user callbacks run before them, as in Keras).
    ``fit``, ``evaluate`` and ``predict`` build one; it is useful for a
    training loop of one's own.

    Parameters
    ----------
    callbacks : Callback or list of Callback, optional
        The user's callbacks.
    add_history : bool, default False
        Append a `History` unless one is in ``callbacks``.
    add_progbar : bool, default False
        Append a `ProgbarLogger` unless one is in ``callbacks``.
    model : Sequential, optional
        Given to every callback's ``set_model``.
    **params
        The run parameters every callback sees as ``self.params``
        (``epochs``, ``steps``, ``verbose``).

    Examples
    --------
    >>> from pyconv.callbacks import CallbackList, LambdaCallback
    >>> printer = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs))
    >>> callbacks = CallbackList([printer], add_history=True, epochs=2, steps=1, verbose=0)
    >>> [type(cb).__name__ for cb in callbacks.callbacks]
    ['LambdaCallback', 'History']
    >>> callbacks.on_train_begin()
    >>> for epoch, loss in enumerate([0.9, 0.6]):
    ...     callbacks.on_epoch_end(epoch, {"loss": loss})
    0 {'loss': 0.9}
    1 {'loss': 0.6}
    >>> callbacks.history.history, printer.params["epochs"]
    ({'loss': [0.9, 0.6]}, 2)
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                fail(TypeError, "callbacks", "a list of pyconv.callbacks.Callback instances",
                     repr(cb))
        self.callbacks = callbacks
        self.history = next((cb for cb in callbacks if isinstance(cb, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            self.callbacks.append(ProgbarLogger())
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)
            if model is not None:
                cb.set_model(model)
        # hooks that some callback overrides (skip no-op dispatch per batch)
        self._active = {
            hook: [getattr(cb, hook) for cb in self.callbacks
                   if getattr(type(cb), hook) is not getattr(Callback, hook)
                   or hook in vars(cb)]
            for hook in _HOOKS
        }

    def _call(self, hook, *args):
        for fn in self._active[hook]:
            fn(*args)

    def has(self, hook):
        return bool(self._active[hook])

    def __getattr__(self, hook):
        if hook in _HOOKS:
            def dispatch(*args):
                self._call(hook, *args)
            return dispatch
        raise AttributeError(hook)


class History(Callback):
    """Record the epoch logs: ``history`` (dict of lists) and ``epoch``.

    ``fit`` returns it and sets ``model.history`` to it.

    Attributes
    ----------
    history : dict of str to list of float
        One list per logged quantity (``loss``, metrics, their ``val_`` forms),
        one value per epoch.
    epoch : list of int
        The epochs run (0-based).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.optimizers import SGD
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 4)).astype("float32")
    >>> y = (x[:, 0] + x[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(4,))], seed=0)
    >>> model.compile(optimizer=SGD(0.5), loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, validation_split=0.25)
    >>> history.epoch, model.history is history
    ([0, 1, 2, 3], True)
    >>> for key, values in history.history.items():
    ...     print(f"{key:>12}", np.round(values, 3))
            loss [0.859 0.517 0.389 0.326]
        accuracy [0.312 0.792 0.896 0.958]
        val_loss [0.521 0.331 0.264 0.229]
    val_accuracy [0.875 0.875 0.938 0.938]
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    # The model refers to its History (``model.history``); History refers back
    # weakly, so a deleted model is freed at once, without the cyclic gc.
    @property
    def model(self):
        return self._model_ref() if self._model_ref is not None else None

    @model.setter
    def model(self, model):
        self._model_ref = weakref.ref(model) if model is not None else None

    def set_model(self, model):
        super().set_model(model)
        model.history = self

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model_ref"] = None
        return state


class ProgbarLogger(Callback):
    """Print progress: a bar per epoch (``verbose=1``) or a line (``verbose=2``).

    Uses ``self.params["verbose"]``; ``fit``, ``evaluate`` and ``predict``
    add it automatically when ``verbose`` is not 0. With ``verbose=1`` the
    bar is redrawn in place only on a terminal; elsewhere (logs, notebooks
    saved to text, doctests) only the final line of each epoch is printed.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.optimizers import SGD
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 4)).astype("float32")
    >>> y = (x[:, 0] + x[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(4,))], seed=0)
    >>> model.compile(optimizer=SGD(0.5), loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> _ = model.fit(x, y, batch_size=32, epochs=2, verbose=2)
    Epoch 1/2
    2/2 - ... - loss: 0.9456 - accuracy: 0.2344
    Epoch 2/2
    2/2 - ... - loss: 0.5697 - accuracy: 0.8594

    The same logger driven by hand, one line per epoch with ``verbose=2``:

    >>> from pyconv.callbacks import ProgbarLogger
    >>> logger = ProgbarLogger()
    >>> logger.set_params({"epochs": 1, "steps": 3, "verbose": 2})
    >>> logger.on_epoch_begin(0)
    Epoch 1/1
    >>> for step in range(3):
    ...     logger.on_train_batch_end(step, {"loss": 1.0 / (step + 1)})
    >>> logger.on_epoch_end(0, {"loss": 0.5})
    3/3 - ... - loss: 0.5000
    """

    def __init__(self):
        super().__init__()
        self._bar = None
        self._in_fit = False
        self._seen = 0

    @property
    def verbose(self):
        return self.params.get("verbose", 1)

    def _new_bar(self):
        self._bar = Progbar(self.params.get("steps"), verbose=self.verbose)
        self._seen = 0

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            epochs = self.params.get("epochs")
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        self._new_bar()

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.verbose == 1:
            self._bar.update(batch + 1, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.update(self._seen, logs, finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._seen = batch + 1
            self._bar.update(batch + 1, logs, finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._bar.update(self._seen, logs, finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        self._bar.update(batch + 1, None, finalize=False)

    def on_predict_end(self, logs=None):
        self._bar.update(self._seen, None, finalize=True)


def _resolve_mode(mode, monitor, model, owner):
    """Return ``np.less`` or ``np.greater`` for ``mode`` and ``monitor``: the
    one rule of every callback that watches a metric (EarlyStopping,
    ModelCheckpoint, ReduceLROnPlateau). ``"auto"`` asks the model's metric
    of that name for its direction, then guesses from the name (accuracy,
    AUC and F-measure go up; everything else, losses first, goes down)."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, fallback to auto mode.",
                      stacklevel=3)
        mode = "auto"
    if mode == "min":
        return np.less
    if mode == "max":
        return np.greater
    name = monitor[4:] if monitor.startswith("val_") else monitor
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == name:
            return np.greater if getattr(metric, "direction", "down") == "up" else np.less
    if "acc" in name or name.endswith("auc") or name.startswith("fmeasure"):
        return np.greater
    return np.less


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    Keras 3 semantics: an epoch improves when ``current - min_delta`` beats the
    best (``mode="min"``: ``current < best - min_delta``); training stops once
    ``patience`` epochs in a row have not improved (after ``start_from_epoch``
    warm-up epochs). With ``restore_best_weights`` the weights of the best
    epoch are restored at the end of training.

    Parameters
    ----------
    monitor : str, default "val_loss"
    min_delta : float, default 0
    patience : int, default 0
    verbose : int, default 0
    mode : {"auto", "min", "max"}, default "auto"
    baseline : float, optional
        Training stops if the model does not beat it within ``patience``.
    restore_best_weights : bool, default False
    start_from_epoch : int, default 0

    Examples
    --------
    >>> from pyconv.callbacks import EarlyStopping
    >>> EarlyStopping(patience=3).patience
    3
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = check_int(patience, "patience", min_value=0)
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", min_value=0)
        self.monitor_op = None
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.best = None

    def _set_monitor_op(self):
        self.monitor_op = _resolve_mode(self.mode, self.monitor, self.model, "EarlyStopping")
        self._signed_delta = -self.min_delta if self.monitor_op is np.less else self.min_delta
        self.best = math.inf if self.monitor_op is np.less else -math.inf

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.monitor_op = None

    def _is_improvement(self, value, reference):
        return bool(self.monitor_op(value - self._signed_delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = _monitor_value(logs, self.monitor, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _monitor_value(logs, monitor, what):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{what} conditioned on metric `{monitor}` which is not available. "
                      f"Available metrics are: {','.join(logs or {})}", stacklevel=3)
    return value


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of epochs, atomically.

    The file is written to a temporary file in the same directory and moved
    into place with ``os.replace``, so an interruption never leaves a
    half-written checkpoint.

    Parameters
    ----------
    filepath : str or path-like
        May hold ``{epoch}`` and log keys, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.pyconv"``.
    monitor : str, default "val_loss"
    verbose : int, default 0
    save_best_only : bool, default False
        Only save when ``monitor`` improves (the file is then overwritten).
    save_weights_only : bool, default False
        Save with ``model.save_weights`` instead of ``model.save``.
    mode : {"auto", "min", "max"}, default "auto"
    initial_value_threshold : float, optional
        Only save once ``monitor`` beats this value.

    Examples
    --------
    >>> from pyconv.callbacks import ModelCheckpoint
    >>> ModelCheckpoint("best.pyconv", save_best_only=True).monitor
    'val_loss'
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = mode
        if save_freq != "epoch":
            fail(ValueError, "save_freq", "'epoch'", repr(save_freq))
        self.initial_value_threshold = initial_value_threshold
        self.monitor_op = None
        self.best = None

    def on_train_begin(self, logs=None):
        if self.monitor_op is None:
            self.monitor_op = _resolve_mode(self.mode, self.monitor, self.model,
                                            "ModelCheckpoint")
            if self.initial_value_threshold is not None:
                self.best = float(self.initial_value_threshold)
            else:
                self.best = math.inf if self.monitor_op is np.less else -math.inf

    def _file_path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as exc:
            fail(KeyError, "filepath", "formatted with `epoch` or log keys only",
                 f"{self.filepath!r} (missing {exc})")

    def on_epoch_end(self, epoch, logs=None):
        path = self._file_path(epoch, logs)
        if self.save_best_only:
            current = _monitor_value(logs, self.monitor, "Can save best model only")
            if current is None:
                return
            if not self.monitor_op(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(Callback):
    """Reduce the learning rate when a metric has stopped improving.

    After ``patience`` epochs without an improvement larger than
    ``min_delta``, ``learning_rate`` becomes ``max(learning_rate * factor,
    min_lr)`` and ``cooldown`` epochs pass before counting again. Adds
    ``learning_rate`` to the epoch logs (and so to the history), as Keras does.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float, default 0.1
        In ``(0, 1)``.
    patience : int, default 10
    verbose : int, default 0
    mode : {"auto", "min", "max"}, default "auto"
    min_delta : float, default 1e-4
    cooldown : int, default 0
    min_lr : float, default 0

    Examples
    --------
    >>> from pyconv.callbacks import ReduceLROnPlateau
    >>> ReduceLROnPlateau(factor=0.5).factor
    0.5
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        self.monitor = monitor
        factor = check_positive_float(factor, "factor")
        if factor >= 1.0:
            fail(ValueError, "factor", "a number in (0, 1)", factor)
        self.factor = factor
        self.patience = check_int(patience, "patience", min_value=0)
        self.verbose = verbose
        self.mode = mode
        self.min_delta = float(min_delta)
        self.cooldown = check_int(cooldown, "cooldown", min_value=0)
        self.min_lr = check_positive_float(min_lr, "min_lr", allow_zero=True)
        self._reset()

    def _reset(self):
        self.monitor_op = None   # resolved with the model (see _resolve_mode)
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _set_monitor_op(self):
        better = _resolve_mode(self.mode, self.monitor, self.model, "ReduceLROnPlateau")
        if better is np.less:
            self.monitor_op = lambda a, b: a < b - self.min_delta
            self.best = math.inf
        else:
            self.monitor_op = lambda a, b: a > b + self.min_delta
            self.best = -math.inf

    def on_train_begin(self, logs=None):
        self._reset()
        self._set_monitor_op()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = _monitor_value(logs, self.monitor, "Learning rate reduction")
        if current is None:
            return
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training (with a printed message) when the loss becomes NaN or inf.

    Examples
    --------
    A NaN hidden in the second batch of the data stops the run of 5 epochs
    during the first one:

    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.callbacks import TerminateOnNaN
    >>> x = np.ones((8, 3), dtype="float32")
    >>> x[5, 1] = np.nan
    >>> model = Sequential([Dense(1, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(x, np.zeros(8), batch_size=4, epochs=5, verbose=0,
    ...                     shuffle=False, callbacks=[TerminateOnNaN()])
    Batch 1: Invalid loss (nan), terminating training (TerminateOnNaN).
    >>> history.epoch, history.history["loss"]
    ([0], [nan])
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss ({loss}), terminating training "
                  "(TerminateOnNaN).", flush=True)
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Build a callback from plain functions.

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable(epoch, logs), optional
    on_train_batch_begin, on_train_batch_end : callable(batch, logs), optional
        ``on_batch_begin``/``on_batch_end`` are accepted as aliases.
    on_train_begin, on_train_end : callable(logs), optional
    **kwargs
        Any other hook by name (``on_test_end=...``).

    Examples
    --------
    >>> from pyconv.callbacks import LambdaCallback
    >>> cb = LambdaCallback(on_train_end=lambda logs: print("done"))
    >>> cb.on_train_end()
    done
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        aliases = {"on_batch_begin": "on_train_batch_begin",
                   "on_batch_end": "on_train_batch_end"}
        for key, fn in kwargs.items():
            key = aliases.get(key, key)
            if key not in _HOOKS:
                fail(ValueError, "LambdaCallback hook", "one of " + ", ".join(_HOOKS), repr(key))
            hooks[key] = fn
        for key, fn in hooks.items():
            if fn is None:
                continue
            if key in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                       "on_predict_begin", "on_predict_end"):
                setattr(self, key, lambda logs=None, fn=fn: fn(logs))
            else:
                setattr(self, key, lambda step, logs=None, fn=fn: fn(step, logs))


class CSVLogger(Callback):
    """Stream the epoch logs to a CSV file (one row per epoch, flushed).

    Columns are ``epoch`` then the sorted log keys.

    Parameters
    ----------
    filename : str or path-like
    separator : str, default ","
    append : bool, default False
        Append to an existing file (its header is kept).

    Examples
    --------
    >>> from pyconv.callbacks import CSVLogger
    >>> CSVLogger("log.csv").sep
    ','
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._file = None
        self._writer = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            self._write_header = not (os.path.exists(self.filename)
                                      and os.path.getsize(self.filename) > 0)
            mode = "a"
        else:
            self._write_header = True
            mode = "w"
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        self._writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                          delimiter=self.sep)
            if self._write_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({key: logs.get(key, "NA") for key in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch.

    ``schedule(epoch, learning_rate) -> float`` gets the epoch index (from
    0) and the current rate; a function of the epoch alone,
    ``schedule(epoch)``, is accepted too, as in Keras. The rate is added to
    the epoch logs (and so to the history) as ``learning_rate``. The rate
    set last is a plain float: it is saved with the model, the function is
    not (give the callback again to continue training by epoch).

    Parameters
    ----------
    schedule : callable
    verbose : int, default 0
        With 1, print the rate set at each epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.callbacks import LearningRateScheduler
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
    >>> history = model.fit(np.ones((4, 2)), np.zeros(4), epochs=3, verbose=0,
    ...                     callbacks=[halve])
    >>> history.history["learning_rate"]
    [0.01, 0.005, 0.0025]
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            fail(TypeError, "schedule", "a function schedule(epoch, learning_rate) -> float",
                 repr(schedule))
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:       # Keras's older form: schedule(epoch)
            rate = self.schedule(epoch)
        if not isinstance(rate, (float, int, np.floating, np.integer)) or isinstance(rate, bool):
            fail(ValueError, "schedule", "a function returning a float",
                 f"a {type(rate).__name__} at epoch {epoch}")
        optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
