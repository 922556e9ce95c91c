"""``image_dataset_from_directory``: a folder of images as a PyDataset.

The folder is indexed once (file names and labels, as Keras orders them);
the images themselves are decoded with Pillow batch by batch, when ``fit``
asks for a batch, so a folder of any size streams through a fixed amount of
memory.
"""
import os

import numpy as np

from ._validation import check_choice, check_int, check_pair, fail
from .image import RESAMPLING, _open_image
from ._data_adapters import PyDataset

__all__ = ["image_dataset_from_directory", "ImageDirectoryDataset"]

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def _image_files(directory, follow_links):
    """Image files below ``directory``, in Keras's order (folders, then names, sorted)."""
    found = []
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda entry: entry[0]):
        found.extend(os.path.join(root, name) for name in sorted(files)
                     if name.lower().endswith(FORMATS))
    return found


def _index(directory, labels, class_names, follow_links):
    """``(paths, labels or None, class_names)`` of the folder."""
    if labels != "inferred":
        paths = _image_files(directory, follow_links)
        if labels is None:
            return paths, None, None
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(paths):
            fail(ValueError, "labels", f"'inferred', None, or a list of {len(paths)} int labels "
                 "(one per image file, in sorted path order)", f"{len(labels)} labels")
        return paths, labels.astype(np.int32), None
    folders = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if class_names is None:
        class_names = folders
    else:
        class_names = [str(name) for name in class_names]
        if sorted(class_names) != folders:
            fail(ValueError, "class_names", f"the sub-folders of {directory!r}: {folders}",
                 class_names)
    paths, label_list = [], []
    for label, name in enumerate(class_names):
        files = _image_files(os.path.join(directory, name), follow_links)
        paths.extend(files)
        label_list.extend([label] * len(files))
    return paths, np.asarray(label_list, dtype=np.int32), class_names


def _split(count, validation_split, subset):
    """Index ranges of the ``subset`` (Keras: validation is the last part)."""
    n_val = int(validation_split * count)
    if subset == "training":
        return slice(0, count - n_val)
    return slice(count - n_val, count)


