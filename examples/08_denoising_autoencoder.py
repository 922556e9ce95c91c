"""A convolutional autoencoder that removes noise from digits
==========================================================

The encoder halves the image with strided convolutions; the decoder
restores its size with ``Conv2DTranspose`` (a learned upsampling) and
``UpSampling2D``. Trained on noisy inputs against clean targets; prints the
mean squared error of the noisy and of the denoised test images, and saves
a strip of noisy / denoised / clean digits (with matplotlib) into
$PYCONV_EXAMPLES_OUT (default ./example_output).

# requires: matplotlib
"""
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import pyconv
from pyconv import layers

out_dir = Path(os.environ.get("PYCONV_EXAMPLES_OUT", "example_output"))
out_dir.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(0)
clean = (load_digits().images / 16.0).astype(np.float32)[:, None]   # (1797, 1, 8, 8)
noisy = np.clip(clean + rng.normal(0.0, 0.3, clean.shape), 0.0, 1.0).astype(np.float32)
train, test = slice(0, 1500), slice(1500, None)

inputs = pyconv.Input((1, 8, 8))
x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)      # 4x4
x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)      # 2x2
x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)  # 4x4
x = layers.UpSampling2D(2)(x)                                                  # 8x8
x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
autoencoder = pyconv.Model(inputs, outputs, name="denoiser", seed=0)
autoencoder.summary()

autoencoder.compile(optimizer="adam", loss="mse")
autoencoder.fit(noisy[train], clean[train], batch_size=32, epochs=30, verbose=0)
denoised = autoencoder.predict(noisy[test], verbose=0)
noisy_mse = float(np.mean((noisy[test] - clean[test]) ** 2))
denoised_mse = float(np.mean((denoised - clean[test]) ** 2))
print(f"test MSE: noisy {noisy_mse:.4f}, denoised {denoised_mse:.4f}")
if not denoised_mse < 0.5 * noisy_mse:
    raise SystemExit("the autoencoder did not halve the error as this example promises")

import matplotlib.pyplot as plt  # noqa: E402  (matplotlib is optional)

fig, axes = plt.subplots(3, 8, figsize=(8, 3.2))
for column in range(8):
    for row, images in enumerate((noisy[test], denoised, clean[test])):
        axes[row, column].imshow(images[column, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, column].axis("off")
fig.suptitle("noisy / denoised / clean")
fig.savefig(out_dir / "denoised_digits.png", dpi=100)
print(f"wrote {out_dir / 'denoised_digits.png'}")
