"""Property-based fuzzing of the six functional kernels.

Every valid option combination the strategies can draw -- shapes from 1x1
up, every padding mode, groups (depthwise included), dilation, stride (odd
strides on odd sizes), ``"same"``/``"valid"``, ceil_mode, count_include_pad,
divisor_override, float32 and float64, C- and non-contiguous input -- must
agree with the slow numpy reference in ``pyconv._reference`` and, when it is
installed, with PyTorch. Random *invalid* combinations must raise
`ValueError` or `TypeError` and nothing else.

``PYCONV_FUZZ_EXAMPLES`` sets the number of examples per property (100 by
default, a few hundred cases in CI; ``tools/fuzz_long.sh`` runs thousands).
Runs are derandomized, so CI is reproducible. With ``-s`` a per-property
count of the cases run is printed at the end of the module.
"""
import importlib.util
import os
from collections import Counter

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pyconv import _reference as ref  # noqa: E402
from pyconv import functional as F  # noqa: E402
from pyconv._shapes import conv_output_size, pool_output_size  # noqa: E402

from _support import assert_close  # noqa: E402

EXAMPLES = int(os.environ.get("PYCONV_FUZZ_EXAMPLES", 100))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HAVE_TORCH = importlib.util.find_spec("torch") is not None
if HAVE_TORCH:
    from _torch_parity import torch_avg_pool2d, torch_conv2d, torch_max_pool2d

CASES = Counter()           # property -> examples run (printed at module end)
_LOG = os.environ.get("PYCONV_FUZZ_LOG")   # a file: each case is written before it runs,
                                           # so an interpreter crash names its input


def _log(name, cfg, **extra):
    if _LOG:
        with open(_LOG, "a") as log:
            log.write(f"{name} {cfg} {extra}\n")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    total = sum(CASES.values())
    print(f"\n[fuzz] {total} cases ({EXAMPLES} max examples per property): "
          + ", ".join(f"{k}={v}" for k, v in sorted(CASES.items())))


def _array(data, shape, dtype, label):
    """A random array of ``shape``; sometimes handed over non-contiguous."""
    seed = data.draw(st.integers(0, 2**32 - 1), label=f"{label}_seed")
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    layout = data.draw(st.sampled_from(["c", "fortran", "strided"]), label=f"{label}_layout")
    if layout == "fortran":
        return np.asfortranarray(values)
    if layout == "strided":
        padded = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
        padded[..., ::2] = values
        return padded[..., ::2]
    return values


# ---------------------------------------------------------------- conv2d
@st.composite
def conv_configs(draw):
    depthwise = draw(st.booleans())
    if depthwise:
        groups = draw(st.integers(1, 4))
        c_in, c_out = groups, groups * draw(st.integers(1, 2))
    else:
        groups = draw(st.integers(1, 3))
        c_in = groups * draw(st.integers(1, 3))
        c_out = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding_mode = draw(st.sampled_from(PADDING_MODES))
    padding_kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    if padding_kind == "same":
        stride = 1
    else:
        stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3),
                                                             st.integers(1, 3))))
    if padding_kind == "int":
        padding = draw(st.integers(0, 3))
        pads = ((padding, padding), (padding, padding))
    elif padding_kind == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        pads = ((padding[0],) * 2, (padding[1],) * 2)
    elif padding_kind == "valid":
        padding, pads = "valid", ((0, 0), (0, 0))
    else:
        padding = "same"
        pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                     for k, d in ((kh, dh), (kw, dw)))
    sizes = []
    for (before, after), k, d in zip(pads, (kh, kw), (dh, dw)):
        low = max(1, d * (k - 1) + 1 - before - after)
        if padding_mode == "reflect":
            low = max(low, max(before, after) + 1)
        elif padding_mode == "circular":
            low = max(low, max(before, after))
        sizes.append(draw(st.integers(low, low + 7)))
    n = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    use_bias = draw(st.booleans())
    return dict(shape=(n, c_in, *sizes), weight_shape=(c_out, c_in // groups, kh, kw),
                stride=stride, padding=padding, dilation=(dh, dw), groups=groups,
                padding_mode=padding_mode, dtype=dtype, use_bias=use_bias, pads=pads)


@FUZZ
@given(cfg=conv_configs(), data=st.data())
def test_conv2d_forward_backward_match_reference(cfg, data):
    CASES["conv2d"] += 1
    dtype = cfg["dtype"]
    x = _array(data, cfg["shape"], dtype, "x")
    _log("conv2d", cfg)
    weight = _array(data, cfg["weight_shape"], dtype, "w")
    bias = _array(data, (cfg["weight_shape"][0],), dtype, "b") if cfg["use_bias"] else None
    opts = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
                groups=cfg["groups"], padding_mode=cfg["padding_mode"])
    x_before = x.copy()
    y = F.conv2d(x, weight, bias, **opts)
    expected = ref.conv2d_im2col(np.ascontiguousarray(x), weight, bias, **opts)
    assert_close(y, expected, dtype, err_msg=str(cfg))
    np.testing.assert_array_equal(x, x_before)          # input never modified

    grad_output = _array(data, y.shape, dtype, "g")
    grads = F.conv2d_backward(grad_output, x, weight, **opts)
    expected_grads = ref.conv2d_backward_im2col(np.ascontiguousarray(grad_output),
                                                np.ascontiguousarray(x), weight, **opts)
    for name, got, want in zip(("grad_x", "grad_weight", "grad_bias"), grads, expected_grads):
        assert_close(got, want, dtype, err_msg=f"{name} {cfg}")

    if HAVE_TORCH:
        CASES["conv2d_vs_torch"] += 1
        stride = opts["stride"]
        t_y, t_gx, t_gw, t_gb = torch_conv2d(x, weight, bias, grad_output, **opts)
        assert_close(y, t_y, dtype, err_msg=f"torch {cfg}")
        assert_close(grads[0], t_gx, dtype, err_msg=f"torch grad_x {cfg}")
        assert_close(grads[1], t_gw, dtype, err_msg=f"torch grad_weight {cfg}")
        del stride


