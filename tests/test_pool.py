"""pyconv.functional's max/avg pooling (forward and backward) against the
numpy references, finite differences and PyTorch; ties, NaN/inf, threads and
input handling."""
import itertools

import numpy as np
import pytest

import pyconv
from pyconv import _reference as ref
from pyconv import functional as F
from pyconv._shapes import pool_output_size

from _support import assert_close
from _torch_parity import assert_matches_torch, torch_avg_pool2d, torch_max_pool2d

X_SHAPE = (2, 3, 7, 8)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _valid_pool(kernel, stride, padding, dilation=1, shape=X_SHAPE):
    """Whether PyTorch accepts the configuration (pad <= k/2, output >= 1)."""
    kernel, padding, dilation = _pair(kernel), _pair(padding), _pair(dilation)
    stride = kernel if stride is None else _pair(stride)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        return False
    for size, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation):
        if pool_output_size(size, k, s, p, d, True) < 1 or pool_output_size(
                size, k, s, p, d, False) < 1:
            return False
    return True


def _id(options):
    return "-".join(f"{k[0]}{v}" for k, v in options.items()).replace(" ", "")


# ----------------------------------------------------------------------------
# Grids
# ----------------------------------------------------------------------------
MAX_GRID = [
    dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=c)
    for k, s, p, d, c in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (3, 2)], [0, 1, (0, 1)], [1, 2], [False, True])
    if _valid_pool(k, s, p, d)
] + [
    dict(kernel_size=3, stride=1, padding=1, dilation=(1, 2), ceil_mode=False),
    dict(kernel_size=(2, 3), stride=2, padding=(1, 1), dilation=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=(1, 3), padding=(0, 1), dilation=(1, 2), ceil_mode=True),
]

AVG_GRID = [
    dict(kernel_size=k, stride=s, padding=p, ceil_mode=c, count_include_pad=cip,
         divisor_override=[None, None, 3][i % 3])
    for i, (k, s, p, c, cip) in enumerate(itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (3, 2)], [0, 1, (1, 0)], [False, True], [True, False]))
    if _valid_pool(k, s, p)
]


def test_grids_cover_the_plan():
    assert len(MAX_GRID) > 100 and len(AVG_GRID) > 100
    # ceil_mode must produce windows overhanging the input in some cases
    overhang = [g for g in AVG_GRID if g["ceil_mode"] and pool_output_size(
        7, _pair(g["kernel_size"])[0], _pair(g["stride"] or g["kernel_size"])[0],
        _pair(g["padding"])[0], 1, True) != pool_output_size(
        7, _pair(g["kernel_size"])[0], _pair(g["stride"] or g["kernel_size"])[0],
        _pair(g["padding"])[0], 1, False)]
    assert overhang
    assert {g["divisor_override"] for g in AVG_GRID} == {None, 3}


def _input(rng, dtype, shape=X_SHAPE):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------
# max_pool2d
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", MAX_GRID, ids=[_id(o) for o in MAX_GRID])
def test_max_pool2d_and_backward_match_reference(options, dtype, rng):
    x = _input(rng, dtype)
    y, indices = F.max_pool2d(x, return_indices=True, **options)
    y_ref, indices_ref = ref.max_pool2d(x, return_indices=True, **options)
    assert y.dtype == dtype
    assert np.issubdtype(indices.dtype, np.integer)
    np.testing.assert_array_equal(y, y_ref, err_msg="max_pool2d")     # max is exact
    np.testing.assert_array_equal(indices, indices_ref, err_msg="indices")
    np.testing.assert_array_equal(F.max_pool2d(x, **options), y_ref,
                                  err_msg="max_pool2d without indices")

    grad_output = rng.standard_normal(y_ref.shape).astype(dtype)
    grad_x = F.max_pool2d_backward(grad_output, x, **options)
    expected = ref.max_pool2d_backward(grad_output.astype(np.float64), x.astype(np.float64),
                                       **options)
    assert_close(grad_x, expected, dtype, err_msg=f"max_pool2d_backward {_id(options)}")


