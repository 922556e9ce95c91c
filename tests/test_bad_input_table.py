"""Bad input across every public entry point, as one table.

Each row is ``(label, call, exception type, regex)``: ``call(ctx)`` must raise
exactly that exception type (not a subclass of another kind, not a crash)
with a message matching the regex, which names the argument -- in backticks
for pyconv's own messages ("`name` must be <expected>; got <received>.").

Rows that could take the interpreter down (huge sizes, extreme strides or
dilations, int overflow, absurd batch sizes, crafted model files asking for
huge arrays) run in a child process: a segfault or an abort is then a failed
row, not a dead suite. The child prints ``RAISED <type> <message>`` and must
exit with code 0.

The six functional calls have a section of their own (FUNCTIONAL_CASES), whose
messages must have the full shape. MODULE_ROWS holds the rows the module test
files kept (augmentation, graph, layers, resampling, training, models,
callbacks, data sources, image, transformers, plotting): a test whose only
purpose is "this bad argument raises, naming it" belongs here, as a row. A
test that checks more than the error (the state after it, a file left
behind, a corrupted model file edited by hand) stays with its module.
Rows for optional extras skip without them (OPTIONAL_PACKAGES).
"""
import importlib.util
import io
import json
import re
import textwrap
import warnings
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from _support import run_python

import pyconv
from pyconv import functional as F
from pyconv import image as I
from pyconv import layers as L
from pyconv.models import Sequential, load_model


X = np.zeros((2, 3, 6, 6), dtype=np.float32)
W = np.zeros((4, 3, 3, 3), dtype=np.float32)
GO = np.zeros((2, 4, 4, 4), dtype=np.float32)
PGO = np.zeros((2, 3, 3, 3), dtype=np.float32)
IMG = np.zeros((3, 8, 8), dtype=np.float32)
XD = np.zeros((8, 4), dtype=np.float32)          # dense model data
YD = np.zeros(8, dtype=np.int64)


def arg(*names):
    """The argument named in backticks, pyconv's message shape."""
    return "`(?:" + "|".join(re.escape(n) for n in names) + ")`"


# ------------------------------------------------------------------- context
def _dense_model(compiled=True):
    model = Sequential([L.Input((4,)), L.Dense(3)], seed=0)
    if compiled:
        model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def _write_zip(path, entries):
    """A zip of ``entries`` (a dict, or a list of pairs whose names may repeat)."""
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # "Duplicate name"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in items:
                archive.writestr(name, data)
    return path


def _npy_header_only(descr, shape):
    """A ``.npy`` header declaring ``shape`` with no data behind it."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _patched_central_directory(src, dst, offset, value):
    """``src`` with a 2-byte field of its first entry's (config.json's) central
    directory record set to ``value``."""
    raw = bytearray(src.read_bytes())
    start = raw.index(b"PK\x01\x02")
    raw[start + offset:start + offset + 2] = value.to_bytes(2, "little")
    dst.write_bytes(bytes(raw))
    return dst


def _saved_config(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_input")
    good = tmp / "good.pyconv"
    model = Sequential([L.Input((4,)), L.Dense(3)], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(XD, YD, epochs=1, verbose=0)          # so the file holds optimizer state
    model.save(good)
    entries = _saved_config(good)
    config = json.loads(entries["config.json"])

    def variant(name, edit=None, raw=None, drop=()):
        data = dict(entries)
        for key in drop:
            data.pop(key)
        if edit is not None:
            cfg = json.loads(entries["config.json"])
            edit(cfg)
            data["config.json"] = json.dumps(cfg)
        if raw is not None:
            data.update(raw)
        return _write_zip(tmp / name, data)

    weights_path = tmp / "weights.pyconv"
    model.save_weights(weights_path)
    text_file = tmp / "note.txt"
    text_file.write_text("not an image")
    (tmp / "a_directory").mkdir()
    object_npy = io.BytesIO()
    np.lib.format.write_array(object_npy, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    fortran_bomb = io.BytesIO()
    np.lib.format.write_array(fortran_bomb, np.zeros((4, 3), dtype=np.float32))
    config_text = entries["config.json"]
    huge_npy = _npy_header_only("<f4", (10**6, 10**6))
    return SimpleNamespace(
        tmp=tmp,
        model=model,
        duplicate_layer_names=variant("duplayer.pyconv", edit=lambda c: _model_cfg(c)[
            "layers"].append(_model_cfg(c)["layers"][-1])),
        duplicate_entries=_write_zip(tmp / "dupentry.pyconv", list(entries.items())
                                     + [("config.json", config_text)]),
        huge_npy_header=variant("hugenpy.pyconv", raw={"weights/00000.npy": huge_npy}),
        oversized_entry=variant("oversized.pyconv", raw={
            "weights/00000.npy": entries["weights/00000.npy"] + bytes(100_000)}),
        huge_units=variant("hugeunits.pyconv", edit=lambda c: _model_cfg(c)["layers"][-1][
            "config"].update(units=2**31 - 1)),
        huge_json_int=variant("hugeint.pyconv", raw={"config.json": config_text.replace(
            b'"format_version": 1', b'"format_version": ' + b"9" * 5000)}),
        encrypted=_patched_central_directory(good, tmp / "encrypted.pyconv", 8, 0x0001),
        unknown_method=_patched_central_directory(good, tmp / "method.pyconv", 10, 99),
        future_zip_version=_patched_central_directory(good, tmp / "zipver.pyconv", 6, 0xFF),
        uncompiled=_dense_model(compiled=False),
        conv_model=_conv_model(),
        good=good,
        config=config,
        weights_only=weights_path,
        text_file=text_file,
        directory=tmp / "a_directory",
        empty_zip=_write_zip(tmp / "empty.pyconv", {}),
        empty_file=_touch(tmp / "empty_file.pyconv"),
        list_config=variant("list.pyconv", raw={"config.json": b"[1, 2, 3]"}),
        deep_json=variant("deep.pyconv", raw={"config.json": b"[" * 100000 + b"]" * 100000}),
        binary_config=variant("binary.pyconv", raw={"config.json": b"\xff\xfe\x00garbage"}),
        object_weight=variant("object.pyconv", raw={"weights/00000.npy": object_npy.getvalue()}),
        no_layers=variant("nolayers.pyconv",
                          edit=lambda c: c["model"]["config"].update(layers=[])
                          if "config" in c["model"] else c["model"].update(layers=[])),
        layers_not_list=variant("layersstr.pyconv",
                                edit=lambda c: _model_cfg(c).update(layers="Dense")),
        layer_not_dict=variant("layerint.pyconv",
                               edit=lambda c: _model_cfg(c)["layers"].__setitem__(0, 42)),
        unknown_key=variant("unknownkey.pyconv",
                            edit=lambda c: _model_cfg(c)["layers"][-1]["config"].update(
                                evil="__import__('os').system('echo pwned')")),
        foreign_class=variant("foreign.pyconv",
                              edit=lambda c: _model_cfg(c)["layers"][-1].update(
                                  class_name="subprocess.Popen")),
        kind_weights=variant("kindw.pyconv", edit=lambda c: c.update(kind="weights")),
        weights_not_list=variant("wnl.pyconv", edit=lambda c: c.update(weights={"a": 1})),
        manifest_entry_int=variant("mei.pyconv", edit=lambda c: c["weights"].__setitem__(0, 7)),
        manifest_traversal=variant("trav.pyconv", edit=lambda c: c["weights"][0].update(
            entry="../../../../etc/passwd")),
        negative_iterations=variant("negit.pyconv",
                                    edit=lambda c: c.get("optimizer_state", {}).update(
                                        iterations=-5)),
        version_string=variant("vstr.pyconv", edit=lambda c: c.update(format_version="1")),
        compile_not_dict=variant("cnd.pyconv", edit=lambda c: c.update(compile_config=[1])),
    )


def _model_cfg(config):
    model = config["model"]
    return model["config"] if "config" in model and isinstance(model["config"], dict) else model


def _touch(path):
    path.write_bytes(b"")
    return path


def _conv_model():
    model = Sequential([L.Input((1, 6, 6)), L.Conv2D(2, 3), L.Flatten(), L.Dense(2)], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _fit(c, **kw):
    kwargs = dict(x=XD, y=YD, verbose=0)
    kwargs.update(kw)
    return c.model.fit(**kwargs)


def _estimator(kind="classifier", **params):
    cls = pyconv.CNNClassifier if kind == "classifier" else pyconv.CNNRegressor
    return cls(max_iter=1, **params)


_EST_X = np.random.default_rng(0).random((12, 16)).astype(np.float32)
_EST_Y = np.arange(12) % 2


def _estimator_fit(**params):
    """A row's call: fit a one-iteration CNNClassifier of ``params``."""
    return lambda c: _estimator(**params).fit(_EST_X, _EST_Y)


def _fitted_classifier():
    return _estimator(input_shape=(1, 4, 4), random_state=0).fit(_EST_X, _EST_Y)


def _renamed_duplicate():
    model = Sequential([L.Input((4,)), L.Dense(3, name="dense_a"), L.Dense(2, name="dense_b")])
    model.layers[1].name = "dense_a"
    return model


def _fb(**params):
    return pyconv.FilterBankTransformer(**params)


