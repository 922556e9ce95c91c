"""The lecture's worked numbers, computed by pyconv beside the slide's values
==========================================================================

Lecture 11 (Convolutional Networks) works several small examples by hand.
This script recomputes each one with pyconv, prints it next to the number on
the slide, and stops with an error if any differs.

Run:  python examples/01_lecture_by_hand.py
Writes nothing.
"""
import numpy as np

from pyconv.functional import conv2d, max_pool2d
from pyconv.image import filter2d, gaussian_kernel_5x5

mismatches = []


def fmt(value):
    """Numbers as on a slide: 79 not 79.0, nested lists for arrays."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim:
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def show(label, computed, expected, source="slide"):
    """Print one result beside the expected value and remember mismatches."""
    ok = np.allclose(np.asarray(computed, dtype=np.float64), expected, rtol=0, atol=1e-9)
    print(f"  {label:<44} pyconv: {fmt(computed):<22} {source}: {fmt(expected):<22} "
          f"{'ok' if ok else 'MISMATCH'}")
    if not ok:
        mismatches.append(label)


# --- 1. Applying a filter to an image (3 slides) ---------------------------
print("1. Blurring the 5x5 image I with g = [[1,2,1],[2,4,2],[1,2,1]] / 16")
image = np.array([[200, 200, 200, 200, 200],
                  [200, 20, 20, 45, 200],
                  [100, 20, 25, 65, 150],
                  [80, 20, 40, 60, 80],
                  [80, 30, 50, 80, 80]], dtype=np.uint8)
g = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16
blurred = filter2d(image.astype(np.float64), g, padding="valid")   # where g fits: 3x3
show("I_blur[0, 0] (window centred on I[1, 1])", blurred[0, 0], 92.8125)
show("I_blur[0, 1] (window centred on I[1, 2])", blurred[0, 1], 71.5625)
show("I_blur[1, 0] (window centred on I[2, 1])", blurred[1, 0], 46.875)
print("  the whole 3x3 response:")
print("   ", np.array2string(blurred, precision=4, prefix="    "))

# --- 2. The lecture's 5x5 Gaussian kernel -----------------------------------
print("\n2. The 5x5 Gaussian kernel (integer weights / 273)")
weights = gaussian_kernel_5x5() * 273
show("sum of the integer weights", weights.sum(), 273)
print("  (the slide's last row [1, 4, 4, 4, 1] is a typo: it would sum to 270;"
      " the symmetric kernel's last row is [1, 4, 7, 4, 1])")

# --- 3. Multichannel convolution: 2 input channels, a 2x2 filter ------------
print("\n3. Multichannel conv2d: input [1, 2, 3, 3], filter 0 of shape [2, 2, 2]")
x = np.array([[[0, 0, 0],            # channel 0 ("red")
               [0, 1, 128],
               [0, 4, 100]],
              [[0, 0, 0],            # channel 1
               [0, 0, 10],
               [0, 10, 255]]], dtype=np.float64)[np.newaxis]
filter0 = np.array([[[1, 2], [0, 0.5]],
                    [[1, 1], [1, 1.5]]], dtype=np.float64)
out = conv2d(x, filter0[np.newaxis])            # weight [C_out=1, C_in=2, 2, 2]
show("output[0, 0, 0]", out[0, 0, 0, 0], 0.5)
show("output[0, 0, 1]", out[0, 0, 0, 1], 79)
show("output[0, 1, 0]", out[0, 0, 1, 0], 19)
show("output[0, 1, 1]", out[0, 0, 1, 1], 709.5)
show("output[0, :, :]", out[0, 0], [[0.5, 79], [19, 709.5]])

# --- 4. Max pooling ---------------------------------------------------------
print("\n4. MaxPool(k=2, stride=2) of [[1, 4], [2, 9]]")
window = np.array([[1, 4], [2, 9]], dtype=np.float64)[np.newaxis, np.newaxis]
pooled = max_pool2d(window, kernel_size=2, stride=2)
show("max over the 2x2 window", pooled[0, 0, 0, 0], 9)

# --- 5. Parameter counts of fully connected first layers --------------------
print("\n5. Parameters of a Linear(1000) first layer (weights + bias)")
mnist_inputs = 1 * 28 * 28
show("MNIST 1x28x28 -> 1000: 784 * 1000 + 1000", mnist_inputs * 1000 + 1000, 785000)
rgb_inputs = 3 * 224 * 224
show("RGB 3x224x224 -> 1000: 150528 * 1000 + 1000", rgb_inputs * 1000 + 1000, 150529000)
pixels = 256 * 256
show("256x256 gray -> 256x256 hidden, fully conn.", pixels * pixels, 4294967296)
show("... with one 3x3 convolution (no bias)", 3 * 3, 9)
print("  (see examples/06_parameter_counts.py for the same counts from real layers)")

# --- 6. Output size: H_out = floor((H + 2p - d(k-1) - 1) / s) + 1 ----------
print("\n6. Output size H_out = floor((H + 2*pad - dilation*(k-1) - 1) / stride) + 1")
cases = [
    # (H, k, stride, pad, dilation, what the lecture says)
    (5, 3, 1, 0, 1, "naive 3x3 on 5x5 shrinks to 3x3"),
    (5, 3, 1, 1, 1, "pad (k-1)/2 = 1 keeps 5x5"),
    (224, 3, 1, 1, 1, "224x224 RGB, 3x3, pad 1: same size"),
    (224, 3, 2, 1, 1, "stride 2 halves it"),
    (5, 3, 1, 0, 2, "dilation 2: a 5x5 footprint"),
]
for h, k, s, p, d, note in cases:
    formula = (h + 2 * p - d * (k - 1) - 1) // s + 1
    y = conv2d(np.zeros((1, 1, h, h)), np.zeros((1, 1, k, k)), stride=s, padding=p,
               dilation=d)
    show(f"H={h}, k={k}, stride={s}, pad={p}, dil={d}", y.shape[-1], formula, "formula")
    print(f"    ({note})")

if mismatches:
    raise SystemExit(f"{len(mismatches)} value(s) differ from the slides: {mismatches}")
print("\nAll values match the slides and the formula.")
