"""MNIST loading: the real IDX files, crafted good and bad IDX files, TFDS with mock data."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from bombs import deflate_zeros, gzip_zeros

from jaxopt_lab import data
from jaxopt_lab.data import CorruptIdxFileError, MnistNotFoundError, load_mnist


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file written from scratch (independent of the reader): header, then bytes."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_dir(directory: Path, *, n_train=6, n_test=4, gzipped=False, seed=0) -> dict:
    """Four small IDX files in ``directory``; returns the raw uint8 arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        magic = 0x803 if key.endswith("images") else 0x801
        content = idx_bytes(array, magic)
        name = data.IDX_FILES[key]
        if gzipped:
            (directory / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return arrays


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_matches_published_statistics(mnist_dir):
    mnist = load_mnist("idx", mnist_dir)
    assert mnist.train_images.shape == (60000, 784) and mnist.train_images.dtype == np.float32
    assert mnist.test_images.shape == (10000, 784) and mnist.test_images.dtype == np.float32
    assert mnist.train_labels.dtype == np.int32 and mnist.test_labels.dtype == np.int32
    assert mnist.train_images.min() == 0.0 and mnist.train_images.max() == 1.0
    # The figures in shared/data/mnist/README (the published MNIST statistics), to their
    # 5 printed digits.
    assert abs(float(mnist.train_images.mean(dtype=np.float64)) - 0.13066) < 5e-6
    assert abs(float(mnist.train_images.std(dtype=np.float64)) - 0.30811) < 5e-6
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(mnist.train_labels).tolist() == train_counts
    assert np.bincount(mnist.test_labels).tolist() == test_counts


def test_auto_prefers_the_environment_directory(mnist_dir, monkeypatch):
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(mnist_dir))
    monkeypatch.setattr(data, "load_tfds", lambda *a, **k: pytest.fail("TFDS was used"))
    assert load_mnist().train_images.shape == (60000, 784)


# --------------------------------------------------------------------------- crafted IDX


@pytest.mark.parametrize("gzipped", [False, True])
def test_small_idx_files_round_trip(tmp_path, gzipped):
    raw = write_mnist_dir(tmp_path, gzipped=gzipped)
    mnist = load_mnist("idx", tmp_path)
    # x / 255 in float32, exactly as the tutorial's normalize=True computes it.
    expected = raw["train_images"].reshape(6, 784).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(mnist.train_images, expected)
    np.testing.assert_array_equal(mnist.test_labels, raw["test_labels"].astype(np.int32))
    assert mnist.test_images.shape == (4, 784)


def test_wrong_magic_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    labels_path = tmp_path / data.IDX_FILES["train_labels"]
    images_path = tmp_path / data.IDX_FILES["train_images"]
    # A labels file where the images file should be.
    images_path.write_bytes(labels_path.read_bytes())
    with pytest.raises(CorruptIdxFileError, match=r"train-images-idx3.*magic number 0x00000801"):
        load_mnist("idx", tmp_path)


def test_truncated_data_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_images"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptIdxFileError, match=r"t10k-images-idx3-ubyte.*truncated"):
        load_mnist("idx", tmp_path)


