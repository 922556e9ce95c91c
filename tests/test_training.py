"""compile/fit/evaluate/predict, optimizers and losses (Keras 3 semantics)."""
import io
import os
import signal
import sys

import numpy as np
import pytest

from pyconv import losses, metrics, optimizers
from pyconv.callbacks import Callback, LambdaCallback
from pyconv.models import Model, Sequential
from pyconv.utils import set_random_seed

from pyconv.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPool2D, Softmax


# ----------------------------------------------------------------- helpers
def blobs(rng, n=96, features=4, classes=3, dtype=np.float32):
    """Well-separated Gaussian blobs: an easy classification problem."""
    centers = rng.normal(scale=4.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = centers[y] + rng.normal(size=(n, features))
    return x.astype(dtype), y


def small_graph_model(seed=0, features=4, classes=3, **compile_kw):
    """`small_model` written with the Functional API (a graph `Model`)."""
    inputs = Input((features,))
    hidden = Dense(8, activation="relu")(inputs)
    model = Model(inputs, Dense(classes, activation="softmax")(hidden), seed=seed)
    compile_kw.setdefault("optimizer", optimizers.Adam(0.05))
    compile_kw.setdefault("loss", "sparse_categorical_crossentropy")
    compile_kw.setdefault("metrics", ["accuracy"])
    model.compile(**compile_kw)
    return model


def small_model(seed=0, features=4, classes=3, softmax_layer=False, **compile_kw):
    layers = [Input((features,)), Dense(8, activation="relu")]
    if softmax_layer:
        layers += [Dense(classes), Softmax()]
    else:
        layers += [Dense(classes, activation="softmax")]
    model = Sequential(layers, seed=seed)
    compile_kw.setdefault("optimizer", optimizers.Adam(0.05))
    compile_kw.setdefault("loss", "sparse_categorical_crossentropy")
    compile_kw.setdefault("metrics", ["accuracy"])
    model.compile(**compile_kw)
    return model


# --------------------------------------------------------------------- fit
def test_fit_reduces_loss_and_history_keys(rng):
    x, y = blobs(rng)
    model = small_model()
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert list(history.history) == ["loss", "accuracy"]
    assert history.epoch == list(range(8))
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert history.history["accuracy"][-1] > 0.9
    assert model.history is history


def test_fit_with_softmax_layer_uses_fused_gradient(rng):
    x, y = blobs(rng)
    model = small_model(softmax_layer=True)
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert model._fused == "skip"
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_validation_split_uses_last_samples(rng):
    x, y = blobs(rng, n=100)
    model = small_model()
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    loss, acc = model.evaluate(x[80:], y[80:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(loss, rel=1e-12)
    assert history.history["val_accuracy"][0] == pytest.approx(acc, rel=1e-12)


def test_validation_data_overrides_split(rng):
    x, y = blobs(rng, n=64)
    xv, yv = blobs(rng, n=20)
    w = rng.uniform(0.5, 2.0, size=20)
    model = small_model()
    history = model.fit(x, y, epochs=2, validation_data=(xv, yv, w), validation_split=0.5,
                        verbose=0)
    assert len(history.history["val_loss"]) == 2
    expected = model.evaluate(xv, yv, sample_weight=w, verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-12)
    # the whole x trained (no split): one epoch = 2 steps of 32
    steps = []
    model.fit(x, y, epochs=1, verbose=0, validation_data=(xv, yv),
              callbacks=[LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))])
    assert steps == [0, 1]


def test_initial_epoch_and_zero_epochs(rng):
    x, y = blobs(rng, n=32)
    model = small_model()
    history = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert history.epoch == [1, 2]
    assert model.fit(x, y, epochs=0, verbose=0).history == {}


def test_evaluate_predict_and_batch_methods(rng):
    x, y = blobs(rng, n=40)
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0)
    probs = model.predict(x, batch_size=7, verbose=0)
    assert probs.shape == (40, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict_on_batch(x), probs)
    np.testing.assert_array_equal(model(x), probs)
    loss, acc = model.evaluate(x, y, verbose=0)
    manual = losses.SparseCategoricalCrossentropy()(y, probs)
    assert loss == pytest.approx(manual, rel=1e-5)
    assert acc == pytest.approx(np.mean(probs.argmax(1) == y))
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss, "accuracy": acc}
    assert model.test_on_batch(x, y) == pytest.approx([loss, acc], rel=1e-6)
    before = model.get_weights()
    out = model.train_on_batch(x, y, return_dict=True)
    assert out["loss"] == pytest.approx(loss, rel=1e-5)  # measured before the update
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_evaluate_without_metrics_returns_scalar(rng):
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)
    model = Sequential([Input((3,)), Dense(1)], seed=0)
    model.compile(optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=30, verbose=0, batch_size=20)
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float) and loss < 0.05


