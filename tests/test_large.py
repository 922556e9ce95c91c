"""Tensors of more than 2**31 elements through conv2d and max_pool2d.

Index arithmetic in the kernels must be ``Py_ssize_t``: a 32-bit ``int``
product would wrap for elements past 2**31 and read or write the wrong
place. The input here is float32 of shape (1, 2, 32768, 32770) -- 2**31 +
131072 elements, 8 GiB -- and the checked values lie in its second channel,
past element 2**31. Needs about 10 GiB: runs with ``PYCONV_RUN_LARGE=1`` or
when /proc/meminfo shows more than three times that available.
"""
import os

import numpy as np
import pytest

from pyconv import functional as F

SHAPE = (1, 2, 32768, 32770)
NEED_BYTES = 10 * 2**30


def _available_bytes():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("PYCONV_RUN_LARGE") != "1"
                       and _available_bytes() < 3 * NEED_BYTES,
                       reason="needs ~10 GiB: set PYCONV_RUN_LARGE=1 (or have 30 GiB free)"),
]


@pytest.fixture(scope="module")
def big():
    x = np.zeros(SHAPE, dtype=np.float32)
    assert x.size > 2**31
    h, w = SHAPE[2], SHAPE[3]
    # Marks in channel 1, i.e. beyond flat element h*w = 2**30 + ... and near
    # the very end (flat index > 2**31 - 1).
    x[0, 1, h - 4:, w - 4:] = np.arange(16, dtype=np.float32).reshape(4, 4) + 1
    x[0, 1, 20000, 30002] = 7.0
    x[0, 1, 5, 6] = -3.0
    x[0, 0, h - 1, w - 1] = 11.0
    assert np.ravel_multi_index((0, 1, h - 1, w - 1), SHAPE) > 2**31
    yield x
    del x


def test_max_pool2d_over_2_to_31_elements(big):
    h, w = SHAPE[2], SHAPE[3]
    y, indices = F.max_pool2d(big, 4, return_indices=True)
    assert y.shape == (1, 2, h // 4, w // 4)
    # Last full window of channel 1 covers rows h-4.., columns 32764..32767.
    last_col = (w // 4) * 4 - 4
    window = big[0, 1, h - 4:, last_col:last_col + 4]
    assert y[0, 1, -1, -1] == window.max()
    flat = np.argmax(window)
    assert indices[0, 1, -1, -1] == (h - 4 + flat // 4) * w + last_col + flat % 4
    assert y[0, 1, 20000 // 4, 30002 // 4] == 7.0
    assert indices[0, 1, 20000 // 4, 30002 // 4] == 20000 * w + 30002
    assert y[0, 1, 1, 1] == 0.0          # the -3 loses to the zeros around it
    assert y[0, 0, -1, -1] == 0.0        # (h-1, w-1) lies in no full window
    del y, indices


def test_conv2d_over_2_to_31_elements(big):
    h, w = SHAPE[2], SHAPE[3]
    weight = np.array([[[[2.0]], [[5.0]]]], dtype=np.float32)        # 1x1, 2 -> 1 channel
    y = F.conv2d(big, weight, stride=3, padding=1)
    ho = (h + 2 - 1) // 3 + 1
    wo = (w + 2 - 1) // 3 + 1
    assert y.shape == (1, 1, ho, wo)

    def direct(i, j):
        r, c = i * 3 - 1, j * 3 - 1
        if 0 <= r < h and 0 <= c < w:
            return 2.0 * big[0, 0, r, c] + 5.0 * big[0, 1, r, c]
        return 0.0

    r, c = 20000 + 1, 30002 + 1          # output (r // 3, c // 3) reads (20000, 30002)
    assert r % 3 == 0 and c % 3 == 0
    for i, j in [(r // 3, c // 3), (ho - 1, wo - 1), (ho - 2, wo - 2), (2, 2), (0, 0)]:
        assert y[0, 0, i, j] == direct(i, j), (i, j)
    assert y[0, 0, r // 3, c // 3] == 35.0
    del y
