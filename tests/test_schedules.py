"""Learning-rate schedules and the LearningRateScheduler callback (Keras 3 values)."""
import os
import warnings

import numpy as np
import pytest

from pyconv import load_model
from pyconv.callbacks import LearningRateScheduler
from pyconv.layers import Dense, Input
from pyconv.models import Sequential
from pyconv.optimizers import SGD, Adam, schedules

STEPS = [0, 1, 2, 3, 5, 7, 10, 13, 20, 50, 99, 100, 101, 250]

SCHEDULES = {
    "exponential": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10,
                                             decay_rate=0.7)),
    "exponential_staircase": ("ExponentialDecay", dict(initial_learning_rate=0.1,
                                                       decay_steps=7, decay_rate=0.5,
                                                       staircase=True)),
    "inverse_time": ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=5,
                                              decay_rate=0.5)),
    "piecewise": ("PiecewiseConstantDecay", dict(boundaries=[5, 20, 100],
                                                 values=[0.1, 0.05, 0.01, 0.001])),
    "polynomial": ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=50,
                                           end_learning_rate=0.001, power=2.0)),
    "polynomial_cycle": ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=30,
                                                 end_learning_rate=0.01, power=0.5,
                                                 cycle=True)),
    "cosine": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100, alpha=0.1)),
    "cosine_warmup": ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=80,
                                          alpha=0.05, warmup_target=0.2, warmup_steps=20)),
}


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedules_match_keras(case):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    class_name, kwargs = SCHEDULES[case]
    ours = getattr(schedules, class_name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, class_name)(**kwargs)
    got = [ours(step) for step in STEPS]
    want = [float(theirs(step)) for step in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)   # Keras computes in float32


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedules_round_trip_through_their_config(case):
    class_name, kwargs = SCHEDULES[case]
    schedule = getattr(schedules, class_name)(**kwargs)
    again = schedules.deserialize(schedules.serialize(schedule))
    assert type(again) is type(schedule)
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_optimizer_steps_with_the_schedule_value_before_each_update():
    lr = schedules.PiecewiseConstantDecay([1], [0.5, 0.25])
    opt = SGD(learning_rate=lr)
    w = np.array([0.0])
    seen = []
    for _ in range(3):
        seen.append(opt.learning_rate)
        opt.apply([np.array([1.0])], [w])
    assert seen == [0.5, 0.5, 0.25]          # steps 0, 1, 2 as in Keras
    assert w[0] == -1.25


def small_model(optimizer):
    model = Sequential([Input((3,)), Dense(2, activation="softmax")], seed=0)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def test_a_model_with_a_schedule_saves_and_loads_it(rng, tmp_path):
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    schedule = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=3)
    model = small_model(Adam(learning_rate=schedule))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "m.pyconv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(path)
    restored = load_model(path)
    lr = restored.optimizer._learning_rate
    assert type(lr) is schedules.CosineDecay and lr.get_config() == schedule.get_config()
    assert restored.optimizer.iterations == 4
    assert restored.optimizer.learning_rate == model.optimizer.learning_rate
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    restored.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_plain_callable_learning_rate_still_warns_on_save(tmp_path):
    model = small_model(SGD(learning_rate=lambda step: 0.1))
    with pytest.warns(UserWarning, match="compile settings are not saved"):
        model.save(tmp_path / "m.pyconv")


def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_logs_it(rng, tmp_path):
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = small_model(SGD(0.1))
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch)])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025, 0.0125]
    model.save(tmp_path / "m.pyconv")
    assert load_model(tmp_path / "m.pyconv").optimizer.learning_rate == 0.0125
    keras_form = LearningRateScheduler(lambda epoch, lr: lr * 2)
    assert model.fit(x, y, epochs=2, verbose=0, callbacks=[keras_form]).history[
        "learning_rate"] == [0.025, 0.05]


# (bad schedule arguments: the rows of tests/test_bad_input_table.py)
