"""Optimizers with Keras 3's update rules, applied in place.

An optimizer updates the live weight arrays of a model (the arrays the layers
hold), so layers never need to re-read their weights. ``learning_rate`` is a
plain attribute that may be changed between steps (``ReduceLROnPlateau`` does
so); it may also be a schedule from :mod:`pyconv.optimizers.schedules` (saved
with the model) or any callable ``schedule(iterations) -> float``.

Weight decay is decoupled as in Keras 3 (``w -= learning_rate * weight_decay
* w`` before the step) for every optimizer; ``AdamW`` is ``Adam`` with a
default weight decay of 0.004.

Examples
--------
>>> import numpy as np
>>> from pyconv.optimizers import SGD
>>> w = np.array([1.0, 2.0])
>>> opt = SGD(learning_rate=0.1)
>>> opt.apply([np.array([1.0, -1.0])], [w])
>>> w
array([0.9, 2.1])
"""
import numbers
import sys
from typing import Tuple

import numpy as np

from . import _inference
from . import _schedules as schedules
from ._kernels import optim as _optim
from ._validation import check_positive_float, fail

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Nadam", "RMSprop", "get", "schedules"]

# ``from pyconv.optimizers.schedules import CosineDecay`` works as in Keras
sys.modules[__name__ + ".schedules"] = schedules


def _check_rate(value, name, upper=None):
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        fail(TypeError, name, "a real number", repr(value))
    value = float(value)
    if not np.isfinite(value) or value < 0 or (upper is not None and value >= upper):
        bound = f"in [0, {upper})" if upper is not None else "a non-negative number"
        fail(ValueError, name, bound, value)
    return value


