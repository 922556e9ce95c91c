"""Bad input to the six pyconv.functional functions: a table of
(call, kwargs, exception type, argument name). Every message must have the
one shape "`name` must be <expected>; got <received>." naming the argument.
NaN and inf are values, not errors: they pass through."""
import numpy as np
import pytest

from pyconv import functional as F

X = np.zeros((2, 3, 6, 6), dtype=np.float32)
W = np.zeros((4, 3, 3, 3), dtype=np.float32)
B = np.zeros(4, dtype=np.float32)
GO = np.zeros((2, 4, 4, 4), dtype=np.float32)      # conv2d(X, W) output shape
POOL_GO = np.zeros((2, 3, 3, 3), dtype=np.float32)  # max/avg_pool2d(X, 2) output shape


def conv(**kw):
    return ("conv2d", dict(dict(x=X, weight=W, bias=B), **kw))


def conv_back(**kw):
    return ("conv2d_backward", dict(dict(grad_output=GO, x=X, weight=W), **kw))


def maxp(**kw):
    return ("max_pool2d", dict(dict(x=X, kernel_size=2), **kw))


def maxp_back(**kw):
    return ("max_pool2d_backward", dict(dict(grad_output=POOL_GO, x=X, kernel_size=2), **kw))


def avgp(**kw):
    return ("avg_pool2d", dict(dict(x=X, kernel_size=2), **kw))


def avgp_back(**kw):
    return ("avg_pool2d_backward", dict(dict(grad_output=POOL_GO, x=X, kernel_size=2), **kw))