def test_sample_weight_and_class_weight_semantics(rng):
    x, y = blobs(rng, n=12)
    w = rng.uniform(0.0, 3.0, size=12)
    model = small_model()
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(np.clip(probs[np.arange(12), y] / probs.sum(1), 1e-7, 1 - 1e-7))
    expected = float(np.sum(w * per_sample) / 12)   # Keras: divided by n, not sum(w)
    assert model.test_on_batch(x, y, sample_weight=w)[0] == pytest.approx(expected, rel=1e-5)
    class_weight = {0: 2.0, 1: 0.5}          # class 2 keeps weight 1
    cw = np.array([2.0, 0.5, 1.0])[y]
    a, b = small_model(seed=1), small_model(seed=1)
    la = a.train_on_batch(x, y, class_weight=class_weight)[0]
    lb = b.train_on_batch(x, y, sample_weight=cw)[0]
    assert la == pytest.approx(lb, rel=1e-12)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_regularization_is_added_to_loss(rng):
    x, y = blobs(rng, n=10)
    model = Sequential([Input((4,)), Dense(3, kernel_regularizer="l2")], seed=0)
    model.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True))
    plain = losses.SparseCategoricalCrossentropy(from_logits=True)(y, model.predict(x, verbose=0))
    penalty = 0.01 * float(np.sum(model.layers[0].kernel.astype(np.float64) ** 2))
    assert model.test_on_batch(x, y) == pytest.approx(plain + penalty, rel=1e-5)


def test_input_dtypes(rng):
    x = rng.integers(0, 255, size=(16, 4)).astype(np.uint8)
    y = rng.integers(0, 3, size=16)
    model = small_model()
    assert model.predict(x, verbose=0).dtype == np.float32
    model64 = Sequential([Input((4,), dtype="float64"), Dense(3, dtype="float64")], seed=0)
    model64.compile("sgd", "mse")
    assert model64.predict(x.astype(np.float32), verbose=0).dtype == np.float64
    model64.fit(x, np.zeros((16, 3)), verbose=0)
    assert model64.layers[0].kernel.dtype == np.float64


def test_builds_from_first_fit(rng):
    x, y = blobs(rng, n=16)
    model = Sequential([Dense(5, activation="relu"), Dense(3)], seed=0)
    model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not model.built
    model.fit(x, y, verbose=0)
    assert model.built and model.input_shape == (None, 4) and model.output_shape == (None, 3)


# ------------------------------------------------------------------ errors
# (bad arguments to compile/fit/evaluate/predict: tests/test_bad_input_table.py)
def test_predict_needs_no_compile(rng):
    x, _ = blobs(rng, n=8)
    model = Sequential([Input((4,)), Dense(3)])
    assert model.predict(x, verbose=0).shape == (8, 3)


# ------------------------------------------------------- reproducibility
def test_same_seed_gives_bit_identical_training(rng):
    x, y = blobs(rng, n=50)

    def train(seed=None):
        model = Sequential([Input((4,)), Dense(16, activation="relu"), Dropout(0.3),
                            Dense(3, activation="softmax")], seed=seed)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        return model.get_weights()

    a, b, c = train(7), train(7), train(8)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))
    set_random_seed(123)
    d = train()
    set_random_seed(123)
    e = train()
    for wd, we in zip(d, e):
        np.testing.assert_array_equal(wd, we)


# -------------------------------------------------------------- Ctrl-C
class _SendSigint(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None
        self.batches_after = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        elif self.epoch is not None and (self.epoch, batch) > self.at:
            self.batches_after += 1


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32",
                    reason="needs POSIX signals")
@pytest.mark.parametrize("make_model", [small_model, small_graph_model],
                         ids=["sequential", "graph"])