class Optimizer:
    """Base class: learning rate, decoupled weight decay, clipping, state.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Step size, or ``schedule(iterations) -> float`` (a schedule from
        :mod:`pyconv.optimizers.schedules` is also saved with the model).
    weight_decay : float, optional
        Decoupled weight decay (``w -= learning_rate * weight_decay * w``).
    clipnorm : float, optional
        Clip each gradient to this L2 norm.
    clipvalue : float, optional
        Clip each gradient element to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float, optional
        Clip all gradients together to this global L2 norm.
    name : str, optional
        Name of the optimizer.

    Examples
    --------
    Every optimizer inherits these features. Clipping by norm: a gradient
    of norm 5 is scaled down to norm 1 before the step.

    >>> import numpy as np
    >>> from pyconv.optimizers import SGD
    >>> w = np.zeros(2)
    >>> SGD(learning_rate=1.0, clipnorm=1.0).apply([np.array([3.0, 4.0])], [w])
    >>> w
    array([-0.6, -0.8])

    A learning-rate schedule is a function of the step count:

    >>> opt = SGD(learning_rate=lambda step: 0.1 / (1 + step))
    >>> w = np.array([1.0])
    >>> for _ in range(3):
    ...     opt.apply([np.array([1.0])], [w])
    >>> opt.iterations, round(float(w[0]), 4), round(opt.learning_rate, 4)
    (3, 0.8167, 0.025)

    A new rule subclasses `Optimizer`: name the state slots in
    ``_slot_names`` and update one variable in place in
    ``_update(index, grad, var, lr)`` (clipping, weight decay and the step
    count are done by the base class).

    >>> from pyconv.optimizers import Optimizer
    >>> class SignSGD(Optimizer):
    ...     def __init__(self, learning_rate=0.01, **kwargs):
    ...         super().__init__(learning_rate, **kwargs)
    ...     def _update(self, index, grad, var, lr):
    ...         var -= lr * np.sign(grad)
    >>> w = np.array([1.0, 1.0, 1.0])
    >>> SignSGD(0.5).apply([np.array([-3.0, 0.0, 0.2])], [w])
    >>> w
    array([1.5, 1. , 0.5])
    """

    _slot_names: Tuple[str, ...] = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        self.learning_rate = learning_rate
        self.weight_decay = (None if weight_decay is None
                             else check_positive_float(weight_decay, "weight_decay",
                                                       allow_zero=True))
        self.clipnorm = None if clipnorm is None else check_positive_float(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else check_positive_float(clipvalue, "clipvalue")
        self.global_clipnorm = (None if global_clipnorm is None
                                else check_positive_float(global_clipnorm, "global_clipnorm"))
        if sum(v is not None for v in (self.clipnorm, self.clipvalue, self.global_clipnorm)) > 1:
            fail(ValueError, "clipnorm, clipvalue, global_clipnorm",
                 "given at most one at a time", "more than one")
        self.name = name if name is not None else type(self).__name__.lower()
        self.iterations = 0
        self._variables = None
        self._slots = {}

    # ----------------------------------------------------------- learning rate
    @property
    def learning_rate(self):
        """Current learning rate (a float; evaluated if it is a schedule)."""
        if callable(self._learning_rate):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
        else:
            self._learning_rate = check_positive_float(value, "learning_rate")

    # ------------------------------------------------------------------- state
    @property
    def built(self):
        return self._variables is not None

    def build(self, variables):
        """Create the state slots (zeros) for ``variables``; resets iterations."""
        self._variables = list(variables)
        self._slots = {
            slot: [np.zeros_like(v) for v in self._variables]
            for slot in self._active_slots()
        }
        self._scratch = [np.empty_like(v) for v in self._variables]
        self.iterations = 0

    def _active_slots(self):
        return self._slot_names

    def _matches(self, variables):
        known = self._variables
        return (known is not None and len(known) == len(variables)
                and all(a is b for a, b in zip(known, variables)))

    def get_state(self):
        """Return ``{"iterations": int, "slots": {slot: [arrays]}}`` (copies)."""
        return {"iterations": int(self.iterations),
                "slots": {k: [a.copy() for a in v] for k, v in self._slots.items()}}

    def set_state(self, state):
        """Restore a state from :meth:`get_state` (the optimizer must be built)."""
        if not self.built:
            fail(ValueError, "state", "set on a built optimizer (call build(variables) first)",
                 "an unbuilt optimizer")
        slots = state.get("slots", {})
        if set(slots) != set(self._slots):
            fail(ValueError, "state", f"slots {sorted(self._slots)}", sorted(slots))
        for key, arrays in slots.items():
            current = self._slots[key]
            if len(arrays) != len(current):
                fail(ValueError, "state", f"{len(current)} arrays for slot {key!r}", len(arrays))
            for dst, src in zip(current, arrays):
                src = np.asarray(src)
                if src.shape != dst.shape:
                    fail(ValueError, "state", f"shape {dst.shape} in slot {key!r}", src.shape)
                dst[...] = src
        self.iterations = int(state.get("iterations", 0))

    # ------------------------------------------------------------------ update
    def apply_gradients(self, grads_and_vars):
        """Keras-style: apply ``[(grad, variable), ...]``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, variables=None):
        """Update ``variables`` (live arrays) in place from ``grads``.

        ``variables`` defaults to those given to :meth:`build`. The optimizer
        builds (or rebuilds) its slots when the variable list changes.
        """
        if variables is None:
            if self._variables is None:
                fail(ValueError, "variables", "given on the first call to apply", None)
            variables = self._variables
        elif not self._matches(variables):
            self.build(variables)
        grads = self._clip(grads)
        lr = self.learning_rate
        wd = self.weight_decay
        self.iterations += 1
        _inference.weights_changed()      # predict plans may hold prepared copies
        for index, (grad, var) in enumerate(zip(grads, variables)):
            if wd:
                var -= var * (lr * wd)
            self._update(index, grad, var, lr)

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)))
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                return [g * scale for g in grads]
        return grads

    def _update(self, index, grad, var, lr):
        raise NotImplementedError

    # ------------------------------------------------------------------ config
    def get_config(self):
        lr = self._learning_rate
        if type(lr) in schedules._BY_NAME.values():
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = self.learning_rate
        config = {"name": self.name,
                  "learning_rate": lr,
                  "weight_decay": self.weight_decay}
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Keras 3 rule: ``m = momentum * m - lr * g``; ``w += m`` (or ``w +=
    momentum * m - lr * g`` with Nesterov). Without momentum ``w -= lr * g``.
    This equals PyTorch's ``SGD`` for a constant learning rate.

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float, default 0.0
        In ``[0, 1)``.
    nesterov : bool, default False
    weight_decay : float, optional
        Decoupled weight decay.
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.optimizers import SGD
    >>> w = np.array([1.0]); opt = SGD(0.1, momentum=0.9)
    >>> opt.apply([np.array([1.0])], [w]); opt.apply([np.array([1.0])], [w])
    >>> round(float(w[0]), 6)   # 1 - 0.1 - (0.9 * 0.1 + 0.1)
    0.71
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.momentum = _check_rate(momentum, "momentum", upper=1.0)
        self.nesterov = bool(nesterov)

    def _active_slots(self):
        return ("momentum",) if self.momentum else ()

    def _update(self, index, grad, var, lr):
        if not self.momentum:
            scratch = self._scratch[index]
            np.multiply(grad, lr, out=scratch)
            var -= scratch
            return
        m = self._slots["momentum"][index]
        m *= self.momentum
        scratch = self._scratch[index]
        np.multiply(grad, lr, out=scratch)
        m -= scratch
        if self.nesterov:
            var -= scratch
            np.multiply(m, self.momentum, out=scratch)
            var += scratch
        else:
            var += m

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config


def _fusable(grad, var):
    """Whether a compiled update can take ``grad`` and ``var``: C-contiguous
    float32 or float64 arrays of one dtype (the slots are made like
    ``var``)."""
    return (isinstance(grad, np.ndarray) and grad.dtype == var.dtype
            and grad.shape == var.shape and var.dtype in (np.float32, np.float64)
            and grad.flags.c_contiguous and var.flags.c_contiguous)


class _Moments:
    """Adam's running moments, shared by `Adam` and `Nadam`."""

    def _set_betas(self, beta_1, beta_2, epsilon):
        self.beta_1 = _check_rate(beta_1, "beta_1", upper=1.0)
        self.beta_2 = _check_rate(beta_2, "beta_2", upper=1.0)
        self.epsilon = check_positive_float(epsilon, "epsilon", allow_zero=True)

    def _moments(self, index, grad):
        """Update ``m`` and ``v`` of variable ``index`` in place; return them
        and the variable's scratch buffer."""
        m = self._slots["m"][index]
        v = self._slots["v"][index]
        scratch = self._scratch[index]
        np.subtract(grad, m, out=scratch)
        scratch *= 1.0 - self.beta_1
        m += scratch
        np.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1.0 - self.beta_2
        v += scratch
        return m, v, scratch


class Adam(_Moments, Optimizer):
    """Adam (Kingma & Ba), Keras 3 form.

    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``.
    With ``amsgrad`` the running maximum of ``v`` is used.

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
    epsilon : float, default 1e-7
    amsgrad : bool, default False
    weight_decay : float, optional
        Decoupled weight decay.
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.optimizers import Adam
    >>> w = np.array([1.0]); Adam(learning_rate=0.1).apply([np.array([3.0])], [w])
    >>> round(float(w[0]), 6)   # the first Adam step moves by about lr
    0.9
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)
        self.amsgrad = bool(amsgrad)

    def _active_slots(self):
        return ("m", "v", "vhat") if self.amsgrad else ("m", "v")

    def apply(self, grads, variables=None):
        # the bias corrections depend on the step about to be taken
        step = self.iterations + 1
        self._alpha_factor = (np.sqrt(1.0 - self.beta_2 ** step)
                              / (1.0 - self.beta_1 ** step))
        super().apply(grads, variables)

    def _update(self, index, grad, var, lr):
        if not self.amsgrad and _fusable(grad, var):
            # the numpy code below in one compiled pass, bit for bit
            _optim.adam_update(var.reshape(-1), grad.reshape(-1),
                               self._slots["m"][index].reshape(-1),
                               self._slots["v"][index].reshape(-1), 1.0 - self.beta_1,
                               1.0 - self.beta_2, self.epsilon, lr * self._alpha_factor)
            return
        m, v, scratch = self._moments(index, grad)
        if self.amsgrad:
            vhat = self._slots["vhat"][index]
            np.maximum(vhat, v, out=vhat)
            v = vhat
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= lr * self._alpha_factor
        var -= scratch

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), Keras 3 defaults.

    Parameters
    ----------
    learning_rate : float, default 0.001
    weight_decay : float, default 0.004
    beta_1, beta_2, epsilon, amsgrad, **kwargs
        As in :class:`Adam`.

    Examples
    --------
    >>> from pyconv.optimizers import AdamW
    >>> AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            fail(ValueError, "weight_decay", "a number for AdamW", None)
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Nadam(_Moments, Optimizer):
    """Adam with Nesterov momentum (Dozat), Keras 3 form.

    With ``u_t = beta_1 (1 - 0.5 * 0.96^t)`` and ``U_t = u_1 ... u_t``:
    ``m += (g - m)(1 - beta_1)``; ``v += (g^2 - v)(1 - beta_2)``;
    ``m_hat = u_{t+1} m / (1 - U_{t+1}) + (1 - u_t) g / (1 - U_t)``;
    ``w -= lr * m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)``.

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
    epsilon : float, default 1e-7
    weight_decay : float, optional
        Decoupled weight decay.
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.optimizers import Nadam
    >>> w = np.array([1.0]); Nadam(learning_rate=0.1).apply([np.array([3.0])], [w])
    >>> round(float(w[0]), 4)
    0.8937
    """

    _slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)
        self._u_product = (0, 1.0)       # (t, u_1 ... u_t), recomputed after a restore

    def _u(self, step):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** step)

    def apply(self, grads, variables=None):
        step = self.iterations + 1
        known, product = self._u_product
        if known != step - 1:
            known, product = 0, 1.0
        for t in range(known + 1, step + 1):
            product *= self._u(t)
        self._u_product = (step, product)
        u_t, u_next = self._u(step), self._u(step + 1)
        self._m_scale = u_next / (1.0 - product * u_next)
        self._g_scale = (1.0 - u_t) / (1.0 - product)
        self._v_scale = 1.0 / (1.0 - self.beta_2 ** step)
        super().apply(grads, variables)

    def _update(self, index, grad, var, lr):
        m, v, scratch = self._moments(index, grad)
        np.multiply(v, self._v_scale, out=scratch)
        np.sqrt(scratch, out=scratch)
        scratch += self.epsilon
        np.divide(m * self._m_scale + grad * self._g_scale, scratch, out=scratch)
        scratch *= lr
        var -= scratch

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class RMSprop(Optimizer):
    """RMSprop, Keras 3 form.

    ``v = rho v + (1 - rho) g^2``; ``step = lr g / sqrt(v + epsilon)`` (with
    ``centered``, ``v - a^2`` replaces ``v`` where ``a`` averages ``g``); with
    momentum ``b = momentum b + step; w -= b``, else ``w -= step``.

    Parameters
    ----------
    learning_rate : float, default 0.001
    rho : float, default 0.9
    momentum : float, default 0.0
    epsilon : float, default 1e-7
    centered : bool, default False
    weight_decay : float, optional
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.optimizers import RMSprop
    >>> w = np.array([1.0]); RMSprop(learning_rate=0.01).apply([np.array([2.0])], [w])
    >>> round(float(w[0]), 4)   # 1 - 0.01 * 2 / sqrt(0.1 * 4)
    0.9684
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = _check_rate(rho, "rho", upper=1.0)
        self.momentum = _check_rate(momentum, "momentum", upper=1.0)
        self.epsilon = check_positive_float(epsilon, "epsilon", allow_zero=True)
        self.centered = bool(centered)

    def _active_slots(self):
        slots = ["velocity"]
        if self.centered:
            slots.append("average_gradient")
        if self.momentum:
            slots.append("momentum")
        return tuple(slots)

    def _update(self, index, grad, var, lr):
        rho = self.rho
        velocity = self._slots["velocity"][index]
        scratch = self._scratch[index]
        velocity *= rho
        np.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - rho
        velocity += scratch
        if self.centered:
            average = self._slots["average_gradient"][index]
            average *= rho
            average += (1.0 - rho) * grad
            np.multiply(average, average, out=scratch)
            np.subtract(velocity, scratch, out=scratch)
            scratch += self.epsilon
        else:
            np.add(velocity, self.epsilon, out=scratch)
        np.sqrt(scratch, out=scratch)
        np.divide(grad, scratch, out=scratch)
        scratch *= lr
        if self.momentum:
            buf = self._slots["momentum"][index]
            buf *= self.momentum
            buf += scratch
            var -= buf
        else:
            var -= scratch

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "nadam": Nadam, "rmsprop": RMSprop}


def get(identifier):
    """Return an optimizer from a name, a config dict or an instance.

    Parameters
    ----------
    identifier : str, dict or Optimizer
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"nadam"``, ``"rmsprop"`` (any case; default
        arguments), ``{"class_name": ..., "config": {...}}``, or an optimizer
        (returned as is).

    Examples
    --------
    >>> from pyconv.optimizers import get
    >>> get("adam").learning_rate
    0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            fail(ValueError, "optimizer", "one of " + ", ".join(repr(k) for k in _BY_NAME)
                 + " or an Optimizer instance", repr(identifier))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            fail(ValueError, "optimizer", "one of " + ", ".join(c.__name__ for c in _BY_NAME.values()),
                 repr(identifier["class_name"]))
        return cls.from_config(dict(identifier.get("config", {})))
    fail(TypeError, "optimizer", "a name such as 'adam' or an Optimizer instance",
         repr(identifier))
