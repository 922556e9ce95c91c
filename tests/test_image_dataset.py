"""image_dataset_from_directory on folders of PNGs made here (Keras 3 behaviour)."""
import numpy as np
import pytest

from pyconv.layers import Conv2D, Dense, GlobalAveragePooling2D, Input
from pyconv.models import Sequential

Image = pytest.importorskip("PIL.Image")
from pyconv.utils import image_dataset_from_directory  # noqa: E402

# class name -> (grey level, PIL mode, sizes of its images); odd sizes, mixed modes
CLASSES = {
    "circle": (30, "L", [(9, 13), (17, 5), (11, 11)]),
    "square": (120, "RGB", [(7, 7), (20, 15), (13, 9), (8, 21)]),
    "triangle": (230, "RGB", [(15, 10), (5, 5)]),
}


@pytest.fixture
def folder(tmp_path, rng):
    for name, (level, mode, sizes) in CLASSES.items():
        (tmp_path / name).mkdir()
        for i, (width, height) in enumerate(sizes):
            noise = rng.integers(-10, 11, size=(height, width, 3))
            pixels = np.clip(level + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).convert(mode).save(tmp_path / name / f"img_{i}.png")
    (tmp_path / "square" / "notes.txt").write_text("not an image")
    return tmp_path


def test_classes_shapes_and_range(folder):
    data = image_dataset_from_directory(folder, batch_size=4, image_size=(6, 10),
                                        shuffle=False)
    assert data.class_names == ["circle", "square", "triangle"]
    assert len(data.file_paths) == 9 and len(data) == 3
    xs, ys = zip(*(data[i] for i in range(len(data))))
    assert [x.shape for x in xs] == [(4, 3, 6, 10), (4, 3, 6, 10), (1, 3, 6, 10)]
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert 0 <= x.min() and x.max() <= 255
    for label, (level, _, _) in enumerate(CLASSES.values()):
        assert abs(x[y == label].mean() - level) < 6      # resized, colours kept


def test_grayscale_categorical_and_split(folder):
    train, val = image_dataset_from_directory(
        folder, label_mode="categorical", color_mode="grayscale", batch_size=2,
        image_size=(5, 5), seed=3, validation_split=0.34, subset="both")
    assert len(train.file_paths) == 6 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    again = image_dataset_from_directory(folder, seed=3, validation_split=0.34,
                                         subset="validation", image_size=(5, 5))
    assert again.file_paths == val.file_paths
    x, y = train[0]
    assert x.shape == (2, 1, 5, 5)
    assert y.shape == (2, 3) and y.dtype == np.float32 and (y.sum(axis=1) == 1).all()


def test_fit_reads_the_folder_directly(folder):
    train = image_dataset_from_directory(folder, batch_size=4, image_size=(8, 8), seed=0,
                                         workers=2)
    model = Sequential([Input((3, 8, 8)), Conv2D(4, 3, activation="relu"),
                        GlobalAveragePooling2D(), Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(train, verbose=0).shape == (9, 3)


def test_labels_list_and_no_labels(folder):
    unlabelled = image_dataset_from_directory(folder, labels=None, image_size=(4, 4),
                                              shuffle=False)
    assert unlabelled.class_names is None
    assert unlabelled[0].shape == (9, 3, 4, 4)
    paths = unlabelled.file_paths
    labelled = image_dataset_from_directory(folder, labels=list(range(9)), image_size=(4, 4),
                                            shuffle=False, batch_size=3)
    assert labelled.file_paths == paths and labelled[2][1].tolist() == [6, 7, 8]


# (bad arguments: the image_dataset_from_directory rows of tests/test_bad_input_table.py)