def test_max_pool2d_ties_first_in_row_major_order_wins():
    x = np.array([[[[1, 5, 5],
                    [5, 2, 5],
                    [5, 5, 5]]]], dtype=np.float64)
    y, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(y[0, 0], [[5, 5], [5, 5]])
    np.testing.assert_array_equal(indices[0, 0], [[1, 1], [3, 5]])
    grad = F.max_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, stride=1)
    np.testing.assert_array_equal(grad[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize("options", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
], ids=_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_constant_and_tied_inputs(options, dtype, rng):
    """Constant input: every index is the first in-bounds element of its
    window (padding never wins); a few levels: many ties."""
    for x in (np.full((1, 2, 7, 6), 3.0, dtype=dtype),
              rng.integers(0, 3, size=(2, 2, 7, 6)).astype(dtype)):
        y, indices = F.max_pool2d(x, return_indices=True, **options)
        y_ref, indices_ref = ref.max_pool2d(x, return_indices=True, **options)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(indices, indices_ref)
        grad_output = rng.standard_normal(y.shape).astype(dtype)
        assert_close(F.max_pool2d_backward(grad_output, x, **options),
                     ref.max_pool2d_backward(grad_output.astype(np.float64),
                                             x.astype(np.float64), **options), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_nan_propagates_like_torch(dtype):
    x = np.zeros((1, 1, 4, 4), dtype=dtype)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 3, 3] = 7
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0, 0])
    assert indices[0, 0, 0, 0] == 1
    assert y[0, 0, 1, 1] == 7 and indices[0, 0, 1, 1] == 15
    grad = F.max_pool2d_backward(np.ones((1, 1, 2, 2), dtype=dtype), x, 2)
    assert grad[0, 0, 0, 1] == 1 and grad[0, 0, 3, 3] == 1
    assert grad.sum() == 4