def test_ctrl_c_stops_after_batch_and_returns_history(make_model, rng, capsys, python_sigint):
    x, y = blobs(rng, n=64)
    model = make_model()
    sender = _SendSigint(epoch=1, batch=0)
    ended = []
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[
        sender, LambdaCallback(on_train_end=lambda logs: ended.append(True))])
    assert history.epoch == [0]                      # epoch 1 was cut short
    assert sender.batches_after == 0                 # no batch ran after the signal
    assert ended == [True] and model.stop_training
    assert "interrupted" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert np.all(np.isfinite(model.predict(x, verbose=0)))
    assert model.fit(x, y, epochs=1, verbose=0).epoch == [0]   # still trainable


# -------------------------------------------------------------- verbose
def test_verbose_0_prints_nothing(rng, capsys):
    x, y = blobs(rng, n=32)
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_one_line_per_epoch(rng, capsys):
    x, y = blobs(rng, n=32)
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 - ")
    for key in ("loss: ", "accuracy: ", "val_loss: ", "val_accuracy: ", "/step"):
        assert key in lines[1]
    assert "\r" not in "".join(lines)


def test_verbose_auto_is_one_line_per_epoch_when_not_a_terminal(rng, capsys):
    x, y = blobs(rng, n=32)
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=8)     # capsys: not a terminal
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and "\r" not in out and out.startswith("Epoch 1/1\n4/4 - ")


class _FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_verbose_1_redraws_a_bar_on_a_terminal(rng, monkeypatch):
    x, y = blobs(rng, n=32)
    model = small_model()
    term = _FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    import pyconv._progbar as progbar
    monkeypatch.setattr(progbar.time, "perf_counter",
                        iter(np.arange(0.0, 1000.0, 0.5)).__next__)  # every update is drawn
    model.fit(x, y, epochs=1, batch_size=8, verbose="auto", validation_split=0.25)
    out = term.getvalue()
    assert out.startswith("Epoch 1/1\n")
    frames = out.split("\r")[1:]
    assert len(frames) == 3 + 1                 # 3 steps + the final frame
    assert "ETA" in frames[0] and "1/3" in frames[0] and "\u2501" in frames[0]
    assert frames[-1].startswith("3/3") and "val_loss" in frames[-1] and "ETA" not in frames[-1]
    assert frames[-1].endswith("\n")


def test_verbose_1_without_terminal_prints_the_final_bar_only(rng, capsys):
    x, y = blobs(rng, n=32)
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 2 and "4/4" in out


def test_auto_is_quiet_in_worker_threads(rng, capsys):
    import threading

    x, y = blobs(rng, n=16)
    model = small_model()
    thread = threading.Thread(target=model.fit, args=(x, y), kwargs={"epochs": 1})
    thread.start()
    thread.join()
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------- optimizers
def _run_optimizer(opt, w0, grads):
    w = [a.copy() for a in w0]
    for g in grads:
        opt.apply(g, w)
    return w


def test_sgd_hand_computed():
    w = np.array([1.0, -2.0])
    g = np.array([0.5, 1.0])
    opt = optimizers.SGD(0.1, momentum=0.9)
    opt.apply([g], [w])
    np.testing.assert_allclose(w, [1.0 - 0.05, -2.0 - 0.1])
    opt.apply([g], [w])    # m = 0.9 * (-lr g) - lr g = -1.9 lr g
    np.testing.assert_allclose(w, [1.0 - 0.05 - 0.095, -2.0 - 0.1 - 0.19])
    w = np.array([1.0])
    nesterov = optimizers.SGD(0.1, momentum=0.5, nesterov=True)
    nesterov.apply([np.array([1.0])], [w])   # m = -0.1; w += 0.5 m - 0.1
    np.testing.assert_allclose(w, [1.0 - 0.05 - 0.1])
    w = np.array([2.0])
    optimizers.SGD(0.1, weight_decay=0.5).apply([np.array([0.0])], [w])
    np.testing.assert_allclose(w, [2.0 - 0.1 * 0.5 * 2.0])   # decoupled decay


