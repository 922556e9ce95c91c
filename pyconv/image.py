"""The lecture's image processing: loading, channel order, and 2-D filters.

Images are numpy arrays in channel-first order, as in the lecture and
PyTorch: one image is ``[C, H, W]`` (``[3, H, W]`` in R-G-B order for colour
photos), a batch is ``[N, C, H, W]``, and a grayscale image may also be a
plain ``[H, W]`` array. Pixels are ``uint8`` in ``[0, 255]`` (0 is black, 255
is white) or floats.

Every filter here is a depthwise `pyconv.functional.conv2d` (``groups=C``):
the same 2-D kernel is swept over each channel independently, with
``padding="same"`` and reflect padding by default so the result has the size
of the input and no dark border.

Loading files needs Pillow (``pip install pyconv[image]``); everything else
needs only numpy.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

import numpy as np

from . import functional
from ._shapes import NUMPY_PAD_MODE, PADDING_MODES, padding_limit_violation, same_padding
from ._typing import ArrayLike, FloatArray, Padding, PaddingMode
from ._validation import (
    as_float_array,
    check_choice,
    check_int,
    check_pair,
    check_positive_float,
    fail,
    looks_channels_last,
)

__all__ = [
    "load_image",
    "to_float",
    "from_bgr",
    "to_bgr",
    "gaussian_kernel",
    "gaussian_kernel_5x5",
    "sobel_kernels",
    "filter2d",
    "gaussian_blur",
    "sobel_magnitude",
]

#: ITU-R BT.601 luma weights for R, G, B (what Pillow's ``convert("L")`` uses).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)



# --------------------------------------------------------------------------
# Layout checks
# --------------------------------------------------------------------------
def _check_layout(img, name, allow_2d=True):
    """Raise a clear error for arrays that are not HW / CHW / NCHW."""
    ndim = img.ndim
    allowed = "a 2-D [H, W], 3-D [C, H, W] or 4-D [N, C, H, W] array" if allow_2d else (
        "a 3-D [C, H, W] or 4-D [N, C, H, W] array")
    if ndim not in ((2, 3, 4) if allow_2d else (3, 4)):
        fail(ValueError, name, allowed, f"shape {img.shape}")
    if ndim == 3 and looks_channels_last(img.shape):
        fail(ValueError, name, "channel-first [C, H, W] (this looks like channels-last "
             "[H, W, C]; convert it with `img.transpose(2, 0, 1)`)", f"shape {img.shape}")
    if ndim == 4 and looks_channels_last(img.shape[1:]):
        fail(ValueError, name, "channel-first [N, C, H, W] (this looks like channels-last "
             "[N, H, W, C]; convert it with `img.transpose(0, 3, 1, 2)`)", f"shape {img.shape}")


# --------------------------------------------------------------------------
# Loading and conversions
# --------------------------------------------------------------------------
# Pillow's modes for 16-bit grayscale files (a 16-bit PNG opens as "I;16", or
# as 32-bit "I" in older Pillow); convert("RGB") would clip them at 255.
_SIXTEEN_BIT_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _scale_16_to_8_bit(values):
    """[0, 65535] onto [0, 255], rounded to nearest (65535 / 255 = 257 exactly)."""
    values = np.clip(values.astype(np.int64), 0, 65535)
    return ((values + 128) // 257).astype(np.uint8)


# resizing filters by Keras's names: Pillow's filters of the same family
RESAMPLING = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC",
              "area": "BOX", "lanczos3": "LANCZOS", "lanczos5": "LANCZOS"}


def load_image(path: Union[str, os.PathLike[str]]) -> np.ndarray:
    """Read an image file as a ``uint8`` array ``[3, H, W]`` in R-G-B order.

    This is the layout of the lecture's ``pil_to_tensor``: channel first,
    values in ``[0, 255]``. Grayscale (``L``), palette (``P``), RGBA, CMYK
    and other modes are converted to RGB with Pillow's ``convert("RGB")``:
    a gray value is copied to all three channels, a palette is looked up,
    and an alpha channel is dropped (not composited onto a background).
    16-bit grayscale images (such as 16-bit PNGs) are scaled from
    ``[0, 65535]`` to ``[0, 255]`` with rounding, so the result stays
    ``uint8`` and keeps the image's contrast; 16-bit color images are
    reduced to 8 bits by Pillow.

    Parameters
    ----------
    path : str or os.PathLike
        Any file Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP, ...).
        For animated files the first frame is read.

    Returns
    -------
    image : ndarray of uint8, shape (3, H, W)

    Raises
    ------
    ImportError
        If Pillow is not installed (``pip install pyconv[image]``).
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image Pillow can read.

    See Also
    --------
    to_float : scale the result to floats in ``[0, 1]``.
    from_bgr : for arrays that came from OpenCV (B-G-R order).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from pyconv.image import load_image
    >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
    >>> Image.new("RGB", (4, 2), (255, 0, 0)).save(path)
    >>> img = load_image(path)
    >>> img.shape, img.dtype
    ((3, 2, 4), dtype('uint8'))
    >>> img[:, 0, 0]
    array([255,   0,   0], dtype=uint8)
    """
    hwc = np.asarray(_open_image(path, "RGB"), dtype=np.uint8)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def _open_image(path: Union[str, os.PathLike[str]], mode: str,
                size: Optional[Tuple[int, int]] = None, resample: str = "bilinear") -> Any:
    """Decode ``path`` with Pillow into a PIL image of ``mode`` ("L", "RGB",
    "RGBA"), resized to ``size`` = (height, width) when given; the errors of
    `load_image`. Used by `load_image` and ``image_dataset_from_directory``.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise ImportError(
            "pyconv.image needs Pillow to read image files: pip install pyconv[image] "
            "(or pip install pillow)") from exc
    if not isinstance(path, (str, bytes, os.PathLike)):
        fail(TypeError, "path", "a str or os.PathLike file path", repr(path))
    try:
        with Image.open(path) as pil_image:
            if pil_image.mode in _SIXTEEN_BIT_GRAY_MODES:
                pil_image = Image.fromarray(_scale_16_to_8_bit(np.asarray(pil_image)))
            converted = pil_image.convert(mode)
            if size is not None and converted.size != (size[1], size[0]):
                filter_ = getattr(Image.Resampling, RESAMPLING[resample])
                converted = converted.resize((size[1], size[0]), resample=filter_)
    except UnidentifiedImageError as exc:
        fail(ValueError, "path", "an image file Pillow can read (PNG, JPEG, ...)",
             f"{os.fspath(path)!r}, which is not a recognised image ({exc})")
    except (OSError, SyntaxError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        fail(ValueError, "path", "a readable, undamaged image file",
             f"{os.fspath(path)!r} ({exc})")
    return converted


def to_float(img: ArrayLike, scale: bool = True) -> FloatArray:
    """Convert an image to floating point, ``uint8`` to ``[0, 1]``.

    Parameters
    ----------
    img : array_like
        Any image array (layout is not changed).
    scale : bool, default True
        Divide unsigned integer images by their largest value (255 for
        ``uint8``, 65535 for ``uint16``) so they lie in ``[0, 1]``. Signed
        integer and boolean images are converted without scaling, and float
        images are never rescaled.

    Returns
    -------
    ndarray
        float64 if ``img`` is float64, else float32. Always a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.image import to_float
    >>> to_float(np.array([0, 51, 255], dtype=np.uint8))
    array([0. , 0.2, 1. ], dtype=float32)
    >>> to_float(np.array([0, 51, 255], dtype=np.uint8), scale=False)
    array([  0.,  51., 255.], dtype=float32)
    >>> to_float(np.array([0.5])).dtype
    dtype('float64')
    """
    arr = np.asarray(img)
    out = as_float_array(arr, "img")
    if out is arr or np.shares_memory(out, arr):
        out = out.copy()
    if scale and arr.dtype.kind == "u":
        out /= out.dtype.type(np.iinfo(arr.dtype).max)
    return out


def _flip_rgb(img, name):
    arr = np.asarray(img)
    if arr.ndim not in (3, 4):
        fail(ValueError, name, "a 3-D [3, H, W] image or a 4-D [N, 3, H, W] batch",
             f"shape {arr.shape}")
    _check_layout(arr, name, allow_2d=False)
    channel_axis = arr.ndim - 3
    if arr.shape[channel_axis] not in (3, 4):
        fail(ValueError, name, "an image with 3 (or 4, with alpha) channels on axis "
             f"{channel_axis}", f"shape {arr.shape}")
    order = [2, 1, 0] + ([3] if arr.shape[channel_axis] == 4 else [])
    return np.ascontiguousarray(np.take(arr, order, axis=channel_axis))


def from_bgr(img: ArrayLike) -> np.ndarray:
    """Reorder channels B-G-R to R-G-B (OpenCV order to pyconv's).

    OpenCV stores colour images in B-G-R order; pyconv, Pillow and PyTorch use
    R-G-B. An alpha channel (BGRA) stays last. Note that OpenCV arrays are
    also channels-last ``(H, W, 3)``: transpose them first with
    ``img.transpose(2, 0, 1)``; passing ``(H, W, 3)`` raises a `ValueError`
    that says so.

    Parameters
    ----------
    img : array_like, shape (3, H, W), (4, H, W) or (N, 3 or 4, H, W)

    Returns
    -------
    ndarray
        Same shape and dtype, channels reordered (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.image import from_bgr
    >>> bgr = np.zeros((3, 1, 1), dtype=np.uint8)
    >>> bgr[0] = 255                      # blue in OpenCV order
    >>> from_bgr(bgr)[:, 0, 0]            # blue is the last channel in RGB
    array([  0,   0, 255], dtype=uint8)
    """
    return _flip_rgb(img, "img")


def to_bgr(img: ArrayLike) -> np.ndarray:
    """Reorder channels R-G-B to B-G-R (pyconv's order to OpenCV's).

    The inverse of `from_bgr` (the same flip). OpenCV also expects
    channels-last arrays: use ``to_bgr(img).transpose(1, 2, 0)``.

    Parameters
    ----------
    img : array_like, shape (3, H, W), (4, H, W) or (N, 3 or 4, H, W)

    Returns
    -------
    ndarray
        Same shape and dtype, channels reordered (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.image import to_bgr
    >>> rgb = np.arange(3, dtype=np.uint8).reshape(3, 1, 1)
    >>> to_bgr(rgb).ravel()
    array([2, 1, 0], dtype=uint8)
    """
    return _flip_rgb(img, "img")


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------
def gaussian_kernel(size: int, sigma: float) -> FloatArray:
    """A ``size x size`` Gaussian kernel normalised to sum 1.

    ``g[i, j] = exp(-((i - c)**2 + (j - c)**2) / (2 sigma**2))`` with the
    centre ``c = (size - 1) / 2``, divided by its sum so that blurring keeps
    the mean brightness.

    Parameters
    ----------
    size : int
        Side length (odd sizes have a centre pixel; even sizes are allowed).
    sigma : float
        Standard deviation in pixels, > 0.

    Returns
    -------
    kernel : ndarray of float64, shape (size, size)

    Examples
    --------
    >>> from pyconv.image import gaussian_kernel
    >>> g = gaussian_kernel(3, 1.0)
    >>> g.shape, round(float(g.sum()), 12)
    ((3, 3), 1.0)
    >>> bool(g[1, 1] == g.max())
    True
    """
    size = check_int(size, "size", min_value=1)
    sigma = check_positive_float(sigma, "sigma")
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    profile = np.exp(-(offsets ** 2) / (2.0 * sigma ** 2))
    kernel = np.outer(profile, profile)
    return kernel / kernel.sum()


def gaussian_kernel_5x5() -> FloatArray:
    """The lecture's 5x5 Gaussian blur kernel: integer weights divided by 273.

    ::

        [[1,  4,  7,  4, 1],
         [4, 16, 26, 16, 4],
         [7, 26, 41, 26, 7],   / 273
         [4, 16, 26, 16, 4],
         [1,  4,  7,  4, 1]]

    The slide prints the last row as ``[1, 4, 4, 4, 1]``: that is a typo.
    The kernel is symmetric, so the last row equals the first, and only then
    do the weights sum to 273 (the slide's version sums to 270, so it would
    darken the image by about 1%).

    Returns
    -------
    kernel : ndarray of float64, shape (5, 5)
        Sums to 1.

    Examples
    --------
    >>> from pyconv.image import gaussian_kernel_5x5
    >>> g = gaussian_kernel_5x5()
    >>> print(round(float(g.sum() * 273)))
    273
    >>> print(g[2, 2] * 273)
    41.0
    """
    weights = np.array([[1, 4, 7, 4, 1],
                        [4, 16, 26, 16, 4],
                        [7, 26, 41, 26, 7],
                        [4, 16, 26, 16, 4],
                        [1, 4, 7, 4, 1]], dtype=np.float64)
    return weights / 273.0


def sobel_kernels() -> Tuple[FloatArray, FloatArray]:
    """The lecture's Sobel kernels ``(gx, gy)`` for the image gradient.

    ``gx`` responds to intensity increasing from left to right (vertical
    edges), ``gy`` to intensity increasing from top to bottom (horizontal
    edges), applied as cross-correlation (`pyconv.functional.conv2d`).

    Returns
    -------
    gx, gy : ndarray of float64, shape (3, 3)

    Examples
    --------
    >>> from pyconv.image import sobel_kernels
    >>> gx, gy = sobel_kernels()
    >>> gx
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    >>> bool((gy == gx.T).all())
    True
    """
    gx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    gy = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)
    return gx, gy


