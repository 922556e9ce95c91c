"""save / load_model / save_weights: one zip file, no pickle, every field checked."""
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from pyconv import optimizers, saving
from pyconv.models import Sequential, load_model

from pyconv.layers import Dense, Dropout, Input, Layer


def make_model(seed=0, optimizer=None, dtype="float32"):
    model = Sequential([Input((4,), dtype=dtype), Dense(6, activation="relu", dtype=dtype),
                        Dropout(0.2, dtype=dtype), Dense(3, activation="softmax", dtype=dtype)],
                       seed=seed)
    model.compile(optimizer or optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  ["accuracy"])
    return model


@pytest.fixture
def data(rng):
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    return x, y


@pytest.fixture
def saved(tmp_path, data):
    x, y = data
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.pyconv"
    model.save(path)
    return model, path


def rewrite(path, replace):
    """Copy the archive at ``path`` with ``replace(name, data) -> data`` applied."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in entries:
            data = replace(name, data)
            if data is not None:
                dst.writestr(name, data)


def edit_config(path, edit):
    def replace(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        edit(config)
        return json.dumps(config)
    rewrite(path, replace)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


# ------------------------------------------------------------- round trip
def test_round_trip_same_predictions_and_compile(saved, data):
    model, path = saved
    x, y = data
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.input_shape == (None, 4)
    assert isinstance(loaded.optimizer, optimizers.Adam) and loaded.optimizer.learning_rate == 0.01
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        config = json.loads(archive.read("config.json"))
    assert names[0] == "config.json" and all(n.endswith(".npy") for n in names[1:])
    assert config["pyconv_version"] == saving._pyconv_version()
    assert config["model"]["layers"][0]["class_name"] == "Dense"


def test_optimizer_state_is_restored(tmp_path, data):
    x, y = data
    model = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=0)
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "m.pyconv"
    model.save(path)
    loaded = load_model(path)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    bare = tmp_path / "bare.pyconv"
    model.save(bare, include_optimizer=False)
    assert load_model(bare).optimizer.built is False
    assert load_model(bare, compile=False).compiled is False


def test_float64_model_round_trip(tmp_path, data):
    x, _ = data
    model = make_model(dtype="float64")
    model.save(tmp_path / "m64")
    loaded = load_model(tmp_path / "m64")
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_and_load_weights(tmp_path, data):
    x, _ = data
    model = make_model()
    model.save_weights(tmp_path / "w")
    other = make_model(seed=9)
    other.load_weights(tmp_path / "w")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="weights only"):
        load_model(tmp_path / "w")
    small = Sequential([Input((4,)), Dense(3)])
    with pytest.raises(ValueError, match="holds 4 weight arrays but the model has 2"):
        small.load_weights(tmp_path / "w")


def test_custom_layer_needs_custom_objects(tmp_path, data):
    x, _ = data

    class Scale(Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad, need_input_grad=True):
            self.grads = []
            return grad * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = Sequential([Input((4,)), Scale(3.0), Dense(2)], seed=0)
    model.save(tmp_path / "c")
    with pytest.raises(ValueError, match=r"Unknown layer class 'Scale'.*custom_objects"):
        load_model(tmp_path / "c")
    loaded = load_model(tmp_path / "c", custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_version_mismatch_warns(saved, data):
    model, path = saved
    edit_config(path, lambda c: c.update(pyconv_version="0.0.1"))
    with pytest.warns(UserWarning, match="saved by pyconv 0.0.1"):
        loaded = load_model(path)
    x, _ = data
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---------------------------------------------------------- bad files
def test_truncated_file(saved):
    _, path = saved
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 20):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="Cannot load"):
            load_model(path)


def test_not_a_zip_and_missing_file(tmp_path):
    path = tmp_path / "junk.pyconv"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a pyconv model file"):
        load_model(path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pyconv")


def test_corrupt_weight_bytes_fail_the_crc(saved):
    _, path = saved
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weights/00000.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt"):
        load_model(path)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["model"]["layers"][0].update(class_name="Conv9D"), "Unknown layer class 'Conv9D'"),
    (lambda c: c["model"]["layers"][0].update(class_name="Sequential"), "Unknown layer class"),
    (lambda c: c["model"]["layers"][0]["config"].update(units=7), "shape"),
    (lambda c: c["model"]["layers"][0]["config"].update(units="seven"), "Invalid config"),
    (lambda c: c["weights"][0].update(shape=[4, 7]), r"listed with shape \[4, 7\]"),
    (lambda c: c["weights"][0].update(dtype="float64"), "listed with dtype float64"),
    (lambda c: c["weights"][1].update(entry="weights/missing.npy"), "missing"),
    (lambda c: c["weights"].pop(), "holds 3 weight arrays but the model has 4"),
    (lambda c: c.update(format="something-else"), "does not describe a pyconv model"),
    (lambda c: c.update(format_version=99), "format version 99"),
    (lambda c: c.pop("model"), "no valid 'model' section"),
    (lambda c: c["compile_config"].update(loss={"class_name": "Hinge"}), "compile_config"),
    (lambda c: c["optimizer_state"]["slots"]["m"].pop(), "wrong number of arrays"),
])
def test_hand_edited_config_is_rejected(saved, edit, match):
    _, path = saved
    edit_config(path, edit)
    with pytest.raises(ValueError, match=match):
        load_model(path)


def test_invalid_json(saved):
    _, path = saved
    rewrite(path, lambda name, data: data[:-5] if name == "config.json" else data)
    with pytest.raises(ValueError, match="config.json is corrupt"):
        load_model(path)


def test_wrong_weight_array_shape_or_dtype(saved):
    _, path = saved
    rewrite(path, lambda name, data: npy_bytes(np.zeros((4, 7), np.float32))
            if name == "weights/00000.npy" else data)
    with pytest.raises(ValueError, match=r"shape \(4, 7\)"):
        load_model(path)
    rewrite(path, lambda name, data: npy_bytes(np.zeros((4, 6), np.float64))
            if name == "weights/00000.npy" else data)
    with pytest.raises(ValueError, match="dtype float64"):
        load_model(path)


class _Planted:
    """Unpickling this would call ``_Planted._boom``."""

    triggered = False

    @classmethod
    def _boom(cls):
        cls.triggered = True
        return np.zeros((4, 6), np.float32)

    def __reduce__(self):
        return (_Planted._boom, ())


def test_planted_pickle_is_refused_without_running(saved):
    _, path = saved
    planted = np.empty((4, 6), dtype=object)
    planted[...] = _Planted()
    payload = npy_bytes(planted, allow_pickle=True)
    rewrite(path, lambda name, data: payload if name == "weights/00000.npy" else data)
    edit_config(path, lambda c: c["weights"][0].update(dtype="float32"))
    with pytest.raises(ValueError, match="not a plain numeric array"):
        load_model(path)
    assert _Planted.triggered is False
    # a raw pickle stream in place of an entry is refused too
    rewrite(path, lambda name, data: pickle.dumps(_Planted()) if name == "weights/00000.npy"
            else data)
    with pytest.raises(ValueError, match="corrupt or not a plain numeric array"):
        load_model(path)
    assert _Planted.triggered is False


# -------------------------------------------------------------- pickle
def test_model_pickles(data):
    x, y = data
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, y, epochs=1, verbose=0)
    clone.fit(x, y, epochs=1, verbose=0)      # same generator state, same optimizer state
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)
