"""Numbers at the edge (issue 18, cases 6-9): inputs that overflow float32,
training that diverges, ``class_weight`` checked like ``sample_weight``,
``evaluate`` on nothing, 16-bit images. The bad-input refusals of cases 6-8
are rows of tests/test_bad_input_table.py."""
import warnings

import numpy as np
import pytest

import pyconv
from pyconv.callbacks import LambdaCallback
from pyconv.layers import Dense, Input
from pyconv.models import Sequential

from _support import run_python


def dense_model(loss="sparse_categorical_crossentropy", units=3, lr=0.01):
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(units)], seed=0)
    model.compile(pyconv.optimizers.SGD(lr), loss)
    return model


@pytest.fixture
def xy(rng):
    return rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, size=16)


# ------------------------------------------------------- 6: float32 overflow
# (the refusals, naming the array, are rows of tests/test_bad_input_table.py:
# "overflows-float32", "class-weight", "evaluate-zero-samples")
def test_infinite_and_nan_inputs_are_not_mistaken_for_overflow(xy):
    x = xy[0].astype(np.float64)
    x[0, 0], x[1, 1] = np.inf, np.nan
    assert dense_model().predict(x, verbose=0).shape == (16, 3)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimator_training_that_diverges_raises(rng, kind):
    X = np.full((20, 16), 3e38, dtype=np.float32)
    X[::2] *= -1
    y = np.arange(20) % 2
    est = (pyconv.CNNClassifier if kind == "classifier" else pyconv.CNNRegressor)(
        max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="training diverged.*no longer finite.*scale X"):
            est.fit(X, y if kind == "classifier" else y.astype(np.float64))


def test_sequential_stops_with_a_warning_when_the_loss_becomes_nan(xy):
    x, y = xy
    model = dense_model("mse", units=1, lr=1e30)
    losses = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "overflow|invalid", RuntimeWarning)
        with pytest.warns(RuntimeWarning, match=r"loss became (nan|inf) in epoch 1, batch \d+; "
                                                r"training stopped"):
            history = model.fit(x, y.astype(np.float32), epochs=20, batch_size=4, verbose=0,
                                shuffle=False, callbacks=[LambdaCallback(
                                    on_train_batch_end=lambda b, logs: losses.append(
                                        logs["loss"]))])
    assert model.stop_training and len(history.epoch) == 1
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()


# ------------------------------------------------------------ 7: class_weight
def test_class_weight_equals_the_sample_weights_it_stands_for(xy):
    x, y = xy
    class_weight = {0: 0.5, 1: 2.0, 7: 9.0}          # 7 is absent: ignored; 2 defaults to 1
    a = dense_model().fit(x, y, class_weight=class_weight, shuffle=False, verbose=0)
    b = dense_model().fit(x, y, sample_weight=np.array([0.5, 2.0, 1.0])[y], shuffle=False,
                          verbose=0)
    assert a.history["loss"] == b.history["loss"]


_HUGE_LABEL = """
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    import numpy as np
    from pyconv.layers import Dense, Input
    from pyconv.models import Sequential
    model = Sequential([Input((4,)), Dense(2)], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.zeros((8, 4), np.float32), np.arange(8) % 2
    model.fit(x, y, class_weight={10**9: 1.0, 2**62: 3.0, 1: 2.0}, verbose=0)
    print("FITTED")
"""


def test_class_weight_with_huge_labels_allocates_nothing_per_label_value():
    result = run_python(_HUGE_LABEL, env={"OMP_NUM_THREADS": 1}, timeout=300)
    assert result.returncode == 0 and "FITTED" in result.stdout, result.stderr[-2000:]


# ------------------------------------------------------------ 9: 16-bit PNG
def test_16_bit_grayscale_png_is_scaled_to_uint8(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "gray16.png"
    Image.fromarray(np.array([[0, 1000, 30000, 65535]], dtype=np.uint16)).save(path)
    img = pyconv.image.load_image(path)
    assert img.dtype == np.uint8 and img.shape == (3, 1, 4)
    np.testing.assert_array_equal(img, np.broadcast_to([[[0, 4, 117, 255]]], (3, 1, 4)))
    ramp = np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16)   # k * 257 -> k
    Image.fromarray(ramp).save(path)
    np.testing.assert_array_equal(pyconv.image.load_image(path)[1],
                                  np.arange(256, dtype=np.uint8).reshape(16, 16))

