"""Parameter counts: fully connected vs convolutional first layers
===============================================================

The lecture's argument for convolutions: a Dense(1000) layer on a flattened
MNIST digit already has 785,000 parameters, and on a 3x224x224 photo
150,529,000 -- for the first layer alone. A Conv2D with 16 filters of 3x3
on the same photo has 448, whatever the image size.

Run:  python examples/06_parameter_counts.py
Writes nothing. The 150M-parameter model is counted from layer shapes
(``layer.count_params(input_shape)``) without allocating its 600 MB of weights.
"""
import numpy as np

from pyconv import Sequential, layers

mismatches = []


def check(label, computed, expected, source="lecture"):
    ok = computed == expected
    print(f"  {label:<46} {computed:>13,}   {source}: {expected:>13,}   "
          f"{'ok' if ok else 'MISMATCH'}")
    if not ok:
        mismatches.append(label)


# --- MNIST: a real, built model (3 MB of weights) ---------------------------
print("1. Flatten + Dense(1000) on a 1x28x28 grayscale digit (built model):")
mnist = Sequential([layers.Flatten(input_shape=(1, 28, 28)), layers.Dense(1000)])
mnist.summary()
check("count_params(): 784 * 1000 + 1000", mnist.count_params(), 785_000)


# --- RGB 224x224: counted from shapes, nothing allocated --------------------
def count_without_building(stack, input_shape):
    """Parameters of a layer stack from shapes alone (no weights created)."""
    shape, total = tuple(input_shape), 0
    for layer in stack:
        params = layer.count_params(shape)
        shape = layer.compute_output_shape(shape)
        print(f"    {type(layer).__name__:<10} -> output {str(shape):<18} params {params:>13,}")
        total += params
    return total


print("\n2. Flatten + Dense(1000) on a 3x224x224 RGB photo (counted from shapes):")
dense_total = count_without_building([layers.Flatten(), layers.Dense(1000)], (3, 224, 224))
check("150528 * 1000 + 1000", dense_total, 150_529_000)
print(f"    (as float32 that is {dense_total * 4 / 2**20:,.0f} MiB of weights, "
      "never allocated here)")

# --- The same photo through a convolution -----------------------------------
print("\n3. Conv2D(16, 3) on the same 3x224x224 photo (built and run):")
conv = Sequential([layers.Conv2D(16, 3, padding="same", input_shape=(3, 224, 224))])
conv.summary()
check("16 filters * (3 * 3 * 3) + 16 biases", conv.count_params(), 448, "expected")
photo = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
features = conv.predict(photo, verbose=0)
print(f"    input {photo.shape} -> feature maps {features.shape}: "
      f"{features[0].size:,} outputs from {conv.count_params()} parameters")
ratio = dense_total / conv.count_params()
print(f"\nThe dense layer has {ratio:,.0f} times more parameters than the convolution.")

if mismatches:
    raise SystemExit(f"{len(mismatches)} count(s) differ from the lecture: {mismatches}")
print("All counts match the lecture.")
