"""
Convolutional networks, the lecture worked with pyconv
======================================================

The lecture this project grew from (a course on deep learning systems,
lecture 11, "Convolutional Networks") works small examples by hand. Here each
one is computed by pyconv while this page is built; every ``assert`` below
holds, or the documentation build fails.
"""
# %%
# Why not fully connected layers?
# -------------------------------
# A ``Dense(1000)`` first layer on a flattened 28x28 MNIST digit has
# ``784 * 1000 + 1000`` parameters; on a 224x224 colour photo it has
# ``150528 * 1000 + 1000``. pyconv counts them from the layer shapes, without
# allocating the 600 MB of weights of the second one.
import numpy as np

import pyconv
from pyconv import functional as F
from pyconv import layers
from pyconv.image import gaussian_kernel_5x5, sobel_kernels


def dense_parameters(input_shape, units=1000):
    """Parameters of Flatten + Dense(units) on ``input_shape``, from shapes only."""
    flat = layers.Flatten().compute_output_shape(input_shape)
    return layers.Dense(units).count_params(flat)


mnist = dense_parameters((1, 28, 28))
photo = dense_parameters((3, 224, 224))
print(f"MNIST 1x28x28   -> Dense(1000): {mnist:>11,} parameters")
print(f"photo 3x224x224 -> Dense(1000): {photo:>11,} parameters")
assert mnist == 785_000
assert photo == 150_529_000

# %%
# The same numbers from a real model's ``summary``:
model = pyconv.Sequential([layers.Flatten(input_shape=(1, 28, 28)), layers.Dense(1000)])
model.summary()
assert model.count_params() == 785_000

# %%
# Applying a filter to an image
# -----------------------------
# The lecture blurs a 5x5 ``uint8`` image ``I`` with the 3x3 kernel
# ``g = [[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16``, sliding it over every
# position where it fits. :func:`pyconv.functional.conv2d` takes NCHW
# arrays: one image, one channel, one filter.
I = np.array([[200, 200, 200, 200, 200],
              [200, 20, 20, 45, 200],
              [100, 20, 25, 65, 150],
              [80, 20, 40, 60, 80],
              [80, 30, 50, 80, 80]], dtype=np.uint8)
g = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16

blurred = F.conv2d(I[None, None].astype(np.float64), g[None, None])[0, 0]
print(blurred)
assert blurred[0, 0] == 92.8125     # window centred on I[1, 1]
assert blurred[0, 1] == 71.5625     # window centred on I[1, 2]
assert blurred[1, 0] == 46.875      # window centred on I[2, 1]

# %%
# The lecture's pseudocode, "for each position, multiply the region by the
# filter and sum", gives the same 3x3 response:
k = 3
half = (k - 1) // 2
loops = np.zeros((3, 3))
for y in range(half, 5 - half):
    for x in range(half, 5 - half):
        region = I[y - half:y + half + 1, x - half:x + half + 1].astype(np.float64)
        loops[y - half, x - half] = np.sum(region * g)
assert np.array_equal(loops, blurred)

# %%
# Blurring and edges with fixed filters
# -------------------------------------
# The slide's 5x5 Gaussian kernel is printed with a typo: its last row
# ``[1, 4, 4, 4, 1]`` would make the weights sum to 270. The symmetric
# kernel, which :func:`pyconv.image.gaussian_kernel_5x5` returns, sums to 273.
weights = np.rint(gaussian_kernel_5x5() * 273).astype(int)
print(weights)
assert weights.sum() == 273
assert list(weights[-1]) == [1, 4, 7, 4, 1]

# %%
# The image gradient is ``sqrt((z * Gx)^2 + (z * Gy)^2)`` with the two Sobel
# kernels. On a vertical step edge only ``Gx`` responds:
gx, gy = sobel_kernels()
print(gx)
step = np.zeros((1, 1, 5, 6))
step[..., 3:] = 1.0
edges = np.sqrt(F.conv2d(step, gx[None, None]) ** 2 + F.conv2d(step, gy[None, None]) ** 2)
print(edges[0, 0])
assert np.array_equal(edges[0, 0, :, 1:3], np.full((3, 2), 4.0))
assert np.all(edges[0, 0, :, [0, 3]] == 0)

# %%
# A multichannel convolution
# --------------------------
# Two input channels (3x3 each) and one filter of shape
# ``[C_in = 2, 2, 2]``: each output value sums the products over both
# channels. The lecture works all four outputs by hand.
x = np.array([[[0, 0, 0], [0, 1, 128], [0, 4, 100]],       # channel 0 ("red")
              [[0, 0, 0], [0, 0, 10], [0, 10, 255]]],       # channel 1
             dtype=np.float64)[None]                         # [1, 2, 3, 3]
