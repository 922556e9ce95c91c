"""The lecture's image filters on a real photo: Gaussian blur and Sobel edges
==========================================================================

Uses scikit-learn's bundled sample photo (no download) and pyconv.image,
whose filters are depthwise pyconv.functional.conv2d calls.

Run:  python examples/02_image_filters.py
Writes PNGs into $PYCONV_EXAMPLES_OUT (default ./example_output)::

  china_original.png      the photo (427 x 640)
  china_blur_lecture.png  blurred with the lecture's 5x5 kernel / 273
  china_blur_strong.png   blurred with a 21x21 Gaussian, sigma 5 (clearly visible)
  china_sobel.png         Sobel gradient magnitude of the gray photo (edges white)
  china_crop_compare.png  a 128x128 crop of all four side by side, titled (matplotlib)

Needs Pillow or matplotlib to write PNGs; without both it prints a message.
"""
import os
import pathlib
import time

import numpy as np
from sklearn.datasets import load_sample_image

from pyconv.image import gaussian_blur, sobel_magnitude

out_dir = pathlib.Path(os.environ.get("PYCONV_EXAMPLES_OUT", "example_output"))


def png_writer():
    """A function saving an [H, W] or [3, H, W] uint8 array as PNG, or None."""
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        def save_pillow(path, img):
            hwc = img if img.ndim == 2 else img.transpose(1, 2, 0)
            Image.fromarray(np.ascontiguousarray(hwc)).save(path)
        return save_pillow
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    def save_matplotlib(path, img):
        hwc = img if img.ndim == 2 else img.transpose(1, 2, 0)
        plt.imsave(path, hwc, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
    return save_matplotlib


def to_uint8(img):
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


photo = load_sample_image("china.jpg")          # (427, 640, 3) uint8, channels last
image = np.ascontiguousarray(photo.transpose(2, 0, 1))   # -> [3, H, W], the lecture's layout
print(f"photo: {image.shape} {image.dtype}, R-G-B order")

start = time.perf_counter()
blur_lecture = gaussian_blur(image, kernel="lecture")            # float32, 0..255
blur_strong = gaussian_blur(image, size=21, sigma=5.0)
edges = sobel_magnitude(image, gray=True)[0]                      # [H, W]
elapsed = time.perf_counter() - start
print(f"blur (lecture 5x5), blur (21x21, sigma 5) and Sobel magnitude in {elapsed:.2f} s")

# Blurring keeps the mean brightness (the kernels sum to 1); edges are sparse.
print(f"mean brightness: original {image.mean():.2f}, lecture blur {blur_lecture.mean():.2f}, "
      f"strong blur {blur_strong.mean():.2f}")
roughness = [float(np.abs(np.diff(a.astype(np.float64), axis=-1)).mean())
             for a in (image, blur_lecture, blur_strong)]
print("mean |horizontal pixel difference| (lower = smoother): original {:.2f}, "
      "lecture blur {:.2f}, strong blur {:.2f}".format(*roughness))
print(f"Sobel magnitude: max {edges.max():.1f}, median {np.median(edges):.1f} "
      f"(most pixels are not on an edge)")

# Scale edges so strong edges are white: divide by a high percentile, not the max.
edges_u8 = to_uint8(255 * edges / max(np.percentile(edges, 99), 1e-6))

save = png_writer()
if save is None:
    print("Neither Pillow nor matplotlib is installed: no PNG written "
          "(pip install pyconv[image] or pyconv[plot]).")
    raise SystemExit(0)

out_dir.mkdir(parents=True, exist_ok=True)
outputs = {
    "china_original.png": image,
    "china_blur_lecture.png": to_uint8(blur_lecture),
    "china_blur_strong.png": to_uint8(blur_strong),
    "china_sobel.png": edges_u8,
}
# An enlarged crop (the roof's edge) shows the lecture's subtle 5x5 blur too.
top, left, size = 60, 240, 128
titles = {"china_original.png": "original",
          "china_blur_lecture.png": "lecture 5x5 blur (/273)",
          "china_blur_strong.png": "21x21 Gaussian, sigma 5",
          "china_sobel.png": "Sobel magnitude (gray)"}
crops = {titles[name]: img[..., top:top + size, left:left + size]
         for name, img in outputs.items()}


def save_crop_figure(path):
    """The four crops side by side, each titled (matplotlib), or False."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
    for ax, (title, crop) in zip(axes, crops.items()):
        ax.imshow(crop if crop.ndim == 2 else crop.transpose(1, 2, 0),
                  cmap="gray" if crop.ndim == 2 else None, vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{size}x{size} crop at row {top}, column {left}")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


for name, img in outputs.items():
    save(out_dir / name, img)
    print(f"wrote {out_dir / name}  {img.shape}")
if save_crop_figure(out_dir / "china_crop_compare.png"):
    print(f"wrote {out_dir / 'china_crop_compare.png'}  (four titled panels)")
else:
    print("matplotlib is not installed: no crop comparison figure (pip install pyconv[plot])")
