"""A model with two inputs: a digit's image and a few numbers about it
===================================================================

The image goes through convolutions, the numbers (here the ink in each
image row, a stand-in for any tabular side information) through a dense
layer; ``Concatenate`` joins the two and a softmax classifies. ``fit`` and
``predict`` take a list of arrays, one per input, in the order of
``Model(inputs=[...])``. Prints the held-out accuracy.
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import pyconv
from pyconv import layers

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]      # (1797, 1, 8, 8)
row_ink = images.sum(axis=3)[:, 0] / 8.0                          # (1797, 8)
(img_train, img_test, ink_train, ink_test,
 y_train, y_test) = train_test_split(images, row_ink, digits.target, test_size=0.25,
                                     stratify=digits.target, random_state=0)

image = pyconv.Input((1, 8, 8), name="image")
ink = pyconv.Input((8,), name="row_ink")
x = layers.Conv2D(16, 3, padding="same", activation="relu")(image)
x = layers.MaxPool2D(2)(x)
x = layers.Flatten()(x)
side = layers.Dense(16, activation="relu")(ink)
joined = layers.Concatenate()([x, side])
outputs = layers.Dense(10, activation="softmax")(joined)
model = pyconv.Model(inputs=[image, ink], outputs=outputs, name="two_inputs", seed=0)
model.summary()

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit([img_train, ink_train], y_train, batch_size=32, epochs=25, verbose=0)
loss, accuracy = model.evaluate([img_test, ink_test], y_test, verbose=0)
print(f"held-out accuracy with two inputs: {accuracy:.4f}")
if accuracy < 0.93:
    raise SystemExit("accuracy is below the 0.93 this example promises")
