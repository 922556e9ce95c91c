"""Both builds of the kernels: the AVX2+FMA one this CPU picks and the
portable baseline (``PYCONV_SIMD=baseline``), which only a CPU without
AVX2/FMA would otherwise run. The baseline runs in a child process (the
choice is made once, at import) over layers that reach every path of the
AVX2 build -- own GEMM (k >= 128, prepacked weights), Winograd F(4x4) and
F(2x2), stride-2 im2col/col2im, depthwise, pooling -- and must agree with
the parent's results to float32 rounding."""
import json

import numpy as np
import pytest

from _support import run_python
from pyconv import _dispatch

CASES = [
    # (x_shape, w_shape, options)
    ((2, 130, 5, 6), (130, 130, 1, 1), {}),
    ((2, 64, 17, 33), (128, 64, 3, 3), {"padding": 1, "stride": 2}),
    ((2, 32, 16, 16), (32, 32, 3, 3), {"padding": 1}),
    ((2, 80, 9, 9), (16, 80, 3, 3), {"padding": 1}),
    ((2, 16, 20, 20), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 16, 12, 12), (16, 1, 3, 3), {"padding": 1, "groups": 16}),
]

CHILD = """
import json, sys
import numpy as np
import pyconv
from pyconv import functional as F
cases = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
out = {"simd": pyconv._dispatch.simd_level(), "results": []}
for x_shape, w_shape, options in cases:
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    y = F.conv2d(x, w, None, **options)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, _ = F.conv2d_backward(gy, x, w, **options)
    pooled = F.max_pool2d(x, 2)
    out["results"].append([a.ravel().tolist() for a in (y, gx, gw, pooled)])
print(json.dumps(out))
"""


def _run(simd):
    done = run_python(CHILD, json.dumps(CASES), env={"PYCONV_SIMD": simd}, timeout=300)
    assert done.returncode == 0, f"PYCONV_SIMD={simd} child failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


@pytest.mark.skipif(_dispatch.simd_level() != "avx2",
                    reason="this CPU runs the baseline build already")
def test_baseline_build_agrees_with_the_avx2_build():
    avx2, baseline = _run("avx2"), _run("baseline")
    assert avx2["simd"] == "avx2" and baseline["simd"] == "baseline"
    for case, fast, portable in zip(CASES, avx2["results"], baseline["results"]):
        for name, a, b in zip(["y", "grad_x", "grad_weight", "max_pool"], fast, portable):
            a, b = np.asarray(a), np.asarray(b)
            scale = max(1.0, np.abs(b).max())
            np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * scale,
                                       err_msg=f"{name} for {case}")
