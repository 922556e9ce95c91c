"""Digits 5-fold cross-validation time: CNNClassifier against skorch (and Keras).

The same small CNN -- pyconv's default for 1x8x8 inputs: Conv2D(32, 3, same,
relu), MaxPool 2, Conv2D(64, 3, same, relu), MaxPool 2, Dense(128, relu),
Dropout(0.25), Dense(10, softmax) -- trained the same way in each library
(Adam, learning rate 1e-3, batch 32, 20 epochs, shuffled every epoch, no
validation split), on scikit-learn's digits (X / 16 as float32), 5-fold
stratified cross-validation through ``cross_val_score``, one thread each
(every OpenMP and BLAS pool limited to one thread with threadpoolctl).
skorch (PyTorch) and Keras 3 (torch backend) are timed when installed.
The libraries take turns, ``--repeats`` rounds; the table gives each one's
median wall time, its mean accuracy and its time over pyconv's::

    python benchmarks/bench_digits_skorch.py
    python benchmarks/bench_digits_skorch.py --repeats 3 --no-keras

Nothing here is a test: it prints figures.
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score

EPOCHS, BATCH, LEARNING_RATE = 20, 32, 1e-3


def pyconv_estimator():
    from pyconv.estimators import CNNClassifier

    return CNNClassifier(input_shape=(1, 8, 8), max_iter=EPOCHS, batch_size=BATCH,
                         learning_rate=LEARNING_RATE, random_state=0, n_threads=1)


def skorch_estimator():
    import torch
    from skorch import NeuralNetClassifier

    class DigitsCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.features = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))

        def forward(self, x):
            return self.features(x.reshape(-1, 1, 8, 8))

    torch.manual_seed(0)
    return NeuralNetClassifier(DigitsCNN, criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, lr=LEARNING_RATE,
                               max_epochs=EPOCHS, batch_size=BATCH, train_split=None,
                               iterator_train__shuffle=True, verbose=0)


class KerasDigitsCNN(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier over the same network in Keras 3."""

    def fit(self, X, y):
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        self.model_ = keras.Sequential([
            keras.Input((1, 8, 8)),
            layers.Conv2D(32, 3, padding="same", activation="relu",
                          data_format="channels_first"),
            layers.MaxPooling2D(2, data_format="channels_first"),
            layers.Conv2D(64, 3, padding="same", activation="relu",
                          data_format="channels_first"),
            layers.MaxPooling2D(2, data_format="channels_first"),
            layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.25),
            layers.Dense(10, activation="softmax")])
        self.model_.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                            loss="sparse_categorical_crossentropy")
        self.model_.fit(X.reshape(-1, 1, 8, 8), y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
        return self

    def score(self, X, y):
        pred = self.model_.predict(X.reshape(-1, 1, 8, 8), batch_size=256, verbose=0)
        return float(np.mean(pred.argmax(axis=1) == y))


def cpu_model():
    """The CPU's model name (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _available(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds of every library's 5-fold run (default 2)")
    parser.add_argument("--no-keras", action="store_true", help="skip Keras 3")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    makers = {"pyconv CNNClassifier": pyconv_estimator}
    if _available("skorch") and _available("torch"):
        import torch

        torch.set_num_threads(1)
        makers["skorch NeuralNetClassifier"] = skorch_estimator
    if not args.no_keras and _available("keras") and _available("torch"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        makers["Keras 3 (torch backend)"] = KerasDigitsCNN
    times = {name: [] for name in makers}
    accuracy = {}
    with threadpool_limits(1):
        for _ in range(args.repeats):
            for name, make in makers.items():
                start = time.perf_counter()
                scores = cross_val_score(make(), X, y, cv=cv)
                times[name].append(time.perf_counter() - start)
                accuracy[name] = scores.mean()
    print(f"digits {X.shape} float32, StratifiedKFold(5, shuffle=True), {EPOCHS} epochs, "
          f"batch {BATCH}, Adam {LEARNING_RATE}, 1 thread; {cpu_model()}, "
          f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats} rounds")
    base = statistics.median(times["pyconv CNNClassifier"])
    for name in makers:
        median = statistics.median(times[name])
        print(f"{name:28s} wall {median:6.2f} s  accuracy {accuracy[name]:.4f}  "
              f"time / pyconv's {median / base:5.2f}")


if __name__ == "__main__":
    main()
