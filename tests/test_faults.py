"""Faults during training, each one survived:

- a real ``SIGINT`` (Ctrl-C) sent to a *child process* in the middle of
  ``fit`` returns the history so far and leaves a usable model (the in-process
  variant is in test_training.py);
- ``SIGKILL`` in the middle of a ``ModelCheckpoint`` save never leaves a
  broken file where the checkpoint was (the in-process OSError variant is in
  test_callbacks.py);
- a loss that diverges to NaN/inf in a later epoch stops training with
  ``TerminateOnNaN`` on that very batch, with a clear message;
- impossible allocations (a huge layer, a huge batch, a huge output) raise
  ``MemoryError`` cleanly, and the process carries on working afterwards.

Children run through ``_support.start_python`` (a temporary working
directory, pyconv imported from where this process imported it); a crash
shows as a non-zero return code.
"""
import os
import signal
import sys
import time

import numpy as np
import pytest

from _support import start_python
from pyconv.callbacks import LambdaCallback, TerminateOnNaN
from pyconv.layers import Dense, Input
from pyconv.models import Sequential, load_model
from pyconv.optimizers import SGD

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _default_sigint():
    # A suite started in the background (nohup, `cmd &` in a script) has
    # SIGINT ignored, and children inherit that; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(script, cwd):
    return start_python(script, env={"OMP_NUM_THREADS": 1}, cwd=cwd,
                        preexec_fn=_default_sigint)


def _wait_for(proc, marker, timeout=120):
    """Read the child's stdout until a line starting with ``marker``."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(marker):
            return lines
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"child never printed {marker!r}; stdout: {''.join(lines) + out}"
                         f"\nstderr: {err[-3000:]}")


# ------------------------------------------------------------------ SIGINT
_FIT_SCRIPT = """
    import time
    import numpy as np
    from pyconv.callbacks import LambdaCallback
    from pyconv.layers import Conv2D, Dense, Flatten, Input, MaxPool2D
    from pyconv.models import Sequential

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    model = Sequential([Input((1, 8, 8)), Conv2D(4, 3, activation="relu"), MaxPool2D(),
                        Flatten(), Dense(2)], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])

    def batch_end(batch, logs):
        time.sleep(0.05)                 # leave the parent time to send SIGINT

    def epoch_end(epoch, logs):
        print("EPOCH_END", epoch, flush=True)

    history = model.fit(x, y, epochs=1000, batch_size=8, verbose=0, callbacks=[
        LambdaCallback(on_train_batch_end=batch_end, on_epoch_end=epoch_end)])
    n = len(history.history["loss"])
    print("HISTORY", n, history.epoch[:3], model.stop_training, flush=True)
    proba = model.predict(x, verbose=0)
    assert proba.shape == (64, 2) and np.isfinite(proba).all()
    print("PREDICT_OK", float(model.evaluate(x, y, verbose=0)[1]), flush=True)