# --------------------------------------------------------------------------
# Filtering
# --------------------------------------------------------------------------
def _as_image_batch(img, name):
    """Return ``(x4, restore)``: ``img`` as a float NCHW batch and a function
    that gives results the caller's layout back."""
    arr = as_float_array(img, name)
    _check_layout(arr, name)
    if arr.ndim == 2:
        return arr[np.newaxis, np.newaxis], lambda y: y[0, 0]
    if arr.ndim == 3:
        return arr[np.newaxis], lambda y: y[0]
    return arr, lambda y: y


def _resolve_padding(padding, kernel_shape):
    """``((top, bottom), (left, right))`` from "same" / "valid" / int / pair."""
    if isinstance(padding, str):
        check_choice(padding, "padding", ("same", "valid"))
        if padding == "valid":
            return (0, 0), (0, 0)
        return same_padding(kernel_shape[0], 1), same_padding(kernel_shape[1], 1)
    ph, pw = check_pair(padding, "padding", min_value=0)
    return (ph, ph), (pw, pw)


def _depthwise(x, kernels, pads, padding_mode):
    """Apply every 2-D kernel in ``kernels`` ([K, kh, kw]) to every channel of
    the NCHW batch ``x``; output channels are ordered channel-major
    ``[c0k0, c0k1, ..., c1k0, ...]``. No validation (private)."""
    n, c, h, w = x.shape
    k, kh, kw = kernels.shape
    weight = np.ascontiguousarray(np.tile(kernels.astype(x.dtype), (c, 1, 1))[:, np.newaxis])
    (top, bottom), (left, right) = pads
    if padding_limit_violation(padding_mode, (h, w), pads):
        # Too small for conv2d's PyTorch-style padding: let numpy pad (it
        # repeats the reflection / wrap as often as needed).
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)),
                   mode=NUMPY_PAD_MODE[padding_mode])
        pads = ((0, 0), (0, 0))
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return functional.conv2d(x, weight, padding=(top, left), groups=c,
                                 padding_mode=padding_mode)
    # Asymmetric split (even kernel with "same"): pad by hand, then "valid".
    mode = "constant" if padding_mode == "zeros" else NUMPY_PAD_MODE[padding_mode]
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    return functional.conv2d(x, weight, groups=c)