class ImageDirectoryDataset(PyDataset):
    """Batches of images decoded from files, with their labels.

    Made by :func:`pyconv.utils.image_dataset_from_directory`. Attributes:
    ``class_names`` (list of str, or None), ``file_paths`` (the files in
    their current order), ``image_size`` and ``batch_size``. Each item is a
    float32 array ``(n, channels, height, width)`` in 0..255, with the
    labels when there are any. With ``shuffle`` the sample order is drawn
    again at the end of every epoch (and ``fit`` shuffles the batch order).
    """

    def __init__(self, paths, labels, class_names, label_mode, color_mode, batch_size,
                 image_size, interpolation, shuffle, seed, **kwargs):
        super().__init__(**kwargs)
        self.file_paths = list(paths)
        self._labels = labels
        self.class_names = class_names
        self.label_mode = label_mode
        self.color_mode = color_mode
        self.batch_size = batch_size
        self.image_size = image_size
        self.interpolation = interpolation
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.file_paths) // self.batch_size)

    def _load(self, path):
        image = _open_image(path, _MODES[self.color_mode], self.image_size, self.interpolation)
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.ndim == 2:
            return pixels[np.newaxis]
        return pixels.transpose(2, 0, 1)

    def _targets(self, labels):
        if self.label_mode == "int":
            return labels
        if self.label_mode == "binary":
            return labels.astype(np.float32)[:, np.newaxis]
        return np.eye(len(self.class_names), dtype=np.float32)[labels]

    def __getitem__(self, index):
        index = check_int(index, "index", min_value=0, max_value=len(self) - 1)
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[self.color_mode]
        paths = self.file_paths[part]
        images = np.empty((len(paths), channels) + tuple(self.image_size), dtype=np.float32)
        for row, path in enumerate(paths):
            images[row] = self._load(path)
        if self._labels is None or self.label_mode is None:
            return images
        return images, self._targets(self._labels[part])

    def on_epoch_end(self):
        if self.shuffle:
            order = self._rng.permutation(len(self.file_paths))
            self.file_paths = [self.file_paths[i] for i in order]
            if self._labels is not None:
                self._labels = self._labels[order]


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, **kwargs):
    """A dataset of image batches read from a folder, one class per sub-folder
    (Keras 3's function, returning a `PyDataset` that ``fit`` reads directly).

    ``main_directory/class_a/*.png, main_directory/class_b/*.jpg, ...``
    gives labels 0 and 1 (classes in alphanumeric order, or that of
    ``class_names``). Images (``.bmp .gif .jpeg .jpg .png``) are decoded
    with Pillow (the ``image`` extra) when their batch is read, converted to
    ``color_mode`` and resized to ``image_size``; batches are float32
    ``(batch, channels, height, width)`` (NCHW, pyconv's layout) in 0..255,
    as Keras's are in 0..255.

    Parameters
    ----------
    directory : str or path
    labels : "inferred", None or list of int, default "inferred"
        From the sub-folders; no labels (batches are images only); or one
        int label per image file, in sorted path order.
    label_mode : {"int", "categorical", "binary", None}, default "int"
        int32 labels, one-hot float32 rows, or float32 0/1 of shape (n, 1)
        (two classes).
    class_names : list of str, optional
        The sub-folder names in the order of their labels.
    color_mode : {"grayscale", "rgb", "rgba"}, default "rgb"
        1, 3 or 4 channels.
    batch_size : int, default 32
    image_size : (height, width), default (256, 256)
    shuffle : bool, default True
        Shuffle the files (before the split) and again after every epoch;
        False keeps them in alphanumeric order.
    seed : int, optional
        Seed of the shuffling; required with ``validation_split`` and
        ``shuffle``, so that both subsets see the same split.
    validation_split : float, optional
        Fraction in (0, 1) of the files held out, the last ones after the
        shuffle.
    subset : {"training", "validation", "both"}, optional
        Which part to return with ``validation_split`` ("both": a tuple).
    interpolation : str, default "bilinear"
        ``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"area"``,
        ``"lanczos3"`` or ``"lanczos5"`` (Pillow's filters, which smooth
        when shrinking, so downsized pixels differ from TensorFlow's).
    follow_links : bool, default False
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of the
        returned `PyDataset` (threads decode ahead while the model trains).

    Returns
    -------
    ImageDirectoryDataset, or a tuple of two with ``subset="both"``
        A `PyDataset` with ``class_names`` and ``file_paths``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from pyconv.utils import image_dataset_from_directory
    >>> root = tempfile.mkdtemp()
    >>> for name, value in [("cats", 40), ("dogs", 200)]:
    ...     os.makedirs(os.path.join(root, name))
    ...     for i in range(3):
    ...         pixels = np.full((5, 7, 3), value, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(os.path.join(root, name, f"{i}.png"))
    >>> data = image_dataset_from_directory(root, batch_size=4, image_size=(8, 8),
    ...                                     shuffle=False)
    >>> data.class_names, len(data)
    (['cats', 'dogs'], 2)
    >>> x, y = data[0]
    >>> x.shape, x.dtype, float(x.max()), y.tolist()
    ((4, 3, 8, 8), dtype('float32'), 200.0, [0, 0, 0, 1])
    """
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise ImportError("image_dataset_from_directory needs Pillow: "
                          "pip install 'pyconv[image]' (or pillow)") from None
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        fail(ValueError, "directory", "an existing folder", repr(directory))
    if label_mode is not None:
        check_choice(label_mode, "label_mode", ("int", "categorical", "binary"))
    check_choice(color_mode, "color_mode", tuple(_MODES))
    check_choice(interpolation, "interpolation", tuple(RESAMPLING))
    batch_size = check_int(batch_size, "batch_size", min_value=1)
    image_size = check_pair(image_size, "image_size")
    if isinstance(labels, str) and labels != "inferred":
        fail(ValueError, "labels", "'inferred', None or a list of int labels", repr(labels))
    if class_names is not None and labels != "inferred":
        fail(ValueError, "class_names", "given only with labels='inferred'", class_names)
    if labels is None:
        label_mode = None
    if validation_split is not None:
        if not 0 < float(validation_split) < 1:
            fail(ValueError, "validation_split", "a float in (0, 1)", validation_split)
        check_choice(subset, "subset", ("training", "validation", "both"))
        if shuffle and seed is None:
            fail(ValueError, "seed", "an int when validation_split is used with shuffle "
                 "(both subsets must see the same split)", None)
    elif subset is not None:
        fail(ValueError, "subset", "None without validation_split", repr(subset))
    if seed is not None:
        seed = check_int(seed, "seed", min_value=0)
    else:
        seed = int(np.random.default_rng().integers(2**31))

    paths, label_array, names = _index(directory, labels, class_names, follow_links)
    if not paths:
        fail(ValueError, "directory", f"a folder holding images ({', '.join(FORMATS)})",
             f"none in {directory!r}")
    if label_mode == "binary" and len(names or ()) != 2:
        fail(ValueError, "label_mode", "'binary' only with exactly 2 classes",
             f"{len(names or ())} classes")
    if label_mode == "categorical" and names is None:
        names = [str(i) for i in range(int(label_array.max()) + 1)]
    if shuffle:
        order = np.random.RandomState(seed).permutation(len(paths))
        paths = [paths[i] for i in order]
        label_array = None if label_array is None else label_array[order]

    def dataset(part, part_seed):
        chosen = paths[part]
        if not chosen:
            fail(ValueError, "validation_split", "leaving images in both subsets",
                 validation_split)
        return ImageDirectoryDataset(chosen, None if label_array is None else label_array[part],
                                     names, label_mode, color_mode, batch_size, image_size,
                                     interpolation, shuffle, part_seed, **kwargs)

    if validation_split is None:
        return dataset(slice(None), seed)
    if subset == "both":
        return (dataset(_split(len(paths), validation_split, "training"), seed),
                dataset(_split(len(paths), validation_split, "validation"), seed + 1))
    return dataset(_split(len(paths), validation_split, subset),
                   seed + (subset == "validation"))
