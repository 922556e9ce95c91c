"""Every SIMD build of the kernels this CPU runs -- baseline, AVX2+FMA,
AVX-512 -- against the float64 reference and against each other, and the
``PYCONV_SIMD`` rules. The path is chosen once per process, so each build
runs in a child process with ``PYCONV_SIMD`` set, over layers that reach
every fast path -- own GEMM (k >= 128, prepacked weights), Winograd F(4x4)
and F(2x2), stride-2 im2col/col2im, depthwise, pooling. The children also
check that one and two threads give bit-identical results within a path.
Paths the CPU, OS or build cannot run are skipped, saying why."""
import json
import os

import numpy as np
import pytest

from _support import run_python
from pyconv import _dispatch, _reference

CASES = [
    # (x_shape, w_shape, options)
    ((2, 130, 5, 6), (130, 130, 1, 1), {}),
    ((2, 64, 17, 33), (128, 64, 3, 3), {"padding": 1, "stride": 2}),
    ((2, 32, 16, 16), (32, 32, 3, 3), {"padding": 1}),
    ((2, 80, 9, 9), (16, 80, 3, 3), {"padding": 1}),
    ((2, 16, 20, 20), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 16, 12, 12), (16, 1, 3, 3), {"padding": 1, "groups": 16}),
]
OUTPUTS = ["y", "grad_x", "grad_weight", "max_pool"]

CHILD = """
import json, sys
import numpy as np
import pyconv
from pyconv import functional as F
cases = json.loads(sys.argv[1])
out = {"simd": pyconv._dispatch.simd_level(), "results": [], "thread_mismatches": []}
for index, (x_shape, w_shape, options) in enumerate(cases):
    rng = np.random.default_rng(index)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    gy = None
    by_threads = []
    for threads in (1, 2):
        pyconv.set_num_threads(threads)
        y = F.conv2d(x, w, None, **options)
        if gy is None:
            gy = rng.standard_normal(y.shape).astype(np.float32)
        gx, gw, _ = F.conv2d_backward(gy, x, w, **options)
        by_threads.append((y, gx, gw, F.max_pool2d(x, 2)))
    for name, a, b in zip(%r, *by_threads):
        if not np.array_equal(a, b):
            out["thread_mismatches"].append([index, name])
    out["results"].append([a.ravel().tolist() for a in by_threads[0]])
print(json.dumps(out))
""" % (OUTPUTS,)

_runs = {}


def _run(simd):
    """The child's results under ``PYCONV_SIMD=simd`` (once per session)."""
    if simd not in _runs:
        done = run_python(CHILD, json.dumps(CASES), env={"PYCONV_SIMD": simd}, timeout=600)
        assert done.returncode == 0, f"PYCONV_SIMD={simd} child failed:\n{done.stderr[-3000:]}"
        _runs[simd] = json.loads(done.stdout)
    return _runs[simd]


def _reference_results(index, x_shape, w_shape, options):
    """The float64 reference of what the child computes for case ``index``."""
    rng = np.random.default_rng(index)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    y = _reference.conv2d_im2col(x64, w64, None, **options)
    gy = rng.standard_normal(y.shape).astype(np.float32).astype(np.float64)
    gx, gw, _ = _reference.conv2d_backward_im2col(gy, x64, w64, **options)
    n, c, h, wd = x.shape
    pooled = x[:, :, :h // 2 * 2, :wd // 2 * 2].reshape(n, c, h // 2, 2, wd // 2, 2).max((3, 5))
    return y, gx, gw, pooled


def _skip_unless_usable(level):
    why = _dispatch.why_unusable(level)
    if why is not None:
        pytest.skip(f"the {level} path cannot run here: {why}")


def _assert_agree(actual, expected, what):
    actual, expected = np.asarray(actual, np.float64).ravel(), np.asarray(expected).ravel()
    scale = max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-5 * scale, err_msg=what)


@pytest.mark.parametrize("level", _dispatch.LEVELS)
def test_each_path_matches_the_reference_and_is_thread_count_independent(level):
    _skip_unless_usable(level)
    run = _run(level)
    assert run["simd"] == level
    assert run["thread_mismatches"] == [], "1 and 2 threads differ within the path"
    for index, (case, results) in enumerate(zip(CASES, run["results"])):
        for name, got, want in zip(OUTPUTS, results, _reference_results(index, *case)):
            _assert_agree(got, want, f"{level} {name} for {case}")


@pytest.mark.parametrize("level", [level for level in _dispatch.LEVELS if level != "baseline"])
def test_each_path_agrees_with_the_baseline(level):
    _skip_unless_usable(level)
    fast, portable = _run(level), _run("baseline")
    for case, a, b in zip(CASES, fast["results"], portable["results"]):
        for name, got, want in zip(OUTPUTS, a, b):
            _assert_agree(got, want, f"{level} against baseline: {name} for {case}")


def test_default_is_the_widest_usable_path():
    assert _dispatch.usable_levels()[0] == "baseline"
    if not os.environ.get("PYCONV_SIMD"):
        assert _dispatch.simd_level() == _dispatch.usable_levels()[-1]


def _choose_with(monkeypatch, value, features=None):
    """`_dispatch`'s choice under ``PYCONV_SIMD=value`` (and CPU features),
    made afresh without touching this process's own choice."""
    monkeypatch.setattr(_dispatch, "_cache", {})
    monkeypatch.setenv("PYCONV_SIMD", value)
    if features is not None:
        monkeypatch.setattr(_dispatch._openmp_helpers, "cpu_features", lambda: features)
    return _dispatch.simd_level()


def test_unknown_pyconv_simd_is_an_error_naming_the_allowed_values(monkeypatch):
    with pytest.raises(ValueError, match=r"PYCONV_SIMD='sse9'.*baseline, avx2, avx512"):
        _choose_with(monkeypatch, "sse9")


def test_pyconv_simd_for_a_path_the_cpu_lacks_is_an_error(monkeypatch):
    no_avx512 = dict.fromkeys(["avx", "fma", "avx2", "osxsave", "os_ymm"], True)
    no_avx512.update(dict.fromkeys(["avx512f", "avx512bw", "avx512dq", "avx512vl", "os_zmm"],
                                   False))
    with pytest.raises(ValueError, match=r"PYCONV_SIMD='avx512' cannot run here: "
                                         r"the CPU/OS lacks avx512f.*os_zmm"):
        _choose_with(monkeypatch, "avx512", no_avx512)
    # The OS not saving the zmm state is enough to rule the path out.
    zmm_unsaved = dict(no_avx512, avx512f=True, avx512bw=True, avx512dq=True, avx512vl=True)
    with pytest.raises(ValueError, match="lacks os_zmm"):
        _choose_with(monkeypatch, "avx512", zmm_unsaved)
    assert _choose_with(monkeypatch, "", zmm_unsaved) in ("baseline", "avx2")


def test_forced_path_is_reported(monkeypatch):
    assert _choose_with(monkeypatch, "baseline") == "baseline"
    assert _dispatch.simd_reason() == "forced by PYCONV_SIMD"
