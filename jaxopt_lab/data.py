"""MNIST as NumPy arrays: from the four official IDX files, or from TensorFlow Datasets.

    data = load_mnist()                       # JAXOPT_LAB_MNIST_DIR, else TFDS
    data = load_mnist("idx", "path/to/mnist") # the four IDX files, gzipped or not
    data = load_mnist("tfds")                 # tfds.data_source: no TensorFlow needed

Every source returns the same :class:`MnistData`: images as float32 in [0, 1],
flattened to 784 columns (the tutorial's ``load_mnist(normalize=True)``), labels as
int32 class numbers (not one-hot).

The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header, magic
``0x00000803`` and three sizes (count, rows, columns) for images, magic
``0x00000801`` and one size (count) for labels, then one unsigned byte per pixel
or label.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

ENVIRONMENT_VARIABLE = "JAXOPT_LAB_MNIST_DIR"
"""A directory holding the four IDX files; ``source="auto"`` prefers it to TFDS."""

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
IMAGE_SIDE = 28
TRAIN_COUNT = 60_000
TEST_COUNT = 10_000

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The official file names; each may also be present with a ``.gz`` suffix."""

HOW_TO_GET_MNIST = (
    "To get MNIST, either (a) put the four IDX files ("
    + ", ".join(f"{name}[.gz]" for name in IDX_FILES.values())
    + f") in a folder and pass it as data_dir / --data-dir, or set {ENVIRONMENT_VARIABLE} "
    "to it; or (b) run once with internet access so that TensorFlow Datasets can download "
    "MNIST to its data directory (~/tensorflow_datasets)."
)


class MnistData(NamedTuple):
    """MNIST as arrays: images float32 (n, 784) in [0, 1], labels int32 (n,) in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


class MnistNotFoundError(FileNotFoundError):
    """No MNIST could be found or downloaded; the message says how to get it."""


class CorruptIdxFileError(ValueError):
    """An IDX file is truncated or malformed; the message names the file and the fault."""


# --------------------------------------------------------------------------- IDX


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzipped (by content, not by name)."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise CorruptIdxFileError(
            f"{path}: the gzip stream is truncated or corrupt ({error})"
        ) from error


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzipped or not, checking it against ``magic``.

    Returns a uint8 array whose shape is the header's sizes. Raises
    :class:`CorruptIdxFileError` naming ``path`` when the magic number is not
    ``magic``, the header is short, or the data is shorter or longer than the
    header says.
    """
    path = Path(path)
    content = _read_bytes(path)
    expected_dims = magic & 0xFF
    if len(content) < 4:
        raise CorruptIdxFileError(f"{path}: {len(content)} bytes, too short for an IDX header")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        kind = {IMAGE_MAGIC: "images", LABEL_MAGIC: "labels"}.get(magic, "data")
        raise CorruptIdxFileError(
            f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x} (IDX unsigned-byte "
            f"{kind}); is this the right file?"
        )
    header_size = 4 + 4 * expected_dims
    if len(content) < header_size:
        raise CorruptIdxFileError(
            f"{path}: header truncated ({len(content)} bytes, need {header_size})"
        )
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims)
    )
    expected_size = int(np.prod(shape))
    actual_size = len(content) - header_size
    if actual_size != expected_size:
        problem = "truncated" if actual_size < expected_size else "has trailing bytes"
        raise CorruptIdxFileError(
            f"{path}: {problem}: the header says shape {shape} ({expected_size} bytes of "
            f"data), the file has {actual_size}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def _find_idx_file(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MnistNotFoundError(
        f"{directory}: no {name} or {name}.gz (MNIST IDX file). {HOW_TO_GET_MNIST}"
    )


def _check_images(images: np.ndarray, path: Path) -> None:
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise CorruptIdxFileError(
            f"{path}: images of shape {images.shape[1:]}, expected "
            f"({IMAGE_SIDE}, {IMAGE_SIDE}) for MNIST"
        )


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.size and labels.max() > 9:
        raise CorruptIdxFileError(f"{path}: label {int(labels.max())} outside 0..9")


