"""The checked Python face of pyconv's compiled kernels.

Mirrors ``torch.nn.functional``: arrays are NCHW numpy arrays, results agree
with PyTorch to float32 rounding. Every public function validates its input
completely and raises `TypeError`/`ValueError` naming the argument before any
compiled code runs. The private helpers (leading underscore) skip validation:
the layers and the training loop call them on arrays they produced
themselves, so checks are paid once.
"""
from __future__ import annotations

import functools
import math
import threading
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _dispatch
from ._shapes import (
    NUMPY_PAD_MODE,
    PADDING_MODES,
    check_conv_geometry,
    check_int32,
    check_padding_limit,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    same_padding,
)
from ._threads import blas_single_threaded, effective_n_threads
from ._typing import ArrayLike, FloatArray, IndexArray, IntPair, Padding, PaddingMode
from ._validation import (
    as_float_array,
    check_choice,
    check_int,
    check_pair,
    check_positive_float,
    common_float_dtype,
    fail,
)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "interpolate",
    "interpolate_backward",
]

# Bytes of one im2col tile (measured: 1 MiB beats L2-sized tiles, which make
# the GEMM too thin for BLAS to reach its speed).
_TILE_BYTES = 1024 * 1024
# Cap on the memory of per-chunk weight-gradient partials.
_PARTIALS_BYTES = 32 * 1024 * 1024
_MAX_CHUNKS = 16

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


# --------------------------------------------------------------------------
# Weights an algorithm transforms or packs (Winograd's U, the direct
# kernels' layouts) are recomputed on every call: in training they change
# between calls. A compiled inference plan (pyconv._inference) holds its
# weights fixed, so while it runs it lends this thread its table and each
# transform runs once per plan instead of once per batch.
# --------------------------------------------------------------------------
_prepared = threading.local()


def _prepared_weights(kind, weight, extra, compute):
    """``compute()``, remembered in the running plan's table (if any) under
    ``(kind, weight, extra)``."""
    table = getattr(_prepared, "table", None)
    if table is None:
        return compute()
    key = (kind, id(weight), extra)
    hit = table.get(key)
    if hit is None or hit[0] is not weight:
        hit = table[key] = (weight, compute())
    return hit[1]


# --------------------------------------------------------------------------
# Argument checking shared by the conv functions
# --------------------------------------------------------------------------
def _as_batch(x, name):
    """Return ``(x4, unbatched)``: a 3-D CHW input becomes a batch of one."""
    if x.ndim == 3:
        return x[np.newaxis], True
    if x.ndim != 4:
        fail(ValueError, name, "a 4-D array [batch, channels, height, width] "
             "(or 3-D [channels, height, width])", f"shape {x.shape}")
    return x, False


def _conv_padding(padding, kernel, stride, dilation):
    """Normalise ``padding`` to ``((top, bottom), (left, right))``."""
    if isinstance(padding, str):
        check_choice(padding, "padding", ("valid", "same"))
        if padding == "valid":
            return (0, 0), (0, 0)
        if stride != (1, 1):
            fail(ValueError, "padding", "an int or a pair when stride > 1 "
                 "('same' needs stride 1, as in PyTorch)", f"'same' with stride {stride}")
        return same_padding(kernel[0], dilation[0]), same_padding(kernel[1], dilation[1])
    ph, pw = check_pair(padding, "padding", min_value=0)
    return (ph, ph), (pw, pw)