# --------------------------------------------------------------------- rows
# (label, call(ctx), exception type, regex naming the argument)
ROWS = [
    # ---------------- functional: kinds and shapes not in FUNCTIONAL_CASES
    ("conv-x-none", lambda c: F.conv2d(None, W), TypeError, arg("x")),
    ("conv-x-ragged-list", lambda c: F.conv2d([[1, 2], [3]], W), TypeError, arg("x")),
    ("conv-x-0d", lambda c: F.conv2d(np.float32(1), W), ValueError, arg("x")),
    ("conv-x-1d", lambda c: F.conv2d(np.zeros(6), W), ValueError, arg("x")),
    ("conv-x-zero-height", lambda c: F.conv2d(np.zeros((1, 3, 0, 6)), W), ValueError, arg("x")),
    ("conv-x-zero-channels", lambda c: F.conv2d(np.zeros((1, 0, 6, 6)), W), ValueError,
     arg("x", "weight")),
    ("conv-x-datetime", lambda c: F.conv2d(X.astype("datetime64[s]"), W), TypeError, arg("x")),
    ("conv-x-bytes", lambda c: F.conv2d(b"abc", W), TypeError, arg("x")),
    ("conv-weight-str", lambda c: F.conv2d(X, "sobel"), TypeError, arg("weight")),
    # a first mistake: an image without its batch axis, or channels-last (the
    # message says what NCHW means; were in test_first_mistakes.py)
    ("conv-x-3d-names-the-layout", lambda c: F.conv2d(np.zeros((2, 8, 8)), W), ValueError,
     arg("weight") + ".*NCHW: batch, channels, height, width"),
    ("conv-x-channels-last-names-the-layout", lambda c: F.conv2d(np.zeros((2, 8, 8, 3)), W),
     ValueError, arg("weight") + ".*NCHW"),
    ("conv-weight-2d", lambda c: F.conv2d(X, np.ones((3, 3))), ValueError, arg("weight")),
    ("conv-weight-none", lambda c: F.conv2d(X, None), TypeError, arg("weight")),
    ("conv-bias-str", lambda c: F.conv2d(X, W, bias="zero"), TypeError, arg("bias")),
    ("conv-bias-list-wrong", lambda c: F.conv2d(X, W, bias=[1.0, 2.0]), ValueError, arg("bias")),
    ("conv-stride-1-tuple", lambda c: F.conv2d(X, W, stride=(1,)), ValueError, arg("stride")),
    ("conv-stride-bool", lambda c: F.conv2d(X, W, stride=True), TypeError, arg("stride")),
    ("conv-stride-np-float", lambda c: F.conv2d(X, W, stride=np.float64(1)), TypeError,
     arg("stride")),
    ("conv-stride-none", lambda c: F.conv2d(X, W, stride=None), TypeError, arg("stride")),
    ("conv-stride-pair-float", lambda c: F.conv2d(X, W, stride=(1, 1.0)), ValueError,
     arg("stride")),
    ("conv-dilation-float", lambda c: F.conv2d(X, W, dilation=1.5), TypeError, arg("dilation")),
    ("conv-dilation-str", lambda c: F.conv2d(X, W, dilation="2"), TypeError, arg("dilation")),
    ("conv-groups-str", lambda c: F.conv2d(X, W, groups="1"), TypeError, arg("groups")),
    ("conv-groups-bool", lambda c: F.conv2d(X, W, groups=True), TypeError, arg("groups")),
    ("conv-groups-none", lambda c: F.conv2d(X, W, groups=None), TypeError, arg("groups")),
    ("conv-padding-none", lambda c: F.conv2d(X, W, padding=None), TypeError, arg("padding")),
    ("conv-padding-triple", lambda c: F.conv2d(X, W, padding=(1, 1, 1)), ValueError,
     arg("padding")),
    ("conv-padding-mode-int", lambda c: F.conv2d(X, W, padding_mode=0), TypeError,
     arg("padding_mode")),
    ("conv-padding-mode-upper", lambda c: F.conv2d(X, W, padding_mode="ZEROS"), ValueError,
     arg("padding_mode")),
    ("conv-same-dilated-reflect-too-big", lambda c: F.conv2d(
        np.zeros((1, 3, 4, 4)), W, padding="same", dilation=4, padding_mode="reflect"),
     ValueError, arg("padding")),
    ("conv-circular-width", lambda c: F.conv2d(np.zeros((1, 3, 8, 2)), W, padding=(1, 3),
                                               padding_mode="circular"), ValueError,
     arg("padding")),
    ("convb-grad-output-none", lambda c: F.conv2d_backward(None, X, W), TypeError,
     arg("grad_output")),
    ("convb-grad-output-2d", lambda c: F.conv2d_backward(np.zeros((4, 4)), X, W), ValueError,
     arg("grad_output")),
    ("convb-grad-output-str", lambda c: F.conv2d_backward("g", X, W), TypeError,
     arg("grad_output")),
    ("convb-dilation-float", lambda c: F.conv2d_backward(GO, X, W, dilation=2.0), TypeError,
     arg("dilation")),
    ("convb-groups-zero", lambda c: F.conv2d_backward(GO, X, W, groups=0), ValueError,
     arg("groups")),
    ("convb-x-complex", lambda c: F.conv2d_backward(GO, X.astype(complex), W), TypeError,
     arg("x")),
    ("convb-unbatched-grad-output-wrong", lambda c: F.conv2d_backward(
        np.zeros((4, 3, 4)), X[0], W), ValueError, arg("grad_output")),
    ("maxp-ceil-mode-int", lambda c: F.max_pool2d(X, 2, ceil_mode=1), TypeError,
     arg("ceil_mode")),
    ("maxp-ceil-mode-none", lambda c: F.max_pool2d(X, 2, ceil_mode=None), TypeError,
     arg("ceil_mode")),
    ("maxp-return-indices-str", lambda c: F.max_pool2d(X, 2, return_indices="yes"), TypeError,
     arg("return_indices")),
    ("maxp-kernel-none", lambda c: F.max_pool2d(X, None), TypeError, arg("kernel_size")),
    ("maxp-kernel-2-to-31", lambda c: F.max_pool2d(X, 2**31), ValueError, arg("kernel_size")),
    ("maxp-stride-2-to-40", lambda c: F.max_pool2d(X, 2, stride=2**40), ValueError,
     arg("stride")),
    ("maxp-dilation-2-to-62", lambda c: F.max_pool2d(X, 2, dilation=2**62), ValueError,
     arg("dilation")),
    ("maxp-x-zero-width", lambda c: F.max_pool2d(np.zeros((1, 1, 4, 0)), 1), ValueError,
     arg("x")),
    ("maxp-x-zero-channels", lambda c: F.max_pool2d(np.zeros((1, 0, 4, 4)), 2), ValueError,
     arg("x")),
    ("maxp-x-none", lambda c: F.max_pool2d(None, 2), TypeError, arg("x")),
    ("maxpb-grad-output-none", lambda c: F.max_pool2d_backward(None, X, 2), TypeError,
     arg("grad_output")),
    ("maxpb-grad-output-1d", lambda c: F.max_pool2d_backward(np.zeros(54), X, 2), ValueError,
     arg("grad_output")),
    ("maxpb-ceil-mode-str", lambda c: F.max_pool2d_backward(PGO, X, 2, ceil_mode="no"),
     TypeError, arg("ceil_mode")),
    ("maxpb-ceil-shape", lambda c: F.max_pool2d_backward(PGO, np.zeros((2, 3, 7, 7)), 2,
                                                         ceil_mode=True), ValueError,
     arg("grad_output")),
    ("avgp-count-include-pad-str", lambda c: F.avg_pool2d(X, 2, count_include_pad="no"),
     TypeError, arg("count_include_pad")),
    ("avgp-divisor-bool", lambda c: F.avg_pool2d(X, 2, divisor_override=True), TypeError,
     arg("divisor_override")),
    ("avgp-divisor-2-to-31", lambda c: F.avg_pool2d(X, 2, divisor_override=2**31), ValueError,
     arg("divisor_override")),
    ("avgp-kernel-2-to-40", lambda c: F.avg_pool2d(X, (2, 2**40)), ValueError,
     arg("kernel_size")),
    ("avgp-padding-str", lambda c: F.avg_pool2d(X, 2, padding="same"), TypeError,
     arg("padding")),
    ("avgp-ceil-mode-float", lambda c: F.avg_pool2d(X, 2, ceil_mode=1.0), TypeError,
     arg("ceil_mode")),
    ("avgpb-grad-output-str", lambda c: F.avg_pool2d_backward("g", X, 2), TypeError,
     arg("grad_output")),
    ("avgpb-count-include-pad-int", lambda c: F.avg_pool2d_backward(PGO, X, 2,
                                                                     count_include_pad=0),
     TypeError, arg("count_include_pad")),
    ("avgpb-divisor-negative", lambda c: F.avg_pool2d_backward(PGO, X, 2, divisor_override=-1),
     ValueError, arg("divisor_override")),
    # ---------------- layers (constructor arguments)
    ("Conv2D-filters-bool", lambda c: L.Conv2D(True, 3), TypeError, arg("filters")),
    ("Conv2D-filters-zero", lambda c: L.Conv2D(0, 3), ValueError, arg("filters")),
    ("Conv2D-kernel-zero", lambda c: L.Conv2D(4, 0), ValueError, arg("kernel_size")),
    ("Conv2D-kernel-str", lambda c: L.Conv2D(4, "3"), TypeError, arg("kernel_size")),
    ("Conv2D-strides-zero", lambda c: L.Conv2D(4, 3, strides=0), ValueError, arg("strides")),
    ("Conv2D-strides-triple", lambda c: L.Conv2D(4, 3, strides=(1, 1, 1)), ValueError,
     arg("strides")),
    ("Conv2D-dilation-zero", lambda c: L.Conv2D(4, 3, dilation_rate=0), ValueError,
     arg("dilation_rate")),
    ("Conv2D-groups-zero", lambda c: L.Conv2D(4, 3, groups=0), ValueError, arg("groups")),
    ("Conv2D-padding-mode-none", lambda c: L.Conv2D(4, 3, padding_mode=None), TypeError,
     arg("padding_mode")),
    ("Conv2D-name-empty", lambda c: L.Conv2D(4, 3, name=""), TypeError, arg("name")),
    ("Conv2D-name-int", lambda c: L.Conv2D(4, 3, name=7), TypeError, arg("name")),
    ("Conv2D-input-shape-str", lambda c: L.Conv2D(4, 3, input_shape="abc"), ValueError,
     arg("input_shape")),
    ("Conv2D-input-shape-negative", lambda c: L.Conv2D(4, 3, input_shape=(3, -4, 4)),
     ValueError, arg("input_shape")),
    ("Conv2D-dtype-float16", lambda c: L.Conv2D(4, 3, dtype="float16"), TypeError, arg("dtype")),
    ("Conv2D-bias-initializer", lambda c: L.Conv2D(4, 3, bias_initializer="nope"), ValueError,
     arg("bias_initializer")),
    ("Conv2D-bias-regularizer", lambda c: L.Conv2D(4, 3, bias_regularizer="l9"), ValueError,
     arg("bias_regularizer")),
    ("Dense-units-float", lambda c: L.Dense(3.0), TypeError, arg("units")),
    ("Dense-units-negative", lambda c: L.Dense(-2), ValueError, arg("units")),
    ("Dense-activation-int", lambda c: L.Dense(3, activation=5), TypeError, arg("activation")),
    ("Dense-kernel-initializer-int", lambda c: L.Dense(3, kernel_initializer=5), TypeError,
     arg("kernel_initializer")),
    ("Dropout-rate-negative", lambda c: L.Dropout(-0.1), ValueError, arg("rate")),
    ("Dropout-rate-nan", lambda c: L.Dropout(float("nan")), ValueError, arg("rate")),
    ("MaxPool2D-pool-size-zero", lambda c: L.MaxPool2D(0), ValueError, arg("pool_size")),
    ("MaxPool2D-pool-size-float", lambda c: L.MaxPool2D(2.5), TypeError, arg("pool_size")),
    ("MaxPool2D-strides-zero", lambda c: L.MaxPool2D(2, strides=0), ValueError, arg("strides")),
    ("AvgPool2D-strides-pair-zero", lambda c: L.AvgPool2D(2, strides=(1, 0)), ValueError,
     arg("strides")),
    ("AvgPool2D-padding-full", lambda c: L.AvgPool2D(2, padding="full"), ValueError,
     arg("padding")),
    ("BatchNorm-momentum-negative", lambda c: L.BatchNormalization(momentum=-0.1), ValueError,
     arg("momentum")),
    ("BatchNorm-epsilon-negative", lambda c: L.BatchNormalization(epsilon=-1.0), ValueError,
     arg("epsilon")),
    ("Activation-int", lambda c: L.Activation(3), TypeError, arg("activation")),
    ("Input-zero", lambda c: L.Input((0, 3)), ValueError, arg("shape")),
    ("Input-str", lambda c: L.Input("abc"), ValueError, arg("shape")),
    ("Layer-unknown-kwarg", lambda c: L.Dense(3, data_format="channels_last"), TypeError,
     "data_format"),
    # ---------------- Sequential: construction, compile, fit, predict, evaluate
    ("Sequential-layers-str", lambda c: Sequential("dense"), TypeError, arg("layers")),
    ("Sequential-layer-not-layer", lambda c: Sequential([L.Input((4,)), "dense"]), TypeError,
     arg("layer")),
    ("Sequential-name-int", lambda c: Sequential([L.Input((4,))], name=3), TypeError,
     arg("name")),
    ("compile-optimizer-int", lambda c: _dense_model(False).compile(optimizer=3, loss="mse"),
     TypeError, arg("optimizer")),
    ("compile-loss-int", lambda c: _dense_model(False).compile("sgd", loss=3), TypeError,
     arg("loss")),
    ("compile-metrics-str", lambda c: _dense_model(False).compile("sgd", "mse", "accuracy"),
     TypeError, arg("metrics")),
    ("compile-metrics-duplicate", lambda c: _dense_model(False).compile(
        "sgd", "mse", ["mae", "mae"]), ValueError, arg("metrics")),
    ("fit-batch-size-zero", lambda c: _fit(c, batch_size=0), ValueError, arg("batch_size")),
    ("fit-batch-size-float", lambda c: _fit(c, batch_size=4.0), TypeError, arg("batch_size")),
    ("fit-epochs-negative", lambda c: _fit(c, epochs=-1), ValueError, arg("epochs")),
    ("fit-epochs-str", lambda c: _fit(c, epochs="3"), TypeError, arg("epochs")),
    ("fit-initial-epoch-negative", lambda c: _fit(c, initial_epoch=-2), ValueError,
     arg("initial_epoch")),
    ("fit-validation-split-str", lambda c: _fit(c, validation_split="half"), TypeError,
     arg("validation_split")),
    ("fit-validation-split-none", lambda c: _fit(c, validation_split=None), TypeError,
     arg("validation_split")),
    ("fit-validation-split-nan", lambda c: _fit(c, validation_split=float("nan")), ValueError,
     arg("validation_split")),
    ("fit-validation-split-too-small", lambda c: _fit(c, validation_split=1e-17), ValueError,
     arg("validation_split")),
    ("fit-validation-data-one", lambda c: _fit(c, validation_data=(XD,)), ValueError,
     arg("validation_data")),
    ("fit-validation-data-int", lambda c: _fit(c, validation_data=5), ValueError,
     arg("validation_data")),
    ("fit-validation-x-wrong-shape", lambda c: _fit(c, validation_data=(XD[:, :3], YD)),
     ValueError, arg("validation_data[0]")),
    ("fit-class-weight-list", lambda c: _fit(c, class_weight=[1.0, 2.0]), TypeError,
     arg("class_weight")),
    ("fit-class-weight-negative-key", lambda c: _fit(c, class_weight={-1: 2.0}), ValueError,
     arg("class_weight keys")),
    ("fit-sample-weight-2d", lambda c: _fit(c, sample_weight=np.ones((8, 2))), ValueError,
     arg("sample_weight")),
    ("fit-sample-weight-str", lambda c: _fit(c, sample_weight="uniform"), TypeError,
     arg("sample_weight")),
    ("fit-callbacks-not-callback", lambda c: _fit(c, callbacks=[3]), TypeError,
     arg("callbacks")),
    ("fit-callbacks-str", lambda c: _fit(c, callbacks="early"), TypeError,
     arg("callbacks")),
    ("fit-y-none", lambda c: _fit(c, y=None), ValueError, arg("y")),
    ("fit-x-none", lambda c: _fit(c, x=None), TypeError, arg("x")),
    ("fit-x-1d", lambda c: _fit(c, x=np.zeros(8)), ValueError, arg("x")),
    ("fit-x-str", lambda c: _fit(c, x=np.full((8, 4), "a")), TypeError, arg("x")),
    ("fit-y-complex", lambda c: _fit(c, y=np.zeros(8, dtype=complex)), TypeError, arg("y")),
    ("fit-y-fractional-labels", lambda c: _fit(c, y=np.full(8, 0.5)), ValueError, arg("y")),
    ("fit-y-negative-labels", lambda c: _fit(c, y=np.full(8, -1)), ValueError, arg("y")),
    ("fit-verbose-str", lambda c: _fit(c, verbose="loud"), ValueError, arg("verbose")),
    ("fit-uncompiled", lambda c: c.uncompiled.fit(XD, YD, verbose=0), ValueError,
     r"compile\(\)"),
    ("predict-batch-size-zero", lambda c: c.model.predict(XD, batch_size=0, verbose=0),
     ValueError, arg("batch_size")),
    ("predict-x-none", lambda c: c.model.predict(None, verbose=0), TypeError, arg("x")),
    ("predict-x-3d", lambda c: c.model.predict(np.zeros((2, 4, 1)), verbose=0), ValueError,
     arg("x")),
    ("predict-conv-x-channels-last", lambda c: c.conv_model.predict(
        np.zeros((2, 6, 6, 1)), verbose=0), ValueError, arg("x")),
    ("evaluate-batch-size-negative", lambda c: c.model.evaluate(XD, YD, batch_size=-1,
                                                                verbose=0),
     ValueError, arg("batch_size")),
    ("evaluate-y-short", lambda c: c.model.evaluate(XD, YD[:5], verbose=0), ValueError,
     arg("y")),
    ("evaluate-sample-weight-short", lambda c: c.model.evaluate(XD, YD, sample_weight=np.ones(3),
                                                                verbose=0),
     ValueError, arg("sample_weight")),
    ("train-on-batch-x-str", lambda c: c.model.train_on_batch("x", YD), TypeError, arg("x")),
    ("set-weights-count", lambda c: c.model.set_weights([np.zeros((4, 3))]), ValueError,
     arg("weights")),
    ("set-weights-shape", lambda c: c.model.set_weights([np.zeros((3, 4)), np.zeros(3)]),
     ValueError, arg("weights")),
    ("get-layer-unknown", lambda c: c.model.get_layer("nope"), ValueError, arg("name")),
    ("get-layer-index", lambda c: c.model.get_layer(index=99), ValueError, arg("index")),
    # ---------------- image
    ("to_float-complex", lambda c: I.to_float(IMG.astype(complex)), TypeError, arg("img")),
    ("to_float-str", lambda c: I.to_float(np.full(3, "a")), TypeError,
     "`img` must be a real-valued"),
    ("to_float-none", lambda c: I.to_float(None), TypeError, arg("img")),
    ("from_bgr-2d", lambda c: I.from_bgr(np.zeros((8, 8))), ValueError,
     arg("img") + r".*a 3-D \[3, H, W\] image"),
    ("to_bgr-one-channel", lambda c: I.to_bgr(np.zeros((1, 8, 8))), ValueError, arg("img")),
    ("gaussian_kernel-size-zero", lambda c: I.gaussian_kernel(0, 1.0), ValueError, arg("size")),
    ("gaussian_kernel-size-float", lambda c: I.gaussian_kernel(3.5, 1.0), TypeError,
     arg("size")),
    ("gaussian_kernel-sigma-zero", lambda c: I.gaussian_kernel(3, 0.0), ValueError,
     arg("sigma")),
    ("gaussian_kernel-sigma-nan", lambda c: I.gaussian_kernel(3, float("nan")), ValueError,
     arg("sigma")),
    ("gaussian_kernel-sigma-str", lambda c: I.gaussian_kernel(3, "1"), TypeError, arg("sigma")),
    ("filter2d-kernel-1d", lambda c: I.filter2d(IMG, np.ones(3)), ValueError, arg("kernel")),
    ("filter2d-kernel-nan", lambda c: I.filter2d(IMG, np.full((3, 3), np.nan)), ValueError,
     arg("kernel")),
    ("filter2d-kernel-empty", lambda c: I.filter2d(IMG, np.zeros((0, 3))), ValueError,
     arg("kernel")),
    ("filter2d-padding-mode", lambda c: I.filter2d(IMG, np.ones((3, 3)), padding_mode="mirror"),
     ValueError, arg("padding_mode")),
    ("filter2d-img-5d", lambda c: I.filter2d(np.zeros((1, 1, 1, 8, 8)), np.ones((3, 3))),
     ValueError, arg("img")),
    ("filter2d-img-too-small", lambda c: I.filter2d(np.zeros((1, 2, 2)), np.ones((5, 5)),
                                                    padding="valid"),
     ValueError, arg("img")),
    ("gaussian_blur-sigma-negative", lambda c: I.gaussian_blur(IMG, sigma=-1.0), ValueError,
     arg("sigma")),
    ("gaussian_blur-size-zero", lambda c: I.gaussian_blur(IMG, size=0), ValueError, arg("size")),
    ("sobel_magnitude-gray-str", lambda c: I.sobel_magnitude(IMG, gray="yes"), TypeError,
     "`gray` must be a bool"),
    ("sobel_magnitude-gray-one-channel", lambda c: I.sobel_magnitude(np.zeros((1, 8, 8)),
                                                                     gray=True),
     ValueError, arg("img")),
    ("load_image-int", lambda c: I.load_image(3), TypeError, "`path` must be a str"),
    ("load_image-text-file", lambda c: I.load_image(c.text_file), ValueError,
     arg("path") + ".*note.txt"),
    # ---------------- load_model (crafted files; test_saving.py edits saved ones by hand)
    ("load_model-int", lambda c: load_model(3), TypeError, "filepath|path|int"),
    ("load_model-directory", lambda c: load_model(c.directory), ValueError, "Cannot load"),
    ("load_model-empty-file", lambda c: load_model(c.empty_file), ValueError,
     "Cannot load.*not a pyconv model file"),
    ("load_model-empty-zip", lambda c: load_model(c.empty_zip), ValueError,
     "Cannot load.*no config.json"),
    ("load_model-config-list", lambda c: load_model(c.list_config), ValueError,
     "Cannot load.*does not describe a pyconv model"),
    ("load_model-config-binary", lambda c: load_model(c.binary_config), ValueError,
     "Cannot load.*config.json is corrupt"),
    ("load_model-config-deeply-nested", lambda c: load_model(c.deep_json), ValueError,
     "Cannot load.*config.json"),
    ("load_model-object-array", lambda c: load_model(c.object_weight), ValueError,
     "Cannot load.*not a plain numeric array"),
    ("load_model-no-layers", lambda c: load_model(c.no_layers), ValueError, "Cannot load"),
    ("load_model-layers-str", lambda c: load_model(c.layers_not_list), ValueError,
     "Cannot load"),
    ("load_model-layer-int", lambda c: load_model(c.layer_not_dict), ValueError, "Cannot load"),
    ("load_model-unknown-config-key", lambda c: load_model(c.unknown_key), ValueError,
     "Cannot load.*evil"),
    ("load_model-foreign-class", lambda c: load_model(c.foreign_class), ValueError,
     "Cannot load.*Unknown layer class 'subprocess.Popen'"),
    ("load_model-weights-only-file", lambda c: load_model(c.weights_only), ValueError,
     "Cannot load.*weights only"),
    ("load_model-kind-weights", lambda c: load_model(c.kind_weights), ValueError,
     "Cannot load.*weights only"),
    ("load_model-weights-not-list", lambda c: load_model(c.weights_not_list), ValueError,
     "Cannot load.*'weights'"),
    ("load_model-manifest-entry-int", lambda c: load_model(c.manifest_entry_int), ValueError,
     "Cannot load.*malformed"),
    ("load_model-manifest-path-traversal", lambda c: load_model(c.manifest_traversal),
     ValueError, "Cannot load.*missing"),
    ("load_model-negative-iterations", lambda c: load_model(c.negative_iterations), ValueError,
     "Cannot load.*iteration"),
    ("load_model-version-string", lambda c: load_model(c.version_string), ValueError,
     "Cannot load.*format version"),
    ("load_model-compile-config-list", lambda c: load_model(c.compile_not_dict), ValueError,
     "Cannot load.*compile_config"),
    ("load_model-custom-objects-str", lambda c: load_model(c.good, custom_objects="Dense"),
     TypeError, arg("custom_objects")),
    ("load_weights-wrong-model", lambda c: c.conv_model.load_weights(c.good), ValueError,
     "Cannot load"),
    # issue 18: hostile files (weights never keyed by a name that can repeat, nothing
    # a file declares allocated before it is checked, zipfile's own errors wrapped)
    ("load_model-float-path", lambda c: load_model(3.5), TypeError, arg("filepath")),
    ("load_model-max-params-str", lambda c: load_model(c.good, max_params="many"), TypeError,
     arg("max_params")),
    ("load_model-max-params-too-small", lambda c: load_model(c.good, max_params=1), ValueError,
     "Cannot load.*15 parameters.*`max_params`"),
    ("load_model-duplicate-layer-names", lambda c: load_model(c.duplicate_layer_names),
     ValueError, "Cannot load.*unique names"),
    ("load_model-duplicate-zip-entries", lambda c: load_model(c.duplicate_entries), ValueError,
     "Cannot load.*'config.json' twice"),
    ("load_model-npy-header-10-to-12-elements", lambda c: load_model(c.huge_npy_header),
     ValueError, r"Cannot load.*declares shape \(1000000, 1000000\)"),
    ("load_model-entry-larger-than-manifest", lambda c: load_model(c.oversized_entry),
     ValueError, "Cannot load.*declares 100"),
    ("load_model-units-2-to-31", lambda c: load_model(c.huge_units), ValueError,
     "Cannot load.*max_params"),
    ("load_model-json-int-5000-digits", lambda c: load_model(c.huge_json_int), ValueError,
     "Cannot load.*config.json is corrupt"),
    ("load_model-encrypted-flag", lambda c: load_model(c.encrypted), ValueError,
     "Cannot load.*flags 0x0001"),
    ("load_model-unknown-compression", lambda c: load_model(c.unknown_method), ValueError,
     "Cannot load.*compression method 99"),
    ("load_model-future-zip-version", lambda c: load_model(c.future_zip_version), ValueError,
     "Cannot load.*version 25.5"),
    ("save-unbuilt", lambda c: Sequential([L.Dense(2)]).save(c.tmp / "unbuilt.pyconv"),
     ValueError, "not yet been built"),
    ("save-duplicate-layer-names", lambda c: _renamed_duplicate().save(c.tmp / "dup.pyconv"),
     ValueError, "unique.*'dense_a'"),
    # issue 18: numbers and thread counts
    ("fit-x-overflows-float32", lambda c: _fit(c, x=np.full((8, 4), 1e300)), ValueError,
     arg("x")),
    ("predict-x-overflows-float32", lambda c: c.model.predict(np.full((2, 4), -1e39), verbose=0),
     ValueError, arg("x")),
    ("fit-validation-x-overflows-float32", lambda c: _fit(c, validation_data=(
        np.full((8, 4), 1e300), YD)), ValueError, arg("validation_data[0]")),
    ("fit-class-weight-str-value", lambda c: _fit(c, class_weight={0: "2"}), TypeError,
     arg("class_weight values")),
    ("evaluate-zero-samples", lambda c: c.model.evaluate(XD[:0], YD[:0], verbose=0),
     ValueError, "`x` must be at least one sample"),
    ("set_num_threads-10-to-6", lambda c: pyconv.set_num_threads(10**6),
     ValueError, arg("n")),
    # ---------------- FilterBankTransformer
    ("FilterBank-pool-size-float", lambda c: _fb(pool_size=2.5).fit(np.zeros((2, 16))),
     TypeError, arg("pool_size")),
    ("FilterBank-pooling-int", lambda c: _fb(pooling=3).fit(np.zeros((2, 16))), TypeError,
     arg("pooling")),
    ("FilterBank-nonlinearity-none-str", lambda c: _fb(nonlinearity=5).fit(np.zeros((2, 16))),
     TypeError, arg("nonlinearity")),
    ("FilterBank-filters-complex", lambda c: _fb(filters=[np.ones((3, 3), complex)]).fit(
        np.zeros((2, 16))), TypeError, arg("filters")),
    ("FilterBank-filters-empty-kernel", lambda c: _fb(filters=[np.ones((0, 3))]).fit(
        np.zeros((2, 16))), ValueError, arg("filters")),
    ("FilterBank-padding-mode-none", lambda c: _fb(padding_mode=None).fit(np.zeros((2, 16))),
     TypeError, arg("padding_mode")),
    ("FilterBank-input-shape-str", lambda c: _fb(input_shape="abc").fit(np.zeros((2, 16))),
     ValueError, arg("input_shape")),
    ("FilterBank-X-1d", lambda c: _fb().fit(np.zeros(16)), ValueError, "X|2D|2-D"),
    ("FilterBank-X-nan", lambda c: _fb().fit(np.full((2, 16), np.nan)), ValueError,
     "X|NaN"),
    ("FilterBank-X-str", lambda c: _fb().fit(np.full((2, 16), "a")), ValueError,
     "X|string|convert"),
    ("FilterBank-transform-unfitted", lambda c: _fb().transform(np.zeros((2, 16))),
     pytest.importorskip("sklearn.exceptions").NotFittedError, "FilterBankTransformer"),
]