# (id, (function name, kwargs), exception, argument name regex)
CASES = [
    # --- conv2d: arrays -----------------------------------------------------
    ("conv-x-2d", conv(x=np.zeros((6, 6))), ValueError, "x"),
    ("conv-x-5d", conv(x=np.zeros((1, 2, 3, 6, 6))), ValueError, "x"),
    ("conv-weight-3d", conv(weight=np.zeros((4, 3, 3))), ValueError, "weight"),
    ("conv-weight-5d", conv(weight=np.zeros((4, 3, 3, 3, 1))), ValueError, "weight"),
    ("conv-channel-mismatch", conv(weight=np.zeros((4, 2, 3, 3))), ValueError, "x|weight"),
    ("conv-channel-mismatch-groups", conv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((4, 1, 3, 3)),
                                          groups=2), ValueError, "x|weight"),
    ("conv-groups-not-dividing-cin", conv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((3, 1, 3, 3)),
                                          bias=None, groups=3), ValueError, "groups"),
    ("conv-groups-not-dividing-cout", conv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((3, 2, 3, 3)),
                                           bias=None, groups=2), ValueError, "groups"),
    ("conv-groups-zero", conv(groups=0), ValueError, "groups"),
    ("conv-groups-negative", conv(groups=-1), ValueError, "groups"),
    ("conv-groups-float", conv(groups=1.5), TypeError, "groups"),
    ("conv-kernel-zero-height", conv(weight=np.zeros((4, 3, 0, 3)), bias=None), ValueError,
     "weight"),
    ("conv-kernel-zero-width", conv(weight=np.zeros((4, 3, 3, 0)), bias=None), ValueError,
     "weight"),
    ("conv-cout-zero", conv(weight=np.zeros((0, 3, 3, 3)), bias=None), ValueError, "weight"),
    ("conv-x-complex", conv(x=X.astype(np.complex64)), TypeError, "x"),
    ("conv-x-object", conv(x=X.astype(object)), TypeError, "x"),
    ("conv-x-str-array", conv(x=np.full((2, 3, 6, 6), "a")), TypeError, "x"),
    ("conv-x-str", conv(x="image"), TypeError, "x"),
    ("conv-weight-complex", conv(weight=W.astype(np.complex128)), TypeError, "weight"),
    ("conv-bias-complex", conv(bias=B.astype(np.complex64)), TypeError, "bias"),
    ("conv-bias-wrong-length", conv(bias=np.zeros(3)), ValueError, "bias"),
    ("conv-bias-2d", conv(bias=np.zeros((4, 1))), ValueError, "bias"),
    ("conv-bias-scalar", conv(bias=np.float32(1)), ValueError, "bias"),
    # --- conv2d: hyper-parameters --------------------------------------------
    ("conv-stride-zero", conv(stride=0), ValueError, "stride"),
    ("conv-stride-negative", conv(stride=-2), ValueError, "stride"),
    ("conv-stride-pair-zero", conv(stride=(1, 0)), ValueError, "stride"),
    ("conv-stride-triple", conv(stride=(1, 1, 1)), ValueError, "stride"),
    ("conv-stride-float", conv(stride=1.0), TypeError, "stride"),
    ("conv-stride-str", conv(stride="1"), TypeError, "stride"),
    ("conv-dilation-zero", conv(dilation=0), ValueError, "dilation"),
    ("conv-dilation-negative", conv(dilation=(2, -1)), ValueError, "dilation"),
    ("conv-padding-negative", conv(padding=-1), ValueError, "padding"),
    ("conv-padding-pair-negative", conv(padding=(0, -1)), ValueError, "padding"),
    ("conv-padding-float", conv(padding=0.5), TypeError, "padding"),
    ("conv-padding-bad-string", conv(padding="full"), ValueError, "padding"),
    ("conv-padding-string-case", conv(padding="SAME"), ValueError, "padding"),
    ("conv-same-with-stride", conv(padding="same", stride=2), ValueError, "padding|stride"),
    ("conv-same-with-pair-stride", conv(padding="same", stride=(1, 2)), ValueError,
     "padding|stride"),
    ("conv-output-empty", conv(x=np.zeros((1, 3, 2, 2))), ValueError, "x|weight"),
    ("conv-output-empty-dilation", conv(dilation=3), ValueError, "x|weight|dilation"),
    ("conv-output-empty-width", conv(x=np.zeros((1, 3, 6, 2))), ValueError, "x|weight"),
    ("conv-reflect-pad-too-big", conv(padding=6, padding_mode="reflect"), ValueError, "padding"),
    ("conv-reflect-pad-equal-size", conv(x=np.zeros((1, 3, 3, 8)), padding=3,
                                         padding_mode="reflect"), ValueError, "padding"),
    ("conv-circular-pad-too-big", conv(padding=(7, 1), padding_mode="circular"), ValueError,
     "padding"),
    ("conv-unknown-padding-mode", conv(padding_mode="mirror"), ValueError, "padding_mode"),
    ("conv-padding-mode-none", conv(padding_mode=None), TypeError, "padding_mode"),
    # --- conv2d_backward ---------------------------------------------------
    ("convb-grad-output-wrong-shape", conv_back(grad_output=np.zeros((2, 4, 5, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-wrong-channels", conv_back(grad_output=np.zeros((2, 3, 4, 4))),
     ValueError, "grad_output"),
    ("convb-grad-output-wrong-batch", conv_back(grad_output=np.zeros((1, 4, 4, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-3d", conv_back(grad_output=np.zeros((4, 4, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-complex", conv_back(grad_output=GO.astype(np.complex64)), TypeError,
     "grad_output"),
    ("convb-x-2d", conv_back(x=np.zeros((6, 6))), ValueError, "x"),
    ("convb-channel-mismatch", conv_back(weight=np.zeros((4, 2, 3, 3))), ValueError, "x|weight"),
    ("convb-groups", conv_back(groups=2), ValueError, "groups"),
    ("convb-stride-zero", conv_back(stride=0), ValueError, "stride"),
    ("convb-padding-negative", conv_back(padding=-1), ValueError, "padding"),
    ("convb-same-stride", conv_back(padding="same", stride=2), ValueError, "padding|stride"),
    ("convb-padding-mode", conv_back(padding_mode="edge"), ValueError, "padding_mode"),
    ("convb-weight-object", conv_back(weight=W.astype(object)), TypeError, "weight"),
    # --- max_pool2d ---------------------------------------------------------
    ("maxp-x-2d", maxp(x=np.zeros((6, 6))), ValueError, "x"),
    ("maxp-x-5d", maxp(x=np.zeros((1, 1, 3, 6, 6))), ValueError, "x"),
    ("maxp-kernel-zero", maxp(kernel_size=0), ValueError, "kernel_size"),
    ("maxp-kernel-negative", maxp(kernel_size=(2, -1)), ValueError, "kernel_size"),
    ("maxp-kernel-triple", maxp(kernel_size=(2, 2, 2)), ValueError, "kernel_size"),
    ("maxp-kernel-float", maxp(kernel_size=2.0), TypeError, "kernel_size"),
    ("maxp-stride-zero", maxp(stride=0), ValueError, "stride"),
    ("maxp-stride-negative", maxp(stride=(-1, 1)), ValueError, "stride"),
    ("maxp-dilation-zero", maxp(dilation=0), ValueError, "dilation"),
    ("maxp-padding-negative", maxp(padding=-1), ValueError, "padding"),
    ("maxp-padding-over-half-kernel", maxp(kernel_size=2, padding=2), ValueError, "padding"),
    ("maxp-padding-over-half-kernel-w", maxp(kernel_size=(4, 3), padding=(2, 2)), ValueError,
     "padding"),
    ("maxp-padding-string", maxp(padding="same"), TypeError, "padding"),
    ("maxp-output-empty", maxp(x=np.zeros((1, 1, 2, 2)), kernel_size=3), ValueError,
     "x|kernel_size"),
    ("maxp-output-empty-dilation", maxp(kernel_size=3, dilation=3), ValueError,
     "x|kernel_size|dilation"),
    ("maxp-x-complex", maxp(x=X.astype(np.complex128)), TypeError, "x"),
    ("maxp-x-object", maxp(x=X.astype(object)), TypeError, "x"),
    ("maxp-x-str", maxp(x=np.full((1, 1, 4, 4), "a")), TypeError, "x"),
    # --- max_pool2d_backward -------------------------------------------------
    ("maxpb-grad-output-wrong-shape", maxp_back(grad_output=np.zeros((2, 3, 2, 3))), ValueError,
     "grad_output"),
    ("maxpb-grad-output-wrong-channels", maxp_back(grad_output=np.zeros((2, 2, 3, 3))),
     ValueError, "grad_output"),
    ("maxpb-grad-output-complex", maxp_back(grad_output=POOL_GO.astype(np.complex64)), TypeError,
     "grad_output"),
    ("maxpb-x-2d", maxp_back(x=np.zeros((6, 6))), ValueError, "x"),
    ("maxpb-kernel-zero", maxp_back(kernel_size=0), ValueError, "kernel_size"),
    ("maxpb-padding-over-half", maxp_back(padding=2), ValueError, "padding"),
    ("maxpb-stride-zero", maxp_back(stride=0), ValueError, "stride"),
    ("maxpb-dilation-zero", maxp_back(dilation=0), ValueError, "dilation"),
    # --- avg_pool2d ---------------------------------------------------------
    ("avgp-x-2d", avgp(x=np.zeros((6, 6))), ValueError, "x"),
    ("avgp-kernel-zero", avgp(kernel_size=0), ValueError, "kernel_size"),
    ("avgp-kernel-float", avgp(kernel_size=(2, 2.5)), ValueError, "kernel_size"),
    ("avgp-stride-zero", avgp(stride=0), ValueError, "stride"),
    ("avgp-padding-negative", avgp(padding=-1), ValueError, "padding"),
    ("avgp-padding-over-half-kernel", avgp(kernel_size=3, padding=2), ValueError, "padding"),
    ("avgp-output-empty", avgp(x=np.zeros((1, 1, 1, 5)), kernel_size=2), ValueError,
     "x|kernel_size"),
    ("avgp-divisor-zero", avgp(divisor_override=0), ValueError, "divisor_override"),
    ("avgp-divisor-negative", avgp(divisor_override=-3), ValueError, "divisor_override"),
    ("avgp-divisor-float", avgp(divisor_override=1.5), TypeError, "divisor_override"),
    ("avgp-x-complex", avgp(x=X.astype(np.complex64)), TypeError, "x"),
    ("avgp-x-object", avgp(x=X.astype(object)), TypeError, "x"),
    # --- avg_pool2d_backward -------------------------------------------------
    ("avgpb-grad-output-wrong-shape", avgp_back(grad_output=np.zeros((2, 3, 3, 2))), ValueError,
     "grad_output"),
    ("avgpb-grad-output-ceil-shape", avgp_back(grad_output=np.zeros((2, 3, 3, 3)), kernel_size=2,
                                               stride=2, padding=1), ValueError, "grad_output"),
    ("avgpb-grad-output-object", avgp_back(grad_output=POOL_GO.astype(object)), TypeError,
     "grad_output"),
    ("avgpb-x-5d", avgp_back(x=np.zeros((1, 2, 3, 6, 6))), ValueError, "x"),
    ("avgpb-kernel-zero", avgp_back(kernel_size=0), ValueError, "kernel_size"),
    ("avgpb-padding-over-half", avgp_back(padding=2), ValueError, "padding"),
    ("avgpb-divisor-zero", avgp_back(divisor_override=0), ValueError, "divisor_override"),
]


def test_table_covers_every_function():
    assert {call[0] for _, call, _, _ in CASES} == {
        "conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
        "avg_pool2d_backward"}


@pytest.mark.parametrize("call, exc, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(call, exc, names):
    function_name, kwargs = call
    function = getattr(F, function_name)
    # "`name` must be <expected>; got <received>."
    pattern = rf"^`(?:{names})` must be .+; got .+\.$"
    with pytest.raises(exc, match=pattern) as info:
        function(**kwargs)
    assert type(info.value) is exc


@pytest.mark.parametrize("function_name", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_input_is_not_modified_by_a_failed_call(function_name):
    x = np.arange(2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6)
    before = x.copy()
    with pytest.raises(ValueError):
        if function_name == "conv2d":
            F.conv2d(x, W, stride=0)
        else:
            getattr(F, function_name)(x, 2, stride=0)
    np.testing.assert_array_equal(x, before)


def _special_input():
    x = np.arange(2 * 3 * 6 * 6, dtype=np.float64).reshape(2, 3, 6, 6) / 10
    x[0, 0, 0, 0] = np.nan
    x[0, 1, 2, 2] = np.inf
    x[1, 2, 5, 5] = -np.inf
    return x


def test_nan_and_inf_pass_through_conv():
    x = _special_input()
    weight = np.ones((4, 3, 3, 3))
    y = F.conv2d(x, weight)
    assert np.isnan(y[0, :, 0, 0]).all()
    assert np.isposinf(y[0, :, 2, 2]).all()     # the window holding +inf (and no NaN)
    assert np.isneginf(y[1, :, 3, 3]).all()
    assert np.isfinite(y[1, :, :3, :3]).all()
    grads = F.conv2d_backward(np.ones_like(y), x, weight)
    assert np.isnan(grads[1]).any()
    assert np.isfinite(grads[0]).all()           # grad_x does not involve x


def test_nan_and_inf_pass_through_pooling():
    x = _special_input()
    y = F.max_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0])
    assert np.isposinf(y[0, 1, 1, 1])
    assert y[1, 2, 2, 2] == x[1, 2, 4:6, 4:6][np.isfinite(x[1, 2, 4:6, 4:6])].max()
    grad = F.max_pool2d_backward(np.ones_like(y), x, 2)
    assert grad[0, 0, 0, 0] == 1.0           # the NaN is the maximum of its window
    assert grad[0, 1, 2, 2] == 1.0
    y = F.avg_pool2d(x, 2)
    assert np.isnan(y[0, 0, 0, 0])
    assert np.isposinf(y[0, 1, 1, 1])
    assert np.isneginf(y[1, 2, 2, 2])
    grad = F.avg_pool2d_backward(np.ones_like(y), x, 2)
    np.testing.assert_array_equal(grad, np.full(x.shape, 0.25))