def _check_kernel(kernel, name="kernel"):
    kernel = as_float_array(kernel, name, dtype=np.float64)
    if kernel.ndim != 2 or kernel.size == 0:
        fail(ValueError, name, "a non-empty 2-D array [kh, kw]", f"shape {kernel.shape}")
    if not np.isfinite(kernel).all():
        fail(ValueError, name, "finite (no NaN or inf)", "non-finite values")
    return kernel


def filter2d(img: ArrayLike, kernel: ArrayLike, padding_mode: PaddingMode = "reflect",
             padding: Padding = "same") -> FloatArray:
    """Sweep one 2-D kernel over every channel of an image (depthwise).

    The lecture's "applying a filter to an image": each output pixel is the
    sum of the elementwise product of the kernel with the window under it
    (cross-correlation, as `pyconv.functional.conv2d`). Channels are
    filtered independently (``groups=C``), never mixed.

    Parameters
    ----------
    img : array_like, shape (H, W), (C, H, W) or (N, C, H, W)
        One grayscale image, one image or a batch. Values are used as given
        (a ``uint8`` image stays in the ``[0, 255]`` scale; use `to_float`
        first for ``[0, 1]``).
    kernel : array_like, shape (kh, kw)
    padding_mode : {"reflect", "zeros", "replicate", "circular"}, default "reflect"
        How the border is extended. ``"reflect"`` mirrors the image without
        repeating the edge pixel, so a blur does not darken the border as
        zero padding would. When the image is smaller than the padding
        (e.g. 1 pixel high) the reflection repeats as numpy's ``np.pad``
        does.
    padding : "same", "valid", int or (int, int), default "same"
        ``"same"`` keeps the input size (for an even kernel the extra pixel
        goes after, as in PyTorch); ``"valid"`` only keeps positions where
        the kernel fits, as in the lecture's worked example.

    Returns
    -------
    ndarray
        Same layout as ``img``; float64 if ``img`` is float64, else float32.

    Examples
    --------
    The lecture's blur of a 5x5 image (its top-left "valid" outputs):

    >>> import numpy as np
    >>> from pyconv.image import filter2d
    >>> image = np.array([[200, 200, 200, 200, 200],
    ...                   [200,  20,  20,  45, 200],
    ...                   [100,  20,  25,  65, 150],
    ...                   [ 80,  20,  40,  60,  80],
    ...                   [ 80,  30,  50,  80,  80]], dtype=np.uint8)
    >>> g = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    >>> out = filter2d(image, g, padding="valid")
    >>> out.shape, out.dtype
    ((3, 3), dtype('float32'))
    >>> print(out[0, 0], out[0, 1], out[1, 0])
    92.8125 71.5625 46.875
    >>> filter2d(image, g).shape    # "same": the input size
    (5, 5)
    """
    x, restore = _as_image_batch(img, "img")
    kernel = _check_kernel(kernel)
    padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    pads = _resolve_padding(padding, kernel.shape)
    h, w = x.shape[2:]
    kh, kw = kernel.shape
    if h + sum(pads[0]) < kh or w + sum(pads[1]) < kw:
        fail(ValueError, "img", f"at least as large as the {kh}x{kw} kernel after "
             f"padding {pads}", f"shape {np.shape(img)}")
    return restore(_depthwise(x, kernel[np.newaxis], pads, padding_mode))