def test_adam_rmsprop_hand_computed():
    w = np.array([1.0])
    opt = optimizers.Adam(0.1, beta_1=0.9, beta_2=0.99, epsilon=1e-7)
    g1, g2 = 2.0, -1.0
    opt.apply([np.array([g1])], [w])
    opt.apply([np.array([g2])], [w])
    m1, v1 = 0.1 * g1, 0.01 * g1 ** 2
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.99 * v1 + 0.01 * g2 ** 2
    step1 = 0.1 * np.sqrt(1 - 0.99) / (1 - 0.9) * m1 / (np.sqrt(v1) + 1e-7)
    step2 = 0.1 * np.sqrt(1 - 0.99 ** 2) / (1 - 0.9 ** 2) * m2 / (np.sqrt(v2) + 1e-7)
    np.testing.assert_allclose(w, [1.0 - step1 - step2], rtol=1e-12)
    assert opt.iterations == 2
    w = np.array([1.0])
    rms = optimizers.RMSprop(0.01, rho=0.9, momentum=0.5, epsilon=1e-7)
    rms.apply([np.array([2.0])], [w])
    rms.apply([np.array([2.0])], [w])
    v1, v2 = 0.4, 0.9 * 0.4 + 0.4
    inc1, inc2 = 0.01 * 2 / np.sqrt(v1 + 1e-7), 0.01 * 2 / np.sqrt(v2 + 1e-7)
    np.testing.assert_allclose(w, [1.0 - inc1 - (0.5 * inc1 + inc2)], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda: optimizers.Adam(0.01),
                                  lambda: optimizers.AdamW(0.003, weight_decay=0.1)],
                         ids=["adam", "adamw"])
