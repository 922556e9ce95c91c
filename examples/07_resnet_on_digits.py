"""A small ResNet on the digits, against the plain CNN
===================================================

A residual network on scikit-learn's digits, built with the Functional API,
against the plain CNN of example 03 (same data, epochs and optimizer).

Residual blocks ``x + F(x)`` need a graph: ``pyconv.Input`` and layers
called on tensors, ``layers.Add`` for the skip connection, ``pyconv.Model``
to tie inputs and outputs together. Prints both models' held-out accuracy
and training time.
"""
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import pyconv
from pyconv import layers

digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None]      # NCHW: (1797, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
EPOCHS = 20


def residual_block(x, filters):
    """conv-BN-ReLU-conv-BN, added to the block's input, then ReLU."""
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    return layers.ReLU()(layers.Add()([x, y]))


inputs = pyconv.Input(shape=(1, 8, 8))
x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
x = residual_block(x, 32)
x = layers.MaxPool2D(2)(x)
x = layers.Conv2D(64, 1)(x)                      # widen for the second stage
x = residual_block(x, 64)
x = layers.GlobalAvgPool2D()(x)
outputs = layers.Dense(10, activation="softmax")(x)
resnet = pyconv.Model(inputs, outputs, name="digits_resnet", seed=0)

plain = pyconv.Sequential([
    layers.Conv2D(32, 3, padding="same", activation="relu", input_shape=(1, 8, 8)),
    layers.MaxPool2D(2),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPool2D(2),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.25),
    layers.Dense(10, activation="softmax"),
], name="plain_cnn", seed=0)

resnet.summary()
results = {}
for model in (plain, resnet):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(X_train, y_train, batch_size=32, epochs=EPOCHS, verbose=0)
    elapsed = time.perf_counter() - start
    _, accuracy = model.evaluate(X_test, y_test, verbose=0)
    results[model.name] = (accuracy, elapsed, model.count_params())
    print(f"{model.name:>13}: held-out accuracy {accuracy:.4f}, {EPOCHS} epochs in "
          f"{elapsed:.1f} s, {model.count_params():,} parameters")
if results["digits_resnet"][0] < 0.95:
    raise SystemExit("the ResNet's accuracy is below the 0.95 this example promises")
