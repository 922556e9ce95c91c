"""Callbacks: History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, ..."""
import csv
import os

import numpy as np
import pytest

from pyconv import optimizers
from pyconv.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from pyconv.models import Sequential, load_model

from pyconv.layers import Dense, Input


def make_model(seed=0, lr=0.05):
    model = Sequential([Input((3,)), Dense(4, activation="relu"), Dense(1)], seed=seed)
    model.compile(optimizers.SGD(lr), "mse", ["mae"])
    return model


@pytest.fixture
def data(rng):
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5])).astype(np.float32)
    return x, y


def drive(callback, model, values, monitor="val_loss"):
    """Run ``callback`` over epochs whose logs hold the scripted ``values``."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        # make the weights identify the epoch
        model.layers[-1].bias[...] = epoch
        logs = {monitor: value}
        callback.on_epoch_end(epoch, logs)
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return ran


# ---------------------------------------------------------------- History
def test_history_records_every_epoch(data):
    x, y = data
    model = make_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25)
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in history.history.values())


# ----------------------------------------------------------- EarlyStopping
def test_early_stopping_patience():
    model = make_model()
    es = EarlyStopping(patience=2)
    ran = drive(es, model, [1.0, 0.9, 0.95, 0.91, 0.5, 0.4])
    assert ran == [0, 1, 2, 3] and es.stopped_epoch == 3 and model.stop_training


def test_early_stopping_min_delta_and_mode_max():
    model = make_model()
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    ran = drive(es, model, [0.5, 0.52, 0.53, 0.9], monitor="val_accuracy")
    assert ran == [0, 1]              # +0.02 is not an improvement of at least 0.05
    es = EarlyStopping(monitor="score", mode="max", patience=0)
    assert drive(es, model, [1.0, 2.0, 1.5, 3.0], monitor="score") == [0, 1, 2]


def test_early_stopping_restore_best_weights(capsys):
    model = make_model()
    es = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    drive(es, model, [1.0, 0.3, 0.6, 0.7, 0.1])
    assert es.best_epoch == 1
    np.testing.assert_array_equal(model.layers[-1].bias, [1.0])   # weights of epoch 1
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out and "best epoch: 2" in out


def test_early_stopping_start_from_epoch():
    model = make_model()
    es = EarlyStopping(patience=0, start_from_epoch=3)
    ran = drive(es, model, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert ran == [0, 1, 2, 3, 4]     # epochs 0-2 ignored; 3 sets the best, 4 does not improve


def test_early_stopping_baseline():
    model = make_model()
    values = [0.9, 0.95, 0.97, 0.99, 1.0]
    # without a baseline the first epoch resets the wait; with one it does not
    assert drive(EarlyStopping(patience=2), model, values) == [0, 1, 2]
    assert drive(EarlyStopping(patience=2, baseline=0.5), model, values) == [0, 1]


def test_early_stopping_in_fit(data):
    x, y = data
    model = make_model(lr=1e-30)     # the loss cannot improve
    history = model.fit(x, y, epochs=10, verbose=0, shuffle=False,
                        callbacks=[EarlyStopping(monitor="loss", patience=3)])
    assert len(history.history["loss"]) == 4     # as in Keras's own example


def test_early_stopping_missing_monitor_warns():
    model = make_model()
    es = EarlyStopping(monitor="val_nothing")
    with pytest.warns(UserWarning, match="val_nothing"):
        drive(es, model, [1.0], monitor="val_loss")


# --------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_save_best_only(tmp_path, data, capsys):
    x, y = data
    model = make_model()
    model.build()
    path = tmp_path / "best.pyconv"
    ckpt = ModelCheckpoint(path, save_best_only=True, verbose=1)
    ckpt.set_model(model)
    ckpt.on_train_begin()
    ckpt.on_epoch_end(0, {"val_loss": 1.0})
    saved = load_model(path).get_weights()
    model.layers[-1].bias[...] = 42.0
    ckpt.on_epoch_end(1, {"val_loss": 2.0})          # worse: not saved
    np.testing.assert_array_equal(load_model(path).get_weights()[-1], saved[-1])
    ckpt.on_epoch_end(2, {"val_loss": 0.5})          # better: saved
    np.testing.assert_array_equal(load_model(path).get_weights()[-1], [42.0])
    out = capsys.readouterr().out
    assert "did not improve from 1.00000" in out and "improved from 1.00000 to 0.50000" in out
    assert sorted(os.listdir(tmp_path)) == ["best.pyconv"]     # no temporary files left


def test_model_checkpoint_formats_names_and_weights_only(tmp_path, data):
    x, y = data
    model = make_model()
    pattern = str(tmp_path / "w-{epoch:02d}-{loss:.1f}.weights")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(pattern, save_weights_only=True)])
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[0].startswith("w-01-") and names[1].startswith("w-02-")
    other = make_model(seed=5)
    other.build()
    other.load_weights(tmp_path / names[1])
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model = make_model()
    model.build()
    path = tmp_path / "model.pyconv"
    model.save(path)
    original = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    ckpt = ModelCheckpoint(path)
    ckpt.set_model(model)
    ckpt.on_train_begin()
    with pytest.raises(OSError, match="disk full"):
        ckpt.on_epoch_end(0, {"val_loss": 0.1})
    assert path.read_bytes() == original               # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["model.pyconv"]


# ------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau(capsys):
    model = make_model(lr=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.2, verbose=1)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert "learning_rate" in logs
    # reduce at epoch 1, cooldown epoch 2, reduce at 3, cooldown 4, reduce at 5 (floored)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    assert "reducing learning rate to 0.5" in capsys.readouterr().out


def test_reduce_lr_in_fit_adds_learning_rate_to_history(data):
    x, y = data
    model = make_model(lr=1e-30)
    history = model.fit(x, y, epochs=3, verbose=0, shuffle=False,
                        callbacks=[ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5)])
    # logged before the epoch's own reduction, as Keras does
    assert history.history["learning_rate"] == [1e-30, 1e-30, 5e-31]
    assert model.optimizer.learning_rate == 2.5e-31


# ---------------------------------------------------------- TerminateOnNaN
def test_terminate_on_nan(data, capsys):
    x, y = data
    x = x.copy()
    x[5] = np.nan
    model = make_model()
    history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN()])
    assert model.stop_training
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    assert "Batch 0: Invalid loss (nan), terminating training" in capsys.readouterr().out


# -------------------------------------------------- stop_training, Lambda
def test_stop_training_from_a_callback_stops_after_the_batch(data):
    x, y = data
    model = make_model()
    batches = []

    class Stopper(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[Stopper()])
    assert batches == [0, 1] and history.epoch == [0]


def test_lambda_callback_hooks_in_order(data):
    x, y = data
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_batch_begin=lambda batch, logs: events.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"),
    )
    model = make_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, validation_split=0.5, callbacks=[cb])
    assert events == [
        "train_begin", "epoch_begin 0",
        "batch_begin 0", "batch_end 0 ['loss', 'mae']",
        "epoch_end 0 ['loss', 'mae', 'val_loss', 'val_mae']", "train_end"]


def test_test_and_predict_hooks(data):
    x, y = data
    events = []
    cb = LambdaCallback(on_test_batch_end=lambda b, logs: events.append(("test", b)),
                        on_predict_batch_end=lambda b, logs: events.append(("predict", b)))
    model = make_model()
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cb])
    model.predict(x, batch_size=16, verbose=0, callbacks=[cb])
    assert events == [("test", 0), ("test", 1), ("predict", 0), ("predict", 1)]


# -------------------------------------------------------------- CSVLogger
def test_csv_logger_contents_and_append(tmp_path, data):
    x, y = data
    path = tmp_path / "log.csv"
    model = make_model()
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[CSVLogger(path)])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert float(rows[2][1]) == pytest.approx(history.history["loss"][1], rel=1e-12)
    model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, validation_split=0.25,
              callbacks=[CSVLogger(path, separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[3].startswith("2;")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert path.read_text().splitlines()[0] == "epoch,loss,mae"