def test_compiled_adam_update_is_the_numpy_one_bit_for_bit(rng, monkeypatch, dtype, make):
    """The compiled update (optim.adam_update) gives exactly the numpy
    code's results, float32 and float64, over several steps."""
    w0 = [rng.normal(size=(5, 7)).astype(dtype), rng.normal(size=(33,)).astype(dtype)]
    grads = [[(rng.normal(size=w.shape) * 10.0 ** rng.integers(-3, 3)).astype(dtype)
              for w in w0] for _ in range(6)]
    calls = []
    kernel = optimizers._optim.adam_update
    monkeypatch.setattr(optimizers._optim, "adam_update",
                        lambda *args: calls.append(1) or kernel(*args))
    compiled = _run_optimizer(make(), [w.copy() for w in w0], grads)
    assert len(calls) == 6 * len(w0)          # the compiled path really ran
    monkeypatch.setattr(optimizers, "_fusable", lambda grad, var: False)
    plain = _run_optimizer(make(), [w.copy() for w in w0], grads)
    for a, b in zip(compiled, plain):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, ours, theirs", [
    ("sgd", lambda: optimizers.SGD(0.05), lambda t, p: t.optim.SGD(p, lr=0.05)),
    ("momentum", lambda: optimizers.SGD(0.05, momentum=0.9),
     lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("nesterov", lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
     lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", lambda: optimizers.Adam(0.01, epsilon=1e-12),
     lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-12)),
    ("amsgrad", lambda: optimizers.Adam(0.01, epsilon=1e-12, amsgrad=True),
     lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-12, amsgrad=True)),
    ("adamw", lambda: optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-12),
     lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-12)),
    ("rmsprop", lambda: optimizers.RMSprop(0.01, epsilon=1e-12),
     lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-12)),
    ("rmsprop_momentum_centered",
     lambda: optimizers.RMSprop(0.01, momentum=0.8, centered=True, epsilon=1e-12),
     lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.8, centered=True,
                                  eps=1e-12)),
])
def test_optimizers_match_torch(rng, name, ours, theirs):
    torch = pytest.importorskip("torch")
    w0 = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    grads = [[rng.normal(size=(3, 4)), rng.normal(size=(4,))] for _ in range(5)]
    mine = _run_optimizer(ours(), w0, grads)
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in w0]
    opt = theirs(torch, params)
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = torch.tensor(gi, dtype=torch.float64)
        opt.step()
    for a, p in zip(mine, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_optimizer_state_roundtrip_and_lr_setter():
    w = [np.ones(3)]
    a = optimizers.Adam(0.1)
    a.apply([np.array([1.0, 2.0, 3.0])], w)
    state = a.get_state()
    b = optimizers.Adam(0.1)
    b.build([wb := w[0].copy()])
    b.set_state(state)
    g = np.array([0.5, -1.0, 2.0])
    a.apply([g], w)
    b.apply([g], [wb])
    np.testing.assert_array_equal(w[0], wb)
    a.learning_rate = 0.5
    assert a.learning_rate == 0.5
    assert optimizers.get("RMSprop").learning_rate == 0.001
    assert isinstance(optimizers.get({"class_name": "SGD", "config": {"momentum": 0.5}}),
                      optimizers.SGD)


# -------------------------------------------------------------- losses
def _finite_difference(fn, y_pred, eps=1e-6):
    grad = np.zeros_like(y_pred)
    flat = y_pred.reshape(-1)
    out = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = fn(y_pred)
        flat[i] = old - eps
        down = fn(y_pred)
        flat[i] = old
        out[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss, kind", [
    (losses.SparseCategoricalCrossentropy(), "sparse"),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "sparse_logits"),
    (losses.CategoricalCrossentropy(), "onehot"),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), "onehot_logits"),
    (losses.BinaryCrossentropy(), "binary"),
    (losses.BinaryCrossentropy(from_logits=True), "binary_logits"),
    (losses.MeanSquaredError(), "regression"),
    (losses.MeanAbsoluteError(), "regression"),
])
def test_loss_gradients_match_finite_differences(rng, loss, kind):
    n, k = 5, 4
    if kind.startswith("sparse"):
        y = rng.integers(0, k, size=n)
    elif kind.startswith("onehot"):
        y = np.eye(k)[rng.integers(0, k, size=n)]
    elif kind.startswith("binary"):
        y = rng.integers(0, 2, size=(n, k)).astype(float)
    else:
        y = rng.normal(size=(n, k))
    if kind.endswith("logits") or kind == "regression":
        y_pred = rng.normal(size=(n, k))
    elif kind == "binary":
        y_pred = rng.uniform(0.05, 0.95, size=(n, k))
    else:
        y_pred = rng.uniform(0.1, 1.0, size=(n, k))  # unnormalised: tests the p/sum(p) path
    targets = loss.prepare_targets(y, (k,), np.float64, n)
    analytic = loss.gradient(targets, y_pred)
    numeric = _finite_difference(lambda p: float(np.sum(loss.call(targets, p))), y_pred)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss, activation", [
    (losses.SparseCategoricalCrossentropy(), "softmax"),
    (losses.CategoricalCrossentropy(), "softmax"),
    (losses.BinaryCrossentropy(), "sigmoid"),
])
def test_fused_logits_gradient_matches_finite_differences(rng, loss, activation):
    n, k = 4, 3
    z = rng.normal(size=(n, k))
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y = rng.integers(0, k, size=n)
    elif isinstance(loss, losses.CategoricalCrossentropy):
        y = np.eye(k)[rng.integers(0, k, size=n)]
    else:
        y = rng.integers(0, 2, size=(n, k)).astype(float)
    act = losses._softmax if activation == "softmax" else losses._sigmoid
    targets = loss.prepare_targets(y, (k,), np.float64, n)
    analytic = loss.logits_gradient(targets, act(z))
    numeric = _finite_difference(lambda zz: float(np.sum(loss.call(targets, act(zz)))), z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    t = torch.tensor
    assert losses.get("sparse_categorical_crossentropy")(y, losses._softmax(z)) == \
        pytest.approx(float(F.cross_entropy(t(z), t(y))), rel=1e-9)
    assert losses.CategoricalCrossentropy(from_logits=True)(np.eye(4)[y], z) == \
        pytest.approx(float(F.cross_entropy(t(z), t(y))), rel=1e-9)
    yb = rng.integers(0, 2, size=(6, 4)).astype(float)
    assert losses.BinaryCrossentropy(from_logits=True)(yb, z) == \
        pytest.approx(float(F.binary_cross_entropy_with_logits(t(z), t(yb))), rel=1e-9)
    assert losses.get("mae")(yb, z) == pytest.approx(float(F.l1_loss(t(z), t(yb))), rel=1e-12)
    w = rng.uniform(size=6)
    per = losses.get("mse")(yb, z, sample_weight=None)
    assert losses.MeanSquaredError(reduction="none")(yb, z) @ w / 6 == \
        pytest.approx(losses.get("mse")(yb, z, sample_weight=w), rel=1e-12)
    assert per == pytest.approx(float(F.mse_loss(t(z), t(yb))), rel=1e-12)


def test_probability_clipping_is_keras_like():
    loss = losses.SparseCategoricalCrossentropy()
    assert loss(np.array([0]), np.array([[0.0, 1.0]])) == pytest.approx(-np.log(1e-7))


def test_accuracy_resolution():
    sparse = metrics.get("accuracy")
    sparse.update_state(np.array([0, 2]), np.array([[0.9, 0.0, 0.1], [0.1, 0.2, 0.7]]))
    assert sparse.result() == 1.0 and sparse.name == "accuracy"
    onehot = metrics.get("acc")
    onehot.update_state(np.eye(3)[[1, 1]], np.array([[0.9, 0.0, 0.1], [0.1, 0.8, 0.1]]))
    assert onehot.result() == 0.5 and onehot.name == "acc"
    binary = metrics.get("accuracy")
    binary.update_state(np.array([[1.0], [0.0], [1.0]]), np.array([[0.7], [0.6], [0.2]]))
    assert binary.result() == pytest.approx(1 / 3)
    mse = metrics.get("mse")
    mse.update_state(np.array([1.0, 2.0]), np.array([[0.0], [4.0]]))
    assert mse.result() == 2.5


def test_binary_model_with_accuracy(rng):
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = Sequential([Input((2,)), Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizers.SGD(0.5), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model._fused == "inside"
    assert history.history["accuracy"][-1] > 0.9


def test_fused_inside_dense_backward_matches_unfused(rng):
    """Dense(activation="softmax") + CE: fused gradient equals the plain chain rule
    (on inputs small enough that no probability is clipped)."""
    x = 0.1 * rng.normal(size=(8, 4))
    y = rng.integers(0, 3, size=8)
    a = Sequential([Input((4,), dtype="float64"), Dense(3, activation="softmax", dtype="float64")],
                   seed=0)
    b = Sequential([Input((4,), dtype="float64"), Dense(3, activation="softmax", dtype="float64")],
                   seed=0)
    for model in (a, b):
        model.compile(optimizers.SGD(1.0), "sparse_categorical_crossentropy")
    b._fused_loss = lambda: ""   # force the unfused path (plain chain rule)
    a.train_on_batch(x, y)
    b.train_on_batch(x, y)
    assert a._fused == "inside"
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


# -------------------------------------------------- real-layer checks
def test_lenet_on_digits_reaches_good_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    model = Sequential([
        Input((1, 8, 8)),
        Conv2D(8, 3, padding="same", activation="relu"),
        MaxPool2D(2),
        Conv2D(16, 3, padding="same", activation="relu"),
        Flatten(),
        Dense(32, activation="relu"),
        Dense(10, activation="softmax"),
    ], seed=0)
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x[:1400], y[:1400], epochs=5, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[1400:], y[1400:], verbose=0)
    assert accuracy >= 0.9


def test_train_on_batch_matches_torch_sgd_step(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(6, 2, 9, 9)).astype(np.float32)
    y = rng.integers(0, 5, size=6)
    model = Sequential([
        Input((2, 9, 9)),
        Conv2D(4, 3, padding=1, activation="relu"),
        MaxPool2D(2),
        Conv2D(3, 2),
        Flatten(),
        Dense(5),
        Softmax(),
    ], seed=0)
    model.compile(optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    c1, b1, c2, b2, kernel, bias = model.get_weights()
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 3, 2), torch.nn.Flatten(), torch.nn.Linear(27, 5))
    with torch.no_grad():
        for param, value in zip(net.parameters(), [c1, b1, c2, b2, kernel.T, bias]):
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        loss_ours = model.train_on_batch(x, y)
        opt.zero_grad()
        loss_torch = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)),
                                                       torch.from_numpy(y))
        loss_torch.backward()
        opt.step()
        assert loss_ours == pytest.approx(loss_torch.item(), rel=1e-5)
    expected = [p.detach().numpy() for p in net.parameters()]
    expected[4] = expected[4].T
    for ours, theirs in zip(model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_class_weight_applies_to_training_samples_only(rng):
    x, y = blobs(rng, n=40)
    model = small_model()
    history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, verbose=0,
                        class_weight={0: 5.0, 1: 0.1, 2: 1.0})
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[30:], y[30:], verbose=0)[0], rel=1e-12)
