"""MNIST as NumPy arrays: from the four official IDX files, or from TensorFlow Datasets.

    data = load_mnist()                       # JAXOPT_LAB_MNIST_DIR, else TFDS
    data = load_mnist("idx", "path/to/mnist") # the four IDX files, gzipped or not
    data = load_mnist("tfds")                 # tfds.data_source (TensorFlow prepares it once)

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
import math
import os
import zlib
from pathlib import Path
from typing import Any, NamedTuple

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
    "to it; or (b) install what TensorFlow Datasets needs to prepare MNIST (pip install "
    "'jaxopt-lab[tfds]', which adds TensorFlow) and run once with internet access, so that "
    "it downloads MNIST to its data directory (~/tensorflow_datasets)."
)

TFDS_EXTRA = "jaxopt-lab[tfds]"
"""The install extra with what TFDS needs to download and prepare MNIST (TensorFlow)."""


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
#
# An IDX file may come from anyone: its header is read and checked (magic number, the
# shape MNIST expects, the size the file can hold) before any data is read, the gzip
# stream is inflated in chunks straight into an array of the declared size, and reading
# stops at one byte past it. So a load takes memory for what the header declares, at most
# a full MNIST split, whatever the bytes would inflate to.

_READ_CHUNK = 1 << 20  # bytes inflated per read
_MAX_DEFLATE_RATIO = 1032  # deflate's limit: no gzip stream inflates to more per byte


def _open_idx(path: Path) -> tuple[Any, bool]:
    """The file as a binary stream, inflating it if it is gzipped (by content, not by name)."""
    with path.open("rb") as file:
        gzipped = file.read(2) == b"\x1f\x8b"
    return (gzip.open(path, "rb") if gzipped else path.open("rb")), gzipped


def _read_into(stream: Any, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream`` in chunks; the number of bytes read (short at EOF)."""
    position = 0
    while position < len(buffer):
        count = stream.readinto(buffer[position : position + _READ_CHUNK])
        if not count:
            break
        position += count
    return position


def _read_header(stream: Any, path: Path, magic: int) -> tuple[int, ...]:
    """The sizes an IDX header declares, after checking its magic number."""
    expected_dims = magic & 0xFF
    header = stream.read(4 + 4 * expected_dims)
    if len(header) < 4:
        raise CorruptIdxFileError(f"{path}: {len(header)} bytes, too short for an IDX header")
    found = int.from_bytes(header[:4], "big")
    if found != magic:
        kind = {IMAGE_MAGIC: "images", LABEL_MAGIC: "labels"}.get(magic, "data")
        raise CorruptIdxFileError(
            f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x} (IDX unsigned-byte "
            f"{kind}); is this the right file?"
        )
    if len(header) < 4 + 4 * expected_dims:
        raise CorruptIdxFileError(
            f"{path}: header truncated ({len(header)} bytes, need {4 + 4 * expected_dims})"
        )
    return tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims))


def read_idx_header(path: str | os.PathLike, magic: int) -> tuple[int, ...]:
    """The shape an IDX file's header declares, after checking its magic number."""
    path = Path(path)
    stream, gzipped = _open_idx(path)
    with stream:
        try:
            return _read_header(stream, path, magic)
        except (EOFError, OSError, zlib.error) as error:
            if not gzipped:
                raise
            raise CorruptIdxFileError(
                f"{path}: the gzip stream is truncated or corrupt ({error})"
            ) from error


