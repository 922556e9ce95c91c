"""The common first mistakes of a new user get a clear answer, at once.

- Channels-last images (Keras's and OpenCV's layout) are read by pyconv as
  NCHW and would train silently on nonsense: a warning says so, with the fix.
- Data that is not an array nor batches (a Sequence-like object) is a
  TypeError before numpy starts iterating it.
- fit before compile is a ValueError (as Keras 3); NaN in ``x`` warns.
- A save path whose suffix names another tool's format is refused.
"""
import warnings

import numpy as np
import pytest

import pyconv
from pyconv import _validation, layers
from pyconv.models import Sequential


@pytest.fixture(autouse=True)
def _fresh_channels_last_memory(monkeypatch):
    # The warning fires once per shape and process; every test starts afresh.
    monkeypatch.setattr(_validation, "_CHANNELS_LAST_WARNED", set())


@pytest.mark.parametrize("shape, expected", [
    ((32, 32, 3), True), ((28, 28, 1), True), ((8, 8, 1), True), ((64, 64, 4), True),
    ((3, 32, 32), False), ((1, 8, 8), False), ((16, 4, 4), False), ((1, 1, 64), False),
    ((64,), False), ((2, 2, 1), True), ((8, 9, 3), True), ((3, 5, 3), False),
    ((7, 3, 3), False), ((2, 8, 9, 3), True),
])
def test_what_looks_channels_last(shape, expected):
    assert _validation.looks_channels_last(shape) is expected


def test_input_with_channels_last_shape_warns_once_with_the_fix():
    # The layers reading an Input decide its layout: the model warns when
    # no channels_last layer reads a channels-last-looking shape.
    with pytest.warns(UserWarning, match=r"looks channels-last.*\(3, 32, 32\).*"
                                         r"transpose\(0, 3, 1, 2\).*data_format"):
        Sequential([layers.Input(shape=(32, 32, 3)), layers.Conv2D(4, 3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Sequential([layers.Input(shape=(32, 32, 3)), layers.Conv2D(4, 3)])   # once per shape
        inputs = layers.Input(shape=(24, 24, 3))
        pyconv.Model(inputs, layers.Conv2D(4, 3, data_format="channels_last")(inputs))
        Sequential([layers.Input(shape=(24, 24, 3)),
                    layers.Conv2D(4, 3, data_format="channels_last")])
        layers.Input(shape=(3, 32, 32))            # NCHW: silent
    with pytest.warns(UserWarning, match=r"\(3, 20, 20\)"):
        inputs = layers.Input(shape=(20, 20, 3))
        pyconv.Model(inputs, layers.Conv2D(4, 3)(inputs))


def test_first_layer_input_shape_and_fit_on_nhwc_data_warn(rng):
    with pytest.warns(UserWarning, match="NCHW"):
        layers.Conv2D(4, 3, input_shape=(28, 28, 1))
    model = Sequential([layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.warns(UserWarning, match=r"per-sample shape \(16, 16, 3\)"):
        model.fit(rng.random((4, 16, 16, 3)), np.zeros((4, 2)), verbose=0)


def test_estimator_on_nhwc_digits_warns():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.images[:60] / 16.0)[..., None]      # (n, 8, 8, 1): the first mistake
    with pytest.warns(UserWarning, match=r"\(1, 8, 8\)"):
        pyconv.CNNClassifier(max_iter=1, random_state=0).fit(X, digits.target[:60])


# (conv2d's shape errors naming the NCHW convention: the "names-the-layout" rows
# of tests/test_bad_input_table.py)


def _generator():
    yield np.zeros((2, 4)), np.zeros((2, 2))


class _SequenceLike:
    """A Keras-style Sequence: numpy would iterate it item by item."""

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.zeros((2, 4)), np.zeros((2, 2))


@pytest.mark.parametrize("data", [_SequenceLike(), {"x": 1}, object()],
                         ids=["sequence", "dict", "object"])
def test_non_array_data_is_a_type_error_at_once(data):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="`x` must be (an array, a generator|a real-valued)"):
        model.predict(data, verbose=0)
    with pytest.raises(TypeError, match="`x` must be a real-valued numeric array"):
        model.predict_on_batch(data)
    assert model.predict(_generator(), verbose=0).shape == (2, 2)     # batches are data


def test_fit_before_compile_is_a_value_error_and_nan_warns(rng):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"compile\(\) before fit"):
        model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0)
    model.compile("sgd", "mse")
    x = rng.random((4, 4))
    x[1, 2] = np.nan
    with pytest.warns(RuntimeWarning, match="`x` contains NaN"):
        model.fit(x, np.zeros((4, 2)), verbose=0)


def test_finiteness_check_reads_a_large_array_in_blocks():
    x = np.zeros((1000, 3, 8, 8), np.float32)
    assert _validation.all_finite(x, chunk_elements=1000)
    x[-1, -1, -1, -1] = np.inf
    assert not _validation.all_finite(x, chunk_elements=1000)


@pytest.mark.parametrize("name", ["m.h5", "m.HDF5", "m.keras", "m.pt", "m.pth", "m.onnx"])
def test_save_refuses_another_tools_suffix(tmp_path, name):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`filepath`.*use '\.pyconv'"):
        model.save(tmp_path / name)
    assert not list(tmp_path.iterdir())             # nothing written
    model.save(tmp_path / "m.pyconv")