def test_max_pool2d_several_nans_in_a_window_like_torch():
    """PyTorch's CPU kernel takes a NaN whenever it meets one, so with several
    NaNs in a window the *last* one (row-major) gives the index."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan
    x[0, 0, 2, 2] = 5
    y, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    y_ref, indices_ref = ref.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(y, y_ref)          # NaNs compare equal here
    np.testing.assert_array_equal(indices, indices_ref)
    np.testing.assert_array_equal(indices_ref[0, 0], [[3, 1], [3, 8]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_infinities(dtype):
    x = np.full((1, 1, 4, 4), -np.inf, dtype=dtype)
    x[0, 0, 2, 3] = np.inf
    y, indices = F.max_pool2d(x, 2, padding=1, return_indices=True)
    # windows of -inf only: output -inf, index of the first in-bounds element
    y_ref, indices_ref = ref.max_pool2d(x, 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
    assert np.isneginf(y[0, 0, 0, 0]) and indices[0, 0, 0, 0] == 0
    assert np.isposinf(y[0, 0, 1, 2]) and indices[0, 0, 1, 2] == 11


# ----------------------------------------------------------------------------
# avg_pool2d
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", AVG_GRID, ids=[_id(o) for o in AVG_GRID])
def test_avg_pool2d_and_backward_match_reference(options, dtype, rng):
    x = _input(rng, dtype)
    y = F.avg_pool2d(x, **options)
    expected = ref.avg_pool2d(x.astype(np.float64), **options)
    assert y.dtype == dtype
    assert_close(y, expected, dtype, err_msg=f"avg_pool2d {_id(options)}")

    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    grad_x = F.avg_pool2d_backward(grad_output, x, **options)
    expected = ref.avg_pool2d_backward(grad_output.astype(np.float64), x.astype(np.float64),
                                       **options)
    assert_close(grad_x, expected, dtype, err_msg=f"avg_pool2d_backward {_id(options)}")


def test_avg_pool2d_divisor_rules_by_hand():
    x = np.ones((1, 1, 3, 3))
    # padding 1, kernel 2, stride 2: corner window holds 1 input element of 4
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, padding=1)[0, 0], [[0.25, 0.5], [0.5, 1]])
    np.testing.assert_array_equal(
        F.avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0], np.ones((2, 2)))
    np.testing.assert_array_equal(
        F.avg_pool2d(x, 2, padding=1, divisor_override=1)[0, 0], [[1, 2], [2, 4]])
    # ceil_mode: the last window overhangs the input (no padding): divided by
    # what lies inside input + padding, here 2 elements (count_include_pad)
    y = F.avg_pool2d(np.ones((1, 1, 3, 3)), 2, ceil_mode=True)
    np.testing.assert_array_equal(y[0, 0], [[1, 1], [1, 1]])
    y = F.avg_pool2d(np.ones((1, 1, 5, 5)), 3, stride=2, padding=1, ceil_mode=True)
    expected = ref.avg_pool2d(np.ones((1, 1, 5, 5)), 3, stride=2, padding=1, ceil_mode=True)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(expected[0, 0, 0], [4 / 9, 6 / 9, 4 / 9])


def test_avg_pool2d_nan_and_inf_propagate():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    x[0, 0, 3, 3] = np.inf
    y = F.avg_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and np.isposinf(y[0, 0, 1, 1])
    assert y[0, 0, 0, 1] == 0 and y[0, 0, 1, 0] == 0


# ----------------------------------------------------------------------------
# Finite differences (float64) on a random projection of the output
# ----------------------------------------------------------------------------
def _numerical_gradient(loss, array, eps):
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


@pytest.mark.parametrize("options", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), ceil_mode=True,
         count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=5),
], ids=_id)
def test_avg_pool2d_backward_finite_differences(options, rng, single_thread):
    x = rng.standard_normal((2, 2, 6, 7))
    projection = rng.standard_normal(F.avg_pool2d(x, **options).shape)

    def loss():
        return float(np.sum(F.avg_pool2d(x, **options) * projection))

    grad = F.avg_pool2d_backward(projection, x, **options)
    np.testing.assert_allclose(grad, _numerical_gradient(loss, x, 1e-3), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("options", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True),
], ids=_id)
def test_max_pool2d_backward_finite_differences(options, rng, single_thread):
    """Away from ties (distinct random values, small step) max pooling is
    locally linear, so central differences match."""
    x = rng.permutation(np.arange(2 * 2 * 6 * 7)).reshape(2, 2, 6, 7) * 0.1
    projection = rng.standard_normal(F.max_pool2d(x, **options).shape)

    def loss():
        return float(np.sum(F.max_pool2d(x, **options) * projection))

    grad = F.max_pool2d_backward(projection, x, **options)
    np.testing.assert_allclose(grad, _numerical_gradient(loss, x, 1e-4), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------
# PyTorch parity (and the reference itself against PyTorch)
# ----------------------------------------------------------------------------
TORCH_MAX = [MAX_GRID[i] for i in range(0, len(MAX_GRID), max(1, len(MAX_GRID) // 12))]
TORCH_AVG = [AVG_GRID[i] for i in range(0, len(AVG_GRID), max(1, len(AVG_GRID) // 12))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", TORCH_MAX, ids=[_id(o) for o in TORCH_MAX])
def test_max_pool2d_matches_torch(options, dtype, rng):
    x = _input(rng, dtype, (2, 3, 9, 8))
    y, indices = F.max_pool2d(x, return_indices=True, **options)
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    y_t, indices_t, grad_t = torch_max_pool2d(x, grad_output, **options)
    assert_matches_torch(f"max_pool2d {_id(options)}", y, y_t)
    np.testing.assert_array_equal(indices, indices_t)
    assert_matches_torch(f"max_pool2d_backward {_id(options)}",
                         F.max_pool2d_backward(grad_output, x, **options), grad_t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", TORCH_AVG, ids=[_id(o) for o in TORCH_AVG])
def test_avg_pool2d_matches_torch(options, dtype, rng):
    x = _input(rng, dtype, (2, 3, 9, 8))
    y = F.avg_pool2d(x, **options)
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    y_t, grad_t = torch_avg_pool2d(x, grad_output, **options)
    assert_matches_torch(f"avg_pool2d {_id(options)}", y, y_t)
    assert_matches_torch(f"avg_pool2d_backward {_id(options)}",
                         F.avg_pool2d_backward(grad_output, x, **options), grad_t)


def test_pool_references_match_torch(rng):
    """The references are the ground truth of the grids: check them too."""
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 0, :3, :3] = 1.0                                   # ties
    for options in MAX_GRID:
        y, indices = ref.max_pool2d(x, return_indices=True, **options)
        grad_output = rng.standard_normal(y.shape)
        y_t, indices_t, grad_t = torch_max_pool2d(x, grad_output, **options)
        np.testing.assert_array_equal(y, y_t, err_msg=_id(options))
        np.testing.assert_array_equal(indices, indices_t, err_msg=_id(options))
        assert_close(ref.max_pool2d_backward(grad_output, x, **options), grad_t)
    for options in AVG_GRID:
        y = ref.avg_pool2d(x, **options)
        grad_output = rng.standard_normal(y.shape)
        y_t, grad_t = torch_avg_pool2d(x, grad_output, **options)
        assert_close(y, y_t, err_msg=_id(options))
        assert_close(ref.avg_pool2d_backward(grad_output, x, **options), grad_t,
                     err_msg=_id(options))
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    _, indices_t, _ = torch_max_pool2d(x, None, 2, 1)
    np.testing.assert_array_equal(ref.max_pool2d(x, 2, 1, return_indices=True)[1], indices_t)


# ----------------------------------------------------------------------------
# Threads, determinism and input handling
# ----------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    yield
    pyconv.set_num_threads(None)


@pytest.mark.parametrize("options", [
    dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
], ids=_id)
def test_pooling_one_and_two_threads_bit_identical(options, rng, restore_threads):
    x = rng.standard_normal((4, 16, 21, 19)).astype(np.float32)
    results = {}
    for n_threads in (1, 2):
        pyconv.set_num_threads(n_threads)
        y, indices = F.max_pool2d(x, return_indices=True, **options)
        grad_output = np.ascontiguousarray(np.cos(np.arange(y.size)).reshape(y.shape),
                                           dtype=np.float32)
        results[n_threads] = (y, indices, F.max_pool2d_backward(grad_output, x, **options),
                              F.avg_pool2d(x, **options),
                              F.avg_pool2d_backward(grad_output, x, **options))
        repeat = F.max_pool2d_backward(grad_output, x, **options)
        np.testing.assert_array_equal(repeat, results[n_threads][2])
    for one, two in zip(results[1], results[2]):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float16])
def test_pooling_other_dtypes_compute_in_float32(dtype, rng):
    x = rng.integers(0, 200, size=(1, 2, 6, 6)).astype(dtype)
    y = F.max_pool2d(x, 2)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ref.max_pool2d(x.astype(np.float64), 2))
    y = F.avg_pool2d(x, 2)
    assert y.dtype == np.float32
    assert_close(y, ref.avg_pool2d(x.astype(np.float64), 2), np.float32)
    assert F.max_pool2d_backward(np.ones((1, 2, 3, 3), np.uint8), x, 2).dtype == np.float32
    assert F.avg_pool2d_backward(np.ones((1, 2, 3, 3), np.uint8), x, 2).dtype == np.float32


@pytest.mark.parametrize("layout", ["strided", "fortran", "readonly"])
def test_pooling_unusual_layouts_work_and_are_not_modified(layout, rng):
    x = rng.standard_normal((2, 3, 6, 7))
    grad_output = rng.standard_normal((2, 3, 3, 3))
    if layout == "strided":
        xs = np.repeat(x, 2, axis=3)[..., ::2]
        gs = np.repeat(grad_output, 2, axis=2)[:, :, ::2]
    elif layout == "fortran":
        xs, gs = np.asfortranarray(x), np.asfortranarray(grad_output)
    else:
        xs, gs = x.copy(), grad_output.copy()
        xs.setflags(write=False)
        gs.setflags(write=False)
    before = xs.copy(), gs.copy()
    np.testing.assert_array_equal(F.max_pool2d(xs, 2), F.max_pool2d(x, 2))
    np.testing.assert_array_equal(F.max_pool2d_backward(gs, xs, 2),
                                  F.max_pool2d_backward(grad_output, x, 2))
    np.testing.assert_array_equal(F.avg_pool2d(xs, 2), F.avg_pool2d(x, 2))
    np.testing.assert_array_equal(F.avg_pool2d_backward(gs, xs, 2),
                                  F.avg_pool2d_backward(grad_output, x, 2))
    np.testing.assert_array_equal(xs, before[0])
    np.testing.assert_array_equal(gs, before[1])


def test_pooling_batch_one_and_kernel_equal_to_input(rng):
    x = rng.standard_normal((1, 1, 5, 4))
    y, indices = F.max_pool2d(x, (5, 4), return_indices=True)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == x.max() and indices[0, 0, 0, 0] == x.argmax()
    assert_close(F.avg_pool2d(x, (5, 4))[0, 0, 0, 0], x.mean())


def test_random_configurations_match_reference(rng):
    checked = 0
    while checked < 40:
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *(int(v) for v in
                                                                    rng.integers(1, 12, 2)))
        kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
        stride = [None, tuple(int(v) for v in rng.integers(1, 4, 2))][int(rng.integers(2))]
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        ceil_mode = bool(rng.integers(2))
        if not _valid_pool(kernel, stride, padding, dilation, shape):
            continue
        checked += 1
        x = rng.standard_normal(shape)
        options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
        label = f"{shape} {options} dilation={dilation}"
        y, indices = F.max_pool2d(x, dilation=dilation, return_indices=True, **options)
        y_ref, indices_ref = ref.max_pool2d(x, dilation=dilation, return_indices=True, **options)
        np.testing.assert_array_equal(y, y_ref, err_msg=label)
        np.testing.assert_array_equal(indices, indices_ref, err_msg=label)
        grad_output = rng.standard_normal(y.shape)
        assert_close(F.max_pool2d_backward(grad_output, x, dilation=dilation, **options),
                     ref.max_pool2d_backward(grad_output, x, dilation=dilation, **options),
                     err_msg=label)
        if _valid_pool(kernel, stride, padding, 1, shape):
            avg_options = dict(options, count_include_pad=bool(rng.integers(2)),
                               divisor_override=[None, int(rng.integers(1, 7))][
                                   int(rng.integers(2))])
            y = F.avg_pool2d(x, **avg_options)
            assert_close(y, ref.avg_pool2d(x, **avg_options), err_msg=f"{label} {avg_options}")
            grad_output = rng.standard_normal(y.shape)
            assert_close(F.avg_pool2d_backward(grad_output, x, **avg_options),
                         ref.avg_pool2d_backward(grad_output, x, **avg_options),
                         err_msg=f"{label} {avg_options}")