def read_idx(
    path: str | os.PathLike, magic: int, *, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzipped or not, checking it against ``magic``.

    Returns a uint8 array whose shape is the header's sizes. The header is checked
    before any data is read: against ``shape`` when given, and against what the
    file can hold. The data is read (and inflated) in chunks into an array of the
    declared size, and reading stops one byte past it, so memory stays at the
    declared size whatever the file would inflate to.

    Raises:
      CorruptIdxFileError: naming ``path``, when the magic number is not ``magic``,
        the header is short or does not declare ``shape``, or the data is shorter or
        longer than the header says.
    """
    path = Path(path)
    stream, gzipped = _open_idx(path)
    with stream:
        try:
            declared = _read_header(stream, path, magic)
            if shape is not None and declared != tuple(shape):
                raise CorruptIdxFileError(
                    f"{path}: the header declares shape {declared}, expected {tuple(shape)}"
                )
            header_size = 4 + 4 * len(declared)
            expected_size = math.prod(declared)  # a Python int: no overflow
            file_size = path.stat().st_size
            if not gzipped and file_size - header_size != expected_size:
                _raise_size_mismatch(path, declared, expected_size, file_size - header_size)
            if gzipped and expected_size > _MAX_DEFLATE_RATIO * file_size:
                raise CorruptIdxFileError(
                    f"{path}: the header says shape {declared} ({expected_size} bytes of "
                    f"data), more than a {file_size}-byte gzip file can hold"
                )
            array = np.empty(declared, np.uint8)
            actual_size = _read_into(stream, memoryview(array.reshape(-1)))
            if actual_size == expected_size and stream.read(1):
                actual_size = None  # more than declared
        except (EOFError, OSError, zlib.error) as error:
            if not gzipped:
                raise
            raise CorruptIdxFileError(
                f"{path}: the gzip stream is truncated or corrupt ({error})"
            ) from error
    if actual_size != expected_size:
        _raise_size_mismatch(path, declared, expected_size, actual_size)
    return array


def _raise_size_mismatch(path: Path, shape: tuple, expected: int, actual: int | None) -> None:
    """``actual`` None: more bytes than ``expected``, how many not read."""
    if actual is not None and actual < expected:
        problem, found = "truncated", f"{actual}"
    else:
        problem, found = "has trailing bytes", "more" if actual is None else f"{actual}"
    raise CorruptIdxFileError(
        f"{path}: {problem}: the header says shape {shape} ({expected} bytes of data), "
        f"the file has {found}"
    )


def _find_idx_file(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MnistNotFoundError(
        f"{directory}: no {name} or {name}.gz (MNIST IDX file). {HOW_TO_GET_MNIST}"
    )


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.size and labels.max() > 9:
        raise CorruptIdxFileError(f"{path}: label {int(labels.max())} outside 0..9")


def load_idx(directory: str | os.PathLike) -> MnistData:
    """Load MNIST from the four IDX files in ``directory`` (each gzipped or not).

    Checks magic numbers, shapes (28 x 28 images), label values, and that each
    split has as many labels as images, from 1 up to MNIST's own count (60,000
    train, 10,000 test): a subset of MNIST in IDX form loads too. A split's two
    headers are checked before its data is read, and memory stays at what they
    declare.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MnistNotFoundError(f"{directory}: not a directory. {HOW_TO_GET_MNIST}")
    arrays = {}
    for split, max_count in (("train", TRAIN_COUNT), ("test", TEST_COUNT)):
        image_path = _find_idx_file(directory, IDX_FILES[f"{split}_images"])
        label_path = _find_idx_file(directory, IDX_FILES[f"{split}_labels"])
        image_shape = read_idx_header(image_path, IMAGE_MAGIC)
        (count,) = read_idx_header(label_path, LABEL_MAGIC)
        if image_shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise CorruptIdxFileError(
                f"{image_path}: images of shape {image_shape[1:]}, expected "
                f"({IMAGE_SIDE}, {IMAGE_SIDE}) for MNIST"
            )
        if image_shape[0] != count:
            raise CorruptIdxFileError(
                f"{image_path} has {image_shape[0]} images but {label_path} has {count} labels"
            )
        if not 1 <= count <= max_count:
            raise CorruptIdxFileError(
                f"{image_path} and {label_path} declare {count} examples; an MNIST {split} "
                f"split has 1 to {max_count}"
            )
        images = read_idx(image_path, IMAGE_MAGIC, shape=image_shape)
        labels = read_idx(label_path, LABEL_MAGIC, shape=(count,))
        _check_labels(labels, label_path)
        arrays[f"{split}_images"] = _normalize(images)
        arrays[f"{split}_labels"] = labels.astype(np.int32)
    return MnistData(**arrays)


def _normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28[, 1]) -> float32 (n, 784) in [0, 1], as the tutorial's normalize=True."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


# --------------------------------------------------------------------------- TFDS


def _missing_module(error: BaseException) -> str | None:
    """The module whose absence caused ``error``, searching its causes and contexts."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ModuleNotFoundError) and error.name:
            return error.name
        error = error.__cause__ or error.__context__
    return None


def load_tfds(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> MnistData:
    """Load MNIST with ``tfds.data_source`` (array_record files, read without TensorFlow).

    Downloads and prepares the dataset on first use when ``download`` is true and
    there is internet access; TFDS needs TensorFlow for that one preparation
    (``pip install 'jaxopt-lab[tfds]'``), not to read the prepared files. ``data_dir``
    is TFDS's data directory (default ``~/tensorflow_datasets``). The examples come
    in TFDS's order, a fixed permutation of the IDX files' (TFDS shuffles them once,
    when it prepares the data); the examples themselves are the same.

    Raises:
      MnistNotFoundError: TFDS, or a module it needs, is missing (the message
        names it), or TFDS cannot get the data; the message says how to get MNIST.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise MnistNotFoundError(
            f"tensorflow-datasets is not installed (pip install '{TFDS_EXTRA}'). {HOW_TO_GET_MNIST}"
        ) from error
    try:
        sources = tfds.data_source(
            "mnist",
            split=["train", "test"],
            data_dir=None if data_dir is None else os.fspath(data_dir),
            download=download,
            # With data_dir given, tfds would prepare TFRecords, which data_source cannot read.
            builder_kwargs={"file_format": "array_record"},
        )
    except Exception as error:  # noqa: BLE001 - tfds raises many kinds (network, missing files)
        missing = _missing_module(error)
        if missing is not None:
            raise MnistNotFoundError(
                f"TensorFlow Datasets could not load MNIST: it needs the Python module "
                f"{missing!r}, which is not installed ({type(error).__name__}: {error}). "
                f"pip install '{TFDS_EXTRA}' installs what TFDS needs to prepare MNIST; or "
                "pass a folder of the four MNIST IDX files as data_dir / --data-dir."
            ) from error
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
