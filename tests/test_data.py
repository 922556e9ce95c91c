"""fit/evaluate/predict on generators, iterables and PyDataset (Keras 3 semantics)."""
import os
import signal
import threading

import numpy as np
import pytest

from pyconv.callbacks import Callback
from pyconv.layers import Conv2D, Dense, Flatten, Input
from pyconv.models import Sequential
from pyconv.optimizers import SGD
from pyconv.utils import PyDataset

BATCH = 8


def conv_data(rng, n=40):
    x = rng.normal(size=(n, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(np.int64)
    y[::3] = 2
    return x, y


def conv_model(input_layer=True):
    layers = [Input((1, 6, 6))] if input_layer else []
    layers += [Conv2D(4, 3, activation="relu"), Flatten(), Dense(3, activation="softmax")]
    model = Sequential(layers, seed=0)
    model.compile(optimizer=SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def batches(x, y, w=None):
    for start in range(0, len(x), BATCH):
        part = slice(start, start + BATCH)
        yield (x[part], y[part]) if w is None else (x[part], y[part], w[part])


class Batches:
    """A re-iterable object: a new pass over the arrays at each ``iter``."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        return batches(self.x, self.y)


class ArrayDataset(PyDataset):
    """Batches of arrays by index, recording which indices were read."""

    def __init__(self, x, y, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.fail_at = x, y, fail_at
        self.read = []
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __getitem__(self, index):
        if index == self.fail_at:
            raise KeyError(f"no batch {index} here")
        self.read.append(index)
        part = slice(index * BATCH, (index + 1) * BATCH)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def data_threads():
    return [t for t in threading.enumerate() if t.name.startswith("pyconv-data")]


# ------------------------------------------------------------------ parity
def test_generator_fit_equals_array_fit_in_the_same_order(rng):
    x, y = conv_data(rng)
    w = rng.uniform(0.5, 2.0, size=len(x))
    reference = conv_model()
    expected = reference.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=3,
                             shuffle=False, verbose=0)

    def looping():
        while True:
            yield from batches(x, y, w)

    model = conv_model()
    history = model.fit(looping(), steps_per_epoch=len(x) // BATCH, epochs=3, verbose=0)
    assert history.history == expected.history
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_reiterable_fit_equals_array_fit_with_validation(rng):
    x, y = conv_data(rng)
    xv, yv = conv_data(rng, n=20)
    reference = conv_model()
    expected = reference.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                             validation_data=(xv, yv))
    model = conv_model(input_layer=False)             # built from the first batch
    history = model.fit(Batches(x, y), epochs=2, verbose=0,
                        validation_data=ArrayDataset(xv, yv))
    assert history.history == expected.history
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_evaluate_and_predict_on_batches_equal_arrays(rng):
    x, y = conv_data(rng, n=37)
    model = conv_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    want = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert model.evaluate(batches(x, y), verbose=0) == want
    assert model.evaluate(ArrayDataset(x, y, workers=2), verbose=0) == want
    expected = model.predict(x, batch_size=BATCH, verbose=0)
    np.testing.assert_array_equal(model.predict(ArrayDataset(x, y), verbose=0), expected)
    only_x = (x[i:i + BATCH] for i in range(0, len(x), BATCH))
    np.testing.assert_array_equal(model.predict(only_x, verbose=0), expected)
    np.testing.assert_array_equal(model.predict(batches(x, y), steps=2, verbose=0),
                                  expected[:2 * BATCH])


@pytest.mark.parametrize("shuffle", [False, True])
def test_pydataset_workers_do_not_change_the_results(rng, shuffle):
    x, y = conv_data(rng, n=64)
    results = []
    for workers in (0, 1, 2, 3):
        model = conv_model()
        data = ArrayDataset(x, y, workers=workers, max_queue_size=2)
        history = model.fit(data, epochs=3, shuffle=shuffle, verbose=0)
        results.append((history.history, model.get_weights(), data.read))
        assert data.epochs_ended == 3
    for history, weights, read in results[1:]:
        assert history == results[0][0]
        assert read == results[0][2]
        for got, want in zip(weights, results[0][1]):
            np.testing.assert_array_equal(got, want)
    assert not data_threads()


def test_pydataset_shuffle_shuffles_batch_order(rng):
    x, y = conv_data(rng, n=64)
    data = ArrayDataset(x, y)
    conv_model().fit(data, epochs=2, shuffle=True, verbose=0)
    first, second = data.read[:8], data.read[8:]
    assert sorted(first) == sorted(second) == list(range(8))
    assert first != list(range(8)) and first != second
    data = ArrayDataset(x, y)
    conv_model().fit(data, epochs=2, shuffle=False, steps_per_epoch=3, verbose=0)
    assert data.read == [0, 1, 2] * 2


def test_pydataset_in_worker_processes_equals_threads(rng):
    x, y = conv_data(rng, n=32)
    histories = []
    for processes in (False, True):
        model = conv_model()
        data = ArrayDataset(x, y, workers=2, use_multiprocessing=processes)
        histories.append(model.fit(data, epochs=2, verbose=0).history)
    assert histories[0] == histories[1]


# ------------------------------------------------------------ epochs, ends
def test_one_shot_generator_runs_out_with_a_warning(rng):
    x, y = conv_data(rng)
    model = conv_model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches(x, y), epochs=3, verbose=0)
    assert history.epoch == [0]


def test_generator_shorter_than_steps_per_epoch_stops(rng):
    x, y = conv_data(rng)
    model = conv_model()
    with pytest.warns(UserWarning, match="steps_per_epoch"):
        history = model.fit(batches(x, y), steps_per_epoch=3, epochs=3, verbose=0)
    assert history.epoch == [0, 1]


# --------------------------------------------------------------- bad input
# (non-arrays, and array-only arguments with a batch source: the rows of
# tests/test_bad_input_table.py)
def test_bad_batch_mid_epoch_names_its_index(rng):
    x, y = conv_data(rng)

    def bad_shape():
        yield x[:8], y[:8]
        yield x[:8], y[:8]
        yield x[:8, :, :5], y[:8]

    with pytest.raises(ValueError, match=r"batch 2 of `x`: `x` must be .*\(8, 1, 5, 6\)"):
        conv_model().fit(bad_shape(), epochs=1, verbose=0)

    def bad_dtype():
        yield x[:8], y[:8]
        yield np.full((8, 1, 6, 6), "a"), y[:8]

    with pytest.raises(TypeError, match="batch 1 of `x`: `x` must be a real-valued"):
        conv_model().fit(bad_dtype(), epochs=1, verbose=0)

    def no_targets():
        yield x[:8]

    with pytest.raises(ValueError, match=r"batch 0 of `x` must be a tuple \(x, y\)|"
                                         r"batch 0 of `x`: a tuple \(x, y\)"):
        conv_model().fit(no_targets(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"batch 1 of `validation_data`"):
        conv_model().fit(x, y, epochs=1, verbose=0, validation_data=bad_dtype_y(x, y))


def bad_dtype_y(x, y):
    yield x[:8], y[:8]
    yield x[:8], y[:5]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_raising_worker_stops_fit_with_its_exception(rng, workers):
    x, y = conv_data(rng, n=64)
    data = ArrayDataset(x, y, fail_at=5, workers=workers)
    with pytest.raises(KeyError, match="no batch 5 here"):
        conv_model().fit(data, epochs=2, shuffle=False, verbose=0)
    assert not data_threads()


class InterruptAt(Callback):
    def __init__(self, batch, signal_it):
        super().__init__()
        self.batch, self.signal_it = batch, signal_it

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            if self.signal_it:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
@pytest.mark.parametrize("signal_it", [True, False])
def test_ctrl_c_during_a_threaded_pipeline_stops_cleanly(rng, capsys, signal_it, python_sigint):
    x, y = conv_data(rng, n=64)
    data = ArrayDataset(x, y, workers=2, max_queue_size=4)
    model = conv_model()
    history = model.fit(data, epochs=3, verbose=0, callbacks=[InterruptAt(2, signal_it)])
    assert history.epoch == []
    assert "interrupted" in capsys.readouterr().out
    assert not data_threads()
    assert model.fit(data, epochs=1, verbose=0).epoch == [0]    # usable again


def test_read_only_memmap_trains_without_a_copy(rng, tmp_path):
    x, y = conv_data(rng)
    path = tmp_path / "x.npy"
    np.save(path, x)
    mapped = np.load(path, mmap_mode="r")
    model = conv_model()
    assert np.shares_memory(model._prepare_x(mapped), mapped)
    history = model.fit(mapped, y, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_two_input_model_reads_batches_of_input_lists(rng):
    from pyconv import Model
    from pyconv.layers import Concatenate

    a, b = Input((3,), name="a"), Input((2,), name="b")
    x = Dense(4, activation="relu")(Concatenate()([a, b]))

    def model():
        m = Model(inputs=[a, b], outputs=Dense(1)(x))
        m.set_weights([w.copy() for w in start])
        m.compile(optimizer=SGD(0.05), loss="mse")
        return m

    start = Model(inputs=[a, b], outputs=Dense(1)(x)).get_weights()
    xa, xb = rng.normal(size=(24, 3)), rng.normal(size=(24, 2))
    y = xa[:, :1] - xb[:, 1:]
    reference = model()
    want = reference.fit([xa, xb], y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    by_name = model().fit({"a": xa, "b": xb}, y, batch_size=BATCH, epochs=2, shuffle=False,
                          verbose=0)
    assert by_name.history == want.history
    pairs = [([xa[i:i + BATCH], xb[i:i + BATCH]], y[i:i + BATCH]) for i in range(0, 24, BATCH)]
    streamed = model()
    got = streamed.fit(iter(pairs), epochs=1, verbose=0)
    assert got.history["loss"] == want.history["loss"][:1]