filter0 = np.array([[[1, 2], [0, 0.5]],
                    [[1, 1], [1, 1.5]]])                     # [2, 2, 2]
out = F.conv2d(x, filter0[None])                             # weight [1, 2, 2, 2]
print(out[0, 0].tolist())
assert out[0, 0, 0, 0] == 0.5
assert out[0, 0, 0, 1] == 79
assert out[0, 0, 1, 0] == 19
assert out[0, 0, 1, 1] == 709.5

# %%
# "A single output channel is the sum of convolutions over all input
# channels": ``z[s] = sum_r x[r] * W[s, r]``. Convolving each channel on its
# own and adding gives the same map.
per_channel = sum(F.conv2d(x[:, r:r + 1], filter0[None, r:r + 1]) for r in range(2))
assert np.array_equal(per_channel, out)

# %%
# A filter bank: ``C_out = 4`` filters over ``C_in = 3`` channels of a
# 224x224 image, stride 1, no padding. Its weights have shape
# ``[4, 3, 3, 3]``: 108 weights and 4 biases.
bank = layers.Conv2D(4, 3)
print("Conv2D(4, 3) on 3x224x224:", bank.count_params((3, 224, 224)), "parameters,",
      "output", bank.compute_output_shape((3, 224, 224)))
assert bank.count_params((3, 224, 224)) == 4 * 3 * 3 * 3 + 4
assert bank.compute_output_shape((3, 224, 224)) == (4, 222, 222)

# %%
# Padding, stride and dilation
# ----------------------------
# ``H_out = floor((H + 2 * pad - dilation * (k - 1) - 1) / stride) + 1``,
# as in ``torch.nn.Conv2d``. A naive 3x3 shrinks a 5x5 image to 3x3;
# padding ``(k - 1) / 2 = 1`` keeps it 5x5; stride 2 halves 224 to 112;
# dilation 2 gives a 3x3 kernel a 5x5 footprint.
cases = [  # (H, k, stride, pad, dilation, H_out on the slides)
    (5, 3, 1, 0, 1, 3),
    (5, 3, 1, 1, 1, 5),
    (224, 3, 1, 1, 1, 224),
    (224, 3, 2, 1, 1, 112),
    (5, 3, 1, 0, 2, 1),
]
for h, k, s, p, d, expected in cases:
    y = F.conv2d(np.zeros((1, 1, h, h)), np.zeros((1, 1, k, k)), stride=s, padding=p,
                 dilation=d)
    print(f"H={h:>3} k={k} stride={s} pad={p} dilation={d}: H_out={y.shape[-1]}")
    assert y.shape[-1] == expected

# %%
# Pooling
# -------
# ``MaxPool(k=2, stride=2)`` keeps the largest value of each non-overlapping
# 2x2 window; average pooling keeps the mean.
window = np.array([[1, 4], [2, 9]], dtype=np.float64)[None, None]
print("max:", F.max_pool2d(window, 2, stride=2)[0, 0, 0, 0],
      " mean:", F.avg_pool2d(window, 2, stride=2)[0, 0, 0, 0])
assert F.max_pool2d(window, 2, stride=2)[0, 0, 0, 0] == 9
assert F.avg_pool2d(window, 2, stride=2)[0, 0, 0, 0] == 4

# %%
# Why convolutions simplify deep networks
# ---------------------------------------
# A 256x256 grayscale image mapped to a 256x256 hidden layer: a fully
# connected layer needs ``65536 * 65536`` (about 4 billion) weights, a 3x3
# convolution 9, whatever the image size.
full = layers.Dense(256 * 256, use_bias=False).count_params((256 * 256,))
conv = layers.Conv2D(1, 3, padding="same", use_bias=False).count_params((1, 256, 256))
print(f"fully connected: {full:,} weights; 3x3 convolution: {conv} weights")
assert full == 4_294_967_296
assert conv == 9

# %%
# And shifting the input shifts the convolution's output by the same amount
# (away from the border), the invariance fully connected layers lack:
rng = np.random.default_rng(0)
image = rng.random((1, 1, 16, 16))
kernel = rng.random((1, 1, 3, 3))
shifted = np.roll(image, 1, axis=-1)
a = F.conv2d(image, kernel)
b = F.conv2d(shifted, kernel)
assert np.allclose(b[..., 1:], a[..., :-1])
print("shift by one pixel in, shift by one pixel out")
