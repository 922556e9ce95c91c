"""Which convolution algorithm runs, and each algorithm's three passes.

`select` is the one place that decides, for a convolution's geometry and a
direction (`FORWARD`, `INPUT_GRAD`, `WEIGHT_GRAD`), which algorithm runs and
the per-thread workspace it needs. The algorithms follow, each with its
forward, input-gradient and weight-gradient runners side by side, under the
name of its kernel file in ``_kernels/`` -- one grep of the name finds the
rule, the runners and the kernels:

==============  ===========================================================
``im2col_gemm``  the general algorithm: any stride, padding, dilation, groups
``winograd``     3x3 stride-1 undilated dense float32 layers, >= 16 channels,
                 outputs >= 6x6
``phase``        dilated stride-1 layers whose phases run on Winograd
``direct``       stride-1 dense float32 layers with few output channels
                 (``direct_c16``: 16 or 32 of them, ``direct_c8``: <= 8)
``depthwise``    one input channel per group
==============  ===========================================================

`conv2d_forward` and `conv2d_backward` are the unchecked entry points (the
checked ones are in `functional`). No rule depends on the thread count: an
algorithm fixes the rounding, so results are identical for any thread count.
"""
import functools
import math
import threading
from typing import NamedTuple

import numpy as np

from . import _dispatch
from ._shapes import NUMPY_PAD_MODE, conv_output_size
from ._threads import blas_single_threaded, effective_n_threads

__all__ = ["FORWARD", "INPUT_GRAD", "WEIGHT_GRAD", "Conv", "Plan", "select",
           "bind_forward", "conv2d_forward", "conv2d_backward", "conv2d_backward_input"]

FORWARD, INPUT_GRAD, WEIGHT_GRAD = "forward", "input_grad", "weight_grad"

# --------------------------------------------------------------------------
# Scratch memory, reused across calls (one set per Python thread): fresh
# multi-MB buffers cost page faults on every call. Buffers above
# _SCRATCH_KEEP_BYTES are not kept, so one huge (say dilated) convolution
# does not pin hundreds of MB for the thread's lifetime. A workspace whose
# size comes from padding and dilation rather than from the caller's arrays
# (all but the _DATA_SIZED ones) is refused above _MAX_WORKSPACE_BYTES: a 1x1
# input with dilation and padding 20000 would ask for a 6 GiB padded plane.
# --------------------------------------------------------------------------
_scratch = threading.local()
_SCRATCH_KEEP_BYTES = 64 * 1024 * 1024
_MAX_WORKSPACE_BYTES = 2 * 1024**3
_DATA_SIZED = frozenset({"phase_out", "phase_grad_in"})


def _workspace(key, shape, dtype):
    """An uninitialised scratch array of ``shape`` for this thread (reused when small)."""
    cache = getattr(_scratch, "buffers", None)
    if cache is None:
        cache = _scratch.buffers = {}
    size = math.prod(shape)
    dtype = np.dtype(dtype)
    nbytes = size * dtype.itemsize
    if nbytes > _MAX_WORKSPACE_BYTES and key not in _DATA_SIZED:
        raise ValueError(f"This call needs {nbytes / 1024**3:.1f} GiB of scratch memory for "
                         "its input size, `padding` and `dilation`, more than the "
                         f"{_MAX_WORKSPACE_BYTES // 1024**3} GiB pyconv allows; use a smaller "
                         "padding or dilation, or split the input.")
    buf = cache.get((key, dtype))
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        if nbytes <= _SCRATCH_KEEP_BYTES:
            cache[(key, dtype)] = buf
    return buf[:size].reshape(shape)


# The kernels take a bias array even when told there is none (has_bias
# False): this read-only element, never read.
_NO_BIAS = {}