def test_truncated_header_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_labels"]
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(CorruptIdxFileError, match=r"t10k-labels-idx1-ubyte.*header truncated"):
        load_mnist("idx", tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist_dir(tmp_path, gzipped=True)
    path = tmp_path / (data.IDX_FILES["train_images"] + ".gz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(CorruptIdxFileError, match=r"train-images-idx3-ubyte\.gz.*gzip"):
        load_mnist("idx", tmp_path)


def test_count_mismatch_names_both_files(tmp_path):
    write_mnist_dir(tmp_path)
    labels = np.zeros(5, np.uint8)  # 6 images, 5 labels
    (tmp_path / data.IDX_FILES["train_labels"]).write_bytes(idx_bytes(labels, 0x801))
    with pytest.raises(CorruptIdxFileError, match=r"6 images but .*train-labels.* 5 labels"):
        load_mnist("idx", tmp_path)


def test_wrong_image_shape_and_label_values(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["train_images"]
    path.write_bytes(idx_bytes(np.zeros((6, 32, 32), np.uint8), 0x803))
    with pytest.raises(CorruptIdxFileError, match=r"train-images.*\(32, 32\)"):
        load_mnist("idx", tmp_path)
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_labels"]
    path.write_bytes(idx_bytes(np.full(4, 12, np.uint8), 0x801))
    with pytest.raises(CorruptIdxFileError, match=r"t10k-labels.*label 12"):
        load_mnist("idx", tmp_path)


def test_missing_file_says_how_to_get_mnist(tmp_path):
    write_mnist_dir(tmp_path)
    (tmp_path / data.IDX_FILES["test_labels"]).unlink()
    with pytest.raises(MnistNotFoundError, match=r"t10k-labels-idx1-ubyte.*JAXOPT_LAB_MNIST_DIR"):
        load_mnist("idx", tmp_path)


def test_idx_without_directory_says_how(monkeypatch):
    monkeypatch.delenv(data.ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(MnistNotFoundError, match="data_dir or JAXOPT_LAB_MNIST_DIR"):
        load_mnist("idx")


def test_bad_source_is_named():
    with pytest.raises(ValueError, match="source must be"):
        load_mnist("kaggle")


# --------------------------------------------------------------------------- files nobody trusts
#
# Each crafted folder must raise CorruptIdxFileError before the reader allocates what
# the bytes would inflate to: the peak (tracemalloc, which sees NumPy's buffers) stays
# near what the headers declare, at most one MNIST split (47 MB of train images). Before
# the fix, the bombs took the whole inflated size twice over (4 GiB and more).

BOMB_BYTES = 2**31  # what each gzip bomb inflates to; the file is about 2 MB
BOMB_COUNT = BOMB_BYTES // 784  # the images such a stream could hold


def header(magic: int, *shape: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in shape)


def plant(directory: Path, key: str, content: bytes) -> Path:
    """Replace one of the four IDX files (gzipped or not) with ``content``, gzipped."""
    for name in (data.IDX_FILES[key], data.IDX_FILES[key] + ".gz"):
        (directory / name).unlink(missing_ok=True)
    path = directory / (data.IDX_FILES[key] + ".gz")
    path.write_bytes(content)
    return path


CRAFTED_IDX = {
    # A full train split's header, then 2 GiB of zeros where 47 MB should end.
    "gzip bomb past a full split": (
        {
            "train_images": lambda: gzip_zeros(header(0x803, 60000, 28, 28), BOMB_BYTES),
            "train_labels": lambda: gzip.compress(header(0x801, 60000) + bytes(60000)),
        },
        r"train-images-idx3-ubyte\.gz: has trailing bytes: the header says shape "
        r"\(60000, 28, 28\)",
    ),
    # Headers that declare everything the bomb holds (2.7 million images, and labels).
    "gzip bomb declared in full": (
        {
            "train_images": lambda: gzip_zeros(header(0x803, BOMB_COUNT, 28, 28), BOMB_BYTES),
            "train_labels": lambda: gzip_zeros(header(0x801, BOMB_COUNT), 2**20),
        },
        rf"declare {BOMB_COUNT} examples; an MNIST train split has 1 to 60000",
    ),
    "0 examples": (
        {
            "test_images": lambda: gzip.compress(header(0x803, 0, 28, 28)),
            "test_labels": lambda: gzip.compress(header(0x801, 0)),
        },
        r"t10k-images-idx3-ubyte\.gz and .*t10k-labels.* declare 0 examples; an MNIST test",
    ),
    # 2^31 * 2^31 * 4 = 2^64, which wraps to 0 in int64: "0 bytes expected, 0 found".
    "size product overflows int64": (
        {"train_images": lambda: gzip.compress(header(0x803, 2**31, 2**31, 4))},
        r"train-images-idx3-ubyte\.gz: images of shape \(2147483648, 4\), expected \(28, 28\)",
    ),
}


@pytest.mark.parametrize("case", CRAFTED_IDX)
def test_crafted_idx_folder_is_refused_quickly_in_bounded_memory(tmp_path, case):
    files, expected = CRAFTED_IDX[case]
    write_mnist_dir(tmp_path)
    for key, content in files.items():
        plant(tmp_path, key, content())
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CorruptIdxFileError, match=expected):
            load_mnist("idx", tmp_path)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # One declared split (47 MB) and a read chunk; 4 GiB before the fix.
    assert peak < 64 * 2**20, f"{case}: peak {peak / 2**20:.0f} MiB"
    assert elapsed < 2.0, f"{case}: {elapsed:.1f} s"  # 20 s and more before the fix


def test_read_idx_checks_the_declared_size_without_overflow(tmp_path):
    path = tmp_path / "overflow-idx3-ubyte"
    path.write_bytes(header(0x803, 2**31, 2**31, 4))
    with pytest.raises(CorruptIdxFileError, match=r"truncated: .*\(18446744073709551616 bytes"):
        data.read_idx(path, 0x803)
    gzipped = tmp_path / "overflow-idx3-ubyte.gz"
    gzipped.write_bytes(gzip.compress(header(0x803, 2**31, 2**31, 4)))
    with pytest.raises(CorruptIdxFileError, match=r"more than a \d+-byte gzip file can hold"):
        data.read_idx(gzipped, 0x803)


def test_read_idx_reads_an_empty_file_and_stops_past_the_declared_size(tmp_path):
    """0 examples is a valid IDX file (load_idx refuses it as MNIST); a stream is read
    no further than one byte past what its header declares."""
    path = tmp_path / "empty.gz"
    path.write_bytes(gzip.compress(header(0x803, 0, 28, 28)))
    assert data.read_idx(path, 0x803).shape == (0, 28, 28)
    path.write_bytes(gzip.compress(header(0x801, 3) + bytes([1, 2, 3])))
    np.testing.assert_array_equal(data.read_idx(path, 0x801, shape=(3,)), [1, 2, 3])
    with pytest.raises(CorruptIdxFileError, match=r"declares shape \(3,\), expected \(4,\)"):
        data.read_idx(path, 0x801, shape=(4,))


def test_bomb_builders_inflate_to_what_they_say():
    body, crc = deflate_zeros(b"head", 4 * 2**20)
    inflated = zlib.decompress(body, -15)
    assert len(inflated) == 4 * 2**20 + 4 and inflated[:4] == b"head"
    assert zlib.crc32(inflated) == crc
    assert gzip.decompress(gzip_zeros(b"head", 4 * 2**20)) == inflated


# --------------------------------------------------------------------------- TFDS


def test_offline_auto_without_data_says_how(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.delenv(data.ENVIRONMENT_VARIABLE, raising=False)

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection: no network")

    monkeypatch.setattr(tfds, "data_source", offline)
    with pytest.raises(MnistNotFoundError) as error:
        load_mnist()
    message = str(error.value)
    assert "no network" in message and "--data-dir" in message and "internet" in message


def test_tfds_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=7):
        mnist = load_mnist("tfds")
        # The raw examples, read straight from the same (mock) data source.
        raw_train = tfds.data_source("mnist", split="train")
        raw_images = np.stack([np.asarray(raw_train[i]["image"]) for i in range(7)])
        raw_labels = np.asarray([raw_train[i]["label"] for i in range(7)])
    assert mnist.train_images.shape == (7, 784) and mnist.train_images.dtype == np.float32
    assert mnist.test_images.shape == (7, 784)
    assert mnist.train_labels.dtype == np.int32
    np.testing.assert_array_equal(
        mnist.train_images, raw_images.reshape(7, 784).astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(mnist.train_labels, raw_labels)


# --------------------------------------------------------------------------- TFDS, for real
#
# TFDS's own preparation of MNIST, offline: its download folder is seeded with the four
# official gzipped IDX files from the shared folder, the network is off, and the lab's
# load_mnist("tfds", data_dir) makes tfds.data_source download (from the seeded folder),
# extract, encode, write and read MNIST exactly as it does for a new user. It runs in a
# subprocess: TensorFlow (which TFDS prepares with) stays out of the test process.

PREPARE_OFFLINE = textwrap.dedent(
    """
    import json, os, socket, sys
    from pathlib import Path

    def offline(*args, **kwargs):
        raise OSError("the network is off in this test")

    socket.socket.connect = socket.create_connection = socket.getaddrinfo = offline

    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import resource
    from jaxopt_lab import data
    from test_data import split_digests

    mnist_dir, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
    tfds.disable_progress_bar()
    # TFDS takes a download as done when the file and its .INFO sit in downloads/mnist/
    # under the name made from the URL and the registered SHA-256. Those checksums are of
    # the gzip files on TFDS's mirror; the shared ones hold the same bytes once inflated
    # but not the same gzip headers, so they are seeded under the registered names.
    downloads = data_dir / "downloads" / "mnist"
    downloads.mkdir(parents=True)
    for url, info in tfds.builder_cls("mnist").url_infos.items():
        path = downloads / resource.get_dl_fname(url, info.checksum)
        path.symlink_to(mnist_dir / info.filename)
        resource.write_info_file(url, path, "mnist", info.filename, info)
    print(json.dumps(split_digests(data.load_mnist("tfds", data_dir))))
    """
)


def split_digests(mnist: data.MnistData) -> dict:
    """Each split's examples as a SHA-256 of its (image, label) rows in sorted order.

    Equal digests: the same examples, each image with its label, exactly (every bit of
    the float32 images), in any order. TFDS shuffles examples when it prepares them.
    """
    digests = {}
    for split in ("train", "test"):
        images, labels = getattr(mnist, f"{split}_images"), getattr(mnist, f"{split}_labels")
        rows = np.concatenate(
            [images.view(np.uint8).reshape(len(images), -1),
             labels.astype("<i4").view(np.uint8).reshape(len(labels), -1)],
            axis=1,
        )  # fmt: skip
        order = np.argsort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")
        digests[split] = {
            "images": [list(images.shape), str(images.dtype)],
            "labels": [list(labels.shape), str(labels.dtype)],
            "rows_sha256": hashlib.sha256(rows[order].tobytes()).hexdigest(),
        }
    return digests


@pytest.mark.slow
def test_tfds_prepares_mnist_offline_and_it_equals_the_idx_files(tmp_path, mnist_dir):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TFDS prepares MNIST with TensorFlow: pip install 'jaxopt-lab[tfds]'")
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_OFFLINE, str(mnist_dir), str(tmp_path / "tfds")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from_tfds = json.loads(result.stdout.strip().splitlines()[-1])
    assert from_tfds == split_digests(load_mnist("idx", mnist_dir))
    assert from_tfds["train"]["images"] == [[60000, 784], "float32"]


def test_a_module_tfds_lacks_is_named_not_blamed_on_the_network(monkeypatch, tmp_path):
    """As on a fresh install: tfds fails inside on an import (wrapped, as its extractor does)."""
    tfds = pytest.importorskip("tensorflow_datasets")

    def without_tensorflow(*args, **kwargs):
        try:
            raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
        except ModuleNotFoundError as error:
            raise RuntimeError(
                "Error while extracting ...: No module named 'tensorflow'"
            ) from error

    monkeypatch.setattr(tfds, "data_source", without_tensorflow)
    with pytest.raises(MnistNotFoundError) as error:
        load_mnist("tfds", tmp_path)
    message = str(error.value)
    assert "the Python module 'tensorflow', which is not installed" in message
    assert "jaxopt-lab[tfds]" in message and "internet" not in message
