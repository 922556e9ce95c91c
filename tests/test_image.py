"""pyconv.image: loading, channel order, kernels and filters.

Filters are checked against the plain-numpy references in pyconv._reference
(and against a direct numpy sliding window), and against the lecture's
worked numbers.
"""
import numpy as np
import pytest

from pyconv import _reference
from pyconv.image import (
    filter2d,
    from_bgr,
    gaussian_blur,
    gaussian_kernel,
    gaussian_kernel_5x5,
    load_image,
    sobel_kernels,
    sobel_magnitude,
    to_bgr,
    to_float,
)

from _support import assert_close

LECTURE_IMAGE = np.array([[200, 200, 200, 200, 200],
                          [200, 20, 20, 45, 200],
                          [100, 20, 25, 65, 150],
                          [80, 20, 40, 60, 80],
                          [80, 30, 50, 80, 80]], dtype=np.uint8)
LECTURE_G3 = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16


def numpy_filter(img, kernel, mode="reflect"):
    """Independent check: np.pad + explicit sliding window, per channel."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pads = ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left))
    padded = np.pad(img.astype(np.float64), pads,
                    mode="constant" if mode == "zeros" else mode)
    out = np.zeros(img.shape, dtype=np.float64)
    for i in range(img.shape[1]):
        for j in range(img.shape[2]):
            out[:, i, j] = (padded[:, i:i + kh, j:j + kw] * kernel).sum(axis=(1, 2))
    return out


def reference_depthwise(x, kernel, padding_mode="reflect"):
    """pyconv._reference.conv2d_loops with one kernel per channel."""
    c = x.shape[1]
    weight = np.repeat(kernel[None, None], c, axis=0)
    return _reference.conv2d_loops(x, weight, padding="same", groups=c,
                                   padding_mode=padding_mode)


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------
def test_lecture_kernel_sums_to_273_and_is_symmetric():
    weights = gaussian_kernel_5x5() * 273
    np.testing.assert_allclose(weights.sum(), 273)
    np.testing.assert_allclose(weights, np.rint(weights), atol=1e-12)
    np.testing.assert_array_equal(np.rint(weights[-1]), [1, 4, 7, 4, 1])
    np.testing.assert_allclose(weights, weights.T)
    np.testing.assert_allclose(weights, weights[::-1])
    assert weights[2, 2] == pytest.approx(41)


@pytest.mark.parametrize("size, sigma", [(1, 1.0), (3, 0.5), (5, 1.0), (6, 2.0), (11, 3.0)])
def test_gaussian_kernel_normalised_and_symmetric(size, sigma):
    g = gaussian_kernel(size, sigma)
    assert g.shape == (size, size)
    assert g.dtype == np.float64
    assert g.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(g, g.T, atol=1e-15)
    np.testing.assert_allclose(g, g[::-1, ::-1], atol=1e-15)
    assert (g > 0).all()
    centre = (size - 1) // 2
    assert g.max() == pytest.approx(g[centre, centre])


def test_gaussian_kernel_close_to_lecture_kernel():
    # The lecture's integer kernel is a rounded Gaussian of sigma ~ 1.04.
    np.testing.assert_allclose(gaussian_kernel(5, 1.04), gaussian_kernel_5x5(), atol=2e-3)
    np.testing.assert_allclose(gaussian_kernel(5, 1.0), gaussian_kernel_5x5(), atol=1.5e-2)


def test_sobel_kernels_are_the_lecture_ones():
    gx, gy = sobel_kernels()
    np.testing.assert_array_equal(gx, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(gy, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])


# --------------------------------------------------------------------------
# filter2d against references and the lecture
# --------------------------------------------------------------------------
def test_filter2d_lecture_blur_numbers():
    out = filter2d(LECTURE_IMAGE, LECTURE_G3, padding="valid")
    assert out.shape == (3, 3) and out.dtype == np.float32
    assert out[0, 0] == 92.8125
    assert out[0, 1] == 71.5625
    assert out[1, 0] == 46.875


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_mode", ["reflect", "zeros", "replicate", "circular"])
@pytest.mark.parametrize("kshape", [(3, 3), (5, 5), (3, 5), (1, 1), (4, 4), (2, 3)])
def test_filter2d_matches_reference(rng, dtype, padding_mode, kshape):
    x = rng.standard_normal((2, 3, 9, 11)).astype(dtype)
    kernel = rng.standard_normal(kshape)
    out = filter2d(x, kernel, padding_mode=padding_mode)
    expected = reference_depthwise(x.astype(np.float64), kernel, padding_mode)
    assert_close(out, expected, dtype=dtype)
    if padding_mode != "circular":
        np_mode = {"replicate": "edge"}.get(padding_mode, padding_mode)
        direct = np.stack([numpy_filter(img, kernel, np_mode) for img in x])
        assert_close(out, direct, dtype=dtype)


def test_filter2d_matches_im2col_reference_valid(rng):
    x = rng.standard_normal((1, 2, 7, 8))
    kernel = rng.standard_normal((3, 3))
    out = filter2d(x, kernel, padding="valid")
    weight = np.repeat(kernel[None, None], 2, axis=0)
    assert_close(out, _reference.conv2d_im2col(x, weight, groups=2))


def test_filter2d_layouts_agree(rng):
    img = rng.random((3, 6, 7))
    kernel = rng.random((3, 3))
    batch = filter2d(img[None], kernel)
    single = filter2d(img, kernel)
    gray = filter2d(img[1], kernel)
    assert batch.shape == (1, 3, 6, 7) and single.shape == (3, 6, 7) and gray.shape == (6, 7)
    np.testing.assert_array_equal(batch[0], single)
    np.testing.assert_allclose(gray, single[1], rtol=1e-14)


def test_filter2d_dtypes_and_input_untouched(rng):
    img = rng.integers(0, 256, (3, 5, 5), dtype=np.uint8)
    before = img.copy()
    out = filter2d(img, np.ones((3, 3)) / 9)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(img, before)
    assert filter2d(img.astype(np.float64), np.ones((3, 3))).dtype == np.float64
    assert filter2d(img.astype(np.float16), np.ones((3, 3))).dtype == np.float32


def test_filter2d_channels_not_mixed():
    img = np.zeros((3, 5, 5))
    img[1, 2, 2] = 1.0
    out = filter2d(img, LECTURE_G3, padding_mode="zeros")
    assert out[0].sum() == 0 and out[2].sum() == 0
    np.testing.assert_allclose(out[1, 1:4, 1:4], LECTURE_G3)


def test_filter2d_tiny_images_reflect(rng):
    # Smaller than the padding: numpy's repeated reflection is used.
    strip = rng.random((1, 1, 4))
    out = filter2d(strip, np.ones((3, 3)))
    padded = np.pad(strip, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    expected = np.array([[[padded[0, :, j:j + 3].sum() for j in range(4)]]])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert filter2d(np.ones((1, 1)), gaussian_kernel_5x5()).item() == pytest.approx(1.0)


# --------------------------------------------------------------------------
# blur and Sobel
# --------------------------------------------------------------------------
def test_gaussian_blur_lecture_kernel_matches_reference(rng):
    x = rng.integers(0, 256, (2, 3, 12, 10)).astype(np.uint8)
    out = gaussian_blur(x, kernel="lecture")
    expected = reference_depthwise(x.astype(np.float64), gaussian_kernel_5x5())
    assert_close(out, expected, dtype=np.float32)


def test_gaussian_blur_keeps_constant_images_and_mean(rng):
    flat = np.full((3, 8, 8), 77, dtype=np.uint8)
    np.testing.assert_allclose(gaussian_blur(flat), 77, rtol=1e-6)
    x = rng.random((1, 16, 16))
    out = gaussian_blur(x, size=7, sigma=2.0, padding_mode="circular")
    assert out.mean() == pytest.approx(x.mean(), rel=1e-12)
    # Blurring smooths: neighbouring differences shrink.
    assert np.abs(np.diff(out)).mean() < 0.5 * np.abs(np.diff(x)).mean()


def test_gaussian_blur_size_sigma_match_filter2d(rng):
    x = rng.random((2, 9, 9))
    np.testing.assert_array_equal(gaussian_blur(x, size=3, sigma=0.7),
                                  filter2d(x, gaussian_kernel(3, 0.7)))


def test_sobel_on_step_edge():
    step = np.zeros((1, 6, 8))
    step[:, :, 4:] = 10.0
    mag = sobel_magnitude(step)
    # |gx| = 10 * (1 + 2 + 1) = 40 on the two columns beside the step, 0 elsewhere.
    expected_row = np.array([0, 0, 0, 40, 40, 0, 0, 0])
    np.testing.assert_allclose(mag[0], np.tile(expected_row, (6, 1)), atol=1e-5)
    horizontal = sobel_magnitude(step.transpose(0, 2, 1))
    np.testing.assert_allclose(horizontal[0], np.tile(expected_row[:, None], (1, 6)), atol=1e-5)


def test_sobel_matches_reference(rng):
    x = rng.random((2, 3, 7, 9))
    gx, gy = sobel_kernels()
    expected = np.sqrt(reference_depthwise(x, gx) ** 2 + reference_depthwise(x, gy) ** 2)
    assert_close(sobel_magnitude(x), expected)


def test_sobel_gray_uses_luma_weights(rng):
    rgb = rng.random((3, 6, 6))
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    out = sobel_magnitude(rgb, gray=True)
    assert out.shape == (1, 6, 6)
    assert_close(out[0], sobel_magnitude(luma))
    assert sobel_magnitude(rgb[None], gray=True).shape == (1, 1, 6, 6)


# --------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------
def test_to_float():
    img = np.array([[0, 51, 102, 255]], dtype=np.uint8)
    out = to_float(img)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0.2, 0.4, 1.0]], rtol=1e-7)
    np.testing.assert_array_equal(to_float(img, scale=False), img.astype(np.float32))
    np.testing.assert_allclose(to_float(np.array([65535], dtype=np.uint16)), [1.0])
    f64 = np.array([0.25, 2.0])
    out64 = to_float(f64)
    assert out64.dtype == np.float64 and out64 is not f64
    np.testing.assert_array_equal(out64, f64)
    assert to_float(np.array([0.5], dtype=np.float16)).dtype == np.float32


def test_bgr_round_trip(rng):
    rgb = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    bgr = to_bgr(rgb)
    np.testing.assert_array_equal(bgr, rgb[::-1])
    np.testing.assert_array_equal(from_bgr(bgr), rgb)
    batch = rng.random((2, 3, 4, 5))
    np.testing.assert_array_equal(from_bgr(batch), batch[:, ::-1])
    rgba = rng.random((4, 2, 2))
    np.testing.assert_array_equal(to_bgr(rgba), rgba[[2, 1, 0, 3]])


# --------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------
@pytest.fixture
def pil():
    return pytest.importorskip("PIL.Image")


def test_load_png_rgb(pil, tmp_path, rng):
    hwc = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    pil.fromarray(hwc).save(path)
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == (3, 7, 5)
    np.testing.assert_array_equal(img, hwc.transpose(2, 0, 1))
    assert img.flags.c_contiguous
    np.testing.assert_array_equal(load_image(str(path)), img)


def test_load_jpeg(pil, tmp_path):
    hwc = np.zeros((16, 16, 3), dtype=np.uint8)
    hwc[..., 0] = 200
    hwc[..., 2] = 40
    path = tmp_path / "x.jpg"
    pil.fromarray(hwc).save(path, quality=95)
    img = load_image(path)
    assert img.shape == (3, 16, 16)
    np.testing.assert_allclose(img.mean(axis=(1, 2)), [200, 0, 40], atol=3)


def test_load_grayscale_is_copied_to_three_channels(pil, tmp_path, rng):
    gray = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    path = tmp_path / "g.png"
    pil.fromarray(gray, mode="L").save(path)
    img = load_image(path)
    assert img.shape == (3, 4, 6)
    for channel in img:
        np.testing.assert_array_equal(channel, gray)


def test_load_rgba_drops_alpha(pil, tmp_path, rng):
    rgba = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    path = tmp_path / "a.png"
    pil.fromarray(rgba, mode="RGBA").save(path)
    img = load_image(path)
    np.testing.assert_array_equal(img, rgba[..., :3].transpose(2, 0, 1))


def test_load_palette(pil, tmp_path):
    pal = pil.new("P", (3, 2))
    pal.putpalette([10, 20, 30] * 256)
    path = tmp_path / "p.png"
    pal.save(path)
    img = load_image(path)
    assert img.shape == (3, 2, 3)
    np.testing.assert_array_equal(img[:, 0, 0], [10, 20, 30])


def test_load_missing_file(pil, tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")


def test_load_without_pillow_hints_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match=r"pip install pyconv\[image\]"):
        load_image(tmp_path / "x.png")