# ------------------------------------------------ the six functional calls
# Each case is ``(label, (function name, kwargs), exception, argument names)``
# and must raise with the full message shape
# "`name` must be <expected>; got <received>." (not just name the argument).
POOL_GO = np.zeros((2, 3, 3, 3), dtype=np.float32)  # max/avg_pool2d(X, 2) output shape
B = np.zeros(4, dtype=np.float32)


def _fconv(**kw):
    return ("conv2d", dict(dict(x=X, weight=W, bias=B), **kw))


def _fconv_back(**kw):
    return ("conv2d_backward", dict(dict(grad_output=GO, x=X, weight=W), **kw))


def _fmaxp(**kw):
    return ("max_pool2d", dict(dict(x=X, kernel_size=2), **kw))


def _fmaxp_back(**kw):
    return ("max_pool2d_backward", dict(dict(grad_output=POOL_GO, x=X, kernel_size=2), **kw))


def _favgp(**kw):
    return ("avg_pool2d", dict(dict(x=X, kernel_size=2), **kw))


def _favgp_back(**kw):
    return ("avg_pool2d_backward", dict(dict(grad_output=POOL_GO, x=X, kernel_size=2), **kw))


FUNCTIONAL_CASES = [
    # --- conv2d: arrays -----------------------------------------------------
    ("conv-x-2d", _fconv(x=np.zeros((6, 6))), ValueError, "x"),
    ("conv-x-5d", _fconv(x=np.zeros((1, 2, 3, 6, 6))), ValueError, "x"),
    ("conv-weight-3d", _fconv(weight=np.zeros((4, 3, 3))), ValueError, "weight"),
    ("conv-weight-5d", _fconv(weight=np.zeros((4, 3, 3, 3, 1))), ValueError, "weight"),
    ("conv-channel-mismatch", _fconv(weight=np.zeros((4, 2, 3, 3))), ValueError, "x|weight"),
    ("conv-channel-mismatch-groups", _fconv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((4, 1, 3, 3)),
                                          groups=2), ValueError, "x|weight"),
    ("conv-groups-not-dividing-cin", _fconv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((3, 1, 3, 3)),
                                          bias=None, groups=3), ValueError, "groups"),
    ("conv-groups-not-dividing-cout", _fconv(x=np.zeros((2, 4, 6, 6)), weight=np.zeros((3, 2, 3, 3)),
                                           bias=None, groups=2), ValueError, "groups"),
    ("conv-groups-zero", _fconv(groups=0), ValueError, "groups"),
    ("conv-groups-negative", _fconv(groups=-1), ValueError, "groups"),
    ("conv-groups-float", _fconv(groups=1.5), TypeError, "groups"),
    ("conv-kernel-zero-height", _fconv(weight=np.zeros((4, 3, 0, 3)), bias=None), ValueError,
     "weight"),
    ("conv-kernel-zero-width", _fconv(weight=np.zeros((4, 3, 3, 0)), bias=None), ValueError,
     "weight"),
    ("conv-cout-zero", _fconv(weight=np.zeros((0, 3, 3, 3)), bias=None), ValueError, "weight"),
    ("conv-x-complex", _fconv(x=X.astype(np.complex64)), TypeError, "x"),
    ("conv-x-object", _fconv(x=X.astype(object)), TypeError, "x"),
    ("conv-x-str-array", _fconv(x=np.full((2, 3, 6, 6), "a")), TypeError, "x"),
    ("conv-x-str", _fconv(x="image"), TypeError, "x"),
    ("conv-weight-complex", _fconv(weight=W.astype(np.complex128)), TypeError, "weight"),
    ("conv-bias-complex", _fconv(bias=B.astype(np.complex64)), TypeError, "bias"),
    ("conv-bias-wrong-length", _fconv(bias=np.zeros(3)), ValueError, "bias"),
    ("conv-bias-2d", _fconv(bias=np.zeros((4, 1))), ValueError, "bias"),
    ("conv-bias-scalar", _fconv(bias=np.float32(1)), ValueError, "bias"),
    # --- conv2d: hyper-parameters --------------------------------------------
    ("conv-stride-zero", _fconv(stride=0), ValueError, "stride"),
    ("conv-stride-negative", _fconv(stride=-2), ValueError, "stride"),
    ("conv-stride-pair-zero", _fconv(stride=(1, 0)), ValueError, "stride"),
    ("conv-stride-triple", _fconv(stride=(1, 1, 1)), ValueError, "stride"),
    ("conv-stride-float", _fconv(stride=1.0), TypeError, "stride"),
    ("conv-stride-str", _fconv(stride="1"), TypeError, "stride"),
    ("conv-dilation-zero", _fconv(dilation=0), ValueError, "dilation"),
    ("conv-dilation-negative", _fconv(dilation=(2, -1)), ValueError, "dilation"),
    ("conv-padding-negative", _fconv(padding=-1), ValueError, "padding"),
    ("conv-padding-pair-negative", _fconv(padding=(0, -1)), ValueError, "padding"),
    ("conv-padding-float", _fconv(padding=0.5), TypeError, "padding"),
    ("conv-padding-bad-string", _fconv(padding="full"), ValueError, "padding"),
    ("conv-padding-string-case", _fconv(padding="SAME"), ValueError, "padding"),
    ("conv-same-with-stride", _fconv(padding="same", stride=2), ValueError, "padding|stride"),
    ("conv-same-with-pair-stride", _fconv(padding="same", stride=(1, 2)), ValueError,
     "padding|stride"),
    ("conv-output-empty", _fconv(x=np.zeros((1, 3, 2, 2))), ValueError, "x|weight"),
    ("conv-output-empty-dilation", _fconv(dilation=3), ValueError, "x|weight|dilation"),
    ("conv-output-empty-width", _fconv(x=np.zeros((1, 3, 6, 2))), ValueError, "x|weight"),
    ("conv-reflect-pad-too-big", _fconv(padding=6, padding_mode="reflect"), ValueError, "padding"),
    ("conv-reflect-pad-equal-size", _fconv(x=np.zeros((1, 3, 3, 8)), padding=3,
                                         padding_mode="reflect"), ValueError, "padding"),
    ("conv-circular-pad-too-big", _fconv(padding=(7, 1), padding_mode="circular"), ValueError,
     "padding"),
    ("conv-unknown-padding-mode", _fconv(padding_mode="mirror"), ValueError, "padding_mode"),
    ("conv-padding-mode-none", _fconv(padding_mode=None), TypeError, "padding_mode"),
    # --- conv2d_backward ---------------------------------------------------
    ("convb-grad-output-wrong-shape", _fconv_back(grad_output=np.zeros((2, 4, 5, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-wrong-channels", _fconv_back(grad_output=np.zeros((2, 3, 4, 4))),
     ValueError, "grad_output"),
    ("convb-grad-output-wrong-batch", _fconv_back(grad_output=np.zeros((1, 4, 4, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-3d", _fconv_back(grad_output=np.zeros((4, 4, 4))), ValueError,
     "grad_output"),
    ("convb-grad-output-complex", _fconv_back(grad_output=GO.astype(np.complex64)), TypeError,
     "grad_output"),
    ("convb-x-2d", _fconv_back(x=np.zeros((6, 6))), ValueError, "x"),
    ("convb-channel-mismatch", _fconv_back(weight=np.zeros((4, 2, 3, 3))), ValueError, "x|weight"),
    ("convb-groups", _fconv_back(groups=2), ValueError, "groups"),
    ("convb-stride-zero", _fconv_back(stride=0), ValueError, "stride"),
    ("convb-padding-negative", _fconv_back(padding=-1), ValueError, "padding"),
    ("convb-same-stride", _fconv_back(padding="same", stride=2), ValueError, "padding|stride"),
    ("convb-padding-mode", _fconv_back(padding_mode="edge"), ValueError, "padding_mode"),
    ("convb-weight-object", _fconv_back(weight=W.astype(object)), TypeError, "weight"),
    # --- max_pool2d ---------------------------------------------------------
    ("maxp-x-2d", _fmaxp(x=np.zeros((6, 6))), ValueError, "x"),
    ("maxp-x-5d", _fmaxp(x=np.zeros((1, 1, 3, 6, 6))), ValueError, "x"),
    ("maxp-kernel-zero", _fmaxp(kernel_size=0), ValueError, "kernel_size"),
    ("maxp-kernel-negative", _fmaxp(kernel_size=(2, -1)), ValueError, "kernel_size"),
    ("maxp-kernel-triple", _fmaxp(kernel_size=(2, 2, 2)), ValueError, "kernel_size"),
    ("maxp-kernel-float", _fmaxp(kernel_size=2.0), TypeError, "kernel_size"),
    ("maxp-stride-zero", _fmaxp(stride=0), ValueError, "stride"),
    ("maxp-stride-negative", _fmaxp(stride=(-1, 1)), ValueError, "stride"),
    ("maxp-dilation-zero", _fmaxp(dilation=0), ValueError, "dilation"),
    ("maxp-padding-negative", _fmaxp(padding=-1), ValueError, "padding"),
    ("maxp-padding-over-half-kernel", _fmaxp(kernel_size=2, padding=2), ValueError, "padding"),
    ("maxp-padding-over-half-kernel-w", _fmaxp(kernel_size=(4, 3), padding=(2, 2)), ValueError,
     "padding"),
    ("maxp-padding-string", _fmaxp(padding="same"), TypeError, "padding"),
    ("maxp-output-empty", _fmaxp(x=np.zeros((1, 1, 2, 2)), kernel_size=3), ValueError,
     "x|kernel_size"),
    ("maxp-output-empty-dilation", _fmaxp(kernel_size=3, dilation=3), ValueError,
     "x|kernel_size|dilation"),
    ("maxp-x-complex", _fmaxp(x=X.astype(np.complex128)), TypeError, "x"),
    ("maxp-x-object", _fmaxp(x=X.astype(object)), TypeError, "x"),
    ("maxp-x-str", _fmaxp(x=np.full((1, 1, 4, 4), "a")), TypeError, "x"),
    # --- max_pool2d_backward -------------------------------------------------
    ("maxpb-grad-output-wrong-shape", _fmaxp_back(grad_output=np.zeros((2, 3, 2, 3))), ValueError,
     "grad_output"),
    ("maxpb-grad-output-wrong-channels", _fmaxp_back(grad_output=np.zeros((2, 2, 3, 3))),
     ValueError, "grad_output"),
    ("maxpb-grad-output-complex", _fmaxp_back(grad_output=POOL_GO.astype(np.complex64)), TypeError,
     "grad_output"),
    ("maxpb-x-2d", _fmaxp_back(x=np.zeros((6, 6))), ValueError, "x"),
    ("maxpb-kernel-zero", _fmaxp_back(kernel_size=0), ValueError, "kernel_size"),
    ("maxpb-padding-over-half", _fmaxp_back(padding=2), ValueError, "padding"),
    ("maxpb-stride-zero", _fmaxp_back(stride=0), ValueError, "stride"),
    ("maxpb-dilation-zero", _fmaxp_back(dilation=0), ValueError, "dilation"),
    # --- avg_pool2d ---------------------------------------------------------
    ("avgp-x-2d", _favgp(x=np.zeros((6, 6))), ValueError, "x"),
    ("avgp-kernel-zero", _favgp(kernel_size=0), ValueError, "kernel_size"),
    ("avgp-kernel-float", _favgp(kernel_size=(2, 2.5)), ValueError, "kernel_size"),
    ("avgp-stride-zero", _favgp(stride=0), ValueError, "stride"),
    ("avgp-padding-negative", _favgp(padding=-1), ValueError, "padding"),
    ("avgp-padding-over-half-kernel", _favgp(kernel_size=3, padding=2), ValueError, "padding"),
    ("avgp-output-empty", _favgp(x=np.zeros((1, 1, 1, 5)), kernel_size=2), ValueError,
     "x|kernel_size"),
    ("avgp-divisor-zero", _favgp(divisor_override=0), ValueError, "divisor_override"),
    ("avgp-divisor-negative", _favgp(divisor_override=-3), ValueError, "divisor_override"),
    ("avgp-divisor-float", _favgp(divisor_override=1.5), TypeError, "divisor_override"),
    ("avgp-x-complex", _favgp(x=X.astype(np.complex64)), TypeError, "x"),
    ("avgp-x-object", _favgp(x=X.astype(object)), TypeError, "x"),
    # --- avg_pool2d_backward -------------------------------------------------
    ("avgpb-grad-output-wrong-shape", _favgp_back(grad_output=np.zeros((2, 3, 3, 2))), ValueError,
     "grad_output"),
    ("avgpb-grad-output-ceil-shape", _favgp_back(grad_output=np.zeros((2, 3, 3, 3)), kernel_size=2,
                                               stride=2, padding=1), ValueError, "grad_output"),
    ("avgpb-grad-output-object", _favgp_back(grad_output=POOL_GO.astype(object)), TypeError,
     "grad_output"),
    ("avgpb-x-5d", _favgp_back(x=np.zeros((1, 2, 3, 6, 6))), ValueError, "x"),
    ("avgpb-kernel-zero", _favgp_back(kernel_size=0), ValueError, "kernel_size"),
    ("avgpb-padding-over-half", _favgp_back(padding=2), ValueError, "padding"),
    ("avgpb-divisor-zero", _favgp_back(divisor_override=0), ValueError, "divisor_override"),
]




def _functional_row(label, call, exc, names):
    function_name, kwargs = call
    return (label, lambda c: getattr(F, function_name)(**kwargs), exc,
            rf"^`(?:{names})` must be .+; got .+\.$")


ROWS += [_functional_row(*case) for case in FUNCTIONAL_CASES]


ESTIMATOR_ROWS = [
    ("CNNClassifier-learning-rate-zero", lambda c: _estimator(learning_rate=0).fit(_EST_X, _EST_Y),
     ValueError, "`learning_rate` must be a positive number"),
    ("CNNClassifier-batch-size-zero", lambda c: _estimator(batch_size=0).fit(_EST_X, _EST_Y),
     ValueError, "`batch_size` must be a positive int"),
    ("CNNClassifier-max-iter-float", lambda c: _estimator("classifier").set_params(
        max_iter=2.5).fit(_EST_X, _EST_Y), TypeError, "`max_iter` must be an int"),
    ("CNNClassifier-validation-fraction-one", lambda c: _estimator(
        validation_fraction=1.0).fit(_EST_X, _EST_Y), ValueError,
     "`validation_fraction` must be a float in"),
    ("CNNClassifier-class-weight-auto", lambda c: _estimator(class_weight="auto").fit(
        _EST_X, _EST_Y), ValueError, "`class_weight` must be None, 'balanced'"),
    ("CNNClassifier-validation-fraction", lambda c: _estimator(
        validation_fraction=1.5, early_stopping=True).fit(_EST_X, _EST_Y), ValueError,
     arg("validation_fraction")),
    ("CNNClassifier-n-iter-no-change-zero", lambda c: _estimator(n_iter_no_change=0).fit(
        _EST_X, _EST_Y), ValueError, arg("n_iter_no_change")),
    ("CNNClassifier-tol-negative", lambda c: _estimator(tol=-1.0).fit(_EST_X, _EST_Y),
     ValueError, arg("tol")),
    ("CNNClassifier-early-stopping-str", lambda c: _estimator(early_stopping="yes").fit(
        _EST_X, _EST_Y), TypeError, arg("early_stopping")),
    ("CNNClassifier-n-threads-zero", lambda c: _estimator(n_threads=0).fit(_EST_X, _EST_Y),
     ValueError, "`n_threads` must be"),
    ("CNNClassifier-optimizer-name", lambda c: _estimator(optimizer="adagrad").fit(
        _EST_X, _EST_Y), ValueError, "`optimizer` must be one of"),
    ("CNNClassifier-optimizer-int", lambda c: _estimator(optimizer=3).fit(_EST_X, _EST_Y),
     TypeError, arg("optimizer")),
    ("CNNClassifier-layers-str", lambda c: _estimator(layers="conv").fit(_EST_X, _EST_Y),
     TypeError, arg("layers")),
    ("CNNClassifier-input-shape-zero", lambda c: _estimator(input_shape=(0, 4, 4)).fit(
        _EST_X, _EST_Y), ValueError, arg("input_shape")),
    ("CNNClassifier-input-shape-mismatch", lambda c: _estimator(input_shape=(1, 3, 3)).fit(
        _EST_X, _EST_Y), ValueError, r"`input_shape` must be .*C\*H\*W equal"),
    ("CNNClassifier-input-shape-2d", lambda c: _estimator(input_shape=(3, 4)).fit(
        _EST_X, _EST_Y), ValueError, "`input_shape` must be None or a tuple of 3"),
    ("CNNClassifier-input-shape-not-the-samples", lambda c: _estimator(input_shape=(1, 3, 4)).fit(
        _EST_X[:, :12].reshape(12, 3, 2, 2), _EST_Y), ValueError,
     "`input_shape` must be the shape of the samples"),
    ("CNNClassifier-X-nan", lambda c: _estimator().fit(
        np.where(np.arange(16) == 5, np.nan, _EST_X), _EST_Y), ValueError, "Input X contains NaN"),
    ("CNNClassifier-y-one-class", lambda c: _estimator().fit(_EST_X, np.zeros(12)), ValueError,
     arg("y") + " must be labels of at least 2 classes"),
    ("CNNClassifier-y-continuous", lambda c: _estimator().fit(_EST_X, np.linspace(0, 1, 12)),
     ValueError, "Unknown label type"),
    ("CNNClassifier-sample-weight-short", lambda c: _estimator().fit(
        _EST_X, _EST_Y, sample_weight=np.ones(11)), ValueError,
     "`sample_weight` must be a 1-D array of 12"),
    ("CNNClassifier-sample-weight-zero", lambda c: _estimator().fit(
        _EST_X, _EST_Y, sample_weight=np.zeros(12)), ValueError,
     arg("sample_weight") + " must be non-zero for at least one sample"),
    ("CNNClassifier-X-5d", lambda c: _estimator().fit(np.zeros((12, 1, 1, 4, 4)), _EST_Y),
     ValueError, arg("X")),
    ("CNNClassifier-y-short", lambda c: _estimator().fit(_EST_X, _EST_Y[:5]), ValueError,
     "inconsistent numbers of samples|`y`"),
    ("CNNClassifier-sample-weight-negative", lambda c: _estimator().fit(
        _EST_X, _EST_Y, sample_weight=-np.ones(12)), ValueError,
     "`sample_weight` must be finite and non-negative"),
    ("CNNClassifier-predict-unfitted", lambda c: _estimator().predict(_EST_X),
     pytest.importorskip("sklearn.exceptions").NotFittedError, "CNNClassifier"),
    ("CNNRegressor-predict-unfitted", lambda c: _estimator("regressor").predict(_EST_X),
     pytest.importorskip("sklearn.exceptions").NotFittedError, "CNNRegressor"),
    ("CNNClassifier-predict-wrong-width", lambda c: _fitted_classifier().predict(
        np.zeros((3, 9))), ValueError, "X|features"),
    ("CNNClassifier-n-threads-10-to-6", lambda c: _estimator(n_threads=10**6).fit(
        _EST_X, _EST_Y), ValueError, arg("n_threads")),
    ("CNNClassifier-predict-X-overflows-float32", lambda c: _fitted_classifier().predict(
        np.full((3, 16), 1e300)), ValueError, "`X` must be values within float32's range"),
    *[(f"CNNClassifier-class-weight-{kind}", _estimator_fit(class_weight=class_weight), exc,
       arg("class_weight values"))
      for kind, class_weight, exc in [("nan", {0: float("nan"), 1: 1.0}, ValueError),
                                      ("inf", {0: float("inf"), 1: 1.0}, ValueError),
                                      ("negative", {0: -1.0, 1: 1.0}, ValueError),
                                      ("str", {0: "a", 1: 1.0}, TypeError)]],
    ("CNNClassifier-fit-diverges", lambda c: _estimator(random_state=0).set_params(
        max_iter=3).fit(np.where(_EST_Y, 3e38, -3e38).astype(np.float32)[:, None]
                        * np.ones(16, np.float32),
                        _EST_Y), ValueError, "diverged"),
    ("CNNClassifier-builder-returns-layer", lambda c: pyconv.CNNClassifier(
        layers=lambda shape, n: L.Dense(n), max_iter=1).fit(_BUILDER_X, _BUILDER_Y),
     TypeError, arg("layers")),
    ("CNNClassifier-builder-without-softmax", lambda c: pyconv.CNNClassifier(
        layers=_graph_builder(0), max_iter=1).fit(_BUILDER_X, _BUILDER_Y),
     ValueError, arg("layers")),
    ("CNNClassifier-builder-output-too-wide", lambda c: pyconv.CNNClassifier(
        layers=_graph_builder(1, "softmax"), max_iter=1).fit(_BUILDER_X, _BUILDER_Y),
     ValueError, arg("layers")),
    ("CNNClassifier-data-format-NHWC", lambda c: _estimator(data_format="NHWC").fit(
        _EST_X, _EST_Y), ValueError, arg("data_format")),
    ("CNNClassifier-template-ends-in-softmax", lambda c: _estimator(
        layers=[L.Flatten(), L.Dense(2, activation="softmax")]).fit(_EST_X, _EST_Y),
     ValueError, arg("layers") + ".*hidden layers only"),
    ("CNNRegressor-callbacks-function", lambda c: _estimator("regressor", callbacks=print).fit(
        _EST_X, _EST_Y.astype(float)), TypeError, "`callbacks` must be None or a list"),
    ("CNNRegressor-learning-rate-negative", lambda c: _estimator("regressor",
                                                                 learning_rate=-1.0).fit(
        _EST_X, _EST_Y.astype(float)), ValueError, arg("learning_rate")),
    ("CNNRegressor-y-3d", lambda c: _estimator("regressor").fit(_EST_X, np.zeros((12, 2, 2))),
     ValueError, "y"),
    ("CNNRegressor-verbose-negative", lambda c: _estimator("regressor", verbose=-1).fit(
        _EST_X, _EST_Y.astype(float)), ValueError, arg("verbose")),
]

try:  # the estimators land separately; their rows join when they exist
    pyconv.CNNClassifier
    HAVE_ESTIMATORS = True
except (AttributeError, ImportError):
    HAVE_ESTIMATORS = False

# ------------------------------------------- context of the moved module rows
def _built_dense():
    layer = L.Dense(3)
    layer.build((4,))
    return layer


def _called_dense():
    """A Dense(2) layer called once on (3, 4) inputs (so its input shape is known)."""
    layer = L.Dense(2)
    layer(np.zeros((3, 4)))
    return layer


def _two_dense():
    return Sequential([L.Input((4,)), L.Dense(3, name="hidden"), L.Dense(2, name="out")])


def _set_weights(model, weights):
    return model.set_weights(weights(model.get_weights()))


def _set_learning_rate(optimizer, value):
    optimizer.learning_rate = value


def _fitted_fb(X, **params):
    return pyconv.FilterBankTransformer(**params).fit(X)


class _FeatureMapStub:
    """A layer for plot_feature_maps: ``name`` and ``forward``."""

    def __init__(self, name, forward):
        self.name, self.forward = name, forward


_FEATURE_MODEL = SimpleNamespace(layers=[
    _FeatureMapStub("double", lambda x, training=False: 2.0 * x),
    _FeatureMapStub("flat", lambda x, training=False: x.reshape(len(x), -1))])
_FEATURE_IMAGE = np.zeros((1, 4, 4))


def _filter2d(**kwargs):
    """`image.filter2d` of a (3, 5, 5) image by a 3x3 kernel, ``kwargs`` replacing."""
    args = {"img": np.zeros((3, 5, 5)), "kernel": np.ones((3, 3))}
    args.update(kwargs)
    return I.filter2d(**args)


def _image_folder(c):
    """A folder of three classes of small PNGs (made on first use: needs Pillow)."""
    folder = c.tmp / "images"
    if not folder.exists():
        from PIL import Image

        for name, mode in (("circle", "L"), ("square", "RGB"), ("triangle", "RGB")):
            (folder / name).mkdir(parents=True)
            Image.fromarray(np.zeros((5, 7, 3), np.uint8)).convert(mode).save(
                folder / name / "img_0.png")
    return folder


def _image_dataset(c, folder=None, **kwargs):
    from pyconv.utils import image_dataset_from_directory

    return image_dataset_from_directory(_image_folder(c) if folder is None else folder,
                                        **kwargs)


def _empty_folder(c):
    folder = c.tmp / "no_images"
    folder.mkdir(exist_ok=True)
    return folder


def _dense_3_to_2():
    return Sequential([L.Dense(2, input_shape=(3,))])


def _circular_conv():
    return Sequential([L.Conv2D(2, 3, padding="same", padding_mode="circular",
                                input_shape=(1, 5, 5))])


def _two_input_model():
    """Inputs image (1, 6, 6) and extra (2,); outputs a 3-class label and a value."""
    image, extra = pyconv.Input((1, 6, 6), name="image"), pyconv.Input((2,), name="extra")
    x = L.Flatten()(L.MaxPool2D()(L.Conv2D(3, 3, activation="relu")(image)))
    joined = L.Concatenate()([x, extra])
    model = pyconv.Model([image, extra], [L.Dense(3, activation="softmax")(joined),
                                          L.Dense(1)(joined)], seed=0)
    model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"])
    return model


_TWO_TARGETS = [np.zeros(4), np.zeros((4, 1))]


def _dense_called_on_3():
    dense = L.Dense(2)
    dense(pyconv.Input((3,)))
    return dense


def _graph_builder(units, activation=None):
    """An estimator's ``layers`` builder: a graph model, Flatten then Dense."""
    def build(shape, n):
        inputs = pyconv.Input(shape)
        return pyconv.Model(inputs, L.Dense(n + units, activation=activation)(
            L.Flatten()(inputs)))
    return build


_BUILDER_X = np.zeros((10, 1, 4, 4), dtype=np.float32)
_BUILDER_Y = np.arange(10) % 2


def _overflowing_x():
    """(16, 4) float64 zeros but one value, -1e300, beyond float32's range."""
    x = np.zeros((16, 4))
    x[3, 1] = -1e300
    return x


def _overflow_rows():
    """Each entry point refuses inputs beyond float32's range, naming the array."""
    y = np.zeros(16, dtype=np.int64)
    calls = {
        "fit": (lambda m, x: m.fit(x, y, verbose=0), "x"),
        "predict": (lambda m, x: m.predict(x, verbose=0), "x"),
        "evaluate": (lambda m, x: m.evaluate(x, y, verbose=0), "x"),
        "fit-validation": (lambda m, x: m.fit(x * 0, y, validation_data=(x, y), verbose=0),
                           r"validation_data\[0\]"),
        "train_on_batch": (lambda m, x: m.train_on_batch(x, y), "x"),
    }

    def row(call):
        return lambda c: call(_dense_model(), _overflowing_x())

    return [(f"{entry}-x-one-value-overflows-float32", row(call), ValueError,
             rf"`{name}` must be values within float32's range.*magnitude 1e\+300")
            for entry, (call, name) in calls.items()]


def _class_weight_rows():
    """``class_weight`` values are checked like ``sample_weight``, in fit and train_on_batch."""
    cases = [
        ("nan", {0: float("nan")}, ValueError,
         "`class_weight values` must be finite and non-negative"),
        ("inf", {1: float("inf")}, ValueError, "`class_weight values` must be finite"),
        ("negative", {2: -1.0}, ValueError,
         "`class_weight values` must be finite and non-negative"),
        ("word", {0: "heavy"}, TypeError, "`class_weight values` must be real numbers"),
        ("bool", {0: True}, TypeError, "`class_weight values` must be real numbers"),
        ("none", {0: None}, TypeError, "`class_weight values`"),
    ]
    calls = {
        "fit": lambda cw: _dense_model().fit(XD, YD, class_weight=cw, verbose=0),
        "train_on_batch": lambda cw: _dense_model().train_on_batch(XD, YD, class_weight=cw),
    }

    def row(call, class_weight):
        return lambda c: call(class_weight)

    return [(f"{entry}-class-weight-{kind}", row(call, class_weight), exc, pattern)
            for kind, class_weight, exc, pattern in cases for entry, call in calls.items()]


def _dense_regressor():
    model = Sequential([L.Input((4,)), L.Dense(1)], seed=0)
    model.compile("sgd", "mse")
    return model


def _overflowing_targets():
    y = np.ones((16, 1))
    y[0] = 5e40
    return y


def _set_image_data_format(value):
    """`config.set_image_data_format`, the previous format put back whatever happens."""
    previous = pyconv.config.image_data_format()
    try:
        pyconv.config.set_image_data_format(value)
    finally:
        pyconv.config.set_image_data_format(previous)


def _plotting():
    from pyconv import plotting  # matplotlib is imported when a function runs

    return plotting


class _SequenceLike:
    """``len`` and ``[]`` but neither an array nor a PyDataset."""

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.zeros((2, 1, 6, 6)), np.zeros(2)


_CONV_X = np.zeros((16, 1, 6, 6), dtype=np.float32)
_CONV_Y = np.arange(16) % 2


def _conv_batches():
    for start in range(0, len(_CONV_X), 8):
        yield _CONV_X[start:start + 8], _CONV_Y[start:start + 8]


def _conv_dataset():
    from pyconv.utils import PyDataset

    class Batches(PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return _CONV_X[8 * index:8 * index + 8], _CONV_Y[8 * index:8 * index + 8]

    return Batches()


def _non_array_rows():
    """Data that is neither an array nor a batch source, for the four entry points."""
    calls = {
        "fit": lambda c, bad: c.conv_model.fit(bad, epochs=1, verbose=0),
        "evaluate": lambda c, bad: c.conv_model.evaluate(bad, verbose=0),
        "predict": lambda c, bad: c.conv_model.predict(bad, verbose=0),
        "train_on_batch": lambda c, bad: c.conv_model.train_on_batch(bad, np.zeros(2)),
    }
    bads = {"sequence-like": _SequenceLike, "set": lambda: {1, 2}, "object": object}

    def row(call, make):
        return lambda c: call(c, make())

    return [(f"{entry}-x-{kind}", row(call, make), TypeError, "`x` must be")
            for kind, make in bads.items() for entry, call in calls.items()]


MODULE_ROWS = [
    # ---------------- augmentation layers (were in test_augmentation.py)
    ("RandomFlip-mode",
     lambda c: L.RandomFlip("diagonal"),
     ValueError, arg("mode")),
    ("RandomCrop-height",
     lambda c: L.RandomCrop(0, 3),
     ValueError, arg("height")),
    ("RandomTranslation-height_factor",
     lambda c: L.RandomTranslation(1.5, 0),
     ValueError, arg("height_factor")),
    ("RandomTranslation-width_factor",
     lambda c: L.RandomTranslation(0.1, "a"),
     TypeError, arg("width_factor")),
    ("RandomRotation-fill_mode",
     lambda c: L.RandomRotation(0.1, fill_mode="mirror"),
     ValueError, arg("fill_mode")),
    ("RandomRotation-interpolation",
     lambda c: L.RandomRotation(0.1, interpolation="cubic"),
     ValueError, arg("interpolation")),
    ("RandomRotation-factor",
     lambda c: L.RandomRotation((0.2, 0.1)),
     ValueError, arg("factor")),
    ("RandomFlip-seed",
     lambda c: L.RandomFlip(seed=-1),
     ValueError, arg("seed")),
    # ---------------- graph models and merge layers (were in test_graph.py)
    ("Model-inputs",
     lambda c: pyconv.Model(pyconv.Input((2,)), L.Dense(1)(pyconv.Input((2,)))),
     ValueError, arg("inputs")),
    ("Model-inputs-2",
     lambda c: pyconv.Model(np.ones((2, 2)), np.ones(2)),
     TypeError, arg("inputs")),
    ("Add-inputs",
     lambda c: L.Add()([pyconv.Input((2,)), pyconv.Input((3,))]),
     ValueError, arg("inputs")),
    ("Subtract-inputs",
     lambda c: L.Subtract()([pyconv.Input((2,))] * 3),
     ValueError, arg("inputs")),
    ("Concatenate-axis",
     lambda c: L.Concatenate(axis=0),
     ValueError, arg("axis")),
    ("Add-inputs-2",
     lambda c: L.Add()(np.ones((2, 2))),
     TypeError, arg("inputs")),
    # ---------------- more layers (were in test_layers_more.py)
    ("Conv2DTranspose-output_padding",
     lambda c: L.Conv2DTranspose(2, 3, strides=2, output_padding=2),
     ValueError, arg("output_padding")),
    ("Conv2DTranspose-padding",
     lambda c: L.Conv2DTranspose(2, 3, padding="full"),
     ValueError, arg("padding")),
    ("DepthwiseConv2D-depth_multiplier",
     lambda c: L.DepthwiseConv2D(3, depth_multiplier=0),
     ValueError, arg("depth_multiplier")),
    ("UpSampling2D-interpolation",
     lambda c: L.UpSampling2D(interpolation="bicubic"),
     ValueError, arg("interpolation")),
    ("ZeroPadding2D-padding",
     lambda c: L.ZeroPadding2D(-1),
     ValueError, arg("padding")),
    ("Cropping2D-cropping",
     lambda c: L.Cropping2D(3).compute_output_shape((1, 5, 5)),
     ValueError, arg("cropping")),
    ("GroupNormalization-groups",
     lambda c: L.GroupNormalization(4).compute_output_shape((6, 2, 2)),
     ValueError, arg("groups")),
    ("LayerNormalization-axis",
     lambda c: L.LayerNormalization(axis=0).compute_output_shape((6, 2, 2)),
     ValueError, arg("axis")),
    ("LayerNormalization-epsilon",
     lambda c: L.LayerNormalization(epsilon=0),
     ValueError, arg("epsilon")),
    ("Rescaling-scale",
     lambda c: L.Rescaling("1/255"),
     TypeError, arg("scale")),
    # ---------------- conv_transpose2d and interpolate (were in test_resample.py)
    ("conv_transpose2d-weight",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((3, 1, 2, 2))),
     ValueError, arg("weight")),
    ("conv_transpose2d-weight-2",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2))),
     ValueError, arg("weight")),
    ("conv_transpose2d-stride",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), stride=0),
     ValueError, arg("stride")),
    ("conv_transpose2d-output_padding",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), output_padding=1),
     ValueError, arg("output_padding")),
    ("conv_transpose2d-groups",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), groups=3),
     ValueError, arg("groups")),
    ("conv_transpose2d-bias",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), np.ones(2)),
     ValueError, arg("bias")),
    ("conv_transpose2d-x",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 1, 1)), np.ones((2, 1, 1, 1)), padding=1),
     ValueError, arg("x")),
    ("conv_transpose2d-x-2",
     lambda c: F.conv_transpose2d(np.ones((1, 2, 3, 3), dtype=complex), np.ones((2, 1, 2, 2))),
     TypeError, arg("x")),
    ("conv_transpose2d_backward-grad_output",
     lambda c: F.conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 2, 3, 3)),
                                           np.ones((2, 1, 2, 2))),
     ValueError, arg("grad_output")),
    ("interpolate-size-scale_factor",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3))),
     ValueError, arg("size, scale_factor")),
    ("interpolate-size-scale_factor-2",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), size=2, scale_factor=2),
     ValueError, arg("size, scale_factor")),
    ("interpolate-size",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), size=0),
     ValueError, arg("size")),
    ("interpolate-scale_factor",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), scale_factor=-1),
     ValueError, arg("scale_factor")),
    ("interpolate-scale_factor-2",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), scale_factor=0.1),
     ValueError, arg("scale_factor")),
    ("interpolate-mode",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), size=2, mode="bicubic"),
     ValueError, arg("mode")),
    ("interpolate-align_corners",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), size=2, align_corners=True),
     ValueError, arg("align_corners")),
    ("interpolate-align_corners-2",
     lambda c: F.interpolate(np.ones((1, 1, 3, 3)), size=2, mode="bilinear", align_corners=1),
     TypeError, arg("align_corners")),
    ("interpolate-x",
     lambda c: F.interpolate(np.ones((3, 3)), size=2),
     ValueError, arg("x")),
    ("interpolate_backward-input_shape",
     lambda c: F.interpolate_backward(np.ones((1, 1, 2, 2)), (1, 3), size=2),
     ValueError, arg("input_shape")),
    ("interpolate_backward-grad_output",
     lambda c: F.interpolate_backward(np.ones((1, 1, 3, 2)), (1, 1, 3, 3), size=2),
     ValueError, arg("grad_output")),
    # ---------------- layers, initializers, regularizers (were in test_layers.py)
    ("Dense-call-x-wrong-width", lambda c: _called_dense()(np.zeros((3, 5))),
     ValueError, arg("x")),
    ("Dense-call-x-complex", lambda c: _called_dense()(np.zeros((3, 4), dtype=complex)),
     TypeError, arg("x")),
    ("Dense-count-params-unbuilt", lambda c: L.Dense(3).count_params(),
     ValueError, arg("input_shape")),
    ("Dense-set-weights-shape",
     lambda c: _built_dense().set_weights([np.zeros((3, 4)), np.zeros(3)]),
     ValueError, arg("weights")),
    ("Dense-set-weights-count", lambda c: _built_dense().set_weights([np.zeros((4, 3))]),
     ValueError, arg("weights")),
    ("initializers.get-unknown-name", lambda c: pyconv.initializers.get("xavier"),
     ValueError, arg("initializer")),
    ("initializers.get-int", lambda c: pyconv.initializers.get(3),
     TypeError, arg("initializer")),
    ("regularizers.get-unknown-name", lambda c: pyconv.regularizers.get("l3"),
     ValueError, arg("regularizer")),
    ("regularizers.L2-negative", lambda c: pyconv.regularizers.L2(-1.0),
     ValueError, arg("l2")),
    # ---------------- layer constructors (were test_bad_arguments in test_layers.py)
    ("Conv2D-filters-negative", lambda c: L.Conv2D(-1, 3), ValueError, arg("filters")),
    ("Conv2D-filters-float", lambda c: L.Conv2D(2.5, 3), TypeError, arg("filters")),
    ("Conv2D-kernel-size-zero", lambda c: L.Conv2D(4, 0), ValueError, arg("kernel_size")),
    ("Conv2D-strides-zero-int", lambda c: L.Conv2D(4, 3, strides=0), ValueError,
     arg("strides")),
    ("Conv2D-padding-full", lambda c: L.Conv2D(4, 3, padding="full"), ValueError,
     arg("padding")),
    ("Conv2D-padding-negative", lambda c: L.Conv2D(4, 3, padding=-1), ValueError,
     arg("padding")),
    ("Conv2D-groups-not-dividing-filters", lambda c: L.Conv2D(4, 3, groups=3), ValueError,
     arg("groups")),
    ("Conv2D-padding-mode-unknown-name", lambda c: L.Conv2D(4, 3, padding_mode="mirror"),
     ValueError, arg("padding_mode")),
    ("Conv2D-activation-unknown-name", lambda c: L.Conv2D(4, 3, activation="relux"),
     ValueError, arg("activation")),
    ("Conv2D-activation-int", lambda c: L.Conv2D(4, 3, activation=42), TypeError,
     arg("activation")),
    ("Conv2D-kernel-initializer-unknown-name",
     lambda c: L.Conv2D(4, 3, kernel_initializer="glorot"), ValueError,
     arg("kernel_initializer")),
    ("Conv2D-kernel-regularizer-unknown-name",
     lambda c: L.Conv2D(4, 3, kernel_regularizer="l3"), ValueError, arg("kernel_regularizer")),
    ("Conv2D-dtype-int8", lambda c: L.Conv2D(4, 3, dtype="int8"), TypeError, arg("dtype")),
    ("Conv2D-input-shape-zero", lambda c: L.Conv2D(4, 3, input_shape=(0, 4, 4)), ValueError,
     arg("input_shape")),
    ("Conv2D-unknown-kwarg", lambda c: L.Conv2D(4, 3, bogus=1), TypeError, "bogus"),
    ("Dense-units-zero", lambda c: L.Dense(0), ValueError, arg("units")),
    ("Dense-units-str", lambda c: L.Dense("3"), TypeError, arg("units")),
    ("Dense-activation-unknown-name", lambda c: L.Dense(3, activation="foo"), ValueError,
     arg("activation")),
    ("Dropout-rate-one", lambda c: L.Dropout(1.0), ValueError, arg("rate")),
    ("Dropout-rate-str", lambda c: L.Dropout("0.5"), TypeError, arg("rate")),
    ("MaxPool2D-padding-full", lambda c: L.MaxPool2D(padding="full"), ValueError,
     arg("padding")),
    ("MaxPool2D-padding-int", lambda c: L.MaxPool2D(padding=1), TypeError, arg("padding")),
    ("AvgPool2D-pool-size-pair-zero", lambda c: L.AvgPool2D(pool_size=(2, 0)), ValueError,
     arg("pool_size")),
    ("BatchNorm-momentum-1.5", lambda c: L.BatchNormalization(momentum=1.5), ValueError,
     arg("momentum")),
    ("BatchNorm-axis-zero", lambda c: L.BatchNormalization(axis=0), ValueError, arg("axis")),
    ("ReLU-max-value-negative", lambda c: L.ReLU(max_value=-1.0), ValueError,
     arg("max_value")),
    ("Activation-unknown-name", lambda c: L.Activation("nope"), ValueError, arg("activation")),
    ("Reshape-two-unknown-axes", lambda c: L.Reshape((2, -1, -1)), ValueError,
     arg("target_shape")),
    ("Input-none", lambda c: L.Input(None), ValueError, arg("shape")),
    # ---------------- gaussian_kernel and filter2d (were in test_image.py)
    ("gaussian_kernel-size-zero-message", lambda c: I.gaussian_kernel(size=0, sigma=1.0),
     ValueError, "`size` must be a positive int"),
    ("gaussian_kernel-size-2.5", lambda c: I.gaussian_kernel(size=2.5, sigma=1.0),
     TypeError, "`size` must be an int"),
    ("gaussian_kernel-sigma-zero-message", lambda c: I.gaussian_kernel(size=3, sigma=0.0),
     ValueError, "`sigma` must be a positive number"),
    ("gaussian_kernel-sigma-word", lambda c: I.gaussian_kernel(size=3, sigma="wide"),
     TypeError, "`sigma` must be a real number"),
    ("filter2d-img-5d-message", lambda c: _filter2d(img=np.zeros((5, 5, 5, 5, 5))),
     ValueError, "`img` must be a 2-D"),
    ("filter2d-img-channels-last", lambda c: _filter2d(img=np.zeros((8, 9, 3))),
     ValueError, arg("img") + r".*img.transpose\(2, 0, 1\)"),
    ("filter2d-img-batch-channels-last", lambda c: _filter2d(img=np.zeros((2, 8, 9, 3))),
     ValueError, arg("img") + r".*img.transpose\(0, 3, 1, 2\)"),
    ("filter2d-img-complex", lambda c: _filter2d(img=np.zeros((3, 5, 5), dtype=complex)),
     TypeError, "`img` must be a real"),
    ("filter2d-kernel-1d-message", lambda c: _filter2d(kernel=np.ones(3)),
     ValueError, "`kernel` must be a non-empty 2-D"),
    ("filter2d-kernel-nan-message", lambda c: _filter2d(kernel=np.full((3, 3), np.nan)),
     ValueError, "`kernel` must be finite"),
    ("filter2d-padding-mode-mirror-message", lambda c: _filter2d(padding_mode="mirror"),
     ValueError, "`padding_mode` must be one of"),
    ("filter2d-padding-full", lambda c: _filter2d(padding="full"),
     ValueError, "`padding` must be one of"),
    ("filter2d-img-smaller-than-kernel", lambda c: _filter2d(img=np.zeros((1, 2, 2)),
                                                             padding="valid"),
     ValueError, arg("img") + ".*at least as large"),
    # ---------------- compile, fit, predict, evaluate (were in test_training.py)
    ("evaluate-uncompiled", lambda c: c.uncompiled.evaluate(XD, YD, verbose=0),
     ValueError, r"compile\(\)"),
    ("fit-y-7-of-8-rows", lambda c: _fit(c, y=YD[:7]),
     ValueError, r"`y`.*8 rows.*7 rows"),
    ("fit-x-3-of-4-features", lambda c: _fit(c, x=XD[:, :3]),
     ValueError, r"`x` must be an array of shape \(n_samples, 4\)"),
    ("predict-x-5-of-4-features", lambda c: c.model.predict(np.zeros((2, 5)), verbose=0),
     ValueError, arg("x") + r".*\(n_samples, 4\)"),
    ("fit-y-label-3-of-3-classes", lambda c: _fit(c, y=YD + 3),
     ValueError, arg("y") + r".*class labels in \[0, 3\)"),
    ("predict-x-complex", lambda c: c.model.predict(np.zeros((2, 4), dtype=complex), verbose=0),
     TypeError, arg("x")),
    ("fit-validation-y-short", lambda c: _fit(c, validation_data=(XD, YD[:3])),
     ValueError, r"`validation_data\[1\]`"),
    ("fit-sample-weight-short", lambda c: _fit(c, sample_weight=np.ones(3)),
     ValueError, arg("sample_weight")),
    ("fit-verbose-3", lambda c: _fit(c, verbose=3), ValueError, arg("verbose")),
    ("fit-validation-split-1.5", lambda c: _fit(c, validation_split=1.5),
     ValueError, arg("validation_split")),
    ("compile-optimizer-unknown-name",
     lambda c: _dense_model(False).compile(optimizer="adagrad", loss="mse"), ValueError,
     r"`optimizer` must be one of 'sgd', 'adam', 'adamw', 'nadam', 'rmsprop'"),
    ("compile-loss-unknown-name", lambda c: _dense_model(False).compile("sgd", loss="hinge"),
     ValueError, r"`loss` must be one of 'sparse_categorical_crossentropy'"),
    ("compile-metrics-unknown-name",
     lambda c: _dense_model(False).compile("sgd", "mse", metrics=["auc"]), ValueError,
     r"`metrics` must be names among 'accuracy'"),
    ("Adam-learning-rate-setter-negative",
     lambda c: _set_learning_rate(pyconv.optimizers.Adam(0.1), -1.0),
     ValueError, arg("learning_rate")),
    # ---------------- Sequential: build, add, get_layer, set_weights (were in test_models.py)
    ("Sequential-build-no-shape", lambda c: Sequential([L.Dense(3)]).build(),
     ValueError, arg("input_shape")),
    ("Sequential-build-zero", lambda c: Sequential([L.Dense(3)]).build((0, 3)),
     ValueError, arg("input_shape")),
    ("Sequential-build-again-other-shape", lambda c: _dense_model(False).build((5,)),
     ValueError, arg("input_shape") + r".*already built"),
    ("Sequential-count-params-unbuilt", lambda c: Sequential([L.Dense(3)]).count_params(),
     ValueError, "not yet been built"),
    ("Sequential-summary-unbuilt", lambda c: Sequential([L.Dense(3)]).summary(),
     ValueError, "not yet been built"),
    ("Sequential-add-duplicate-name",
     lambda c: Sequential([L.Input((4,)), L.Dense(3, name="a")]).add(L.Dense(2, name="a")),
     ValueError, arg("layer") + ".*unique name"),
    ("Sequential-add-input-not-first", lambda c: _dense_model(False).add(L.Input((3,))),
     ValueError, arg("layer") + ".*Input only as the first layer"),
    ("Sequential-add-str", lambda c: _dense_model(False).add("dense"),
     TypeError, arg("layer")),
    ("Sequential-dense-on-images", lambda c: Sequential([L.Input((1, 4, 4)), L.Dense(3)]),
     ValueError, arg("input_shape") + r".*\(features,\)"),
    ("get-layer-unknown-lists-names", lambda c: _two_dense().get_layer("nope"),
     ValueError, "`name` must be one of 'hidden', 'out'"),
    ("get-layer-neither", lambda c: _two_dense().get_layer(),
     ValueError, arg("name, index") + ".*exactly one"),
    ("set-weights-three-of-four", lambda c: _set_weights(_two_dense(), lambda w: w[:3]),
     ValueError, arg("weights") + ".*a list of 4 arrays"),
    ("set-weights-transposed-kernel",
     lambda c: _set_weights(_two_dense(), lambda w: [np.zeros((3, 4))] + w[1:]),
     ValueError, arg("weights") + r".*shape \(4, 3\)"),
    # ---------------- learning-rate schedules (were in test_schedules.py)
    ("ExponentialDecay-decay-steps-zero",
     lambda c: pyconv.optimizers.schedules.ExponentialDecay(0.1, 0, 0.5),
     ValueError, "`decay_steps` must be a positive int"),
    ("PiecewiseConstantDecay-values-count",
     lambda c: pyconv.optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
     ValueError, "`values` must be one more value"),
    ("PiecewiseConstantDecay-boundaries-decreasing",
     lambda c: pyconv.optimizers.schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]),
     ValueError, "`boundaries` must be strictly increasing"),
    ("schedules.deserialize-foreign-class", lambda c: pyconv.optimizers.schedules.deserialize(
        {"class_name": "os.system", "config": {}}),
     ValueError, "`config` must be"),
    ("LearningRateScheduler-float", lambda c: pyconv.callbacks.LearningRateScheduler(0.1),
     TypeError, "`schedule` must be a function"),
    ("fit-LearningRateScheduler-returns-str", lambda c: _dense_model().fit(
        XD, YD, verbose=0, callbacks=[
            pyconv.callbacks.LearningRateScheduler(lambda epoch, lr: "fast")]),
     ValueError, "`schedule` must be a function returning a float"),
    # ---------------- callbacks (were in test_callbacks.py)
    ("CallbackList-function", lambda c: pyconv.callbacks.CallbackList([lambda: None]),
     TypeError, arg("callbacks")),
    ("ReduceLROnPlateau-factor-one", lambda c: pyconv.callbacks.ReduceLROnPlateau(factor=1.0),
     ValueError, arg("factor")),
    ("LambdaCallback-unknown-hook", lambda c: pyconv.callbacks.LambdaCallback(on_nothing=print),
     ValueError, "`LambdaCallback hook`.*'on_nothing'"),
    # ---------------- batch sources (were in test_data.py)
    *_non_array_rows(),
    ("fit-generator-with-y", lambda c: c.conv_model.fit(_conv_batches(), _CONV_Y, verbose=0),
     ValueError, "`y` must be None"),
    ("fit-generator-with-batch-size",
     lambda c: c.conv_model.fit(_conv_batches(), batch_size=4, verbose=0),
     ValueError, "`batch_size` must be None"),
    ("fit-PyDataset-with-validation-split",
     lambda c: c.conv_model.fit(_conv_dataset(), validation_split=0.2, verbose=0),
     ValueError, "`validation_split` must be 0"),
    # ---------------- image (were in test_image.py)
    ("gaussian_blur-kernel-unknown-name",
     lambda c: I.gaussian_blur(np.zeros((2, 9, 9)), kernel="box"),
     ValueError, "`kernel` must be one of 'lecture'"),
    ("sobel_magnitude-gray-two-channels",
     lambda c: I.sobel_magnitude(np.zeros((2, 6, 6)), gray=True),
     ValueError, arg("img") + ".*3 channels when gray=True"),
    ("from_bgr-channels-last", lambda c: I.from_bgr(np.zeros((5, 6, 3), np.uint8)),
     ValueError, arg("img") + r".*img.transpose\(2, 0, 1\)"),
    ("from_bgr-channels-last-alpha", lambda c: I.from_bgr(np.zeros((5, 6, 4), np.uint8)),
     ValueError, arg("img") + r".*img.transpose\(2, 0, 1\)"),
    ("from_bgr-batch-channels-last", lambda c: I.from_bgr(np.zeros((2, 5, 6, 3), np.uint8)),
     ValueError, arg("img") + r".*img.transpose\(0, 3, 1, 2\)"),
    ("from_bgr-two-channels", lambda c: I.from_bgr(np.zeros((2, 5, 6), np.uint8)),
     ValueError, arg("img") + r".*3 \(or 4, with alpha\) channels"),
    # ---------------- FilterBankTransformer (were in test_transformers.py)
    ("FilterBank-filters-unknown-name", lambda c: _fb(filters="gabor").fit(np.zeros((2, 16))),
     ValueError, "`filters` must be one of 'default'"),
    ("FilterBank-filters-empty-list", lambda c: _fb(filters=[]).fit(np.zeros((2, 16))),
     ValueError, "`filters` must be 'default'"),
    ("FilterBank-filters-4d", lambda c: _fb(filters=np.ones((2, 2, 2, 2))).fit(
        np.zeros((2, 16))), ValueError, "`filters` must be"),
    ("FilterBank-filters-1d-kernel", lambda c: _fb(filters=[np.ones(3)]).fit(np.zeros((2, 16))),
     ValueError, arg("filters") + ".*every kernel non-empty and 2-D"),
    ("FilterBank-filters-inf", lambda c: _fb(filters=[np.full((3, 3), np.inf)]).fit(
        np.zeros((2, 16))), ValueError, arg("filters") + ".*finite kernels"),
    ("FilterBank-filters-int", lambda c: _fb(filters=3).fit(np.zeros((2, 16))),
     TypeError, "`filters` must be"),
    ("FilterBank-pooling-unknown-name", lambda c: _fb(pooling="median").fit(np.zeros((2, 16))),
     ValueError, "`pooling` must be one of"),
    ("FilterBank-pool-size-zero", lambda c: _fb(pool_size=0).fit(np.zeros((2, 16))),
     ValueError, "`pool_size` must be a positive int"),
    ("FilterBank-nonlinearity-unknown-name",
     lambda c: _fb(nonlinearity="tanh").fit(np.zeros((2, 16))),
     ValueError, "`nonlinearity` must be one of"),
    ("FilterBank-padding-mode-unknown-name",
     lambda c: _fb(padding_mode="mirror").fit(np.zeros((2, 16))),
     ValueError, "`padding_mode` must be one of"),
    ("FilterBank-input-shape-wrong-size",
     lambda c: _fb(input_shape=(2, 3, 3)).fit(np.zeros((2, 16))),
     ValueError, arg("input_shape") + r".*C\*H\*W == 16"),
    ("FilterBank-input-shape-zero", lambda c: _fb(input_shape=(0, 4, 4)).fit(np.zeros((2, 16))),
     ValueError, "`input_shape` must be None or"),
    ("FilterBank-input-shape-not-X",
     lambda c: _fb(input_shape=(1, 4, 4)).fit(np.zeros((2, 1, 2, 8))),
     ValueError, arg("input_shape") + ".*image shape of X"),
    ("FilterBank-transform-image-shape",
     lambda c: _fitted_fb(np.zeros((2, 1, 4, 6))).transform(np.zeros((2, 1, 6, 4))),
     ValueError, arg("X") + ".*images of shape"),
    ("FilterBank-transform-feature-count",
     lambda c: _fitted_fb(np.zeros((2, 1, 4, 6))).transform(np.zeros((2, 16))),
     ValueError, "X has 16 features.*24 features"),
    ("FilterBank-feature-names-out-count",
     lambda c: _fitted_fb(np.zeros((3, 2, 4, 4)), pooling="avg").get_feature_names_out(
         ["a", "b"]),
     ValueError, arg("input_features")),
    # ---------------- image_dataset_from_directory, needs Pillow (were in test_image_dataset.py)
    ("image_dataset_from_directory-missing-folder",
     lambda c: _image_dataset(c, folder=c.tmp / "missing"),
     ValueError, "`directory` must be an existing folder"),
    ("image_dataset_from_directory-no-images", lambda c: _image_dataset(c, _empty_folder(c)),
     ValueError, "`directory` must be a folder holding images"),
    ("image_dataset_from_directory-split-without-seed",
     lambda c: _image_dataset(c, validation_split=0.2, subset="training"),
     ValueError, "`seed` must be an int"),
    ("image_dataset_from_directory-binary-three-classes",
     lambda c: _image_dataset(c, label_mode="binary"),
     ValueError, "`label_mode` must be 'binary' only with exactly 2"),
    ("image_dataset_from_directory-class-names",
     lambda c: _image_dataset(c, class_names=["a", "b", "c"]),
     ValueError, "`class_names` must be the sub-folders"),
    ("image_dataset_from_directory-color-mode", lambda c: _image_dataset(c, color_mode="cmyk"),
     ValueError, "`color_mode` must be one of"),
    # ---------------- ONNX export, needs onnx (were in test_export_onnx.py)
    ("export-format-unknown",
     lambda c: _dense_3_to_2().export(c.tmp / "m.onnx", format="tf_saved_model"),
     ValueError, arg("format")),
    ("export-opset-11", lambda c: _dense_3_to_2().export(c.tmp / "m.onnx", opset=11),
     ValueError, arg("opset")),
    ("export-circular-opset-18", lambda c: _circular_conv().export(c.tmp / "c.onnx", opset=18),
     ValueError, arg("opset")),
    ("export_onnx-unbuilt",
     lambda c: pyconv.export_onnx(Sequential([L.Dense(2)]), c.tmp / "m.onnx"),
     ValueError, arg("model") + ".*built"),
    # ---------------- to_categorical (were in test_keras_extras.py)
    ("to_categorical-label-over-num-classes",
     lambda c: pyconv.utils.to_categorical([0, 2], num_classes=2),
     ValueError, r"`x` must be labels in \[0, 1\]"),
    ("to_categorical-float-labels", lambda c: pyconv.utils.to_categorical([0.5]),
     TypeError, "`x` must be integer class labels"),
    # ---------------- graph models (were in test_graph.py)
    ("Model-fit-one-of-two-inputs", lambda c: _two_input_model().fit(
        [np.zeros((4, 1, 6, 6))], _TWO_TARGETS, verbose=0),
     ValueError, r"`x`"),
    ("Model-fit-second-input-short", lambda c: _two_input_model().fit(
        [np.zeros((4, 1, 6, 6)), np.zeros((3, 2))], _TWO_TARGETS, verbose=0),
     ValueError, r"`x\[1\]`"),
    ("Dense-shared-other-input-shape", lambda c: _dense_called_on_3()(pyconv.Input((4,))),
     ValueError, arg("x") + ".*shares its weights"),
    # ---------------- numbers at the edge (were in test_numeric_limits.py)
    *_overflow_rows(),
    ("fit-regression-y-overflows-float32", lambda c: _dense_regressor().fit(
        np.zeros((16, 4)), _overflowing_targets(), verbose=0),
     ValueError, "`y` must be values within float32's range"),
    *_class_weight_rows(),
    # ---------------- data_format (were in test_data_format.py)
    ("set_image_data_format-NHWC", lambda c: _set_image_data_format("NHWC"),
     ValueError, arg("data_format")),
    ("Conv2D-data-format-int", lambda c: L.Conv2D(2, 3, data_format=1),
     TypeError, arg("data_format")),
    ("MaxPool2D-data-format-unknown", lambda c: L.MaxPool2D(data_format="channels_middle"),
     ValueError, arg("data_format")),
    ("Sequential-data-format-changes-between-layers", lambda c: Sequential([
        L.Input((8, 8, 3)), L.Conv2D(2, 3, data_format="channels_last"),
        L.Conv2D(2, 3, data_format="channels_first")]),
     ValueError, r"`layer '[^']+'` must be the data format of the layers before it.*data_format"),
    ("export_onnx-channels-last", lambda c: pyconv.export_onnx(Sequential([
        L.Conv2D(2, 3, data_format="channels_last", input_shape=(6, 6, 1))]),
        c.tmp / "nhwc.onnx"),
     ValueError, arg("model") + ".*channels_last"),
    # ---------------- plotting, needs matplotlib (were in test_plotting.py)
    ("plot_history-list", lambda c: _plotting().plot_history([1, 2, 3]),
     TypeError, "`history` must be a History"),
    ("plot_history-empty-dict", lambda c: _plotting().plot_history({}),
     TypeError, "`history` must be"),
    ("plot_filters-2d", lambda c: _plotting().plot_filters(np.zeros((3, 3))),
     ValueError, "`layer_or_weights` must be a Conv2D layer"),
    ("plot_filters-complex", lambda c: _plotting().plot_filters(
        np.zeros((2, 2, 2, 2), dtype=complex)),
     ValueError, "`layer_or_weights` must be a Conv2D layer"),
    ("plot_feature_maps-unknown-name", lambda c: _plotting().plot_feature_maps(
        _FEATURE_MODEL, _FEATURE_IMAGE, "conv"),
     ValueError, "`layer` must be the name of one"),
    ("plot_feature_maps-index", lambda c: _plotting().plot_feature_maps(
        _FEATURE_MODEL, _FEATURE_IMAGE, 5),
     ValueError, "`layer` must be an index"),
    ("plot_feature_maps-flat-layer", lambda c: _plotting().plot_feature_maps(
        _FEATURE_MODEL, _FEATURE_IMAGE, "flat"),
     ValueError, arg("layer") + ".*image output"),
    ("plot_feature_maps-batch-of-two", lambda c: _plotting().plot_feature_maps(
        _FEATURE_MODEL, np.zeros((2, 1, 4, 4)), 0),
     ValueError, "`x` must be one image"),
    ("plot_feature_maps-model-object", lambda c: _plotting().plot_feature_maps(
        object(), _FEATURE_IMAGE, 0),
     TypeError, "`model` must be"),
    ("show_images-channels-last", lambda c: _plotting().show_images(np.zeros((8, 9, 3))),
     ValueError, arg("images") + r".*(img.transpose\(2, 0, 1\)|transpose)"),
    ("show_images-grayscale-stack", lambda c: _plotting().show_images(np.zeros((2, 8, 9))),
     ValueError, arg("images") + r".*images\[:, None\]"),
    ("show_images-titles-count", lambda c: _plotting().show_images(
        [np.zeros((4, 4))], titles=["a", "b"]),
     ValueError, "`titles` must be a list of 1"),
    ("show_images-empty", lambda c: _plotting().show_images([]),
     ValueError, arg("images") + ".*at least one image"),
    ("show_images-str", lambda c: _plotting().show_images([np.array([["a"]])]),
     TypeError, arg("images") + ".*real-valued"),
]