"""


def test_sigint_to_child_during_fit_keeps_history_and_model(tmp_path):
    proc = _start(_FIT_SCRIPT, tmp_path)
    _wait_for(proc, "EPOCH_END 0")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{out}\n{err[-3000:]}"
    assert "Training interrupted (Ctrl-C)" in out
    history_line = next(line for line in out.splitlines() if line.startswith("HISTORY"))
    n_epochs = int(history_line.split()[1])
    assert 1 <= n_epochs < 1000            # the completed epochs are all there
    assert history_line.endswith("True")   # stop_training is set
    accuracy = float(next(line for line in out.splitlines()
                          if line.startswith("PREDICT_OK")).split()[1])
    assert 0.0 <= accuracy <= 1.0


def test_second_sigint_interrupts_right_away(tmp_path):
    """A second Ctrl-C (a user who insists) raises KeyboardInterrupt inside
    fit; fit still returns the history and the model still predicts."""
    script = _FIT_SCRIPT.replace("time.sleep(0.05)", "time.sleep(0.5)")
    proc = _start(script, tmp_path)
    _wait_for(proc, "EPOCH_END 0")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{out}\n{err[-3000:]}"
    assert "PREDICT_OK" in out


# ------------------------------------------------------ SIGKILL mid-save
_CHECKPOINT_SCRIPT = """
    import sys, time
    import numpy as np
    from pyconv.callbacks import LambdaCallback, ModelCheckpoint
    from pyconv.layers import Dense, Input
    from pyconv.models import Sequential

    path, kill_in_save = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = Sequential([Input((4,)), Dense(16, activation="relu"), Dense(2)], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")

    writes = {"save": 0, "arrays": 0}
    real_write_array = np.lib.format.write_array

    def slow_write_array(handle, array, *args, **kwargs):
        real_write_array(handle, array, *args, **kwargs)
        writes["arrays"] += 1
        if writes["save"] == kill_in_save and writes["arrays"] == 2:
            print("HALF_WRITTEN", flush=True)   # half the arrays are in the temp file
            time.sleep(600)

    np.lib.format.write_array = slow_write_array

    def before_save(epoch, logs):
        writes["save"] += 1
        writes["arrays"] = 0
        np.save(path + f".epoch{epoch}.npy", model.get_weights()[0])
        print("SAVING", epoch, flush=True)

    model.fit(x, y, epochs=5, batch_size=8, verbose=0,
              callbacks=[LambdaCallback(on_epoch_end=before_save), ModelCheckpoint(path)])
    print("DONE", flush=True)
"""


@pytest.mark.parametrize("kill_in_save", [1, 2])
def test_sigkill_mid_checkpoint_never_leaves_a_broken_file(tmp_path, kill_in_save):
    path = str(tmp_path / "ckpt.pyconv")
    proc = start_python(_CHECKPOINT_SCRIPT, path, kill_in_save, env={"OMP_NUM_THREADS": 1},
                        cwd=tmp_path)
    _wait_for(proc, "HALF_WRITTEN")
    proc.kill()                                   # SIGKILL: no cleanup runs
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == 1                    # the half-written temp file, never renamed
    if kill_in_save == 1:
        assert not os.path.exists(path)           # no checkpoint yet, and no broken one
        return
    model = load_model(path)                      # the previous, complete checkpoint
    saved_first = np.load(path + ".epoch0.npy")
    np.testing.assert_array_equal(model.get_weights()[0], saved_first)
    assert model.predict(np.zeros((2, 4), np.float32), verbose=0).shape == (2, 2)


# ----------------------------------------------------------- TerminateOnNaN
def test_terminate_on_nan_when_the_loss_diverges_in_a_later_epoch(rng, capsys):
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32) * 10
    model = Sequential([Input((4,)), Dense(32, activation="relu"), Dense(1)], seed=0)
    model.compile(SGD(learning_rate=0.05), "mse")
    steps = []
    counter = LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(
        (batch, logs["loss"])))

    def diverge(epoch, logs):
        if epoch == 1:                       # from epoch 3 on the step size explodes
            model.optimizer.learning_rate = 1e12

    history = model.fit(x, y, epochs=50, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[LambdaCallback(on_epoch_end=diverge), counter,
                                   TerminateOnNaN()])
    out = capsys.readouterr().out
    losses = [loss for _, loss in steps]
    first_bad = next(i for i, loss in enumerate(losses) if not np.isfinite(loss))
    assert first_bad == len(losses) - 1      # no batch ran after the bad one
    assert first_bad >= 8                    # epochs 1 and 2 (4 batches each) were fine
    assert np.isfinite(history.history["loss"][:2]).all()
    assert len(history.epoch) < 50
    assert f"Batch {steps[-1][0]}: Invalid loss" in out and "terminating training" in out
    assert model.stop_training


# ------------------------------------------------------------- MemoryError
_MEMORY_SCRIPT = """
    import numpy as np
    from pyconv import functional as F
    from pyconv.layers import Conv2D, Dense, Input
    from pyconv.models import Sequential

    def attempt(label, call):
        try:
            call()
        except MemoryError as exc:
            print("MEMORYERROR", label, flush=True)
        except Exception as exc:
            print("OTHER", label, type(exc).__name__, exc, flush=True)
        else:
            print("NOERROR", label, flush=True)

    # 2**45 bytes and more: the allocator refuses at once (24 GiB here).
    attempt("dense-layer", lambda: Sequential([Input((2**20,)), Dense(2**30)]))
    attempt("conv-layer", lambda: Sequential([Input((2**16, 8, 8)), Conv2D(2**30, 3)]))
    attempt("conv-output", lambda: F.conv2d(np.ones((2**16, 1, 1, 1), np.float32),
                                            np.ones((1, 1, 1, 1), np.float32),
                                            padding=2**14))
    attempt("pool-output", lambda: F.max_pool2d(
        np.broadcast_to(np.float32(1), (2**20, 2**20, 2, 2)), 2))
    model = Sequential([Input((4,)), Dense(3)], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    huge_x = np.broadcast_to(np.ones(4, np.float32), (2**43, 4))
    attempt("predict-batch", lambda: model.predict(huge_x, verbose=0))
    attempt("fit-batch", lambda: model.fit(huge_x, np.zeros(2**43, np.int64)[:0], verbose=0))
    # The process is healthy afterwards: a normal fit and conv work.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    h = model.fit(x, (x[:, 0] > 0).astype(np.int64), epochs=2, verbose=0)
    y = F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)))
    assert y[0, 0, 0, 0] == 9 and len(h.history["loss"]) == 2
    print("HEALTHY", flush=True)
"""


def test_impossible_allocations_raise_memory_error_cleanly(tmp_path):
    proc = _start(_MEMORY_SCRIPT, tmp_path)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{out}\n{err[-3000:]}"
    results = {}
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in ("MEMORYERROR", "OTHER", "NOERROR"):
            results[words[1]] = words[0]
    expected = {"dense-layer", "conv-layer", "conv-output", "pool-output", "predict-batch"}
    assert {k for k, v in results.items() if v == "MEMORYERROR"} >= expected, out
    # fit with mismatched targets is a ValueError before any allocation, or a
    # MemoryError: never a crash, never silence.
    assert results["fit-batch"] in ("MEMORYERROR", "OTHER"), out
    assert "HEALTHY" in out