def gaussian_blur(img: ArrayLike, size: int = 5, sigma: float = 1.0,
                  kernel: Optional[ArrayLike] = None,
                  padding_mode: PaddingMode = "reflect") -> FloatArray:
    """Blur an image with a Gaussian kernel, channel by channel.

    Parameters
    ----------
    img : array_like, shape (H, W), (C, H, W) or (N, C, H, W)
    size : int, default 5
        Kernel side length (see `gaussian_kernel`).
    sigma : float, default 1.0
        Standard deviation in pixels; larger is blurrier.
    kernel : {None, "lecture"}, default None
        ``"lecture"`` uses the lecture's integer 5x5 kernel / 273
        (`gaussian_kernel_5x5`, a rounded ``size=5, sigma=1.04`` Gaussian) and ignores
        ``size`` and ``sigma``.
    padding_mode : {"reflect", "zeros", "replicate", "circular"}, default "reflect"

    Returns
    -------
    ndarray
        Same shape as ``img``; float64 if ``img`` is float64, else float32.

    Examples
    --------
    A blur spreads a single bright pixel but keeps the total brightness:

    >>> import numpy as np
    >>> from pyconv.image import gaussian_blur
    >>> img = np.zeros((1, 7, 7)); img[0, 3, 3] = 1.0
    >>> out = gaussian_blur(img, kernel="lecture")
    >>> print(round(out[0, 3, 3] * 273), round(float(out.sum()), 10))
    41 1.0
    """
    if kernel is None:
        weights = gaussian_kernel(size, sigma)
    else:
        check_choice(kernel, "kernel", ("lecture",))
        weights = gaussian_kernel_5x5()
    return filter2d(img, weights, padding_mode=padding_mode)