ALL_ROWS = ROWS + MODULE_ROWS + (ESTIMATOR_ROWS if HAVE_ESTIMATORS else [])

# Rows that reveal bugs in code outside this test's ownership, reported to
# the lead. strict=True: once the bug is fixed the row XPASSes, fails, and
# the entry must be removed here.
KNOWN_BUGS = {}


# Rows whose label starts with a key need that optional package; they skip
# without it (its absence is not a bad input).
OPTIONAL_PACKAGES = {"load_image": "PIL", "image_dataset_from_directory": "PIL",
                     "plot_": "matplotlib", "show_images": "matplotlib", "export": "onnx"}


def _marks(label):
    if label in KNOWN_BUGS:
        return [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[label])]
    for prefix, module in OPTIONAL_PACKAGES.items():
        if label.startswith(prefix) and importlib.util.find_spec(module) is None:
            return [pytest.mark.skip(reason=f"needs the optional package {module}")]
    return []


def _params(rows):
    return [pytest.param(*r[1:], id=r[0], marks=_marks(r[0])) for r in rows]


@pytest.mark.parametrize("call, exc, pattern", _params(ALL_ROWS))
def test_bad_input_row(ctx, call, exc, pattern):
    with pytest.raises(Exception) as info:
        call(ctx)
    assert type(info.value) is exc, (
        f"raised {type(info.value).__name__}: {info.value} (expected {exc.__name__})")
    assert re.search(pattern, str(info.value)), (
        f"message {str(info.value)!r} does not name {pattern!r}")


