"""Learning-rate schedules (Keras 3's ``keras.optimizers.schedules``).

A schedule is a callable ``schedule(step) -> float`` given as an optimizer's
``learning_rate``; the optimizer calls it with its step count before each
update (0 for the first step, as Keras does). The built-in schedules are
described by their config, so a model compiled with one is saved and loaded
with it. This module is ``pyconv.optimizers.schedules``.

Examples
--------
>>> from pyconv.optimizers import SGD, schedules
>>> lr = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> [round(lr(step), 4) for step in (0, 10, 20)]
[0.1, 0.05, 0.025]
>>> opt = SGD(learning_rate=lr)
>>> opt.learning_rate        # the value at the current step
0.1
"""
import math
import numbers

from ._validation import check_int, check_positive_float, fail

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "serialize", "deserialize"]


def _check_real(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        fail(TypeError, name, "a real number", repr(value))
    value = float(value)
    if not math.isfinite(value):
        fail(ValueError, name, "a finite number", value)
    return value


def _check_step(step):
    step = float(step)
    if not step >= 0:
        fail(ValueError, "step", "a non-negative number", step)
    return step


class LearningRateSchedule:
    """Base class: ``__call__(step) -> float`` and ``get_config()``.

    A subclass is usable as a learning rate at once; pyconv saves the
    built-in schedules only (a model using another one is saved without its
    compile settings, with a warning).
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``.

    Examples
    --------
    >>> from pyconv.optimizers.schedules import ExponentialDecay
    >>> lr = ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)
    >>> [lr(step) for step in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = check_positive_float(initial_learning_rate,
                                                          "initial_learning_rate")
        self.decay_steps = check_int(decay_steps, "decay_steps", min_value=1)
        self.decay_rate = check_positive_float(decay_rate, "decay_rate")
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``
    (``floor`` of the ratio with ``staircase=True``).

    Examples
    --------
    >>> from pyconv.optimizers.schedules import InverseTimeDecay
    >>> InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.5)(2)
    0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = _check_step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while
    ``step <= boundaries[1]``, ..., ``values[-1]`` after the last boundary.

    Examples
    --------
    >>> from pyconv.optimizers.schedules import PiecewiseConstantDecay
    >>> lr = PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    >>> [lr(step) for step in range(6)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            fail(TypeError, "boundaries, values", "lists of numbers",
                 f"{type(boundaries).__name__}, {type(values).__name__}")
        if len(values) != len(boundaries) + 1:
            fail(ValueError, "values", f"one more value than boundaries ({len(boundaries) + 1})",
                 f"{len(values)} values")
        boundaries = [_check_real(b, "boundaries") for b in boundaries]
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            fail(ValueError, "boundaries", "strictly increasing", boundaries)
        self.boundaries = boundaries
        self.values = [check_positive_float(v, "values", allow_zero=True) for v in values]
        self.name = name

    def __call__(self, step):
        step = _check_step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` in
    ``decay_steps``: ``(initial - end) * (1 - step / decay_steps) ** power +
    end``, constant afterwards; with ``cycle=True`` ``decay_steps`` grows to
    the first multiple of itself at or above ``step``.

    Examples
    --------
    >>> from pyconv.optimizers.schedules import PolynomialDecay
    >>> lr = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0)
    >>> [lr(step) for step in (0, 2, 4, 8)]
    [1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = check_positive_float(initial_learning_rate,
                                                          "initial_learning_rate")
        self.decay_steps = check_int(decay_steps, "decay_steps", min_value=1)
        self.end_learning_rate = check_positive_float(end_learning_rate, "end_learning_rate",
                                                      allow_zero=True)
        self.power = check_positive_float(power, "power", allow_zero=True)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        step = _check_step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1.0 - p) ** self.power
                + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter), with an optional linear warm-up.

    Without warm-up: ``initial_learning_rate * ((1 - alpha) * c + alpha)``,
    ``c = (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2``. With
    ``warmup_target``, the rate first rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``,
    then decays from ``warmup_target`` as above over ``decay_steps``.

    Examples
    --------
    >>> from pyconv.optimizers.schedules import CosineDecay
    >>> lr = CosineDecay(0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)
    >>> [round(lr(step), 4) for step in range(7)]
    [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = check_positive_float(initial_learning_rate,
                                                          "initial_learning_rate",
                                                          allow_zero=True)
        self.decay_steps = check_int(decay_steps, "decay_steps", min_value=1)
        self.alpha = check_positive_float(alpha, "alpha", allow_zero=True)
        self.name = name
        self.warmup_target = (None if warmup_target is None
                              else check_positive_float(warmup_target, "warmup_target"))
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", min_value=0)

    def _decay(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _check_step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return rise * step / self.warmup_steps + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                          PiecewiseConstantDecay, PolynomialDecay,
                                          CosineDecay)}


def serialize(schedule):
    """``{"class_name": ..., "config": {...}}`` for a built-in schedule."""
    if type(schedule) not in _BY_NAME.values():
        fail(TypeError, "schedule", "one of the built-in schedules (" + ", ".join(_BY_NAME)
             + ")", repr(schedule))
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule described by :func:`serialize`'s output."""
    if not isinstance(config, dict) or config.get("class_name") not in _BY_NAME:
        fail(ValueError, "config", "{'class_name': one of " + ", ".join(_BY_NAME)
             + ", 'config': {...}}", repr(config))
    arguments = config.get("config", {})
    if not isinstance(arguments, dict):
        fail(ValueError, "config['config']", "a dict", repr(arguments))
    return _BY_NAME[config["class_name"]].from_config(dict(arguments))