def _to_gray(x):
    """ITU-R 601 luma of an NCHW RGB batch, keeping a channel axis of 1."""
    weights = np.asarray(LUMA_WEIGHTS, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x * weights).sum(axis=1, keepdims=True)


def sobel_magnitude(img: ArrayLike, gray: bool = False,
                    padding_mode: PaddingMode = "reflect") -> FloatArray:
    """Gradient magnitude ``sqrt(gx**2 + gy**2)`` with the lecture's Sobel kernels.

    Bright where intensity changes quickly (edges), zero on flat areas.

    Parameters
    ----------
    img : array_like, shape (H, W), (C, H, W) or (N, C, H, W)
    gray : bool, default False
        If False, each channel gets its own magnitude. If True, an RGB image
        (3 channels, R-G-B order) is first converted to gray with the ITU-R
        BT.601 luma weights ``0.299 R + 0.587 G + 0.114 B`` (`LUMA_WEIGHTS`)
        and the result has one channel.
    padding_mode : {"reflect", "zeros", "replicate", "circular"}, default "reflect"
        Reflect padding gives no false edge at the image border.

    Returns
    -------
    ndarray
        Same shape as ``img`` (one channel if ``gray``); float64 if ``img`` is
        float64, else float32.

    Examples
    --------
    A vertical step edge from 0 to 1:

    >>> import numpy as np
    >>> from pyconv.image import sobel_magnitude
    >>> step = np.zeros((4, 6)); step[:, 3:] = 1.0
    >>> sobel_magnitude(step)[0]
    array([0., 0., 4., 4., 0., 0.])
    """
    if not isinstance(gray, (bool, np.bool_)):
        fail(TypeError, "gray", "a bool", repr(gray))
    x, restore = _as_image_batch(img, "img")
    padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    if gray:
        if x.shape[1] != 3:
            fail(ValueError, "img", "an RGB image with 3 channels when gray=True",
                 f"shape {np.shape(img)}")
        x = _to_gray(x)
    gx, gy = sobel_kernels()
    pads = ((1, 1), (1, 1))
    responses = _depthwise(x, np.stack([gx, gy]), pads, padding_mode)
    n, c, h, w = x.shape
    responses = responses.reshape(n, c, 2, h, w)
    magnitude = np.sqrt(np.square(responses).sum(axis=2))
    return restore(magnitude)