# ----------------------------------------------------- rows run in a child
_PRELUDE = textwrap.dedent("""
    import numpy as np, pyconv
    from pyconv import functional as F, layers as L
    from pyconv.models import Sequential
    X = np.zeros((2, 3, 6, 6), dtype=np.float32)
    W = np.zeros((4, 3, 3, 3), dtype=np.float32)
""")

# (label, code, exception type name, regex naming the argument)
SUBPROCESS_ROWS = [
    # Extreme hyper-parameters: a C overflow here would corrupt memory.
    ("conv-stride-2-to-63", "F.conv2d(X, W, stride=2**63)", "ValueError", arg("stride")),
    ("conv-dilation-2-to-63-1x1", "F.conv2d(X, W[:, :, :1, :1], dilation=2**63)",
     "ValueError", arg("dilation")),
    ("conv-dilation-2-to-62", "F.conv2d(X, W, dilation=2**62)", "ValueError",
     arg("x", "dilation")),
    ("conv-padding-2-to-62", "F.conv2d(X, W, padding=2**62)", "ValueError", arg("padding")),
    ("conv-padding-2-to-40-reflect", "F.conv2d(X, W, padding=2**40, padding_mode='reflect')",
     "ValueError", arg("padding")),
    ("conv-backward-stride-2-to-64", "F.conv2d_backward(np.zeros((2, 4, 1, 1)), X, W, "
     "stride=2**64)", "ValueError", arg("stride")),
    ("maxp-padding-2-to-62", "F.max_pool2d(X, 2, padding=2**62)", "ValueError",
     arg("padding")),
    ("maxp-stride-2-to-63", "F.max_pool2d(X, 2, stride=2**63)", "ValueError", arg("stride")),
    ("avgp-divisor-2-to-63", "F.avg_pool2d(X, 2, divisor_override=2**63)", "ValueError",
     arg("divisor_override")),
    # Shapes whose element count overflows 32 or 64 bits.
    ("conv-batch-2-to-40-broadcast", "F.conv2d(np.broadcast_to(X[:1], (2**40, 3, 6, 6)), W)",
     "MemoryError", "."),
    ("conv-huge-weight-broadcast",
     "F.conv2d(X, np.broadcast_to(W[:1], (2**31, 3, 3, 3)))", "MemoryError", "."),
    # Extreme but valid input: must succeed, not crash ("nothing" raised).
    ("maxp-negative-strided-zero-batch",
     "y = F.max_pool2d(np.zeros((0, 3, 6, 6))[:, :, ::-1, ::-1], 2); assert y.shape == (0, 3, 3, 3)",
     "nothing", ""),
    ("conv-stride-2-to-62",
     "F.conv2d(np.ones((1, 3, 6, 6)), np.ones((1, 3, 3, 3)), stride=2**62)",
     "ValueError", arg("stride")),
    # (With kernel width 2**31 - 1 this takes ~26 s: the kernels visit every
    # tap, even the ones that can never land inside the input. Reported.)
    ("maxp-kernel-2-to-20-valid",
     "y = F.max_pool2d(np.arange(36.).reshape(1, 1, 6, 6), (1, 2**20 + 1), stride=1,"
     " padding=(0, 2**19)); assert y.shape == (1, 1, 6, 6)"
     " and (y[0, 0, :, 0] == [5, 11, 17, 23, 29, 35]).all()", "nothing", ""),
    # Absurd layer and batch sizes.
    ("Conv2D-filters-2-to-40-build", "L.Conv2D(2**40, 3).build((3, 8, 8))", "ValueError",
     arg("filters")),
    ("Conv2D-filters-2-to-30-build", "L.Conv2D(2**30, 3).build((2**16, 8, 8))", "MemoryError",
     "."),
    ("Dense-units-2-to-62-build", "L.Dense(2**62).build((4,))", "ValueError", arg("units")),
    ("fit-batch-size-2-to-62-valid",
     "m = Sequential([L.Input((4,)), L.Dense(2)]); m.compile('sgd', 'mse');"
     "h = m.fit(np.ones((4, 4)), np.ones((4, 2)), batch_size=2**62, verbose=0);"
     "assert len(h.history['loss']) == 1", "nothing", ""),
    # issue 18: a 6 GiB workspace from padding and dilation, 1024 OpenMP threads
    # under an address-space limit, a class weight for label 10**9.
    ("conv-1x1-dilation-20000-padding-20000",
     "F.conv2d(np.ones((1, 1, 1, 1), np.float32), np.ones((1, 1, 3, 3), np.float32),"
     " dilation=20000, padding=20000)", "ValueError", arg("padding", "dilation")),
    ("set_num_threads-1024-limited",
     "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30));"
     "pyconv.set_num_threads(1024); F.conv2d(np.ones((8, 3, 64, 64)), W)",
     "ValueError", arg("n")),
    ("fit-class-weight-label-10-to-9",
     "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30));"
     "m = Sequential([L.Input((4,)), L.Dense(2)]); m.compile('sgd', "
     "'sparse_categorical_crossentropy'); m.fit(np.zeros((4, 4)), np.array([0, 1, 0, 1]),"
     " class_weight={10**9: 1.0}, verbose=0)", "nothing", ""),
    ("predict-batch-2-to-40",
     "m = Sequential([L.Input((4,)), L.Dense(2)]);"
     "m.predict(np.broadcast_to(np.ones((1, 4), np.float32), (2**40, 4)), verbose=0)",
     "MemoryError", "."),
]

