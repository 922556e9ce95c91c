"""pyconv.functional.conv2d and conv2d_backward against the numpy references,
finite differences and PyTorch (DESIGN.md's three layers of evidence), plus
determinism, thread and input-handling checks."""
import concurrent.futures
import itertools

import numpy as np
import pytest

import pyconv
from pyconv import _conv_plan, _dispatch
from pyconv import _reference as ref
from pyconv import functional as F
from pyconv._shapes import conv_output_size, same_padding

from _support import assert_close
from _torch_parity import assert_matches_torch, torch_conv2d

PADDING_MODES = ["zeros", "reflect", "replicate", "circular"]


# ----------------------------------------------------------------------------
# The configuration grid
# ----------------------------------------------------------------------------
def _pads(padding, kernel, dilation):
    """((top, bottom), (left, right)) of a padding argument."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return same_padding(kernel[0], dilation[0]), same_padding(kernel[1], dilation[1])
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph), (pw, pw)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _valid(cfg):
    """Whether a configuration is one PyTorch accepts."""
    n, c_in, h, w = cfg["x_shape"]
    kh, kw = cfg["kernel"]
    stride, dilation = _pair(cfg["stride"]), _pair(cfg["dilation"])
    if cfg["padding"] == "same" and stride != (1, 1):
        return False
    (top, bottom), (left, right) = _pads(cfg["padding"], (kh, kw), dilation)
    if cfg["padding_mode"] == "reflect" and max(top, bottom) >= h or (
            cfg["padding_mode"] == "reflect" and max(left, right) >= w):
        return False
    if cfg["padding_mode"] == "circular" and (max(top, bottom) > h or max(left, right) > w):
        return False
    ho = conv_output_size(h, kh, stride[0], top, bottom, dilation[0])
    wo = conv_output_size(w, kw, stride[1], left, right, dilation[1])
    return ho >= 1 and wo >= 1


# groups spec: (groups, C_out) for C_in = 4
GROUPS = {
    "g1": (1, 6),
    "g2": (2, 6),
    "depthwise": (4, 4),        # groups == C_in, channel multiplier 1
    "depthwise_x2": (4, 8),     # groups == C_in, channel multiplier 2
}
KERNELS = {"3x3": (3, 3), "2x3": (2, 3), "1x1": (1, 1), "full": (7, 6)}


def _cfg(stride=1, padding=0, dilation=1, groups="g1", padding_mode="zeros", kernel="3x3",
         bias=True, batch=2, size=(7, 6)):
    g, c_out = GROUPS[groups]
    kh, kw = KERNELS[kernel] if kernel != "full" else size
    return {
        "x_shape": (batch, 4, *size), "w_shape": (c_out, 4 // g, kh, kw), "kernel": (kh, kw),
        "stride": stride, "padding": padding, "dilation": dilation, "groups": g,
        "padding_mode": padding_mode, "bias": bias,
        "id": f"s{stride}-p{padding}-d{dilation}-{groups}-{padding_mode}-k{kernel}"
              f"-{'b' if bias else 'nob'}-n{batch}-{size[0]}x{size[1]}".replace(" ", ""),
    }


def _build_grid():
    cases = []
    # 1. geometry: stride x padding x dilation x groups, with padding_mode,
    #    kernel shape and bias cycling so that each meets every geometry.
    geometry = itertools.product([1, 2, 3], [0, 1, (1, 2), "same", "valid"], [1, 2],
                                 list(GROUPS))
    for i, (stride, padding, dilation, groups) in enumerate(geometry):
        cases.append(_cfg(stride, padding, dilation, groups,
                          padding_mode=PADDING_MODES[i % 4],
                          kernel=["3x3", "2x3", "1x1", "3x3", "2x3"][i % 5],
                          bias=bool(i % 3)))
    # 2. every padding_mode x kernel shape x groups, with padding
    for mode, kernel, groups in itertools.product(PADDING_MODES, KERNELS, GROUPS):
        cases.append(_cfg(1, "same", 1, groups, mode, kernel))
        cases.append(_cfg(2, (2, 1), 1, groups, mode, kernel, bias=False))
    # 3. batch 1, odd and tiny sizes, kernel == input, dilated, non-square stride
    cases += [
        _cfg(batch=1),
        _cfg(batch=1, size=(1, 1), kernel="1x1"),
        _cfg(batch=1, size=(3, 3), kernel="full"),
        _cfg(size=(5, 9), kernel="full", padding=1, padding_mode="circular"),
        _cfg(size=(9, 5), stride=(2, 1), dilation=(1, 2), kernel="2x3", padding=(1, 0)),
        _cfg(size=(11, 8), stride=(1, 3), dilation=(3, 1), padding="same",
             groups="depthwise_x2", padding_mode="reflect"),
        _cfg(size=(4, 4), padding=3, padding_mode="circular", kernel="2x3"),
        _cfg(batch=3, size=(13, 7), stride=3, dilation=2, groups="g2", padding=2),
    ]
    unique = {c["id"]: c for c in cases if _valid(c)}
    return list(unique.values())


GRID = _build_grid()


def _arrays(cfg, rng, dtype=np.float64):
    x = rng.standard_normal(cfg["x_shape"]).astype(dtype)
    weight = rng.standard_normal(cfg["w_shape"]).astype(dtype)
    bias = rng.standard_normal(cfg["w_shape"][0]).astype(dtype) if cfg["bias"] else None
    return x, weight, bias


def _options(cfg):
    return {k: cfg[k] for k in ("stride", "padding", "dilation", "groups", "padding_mode")}


def test_grid_covers_the_plan():
    ids = " ".join(c["id"] for c in GRID)
    for needle in ["s1-", "s2-", "s3-", "-p0-", "-p1-", "-p(1,2)-", "-psame-", "-pvalid-",
                   "-d1-", "-d2-", "-g1-", "-g2-", "-depthwise-", "-depthwise_x2-",
                   "-zeros-", "-reflect-", "-replicate-", "-circular-", "-k2x3-", "-k1x1-",
                   "-kfull-", "-nob-", "-n1-"]:
        assert needle in ids, needle
    assert len(GRID) > 150


# ----------------------------------------------------------------------------
# 1. Equality with the references
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", GRID, ids=[c["id"] for c in GRID])
def test_references_agree(cfg, rng):
    x, weight, bias = _arrays(cfg, rng)
    y_loops = ref.conv2d_loops(x, weight, bias, **_options(cfg))
    y_im2col = ref.conv2d_im2col(x, weight, bias, **_options(cfg))
    assert_close(y_im2col, y_loops)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", GRID, ids=[c["id"] for c in GRID])
def test_conv2d_and_backward_match_reference(cfg, dtype, rng):
    x, weight, bias = _arrays(cfg, rng, dtype)
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)
    y = F.conv2d(x, weight, bias, **_options(cfg))
    expected = ref.conv2d_im2col(x64, w64, None if bias is None else bias.astype(np.float64),
                                 **_options(cfg))
    assert y.dtype == dtype
    assert_close(y, expected, dtype, err_msg=f"conv2d {cfg['id']}")

    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    grads = F.conv2d_backward(grad_output, x, weight, **_options(cfg))
    expected = ref.conv2d_backward_im2col(grad_output.astype(np.float64), x64, w64,
                                          **_options(cfg))
    for name, got, want in zip(["grad_x", "grad_weight", "grad_bias"], grads, expected):
        assert_close(got, want, dtype, err_msg=f"{name} {cfg['id']}")


def test_conv2d_backward_without_bias_gradient(rng):
    cfg = _cfg()
    x, weight, _ = _arrays(cfg, rng)
    grad_output = rng.standard_normal((2, 6, 5, 4))
    grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_output, x, weight,
                                                       compute_grad_bias=False)
    assert grad_bias is None
    expected = ref.conv2d_backward_im2col(grad_output, x, weight)
    assert_close(grad_x, expected[0])
    assert_close(grad_weight, expected[1])


def test_conv2d_empty_batch(rng):
    x = np.zeros((0, 3, 5, 5))
    weight = rng.standard_normal((2, 3, 3, 3))
    y = F.conv2d(x, weight, np.ones(2))
    assert y.shape == (0, 2, 3, 3)
    grad_x, grad_weight, grad_bias = F.conv2d_backward(np.zeros((0, 2, 3, 3)), x, weight)
    assert grad_x.shape == (0, 3, 5, 5)
    np.testing.assert_array_equal(grad_weight, np.zeros_like(weight))
    np.testing.assert_array_equal(grad_bias, np.zeros(2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_larger_problem_matches_reference(dtype, rng):
    """Big enough for several im2col tiles, weight-gradient chunks and threads."""
    x = rng.standard_normal((5, 8, 23, 21)).astype(dtype)
    weight = rng.standard_normal((12, 8, 3, 3)).astype(dtype)
    bias = rng.standard_normal(12).astype(dtype)
    y = F.conv2d(x, weight, bias, padding=1)
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)
    assert_close(y, ref.conv2d_im2col(x64, w64, bias.astype(np.float64), padding=1), dtype)
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    got = F.conv2d_backward(grad_output, x, weight, padding=1)
    want = ref.conv2d_backward_im2col(grad_output.astype(np.float64), x64, w64, padding=1)
    for g, w in zip(got, want):
        assert_close(g, w, dtype)


# ----------------------------------------------------------------------------
# 2. Central finite differences (float64) on a random projection of the output
# ----------------------------------------------------------------------------
FD_CASES = [
    dict(stride=1, padding=1, dilation=1, groups=1, padding_mode="zeros"),
    dict(stride=2, padding=(1, 2), dilation=1, groups=2, padding_mode="zeros"),
    dict(stride=1, padding="same", dilation=2, groups=1, padding_mode="reflect"),
    dict(stride=(2, 1), padding=2, dilation=1, groups=2, padding_mode="replicate"),
    dict(stride=1, padding=(2, 1), dilation=(1, 2), groups=1, padding_mode="circular"),
    dict(stride=1, padding="same", dilation=1, groups=4, padding_mode="reflect"),   # depthwise
    dict(stride=2, padding=1, dilation=1, groups=4, padding_mode="circular"),       # depthwise
    dict(stride=1, padding="valid", dilation=1, groups=1, padding_mode="zeros"),
]


def _numerical_gradient(loss, array, eps=1e-3):
    """Central differences of ``loss()`` with respect to every entry of ``array``
    (modified in place and restored)."""
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        grad_flat[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("options", FD_CASES, ids=[
    "-".join(str(v) for v in case.values()).replace(" ", "") for case in FD_CASES])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3)])
def test_conv2d_backward_finite_differences(options, kernel, rng, single_thread):
    groups = options["groups"]
    c_out = 4 if kernel == (3, 3) else 8   # depthwise with channel multiplier 1 and 2
    x = rng.standard_normal((2, 4, 5, 6))
    weight = rng.standard_normal((c_out, 4 // groups, *kernel))
    bias = rng.standard_normal(c_out)
    projection = rng.standard_normal(F.conv2d(x, weight, bias, **options).shape)

    def loss():
        return float(np.sum(F.conv2d(x, weight, bias, **options) * projection))

    grad_x, grad_weight, grad_bias = F.conv2d_backward(projection, x, weight, **options)
    # conv is linear in each argument: central differences are exact up to rounding
    np.testing.assert_allclose(grad_x, _numerical_gradient(loss, x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(grad_weight, _numerical_gradient(loss, weight),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(grad_bias, _numerical_gradient(loss, bias), rtol=1e-7, atol=1e-8)


# ----------------------------------------------------------------------------
# 3. PyTorch parity on a representative subset
# ----------------------------------------------------------------------------
TORCH_CASES = [
    _cfg(),
    _cfg(stride=2, padding=(1, 2), groups="g2", kernel="2x3", bias=False),
    _cfg(padding="same", kernel="2x3"),                       # even kernel: asymmetric split
    _cfg(padding="same", kernel="2x3", dilation=(1, 2), padding_mode="reflect"),
    _cfg(padding="same", kernel="3x3", groups="depthwise", padding_mode="replicate"),
    _cfg(padding="same", kernel="2x3", groups="depthwise_x2", padding_mode="circular"),
    _cfg(stride=3, padding=2, dilation=2, padding_mode="reflect", groups="g2"),
    _cfg(stride=(1, 2), padding=(2, 1), padding_mode="replicate", kernel="2x3"),
    _cfg(stride=2, padding=3, padding_mode="circular", groups="depthwise"),
    _cfg(padding="valid", kernel="full", batch=1),
    _cfg(kernel="1x1", stride=2),
    _cfg(size=(16, 15), batch=3, padding=1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", TORCH_CASES, ids=[c["id"] for c in TORCH_CASES])
def test_conv2d_matches_torch(cfg, dtype, rng):
    x, weight, bias = _arrays(cfg, rng, dtype)
    y = F.conv2d(x, weight, bias, **_options(cfg))
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    y_t, gx_t, gw_t, gb_t = torch_conv2d(x, weight, bias, grad_output, **_options(cfg))
    grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_output, x, weight, **_options(cfg))
    assert_matches_torch(f"conv2d {cfg['id']}", y, y_t)
    assert_matches_torch(f"grad_x {cfg['id']}", grad_x, gx_t)
    assert_matches_torch(f"grad_weight {cfg['id']}", grad_weight, gw_t)
    if bias is not None:
        assert_matches_torch(f"grad_bias {cfg['id']}", grad_bias, gb_t)


# ----------------------------------------------------------------------------
# Determinism and threads
# ----------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    yield
    pyconv.set_num_threads(None)


DETERMINISM_CASES = [
    dict(padding=1),
    dict(stride=2, padding="valid", groups=2),
    dict(padding="same", groups=8),            # depthwise
    dict(padding=2, padding_mode="reflect", dilation=2),
]


def _determinism_arrays(rng, groups):
    x = rng.standard_normal((6, 8, 19, 17)).astype(np.float32)
    weight = rng.standard_normal((16, 8 // groups, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    return x, weight, bias


@pytest.mark.parametrize("options", DETERMINISM_CASES, ids=str)
def test_same_input_twice_is_bit_identical(options, rng):
    x, weight, bias = _determinism_arrays(rng, options.get("groups", 1))
    y1 = F.conv2d(x, weight, bias, **options)
    y2 = F.conv2d(x, weight, bias, **options)
    np.testing.assert_array_equal(y1, y2)
    grad_output = rng.standard_normal(y1.shape).astype(np.float32)
    first = F.conv2d_backward(grad_output, x, weight, **options)
    second = F.conv2d_backward(grad_output, x, weight, **options)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("options", DETERMINISM_CASES, ids=str)
def test_one_and_two_threads_are_bit_identical(options, rng, restore_threads):
    """DESIGN.md: a fixed partition of the work, independent of the thread
    count, so forward *and* backward are bit-identical for any thread count."""
    x, weight, bias = _determinism_arrays(rng, options.get("groups", 1))
    grad_output = rng.standard_normal(F.conv2d(x, weight, bias, **options).shape)
    grad_output = grad_output.astype(np.float32)
    results = {}
    for n_threads in (1, 2):
        pyconv.set_num_threads(n_threads)
        assert pyconv.get_num_threads() == n_threads
        results[n_threads] = (F.conv2d(x, weight, bias, **options),
                              *F.conv2d_backward(grad_output, x, weight, **options))
    names = ["y", "grad_x", "grad_weight", "grad_bias"]
    for name, one, two in zip(names, results[1], results[2]):
        # backward: at least close (documented), then bit-identical (the design's aim)
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(one, two, err_msg=f"{name} differs between 1 and 2 threads")


def test_concurrent_python_threads_match_serial(rng):
    """Four Python threads calling conv2d/conv2d_backward at once (per-thread
    scratch buffers) give exactly the serial results."""
    jobs = []
    for i in range(8):
        groups = [1, 2, 8, 1][i % 4]
        x, weight, bias = _determinism_arrays(rng, groups)
        jobs.append((x, weight, bias, dict(padding=i % 3, groups=groups)))

    def run(job):
        x, weight, bias, options = job
        y = F.conv2d(x, weight, bias, **options)
        return (y, *F.conv2d_backward(y, x, weight, **options))

    serial = [run(job) for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(run, jobs * 2))
    for i, result in enumerate(parallel):
        for got, want in zip(result, serial[i % len(jobs)]):
            np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.float16, bool])
def test_other_real_dtypes_compute_in_float32(dtype, rng):
    x = rng.integers(0, 2 if dtype is bool else 200, size=(2, 3, 6, 5)).astype(dtype)
    # unsigned and bool inputs with signed integer weights
    weight_dtype = np.int16 if dtype in (np.uint8, bool) else dtype
    weight = rng.integers(-2, 3, size=(4, 3, 3, 3)).astype(weight_dtype)
    y = F.conv2d(x, weight)
    assert y.dtype == np.float32
    expected = ref.conv2d_loops(x.astype(np.float64), weight.astype(np.float64))
    assert_close(y, expected, np.float32)
    grad_x, grad_weight, grad_bias = F.conv2d_backward(np.ones(y.shape, np.uint8), x, weight)
    assert grad_x.dtype == grad_weight.dtype == grad_bias.dtype == np.float32


def test_float64_stays_float64_and_float32_stays_float32(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    weight = rng.standard_normal((3, 2, 3, 3))
    assert F.conv2d(x, weight).dtype == np.float64
    assert F.conv2d(x.astype(np.float32), weight.astype(np.float32)).dtype == np.float32
    grads = F.conv2d_backward(np.ones((1, 3, 3, 3)), x, weight)
    assert all(g.dtype == np.float64 for g in grads)


def _odd_layouts(array):
    """The same values as non-contiguous, Fortran-ordered and read-only arrays."""
    strided = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
    strided[..., ::2] = array
    fortran = np.asfortranarray(array)
    readonly = array.copy()
    readonly.setflags(write=False)
    transposed = np.ascontiguousarray(np.swapaxes(array, 2, 3)).swapaxes(2, 3)
    return {"strided": strided[..., ::2], "fortran": fortran, "readonly": readonly,
            "transposed": transposed}


@pytest.mark.parametrize("layout", ["strided", "fortran", "readonly", "transposed"])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_unusual_layouts_work_and_are_not_modified(layout, padding_mode, rng):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    grad_output = rng.standard_normal((2, 4, 7, 7)).astype(np.float32)
    options = dict(padding=1, padding_mode=padding_mode)
    expected_y = F.conv2d(x, weight, bias, **options)
    expected_grads = F.conv2d_backward(grad_output, x, weight, **options)

    xs, ws, bs, gs = (_odd_layouts(a)[layout] for a in (x, weight, bias[None, None, None],
                                                         grad_output))
    bs = bs[0, 0, 0]
    originals = [a.copy() for a in (xs, ws, bs, gs)]
    y = F.conv2d(xs, ws, bs, **options)
    grads = F.conv2d_backward(gs, xs, ws, **options)
    np.testing.assert_array_equal(y, expected_y)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_array_equal(got, want)
    for before, after in zip(originals, (xs, ws, bs, gs)):
        np.testing.assert_array_equal(before, after)


def test_nan_and_inf_pass_through(rng):
    x = rng.standard_normal((1, 1, 5, 5))
    x[0, 0, 0, 0] = np.nan
    x[0, 0, 4, 4] = np.inf
    y = F.conv2d(x, np.ones((1, 1, 2, 2)))
    assert np.isnan(y[0, 0, 0, 0])
    assert np.isposinf(y[0, 0, 3, 3])
    assert np.isfinite(y[0, 0, 1:3, 1:3]).all()


def test_conv_reference_matches_torch(rng):
    """The reference is the ground truth of the grid: check it against torch
    on every grid configuration (float64, forward and backward)."""
    for cfg in GRID:
        x, weight, bias = _arrays(cfg, rng)
        y = ref.conv2d_im2col(x, weight, bias, **_options(cfg))
        grad_output = rng.standard_normal(y.shape)
        y_t, gx_t, gw_t, gb_t = torch_conv2d(x, weight, bias, grad_output, **_options(cfg))
        assert_close(y, y_t, err_msg=cfg["id"])
        grads = ref.conv2d_backward_im2col(grad_output, x, weight, **_options(cfg))
        for got, want in zip(grads, (gx_t, gw_t, gb_t)):
            if want is not None:
                assert_close(got, want, err_msg=cfg["id"])


@pytest.mark.parametrize("options", [dict(padding=2, groups=32), dict(padding=1, groups=32,
                                                                      stride=2)], ids=str)
def test_depthwise_two_threads_repeatedly_match_one_thread(options, rng, restore_threads):
    """Races between OpenMP threads show up only sometimes: repeat."""
    x = rng.standard_normal((4, 32, 20, 20)).astype(np.float32)
    weight = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    pyconv.set_num_threads(1)
    expected = F.conv2d(x, weight, **options)
    grad_output = rng.standard_normal(expected.shape).astype(np.float32)
    expected_grads = F.conv2d_backward(grad_output, x, weight, **options)
    pyconv.set_num_threads(2)
    for _ in range(10):
        np.testing.assert_array_equal(F.conv2d(x, weight, **options), expected)
        for got, want in zip(F.conv2d_backward(grad_output, x, weight, **options),
                             expected_grads):
            np.testing.assert_array_equal(got, want)


def _random_config(rng):
    """One random valid configuration, possibly an odd corner (1-pixel
    images, kernels as large as the padded input, big strides)."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 4))
        c_out = groups * int(rng.integers(1, 4))
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        dilation = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = [tuple(int(v) for v in rng.integers(0, 4, size=2)), "same", "valid"][
            int(rng.choice([0, 0, 1, 2]))]
        if padding == "same":
            stride = (1, 1)
        cfg = {"x_shape": (int(rng.integers(1, 4)), c_in, h, w),
               "w_shape": (c_out, c_in // groups, kh, kw), "kernel": (kh, kw),
               "stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
               "padding_mode": str(rng.choice(PADDING_MODES)), "bias": bool(rng.integers(2))}
        if _valid(cfg):
            cfg["id"] = str({k: v for k, v in cfg.items() if k != "kernel"})
            return cfg


def test_random_configurations_match_reference(rng):
    for _ in range(40):
        cfg = _random_config(rng)
        x, weight, bias = _arrays(cfg, rng)
        y = F.conv2d(x, weight, bias, **_options(cfg))
        assert_close(y, ref.conv2d_loops(x, weight, bias, **_options(cfg)), err_msg=cfg["id"])
        grad_output = rng.standard_normal(y.shape)
        grads = F.conv2d_backward(grad_output, x, weight, **_options(cfg))
        expected = ref.conv2d_backward_im2col(grad_output, x, weight, **_options(cfg))
        for name, got, want in zip(["grad_x", "grad_weight", "grad_bias"], grads, expected):
            assert_close(got, want, err_msg=f"{name} {cfg['id']}")


@pytest.mark.parametrize("padding", [3, (4, 5), "same"], ids=str)
def test_replicate_padding_may_exceed_the_input_like_torch(padding, rng):
    """PyTorch's replicate padding has no size limit (unlike reflect, < size,
    and circular, <= size): a 2x3 image padded by 3 or more is valid."""
    x = rng.standard_normal((1, 2, 2, 3))
    weight = rng.standard_normal((3, 2, 7, 7))
    options = dict(padding=padding, padding_mode="replicate")
    y = F.conv2d(x, weight, **options)
    assert_close(y, ref.conv2d_loops(x, weight, **options))
    grad_output = rng.standard_normal(y.shape)
    for got, want in zip(F.conv2d_backward(grad_output, x, weight, **options),
                         ref.conv2d_backward_im2col(grad_output, x, weight, **options)):
        assert_close(got, want)
    y_t, gx_t, gw_t, _ = torch_conv2d(x, weight, None, grad_output, **options)
    assert_close(y, y_t)


# ----------------------------------------------------------------------------
# The fast paths that only larger layers reach (float32): Winograd F(2x2,3x3)
# for 3x3 stride-1 layers with >= 16 channels, F(4x4,3x3) among them for
# <= 64 channels and outputs of >= 13x13, the phase split of dilated
# stride-1 layers, the register-blocked direct kernel for 16/32 output
# channels, depthwise row kernels.
# ----------------------------------------------------------------------------
FAST_PATHS = [
    # (id, x_shape, w_shape, options)
    # F(4x4): output sizes not multiples of 4 (partial tiles at the right and
    # bottom), paddings 0 to 3 and asymmetric, several blocks of tile rows
    # (wide image), a dilated layer whose phases are large enough.
    ("winograd4-p1", (2, 16, 13, 15), (24, 16, 3, 3), {"padding": 1}),
    ("winograd4-p0", (2, 24, 17, 15), (16, 24, 3, 3), {"padding": 0}),
    ("winograd4-p2", (2, 16, 13, 14), (32, 16, 3, 3), {"padding": 2}),
    ("winograd4-p1x0", (2, 32, 14, 15), (16, 32, 3, 3), {"padding": (1, 0)}),
    # padding 3: the input gradient's flipped convolution crops (padding -1)
    ("winograd4-p3", (2, 16, 13, 14), (16, 16, 3, 3), {"padding": 3}),
    ("winograd4-blocks", (1, 64, 18, 254), (48, 64, 3, 3), {"padding": 1}),
    # output rows transformed in place (whole tiles, <= 8 per row), and a
    # block in place next to one with a partial tile row
    ("winograd4-in-place", (2, 16, 16, 16), (24, 16, 3, 3), {"padding": 1}),
    ("winograd4-in-place-mixed", (1, 64, 30, 32), (64, 64, 3, 3), {"padding": 1}),
    ("winograd4-dilated", (2, 16, 26, 30), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    # weight gradient over blocks of whole images (chunks of 3, the last of 2)
    ("winograd4-images", (35, 16, 13, 13), (16, 16, 3, 3), {"padding": 1}),
    # F(2x2): small images, or more than 64 channels
    ("winograd-p1", (3, 16, 12, 10), (32, 16, 3, 3), {"padding": 1}),
    ("winograd-p0", (2, 24, 11, 13), (16, 24, 3, 3), {"padding": 0}),
    ("winograd-p2", (2, 16, 9, 9), (16, 16, 3, 3), {"padding": 2}),
    ("winograd-p1x0", (2, 32, 10, 8), (24, 32, 3, 3), {"padding": (1, 0)}),
    ("winograd-c80", (2, 80, 14, 13), (16, 80, 3, 3), {"padding": 1}),
    ("winograd-images", (35, 16, 6, 7), (24, 16, 3, 3), {"padding": 1}),
    ("winograd-same-reflect", (2, 16, 8, 8), (16, 16, 3, 3),
     {"padding": "same", "padding_mode": "reflect"}),
    ("dilated-phases", (2, 16, 16, 16), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    ("dilated-phases-circular", (2, 16, 12, 12), (16, 16, 3, 3),
     {"padding": 2, "dilation": 2, "padding_mode": "circular"}),
    ("direct-replicate", (2, 8, 12, 12), (16, 8, 3, 3),
     {"padding": 1, "padding_mode": "replicate"}),
    ("direct-5x5", (4, 6, 14, 14), (16, 6, 5, 5), {}),
    ("direct-5x5-c1", (4, 1, 28, 28), (16, 1, 5, 5), {"padding": 2}),
    ("direct-32", (2, 8, 12, 12), (32, 8, 3, 3), {"padding": 1, "stride": 1}),
    ("strided-im2col", (2, 16, 12, 12), (32, 16, 3, 3), {"padding": 1, "stride": 2}),
    # Rows long enough for the vectorised stride-2 im2col gather (8 at a time).
    ("strided-wide", (2, 8, 9, 41), (16, 8, 3, 3), {"padding": 1, "stride": 2}),
    ("strided-wide-p0", (1, 4, 7, 38), (8, 4, 2, 2), {"stride": 2}),
    ("depthwise-64", (2, 64, 12, 12), (64, 1, 3, 3), {"padding": 1, "groups": 64}),
    # pyconv's own packed GEMM (_gemm.h) takes the products with k >= 128:
    # rows not a multiple of 6, columns not of 16, k not of 8, two k blocks
    # (k = 450 > 384), transposed operands in both backward products.
    ("gemm-1x1", (3, 130, 7, 9), (37, 130, 1, 1), {}),
    ("gemm-strided-k450", (2, 50, 13, 11), (19, 50, 3, 3), {"padding": 1, "stride": 2}),
    ("gemm-strided-groups", (2, 64, 10, 10), (22, 32, 2, 2), {"stride": 2, "groups": 2}),
    ("gemm-dilated-3", (2, 20, 15, 15), (7, 20, 3, 3), {"padding": 3, "dilation": 3}),
    # >= 128 output channels: the input gradient's W^T @ grad_out on the own
    # GEMM with W^T packed once per call (1x1 straight into grad_x; strided
    # through col2im)
    ("gemm-1x1-cout130", (2, 20, 5, 6), (130, 20, 1, 1), {}),
    ("gemm-strided-cout130", (2, 8, 9, 9), (130, 8, 3, 3), {"padding": 1, "stride": 2}),
    # a 3x3 layer Winograd would take but for its 4x4 outputs (_WINO_MIN_SIZE)
    ("gemm-4x4-outputs", (3, 32, 4, 4), (64, 32, 3, 3), {"padding": 1}),
    # small images tiled 16 at a time (the last tile of 8), in chunks of the
    # weight gradient; and one image whose weight gradient has two tiles
    ("gemm-small-images", (40, 32, 4, 4), (48, 32, 3, 3), {"padding": 1}),
    ("gemm-small-dilated", (5, 6, 7, 7), (10, 6, 3, 3), {"padding": 2, "dilation": 2, "stride": 2}),
    ("gemm-small-groups", (4, 8, 6, 5), (12, 4, 3, 3), {"padding": (1, 2), "groups": 2}),
    ("gemm-strided-one-image", (1, 40, 20, 20), (24, 40, 3, 3), {"padding": 1, "stride": 2}),
]


WINOGRAD_CASES = [c for c in FAST_PATHS if c[0].startswith("winograd")]


def _plan(case, direction):
    """`_conv_plan.select`'s plan for a FAST_PATHS case (float32, 1 thread)."""
    _, (n, c_in, h, w), w_shape, options = case
    stride, dilation = _pair(options.get("stride", 1)), _pair(options.get("dilation", 1))
    pads = _pads(options.get("padding", 0), w_shape[2:], dilation)
    if options.get("padding_mode", "zeros") != "zeros":   # padded before the choice
        (top, bottom), (left, right) = pads
        h, w, pads = h + top + bottom, w + left + right, ((0, 0), (0, 0))
    conv = _conv_plan._geometry((n, c_in, h, w), np.empty(w_shape, np.float32), stride, pads,
                                dilation, options.get("groups", 1), np.float32)
    return _conv_plan.select(direction, conv, 1)


@pytest.mark.parametrize("case", FAST_PATHS, ids=[c[0] for c in FAST_PATHS])
def test_fast_path_cases_select_their_algorithm(case):
    """Each case reaches the algorithm its name says: forward, except the
    gemm-* cases' weight gradient (gemm-dilated-3 runs forward on direct_c8);
    the direct kernels exist in the AVX2+FMA build only."""
    name, options = case[0], case[3]
    want = {"winograd": "winograd", "dilated": "phase", "direct": "direct_c16",
            "strided": "im2col_gemm", "gemm": "im2col_gemm", "depthwise": "depthwise"}[
        name.split("-")[0].rstrip("4")]
    if options.get("dilation", 1) != 1 and want == "winograd":
        want = "phase"
    if want == "direct_c16" and not _dispatch.kernels("conv").has_direct_kernel():
        want = "im2col_gemm"
    direction = _conv_plan.WEIGHT_GRAD if name.startswith("gemm") else _conv_plan.FORWARD
    assert _plan(case, direction).algorithm == want


@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=[c[0] for c in WINOGRAD_CASES])
def test_winograd_cases_reach_their_tile_size(case):
    """The winograd4-* cases run F(4x4) in all three passes, the others F(2x2)
    (forward, input gradient = forward with channels swapped, weight gradient;
    a dilated layer runs on its phases, 1/dilation of the size)."""
    name, (n, c_in, h, w), (c_out, *_), options = case
    d = options.get("dilation", 1)
    (top, bottom), (left, right) = _pads(options["padding"], (3, 3), (d, d))
    ho, wo = (h + top + bottom) // d - 2, (w + left + right) // d - 2
    want = 4 if name.startswith("winograd4") else 2
    assert _conv_plan._winograd_tile(c_in, c_out, ho, wo) == want
    assert _conv_plan._winograd_tile(c_out, c_in, h // d, w // d) == want


@pytest.mark.parametrize("case", FAST_PATHS, ids=[c[0] for c in FAST_PATHS])
def test_fast_paths_match_reference_and_are_thread_independent(case, rng):
    _, x_shape, w_shape, options = case
    x = rng.standard_normal(x_shape).astype(np.float32)
    weight = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    bias = rng.standard_normal(w_shape[0]).astype(np.float32)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, weight, bias))
    expected = ref.conv2d_im2col(x64, w64, b64, **options)
    grad_output = rng.standard_normal(expected.shape).astype(np.float32)
    expected_grads = ref.conv2d_backward_im2col(grad_output.astype(np.float64), x64, w64,
                                                **options)
    results = {}
    try:
        for n_threads in (1, 2):
            pyconv.set_num_threads(n_threads)
            results[n_threads] = (F.conv2d(x, weight, bias, **options),
                                  *F.conv2d_backward(grad_output, x, weight, **options))
    finally:
        pyconv.set_num_threads(None)
    y, grad_x, grad_weight, grad_bias = results[1]
    assert_close(y, expected, np.float32, err_msg="y")
    for name, got, want in zip(["grad_x", "grad_weight", "grad_bias"],
                               [grad_x, grad_weight, grad_bias], expected_grads):
        assert_close(got, want, np.float32, err_msg=name)
    for one, two in zip(results[1], results[2]):
        np.testing.assert_array_equal(one, two)   # bit-identical for 1 and 2 threads