def load_idx(directory: str | os.PathLike) -> MnistData:
    """Load MNIST from the four IDX files in ``directory`` (each gzipped or not).

    Checks magic numbers, shapes (28 x 28 images), label values, and that each
    split has as many labels as images. Any number of examples is accepted (a
    subset of MNIST in IDX form loads too).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MnistNotFoundError(f"{directory}: not a directory. {HOW_TO_GET_MNIST}")
    arrays = {}
    for split in ("train", "test"):
        image_path = _find_idx_file(directory, IDX_FILES[f"{split}_images"])
        label_path = _find_idx_file(directory, IDX_FILES[f"{split}_labels"])
        images = read_idx(image_path, IMAGE_MAGIC)
        labels = read_idx(label_path, LABEL_MAGIC)
        _check_images(images, image_path)
        _check_labels(labels, label_path)
        if len(images) != len(labels):
            raise CorruptIdxFileError(
                f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels"
            )
        arrays[f"{split}_images"] = _normalize(images)
        arrays[f"{split}_labels"] = labels.astype(np.int32)
    return MnistData(**arrays)


def _normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28[, 1]) -> float32 (n, 784) in [0, 1], as the tutorial's normalize=True."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


# --------------------------------------------------------------------------- TFDS


def load_tfds(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> MnistData:
    """Load MNIST with ``tfds.data_source`` (array_record files; TensorFlow not needed).

    Downloads and prepares the dataset on first use when ``download`` is true
    and there is internet access. ``data_dir`` is TFDS's data directory
    (default ``~/tensorflow_datasets``). Raises :class:`MnistNotFoundError`
    with instructions when TFDS is missing or cannot get the data.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise MnistNotFoundError(
            f"tensorflow-datasets is not installed. {HOW_TO_GET_MNIST}"
        ) from error
    try:
        sources = tfds.data_source(
            "mnist",
            split=["train", "test"],
            data_dir=None if data_dir is None else os.fspath(data_dir),
            download=download,
        )
    except Exception as error:  # noqa: BLE001 - tfds raises many kinds (network, missing files)
        raise MnistNotFoundError(
            f"TensorFlow Datasets could not load MNIST ({type(error).__name__}: {error}). "
            f"{HOW_TO_GET_MNIST}"
        ) from error
    arrays = {}
    for split, source in zip(("train", "test"), sources, strict=True):
        examples = [source[index] for index in range(len(source))]
        images = np.stack([np.asarray(example["image"]) for example in examples])
        labels = np.asarray([example["label"] for example in examples])
        arrays[f"{split}_images"] = _normalize(images.astype(np.uint8))
        arrays[f"{split}_labels"] = labels.astype(np.int32)
    return MnistData(**arrays)


# --------------------------------------------------------------------------- entry point


def load_mnist(source: str = "auto", data_dir: str | os.PathLike | None = None) -> MnistData:
    """Load MNIST: train and test images (float32 (n, 784) in [0, 1]) and int32 labels.

    Args:
      source: ``"idx"``: the four IDX files in ``data_dir`` (or
        ``$JAXOPT_LAB_MNIST_DIR``). ``"tfds"``: TensorFlow Datasets'
        ``data_source`` (``data_dir`` is then TFDS's data directory),
        downloading on first use. ``"auto"`` (default): the IDX files of
        ``data_dir`` or ``$JAXOPT_LAB_MNIST_DIR`` when one is given, else TFDS.
      data_dir: see ``source``.

    Raises:
      MnistNotFoundError: no data found; the message says how to get it.
      CorruptIdxFileError: an IDX file is truncated or malformed; the message
        names the file.
      ValueError: an unknown ``source``.
    """
    if source not in ("auto", "idx", "tfds"):
        raise ValueError(f"source must be 'auto', 'idx' or 'tfds', got {source!r}")
    if source == "tfds":
        return load_tfds(data_dir)
    directory = data_dir if data_dir is not None else os.environ.get(ENVIRONMENT_VARIABLE)
    if directory:
        return load_idx(directory)
    if source == "idx":
        raise MnistNotFoundError(
            f"source='idx' needs data_dir or {ENVIRONMENT_VARIABLE}. {HOW_TO_GET_MNIST}"
        )
    return load_tfds()