_CHILD = textwrap.dedent("""
    import sys, traceback
    {prelude}
    try:
        exec({code!r})
    except BaseException as exc:
        print("RAISED", type(exc).__name__, str(exc)[:2000].replace("\\n", " "))
    else:
        print("RAISED nothing")
    sys.stdout.flush()
""")


@pytest.mark.parametrize("code, exc_name, pattern", _params(SUBPROCESS_ROWS))
def test_bad_input_row_in_child(code, exc_name, pattern):
    child_code = _CHILD.format(prelude=_PRELUDE, code=code)
    result = run_python(child_code, env={"OMP_NUM_THREADS": 1})
    assert result.returncode == 0, (
        f"child died with return code {result.returncode} (signal if negative)\n"
        f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}")
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("RAISED")][-1]
    _, got_name, *message = line.split(" ", 2)
    message = message[0] if message else ""
    assert got_name == exc_name, f"raised {got_name}: {message} (expected {exc_name})"
    if exc_name != "nothing":
        assert re.search(pattern, message), f"message {message!r} does not name {pattern!r}"


def test_table_size_and_coverage():
    """At least 100 rows of its own, touching every public entry point."""
    error_rows = [r for r in SUBPROCESS_ROWS if r[2] != "nothing"]
    assert len(ALL_ROWS) + len(error_rows) >= 100
    labels = " ".join(r[0] for r in ALL_ROWS + SUBPROCESS_ROWS)
    for entry in ("conv-", "convb-", "maxp-", "maxpb-", "avgp-", "avgpb-", "Conv2D", "Dense",
                  "compile", "fit-", "predict-", "evaluate-", "to_float", "filter2d",
                  "load_model", "FilterBank"):
        assert entry in labels, entry
    assert len({r[0] for r in ALL_ROWS + SUBPROCESS_ROWS}) == len(ALL_ROWS) + len(
        SUBPROCESS_ROWS), "labels must be unique"


# ------------------------------------------- what a failed call leaves behind
def test_table_covers_every_function():
    assert {call[0] for _, call, _, _ in FUNCTIONAL_CASES} == {
        "conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
        "avg_pool2d_backward"}


@pytest.mark.parametrize("call, exc, names", [c[1:] for c in FUNCTIONAL_CASES], ids=[c[0] for c in FUNCTIONAL_CASES])
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