def _check_conv(x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Validate conv arguments; return arrays and normalised parameters."""
    x = as_float_array(x, "x")
    weight = as_float_array(weight, "weight")
    x, unbatched = _as_batch(x, "x")
    if weight.ndim != 4:
        fail(ValueError, "weight", "a 4-D array [out_channels, in_channels/groups, kh, kw]",
             f"shape {weight.shape}")
    dtype = common_float_dtype(x, weight)
    if bias is not None:
        bias = as_float_array(bias, "bias")
        if bias.shape != (weight.shape[0],):
            fail(ValueError, "bias", f"a 1-D array of shape ({weight.shape[0]},) "
                 "(one value per output channel)", f"shape {bias.shape}")
        dtype = common_float_dtype(x, weight, bias)
        bias = bias.astype(dtype, copy=False)
    x = x.astype(dtype, copy=False)
    weight = weight.astype(dtype, copy=False)

    stride = check_int32(check_pair(stride, "stride"), "stride")
    dilation = check_int32(check_pair(dilation, "dilation"), "dilation")
    groups = check_int(groups, "groups", min_value=1)
    padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    if not isinstance(padding, str):
        check_int32(check_pair(padding, "padding", min_value=0), "padding")
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if min(kh, kw, c_out, c_per_group) < 1:
        fail(ValueError, "weight", "a non-empty array (every dimension >= 1)",
             f"shape {weight.shape}")
    if c_in % groups or c_out % groups:
        fail(ValueError, "groups", f"a divisor of both in_channels ({c_in}) and "
             f"out_channels ({c_out})", groups)
    if c_per_group * groups != c_in:
        fail(ValueError, "weight", f"shape[1] == in_channels / groups = {c_in // groups} "
             f"(x has {c_in} channels on axis 1, groups={groups}; x is NCHW: batch, "
             f"channels, height, width)", f"shape {weight.shape}")
    pads = _conv_padding(padding, (kh, kw), stride, dilation)
    check_padding_limit(padding_mode, (h, w), pads)
    check_conv_geometry((h, w), (kh, kw), stride, pads, dilation, c_per_group,
                        "x", f"shape {x.shape}")
    return x, weight, bias, unbatched, stride, pads, dilation, groups, padding_mode


# --------------------------------------------------------------------------
# Private, unchecked helpers
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


def _tile_size(k, positions, batch, n_threads, itemsize, row=None):
    """Output positions per im2col tile: the tile fits ``_TILE_BYTES`` but
    keeps at least 64 columns for an efficient GEMM, and there are enough
    tiles to occupy every thread.

    With ``row`` (the output width), the tile is a whole number of output
    rows when one row fits (the kernel's faster im2col path), and the tiles
    of an image are balanced (no thin remainder tile).
    """
    tile = max(64, _TILE_BYTES // max(1, k * itemsize))
    tile = min(tile, positions)
    while batch * -(-positions // tile) < n_threads and tile > 64:
        tile = max(64, tile // 2)
    if row is not None and row <= tile:
        rows = positions // row
        n_tiles = -(-rows // max(1, tile // row))
        tile = row * -(-rows // n_tiles)
    return tile


# Largest im2col-size ratio (flipped forward / col2im) at which the stride-1
# input gradient runs as a forward convolution (measured: 1.5).
_FLIP_MAX_COST = 1.5
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
# F(4x4) for inner channel counts up to this and output images at least this
# large (see _winograd_tile).
_WINO4_MAX_CHANNELS = 64
_WINO4_MIN_SIZE = 13


def _use_winograd(x_dtype, weight_shape, stride, dilation, groups):
    """Winograd runs for float32 3x3 stride-1 undilated dense layers with
    enough channels; float64 keeps the exact im2col path."""
    c_out, c_in, kh, kw = weight_shape
    return (x_dtype == np.float32 and (kh, kw) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1
            and min(c_in, c_out) >= _WINO_MIN_CHANNELS)


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


def _winograd_blocks(c_in, c_out, out_h, out_w, batch, n_threads, itemsize, tile,
                     max_images=1):
    """``(rb, ni)``: Winograd blocks of ``rb`` rows of output tiles, or of
    ``ni`` <= ``max_images`` whole images when one image's tiles fill less
    than half of ``_WINO_BYTES`` (see conv.pyx). Otherwise the block's
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


def _winograd_forward(kernels, x, weight, bias, out, top, left, has_bias, n_threads):
    n, c_in = x.shape[:2]
    c_out, ho, wo = out.shape[1:]
    tile = _winograd_tile(c_in, c_out, ho, wo)
    rb, _ = _winograd_blocks(c_in, c_out, ho, wo, n, n_threads, x.itemsize, tile)
    size = kernels.winograd_workspace_size(c_in, c_out, tile, -(-wo // tile), rb, 1)
    workspace = _workspace("col", (n_threads, size), x.dtype)
    with blas_single_threaded():
        u = _prepared_weights("winograd", weight, tile,
                              lambda: _winograd_weights(weight, tile))
        kernels.conv2d_winograd_forward(x, u, bias, out,
                                        workspace, top, left, has_bias, tile, rb, n_threads)
    return out


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


def _dilated_as_phases(x_shape, out_hw, weight_shape, x_dtype, stride, padding, dilation,
                       groups):
    """Whether a dilated stride-1 convolution runs as dh*dw undilated ones on
    the phase-split images (output phase (a, b) only reads input phase
    (a, b) when the padding is a multiple of the dilation): done when the
    undilated convolution then runs on Winograd."""
    (dh, dw), (top, bottom), (left, right) = dilation, padding[0], padding[1]
    if (dh, dw) == (1, 1) or tuple(stride) != (1, 1):
        return False
    h, w = x_shape[2:]
    ho, wo = out_hw
    if any(v % dh for v in (h, ho, top, bottom)) or any(v % dw for v in (w, wo, left, right)):
        return False
    return _use_winograd(x_dtype, weight_shape, (1, 1), (1, 1), groups)


# Direct (register-blocked, no im2col) convolution, for stride-1 layers with
# few output channels (a multiple of 16, <= _DIRECT_MAX_COUT) and at most
# _DIRECT_MAX_K weights per output: measured faster than im2col + BLAS
# there (lenet2 0.78 vs 1.45 ms, cifar1 2.0 vs 2.1 ms), whose GEMM is too
# thin to pay for the im2col copy. (An 8-channel variant for C_out = 6 only
# tied im2col, losing 2 of 8 lanes: not kept.)
_DIRECT_MAX_COUT = 32
_DIRECT_MAX_K = 256
# The direct weight gradient transposes grad_output per image, which pays
# off only with enough taps (measured: lenet2, K=150: 0.88 vs 2.05 ms;
# cifar1, K=27: 2.97 vs 1.84 ms for im2col + BLAS).
_DIRECT_WGRAD_MIN_K = 64


def _use_direct(kernels, dtype, weight_shape, stride, groups):
    """Never depends on the thread count (the algorithm fixes the rounding)."""
    c_out, c_per_group, kh, kw = weight_shape
    return (dtype == np.float32 and tuple(stride) == (1, 1) and groups == 1
            and c_out % 16 == 0 and c_out <= _DIRECT_MAX_COUT
            and c_per_group * kh * kw <= _DIRECT_MAX_K and kernels.has_direct_kernel())


def _use_direct_w8(kernels, dtype, weight_shape, stride, groups):
    """The width-vectorised direct kernel, for at most 8 output channels
    (measured, lenet1 forward: 0.24 vs 0.45 ms for im2col + BLAS, whose GEMM
    has only C_out rows). Never depends on the thread count."""
    c_out, c_per_group, kh, kw = weight_shape
    return (dtype == np.float32 and tuple(stride) == (1, 1) and groups == 1
            and c_out <= 8 and c_per_group * kh * kw <= _DIRECT_MAX_K
            and kernels.has_direct_kernel())


def _direct_forward_w8(kernels, x, weight, bias, out, top, left, dilation, has_bias,
                       n_threads, relu=False):
    c_out, c_in, kh, kw = weight.shape
    w8 = _prepared_weights("direct_w8", weight, None, lambda: _pack_direct_w8(weight))
    padded_h, padded_w, offs = _direct_geometry(c_in, kh, kw, *out.shape[2:], dilation)
    workspace = _workspace("col", (n_threads, c_in * padded_h * padded_w + 16), x.dtype)
    kernels.conv2d_direct_c8_forward(x, w8, bias, offs, out, workspace, padded_h, padded_w,
                                     top, left, has_bias, relu, n_threads)
    return out


def _pack_direct_w8(weight):
    c_out = weight.shape[0]
    w8 = np.zeros((weight[0].size, 8), dtype=np.float32)
    w8[:, :c_out] = weight.reshape(c_out, -1).T
    return w8


def _direct_geometry(c_in, kh, kw, ho, wo, dilation):
    """Padded image size and the offset of every tap (c, i, j) in it
    (cached per shape: the offsets are read-only)."""
    return _direct_geometry_cached(int(c_in), int(kh), int(kw), int(ho), int(wo),
                                   int(dilation[0]), int(dilation[1]))


@functools.lru_cache(maxsize=64)
def _direct_geometry_cached(c_in, kh, kw, ho, wo, dh, dw):
    padded_h, padded_w = ho + (kh - 1) * dh, wo + (kw - 1) * dw
    c, i, j = np.meshgrid(np.arange(c_in), np.arange(kh), np.arange(kw), indexing="ij")
    offs = ((c * padded_h + i * dh) * padded_w + j * dw).astype(np.intp).ravel()
    offs.flags.writeable = False
    return padded_h, padded_w, offs


def _direct_forward(kernels, x, weight, bias, out, top, left, dilation, has_bias, n_threads):
    c_out, c_in, kh, kw = weight.shape
    wpk = _prepared_weights("direct", weight, None, lambda: np.ascontiguousarray(
        weight.reshape(c_out // 16, 16, c_in * kh * kw).transpose(0, 2, 1)))
    padded_h, padded_w, offs = _direct_geometry(c_in, kh, kw, *out.shape[2:], dilation)
    workspace = _workspace("col", (n_threads, c_in * padded_h * padded_w), x.dtype)
    kernels.conv2d_direct_c16_forward(x, wpk, bias, offs, out, workspace, padded_h, padded_w,
                                  top, left, has_bias, n_threads)
    return out


def _depthwise_forward_s1(kernels, x, weight, bias, out, top, left, dilation, has_bias,
                          n_threads):
    """Stride-1 depthwise convolution on zero-padded copies of each channel."""
    (dh, dw), (kh, kw) = dilation, weight.shape[2:]
    padded_size = (out.shape[2] + (kh - 1) * dh) * (out.shape[3] + (kw - 1) * dw)
    workspace = _workspace("col", (n_threads, padded_size), x.dtype)
    kernels.conv2d_depthwise_forward_s1(x, weight, bias, out, workspace, top, left, dh, dw,
                                        has_bias, n_threads)


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


def _n_chunks(batch, partial_size, itemsize):
    """How many partial weight-gradient buffers: depends on the problem only,
    never on the thread count, so results are identical for any thread count."""
    by_memory = max(1, _PARTIALS_BYTES // max(1, partial_size * itemsize))
    return max(1, min(batch, _MAX_CHUNKS, by_memory))


def _is_depthwise(weight, groups, c_in):
    return weight.shape[1] == 1 and groups == c_in and groups > 1


def _conv2d_forward(x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    out=None, relu=False):
    """Unchecked conv2d on C-contiguous arrays of one dtype.

    ``padding`` is ``((top, bottom), (left, right))``; ``out`` may be a
    preallocated C-contiguous output to fill. With ``relu`` the result is
    ``np.maximum(conv2d(...), 0)`` (fused into the kernels that can).
    """
    out, fused = _conv2d_forward_dispatch(x, weight, bias, stride, padding, dilation, groups,
                                          padding_mode, out, relu)
    if relu and not fused:
        np.maximum(out, 0, out=out)
    return out


def _conv2d_forward_dispatch(x, weight, bias, stride, padding, dilation, groups,
                             padding_mode, out, relu):
    """Run the fastest kernel for this convolution; return ``(out, relu_fused)``."""
    if padding_mode != "zeros" and any(padding[0] + padding[1]):
        x = _pad_input(x, padding, padding_mode)
        padding = ((0, 0), (0, 0))
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    (top, bottom), (left, right) = padding
    ho = conv_output_size(h, kh, stride[0], top, bottom, dilation[0])
    wo = conv_output_size(w, kw, stride[1], left, right, dilation[1])
    if out is None:
        out = np.empty((n, c_out, ho, wo), dtype=x.dtype)
    if n == 0:
        return out, False
    has_bias = bias is not None
    if not has_bias:
        bias = np.zeros(1, dtype=x.dtype)
    kernels = _dispatch.kernels("conv")
    n_threads = effective_n_threads(2 * n * c_out * ho * wo * c_per_group * kh * kw)
    if _is_depthwise(weight, groups, c_in) and tuple(stride) == (1, 1):
        _depthwise_forward_s1(kernels, x, weight, bias, out, top, left, dilation, has_bias,
                              n_threads)
        return out, False
    if _is_depthwise(weight, groups, c_in):
        kernels.conv2d_depthwise_forward(x, weight, bias, out, stride[0], stride[1], top, left,
                                         dilation[0], dilation[1], has_bias, n_threads)
        return out, False
    if _use_winograd(x.dtype, weight.shape, stride, dilation, groups):
        return _winograd_forward(kernels, x, weight, bias, out, top, left, has_bias,
                                 n_threads), False
    if _dilated_as_phases(x.shape, (ho, wo), weight.shape, x.dtype, stride, padding, dilation,
                          groups):
        dh, dw = dilation
        y = _workspace("phase_out", (n * dh * dw, c_out, ho // dh, wo // dw), x.dtype)
        _conv2d_forward(_phase_split(x, dh, dw, "phase_in"), weight,
                        bias if has_bias else None, (1, 1),
                        ((top // dh, bottom // dh), (left // dw, right // dw)), (1, 1), 1,
                        "zeros", out=y)
        return _phase_merge(y, dh, dw, out), False
    if _use_direct(kernels, x.dtype, weight.shape, stride, groups):
        return _direct_forward(kernels, x, weight, bias, out, top, left, dilation, has_bias,
                               n_threads), False
    if _use_direct_w8(kernels, x.dtype, weight.shape, stride, groups):
        return _direct_forward_w8(kernels, x, weight, bias, out, top, left, dilation,
                                  has_bias, n_threads, relu=relu), relu
    k = c_per_group * kh * kw
    tile = _tile_size(k, ho * wo, n, n_threads, x.itemsize, row=wo)
    workspace = _workspace("col", (n_threads, k * tile), x.dtype)
    with blas_single_threaded():
        kernels.conv2d_forward(x, weight, bias, out, workspace,
                               _packed_weight_scratch(kernels, c_out // groups, k, groups,
                                                      x.dtype),
                               stride[0], stride[1], top, left,
                               dilation[0], dilation[1], groups, has_bias, tile, n_threads)
    return out, False


def _conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups, padding_mode,
                     need_input_grad=True, need_bias_grad=True, grad_x_out=None):
    """Unchecked gradients of `_conv2d_forward`: ``(grad_x, grad_weight, grad_bias)``.

    ``grad_x`` is None unless ``need_input_grad``; ``grad_bias`` is None
    unless ``need_bias_grad``. ``grad_x_out`` may be a preallocated
    C-contiguous array of ``x``'s shape and dtype for ``grad_x``.
    """
    padded = padding_mode != "zeros" and any(padding[0] + padding[1])
    x_shape, user_padding = x.shape, padding
    if padded:
        x = _pad_input(x, padding, padding_mode)
        padding = ((0, 0), (0, 0))
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    top, left = padding[0][0], padding[1][0]
    sh, sw = stride
    dh, dw = dilation
    kernels = _dispatch.kernels("conv")
    n_threads = effective_n_threads(
        4 * grad_output.size * c_per_group * kh * kw)
    dtype = x.dtype
    grad_weight = np.empty(weight.shape, dtype=dtype)
    grad_bias = np.empty(c_out, dtype=dtype) if need_bias_grad else None
    if not need_input_grad:
        grad_x = None
    elif grad_x_out is not None and not padded:
        grad_x = grad_x_out
    else:
        grad_x = np.empty(x.shape, dtype=dtype)
    if n == 0:
        grad_weight[...] = 0
        if grad_bias is not None:
            grad_bias[...] = 0
        if grad_x is not None and padded:
            grad_x = np.zeros(x_shape, dtype=dtype)
        return grad_x, grad_weight, grad_bias

    if _dilated_as_phases(x.shape, grad_output.shape[2:], weight.shape, dtype, stride,
                          padding, dilation, groups):
        phase_pads = ((padding[0][0] // dh, padding[0][1] // dh),
                      (padding[1][0] // dw, padding[1][1] // dw))
        x_phases = _phase_split(x, dh, dw, "phase_in")
        # (the phases' input gradient in scratch too: a fresh multi-MB array
        # costs page faults on every call)
        gx, grad_weight, grad_bias = _conv2d_backward(
            _phase_split(grad_output, dh, dw, "phase_out"), x_phases, weight, (1, 1),
            phase_pads, (1, 1), 1, "zeros", need_input_grad, need_bias_grad,
            grad_x_out=_workspace("phase_grad_in", x_phases.shape, dtype)
            if need_input_grad else None)
        if need_input_grad:
            grad_x = _phase_merge(gx, dh, dw, grad_x)
            if padded:
                grad_x = _fold_padded_grad(grad_x, x_shape, user_padding, padding_mode)
        return grad_x, grad_weight, grad_bias

    depthwise = _is_depthwise(weight, groups, c_in)
    k = c_per_group * kh * kw
    positions = grad_output.shape[2] * grad_output.shape[3]
    chunks = _n_chunks(n, c_out * k, x.itemsize)
    chunk = -(-n // chunks)
    chunks = -(-n // chunk)
    part_w = _workspace("grad_w_partial", (chunks, c_out * k), dtype)
    part_b = _workspace("grad_b_partial", (chunks, c_out), dtype)
    if depthwise:
        ho, wo = grad_output.shape[2:]
        padded_size = (ho + (kh - 1) * dh) * (wo + (kw - 1) * dw)
        lanes = _workspace("col", (n_threads, kh * kw * wo + padded_size), dtype)
        kernels.conv2d_depthwise_backward_weight(x, grad_output, part_w, part_b, lanes, kh, kw,
                                                 sh, sw, top, left, dh, dw, need_bias_grad,
                                                 chunk, n_threads)
        if need_input_grad and (sh, sw) == (1, 1) and c_out == c_in:
            # channel multiplier 1: the input gradient is the depthwise
            # convolution of grad_output with the rotated kernels
            _depthwise_forward_s1(kernels, grad_output,
                                  np.ascontiguousarray(weight[:, :, ::-1, ::-1]), part_b[0],
                                  grad_x, dh * (kh - 1) - top, dw * (kw - 1) - left,
                                  (dh, dw), False, n_threads)
        elif need_input_grad:
            kernels.conv2d_depthwise_backward_input(grad_output, weight, grad_x, sh, sw, top,
                                                    left, dh, dw, n_threads)
    elif _use_winograd(dtype, weight.shape, stride, dilation, groups):
        ho, wo = grad_output.shape[2:]
        tile = _winograd_tile(c_in, c_out, ho, wo)
        ne = (tile + 2) ** 2
        chunks = _n_chunks(n, ne * c_out * c_in, x.itemsize)
        chunk = -(-n // chunks)
        chunks = -(-n // chunk)
        rb, ni = _winograd_blocks(c_in, c_out, ho, wo, 1, 1, x.itemsize, tile, chunk)
        size = kernels.winograd_workspace_size(c_in, c_out, tile, -(-wo // tile), rb, ni)
        workspace = _workspace("col", (n_threads, size), dtype)
        part_u = _workspace("grad_w_partial", (chunks, ne * c_out * c_in), dtype)
        part_b = _workspace("grad_b_partial", (chunks, c_out), dtype)
        with blas_single_threaded():
            kernels.conv2d_winograd_backward_weight(x, grad_output, part_u, part_b, workspace,
                                                    top, left, need_bias_grad, tile, chunk, rb,
                                                    ni, n_threads)
        grad_u = np.empty(ne * c_out * c_in, dtype=dtype)
        kernels.reduce_partials(part_u, grad_u, n_threads)
        _winograd_weight_grad(grad_u, tile, grad_weight)
        if need_input_grad:
            # The input gradient of a stride-1 convolution is the convolution
            # of grad_output with the flipped weights (padding 2 - padding).
            _winograd_forward(kernels, grad_output, _flipped_weight(weight, 1), part_b[:1, 0],
                              grad_x, kh - 1 - top, kw - 1 - left, False, n_threads)
        if need_bias_grad:
            kernels.reduce_partials(part_b, grad_bias, n_threads)
        if need_input_grad and padded:
            grad_x = _fold_padded_grad(grad_x, x_shape, user_padding, padding_mode)
        return grad_x, grad_weight, grad_bias
    else:
        tile = _tile_size(k, positions, n, n_threads, x.itemsize, row=grad_output.shape[3])
        workspace = _workspace("col", (n_threads, k * tile), dtype)
        flip_top, flip_left = dh * (kh - 1) - top, dw * (kw - 1) - left
        with blas_single_threaded():
            if (_use_direct(kernels, dtype, weight.shape, stride, groups)
                    and k >= _DIRECT_WGRAD_MIN_K):
                padded_h, padded_w, offs = _direct_geometry(c_in, kh, kw,
                                                            *grad_output.shape[2:], dilation)
                size = c_in * padded_h * padded_w + positions * c_out
                kernels.conv2d_direct_c16_backward_weight(
                    x, grad_output, offs, part_w, part_b,
                    _workspace("direct", (n_threads, size), dtype), padded_h, padded_w,
                    top, left, need_bias_grad, chunk, n_threads)
            elif (_use_direct_w8(kernels, dtype, weight.shape, stride, groups)
                    and kw <= 5 and (dh, dw) == (1, 1)):
                ho, wo = grad_output.shape[2:]
                size = c_in * (ho + kh - 1) * (wo + kw - 1) + 16 + 8 * ho * (-(-wo // 8) * 8)
                kernels.conv2d_direct_c8_backward_weight(
                    x, grad_output, part_w, part_b,
                    _workspace("direct", (n_threads, size), dtype), kh, kw, top, left,
                    need_bias_grad, chunk, n_threads)
            else:
                kernels.conv2d_backward_weight(x, grad_output, part_w, part_b, workspace, kh,
                                               kw, sh, sw, top, left, dh, dw, groups,
                                               need_bias_grad, chunk, tile, n_threads)
            # Stride 1: the input gradient is a forward convolution of
            # grad_output with the flipped weights -- no col2im scatter, and
            # tiles (not whole images) are the unit of parallel work. Its
            # im2col is C_out/C_in * (H*W)/(Ho*Wo) times the size of col2im's,
            # so it pays only when that ratio is small. (The choice never
            # depends on the thread count: results stay bit-identical.)
            flip_cost = (c_out * h * w) / (c_per_group * groups * positions)
            flip_ok = (sh, sw) == (1, 1) and min(flip_top, flip_left) >= 0
            if need_input_grad and flip_ok and flip_cost <= _FLIP_MAX_COST:
                flipped = _flipped_weight(weight, groups)
                k_in = flipped.shape[1] * kh * kw
                tile = _tile_size(k_in, h * w, n, n_threads, x.itemsize, row=w)
                workspace = _workspace("col", (n_threads, k_in * tile), dtype)
                kernels.conv2d_forward(grad_output, flipped, part_b[0], grad_x, workspace,
                                       _packed_weight_scratch(kernels, flipped.shape[0] // groups,
                                                              k_in, groups, dtype),
                                       1, 1, flip_top, flip_left, dh, dw, groups, False,
                                       tile, n_threads)
            elif need_input_grad:
                # (one image per thread here: the tile must not depend on it)
                tile = _tile_size(k, positions, 1, 1, x.itemsize, row=grad_output.shape[3])
                workspace = _workspace("col", (n_threads, k * tile), dtype)
                kernels.conv2d_backward_input(grad_output, weight, grad_x, workspace,
                                              _packed_weight_scratch(kernels, k,
                                                                     c_out // groups,
                                                                     groups, dtype),
                                              sh, sw, top, left, dh, dw, groups, tile,
                                              n_threads)
    kernels.reduce_partials(part_w, grad_weight.reshape(-1), n_threads)
    if need_bias_grad:
        kernels.reduce_partials(part_b, grad_bias, n_threads)
    if need_input_grad and padded:
        grad_x = _fold_padded_grad(grad_x, x_shape, user_padding, padding_mode)
    return grad_x, grad_weight, grad_bias


# --------------------------------------------------------------------------
# Public, checked functions
# --------------------------------------------------------------------------
def conv2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
           stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1, groups: int = 1,
           padding_mode: PaddingMode = "zeros") -> FloatArray:
    """2-D convolution (cross-correlation), exactly as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W) or (C_in, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    weight : array_like, shape (C_out, C_in // groups, kh, kw)
        The filter bank.
    bias : array_like, shape (C_out,), optional
        One offset per output channel.
    stride, dilation : int or (int, int), default 1
    padding : int, (int, int), "valid" or "same", default 0
        Zero-padding on each side; ``"same"`` (stride 1 only) keeps the
        size, putting the odd extra pixel after, as PyTorch does.
    groups : int, default 1
        Split channels into groups; ``groups == C_in`` is depthwise.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H + 2*pad - dilation*(kh-1) - 1) // stride + 1``.

    Examples
    --------
    The lecture's blur of a 5x5 image by a 3x3 kernel:

    >>> import numpy as np
    >>> from pyconv.functional import conv2d
    >>> image = np.array([[200, 200, 200, 200, 200],
    ...                   [200,  20,  20,  45, 200],
    ...                   [100,  20,  25,  65, 150],
    ...                   [ 80,  20,  40,  60,  80],
    ...                   [ 80,  30,  50,  80,  80]], dtype=np.float64)
    >>> g = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    >>> y = conv2d(image[None, None], g[None, None])
    >>> y.shape
    (1, 1, 3, 3)
    >>> print(y[0, 0, 0, 0], y[0, 0, 0, 1], y[0, 0, 1, 0])
    92.8125 71.5625 46.875
    """
    x, weight, bias, unbatched, stride, pads, dilation, groups, padding_mode = _check_conv(
        x, weight, bias, stride, padding, dilation, groups, padding_mode)
    y = _conv2d_forward(x, weight, bias, stride, pads, dilation, groups, padding_mode)
    return y[0] if unbatched else y


def conv2d_backward(grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike,
                    stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
                    groups: int = 1, padding_mode: PaddingMode = "zeros", *,
                    compute_grad_bias: bool = True
                    ) -> Tuple[FloatArray, FloatArray, Optional[FloatArray]]:
    """Gradients of `conv2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (N, C_out, H_out, W_out)
        Gradient of the loss with respect to ``conv2d(x, weight, ...)``.
    x, weight, stride, padding, dilation, groups, padding_mode
        As given to `conv2d`.
    compute_grad_bias : bool, default True
        When False, ``grad_bias`` is returned as None.

    Returns
    -------
    grad_x : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray of shape (C_out,) or None

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import conv2d_backward
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 3, 3))
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gb
    array([4.])
    >>> gw[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    x, weight, _, unbatched, stride, pads, dilation, groups, padding_mode = _check_conv(
        x, weight, None, stride, padding, dilation, groups, padding_mode)
    n, _, h, w = x.shape
    (top, bottom), (left, right) = pads
    ho = conv_output_size(h, weight.shape[2], stride[0], top, bottom, dilation[0])
    wo = conv_output_size(w, weight.shape[3], stride[1], left, right, dilation[1])
    expected = (n, weight.shape[0], ho, wo)
    grad_output = _check_grad_output(grad_output, x, unbatched, expected, "conv2d")
    grad_x, grad_weight, grad_bias = _conv2d_backward(
        grad_output, x, weight, stride, pads, dilation, groups, padding_mode,
        need_input_grad=True, need_bias_grad=bool(compute_grad_bias))
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


# --------------------------------------------------------------------------
# Pooling: private helpers, no validation
# --------------------------------------------------------------------------
def _pool_output_shape(input_shape, kernel, stride, padding, dilation, ceil_mode):
    """``(N, C, H_out, W_out)`` of a pooling of ``input_shape`` (N, C, H, W)."""
    n, c, h, w = input_shape
    h_out = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    w_out = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    return (n, c, h_out, w_out)


def _pool_work(big, small):
    """Work estimate of a pooling call: the elements it reads and writes,
    weighted like a few floating-point operations each."""
    return 8 * (big.size + small.size)


def _max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode, out=None):
    """Max pooling of a float NCHW array; returns ``(y, indices)``.

    ``indices`` (int64, shape of ``y``) holds the flat position ``h * W + w``
    of each maximum within its (n, c) plane, as PyTorch's ``return_indices``.
    ``out`` may be a preallocated ``(y, indices)`` pair to fill.
    """
    x = np.ascontiguousarray(x)
    shape = _pool_output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)
    if out is None:
        y = np.empty(shape, dtype=x.dtype)
        indices = np.empty(shape, dtype=np.int64)
    else:
        y, indices = out
    _dispatch.kernels("pool").max_pool2d_forward(
        x, y, indices, kernel[0], kernel[1], stride[0], stride[1],
        padding[0], padding[1], dilation[0], dilation[1], effective_n_threads(_pool_work(x, y)))
    return y, indices


def _max_pool2d_backward(grad_output, indices, input_shape, out=None):
    """Gradient of max pooling: ``grad_output`` added at ``indices`` into a
    zero array of ``input_shape`` (N, C, H, W), in ``grad_output``'s dtype
    (written into ``out`` when given)."""
    grad_output = np.ascontiguousarray(grad_output)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    # The kernel zeroes grad_x itself.
    grad_x = np.empty(tuple(input_shape), dtype=grad_output.dtype) if out is None else out
    _dispatch.kernels("pool").max_pool2d_backward(
        grad_output, indices, grad_x, effective_n_threads(_pool_work(grad_x, grad_output)))
    return grad_x


def _avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    """Average pooling of a float NCHW array (``divisor_override`` None or int)."""
    x = np.ascontiguousarray(x)
    shape = _pool_output_shape(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    y = np.empty(shape, dtype=x.dtype)
    _dispatch.kernels("pool").avg_pool2d_forward(
        x, y, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
        bool(count_include_pad), divisor_override or 0, effective_n_threads(_pool_work(x, y)))
    return y


def _avg_pool2d_backward(grad_output, input_shape, kernel, stride, padding, ceil_mode,
                         count_include_pad, divisor_override):
    """Gradient of average pooling for an input of ``input_shape`` (N, C, H, W).

    ``ceil_mode`` is implied by the shape of ``grad_output``; it is taken for
    symmetry with `_avg_pool2d_forward`.
    """
    del ceil_mode  # the output size is read from grad_output's shape
    grad_output = np.ascontiguousarray(grad_output)
    # The kernel zeroes grad_x itself.
    grad_x = np.empty(tuple(input_shape), dtype=grad_output.dtype)
    _dispatch.kernels("pool").avg_pool2d_backward(
        grad_output, grad_x, kernel[0], kernel[1], stride[0], stride[1],
        padding[0], padding[1], bool(count_include_pad), divisor_override or 0,
        effective_n_threads(_pool_work(grad_x, grad_output)))
    return grad_x


# --------------------------------------------------------------------------
# Pooling: argument checking
# --------------------------------------------------------------------------
def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        fail(TypeError, name, "a bool", repr(value))
    return bool(value)


def _check_pool(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the arguments shared by the pooling functions.

    Returns ``(x4, unbatched, kernel, stride, padding, dilation, ceil_mode)``
    with ``x4`` a C-contiguous float NCHW array and int pairs.
    """
    x = as_float_array(x, "x")
    x4, unbatched = _as_batch(x, "x")
    if min(x4.shape[1:]) < 1:
        fail(ValueError, "x", "an array with non-zero channels, height and width",
             f"shape {x.shape}")
    kernel = check_pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else check_pair(stride, "stride")
    padding = check_pair(padding, "padding", min_value=0)
    dilation = check_pair(dilation, "dilation")
    for name, pair in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        check_int32(pair, name)
    ceil_mode = _check_bool(ceil_mode, "ceil_mode")

    # PyTorch's rule: padding at most half the (effective) kernel size.
    if op == "max_pool2d":
        extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
        what = (f"at most half the effective kernel size ((kernel_size - 1) * dilation + 1)"
                f" // 2 = {(extent[0] // 2, extent[1] // 2)}")
        options = f"kernel_size={kernel} and dilation={dilation}"
    else:
        extent = kernel
        what = f"at most half the kernel size, kernel_size // 2 = {(extent[0] // 2, extent[1] // 2)}"
        options = f"kernel_size={kernel}"
    if padding[0] > extent[0] // 2 or padding[1] > extent[1] // 2:
        fail(ValueError, "padding", what, f"{padding} with {options}")

    out_shape = _pool_output_shape(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    if out_shape[2] < 1 or out_shape[3] < 1:
        dilation_text = f", dilation={dilation}" if op == "max_pool2d" else ""
        fail(ValueError, "x",
             f"large enough for at least one {op} output position with "
             f"kernel_size={kernel}, stride={stride}, padding={padding}{dilation_text}, "
             f"ceil_mode={ceil_mode} (output size would be {out_shape[2:]})",
             f"shape {x.shape}")
    return x4, unbatched, kernel, stride, padding, dilation, ceil_mode


def _check_avg_options(count_include_pad, divisor_override):
    count_include_pad = _check_bool(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        divisor_override = check_int(divisor_override, "divisor_override", min_value=1)
        check_int32(divisor_override, "divisor_override")
    return count_include_pad, divisor_override


def _check_grad_output(grad_output, x4, unbatched, expected, op):
    """``grad_output`` as a C-contiguous NCHW array of ``x4``'s dtype with
    the shape ``expected`` of the forward output."""
    grad_output = as_float_array(grad_output, "grad_output", dtype=x4.dtype)
    if unbatched and grad_output.ndim == 3:
        grad_output = grad_output[np.newaxis]
    if grad_output.shape != expected:
        shown = expected[1:] if unbatched else expected
        fail(ValueError, "grad_output", f"the shape of {op}'s output {shown}",
             f"shape {grad_output.shape}")
    return grad_output


# --------------------------------------------------------------------------
# Pooling: public, checked functions
# --------------------------------------------------------------------------
def max_pool2d(x: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False
               ) -> Union[FloatArray, Tuple[FloatArray, IndexArray]]:
    """2-D max pooling, exactly as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit -inf padding on each side, at most half the effective
        window ``(kernel_size - 1) * dilation + 1``.
    dilation : int or (int, int), default 1
        Spacing between the elements of a window.
    ceil_mode : bool, default False
        Round the output size up instead of down; a window starting in the
        right or bottom padding is dropped (PyTorch's rule).
    return_indices : bool, default False
        Also return the position of each maximum.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``H_out = (H + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1``
        (rounded up with ``ceil_mode``).
    indices : ndarray of int64, shape of ``y``
        Only with ``return_indices``: the flat index ``h * W + w`` of each
        maximum within its (n, c) plane. Among equal maxima the first in
        row-major window order wins; a NaN in a window is the maximum.

    Examples
    --------
    The lecture's 2x2 max pooling:

    >>> import numpy as np
    >>> from pyconv.functional import max_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d(x, 2)
    array([[[[9.]]]])
    >>> y, indices = max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2,
    ...                         return_indices=True)
    >>> y[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> indices[0, 0]
    array([[ 5,  7],
           [13, 15]])
    """
    x4, unbatched, kernel, stride, padding, dilation, ceil_mode = _check_pool(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = _check_bool(return_indices, "return_indices")
    y, indices = _max_pool2d_forward(x4, kernel, stride, padding, dilation, ceil_mode)
    if unbatched:
        y, indices = y[0], indices[0]
    return (y, indices) if return_indices else y


def max_pool2d_backward(grad_output: ArrayLike, x: ArrayLike, kernel_size: IntPair,
                        stride: Optional[IntPair] = None, padding: IntPair = 0,
                        dilation: IntPair = 1, ceil_mode: bool = False) -> FloatArray:
    """Gradient of `max_pool2d` with respect to its input.

    Each output gradient goes to the position of its window's maximum
    (recomputed from ``x``); positions that are the maximum of several
    windows receive the sum.

    Parameters
    ----------
    grad_output : array_like, shape of ``max_pool2d(x, ...)``
        Gradient of the loss with respect to the pooled output.
    x, kernel_size, stride, padding, dilation, ceil_mode
        As given to `max_pool2d`.

    Returns
    -------
    grad_x : ndarray, shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import max_pool2d_backward
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d_backward(np.array([[[[5.0]]]]), x, 2)
    array([[[[0., 0.],
             [0., 5.]]]])
    """
    x4, unbatched, kernel, stride, padding, dilation, ceil_mode = _check_pool(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    expected = _pool_output_shape(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    grad_output = _check_grad_output(grad_output, x4, unbatched, expected, "max_pool2d")
    _, indices = _max_pool2d_forward(x4, kernel, stride, padding, dilation, ceil_mode)
    grad_x = _max_pool2d_backward(grad_output, indices, x4.shape)
    return grad_x[0] if unbatched else grad_x


def avg_pool2d(x: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> FloatArray:
    """2-D average pooling, exactly as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit zero padding on each side, at most ``kernel_size // 2``.
    ceil_mode : bool, default False
        Round the output size up instead of down; a window starting in the
        right or bottom padding is dropped (PyTorch's rule).
    count_include_pad : bool, default True
        Divide by the window size including padding (but not the part of a
        ``ceil_mode`` window beyond the padding); if False, by the number
        of input elements in the window.
    divisor_override : int, optional
        Divide every window sum by this positive int instead.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import avg_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> avg_pool2d(x, 2)
    array([[[[4.]]]])
    >>> avg_pool2d(x, 2, divisor_override=2)
    array([[[[8.]]]])
    """
    x4, unbatched, kernel, stride, padding, _, ceil_mode = _check_pool(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad, divisor_override = _check_avg_options(count_include_pad,
                                                             divisor_override)
    y = _avg_pool2d_forward(x4, kernel, stride, padding, ceil_mode, count_include_pad,
                            divisor_override)
    return y[0] if unbatched else y


def avg_pool2d_backward(grad_output: ArrayLike, x: ArrayLike, kernel_size: IntPair,
                        stride: Optional[IntPair] = None, padding: IntPair = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None) -> FloatArray:
    """Gradient of `avg_pool2d` with respect to its input.

    Each output gradient, divided by its window's divisor, is added to every
    input element of the window.

    Parameters
    ----------
    grad_output : array_like, shape of ``avg_pool2d(x, ...)``
        Gradient of the loss with respect to the pooled output.
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As given to `avg_pool2d` (only the shape and dtype of ``x`` matter).

    Returns
    -------
    grad_x : ndarray, shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import avg_pool2d_backward
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> avg_pool2d_backward(np.array([[[[8.0]]]]), x, 2)
    array([[[[2., 2.],
             [2., 2.]]]])
    """
    x4, unbatched, kernel, stride, padding, _, ceil_mode = _check_pool(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad, divisor_override = _check_avg_options(count_include_pad,
                                                             divisor_override)
    expected = _pool_output_shape(x4.shape, kernel, stride, padding, (1, 1), ceil_mode)
    grad_output = _check_grad_output(grad_output, x4, unbatched, expected, "avg_pool2d")
    grad_x = _avg_pool2d_backward(grad_output, x4.shape, kernel, stride, padding, ceil_mode,
                                  count_include_pad, divisor_override)
    return grad_x[0] if unbatched else grad_x


# --------------------------------------------------------------------------
# Transposed convolution and resampling: public, checked functions
# (the unchecked helpers are in `pyconv._resample`)
# --------------------------------------------------------------------------
def _check_conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate `conv_transpose2d`'s arguments; return arrays and int pairs."""
    x = as_float_array(x, "x")
    weight = as_float_array(weight, "weight")
    x, unbatched = _as_batch(x, "x")
    if weight.ndim != 4:
        fail(ValueError, "weight", "a 4-D array [in_channels, out_channels/groups, kh, kw]",
             f"shape {weight.shape}")
    arrays = [x, weight]
    if bias is not None:
        bias = as_float_array(bias, "bias")
        arrays.append(bias)
    dtype = common_float_dtype(*arrays)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    stride = check_int32(check_pair(stride, "stride"), "stride")
    dilation = check_int32(check_pair(dilation, "dilation"), "dilation")
    padding = check_int32(check_pair(padding, "padding", min_value=0), "padding")
    output_padding = check_pair(output_padding, "output_padding", min_value=0)
    groups = check_int(groups, "groups", min_value=1)
    c_in, c_out_g, kh, kw = weight.shape
    if min(weight.shape) < 1:
        fail(ValueError, "weight", "a non-empty array (every dimension >= 1)",
             f"shape {weight.shape}")
    if x.shape[1] != c_in:
        fail(ValueError, "weight", f"shape[0] == in_channels of x ({x.shape[1]})",
             f"shape {weight.shape}")
    if c_in % groups:
        fail(ValueError, "groups", f"a divisor of in_channels ({c_in})", groups)
    if bias is not None:
        if bias.shape != (c_out_g * groups,):
            fail(ValueError, "bias", f"a 1-D array of shape ({c_out_g * groups},) "
                 "(one value per output channel)", f"shape {bias.shape}")
        bias = bias.astype(dtype, copy=False)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            fail(ValueError, "output_padding", f"smaller than stride {stride} or dilation "
                 f"{dilation} along each axis", output_padding)
    out_hw = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d
                   in zip(x.shape[2:], (kh, kw), stride, padding, output_padding, dilation))
    if min(out_hw) < 1:
        fail(ValueError, "x", f"large enough for a positive output size (would be {out_hw} "
             f"with kernel {kh}x{kw}, stride {stride}, padding {padding}, dilation "
             f"{dilation})", f"shape {x.shape}")
    return x, weight, bias, unbatched, stride, padding, output_padding, groups, dilation


def conv_transpose2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> FloatArray:
    """2-D transposed convolution, exactly as ``torch.nn.functional.conv_transpose2d``.

    The gradient of `conv2d` with respect to its input, as a layer: each
    input pixel scatters a weighted copy of the kernel into the output.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, shape (C_in, C_out // groups, kh, kw)
        Note the order: input channels first (PyTorch's layout).
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or (int, int), default 1, 0, 1
        As in PyTorch, ``padding`` is that of the convolution this operation
        transposes: it trims ``padding`` rows/columns from each side.
    output_padding : int or (int, int), default 0
        Extra rows/columns added to one side of the output; smaller than
        ``stride`` or ``dilation``.
    groups : int, default 1

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1``.

    Examples
    --------
    A stride-2 transposed convolution doubles the size:

    >>> import numpy as np
    >>> from pyconv.functional import conv_transpose2d
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    """
    x, weight, bias, unbatched, stride, padding, output_padding, groups, dilation = \
        _check_conv_transpose(x, weight, bias, stride, padding, output_padding, groups,
                              dilation)
    y = _resample._conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding,
                                            groups, dilation)
    return y[0] if unbatched else y


def conv_transpose2d_backward(grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike,
                              stride: IntPair = 1, padding: IntPair = 0,
                              output_padding: IntPair = 0, groups: int = 1,
                              dilation: IntPair = 1, *, compute_grad_bias: bool = True
                              ) -> Tuple[FloatArray, FloatArray, Optional[FloatArray]]:
    """Gradients of `conv_transpose2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (N, C_out, H_out, W_out)
        Gradient of the loss with respect to ``conv_transpose2d(x, weight, ...)``.
    x, weight, stride, padding, output_padding, groups, dilation
        As given to `conv_transpose2d`.
    compute_grad_bias : bool, default True
        When False, ``grad_bias`` is returned as None.

    Returns
    -------
    grad_x : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray of shape (C_out,), or None when ``compute_grad_bias`` is False

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import conv_transpose2d_backward
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> gx, gw, gb = conv_transpose2d_backward(np.ones((1, 1, 4, 4)), x,
    ...                                        np.ones((1, 1, 2, 2)), stride=2)
    >>> gx[0, 0], gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([[10., 10.],
           [10., 10.]]), array([16.]))
    """
    x, weight, _, unbatched, stride, padding, output_padding, groups, dilation = \
        _check_conv_transpose(x, weight, None, stride, padding, output_padding, groups,
                              dilation)
    out_hw = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d
                   in zip(x.shape[2:], weight.shape[2:], stride, padding, output_padding,
                          dilation))
    expected = (x.shape[0], weight.shape[1] * groups) + out_hw
    grad_output = _check_grad_output(grad_output, x, unbatched, expected, "conv_transpose2d")
    grad_x, grad_weight, grad_bias = _resample._conv_transpose2d_backward(
        grad_output, x, weight, stride, padding, groups, dilation,
        need_bias_grad=bool(compute_grad_bias))
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


INTERPOLATE_MODES = ("nearest", "bilinear")


def _check_interpolate(input_hw, size, scale_factor, mode, align_corners):
    """Validate `interpolate`'s options; return ``(out_hw, scales, mode, align_corners)``.

    ``scales`` is None when ``size`` was given, else a pair of floats.
    """
    mode = check_choice(mode, "mode", INTERPOLATE_MODES)
    if align_corners is not None:
        align_corners = _check_bool(align_corners, "align_corners")
        if mode == "nearest":
            fail(ValueError, "align_corners", "None with mode='nearest' (it only applies "
                 "to 'bilinear', as in PyTorch)", align_corners)
    align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        fail(ValueError, "size, scale_factor", "exactly one of them given",
             (size, scale_factor))
    if size is not None:
        out_hw = check_int32(check_pair(size, "size"), "size")
        return out_hw, None, mode, align_corners
    pair = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(pair) != 2:
        fail(ValueError, "scale_factor", "a positive number or a pair of them", scale_factor)
    scales = tuple(check_positive_float(s, "scale_factor") for s in pair)
    out_hw = tuple(_resample.resize_output_size(n, s) for n, s in zip(input_hw, scales))
    if min(out_hw) < 1:
        fail(ValueError, "scale_factor", f"large enough for an output of at least 1x1 from "
             f"{tuple(input_hw)} (would be {out_hw})", scale_factor)
    return out_hw, scales, mode, align_corners


def interpolate(x: ArrayLike, size: Optional[IntPair] = None,
                scale_factor: Union[float, Sequence[float], None] = None, mode: str = "nearest",
                align_corners: Optional[bool] = None) -> FloatArray:
    """Resize images, exactly as ``torch.nn.functional.interpolate`` (2-D modes).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    size : int or (int, int), optional
        Output height and width. Give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or (float, float), optional
        Output size ``floor(H * scale)``; PyTorch's rule for where output
        pixels sample the input (``1 / scale_factor``, not ``H / H_out``).
    mode : {"nearest", "bilinear"}, default "nearest"
    align_corners : bool, optional
        ``"bilinear"`` only: map the corner pixels' centres onto each other
        (default False, as PyTorch).

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import interpolate
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> interpolate(x, scale_factor=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    >>> interpolate(x, size=3, mode="bilinear", align_corners=True)[0, 0]
    array([[1. , 1.5, 2. ],
           [2. , 2.5, 3. ],
           [3. , 3.5, 4. ]])
    """
    x = as_float_array(x, "x")
    x4, unbatched = _as_batch(x, "x")
    if min(x4.shape[1:]) < 1:
        fail(ValueError, "x", "an array with non-zero channels, height and width",
             f"shape {x.shape}")
    out_hw, scales, mode, align_corners = _check_interpolate(x4.shape[2:], size, scale_factor,
                                                             mode, align_corners)
    y = _resample._interpolate_forward(x4, out_hw, scales, mode, align_corners)
    return y[0] if unbatched else y


def interpolate_backward(grad_output: ArrayLike, input_shape: Sequence[int],
                         size: Optional[IntPair] = None,
                         scale_factor: Union[float, Sequence[float], None] = None,
                         mode: str = "nearest", align_corners: Optional[bool] = None
                         ) -> FloatArray:
    """Gradient of `interpolate` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape of `interpolate`'s output
    input_shape : tuple of int
        Shape of `interpolate`'s input, ``(N, C, H, W)`` or ``(C, H, W)``.
    size, scale_factor, mode, align_corners
        As given to `interpolate`.

    Returns
    -------
    grad_x : ndarray of shape ``input_shape``

    Examples
    --------
    Nearest upsampling by 2 sums each 2x2 block of the gradient:

    >>> import numpy as np
    >>> from pyconv.functional import interpolate_backward
    >>> interpolate_backward(np.ones((1, 1, 4, 4)), (1, 1, 2, 2), scale_factor=2)[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (3, 4) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
            for v in input_shape):
        fail(ValueError, "input_shape", "a tuple of 4 (N, C, H, W) or 3 (C, H, W) positive "
             "ints", repr(input_shape))
    input_shape = tuple(int(v) for v in input_shape)
    unbatched = len(input_shape) == 3
    shape4 = (1,) + input_shape if unbatched else input_shape
    out_hw, scales, mode, align_corners = _check_interpolate(shape4[2:], size, scale_factor,
                                                             mode, align_corners)
    grad_output = as_float_array(grad_output, "grad_output")
    probe = np.empty((0,), dtype=grad_output.dtype)
    grad_output = _check_grad_output(grad_output, probe, unbatched, shape4[:2] + out_hw,
                                     "interpolate")
    grad_x = _resample._interpolate_backward(grad_output, shape4, scales, mode, align_corners)
    return grad_x[0] if unbatched else grad_x


from . import _resample  # noqa: E402  (its helpers use this module's private ones)
