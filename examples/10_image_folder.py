"""Training from a folder of image files, one class per sub-folder
===============================================================

Writes a small folder of PNGs (bright shapes of odd sizes on noise, some RGB
and some grayscale) into a temporary directory, then reads it the Keras way
with ``pyconv.utils.image_dataset_from_directory``: the files are indexed
once, and each batch is decoded, converted to RGB and resized when ``fit``
asks for it, by two background threads (``workers=2``), so the folder is
never loaded whole. ``Rescaling`` maps Keras's 0..255 range to 0..1 inside
the model and ``RandomFlip`` augments the training batches. Prints the class
names, a batch's shape and range, and the validation accuracy.
"""
# requires: PIL
import os
import tempfile

import numpy as np
from PIL import Image

import pyconv
from pyconv import layers
from pyconv.utils import image_dataset_from_directory

SHAPES = ("circle", "square", "stripes")


def draw(shape, rng):
    height, width = rng.integers(20, 48, size=2)
    yy, xx = np.mgrid[:height, :width]
    cy, cx, r = height / 2, width / 2, min(height, width) / 3
    if shape == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    elif shape == "square":
        mask = (abs(yy - cy) < r) & (abs(xx - cx) < r)
    else:
        mask = (xx // 4) % 2 == 0
    pixels = rng.integers(0, 60, size=(height, width, 3)) + 180 * mask[..., None]
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    return image.convert("L") if rng.random() < 0.5 else image


def make_folder(root, per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        os.makedirs(os.path.join(root, shape))
        for i in range(per_class):
            draw(shape, rng).save(os.path.join(root, shape, f"{i:03d}.png"))


with tempfile.TemporaryDirectory() as root:
    make_folder(root)
    train, val = image_dataset_from_directory(
        root, image_size=(24, 24), batch_size=16, seed=0, validation_split=0.25,
        subset="both", workers=2)
    x, y = train[0]
    print("classes:", train.class_names)
    print(f"{len(train.file_paths)} training files, {len(val.file_paths)} for validation; "
          f"a batch: {x.shape} {x.dtype}, values {x.min():.0f}..{x.max():.0f}, labels {y[:6]}")

    model = pyconv.Sequential([
        layers.Input((3, 24, 24)),
        layers.Rescaling(1 / 255),
        layers.RandomFlip("horizontal"),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPool2D(2),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPool2D(2),
        layers.Flatten(),
        layers.Dense(len(SHAPES), activation="softmax"),
    ], seed=0)
    model.compile(optimizer=pyconv.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=20, verbose=0)
    accuracy = history.history["val_accuracy"][-1]
    print(f"validation accuracy after {len(history.epoch)} epochs: {accuracy:.3f}")
    if accuracy < 0.8:
        raise SystemExit("validation accuracy is below the 0.8 this example promises")
