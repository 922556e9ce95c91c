"""Nadam, Huber, top-k accuracy, to_categorical: Keras 3 values (importorskip)."""
import os

import numpy as np
import pytest

from pyconv import load_model, losses, metrics
from pyconv.layers import Dense, Input
from pyconv.models import Sequential
from pyconv.optimizers import Nadam, get
from pyconv.utils import to_categorical


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def test_nadam_matches_keras_over_steps(keras, rng):
    import torch

    shapes = [(3, 4), (5,)]
    start = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(6)]
    ours = [w.astype(np.float32) for w in start]
    opt = get("nadam")
    assert isinstance(opt, Nadam)
    opt.learning_rate = 0.05
    theirs = [keras.Variable(w.astype(np.float32)) for w in start]
    keras_opt = keras.optimizers.Nadam(learning_rate=0.05)
    for step in grads:
        opt.apply([g.astype(np.float32) for g in step], ours)
        keras_opt.apply([torch.tensor(g, dtype=torch.float32) for g in step], theirs)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(want), rtol=1e-5, atol=1e-6)


def test_nadam_state_survives_save_and_load(rng, tmp_path):
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)
    model = Sequential([Input((3,)), Dense(1)], seed=0)
    model.compile(optimizer="nadam", loss="huber")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "m.pyconv")
    restored = load_model(tmp_path / "m.pyconv")
    assert isinstance(restored.optimizer, Nadam) and isinstance(restored.loss, losses.Huber)
    for m in (model, restored):
        m.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_matches_keras_and_its_gradient(keras, rng, delta):
    y_true = rng.normal(size=(6, 4))
    y_pred = y_true + rng.normal(scale=1.5, size=(6, 4))
    ours = losses.Huber(delta=delta)
    want = keras.losses.Huber(delta=delta)(y_true, y_pred)
    assert ours(y_true, y_pred) == pytest.approx(float(want), rel=1e-6)
    assert losses.get("huber").name == "huber"
    # the gradient of each per-sample loss, by central differences in float64
    grad = ours.gradient(y_true, y_pred)
    step = 1e-6
    for i, j in [(0, 0), (2, 3), (5, 1)]:
        up, down = y_pred.copy(), y_pred.copy()
        up[i, j] += step
        down[i, j] -= step
        numeric = (ours.call(y_true, up)[i] - ours.call(y_true, down)[i]) / (2 * step)
        assert grad[i, j] == pytest.approx(numeric, abs=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracy_matches_keras(keras, rng, k):
    scores = rng.random(size=(20, 4))
    scores[3] = 0.25                                     # ties count as inside
    labels = rng.integers(0, 4, size=20)
    ours = metrics.SparseTopKCategoricalAccuracy(k=k)
    ours.update_state(labels, scores)
    theirs = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
    theirs.update_state(labels, scores)
    assert ours.result() == pytest.approx(float(theirs.result()), abs=1e-7)
    onehot = metrics.get("top_k_accuracy")
    onehot.k = k
    onehot.update_state(to_categorical(labels, 4), scores)
    assert onehot.result() == ours.result()
    beyond = metrics.SparseTopKCategoricalAccuracy()          # k=5 > 4 classes
    beyond.update_state(labels, scores)
    assert beyond.result() == 1.0


def test_top_k_accuracy_in_compile(rng):
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.integers(0, 6, size=30)
    model = Sequential([Input((3,)), Dense(6, activation="softmax")], seed=0)
    model.compile(optimizer="nadam", loss="sparse_categorical_crossentropy",
                  metrics=["top_k_accuracy", "accuracy"])
    history = model.fit(x, y, epochs=2, verbose=0)
    assert all(a >= b for a, b in zip(history.history["top_k_accuracy"],
                                      history.history["accuracy"]))


def test_to_categorical_matches_keras(keras):
    for labels, n in [([0, 2, 1, 2], None), (np.array([[1], [0], [3]]), 5),
                      (np.arange(6).reshape(2, 3), None)]:
        got = to_categorical(labels, n)
        want = keras.utils.to_categorical(labels, n)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