def _no_bias(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _NO_BIAS:
        bias = np.zeros(1, dtype=dtype)
        bias.flags.writeable = False
        _NO_BIAS[dtype] = bias
    return _NO_BIAS[dtype]


# --------------------------------------------------------------------------
# The geometry a choice depends on, and the choice
# --------------------------------------------------------------------------
class Conv(NamedTuple):
    """A convolution after mode padding (``padding`` is zeros)."""

    x_shape: tuple        # (N, C_in, H, W)
    weight_shape: tuple   # (C_out, C_in / groups, kh, kw)
    out_hw: tuple         # (H_out, W_out)
    dtype: np.dtype
    stride: tuple
    padding: tuple        # ((top, bottom), (left, right))
    dilation: tuple
    groups: int

    @property
    def k(self):
        """Weights per output: C_in / groups * kh * kw."""
        return math.prod(self.weight_shape[1:])

    @property
    def is_depthwise(self):
        return self.weight_shape[1] == 1 and self.groups == self.x_shape[1] and self.groups > 1


class Plan(NamedTuple):
    """What `select` decided: the algorithm, its variant (or None), the
    per-thread workspace in elements (0 for none) and the algorithm's
    blocking (``tile``, ``rb``, ``ni``, ... by name)."""

    algorithm: str
    variant: object
    workspace: int
    blocking: dict


def select(direction, conv, n_threads):
    """The algorithm, variant and workspace for ``conv`` in ``direction``.

    The rules, in order (each explained beside its algorithm below):
    depthwise layers run on `depthwise`; `_use_winograd` layers on
    `winograd`; `_use_phases` layers on `phase`; then `_use_direct_c16` and
    `_use_direct_c8` (forward, and the weight gradient where it pays) on
    `direct`; everything else on `im2col_gemm`.
    """
    kernels = _dispatch.kernels("conv")
    if conv.is_depthwise:
        return _depthwise_plan(direction, conv, n_threads)
    if _use_winograd(conv.dtype, conv.weight_shape, conv.stride, conv.dilation, conv.groups,
                     conv.out_hw):
        return _winograd_plan(direction, conv, n_threads)
    if _use_phases(conv):
        return Plan("phase", None, 0, {})
    if direction == FORWARD and _use_direct_c16(kernels, conv):
        return _direct_plan("direct_c16", direction, conv)
    if direction == FORWARD and _use_direct_c8(kernels, conv):
        return _direct_plan("direct_c8", direction, conv)
    if (direction == WEIGHT_GRAD and _use_direct_c16(kernels, conv)
            and conv.k >= _DIRECT_C16_WGRAD_MIN_K):
        return _direct_plan("direct_c16", direction, conv)
    if (direction == WEIGHT_GRAD and _use_direct_c8(kernels, conv)
            and conv.weight_shape[3] <= 5 and conv.dilation == (1, 1)):
        return _direct_plan("direct_c8", direction, conv)
    return _im2col_gemm_plan(direction, conv, n_threads)


# --------------------------------------------------------------------------
# Weight-gradient partials: one buffer per chunk of the batch
# --------------------------------------------------------------------------
# Cap on the memory of per-chunk weight-gradient partials.
_PARTIALS_BYTES = 32 * 1024 * 1024
_MAX_CHUNKS = 16


def _chunking(batch, partial_size, itemsize, images=1):
    """``(n_chunks, images per chunk)`` of the partial weight-gradient
    buffers, a chunk a multiple of ``images`` (the images of a tile): depends
    on the problem only, never on the thread count, so results are
    identical for any thread count."""
    by_memory = max(1, _PARTIALS_BYTES // max(1, partial_size * itemsize))
    chunks = max(1, min(-(-batch // images), _MAX_CHUNKS, by_memory))
    chunk = images * -(-batch // (chunks * images))
    return -(-batch // chunk), chunk


def _partials(conv, partial_size, images=1):
    """Zero-free scratch for the per-chunk weight and bias partials, and
    the images per chunk (a multiple of ``images``)."""
    n, c_out = conv.x_shape[0], conv.weight_shape[0]
    chunks, chunk = _chunking(n, partial_size, np.dtype(conv.dtype).itemsize, images)
    part_w = _workspace("grad_w_partial", (chunks, partial_size), conv.dtype)
    part_b = _workspace("grad_b_partial", (chunks, c_out), conv.dtype)
    return part_w, part_b, chunk


def _reduce(kernels, part_w, part_b, grad_weight, grad_bias, n_threads):
    """Sum the partials in chunk order into ``grad_weight`` (``part_w`` None:
    done by the caller) and ``grad_bias`` (None: not needed)."""
    if part_w is not None:
        kernels.reduce_partials(part_w, grad_weight.reshape(-1), n_threads)
    if grad_bias is not None:
        kernels.reduce_partials(part_b, grad_bias, n_threads)


# --------------------------------------------------------------------------
# im2col + GEMM (_kernels/im2col_gemm.pxi)
# --------------------------------------------------------------------------
# Bytes of one im2col tile (measured: 1 MiB beats L2-sized tiles, which make
# the GEMM too thin to reach its speed).
_TILE_BYTES = 1024 * 1024
# Largest im2col-size ratio (flipped forward / col2im) at which the stride-1
# input gradient runs as a forward convolution (measured: 1.5).
_FLIP_MAX_COST = 1.5
# Fewest output positions of a tile, and the width of a tile of several
# small images (see _images_per_tile).
_MIN_TILE = 64
_IMAGES_TILE = 256


def _tile_size(k, positions, batch, n_threads, itemsize, row=None):
    """Output positions per im2col tile: the tile fits ``_TILE_BYTES`` but
    keeps at least 64 columns for an efficient GEMM, and there are enough
    tiles to occupy every thread.

    With ``row`` (the output width), the tile is a whole number of output
    rows when one row fits (the kernel's faster im2col path), and the tiles
    of an image are balanced (no thin remainder tile).
    """
    tile = max(_MIN_TILE, _TILE_BYTES // max(1, k * itemsize))
    tile = min(tile, positions)
    while batch * -(-positions // tile) < n_threads and tile > _MIN_TILE:
        tile = max(_MIN_TILE, tile // 2)
    if row is not None and row <= tile:
        rows = positions // row
        n_tiles = -(-rows // max(1, tile // row))
        tile = row * -(-rows // n_tiles)
    return tile


def _images_per_tile(positions, batch):
    """Whole images per tile for images of fewer than ``_MIN_TILE`` output
    positions (1 otherwise): their products side by side make one GEMM
    about ``_IMAGES_TILE`` columns wide instead of one too thin to run fast
    (measured on the digits CNN's 4x4 layer, 32 -> 64 channels, 32 images,
    1 thread: forward 0.42 -> 0.37 ms, weight gradient 0.48 -> 0.40 ms).
    Never depends on the thread count: the GEMM's shape can decide its
    rounding (BLAS picks kernels by size)."""
    if positions >= _MIN_TILE:
        return 1
    return max(1, min(batch, _IMAGES_TILE // positions))


def _im2col_gemm_plan(direction, conv, n_threads):
    """Tiles of output positions; the stride-1 input gradient runs as the
    forward convolution of grad_output with the flipped weights (variant
    ``"flipped"``: no col2im scatter, tiles rather than whole images are the
    unit of parallel work) when its im2col is at most ``_FLIP_MAX_COST``
    times col2im's, else as col2im (variant ``"col2im"``).

    Small images are tiled several at a time (``tile`` a multiple of the
    image's positions, see `_images_per_tile`); the kernels then also need
    a buffer for the GEMM's other operand or result (``rows`` x ``tile``)
    and room for one image's zero-padded planes. The weight gradient's
    tiles never depend on the thread count: they fix the order of its sums
    (its parallel unit is a chunk of images)."""
    n, c_in, h, w = conv.x_shape
    c_out, c_per_group, kh, kw = conv.weight_shape
    (ho, wo), itemsize = conv.out_hw, np.dtype(conv.dtype).itemsize
    rows, k, positions, row = c_out // conv.groups, conv.k, ho * wo, wo
    variant, blocking, stride = None, {}, conv.stride
    if direction == WEIGHT_GRAD:
        n_threads = 1
    elif direction == INPUT_GRAD:
        (top, _), (left, _) = conv.padding
        flip_top = conv.dilation[0] * (kh - 1) - top
        flip_left = conv.dilation[1] * (kw - 1) - left
        # The flipped forward's im2col is C_out/C_in * (H*W)/(Ho*Wo) times
        # the size of col2im's, so it pays only when that ratio is small.
        flip_cost = (c_out * h * w) / (c_per_group * conv.groups * ho * wo)
        if (conv.stride == (1, 1) and min(flip_top, flip_left) >= 0
                and flip_cost <= _FLIP_MAX_COST):
            variant, blocking = "flipped", {"top": flip_top, "left": flip_left}
            rows, k, positions, row = c_per_group, (c_out // conv.groups) * kh * kw, h * w, w
            stride, (ho, wo) = (1, 1), (h, w)
        else:
            variant = "col2im"
    images = _images_per_tile(positions, n)
    if images > 1:
        # the column matrix, the buffer and one image's zero-padded planes
        (sh, sw), (dh, dw) = stride, conv.dilation
        padded = (k // (kh * kw) * ((ho - 1) * sh + (kh - 1) * dh + 1)
                  * ((wo - 1) * sw + (kw - 1) * dw + 1))
        tile = images * positions
        workspace = (k + rows) * tile + padded
    else:
        if variant == "col2im":   # one image per thread: the tile must not depend on it
            n, n_threads = 1, 1
        tile = _tile_size(k, positions, n, n_threads, itemsize, row=row)
        workspace = k * tile
    return Plan("im2col_gemm", variant, workspace, {"tile": tile, **blocking})


def _packed_weight_scratch(kernels, rows, k, groups, dtype):
    """Scratch for `conv2d_forward` / `conv2d_backward_input` to pack float32
    weights once per call for the own GEMM (per group an op(A) of ``rows`` x
    ``k``: W, or W^T for the input gradient); one element where nothing is
    packed."""
    size = kernels.packed_weight_size(rows, k, groups) if dtype == np.float32 else 0
    return _workspace("packed_weight", (max(1, size),), dtype)


def _flipped_weight(weight, groups):
    """Weights of the stride-1 convolution that computes the input gradient:
    per group, in/out channels swapped and the kernel rotated by 180 degrees."""
    c_out, c_per_group, kh, kw = weight.shape
    flipped = weight.reshape(groups, c_out // groups, c_per_group, kh, kw)
    flipped = flipped.transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return np.ascontiguousarray(flipped.reshape(groups * c_per_group, c_out // groups, kh, kw))


def _im2col_gemm_forward(kernels, plan, conv, weight, bias, out, n_threads, relu):
    (top, _), (left, _) = conv.padding
    c_out, groups, dtype = conv.weight_shape[0], conv.groups, conv.dtype
    forward = kernels.conv2d_forward
    args = (weight, _no_bias(dtype) if bias is None else bias, out,
            _workspace("col", (n_threads, plan.workspace), dtype),
            _packed_weight_scratch(kernels, c_out // groups, conv.k, groups, dtype),
            conv.stride[0], conv.stride[1], top, left, conv.dilation[0], conv.dilation[1],
            groups, bias is not None, plan.blocking["tile"], n_threads)
    return lambda x: forward(x, *args), False


def _im2col_gemm_backward_input(kernels, plan, conv, grad_output, weight, grad_x, n_threads):
    (top, _), (left, _) = conv.padding
    (sh, sw), (dh, dw), groups = conv.stride, conv.dilation, conv.groups
    c_out, _, kh, kw = conv.weight_shape
    dtype, tile = grad_output.dtype, plan.blocking["tile"]
    workspace = _workspace("col", (n_threads, plan.workspace), dtype)
    with blas_single_threaded():
        if plan.variant == "flipped":
            flipped = _flipped_weight(weight, groups)
            kernels.conv2d_forward(grad_output, flipped, _no_bias(dtype), grad_x, workspace,
                                   _packed_weight_scratch(kernels, flipped.shape[0] // groups,
                                                          flipped.shape[1] * kh * kw, groups,
                                                          dtype),
                                   1, 1, plan.blocking["top"], plan.blocking["left"], dh, dw,
                                   groups, False, tile, n_threads)
        else:
            kernels.conv2d_backward_input(grad_output, weight, grad_x, workspace,
                                          _packed_weight_scratch(kernels, conv.k,
                                                                 c_out // groups, groups,
                                                                 dtype),
                                          sh, sw, top, left, dh, dw, groups, tile, n_threads)


def _im2col_gemm_backward_weight(kernels, plan, conv, grad_output, x, grad_weight, grad_bias,
                                 n_threads):
    (top, _), (left, _) = conv.padding
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    c_out, _, kh, kw = conv.weight_shape
    images = max(1, plan.blocking["tile"] // math.prod(conv.out_hw))
    part_w, part_b, chunk = _partials(conv, c_out * conv.k, images)
    workspace = _workspace("col", (n_threads, plan.workspace), x.dtype)
    with blas_single_threaded():
        kernels.conv2d_backward_weight(x, grad_output, part_w, part_b, workspace, kh, kw,
                                       sh, sw, top, left, dh, dw, conv.groups,
                                       grad_bias is not None, chunk, plan.blocking["tile"],
                                       n_threads)
    _reduce(kernels, part_w, part_b, grad_weight, grad_bias, n_threads)


# --------------------------------------------------------------------------
# Winograd (_kernels/winograd.pxi)
# --------------------------------------------------------------------------
# Winograd F(t x t, 3x3) weight transforms G, by output tile size t (Lavin &
# Gray, 2016): F(2x2) interpolates at 0, 1, -1, inf; F(4x4) at 0, 1, -1, 2,
# -2, inf. (B^T and A^T are written out in _kernels/_winograd.h.)
_WINO_G = {
    2: np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]]),
    4: np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                 [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
}
# Bytes of the per-thread transformed tiles (input and output) per block.
_WINO_BYTES = 1024 * 1024
# Smallest channel counts for which Winograd's GEMMs (inner size C) pay off.
_WINO_MIN_CHANNELS = 16
# Smallest output images: on 4x4 outputs (the digits CNN's second layer,
# 32 -> 64 channels, batch 32, 1 thread) F(2x2) tied im2col + GEMM forward
# (0.42 ms) and lost backward (1.32 vs 0.83 ms): four tiles an image do not
# pay for the transforms. From 8x8 on it wins overall (fwd + bwd 3.0 vs 3.6
# ms; 12x12: 3.1 vs 4.0).
_WINO_MIN_SIZE = 6
# F(4x4) for inner channel counts up to this and output images at least this
# large (see _winograd_tile).
_WINO4_MAX_CHANNELS = 64
_WINO4_MIN_SIZE = 13


def _use_winograd(x_dtype, weight_shape, stride, dilation, groups, out_hw):
    """Winograd runs for float32 3x3 stride-1 undilated dense layers with
    enough channels and outputs of at least ``_WINO_MIN_SIZE``; float64
    keeps the exact im2col path."""
    c_out, c_in, kh, kw = weight_shape
    return (x_dtype == np.float32 and (kh, kw) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1
            and min(c_in, c_out) >= _WINO_MIN_CHANNELS and min(out_hw) >= _WINO_MIN_SIZE)


def _winograd_tile(c_in, c_out, out_h, out_w):
    """Output tile size of the Winograd convolution: 4 (F(4x4, 3x3)) or 2.

    F(4x4) needs 36 products per 16 outputs instead of 16 per 4, but its
    transforms amplify float32 rounding, more so the longer the GEMMs'
    channel sums (C_in forward, C_out for the input gradient): its largest
    error measured 0.65 of the tests' tolerance (assert_close) at 64
    channels, 0.8 at 128 and 1.1 -- a failure -- at 256 (F(2x2): 0.05).
    Speed, 1 thread, F(4x4) / F(2x2) time: 0.75-0.95 for 16-64 channels on
    13x13 to 56x56 outputs, 1.1-1.5 forward on 7x7 to 12x12 (short
    transform loops, thin GEMMs), 0.9-2.3 at 128-512 channels. Depends on
    the problem only, never on the thread count."""
    if max(c_in, c_out) <= _WINO4_MAX_CHANNELS and min(out_h, out_w) >= _WINO4_MIN_SIZE:
        return 4
    return 2


def _winograd_blocks(c_in, c_out, out_h, out_w, batch, n_threads, itemsize, tile,
                     max_images=1):
    """``(rb, ni)``: Winograd blocks of ``rb`` rows of output tiles, or of
    ``ni`` <= ``max_images`` whole images when one image's tiles fill less
    than half of ``_WINO_BYTES`` (see winograd.pxi). Otherwise the block's
    transformed tiles fit ``_WINO_BYTES``, blocks are balanced, and there
    are enough blocks to occupy every thread."""
    tile_rows, tiles_per_row = -(-out_h // tile), -(-out_w // tile)
    rb = max(1, _WINO_BYTES // ((tile + 2) ** 2 * (c_in + c_out) * itemsize * tiles_per_row))
    if rb >= 2 * tile_rows and max_images > 1:
        return tile_rows, min(rb // tile_rows, max_images)
    n_blocks = -(-tile_rows // min(rb, tile_rows))
    while batch * n_blocks < n_threads and n_blocks < tile_rows:
        n_blocks += 1
    return -(-tile_rows // n_blocks), 1


def _winograd_plan(direction, conv, n_threads):
    """The tile size and blocks. The input gradient is the forward
    convolution of grad_output (C_out channels, the output's size) with the
    flipped weights; the weight gradient blocks whole images of a chunk."""
    kernels = _dispatch.kernels("conv")
    n, c_in = conv.x_shape[:2]
    c_out, itemsize = conv.weight_shape[0], np.dtype(conv.dtype).itemsize
    ho, wo = conv.out_hw
    if direction == INPUT_GRAD:
        c_in, c_out, (ho, wo) = c_out, c_in, conv.x_shape[2:]
    tile = _winograd_tile(c_in, c_out, ho, wo)
    if direction == WEIGHT_GRAD:
        _, chunk = _chunking(n, (tile + 2) ** 2 * c_out * c_in, itemsize)
        rb, ni = _winograd_blocks(c_in, c_out, ho, wo, 1, 1, itemsize, tile, chunk)
    else:
        rb, ni = _winograd_blocks(c_in, c_out, ho, wo, n, n_threads, itemsize, tile)
    size = kernels.winograd_workspace_size(c_in, c_out, tile, -(-wo // tile), rb, ni)
    return Plan("winograd", None, size, {"tile": tile, "rb": rb, "ni": ni})


def _winograd_weights(weight, tile):
    """U[(tile+2)^2, C_out, C_in] = G g G^T, computed in float64 as two
    plain matrix products over all C_out * C_in kernels (measured 0.07 ms
    for 32x32 channels; an einsum took 0.25-0.4 ms, a tenth of the dilated
    layer's forward pass)."""
    g = _WINO_G[tile]
    n, (c_out, c_in) = len(g), weight.shape[:2]
    kk = c_out * c_in
    t = g @ weight.astype(np.float64).transpose(2, 0, 1, 3).reshape(3, kk * 3)  # [i, (o c b)]
    u = (t.reshape(n * kk, 3) @ g.T).reshape(n, kk, n).transpose(0, 2, 1)     # [i, j, (o c)]
    return np.ascontiguousarray(u, dtype=weight.dtype).reshape(n * n, c_out, c_in)


def _winograd_weight_grad(grad_u, tile, out):
    """``out[C_out, C_in, 3, 3] = G^T dU G`` from ``grad_u[(tile+2)^2 * C_out *
    C_in]``, in float64 (the transpose of `_winograd_weights`)."""
    g = _WINO_G[tile]
    n, (c_out, c_in) = len(g), out.shape[:2]
    kk = c_out * c_in
    t = g.T @ grad_u.astype(np.float64).reshape(n, n * kk)                  # [a, (j o c)]
    dw = t.reshape(3, n, kk).transpose(0, 2, 1).reshape(3 * kk, n) @ g      # [(a o c), b]
    out[...] = dw.reshape(3, c_out, c_in, 3).transpose(1, 2, 0, 3)


def _winograd_forward(kernels, plan, conv, weight, bias, out, n_threads, relu,
                      top=None, left=None):
    if top is None:
        (top, _), (left, _) = conv.padding
    tile, dtype = plan.blocking["tile"], conv.dtype
    forward = kernels.conv2d_winograd_forward
    u = _winograd_weights(weight, tile)
    args = (u, _no_bias(dtype) if bias is None else bias, out,
            _workspace("col", (n_threads, plan.workspace), dtype), top, left, bias is not None,
            relu, tile, plan.blocking["rb"], n_threads)
    return lambda x: forward(x, *args), relu


def _winograd_backward_input(kernels, plan, conv, grad_output, weight, grad_x, n_threads):
    # The input gradient of a stride-1 convolution is the convolution of
    # grad_output with the flipped weights (padding 2 - padding).
    (top, _), (left, _) = conv.padding
    run, _ = _winograd_forward(kernels, plan, conv, _flipped_weight(weight, 1), None, grad_x,
                               n_threads, False, top=2 - top, left=2 - left)
    with blas_single_threaded():
        run(grad_output)


def _winograd_backward_weight(kernels, plan, conv, grad_output, x, grad_weight, grad_bias,
                              n_threads):
    (top, _), (left, _) = conv.padding
    c_out, c_in = conv.weight_shape[:2]
    tile = plan.blocking["tile"]
    ne = (tile + 2) ** 2
    part_u, part_b, chunk = _partials(conv, ne * c_out * c_in)
    workspace = _workspace("col", (n_threads, plan.workspace), x.dtype)
    with blas_single_threaded():
        kernels.conv2d_winograd_backward_weight(x, grad_output, part_u, part_b, workspace,
                                                top, left, grad_bias is not None, tile, chunk,
                                                plan.blocking["rb"], plan.blocking["ni"],
                                                n_threads)
    grad_u = np.empty(ne * c_out * c_in, dtype=x.dtype)
    kernels.reduce_partials(part_u, grad_u, n_threads)
    _winograd_weight_grad(grad_u, tile, grad_weight)
    _reduce(kernels, None, part_b, grad_weight, grad_bias, n_threads)


# --------------------------------------------------------------------------
# Phase split of dilated convolutions (_kernels/phase.pxi)
# --------------------------------------------------------------------------
def _use_phases(conv):
    """Whether a dilated stride-1 convolution runs as dh*dw undilated ones on
    the phase-split images (output phase (a, b) only reads input phase
    (a, b) when the padding is a multiple of the dilation): done when the
    undilated convolution then runs on Winograd."""
    (dh, dw), ((top, bottom), (left, right)) = conv.dilation, conv.padding
    if (dh, dw) == (1, 1) or tuple(conv.stride) != (1, 1):
        return False
    h, w = conv.x_shape[2:]
    ho, wo = conv.out_hw
    if any(v % dh for v in (h, ho, top, bottom)) or any(v % dw for v in (w, wo, left, right)):
        return False
    return _use_winograd(conv.dtype, conv.weight_shape, (1, 1), (1, 1), conv.groups,
                         (ho // dh, wo // dw))


def _phase_split(x, dh, dw, key):
    """[N, C, H, W] -> [N*dh*dw, C, H/dh, W/dw]: image (n, a, b) holds the
    rows a::dh and columns b::dw of image n (in the reusable workspace ``key``)."""
    n, c, h, w = x.shape
    out = _workspace(key, (n, dh, dw, c, h // dh, w // dw), x.dtype)
    _dispatch.kernels("conv").phase_split(x, out, effective_n_threads(2 * x.size))
    return out.reshape(n * dh * dw, c, h // dh, w // dw)


def _phase_merge(y, dh, dw, out=None):
    """Inverse of `_phase_split` (into ``out`` when given)."""
    nd, c, hp, wp = y.shape
    n = nd // (dh * dw)
    if out is None:
        out = np.empty((n, c, hp * dh, wp * dw), dtype=y.dtype)
    _dispatch.kernels("conv").phase_merge(y.reshape(n, dh, dw, c, hp, wp), out,
                                          effective_n_threads(2 * y.size))
    return out


def _phase_padding(conv):
    (dh, dw), ((top, bottom), (left, right)) = conv.dilation, conv.padding
    return (top // dh, bottom // dh), (left // dw, right // dw)


def _phase_forward(kernels, plan, conv, weight, bias, out, n_threads, relu):
    (dh, dw), (ho, wo) = conv.dilation, conv.out_hw
    n, c_out = conv.x_shape[0], conv.weight_shape[0]

    def run(x):
        y = _workspace("phase_out", (n * dh * dw, c_out, ho // dh, wo // dw), x.dtype)
        conv2d_forward(_phase_split(x, dh, dw, "phase_in"), weight, bias, (1, 1),
                       _phase_padding(conv), (1, 1), 1, "zeros", out=y)
        _phase_merge(y, dh, dw, out)
    return run, False


def _phase_backward_input(kernels, plan, conv, grad_output, weight, grad_x, n_threads):
    """The input gradient alone, on the phases of grad_output, merged into ``grad_x``."""
    dh, dw = conv.dilation
    n, c, h, w = conv.x_shape
    gx = _workspace("phase_grad_in", (n * dh * dw, c, h // dh, w // dw), grad_output.dtype)
    conv2d_backward_input(_phase_split(grad_output, dh, dw, "phase_out"), weight, gx.shape,
                          (1, 1), _phase_padding(conv), (1, 1), 1, out=gx)
    _phase_merge(gx, dh, dw, grad_x)


def _phase_backward(conv, grad_output, x, weight, grad_x, need_bias_grad):
    """Both gradients at once, on one split of grad_output: ``(grad_x,
    grad_weight, grad_bias)``, grad_x merged into ``grad_x`` (None: not
    needed)."""
    dh, dw = conv.dilation
    x_phases = _phase_split(x, dh, dw, "phase_in")
    # (the phases' input gradient in scratch too: a fresh multi-MB array
    # costs page faults on every call)
    gx, grad_weight, grad_bias = conv2d_backward(
        _phase_split(grad_output, dh, dw, "phase_out"), x_phases, weight, (1, 1),
        _phase_padding(conv), (1, 1), 1, "zeros", grad_x is not None, need_bias_grad,
        grad_x_out=None if grad_x is None
        else _workspace("phase_grad_in", x_phases.shape, x.dtype))
    if grad_x is not None:
        grad_x = _phase_merge(gx, dh, dw, grad_x)
    return grad_x, grad_weight, grad_bias


# --------------------------------------------------------------------------
# Direct convolution (_kernels/direct.pxi)
# --------------------------------------------------------------------------
# Register-blocked, no im2col, for stride-1 layers with few output channels
# (a multiple of 16, <= _DIRECT_C16_MAX_COUT) and at most _DIRECT_MAX_K
# weights per output: measured faster than im2col + GEMM there (lenet2 0.78
# vs 1.45 ms, cifar1 2.0 vs 2.1 ms), whose GEMM is too thin to pay for the
# im2col copy. (A c8 blocking of C_out = 6 for these layers only tied
# im2col, losing 2 of 8 lanes: not kept.)
_DIRECT_C16_MAX_COUT = 32
_DIRECT_MAX_K = 256
# The c16 weight gradient transposes grad_output per image, which pays off
# only with enough taps (measured: lenet2, K=150: 0.88 vs 2.05 ms; cifar1,
# K=27: 2.97 vs 1.84 ms for im2col + GEMM).
_DIRECT_C16_WGRAD_MIN_K = 64


def _use_direct_c16(kernels, conv):
    c_out = conv.weight_shape[0]
    return (conv.dtype == np.float32 and tuple(conv.stride) == (1, 1) and conv.groups == 1
            and c_out % 16 == 0 and c_out <= _DIRECT_C16_MAX_COUT
            and conv.k <= _DIRECT_MAX_K and kernels.has_direct_kernel())


def _use_direct_c8(kernels, conv):
    """The width-vectorised blocking, for at most 8 output channels
    (measured, lenet1 forward: 0.24 vs 0.45 ms for im2col + GEMM, whose GEMM
    has only C_out rows)."""
    return (conv.dtype == np.float32 and tuple(conv.stride) == (1, 1) and conv.groups == 1
            and conv.weight_shape[0] <= 8 and conv.k <= _DIRECT_MAX_K
            and kernels.has_direct_kernel())


def _direct_geometry(conv):
    """Padded image size and the offset of every tap (c, i, j) in it
    (cached per shape: the offsets are read-only)."""
    c_in, kh, kw = conv.weight_shape[1:]
    return _direct_geometry_cached(int(c_in), int(kh), int(kw), *map(int, conv.out_hw),
                                   *map(int, conv.dilation))


@functools.lru_cache(maxsize=64)
def _direct_geometry_cached(c_in, kh, kw, ho, wo, dh, dw):
    padded_h, padded_w = ho + (kh - 1) * dh, wo + (kw - 1) * dw
    c, i, j = np.meshgrid(np.arange(c_in), np.arange(kh), np.arange(kw), indexing="ij")
    offs = ((c * padded_h + i * dh) * padded_w + j * dw).astype(np.intp).ravel()
    offs.flags.writeable = False
    return padded_h, padded_w, offs


def _direct_plan(algorithm, direction, conv):
    """The padded image per thread; the c8 kernels read up to 16 floats past
    it, the weight gradients also keep grad_output per thread (c16:
    transposed, c8: rows padded to multiples of 8)."""
    c_out, c_in, kh, kw = conv.weight_shape
    (ho, wo), (padded_h, padded_w, _) = conv.out_hw, _direct_geometry(conv)
    size = c_in * padded_h * padded_w
    if algorithm == "direct_c8":
        size += 16
        if direction == WEIGHT_GRAD:
            size += 8 * ho * (-(-wo // 8) * 8)
    elif direction == WEIGHT_GRAD:
        size += ho * wo * c_out
    return Plan(algorithm, None, size, {})


def _pack_direct_c8(weight):
    """``[K, 8]``: the weights of tap k for channel m at ``[k, m]``, zero for m >= C_out."""
    c_out = weight.shape[0]
    wpk = np.zeros((weight[0].size, 8), dtype=np.float32)
    wpk[:, :c_out] = weight.reshape(c_out, -1).T
    return wpk


def _pack_direct_c16(weight):
    """``[C_out / 16, K, 16]``: 16 output channels' weights side by side per tap."""
    c_out = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(c_out // 16, 16, -1).transpose(0, 2, 1))


def _direct_forward(kernels, plan, conv, weight, bias, out, n_threads, relu):
    (top, _), (left, _) = conv.padding
    padded_h, padded_w, offs = _direct_geometry(conv)
    # One image per work unit: no more threads than images.
    n_threads = min(n_threads, conv.x_shape[0])
    workspace = _workspace("col", (n_threads, plan.workspace), conv.dtype)
    bias_or_placeholder = _no_bias(conv.dtype) if bias is None else bias
    if plan.algorithm == "direct_c8":
        forward = kernels.conv2d_direct_c8_forward
        args = (_pack_direct_c8(weight), bias_or_placeholder, offs, out, workspace, padded_h,
                padded_w, top, left, bias is not None, relu, n_threads)
        return lambda x: forward(x, *args), relu
    forward = kernels.conv2d_direct_c16_forward
    args = (_pack_direct_c16(weight), bias_or_placeholder, offs, out, workspace, padded_h,
            padded_w, top, left, bias is not None, relu, n_threads)
    return lambda x: forward(x, *args), relu


def _direct_backward_weight(kernels, plan, conv, grad_output, x, grad_weight, grad_bias,
                            n_threads):
    c_out, _, kh, kw = conv.weight_shape
    (top, _), (left, _) = conv.padding
    part_w, part_b, chunk = _partials(conv, c_out * conv.k)
    workspace = _workspace("direct", (n_threads, plan.workspace), x.dtype)
    if plan.algorithm == "direct_c8":
        kernels.conv2d_direct_c8_backward_weight(x, grad_output, part_w, part_b, workspace,
                                                 kh, kw, top, left, grad_bias is not None,
                                                 chunk, n_threads)
    else:
        padded_h, padded_w, offs = _direct_geometry(conv)
        kernels.conv2d_direct_c16_backward_weight(x, grad_output, offs, part_w, part_b,
                                                  workspace, padded_h, padded_w, top, left,
                                                  grad_bias is not None, chunk, n_threads)
    _reduce(kernels, part_w, part_b, grad_weight, grad_bias, n_threads)


# --------------------------------------------------------------------------
# Depthwise (_kernels/depthwise.pxi)
# --------------------------------------------------------------------------
def _depthwise_plan(direction, conv, n_threads):
    """Stride 1 runs on zero-padded copies of each channel (variant ``"s1"``:
    the padded plane per thread); so does the input gradient of a channel
    multiplier of 1 (variant ``"rotated"``: the forward convolution of
    grad_output with the rotated kernels). The weight gradient keeps one
    accumulator per tap and output column, plus the padded plane."""
    c_out, _, kh, kw = conv.weight_shape
    (ho, wo), (dh, dw) = conv.out_hw, conv.dilation
    padded_size = (ho + (kh - 1) * dh) * (wo + (kw - 1) * dw)
    stride_1 = tuple(conv.stride) == (1, 1)
    if direction == FORWARD:
        return Plan("depthwise", "s1" if stride_1 else None, padded_size if stride_1 else 0, {})
    if direction == INPUT_GRAD:
        if stride_1 and c_out == conv.x_shape[1]:
            h, w = conv.x_shape[2:]
            return Plan("depthwise", "rotated", (h + (kh - 1) * dh) * (w + (kw - 1) * dw), {})
        return Plan("depthwise", None, 0, {})
    return Plan("depthwise", None, kh * kw * wo + padded_size, {})


def _depthwise_forward(kernels, plan, conv, weight, bias, out, n_threads, relu,
                       top=None, left=None):
    if top is None:
        (top, _), (left, _) = conv.padding
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    bias_or_placeholder = _no_bias(conv.dtype) if bias is None else bias
    if plan.variant in ("s1", "rotated"):
        forward = kernels.conv2d_depthwise_forward_s1
        args = (weight, bias_or_placeholder, out,
                _workspace("col", (n_threads, plan.workspace), conv.dtype), top, left, dh, dw,
                bias is not None, n_threads)
    else:
        forward = kernels.conv2d_depthwise_forward
        args = (weight, bias_or_placeholder, out, sh, sw, top, left, dh, dw, bias is not None,
                n_threads)
    return lambda x: forward(x, *args), False


def _depthwise_backward_input(kernels, plan, conv, grad_output, weight, grad_x, n_threads):
    (top, _), (left, _) = conv.padding
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.weight_shape[2:]
    if plan.variant == "rotated":
        run, _ = _depthwise_forward(kernels, plan, conv,
                                    np.ascontiguousarray(weight[:, :, ::-1, ::-1]), None, grad_x,
                                    n_threads, False, top=dh * (kh - 1) - top,
                                    left=dw * (kw - 1) - left)
        run(grad_output)
    else:
        kernels.conv2d_depthwise_backward_input(grad_output, weight, grad_x, sh, sw, top, left,
                                                dh, dw, n_threads)


def _depthwise_backward_weight(kernels, plan, conv, grad_output, x, grad_weight, grad_bias,
                               n_threads):
    (top, _), (left, _) = conv.padding
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    c_out, _, kh, kw = conv.weight_shape
    part_w, part_b, chunk = _partials(conv, c_out * conv.k)
    lanes = _workspace("col", (n_threads, plan.workspace), x.dtype)
    kernels.conv2d_depthwise_backward_weight(x, grad_output, part_w, part_b, lanes, kh, kw,
                                             sh, sw, top, left, dh, dw, grad_bias is not None,
                                             chunk, n_threads)
    _reduce(kernels, part_w, part_b, grad_weight, grad_bias, n_threads)


# Each algorithm's passes (forward, input gradient, weight gradient); the
# phase split runs both gradients in one `_phase_backward`. A forward pass
# is bound once for a geometry: ``forward(kernels, plan, conv, weight,
# bias, out, n_threads, relu)`` returns ``(run, fused)``, ``run(x)`` filling
# ``out`` (weights transformed or packed, workspace taken, at binding) and
# ``fused`` telling whether it applies the ReLU. ``_CALLS_BLAS`` forwards
# must run inside `blas_single_threaded`.
_PASSES = {
    "im2col_gemm": (_im2col_gemm_forward, _im2col_gemm_backward_input,
                    _im2col_gemm_backward_weight),
    "winograd": (_winograd_forward, _winograd_backward_input, _winograd_backward_weight),
    "phase": (_phase_forward, _phase_backward_input, None),
    "direct_c16": (_direct_forward, None, _direct_backward_weight),
    "direct_c8": (_direct_forward, None, _direct_backward_weight),
    "depthwise": (_depthwise_forward, _depthwise_backward_input, _depthwise_backward_weight),
}
_CALLS_BLAS = frozenset({"im2col_gemm", "winograd"})


# --------------------------------------------------------------------------
# The unchecked entry points
# --------------------------------------------------------------------------
def _pad_input(x, padding, padding_mode):
    (top, bottom), (left, right) = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)),
                  mode=NUMPY_PAD_MODE[padding_mode])


def _fold_padded_grad(grad_padded, shape, padding, padding_mode):
    """Adjoint of `_pad_input`: add each padded position's gradient back onto
    the input position it was copied from."""
    h, w = shape[2], shape[3]
    (top, bottom), (left, right) = padding
    mode = NUMPY_PAD_MODE[padding_mode]
    src_h = np.pad(np.arange(h), (top, bottom), mode=mode)
    src_w = np.pad(np.arange(w), (left, right), mode=mode)
    fold_h = np.zeros((h, src_h.size), dtype=grad_padded.dtype)
    fold_h[src_h, np.arange(src_h.size)] = 1
    fold_w = np.zeros((src_w.size, w), dtype=grad_padded.dtype)
    fold_w[np.arange(src_w.size), src_w] = 1
    return np.ascontiguousarray(fold_h @ grad_padded @ fold_w)


def _geometry(x_shape, weight, stride, padding, dilation, groups, dtype):
    _, _, h, w = x_shape
    _, _, kh, kw = weight.shape
    ho = conv_output_size(h, kh, stride[0], *padding[0], dilation[0])
    wo = conv_output_size(w, kw, stride[1], *padding[1], dilation[1])
    return Conv(tuple(x_shape), weight.shape, (ho, wo), np.dtype(dtype), tuple(stride),
                tuple(map(tuple, padding)), tuple(dilation), groups)


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups, padding_mode,
                   out=None, relu=False):
    """Unchecked conv2d on C-contiguous arrays of one dtype.

    ``padding`` is ``((top, bottom), (left, right))``; ``out`` may be a
    preallocated C-contiguous output to fill. With ``relu`` the result is
    ``np.maximum(conv2d(...), 0)`` (fused into the kernels that can).
    """
    run, out, calls_blas = _bind_forward(x.shape, x.dtype, weight, bias, stride, padding,
                                         dilation, groups, padding_mode, out, relu)
    if calls_blas:
        with blas_single_threaded():
            run(x)
    else:
        run(x)
    return out


def bind_forward(x_shape, dtype, weight, bias, stride, padding, dilation, groups,
                 padding_mode, out, relu=False, max_threads=None):
    """`conv2d_forward` prepared once for inputs of ``x_shape``: ``run(x)``
    fills ``out`` (and returns None).

    Everything that depends only on the geometry and the weights is
    decided now: the algorithm, the thread count (at most ``max_threads``),
    the workspace (this Python thread's), transformed or packed weights.
    ``run`` must be called from this thread, with the weights unchanged,
    inside `blas_single_threaded` (as ``predict`` does).
    """
    return _bind_forward(x_shape, dtype, weight, bias, stride, padding, dilation, groups,
                         padding_mode, out, relu, max_threads)[0]


def _bind_forward(x_shape, dtype, weight, bias, stride, padding, dilation, groups,
                  padding_mode, out, relu, max_threads=None):
    """``(run, out, calls_blas)`` for `bind_forward` and `conv2d_forward`
    (``out`` allocated when None)."""
    pad_first = padding_mode != "zeros" and any(padding[0] + padding[1])
    kernel_padding = padding
    if pad_first:    # the input is padded by mode first, the kernels pad nothing
        (top, bottom), (left, right) = padding
        x_shape = tuple(x_shape[:2]) + (x_shape[2] + top + bottom, x_shape[3] + left + right)
        kernel_padding = ((0, 0), (0, 0))
    conv = _geometry(x_shape, weight, stride, kernel_padding, dilation, groups, dtype)
    n, c_out = x_shape[0], weight.shape[0]
    if out is None:
        out = np.empty((n, c_out) + conv.out_hw, dtype=dtype)
    if n == 0:
        run, fused, calls_blas = (lambda x: None), False, False
    else:
        n_threads = effective_n_threads(2 * n * c_out * math.prod(conv.out_hw) * conv.k)
        if max_threads is not None:
            n_threads = min(n_threads, max_threads)
        plan = select(FORWARD, conv, n_threads)
        run, fused = _PASSES[plan.algorithm][0](_dispatch.kernels("conv"), plan, conv, weight,
                                                bias, out, n_threads, relu)
        calls_blas = plan.algorithm in _CALLS_BLAS
    if pad_first:
        padded_run = run

        def run(x):
            padded_run(_pad_input(x, padding, padding_mode))
    if relu and not fused:
        maximum, unfused_run = np.maximum, run

        def run(x):
            unfused_run(x)
            maximum(out, 0, out=out)
    return run, out, calls_blas


def conv2d_backward_input(grad_output, weight, x_shape, stride, padding, dilation, groups,
                          out=None):
    """Unchecked input gradient alone of a zero-padded `conv2d_forward` of
    inputs of ``x_shape`` (the transposed convolution's forward pass), into
    ``out`` when given; ``grad_output`` has that convolution's output size.
    The algorithm is `select`'s for `INPUT_GRAD`, as in `conv2d_backward`."""
    dtype = grad_output.dtype
    grad_x = np.empty(x_shape, dtype=dtype) if out is None else out
    if x_shape[0] == 0:
        return grad_x
    conv = _geometry(x_shape, weight, stride, padding, dilation, groups, dtype)
    n_threads = effective_n_threads(2 * grad_output.size * conv.k)
    plan = select(INPUT_GRAD, conv, n_threads)
    _PASSES[plan.algorithm][1](_dispatch.kernels("conv"), plan, conv, grad_output, weight,
                               grad_x, n_threads)
    return grad_x


def conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups, padding_mode,
                    need_input_grad=True, need_bias_grad=True, grad_x_out=None):
    """Unchecked gradients of `conv2d_forward`: ``(grad_x, grad_weight, grad_bias)``.

    ``grad_x`` is None unless ``need_input_grad``; ``grad_bias`` is None
    unless ``need_bias_grad``. ``grad_x_out`` may be a preallocated
    C-contiguous array of ``x``'s shape and dtype for ``grad_x``.
    """
    padded = padding_mode != "zeros" and any(padding[0] + padding[1])
    x_shape, user_padding = x.shape, padding
    if padded:
        x = _pad_input(x, padding, padding_mode)
        padding = ((0, 0), (0, 0))
    dtype = x.dtype
    grad_weight = np.empty(weight.shape, dtype=dtype)
    grad_bias = np.empty(weight.shape[0], dtype=dtype) if need_bias_grad else None
    if not need_input_grad:
        grad_x = None
    elif grad_x_out is not None and not padded:
        grad_x = grad_x_out
    else:
        grad_x = np.empty(x.shape, dtype=dtype)
    if x.shape[0] == 0:
        grad_weight[...] = 0
        if grad_bias is not None:
            grad_bias[...] = 0
        if grad_x is not None and padded:
            grad_x = np.zeros(x_shape, dtype=dtype)
        return grad_x, grad_weight, grad_bias

    conv = _geometry(x.shape, weight, stride, padding, dilation, groups, dtype)
    kernels = _dispatch.kernels("conv")
    n_threads = effective_n_threads(4 * grad_output.size * conv.k)
    plan = select(WEIGHT_GRAD, conv, n_threads)
    if plan.algorithm == "phase":
        grad_x, grad_weight, grad_bias = _phase_backward(conv, grad_output, x, weight, grad_x,
                                                         need_bias_grad)
    else:
        _PASSES[plan.algorithm][2](kernels, plan, conv, grad_output, x, grad_weight,
                                   grad_bias, n_threads)
        if need_input_grad:
            plan = select(INPUT_GRAD, conv, n_threads)
            _PASSES[plan.algorithm][1](kernels, plan, conv, grad_output, weight, grad_x,
                                       n_threads)
    if need_input_grad and padded:
        grad_x = _fold_padded_grad(grad_x, x_shape, user_padding, padding_mode)
    return grad_x, grad_weight, grad_bias
