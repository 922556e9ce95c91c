"""Channels-last data on channels-first kernels: where a model transposes.

Every layer computes on NCHW arrays. An image layer with
``data_format="channels_last"`` speaks NHWC to its user (shapes, configs,
eager calls) but is handed NCHW arrays inside a model; its image outputs
are NCHW arrays standing for NHWC tensors ("stored NCHW"). A model follows
each tensor's storage and transposes only where a consumer needs the other
one: at its inputs (NHWC arrays from the user) and outputs (NHWC arrays
back), and nowhere in between when the layers agree.

How a layer treats its inputs is its ``_layout``:

``"image"``
    An image layer: rank-3 inputs stored NCHW when it is channels_last,
    plain (logical order) when channels_first.
``"follow"``
    Shape-preserving or axis-aware layers (activations, dropout, merges,
    normalisation): inputs stay as they are stored (all alike for a
    merge); an axis argument is mapped to the stored order
    (`Layer._stored_axis`).
``"plain"``
    Every other layer (and custom layers): inputs in logical order.
"""
import numpy as np

__all__ = ["to_nchw_shape", "to_nhwc_shape", "to_nchw", "to_nhwc", "plan_call"]

# sample axis of an NHWC tensor -> its axis in the NCHW array storing it
NHWC_TO_STORED = (1, 2, 0)


def to_nchw_shape(shape):
    h, w, c = shape
    return (c, h, w)


def to_nhwc_shape(shape):
    c, h, w = shape
    return (h, w, c)


def to_nchw(x):
    """An NHWC batch as a C-contiguous NCHW array."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_nhwc(x):
    """An NCHW batch as a C-contiguous NHWC array."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def convert(x, stored):
    """``x`` (a batch) moved to NCHW storage (``stored``) or back to NHWC."""
    return to_nchw(x) if stored else to_nhwc(x)


def plan_call(layer, inputs):
    """How ``layer`` is called on ``inputs``, a list of ``(logical shape,
    stored)`` pairs (``stored``: the tensor is NHWC held as NCHW).

    Returns ``(wants, shapes, stored)``: per input the storage the layer
    needs and the shape of the array it gets, and whether its rank-3 output
    is stored NCHW (see `output_of`). Sets ``layer._nchw_storage`` for
    "follow" layers (refusing a shared layer that would need two storages).
    """
    from ._validation import fail

    rule = getattr(layer, "_layout", "plain")
    ranks3 = [len(shape) == 3 for shape, _ in inputs]
    if rule == "image":
        stored = layer.data_format == "channels_last"
        wants = [stored and r for r in ranks3]
    elif rule == "follow":
        stored = any(s for _, s in inputs) and all(ranks3)
        wants = [stored] * len(inputs)
        previous = layer.__dict__.get("_nchw_storage")
        if previous is not None and previous != stored and layer.__dict__.get("_graph_calls"):
            fail(ValueError, "x", f"inputs stored alike on every call of layer {layer.name!r} "
                 "(it is called on channels_last and channels_first tensors)",
                 "both storages")
        layer._nchw_storage = stored
    else:
        stored = False
        wants = [False] * len(inputs)
    shapes = [to_nchw_shape(shape) if want else tuple(shape)
              for (shape, _), want in zip(inputs, wants)]
    return wants, shapes, stored


def output_of(stored, shape):
    """The logical shape and storage of a layer's output of NCHW-side ``shape``."""
    stored = stored and len(shape) == 3
    return (to_nhwc_shape(shape) if stored else tuple(shape)), stored
