"""A LeNet-style CNN on scikit-learn's digits with the Keras-like API
==================================================================

Trains `pyconv.Sequential` for 30 epochs, prints the summary and the held-out
accuracy, and saves the training history and the first layer's learned
filters as PNGs (with matplotlib) into $PYCONV_EXAMPLES_OUT (default
./example_output).

# requires: matplotlib
"""
import os
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import pyconv
from pyconv import layers

out_dir = Path(os.environ.get("PYCONV_EXAMPLES_OUT", "example_output"))
out_dir.mkdir(parents=True, exist_ok=True)

digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None]      # NCHW: (1797, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)

model = pyconv.Sequential([
    layers.Conv2D(32, 3, padding="same", activation="relu", input_shape=(1, 8, 8)),
    layers.MaxPool2D(2),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPool2D(2),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.25),
    layers.Dense(10, activation="softmax"),
], seed=0)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

start = time.perf_counter()
history = model.fit(X_train, y_train, batch_size=32, epochs=30, validation_split=0.1,
                    verbose=2)
elapsed = time.perf_counter() - start
loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
print(f"held-out accuracy: {accuracy:.4f} (loss {loss:.4f}); training time {elapsed:.1f} s")
if accuracy < 0.97:
    raise SystemExit(f"accuracy {accuracy:.4f} is below the 0.97 this example promises")

from pyconv import plotting  # noqa: E402  (matplotlib is optional)

plotting.plot_history(history, path=out_dir / "digits_history.png")
plotting.plot_filters(model.layers[0], path=out_dir / "digits_filters.png")
plotting.plot_feature_maps(model, X_test[:1], layer=0, path=out_dir / "digits_feature_maps.png")
print(f"wrote {out_dir / 'digits_history.png'}, {out_dir / 'digits_filters.png'} and "
      f"{out_dir / 'digits_feature_maps.png'}")