# ---------------------------------------------------------------- pooling
@st.composite
def pool_configs(draw, op):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (1, 1) if op == "avg" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    eff = tuple((k - 1) * d + 1 for k, d in zip((kh, kw), dilation))
    if op == "avg":
        eff_pad = (kh, kw)
    else:
        eff_pad = eff
    padding = (draw(st.integers(0, eff_pad[0] // 2)), draw(st.integers(0, eff_pad[1] // 2)))
    stride = draw(st.one_of(st.none(), st.integers(1, 4),
                            st.tuples(st.integers(1, 4), st.integers(1, 4))))
    sizes = [draw(st.integers(max(1, e - 2 * p), max(1, e - 2 * p) + 8))
             for e, p in zip(eff, padding)]
    cfg = dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes),
               kernel_size=(kh, kw) if kh != kw or draw(st.booleans()) else kh,
               stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
               dtype=draw(st.sampled_from([np.float32, np.float64])))
    if op == "max":
        cfg["dilation"] = dilation
    else:
        cfg["count_include_pad"] = draw(st.booleans())
        cfg["divisor_override"] = draw(st.one_of(st.none(), st.integers(1, 10)))
    return cfg


def _pool_opts(cfg):
    return {k: v for k, v in cfg.items() if k not in ("shape", "dtype")}


@FUZZ
@given(cfg=pool_configs("max"), data=st.data(), ties=st.booleans())
def test_max_pool2d_forward_backward_match_reference(cfg, data, ties):
    CASES["max_pool2d"] += 1
    dtype = cfg["dtype"]
    x = _array(data, cfg["shape"], dtype, "x")
    _log("max_pool2d", cfg, ties=ties)
    if ties:   # equal maxima: the first in row-major window order must win
        x = np.round(x)
    opts = _pool_opts(cfg)
    y, indices = F.max_pool2d(x, return_indices=True, **opts)
    np.testing.assert_array_equal(F.max_pool2d(x, **opts), y)
    grad_output = _array(data, y.shape, dtype, "g")
    grad_x = F.max_pool2d_backward(grad_output, x, **opts)
    try:
        ref_y, ref_indices = ref.max_pool2d(np.ascontiguousarray(x), return_indices=True,
                                            **opts)
    except IndexError:
        # pyconv._reference.max_pool2d fails on a window that (through
        # dilation) sees only padding; pyconv itself gives torch's -inf and
        # index there. Reported; compared with torch only.
        CASES["max_pool2d_reference_index_error"] += 1
        assert np.isneginf(y).any(), f"reference failed on a window with input: {cfg}"
    else:
        np.testing.assert_array_equal(y, ref_y.astype(dtype), err_msg=str(cfg))
        np.testing.assert_array_equal(indices, ref_indices, err_msg=str(cfg))
        expected = ref.max_pool2d_backward(np.ascontiguousarray(grad_output),
                                           np.ascontiguousarray(x), **opts)
        assert_close(grad_x, expected, dtype, err_msg=str(cfg))
    kernel = np.broadcast_to(cfg["kernel_size"], 2)
    # torch allows padding up to half the undilated kernel; pyconv up to half
    # the dilated one (a superset). Compare where torch accepts the call.
    # A window that sees only padding (dilation can skip the input) gets
    # -inf and an index past the plane, as in torch -- whose backward then
    # writes out of bounds and aborts the process ("double free or
    # corruption", torch 2.13; reported). pyconv's backward skips such
    # indices. Those cases are compared with the reference only.
    empty_window = bool((indices >= x.shape[-2] * x.shape[-1]).any())
    if empty_window:
        CASES["max_pool2d_empty_window"] += 1
        assert np.isneginf(y[indices >= x.shape[-2] * x.shape[-1]]).all()
    if (HAVE_TORCH and not empty_window
            and all(p <= k // 2 for p, k in zip(cfg["padding"], kernel))):
        CASES["max_pool2d_vs_torch"] += 1
        t_y, t_i, t_gx = torch_max_pool2d(x, grad_output, **opts)
        np.testing.assert_array_equal(y, t_y, err_msg=f"torch {cfg}")
        np.testing.assert_array_equal(indices, t_i, err_msg=f"torch {cfg}")
        assert_close(grad_x, t_gx, dtype, err_msg=f"torch {cfg}")


@FUZZ
@given(cfg=pool_configs("avg"), data=st.data())
def test_avg_pool2d_forward_backward_match_reference(cfg, data):
    CASES["avg_pool2d"] += 1
    dtype = cfg["dtype"]
    x = _array(data, cfg["shape"], dtype, "x")
    _log("avg_pool2d", cfg)
    opts = _pool_opts(cfg)
    y = F.avg_pool2d(x, **opts)
    assert_close(y, ref.avg_pool2d(np.ascontiguousarray(x), **opts), dtype, err_msg=str(cfg))
    grad_output = _array(data, y.shape, dtype, "g")
    grad_x = F.avg_pool2d_backward(grad_output, x, **opts)
    expected = ref.avg_pool2d_backward(np.ascontiguousarray(grad_output),
                                       np.ascontiguousarray(x), **opts)
    assert_close(grad_x, expected, dtype, err_msg=str(cfg))
    if HAVE_TORCH:
        CASES["avg_pool2d_vs_torch"] += 1
        t_y, t_gx = torch_avg_pool2d(x, grad_output, **opts)
        assert_close(y, t_y, dtype, err_msg=f"torch {cfg}")
        assert_close(grad_x, t_gx, dtype, err_msg=f"torch {cfg}")


def test_output_size_formulas_agree_with_reference_shapes():
    """The shape helpers used for validation are PyTorch's formulas."""
    assert conv_output_size(5, 3, 2, 1, 1, 1) == 3
    assert pool_output_size(5, 2, 2, 0, 1, True) == 3
    assert pool_output_size(4, 2, 2, 1, 1, True) == 3


# ------------------------------------------------------ invalid combinations
BAD_PAIRS = [0, -1, 1.5, "2", (1,), (1, 0), (2, -3), (1, 2, 3), None, True, (1.0, 1),
             [1, "a"], np.float64(2.0)]
BAD_PADDING = [-1, (0, -2), "full", "SAME", 1.0, None, (1, 2, 3), (1, "a"), True]
BAD_GROUPS = [0, -1, 1.5, "1", None, True]
BAD_MODES = ["mirror", None, 3, "Zeros", ""]
BAD_BOOLS = [1, 0, "yes", None, 1.0, np.array([True, False])]
BAD_DIVISORS = [0, -3, 1.5, "2", True, 2**31]
BAD_ARRAYS = ["x", None, np.zeros((6, 6)), np.zeros((1, 1, 1, 6, 6)), np.zeros(0),
              np.zeros((1, 3, 6, 6), dtype=complex), np.zeros((1, 3, 6, 6), dtype=object),
              np.full((1, 3, 6, 6), "a"), np.zeros((1, 0, 6, 6)), np.zeros((1, 3, 0, 6))]


_NO_GRAD = object()          # no grad_output drawn: call the forward function


def _expect_clean_error(call):
    try:
        call()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert message.startswith("`"), f"message does not name the argument: {message!r}"
        return
    raise AssertionError("an invalid combination was accepted")


@FUZZ
@given(cfg=conv_configs(), data=st.data())
def test_invalid_conv_options_raise(cfg, data):
    CASES["conv2d_invalid"] += 1
    x = np.zeros(cfg["shape"], cfg["dtype"])
    weight = np.zeros(cfg["weight_shape"], cfg["dtype"])
    opts = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
                groups=cfg["groups"], padding_mode=cfg["padding_mode"])
    n_bad = data.draw(st.integers(1, 2), label="n_bad")
    spoiled = data.draw(st.lists(st.sampled_from(
        ["stride", "padding", "dilation", "groups", "padding_mode", "x", "weight", "kernel",
         "grad_output"]), min_size=n_bad, max_size=n_bad, unique=True), label="spoiled")
    grad_output = _NO_GRAD
    for name in spoiled:
        if name in ("stride", "dilation"):
            opts[name] = data.draw(st.sampled_from(BAD_PAIRS), label=name)
        elif name == "padding":
            opts[name] = data.draw(st.sampled_from(BAD_PADDING), label=name)
        elif name == "groups":
            opts[name] = data.draw(st.sampled_from(BAD_GROUPS + [cfg["shape"][1] + 1]),
                                   label=name)
        elif name == "padding_mode":
            opts[name] = data.draw(st.sampled_from(BAD_MODES), label=name)
        elif name == "x":
            x = data.draw(st.sampled_from(BAD_ARRAYS), label=name)
        elif name == "weight":
            weight = data.draw(st.sampled_from(BAD_ARRAYS[:8] + [
                np.zeros((2, weight.shape[1] + 1, 1, 1)), np.zeros((0, 1, 1, 1))]), label=name)
        elif name == "kernel":       # taller than any padded input drawn
            weight = np.zeros(cfg["weight_shape"][:2] + (60, 1), cfg["dtype"])
            if "padding" not in spoiled:
                opts["padding"] = 0  # ("same" would grow with the kernel)
        else:
            grad_output = data.draw(st.sampled_from(BAD_ARRAYS[:5] + [np.zeros((7, 1, 1, 1))]),
                                    label=name)
    if grad_output is _NO_GRAD:
        _expect_clean_error(lambda: F.conv2d(x, weight, **opts))
    else:
        _expect_clean_error(lambda: F.conv2d_backward(grad_output, x, weight, **opts))


@FUZZ
@given(op=st.sampled_from(["max", "avg"]), data=st.data())
def test_invalid_pool_options_raise(op, data):
    CASES[f"{op}_pool2d_invalid"] += 1
    cfg = data.draw(pool_configs(op), label="cfg")
    x = np.zeros(cfg["shape"], cfg["dtype"])
    opts = _pool_opts(cfg)
    names = ["kernel_size", "stride", "padding", "ceil_mode", "x", "grad_output", "too_big"]
    names += ["dilation"] if op == "max" else ["count_include_pad", "divisor_override"]
    spoiled = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True),
                        label="spoiled")
    grad_output = _NO_GRAD
    for name in spoiled:
        if name in ("kernel_size", "dilation"):
            opts[name] = data.draw(st.sampled_from(BAD_PAIRS[:4] + BAD_PAIRS[5:]), label=name)
        elif name == "stride":      # None is valid here (defaults to kernel_size)
            opts[name] = data.draw(st.sampled_from([v for v in BAD_PAIRS if v is not None]),
                                   label=name)
        elif name == "padding":
            opts[name] = data.draw(st.sampled_from(BAD_PADDING + [99]), label=name)
        elif name in ("ceil_mode", "count_include_pad"):
            opts[name] = data.draw(st.sampled_from(BAD_BOOLS), label=name)
        elif name == "divisor_override":
            opts[name] = data.draw(st.sampled_from(BAD_DIVISORS), label=name)
        elif name == "x":
            x = data.draw(st.sampled_from(BAD_ARRAYS), label=name)
        elif name == "too_big":
            opts["kernel_size"] = 40
            opts["padding"] = 0
        else:
            grad_output = data.draw(st.sampled_from(BAD_ARRAYS[:5] + [np.zeros((7, 1, 1, 1))]),
                                    label=name)
    forward = F.max_pool2d if op == "max" else F.avg_pool2d
    backward = F.max_pool2d_backward if op == "max" else F.avg_pool2d_backward
    if grad_output is _NO_GRAD:
        _expect_clean_error(lambda: forward(x, **opts))
    else:
        _expect_clean_error(lambda: backward(grad_output, x, **opts))
